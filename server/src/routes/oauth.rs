//! The Microsoft sign-in of "Connect with Microsoft":
//! `POST /oauth/microsoft/connect` starts it (staff only, from the sync
//! settings page), `GET /oauth/microsoft/callback` is the Redirect URL
//! Microsoft sends the browser back to.
//!
//! Plain routes rather than server functions: both answer with redirects
//! or a small page, and the callback is reached by a cross-site top-level
//! navigation (the session cookie is SameSite=Lax for it). The start is a
//! POST, which a cross-site form cannot make with our cookie.

use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Redirect, Response};
use backend::Backend;
use backend::accounts::Role;
use backend::auth::{self, AuthError};
use backend::connections::{self, CallbackOutcome, CallbackParams, ConnectError};
use tower_sessions::Session;

pub const CONNECT_PATH: &str = "/oauth/microsoft/connect";
/// Where staff manage their connection.
pub const SYNC_PAGE: &str = "/staff/sync";

pub async fn connect(State(backend): State<Backend>, session: Session) -> Response {
    let user = match auth::require_role(&session, &backend.db, Role::Staff).await {
        Ok(u) => u,
        Err(AuthError::SignInRequired) => {
            return Redirect::to(&format!("/login?next={SYNC_PAGE}")).into_response();
        }
        Err(AuthError::Forbidden) => {
            return page(
                StatusCode::FORBIDDEN,
                "Only staff members connect an Outlook calendar.",
                &[("/", "Home")],
            );
        }
        Err(AuthError::Internal(d)) => {
            tracing::error!(detail = %d, "connect: guard failed");
            return StatusCode::INTERNAL_SERVER_ERROR.into_response();
        }
    };
    match connections::begin_connect(&backend, &session, &user).await {
        // 303: the browser follows with a GET to Microsoft.
        Ok(url) => Redirect::to(&url).into_response(),
        Err(e @ (ConnectError::IntegrationInactive | ConnectError::AppointmentsNotEnabled)) => {
            page(
                StatusCode::CONFLICT,
                &e.to_string(),
                &[(SYNC_PAGE, "Back to sync settings")],
            )
        }
        Err(e) => {
            tracing::error!(error = %e, "connect: could not start the sign-in");
            page(
                StatusCode::INTERNAL_SERVER_ERROR,
                "The sign-in could not be started. Try again in a moment.",
                &[(SYNC_PAGE, "Back to sync settings")],
            )
        }
    }
}

pub async fn callback(
    State(backend): State<Backend>,
    session: Session,
    Query(params): Query<CallbackParams>,
) -> Response {
    // Room sync hook: a space authorization shares this Redirect URL.
    if params.admin_consent.is_none() && backend::rooms::is_room_callback(&session, &params).await {
        return super::room_oauth::callback(&backend, &session, params).await;
    }
    let user = auth::current_user(&session, &backend.db)
        .await
        .ok()
        .flatten();
    let outcome = connections::finish_connect(&backend, &session, user.as_ref(), params).await;
    let message = outcome.message();
    match &outcome {
        CallbackOutcome::Connected { .. } => {
            Redirect::to(&format!("{SYNC_PAGE}?connected=1")).into_response()
        }
        CallbackOutcome::NotSignedIn => page(
            StatusCode::UNAUTHORIZED,
            &message,
            &[(&format!("/login?next={SYNC_PAGE}"), "Sign in")],
        ),
        CallbackOutcome::ConsentMissing { admin_consent_url } => {
            page_with_consent_link(&message, admin_consent_url)
        }
        CallbackOutcome::AdminConsentGranted | CallbackOutcome::AdminConsentDeclined => {
            page(StatusCode::OK, &message, &[(SYNC_PAGE, "Sync settings")])
        }
        CallbackOutcome::Stale
        | CallbackOutcome::Cancelled
        | CallbackOutcome::IntegrationInactive
        | CallbackOutcome::Refused { .. } => page(
            StatusCode::BAD_REQUEST,
            &message,
            &[(SYNC_PAGE, "Back to sync settings")],
        ),
    }
}

fn page(status: StatusCode, message: &str, links: &[(&str, &str)]) -> Response {
    let links = links
        .iter()
        .map(|(href, text)| format!("<a href=\"{}\">{}</a>", esc(href), esc(text)))
        .collect::<Vec<_>>()
        .join(" · ");
    let body = format!(
        "<p id=\"outlook-message\" role=\"status\">{}</p><p>{links}</p>",
        esc(message)
    );
    (status, Html(document(&body))).into_response()
}

fn page_with_consent_link(message: &str, url: &str) -> Response {
    let body = format!(
        "<p id=\"outlook-message\" role=\"status\">{}</p>\
         <p>Admin-consent link for your Microsoft 365 administrator:<br>\
         <a id=\"admin-consent-link\" href=\"{url}\">{url}</a></p>\
         <p><a href=\"{SYNC_PAGE}\">Back to sync settings</a></p>",
        esc(message),
        url = esc(url)
    );
    (StatusCode::BAD_REQUEST, Html(document(&body))).into_response()
}

fn document(body: &str) -> String {
    format!(
        "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\">\
         <title>Outlook calendar · Calbridge</title>\
         <link rel=\"stylesheet\" href=\"/pkg/calbridge.css\"></head>\
         <body><main class=\"page\"><h1>Outlook calendar</h1>{body}</main></body></html>"
    )
}

fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}
