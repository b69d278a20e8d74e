//! One Graph call on a room mailbox for the space's connection, with the
//! same rules as the appointment sync (`sync::calls`): a slot of the
//! *room's* mailbox (Graph counts the 4-in-flight limit per mailbox), a
//! token refreshed once after a 401, quick jittered retries for 5xx and
//! lost answers, and Retry-After closing the mailbox for everyone.
//!
//! Kept beside `sync::calls` rather than inside it while that file is
//! being changed elsewhere; the two can be folded together later.

use std::time::Duration;

use chrono::Utc;
use reqwest::Method;
use serde_json::Value;

use super::app::{self, AppTokenError, RoomAuth};
use crate::Backend;
use crate::connections::{self, TokenFailure};
use crate::microsoft::GraphError;
use crate::sync::calls::{CallFailure, MAX_REFRESHES, TOKEN_REREAD_AFTER, jittered};

const QUICK_RETRIES: u32 = 3;
const QUICK_BASE: Duration = Duration::from_millis(150);

/// A request on the room: `path` is under the Graph base URL or a full
/// URL Graph handed out (delta links).
pub struct RoomRequest<'a> {
    pub method: Method,
    pub path: &'a str,
    pub body: Option<&'a Value>,
}

/// A token for either mode, with the version to hand back after a 401.
struct Token {
    token: secrecy::SecretString,
    version: i64,
}

async fn token_for(
    backend: &Backend,
    auth: &RoomAuth,
    refused: Option<i64>,
    holder: &str,
) -> Result<Token, CallFailure> {
    match auth {
        RoomAuth::Delegated(c) => {
            let t = get_token(backend, c.id, refused, holder).await?;
            Ok(Token {
                token: t.token,
                version: t.version,
            })
        }
        RoomAuth::Application => {
            let t = app::app_token(backend, refused.map(|v| v as u64))
                .await
                // Nothing to retry until an admin acts (consent, secret,
                // tenant), or Microsoft was unreachable: the outbox backs
                // off (up to an hour), so it heals once that is fixed.
                .map_err(|e: AppTokenError| CallFailure::Backoff(e.to_string()))?;
            Ok(Token {
                token: t.token,
                version: t.version as i64,
            })
        }
    }
}

pub async fn call(
    backend: &Backend,
    auth: &RoomAuth,
    room: &str,
    request: RoomRequest<'_>,
    holder: &str,
) -> Result<Value, CallFailure> {
    let mut token = token_for(backend, auth, None, holder).await?;
    let mut refreshed = false;
    let mut refreshes = 0;
    let mut attempt = 0;
    loop {
        let waiting = std::time::Instant::now();
        let permit = backend
            .sync
            .limiter
            .acquire(&backend.db, room, holder)
            .await
            .map_err(|e| CallFailure::Backoff(format!("database: {e}")))?;
        // As in `sync::calls`: after a long wait for the mailbox, the
        // token read before it may have been replaced meanwhile.
        if waiting.elapsed() > TOKEN_REREAD_AFTER && refreshes < MAX_REFRESHES {
            refreshed = false;
            token = match token_for(backend, auth, None, holder).await {
                Ok(t) => t,
                Err(f) => {
                    permit.release().await;
                    return Err(f);
                }
            };
        }
        let result = if request.path.starts_with("http") {
            backend.graph.get(&token.token, request.path).await
        } else {
            backend
                .graph
                .request(
                    request.method.clone(),
                    request.path,
                    &token.token,
                    request.body,
                )
                .await
        };
        // As in `sync::calls`: a Retry-After closes the mailbox before the
        // slot is given back, so no waiting request slips out inside it.
        let throttle_wait = match &result {
            Err(GraphError::Throttled { retry_after, .. }) => {
                let wait = retry_after.unwrap_or_else(|| jittered(Duration::from_secs(2), attempt));
                let _ = backend
                    .sync
                    .limiter
                    .close_for(&backend.db, room, wait)
                    .await;
                Some(wait)
            }
            _ => None,
        };
        permit.release().await;
        match result {
            Ok(v) => {
                if let RoomAuth::Delegated(c) = auth {
                    let _ = connections::record_success(&backend.db, c.id, Utc::now()).await;
                }
                return Ok(v);
            }
            Err(GraphError::Unauthorized { .. }) if !refreshed => {
                refreshed = true;
                refreshes += 1;
                token = token_for(backend, auth, Some(token.version), holder).await?;
            }
            Err(GraphError::Unauthorized { code, message }) => {
                return Err(CallFailure::Backoff(format!(
                    "Graph refused a freshly refreshed token (401 {code}): {message}"
                )));
            }
            Err(GraphError::NotFound { .. }) => return Err(CallFailure::NotFound),
            Err(GraphError::Gone { .. }) => return Err(CallFailure::Gone),
            Err(GraphError::Throttled { status, code, .. }) => {
                let wait = throttle_wait.unwrap_or_default();
                return Err(CallFailure::RetryAfter(
                    wait,
                    format!("Graph throttled ({status} {code}); retrying after {wait:?}"),
                ));
            }
            Err(e) if e.is_transient() && attempt < QUICK_RETRIES => {
                tokio::time::sleep(jittered(QUICK_BASE, attempt)).await;
                attempt += 1;
            }
            Err(e) if e.is_transient() => return Err(CallFailure::Backoff(e.to_string())),
            // 403: the account lost its delegate rights on the room (or,
            // in application mode, the access policy leaves the room
            // out); the admin has to act, so the job waits for them.
            Err(GraphError::Rejected {
                status: 403,
                message,
                ..
            }) => {
                return Err(CallFailure::Paused(format!(
                    "{} may no longer write to {room}: {message}",
                    auth.account()
                )));
            }
            Err(e) => return Err(CallFailure::Permanent(e.to_string())),
        }
    }
}

async fn get_token(
    backend: &Backend,
    connection_id: i64,
    refused: Option<i64>,
    holder: &str,
) -> Result<connections::AccessToken, CallFailure> {
    connections::access_token(backend, connection_id, refused, holder)
        .await
        .map_err(|e| match e {
            TokenFailure::NotActive(s) => {
                CallFailure::Paused(format!("the room connection is {s}"))
            }
            TokenFailure::DeadGrant(m) => CallFailure::Paused(m),
            TokenFailure::Transient(m) => CallFailure::Backoff(m),
            e => CallFailure::Backoff(e.to_string()),
        })
}
