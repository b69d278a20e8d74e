//! Helpers shared by the integration tests: start the emulator with the
//! demo seed, register apps, and walk the sign-in pages as a browser would.
#![allow(dead_code)]

use base64::Engine;
use emulator::state::SignInAudience;
use emulator::{DEMO, Emulator, EmulatorConfig, EmulatorHandle, NewApp, RegisteredApp};
use reqwest::redirect::Policy;
use serde_json::Value;
use sha2::{Digest, Sha256};

pub const REDIRECT: &str = "http://localhost:3000/auth/microsoft/callback";
pub const SCOPES: &str = "offline_access Calendars.ReadWrite User.Read";

pub async fn start() -> EmulatorHandle {
    Emulator::start(EmulatorConfig::demo())
        .await
        .expect("emulator starts")
}

/// A browser-like client: keeps cookies, does not follow redirects.
pub fn browser() -> reqwest::Client {
    reqwest::Client::builder()
        .cookie_store(true)
        .redirect(Policy::none())
        .build()
        .unwrap()
}

pub fn http() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(Policy::none())
        .build()
        .unwrap()
}

pub fn register(emu: &EmulatorHandle, audience: SignInAudience) -> RegisteredApp {
    emu.register_app(NewApp::web("Calbridge", DEMO.tenant_id, audience, REDIRECT))
}

pub fn register_with(
    emu: &EmulatorHandle,
    audience: SignInAudience,
    delegated: &[&str],
) -> RegisteredApp {
    let mut app = NewApp::web("Calbridge", DEMO.tenant_id, audience, REDIRECT);
    app.delegated_permissions = delegated.iter().map(|s| s.to_string()).collect();
    emu.register_app(app)
}

/// (verifier, S256 challenge)
pub fn pkce() -> (String, String) {
    let verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk-and-some-more".to_string();
    let challenge = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .encode(Sha256::digest(verifier.as_bytes()));
    (verifier, challenge)
}

pub fn authorize_url(
    emu: &EmulatorHandle,
    authority: &str,
    client_id: &str,
    scopes: &str,
    challenge: &str,
) -> String {
    format!(
        "{}/{authority}/oauth2/v2.0/authorize?client_id={client_id}&response_type=code&redirect_uri={}&scope={}&state=st-123&code_challenge={challenge}&code_challenge_method=S256",
        emu.base_url(),
        urlencoding::encode(REDIRECT),
        urlencoding::encode(scopes),
    )
}

/// The value of `attr="..."` after `marker` in `html`.
pub fn between<'a>(html: &'a str, marker: &str, end: &str) -> Option<&'a str> {
    let start = html.find(marker)? + marker.len();
    let rest = &html[start..];
    Some(&rest[..rest.find(end)?])
}

pub fn flow_id(html: &str) -> String {
    between(html, "name=\"flow\" value=\"", "\"")
        .expect("flow id in page")
        .to_string()
}

pub fn location(resp: &reqwest::Response) -> String {
    resp.headers()
        .get("location")
        .expect("a redirect")
        .to_str()
        .unwrap()
        .to_string()
}

/// Query parameters of a redirect Location.
pub fn query(loc: &str) -> std::collections::HashMap<String, String> {
    let q = loc.split_once('?').map(|x| x.1).unwrap_or("");
    serde_urlencoded::from_str(q).unwrap()
}

/// Post a step of the sign-in flow.
pub async fn step(
    b: &reqwest::Client,
    emu: &EmulatorHandle,
    authority: &str,
    form: &[(&str, &str)],
) -> reqwest::Response {
    b.post(format!("{}/{authority}/login", emu.base_url()))
        .form(form)
        .send()
        .await
        .unwrap()
}

/// Walk authorize → sign in → consent (Accept if asked) and return the
/// final redirect Location.
pub async fn sign_in(
    b: &reqwest::Client,
    emu: &EmulatorHandle,
    authority: &str,
    url: &str,
    upn: &str,
    password: &str,
) -> String {
    let page = b.get(url).send().await.unwrap();
    assert_eq!(page.status(), 200, "sign-in page");
    let html = page.text().await.unwrap();
    let flow = flow_id(&html);
    let resp = sign_in_step(b, emu, authority, &flow, upn, password).await;
    if resp.status() == 302 {
        return location(&resp);
    }
    let html = resp.text().await.unwrap();
    assert!(
        html.contains("Permissions requested"),
        "consent page expected: {html}"
    );
    let resp = flow_action(b, emu, authority, &flow, "accept").await;
    assert_eq!(resp.status(), 302);
    location(&resp)
}

