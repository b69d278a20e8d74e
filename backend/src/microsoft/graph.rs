//! A small Microsoft Graph client: the profile, events, and the
//! calendarView delta, with Graph's error body kept and every answer
//! classified by what the sync engine should do about it.

use std::time::Duration;

use reqwest::{Method, StatusCode};
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use serde_json::Value;

#[derive(Debug, Clone)]
pub struct GraphClient {
    base_url: String,
    http: reqwest::Client,
}

/// `/me`: who signed in.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Me {
    pub id: String,
    #[serde(default)]
    pub display_name: Option<String>,
    #[serde(default)]
    pub mail: Option<String>,
    #[serde(default)]
    pub user_principal_name: Option<String>,
}

impl Me {
    /// The mailbox address: `mail`, else the sign-in name.
    pub fn address(&self) -> String {
        self.mail
            .clone()
            .filter(|m| !m.is_empty())
            .or_else(|| self.user_principal_name.clone())
            .unwrap_or_else(|| self.id.clone())
    }
}

/// A failed Graph call, sorted by what to do next.
#[derive(Debug, Clone, thiserror::Error)]
pub enum GraphError {
    /// 429 or 503: wait `retry_after` when given, else back off.
    #[error("Graph is throttling ({status} {code}), retry after {retry_after:?}")]
    Throttled {
        status: u16,
        code: String,
        retry_after: Option<Duration>,
    },
    /// 401: the access token was refused; refresh once.
    #[error("Graph refused the access token (401 {code}): {message}")]
    Unauthorized { code: String, message: String },
    /// 404: the item is not there (any more).
    #[error("not found (404 {code}): {message}")]
    NotFound { code: String, message: String },
    /// 410: a delta token expired; start over.
    #[error("gone (410 {code}): {message}")]
    Gone { code: String, message: String },
    /// Other 5xx: transient, back off.
    #[error("Graph failed ({status} {code}): {message}{}", request_ref(.request_id))]
    Server {
        status: u16,
        code: String,
        message: String,
        request_id: Option<String>,
    },
    /// Other 4xx: retrying the same request will not help.
    #[error("Graph rejected the request ({status} {code}): {message}{}", request_ref(.request_id))]
    Rejected {
        status: u16,
        code: String,
        message: String,
        request_id: Option<String>,
    },
    /// No answer: connection refused or reset, timeout.
    #[error("could not reach Graph: {0}")]
    Transport(String),
}

fn request_ref(id: &Option<String>) -> String {
    id.as_ref()
        .map(|i| format!(" (request-id {i})"))
        .unwrap_or_default()
}

impl GraphError {
    /// Worth trying again later by itself.
    pub fn is_transient(&self) -> bool {
        matches!(
            self,
            GraphError::Throttled { .. } | GraphError::Server { .. } | GraphError::Transport(_)
        )
    }
}

#[derive(Deserialize)]
struct ErrorBody {
    error: ErrorDetail,
}

#[derive(Deserialize)]
struct ErrorDetail {
    #[serde(default)]
    code: String,
    #[serde(default)]
    message: String,
}

/// `Retry-After` in seconds, fractional allowed (`2.128`).
pub fn parse_retry_after(value: &str) -> Option<Duration> {
    let secs: f64 = value.trim().parse().ok()?;
    (secs.is_finite() && secs >= 0.0).then(|| Duration::from_secs_f64(secs.min(3600.0)))
}

impl GraphClient {
    pub fn new(base_url: &str) -> Self {
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .connect_timeout(Duration::from_secs(5))
            .timeout(Duration::from_secs(30))
            .pool_max_idle_per_host(256)
            .build()
            .expect("the HTTP client configuration is valid");
        Self {
            base_url: base_url.trim_end_matches('/').to_owned(),
            http,
        }
    }

    pub fn base_url(&self) -> &str {
        &self.base_url
    }

    pub async fn me(&self, token: &SecretString) -> Result<Me, GraphError> {
        let v = self.send(Method::GET, "/me", token, None).await?;
        serde_json::from_value(v).map_err(|e| GraphError::Rejected {
            status: 200,
            code: "UnexpectedBody".into(),
            message: e.to_string(),
            request_id: None,
        })
    }

    /// `POST /me/events`; with a `transactionId` in `event`, a repeat
    /// returns the event the first call created.
    pub async fn create_event(
        &self,
        token: &SecretString,
        event: &Value,
    ) -> Result<Value, GraphError> {
        self.send(Method::POST, "/me/events", token, Some(event))
            .await
    }

