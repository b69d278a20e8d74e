//! The HTTP status of a server fn's error answer.
//!
//! A server fn sets its status itself when it fails (`guard::fail`), but
//! when Leptos cannot even read the call's fields the body never runs and
//! Leptos answers 500 whatever the error. This layer gives such answers
//! the status their `AppError` names (a missing or malformed field: 400),
//! so a caller's mistake never looks like a server fault.

use app::error::AppError;
use axum::body::Body;
use axum::extract::Request;
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::Response;
use leptos::server_fn::error::SERVER_FN_ERROR_HEADER;

/// Error bodies are a sentence or two; anything longer is left alone.
const MAX_ERROR_BYTES: usize = 64 * 1024;

pub async fn status_from_app_error(request: Request, next: Next) -> Response {
    let response = next.run(request).await;
    if response.status() != StatusCode::INTERNAL_SERVER_ERROR
        || !response.headers().contains_key(SERVER_FN_ERROR_HEADER)
    {
        return response;
    }
    let (mut parts, body) = response.into_parts();
    let Ok(bytes) = axum::body::to_bytes(body, MAX_ERROR_BYTES).await else {
        return Response::from_parts(parts, Body::empty());
    };
    if let Ok(error) = serde_json::from_slice::<AppError>(&bytes)
        && let Ok(status) = StatusCode::from_u16(error.status())
    {
        parts.status = status;
    }
    Response::from_parts(parts, Body::from(bytes))
}