/// Full flow to a token response for a user.
pub async fn user_tokens(
    emu: &EmulatorHandle,
    app: &RegisteredApp,
    authority: &str,
    upn: &str,
    password: &str,
    scopes: &str,
) -> Value {
    let (verifier, challenge) = pkce();
    let url = authorize_url(
        emu,
        authority,
        &app.client_id.to_string(),
        scopes,
        &challenge,
    );
    let loc = sign_in(&browser(), emu, authority, &url, upn, password).await;
    let code = query(&loc)
        .get("code")
        .cloned()
        .unwrap_or_else(|| panic!("no code in {loc}"));
    let resp = redeem(emu, app, authority, &code, &verifier).await;
    assert_eq!(resp.status(), 200);
    resp.json().await.unwrap()
}

pub async fn redeem(
    emu: &EmulatorHandle,
    app: &RegisteredApp,
    authority: &str,
    code: &str,
    verifier: &str,
) -> reqwest::Response {
    http()
        .post(format!("{}/{authority}/oauth2/v2.0/token", emu.base_url()))
        .form(&[
            ("grant_type", "authorization_code"),
            ("client_id", &app.client_id.to_string()),
            ("client_secret", &app.secret_value),
            ("code", code),
            ("redirect_uri", REDIRECT),
            ("code_verifier", verifier),
        ])
        .send()
        .await
        .unwrap()
}

pub async fn token_request(
    emu: &EmulatorHandle,
    authority: &str,
    form: &[(&str, &str)],
) -> (u16, Value) {
    let resp = http()
        .post(format!("{}/{authority}/oauth2/v2.0/token", emu.base_url()))
        .form(form)
        .send()
        .await
        .unwrap();
    let status = resp.status().as_u16();
    (status, resp.json().await.unwrap())
}

/// A delegated access token for a demo account with the given scopes.
pub async fn access_token(emu: &EmulatorHandle, upn: &str, password: &str, scopes: &str) -> String {
    let app = register(emu, SignInAudience::AzureADandPersonalMicrosoftAccount);
    let authority = if upn.ends_with("outlook.com") {
        "consumers"
    } else {
        "organizations"
    };
    let t = user_tokens(emu, &app, authority, upn, password, scopes).await;
    t["access_token"].as_str().unwrap().to_string()
}

pub fn graph(emu: &EmulatorHandle, path: &str) -> String {
    format!("{}/v1.0{path}", emu.base_url())
}

pub fn event_body(subject: &str, start: &str, end: &str) -> Value {
    serde_json::json!({
        "subject": subject,
        "start": {"dateTime": start, "timeZone": "UTC"},
        "end": {"dateTime": end, "timeZone": "UTC"},
    })
}

/// The AADSTS number of a token error body, after checking its shape.
pub fn aadsts(body: &Value) -> u64 {
    for f in [
        "error",
        "error_description",
        "timestamp",
        "trace_id",
        "correlation_id",
        "error_uri",
    ] {
        assert!(body.get(f).is_some(), "token error lacks {f}: {body}");
    }
    let code = body["error_codes"][0].as_u64().expect("error_codes");
    assert!(
        body["error_description"]
            .as_str()
            .unwrap()
            .starts_with(&format!("AADSTS{code}: ")),
        "{body}"
    );
    code
}

/// A delegated token for the first demo staff member with [`SCOPES`].
pub async fn staff_token(emu: &EmulatorHandle) -> String {
    let s = DEMO.staff[0];
    access_token(emu, s.upn, s.password, SCOPES).await
}

