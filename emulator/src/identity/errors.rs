//! Identity platform errors.
//!
//! Microsoft identity platform: "OAuth 2.0 authorization code flow", section
//! "Error response" (token endpoint), and "Microsoft Entra authentication and
//! authorization error codes": a JSON body with `error`, `error_description`
//! ("AADSTSnnnn: text\r\nTrace ID: ...\r\nCorrelation ID: ...\r\nTimestamp:
//! ..."), `error_codes`, `timestamp`, `trace_id`, `correlation_id` and
//! `error_uri`. `invalid_client` answers 401, every other error 400.

use axum::Json;
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use http::StatusCode;
use serde_json::json;
use uuid::Uuid;

#[derive(Debug, Clone)]
pub struct AadError {
    /// The OAuth 2.0 `error` value (what clients branch on).
    pub error: &'static str,
    /// The AADSTS number.
    pub code: u32,
    /// Text after "AADSTSnnnn: ".
    pub message: String,
}

impl AadError {
    pub fn new(error: &'static str, code: u32, message: impl Into<String>) -> Self {
        Self {
            error,
            code,
            message: message.into(),
        }
    }

    pub fn status(&self) -> StatusCode {
        if self.error == "invalid_client" {
            StatusCode::UNAUTHORIZED
        } else {
            StatusCode::BAD_REQUEST
        }
    }

    /// "AADSTSnnnn: message" with the trace lines Microsoft appends.
    pub fn description(&self, trace: Uuid, correlation: Uuid, now: DateTime<Utc>) -> String {
        format!(
            "AADSTS{}: {}\r\nTrace ID: {trace}\r\nCorrelation ID: {correlation}\r\nTimestamp: {}",
            self.code,
            self.message,
            now.format("%Y-%m-%d %H:%M:%SZ")
        )
    }

    /// The short form used in redirects and on the error page.
    pub fn short_description(&self) -> String {
        format!("AADSTS{}: {}", self.code, self.message)
    }

    pub fn into_json(
        self,
        base_url: &str,
        now: DateTime<Utc>,
        correlation: Option<Uuid>,
    ) -> Response {
        let status = self.status();
        self.into_json_with_status(status, base_url, now, correlation)
    }

    /// The same body with another status (injected 429/500/503 faults).
    pub fn into_json_with_status(
        self,
        status: StatusCode,
        base_url: &str,
        now: DateTime<Utc>,
        correlation: Option<Uuid>,
    ) -> Response {
        let trace = Uuid::new_v4();
        let correlation = correlation.unwrap_or_else(Uuid::new_v4);
        let body = json!({
            "error": self.error,
            "error_description": self.description(trace, correlation, now),
            "error_codes": [self.code],
            "timestamp": now.format("%Y-%m-%d %H:%M:%SZ").to_string(),
            "trace_id": trace,
            "correlation_id": correlation,
            "error_uri": format!("{base_url}/error?code={}", self.code),
        });
        let mut resp = (status, Json(body)).into_response();
        let headers = resp.headers_mut();
        headers.insert("cache-control", "no-store, no-cache".parse().unwrap());
        headers.insert("pragma", "no-cache".parse().unwrap());
        resp
    }
}

// The messages below follow "Microsoft Entra authentication and
// authorization error codes"; app and tenant names are filled in as
// Microsoft does.

pub fn missing_param(name: &str) -> AadError {
    AadError::new(
        "invalid_request",
        900144,
        format!("The request body must contain the following parameter: '{name}'."),
    )
}

pub fn tenant_not_found(name: &str) -> AadError {
    AadError::new(
        "invalid_request",
        90002,
        format!(
            "Tenant '{name}' not found. Check to make sure you have the correct tenant ID and are signing into the correct cloud. Check with your subscription administrator, this may happen if there are no active subscriptions for the tenant."
        ),
    )
}

pub fn app_not_found(client_id: &str, directory: &str) -> AadError {
    AadError::new(
        "unauthorized_client",
        700016,
        format!(
            "Application with identifier '{client_id}' was not found in the directory '{directory}'. This can happen if the application has not been installed by the administrator of the tenant or consented to by any user in the tenant. You may have sent your authentication request to the wrong tenant."
        ),
    )
}

pub fn not_multi_tenant(client_id: Uuid, name: &str) -> AadError {
    AadError::new(
        "invalid_request",
        50194,
        format!(
            "Application '{client_id}'({name}) is not configured as a multi-tenant application. Usage of the /common endpoint is not supported for such applications created after '10/15/2018'. Use a tenant-specific endpoint or configure the application to be multi-tenant."
        ),
    )
}

pub fn msa_only(client_id: Uuid, name: &str) -> AadError {
    AadError::new(
        "invalid_request",
        9002331,
        format!(
            "Application '{client_id}'({name}) is configured for use by Microsoft Account users only. Please use the /consumers endpoint to serve this request."
        ),
    )
}

pub fn redirect_mismatch(uri: &str, client_id: Uuid) -> AadError {
    AadError::new(
        "invalid_request",
        50011,
        format!(
            "The redirect URI '{uri}' specified in the request does not match the redirect URIs configured for the application '{client_id}'. Make sure the redirect URI sent in the request matches one added to your application in the Azure portal. Navigate to https://aka.ms/redirectUriMismatchError to learn more about how to fix this."
        ),
    )
}

