//! `POST /webhooks/graph` and `POST /webhooks/graph/lifecycle`: Microsoft
//! Graph's change and lifecycle notifications for rooms in application
//! mode. Anyone may call them (Microsoft does not sign in), so nothing a
//! caller sends is trusted:
//!
//! - with `?validationToken=…` (the handshake when a subscription is
//!   created or moved): the token is echoed as `text/plain` at once;
//! - otherwise the body (bounded in size) is read as notifications and
//!   the answer is 202 straight away; in the background each one's
//!   `clientState` is checked against the sealed one of its subscription
//!   and a matching one only makes its room due for a delta read (see
//!   `backend::rooms::subscriptions::receive`).

use std::collections::HashMap;

use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use backend::Backend;
use backend::rooms::subscriptions::{self, MAX_VALIDATION_TOKEN};

pub const PATH: &str = subscriptions::WEBHOOK_PATH;
pub const LIFECYCLE_PATH: &str = subscriptions::LIFECYCLE_PATH;
pub const MAX_BODY_BYTES: usize = subscriptions::MAX_BODY_BYTES;

pub async fn graph(
    State(backend): State<Backend>,
    Query(query): Query<HashMap<String, String>>,
    body: Bytes,
) -> Response {
    if let Some(token) = query.get("validationToken") {
        if token.len() > MAX_VALIDATION_TOKEN {
            return StatusCode::BAD_REQUEST.into_response();
        }
        return (
            StatusCode::OK,
            [
                (header::CONTENT_TYPE, "text/plain; charset=utf-8"),
                (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
                (header::CACHE_CONTROL, "no-store"),
            ],
            token.clone(),
        )
            .into_response();
    }
    let Some(notifications) = subscriptions::parse(&body) else {
        return StatusCode::BAD_REQUEST.into_response();
    };
    // Graph wants an answer within seconds: the work happens afterwards.
    tokio::spawn(async move {
        let report = subscriptions::receive(&backend, &notifications, chrono::Utc::now()).await;
        tracing::debug!(?report, "Graph notifications handled");
    });
    StatusCode::ACCEPTED.into_response()
}