/// An app-only token (client credentials) for a single-tenant app with
/// these application permissions, admin-consented in the demo tenant.
pub async fn app_only_token(emu: &EmulatorHandle, roles: &[&str]) -> (RegisteredApp, String) {
    let mut new = NewApp::web(
        "Calbridge rooms",
        DEMO.tenant_id,
        SignInAudience::AzureADMyOrg,
        REDIRECT,
    );
    new.application_permissions = roles.iter().map(|r| r.to_string()).collect();
    new.admin_consent = true;
    let app = emu.register_app(new);
    let resp = client_credentials(emu, &app)
        .await
        .expect("token endpoint answers");
    let status = resp.status();
    let body: Value = resp.json().await.unwrap();
    assert_eq!(status, 200, "{body}");
    (app, body["access_token"].as_str().unwrap().to_string())
}

/// What a Graph call answered.
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub headers: reqwest::header::HeaderMap,
    pub body: Value,
}

impl Reply {
    /// The Graph error code, after checking the documented error shape.
    pub fn error_code(&self) -> String {
        let e = &self.body["error"];
        for f in ["date", "request-id", "client-request-id"] {
            assert!(
                e["innerError"][f].is_string(),
                "innerError.{f} in {}",
                self.body
            );
        }
        e["code"].as_str().expect("error code").to_string()
    }

    pub fn header(&self, name: &str) -> Option<String> {
        self.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
    }
}

/// A Graph client with one bearer token: paths are under `/v1.0`
/// (absolute URLs, such as a nextLink, are used as they are).
pub struct Api {
    base: String,
    token: String,
    client: reqwest::Client,
}

impl Api {
    pub fn new(emu: &EmulatorHandle, token: &str) -> Self {
        Self {
            base: emu.graph_url(),
            token: token.to_string(),
            client: http(),
        }
    }

    pub fn token(&self) -> &str {
        &self.token
    }

    pub async fn send(&self, method: reqwest::Method, path: &str, body: Option<&Value>) -> Reply {
        self.send_with(method, path, body, &[]).await
    }

    /// `GET` with extra headers (`Prefer`, ...).
    pub async fn get_with(&self, path: &str, headers: &[(&str, &str)]) -> Reply {
        self.send_with(reqwest::Method::GET, path, None, headers)
            .await
    }

    pub async fn send_with(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<&Value>,
        headers: &[(&str, &str)],
    ) -> Reply {
        self.try_send(method, path, body, headers)
            .await
            .expect("graph answers")
    }

    /// `GET`, or the transport error when the connection is dropped.
    pub async fn try_get(&self, path: &str) -> reqwest::Result<Reply> {
        self.try_send(reqwest::Method::GET, path, None, &[]).await
    }

    pub async fn try_send(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<&Value>,
        headers: &[(&str, &str)],
    ) -> reqwest::Result<Reply> {
        let url = if path.starts_with("http") {
            path.to_string()
        } else {
            format!("{}{path}", self.base)
        };
        let mut req = self.client.request(method, url).bearer_auth(&self.token);
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        if let Some(b) = body {
            req = req.json(b);
        }
        let resp = req.send().await?;
        let status = resp.status().as_u16();
        let headers = resp.headers().clone();
        let bytes = resp.bytes().await?;
        let body = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        Ok(Reply {
            status,
            headers,
            body,
        })
    }

    pub async fn get(&self, path: &str) -> Reply {
        self.send(reqwest::Method::GET, path, None).await
    }

    pub async fn post(&self, path: &str, body: &Value) -> Reply {
        self.send(reqwest::Method::POST, path, Some(body)).await
    }

    pub async fn patch(&self, path: &str, body: &Value) -> Reply {
        self.send(reqwest::Method::PATCH, path, Some(body)).await
    }

    pub async fn delete(&self, path: &str) -> Reply {
        self.send(reqwest::Method::DELETE, path, None).await
    }
}

/// How a [`Receiver`] answers Graph's validation request.
#[derive(Debug, Clone, Copy)]
pub enum Handshake {
    /// 200, text/plain, the decoded token: what Graph wants.
    Echo,
    /// 202 instead of 200.
    WrongStatus,
    /// 200 with the token still URL-encoded (a common client bug).
    Undecoded,
    /// Answer only after this long.
    Slow(std::time::Duration),
}