pub fn invalid_secret(client_id: Uuid) -> AadError {
    AadError::new(
        "invalid_client",
        7000215,
        format!(
            "Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID, for a secret added to app '{client_id}'."
        ),
    )
}

pub fn expired_secret(client_id: Uuid) -> AadError {
    AadError::new(
        "invalid_client",
        7000222,
        format!(
            "The provided client secret keys for app '{client_id}' are expired. Visit the Azure portal to create new keys for your app: https://aka.ms/NewClientSecret, or consider using certificate credentials for added security: https://aka.ms/certCreds."
        ),
    )
}

pub fn secret_missing() -> AadError {
    AadError::new(
        "invalid_client",
        7000218,
        "The request body must contain the following parameter: 'client_assertion' or 'client_secret'.",
    )
}

pub fn code_redeemed() -> AadError {
    AadError::new(
        "invalid_grant",
        54005,
        "OAuth2 Authorization code was already redeemed, please retry with a new valid code or use an existing refresh token.",
    )
}

pub fn grant_expired() -> AadError {
    AadError::new(
        "invalid_grant",
        70008,
        "The provided authorization code or refresh token has expired due to inactivity. Send a new interactive authorization request for this user and resource.",
    )
}

pub fn bad_code() -> AadError {
    AadError::new(
        "invalid_grant",
        70000,
        "The provided value for the 'code' parameter is not valid.",
    )
}

pub fn bad_refresh_token() -> AadError {
    AadError::new(
        "invalid_grant",
        9002313,
        "Invalid request. Request is malformed or invalid.",
    )
}

pub fn refresh_token_revoked() -> AadError {
    AadError::new(
        "invalid_grant",
        70000,
        "The request was denied because one or more scopes requested are unauthorized or expired. The user must first sign in and grant the client application access to the requested scope.",
    )
}

pub fn grant_revoked(issued: DateTime<Utc>, valid_from: DateTime<Utc>) -> AadError {
    AadError::new(
        "invalid_grant",
        50173,
        format!(
            "The provided grant has expired due to it being revoked, a fresh auth token is needed. The user might have changed or reset their password. The grant was issued on '{}' and the TokensValidFrom date (before which tokens are not valid) for this user is '{}'.",
            crate::graph::events::ts(issued),
            crate::graph::events::ts(valid_from),
        ),
    )
}

pub fn refresh_inactive(issued: DateTime<Utc>) -> AadError {
    AadError::new(
        "invalid_grant",
        700082,
        format!(
            "The refresh token has expired due to inactivity. The token was issued on {} and was inactive for 90.00:00:00.",
            crate::graph::events::ts(issued)
        ),
    )
}

pub fn consent_missing(client_id: Uuid, name: &str) -> AadError {
    AadError::new(
        "invalid_grant",
        65001,
        format!(
            "The user or administrator has not consented to use the application with ID '{client_id}' named '{name}'. Send an interactive authorization request for this user and resource."
        ),
    )
}

pub fn user_declined() -> AadError {
    AadError::new(
        "access_denied",
        65004,
        "User declined to consent to access the app.",
    )
}

pub fn invalid_scope(detail: &str) -> AadError {
    AadError::new(
        "invalid_scope",
        70011,
        format!("The provided value for the input parameter 'scope' is not valid. {detail}"),
    )
}

pub fn pkce_mismatch() -> AadError {
    AadError::new(
        "invalid_grant",
        501481,
        "The Code_Verifier does not match the code_challenge supplied in the authorization request.",
    )
}

pub fn pkce_required() -> AadError {
    AadError::new(
        "invalid_request",
        9002325,
        "Proof Key for Code Exchange is required for cross-origin authorization code redemption.",
    )
}

pub fn reply_address_mismatch(given: &str, original: &str) -> AadError {
    AadError::new(
        "invalid_grant",
        500112,
        format!(
            "The reply address '{given}' does not match the reply address '{original}' provided when requesting Authorization code."
        ),
    )
}

pub fn unsupported_grant(grant: &str) -> AadError {
    AadError::new(
        "unsupported_grant_type",
        70003,
        format!("The app requested an unsupported grant type '{grant}'."),
    )
}

pub fn no_tenant_for_client_credentials() -> AadError {
    AadError::new(
        "invalid_request",
        50059,
        "No tenant-identifying information found in either the request or implied by any provided credentials.",
    )
}

pub fn client_credentials_scope(scope: &str) -> AadError {
    AadError::new(
        "invalid_scope",
        1002012,
        format!(
            "The provided value for scope {scope} is not valid. Client credential flows must have a scope value with /.default suffixed to the resource identifier (application ID URI)."
        ),
    )
}

pub fn user_not_in_tenant(
    upn: &str,
    idp: &str,
    tenant: &str,
    client_id: Uuid,
    name: &str,
) -> AadError {
    AadError::new(
        "invalid_request",
        50020,
        format!(
            "User account '{upn}' from identity provider '{idp}' does not exist in tenant '{tenant}' and cannot access the application '{client_id}'({name}) in that tenant. The account needs to be added as an external user in the tenant first. Sign out and sign in again with a different Microsoft Entra user account."
        ),
    )
}
