//! The Microsoft sign-in that authorizes a space's room sync:
//! `POST /oauth/microsoft/connect-room` (admins, form field `space_id`)
//! starts it; Microsoft comes back to the shared Redirect URL, whose
//! handler (`oauth::callback`) passes the request to [`callback`] when the
//! `state` belongs to this flow.

use axum::extract::{Form, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Redirect, Response};
use backend::Backend;
use backend::accounts::Role;
use backend::auth::{self, AuthError};
use backend::connections::CallbackParams;
use backend::rooms::{self, RoomCallbackOutcome, RoomError};
use serde::Deserialize;
use tower_sessions::Session;

pub const CONNECT_PATH: &str = app::models::ROOM_CONNECT_PATH;
const SPACES_PAGE: &str = "/admin/spaces";

#[derive(Deserialize)]
pub struct ConnectForm {
    space_id: i64,
}

pub async fn connect(
    State(backend): State<Backend>,
    session: Session,
    Form(form): Form<ConnectForm>,
) -> Response {
    let back = rooms::connect::settings_page(form.space_id);
    let user = match auth::require_role(&session, &backend.db, Role::Admin).await {
        Ok(u) => u,
        Err(AuthError::SignInRequired) => {
            return Redirect::to(&format!("/login?next={back}")).into_response();
        }
        Err(AuthError::Forbidden) => {
            return page(
                StatusCode::FORBIDDEN,
                "Only administrators connect a space to an Exchange room.",
                &[("/", "Home")],
            );
        }
        Err(AuthError::Internal(d)) => {
            tracing::error!(detail = %d, "connect-room: guard failed");
            return StatusCode::INTERNAL_SERVER_ERROR.into_response();
        }
    };
    match rooms::begin_room_connect(&backend, &session, &user, form.space_id).await {
        Ok(url) => Redirect::to(&url).into_response(),
        Err(e @ (RoomError::IntegrationInactive | RoomError::NoSuchSpace)) => page(
            StatusCode::CONFLICT,
            &e.to_string(),
            &[(&back, "Back to the space's sync settings")],
        ),
        Err(e) => {
            tracing::error!(error = %e, "connect-room: could not start the sign-in");
            page(
                StatusCode::INTERNAL_SERVER_ERROR,
                "The sign-in could not be started. Try again in a moment.",
                &[(&back, "Back to the space's sync settings")],
            )
        }
    }
}

/// The end of a space authorization (called by `oauth::callback`).
pub async fn callback(backend: &Backend, session: &Session, params: CallbackParams) -> Response {
    let user = auth::current_user(session, &backend.db)
        .await
        .ok()
        .flatten();
    let outcome = rooms::finish_room_connect(backend, session, user.as_ref(), params).await;
    let message = outcome.message();
    let back = outcome
        .space_id()
        .map(rooms::connect::settings_page)
        .unwrap_or_else(|| SPACES_PAGE.to_owned());
    match &outcome {
        RoomCallbackOutcome::Authorized { space_id, .. } => Redirect::to(&format!(
            "{}?authorized=1",
            rooms::connect::settings_page(*space_id)
        ))
        .into_response(),
        RoomCallbackOutcome::NotSignedIn => page(
            StatusCode::UNAUTHORIZED,
            &message,
            &[(&format!("/login?next={back}"), "Sign in")],
        ),
        RoomCallbackOutcome::ConsentMissing {
            admin_consent_url, ..
        } => page_with_link(&message, admin_consent_url, &back),
        _ => page(
            StatusCode::BAD_REQUEST,
            &message,
            &[(&back, "Back to the space's sync settings")],
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
        "<p id=\"room-message\" role=\"status\">{}</p><p>{links}</p>",
        esc(message)
    );
    (status, Html(document(&body))).into_response()
}

fn page_with_link(message: &str, url: &str, back: &str) -> Response {
    let body = format!(
        "<p id=\"room-message\" role=\"status\">{}</p>\
         <p>Admin-consent link for your Microsoft 365 administrator:<br>\
         <a id=\"admin-consent-link\" href=\"{url}\">{url}</a></p>\
         <p><a href=\"{back}\">Back to the space's sync settings</a></p>",
        esc(message),
        url = esc(url),
        back = esc(back)
    );
    (StatusCode::BAD_REQUEST, Html(document(&body))).into_response()
}

fn document(body: &str) -> String {
    format!(
        "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\">\
         <title>Exchange room · Calbridge</title>\
         <link rel=\"stylesheet\" href=\"/pkg/calbridge.css\"></head>\
         <body><main class=\"page\"><h1>Exchange room</h1>{body}</main></body></html>"
    )
}

fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}