/// A tiny app endpoint on 127.0.0.1:0 that answers the validation
/// handshake and records every notification POSTed to it.
pub struct Receiver {
    pub url: String,
    /// Validation tokens received (decoded).
    pub validations: std::sync::Arc<std::sync::Mutex<Vec<String>>>,
    /// Notification bodies received.
    pub notifications: std::sync::Arc<std::sync::Mutex<Vec<Value>>>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Receiver {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Receiver {
    pub async fn start(mode: Handshake) -> Self {
        use axum::extract::{Query, State};
        use axum::response::IntoResponse;
        type Seen = (
            std::sync::Arc<std::sync::Mutex<Vec<String>>>,
            std::sync::Arc<std::sync::Mutex<Vec<Value>>>,
        );
        async fn hook(
            State((mode, (validations, notifications))): State<(Handshake, Seen)>,
            Query(q): Query<std::collections::HashMap<String, String>>,
            raw: axum::extract::RawQuery,
            body: bytes::Bytes,
        ) -> axum::response::Response {
            if let Some(token) = q.get("validationToken") {
                validations.lock().unwrap().push(token.clone());
                let plain = [("content-type", "text/plain")];
                return match mode {
                    Handshake::Echo => (plain, token.clone()).into_response(),
                    Handshake::WrongStatus => {
                        (http::StatusCode::ACCEPTED, plain, token.clone()).into_response()
                    }
                    Handshake::Undecoded => {
                        let raw = raw.0.unwrap_or_default();
                        let encoded = raw.trim_start_matches("validationToken=").to_string();
                        (plain, encoded).into_response()
                    }
                    Handshake::Slow(d) => {
                        tokio::time::sleep(d).await;
                        (plain, token.clone()).into_response()
                    }
                };
            }
            let v: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
            notifications.lock().unwrap().push(v);
            http::StatusCode::ACCEPTED.into_response()
        }
        let validations = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let notifications = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let app = axum::Router::new()
            .route("/hook", axum::routing::post(hook))
            .with_state((mode, (validations.clone(), notifications.clone())));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/hook", listener.local_addr().unwrap());
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Self {
            url,
            validations,
            notifications,
            task,
        }
    }

    /// Wait (up to 5 s) for at least `n` notifications; return them all.
    pub async fn wait_for(&self, n: usize) -> Vec<Value> {
        for _ in 0..500 {
            let got = self.notifications.lock().unwrap().clone();
            if got.len() >= n {
                return got;
            }
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
        self.notifications.lock().unwrap().clone()
    }
}

/// Open a sign-in page and return its flow id.
pub async fn open_flow(b: &reqwest::Client, url: &str) -> String {
    flow_id(&b.get(url).send().await.unwrap().text().await.unwrap())
}

/// The "Sign in" step of a flow.
pub async fn sign_in_step(
    b: &reqwest::Client,
    emu: &EmulatorHandle,
    authority: &str,
    flow: &str,
    upn: &str,
    password: &str,
) -> reqwest::Response {
    let form = [
        ("flow", flow),
        ("action", "signin"),
        ("loginfmt", upn),
        ("passwd", password),
    ];
    step(b, emu, authority, &form).await
}

/// A button of a flow page: `accept`, `cancel`, `back`, ...
pub async fn flow_action(
    b: &reqwest::Client,
    emu: &EmulatorHandle,
    authority: &str,
    flow: &str,
    action: &str,
) -> reqwest::Response {
    step(b, emu, authority, &[("flow", flow), ("action", action)]).await
}

/// A client-credentials token request at the demo tenant.
pub async fn client_credentials(
    emu: &EmulatorHandle,
    app: &RegisteredApp,
) -> reqwest::Result<reqwest::Response> {
    http()
        .post(format!(
            "{}/{}/oauth2/v2.0/token",
            emu.base_url(),
            DEMO.tenant_domain
        ))
        .form(&[
            ("grant_type", "client_credentials"),
            ("client_id", &app.client_id.to_string()),
            ("client_secret", &app.secret_value),
            ("scope", "https://graph.microsoft.com/.default"),
        ])
        .send()
        .await
}

/// `GET /_emulator/{path}` as JSON.
pub async fn control_get(emu: &EmulatorHandle, path: &str) -> Value {
    http()
        .get(format!("{}/_emulator/{path}", emu.base_url()))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

/// `POST /_emulator/{path}` with a JSON body; returns the status.
pub async fn control_post(emu: &EmulatorHandle, path: &str, body: &Value) -> u16 {
    http()
        .post(format!("{}/_emulator/{path}", emu.base_url()))
        .json(body)
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}
