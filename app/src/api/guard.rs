//! The role guard for server functions, and helpers they share. It wraps
//! `backend::auth`, which plain axum routes use directly.

use backend::Backend;
use backend::accounts::User;
use leptos::prelude::*;
use leptos_axum::ResponseOptions;
use tower_sessions::Session;

use crate::error::AppError;
use crate::models::Role;

/// The server's `Backend`, provided to every request's context.
///
/// Leptos builds some components more than once while rendering a page on
/// the server, and a resource made in a discarded copy may call its server
/// fn after the response is gone, with no request context at all. Its
/// result is thrown away, so that case is logged at debug level only; a
/// request that *has* a context but no `Backend` is a wiring bug and logged
/// as an error. Make resources in the page component (see
/// `components/require_role.rs`) to avoid the wasted call.
#[track_caller]
pub fn backend() -> Result<Backend, AppError> {
    let caller = std::panic::Location::caller();
    if let Some(backend) = use_context::<Backend>() {
        return Ok(backend);
    }
    match use_context::<http::request::Parts>() {
        None => {
            tracing::debug!(%caller, "server fn called from a discarded server-side render");
            Err(AppError::Internal)
        }
        Some(parts) => Err(AppError::internal(format!(
            "Backend missing from the context of {} (called at {caller})",
            parts.uri
        ))),
    }
}

pub async fn session() -> Result<Session, AppError> {
    leptos_axum::extract::<Session>()
        .await
        .map_err(|e| AppError::internal(format!("session layer missing: {e}")))
}

/// Sets the HTTP status of the response from the error, then returns it.
///
/// Not for a plain HTML form post (JavaScript off): Leptos answers those
/// with a redirect back to the form, carrying the error in the URL, and a
/// status set here would replace that redirect with a bare JSON body.
pub fn fail(error: AppError) -> AppError {
    if let Some(response) = use_context::<ResponseOptions>()
        && let Ok(status) = http::StatusCode::from_u16(error.status())
        && !is_plain_form_post()
    {
        response.set_status(status);
    }
    error
}

fn is_plain_form_post() -> bool {
    use_context::<http::request::Parts>().is_some_and(|parts| {
        parts.method == http::Method::POST
            && parts
                .headers
                .get(http::header::ACCEPT)
                .and_then(|v| v.to_str().ok())
                .is_some_and(|v| v.contains("text/html"))
    })
}

/// The signed-in user if their role satisfies `required`; otherwise
/// `SignInRequired` (401) or `Forbidden` (403).
#[track_caller]
pub fn require_role(required: Role) -> impl Future<Output = Result<User, AppError>> {
    let backend = backend();
    async move {
        let backend = backend.map_err(fail)?;
        let session = session().await.map_err(fail)?;
        backend::auth::require_role(&session, &backend.db, required.into())
            .await
            .map_err(|e| fail(e.into()))
    }
}

/// The signed-in user, if any, for endpoints open to everyone.
#[track_caller]
pub fn optional_user() -> impl Future<Output = Result<Option<User>, AppError>> {
    let backend = backend();
    async move {
        let backend = backend.map_err(fail)?;
        let session = session().await.map_err(fail)?;
        backend::auth::current_user(&session, &backend.db)
            .await
            .map_err(|e| fail(e.into()))
    }
}
