//! The role guard for server functions, and helpers they share. It wraps
//! `backend::auth`, which plain axum routes use directly.

use backend::Backend;
use backend::accounts::User;
use leptos::prelude::*;
use leptos_axum::ResponseOptions;
use tower_sessions::Session;

use crate::error::AppError;
use crate::models::{Done, Role};

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
        && !use_context::<http::request::Parts>().is_some_and(|p| is_plain_form_post(&p))
    {
        response.set_status(status);
    }
    error
}

/// After a plain HTML form post that succeeded: back to the page the form
/// was on, with `?done=` saying what happened (the page shows
/// [`Done::message`]). Leptos sends a form post back by itself, but
/// without the server function's answer. Calls from JavaScript get the
/// answer itself and are left alone.
pub fn back_with(done: Done) {
    let Some(parts) = use_context::<http::request::Parts>().filter(is_plain_form_post) else {
        return;
    };
    let referer = parts
        .headers
        .get(http::header::REFERER)
        .and_then(|v| v.to_str().ok());
    leptos_axum::redirect(&with_done(referer.map_or("/", path_of), done));
}

/// The path and query of a Referer, fragment dropped: a redirect to it
/// stays on this site whatever the header says.
fn path_of(referer: &str) -> &str {
    let after_scheme = referer.split_once("://").map_or(referer, |(_, rest)| rest);
    let path = after_scheme
        .find('/')
        .map_or("/", |slash| &after_scheme[slash..]);
    let path = path.split('#').next().unwrap_or("/");
    // "//host" would be read by the browser as another site.
    if path.starts_with("//") { "/" } else { path }
}

/// `page` with `done` set, and the outcome of an earlier post (its
/// `done`, or its error in `__path`/`__err`) removed.
fn with_done(page: &str, done: Done) -> String {
    let (path, query) = page.split_once('?').unwrap_or((page, ""));
    let mut kept: Vec<&str> = query
        .split('&')
        .filter(|pair| {
            let name = pair.split('=').next().unwrap_or("");
            !pair.is_empty() && !matches!(name, "done" | "__path" | "__err")
        })
        .collect();
    let done = format!("done={}", done.key());
    kept.push(&done);
    format!("{path}?{}", kept.join("&"))
}

fn is_plain_form_post(parts: &http::request::Parts) -> bool {
    parts.method == http::Method::POST
        && parts
            .headers
            .get(http::header::ACCEPT)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.contains("text/html"))
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn back_goes_to_the_referers_path_on_this_site() {
        assert_eq!(
            path_of("http://localhost:3000/staff/sync?x=1#top"),
            "/staff/sync?x=1"
        );
        assert_eq!(path_of("https://evil.example"), "/");
        assert_eq!(path_of("https://evil.example//other.example/x"), "/");
        assert_eq!(path_of("/admin/outbox"), "/admin/outbox");
    }

    #[test]
    fn done_replaces_an_earlier_outcome_and_keeps_the_rest() {
        assert_eq!(
            with_done("/admin/spaces/3/sync", Done::RoomRevoked),
            "/admin/spaces/3/sync?done=room-revoked"
        );
        assert_eq!(
            with_done(
                "/spaces/3/sync?date=2026-12-01&done=room-connected&__path=/api/x&__err=oops",
                Done::RoomRevoked
            ),
            "/spaces/3/sync?date=2026-12-01&done=room-revoked"
        );
    }
}