    pub async fn update_event(
        &self,
        token: &SecretString,
        id: &str,
        changes: &Value,
    ) -> Result<Value, GraphError> {
        let path = format!("/me/events/{}", urlencoding_path(id));
        self.send(Method::PATCH, &path, token, Some(changes)).await
    }

    pub async fn delete_event(&self, token: &SecretString, id: &str) -> Result<(), GraphError> {
        let path = format!("/me/events/{}", urlencoding_path(id));
        self.send(Method::DELETE, &path, token, None)
            .await
            .map(drop)
    }

    /// Any call on a path under the base URL (the room sync writes to
    /// `/users/{room}/events`).
    pub async fn request(
        &self,
        method: Method,
        path: &str,
        token: &SecretString,
        body: Option<&Value>,
    ) -> Result<Value, GraphError> {
        self.send(method, path, token, body).await
    }

    /// GETs a full URL Graph handed out (`@odata.nextLink`,
    /// `@odata.deltaLink`) or a path under the base URL.
    pub async fn get(&self, token: &SecretString, path_or_url: &str) -> Result<Value, GraphError> {
        self.send(Method::GET, path_or_url, token, None).await
    }

    async fn send(
        &self,
        method: Method,
        path_or_url: &str,
        token: &SecretString,
        body: Option<&Value>,
    ) -> Result<Value, GraphError> {
        let url = if path_or_url.starts_with("http") {
            path_or_url.to_owned()
        } else {
            format!("{}{path_or_url}", self.base_url)
        };
        let mut request = self
            .http
            .request(method, &url)
            .bearer_auth(token.expose_secret())
            .header("Prefer", "outlook.timezone=\"UTC\"");
        if let Some(b) = body {
            request = request.json(b);
        }
        let response = request
            .send()
            .await
            .map_err(|e| GraphError::Transport(error_chain(&e)))?;
        let status = response.status();
        if status.is_success() {
            if status == StatusCode::NO_CONTENT {
                return Ok(Value::Null);
            }
            let text = response
                .text()
                .await
                .map_err(|e| GraphError::Transport(error_chain(&e)))?;
            if text.trim().is_empty() {
                return Ok(Value::Null);
            }
            return serde_json::from_str(&text).map_err(|e| GraphError::Server {
                status: status.as_u16(),
                code: "UnreadableBody".into(),
                message: e.to_string(),
                request_id: None,
            });
        }
        Err(Self::classify(response).await)
    }

    async fn classify(response: reqwest::Response) -> GraphError {
        let status = response.status();
        let header = |name: &str| {
            response
                .headers()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned)
        };
        let retry_after = header("retry-after").and_then(|v| parse_retry_after(&v));
        let request_id = header("request-id");
        let text = response.text().await.unwrap_or_default();
        let (code, message) = match serde_json::from_str::<ErrorBody>(&text) {
            Ok(b) => (b.error.code, b.error.message),
            Err(_) => (String::new(), text.chars().take(300).collect()),
        };
        match status.as_u16() {
            429 | 503 => GraphError::Throttled {
                status: status.as_u16(),
                code,
                retry_after,
            },
            401 => GraphError::Unauthorized { code, message },
            404 => GraphError::NotFound { code, message },
            410 => GraphError::Gone { code, message },
            s if s >= 500 => GraphError::Server {
                status: s,
                code,
                message,
                request_id,
            },
            s => GraphError::Rejected {
                status: s,
                code,
                message,
                request_id,
            },
        }
    }
}

/// Graph ids are URL-safe base64 but may hold `/` or `+`; keep them one
/// path segment.
fn urlencoding_path(id: &str) -> String {
    id.replace('/', "%2F").replace('+', "%2B")
}

fn error_chain(error: &dyn std::error::Error) -> String {
    let mut parts = vec![error.to_string()];
    let mut source = error.source();
    while let Some(e) = source {
        let text = e.to_string();
        if !parts.iter().any(|p| p.contains(&text)) {
            parts.push(text);
        }
        source = e.source();
    }
    parts.join(": ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fractional_retry_after_is_kept() {
        assert_eq!(
            parse_retry_after("2.128"),
            Some(Duration::from_millis(2128))
        );
        assert_eq!(parse_retry_after("3"), Some(Duration::from_secs(3)));
        assert_eq!(parse_retry_after("soon"), None);
        assert_eq!(parse_retry_after("-1"), None);
    }
}
