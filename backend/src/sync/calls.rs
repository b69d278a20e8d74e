//! One Graph call for a connection, with everything around it: a slot of
//! the mailbox, an access token (refreshed once after a 401), a few quick
//! jittered retries for 5xx and lost answers, and Retry-After closing the
//! mailbox for everyone.

use std::time::Duration;

use chrono::Utc;
use rand::Rng;
use serde_json::Value;

use crate::Backend;
use crate::connections::{self, TokenFailure};
use crate::entities::calendar_connection;
use crate::microsoft::GraphError;

/// What to do with the job after a failed call.
#[derive(Debug)]
pub enum CallFailure {
    /// Come back after this long (Retry-After, or backoff).
    RetryAfter(Duration, String),
    /// Back off by attempt count (outbox backoff).
    Backoff(String),
    /// The connection needs its owner: park the job.
    Paused(String),
    /// Retrying will not help; keep it for the admin.
    Permanent(String),
    /// Graph says the item is not there.
    NotFound,
    /// 410: a delta token expired; read everything again.
    Gone,
}

pub enum Op<'a> {
    Create(&'a Value),
    Update(&'a str, &'a Value),
    Delete(&'a str),
    Get(&'a str),
}

/// Quick retries inside one job for 5xx and dropped connections, before
/// the job goes back to the outbox with its longer backoff.
const QUICK_RETRIES: u32 = 3;
const QUICK_BASE: Duration = Duration::from_millis(150);
/// After waiting this long for a mailbox slot, the access token is read
/// again before the request goes out.
pub(crate) const TOKEN_REREAD_AFTER: Duration = Duration::from_secs(1);
/// Refreshes one call may ask for (one per long wait); a bound, so a
/// Graph that refuses every new token cannot keep a job in a loop.
pub(crate) const MAX_REFRESHES: u32 = 3;

/// Full jitter: a random wait up to base × 2^attempt.
pub fn jittered(base: Duration, attempt: u32) -> Duration {
    let cap = base.saturating_mul(1 << attempt.min(10));
    let ms = rand::thread_rng().gen_range(cap.as_millis() as u64 / 2..=cap.as_millis() as u64);
    Duration::from_millis(ms)
}

pub async fn call(
    backend: &Backend,
    connection: &calendar_connection::Model,
    op: Op<'_>,
    holder: &str,
) -> Result<Value, CallFailure> {
    // The row was read by this job a moment ago: its token, when fresh,
    // saves reading it again.
    let mut token = match connections::usable_token(backend, connection) {
        Ok(Some(token)) => token,
        _ => get_token(backend, connection.id, None, holder).await?,
    };
    let mut refreshed = false;
    let mut refreshes = 0;
    let mut attempt = 0;
    loop {
        let waiting = std::time::Instant::now();
        let permit = backend
            .sync
            .limiter
            .acquire(&backend.db, &connection.account, holder)
            .await
            .map_err(|e| CallFailure::Backoff(format!("database: {e}")))?;
        // A long wait for the mailbox (a busy mailbox, a Retry-After) can
        // outlast the token read (or refreshed) before it: sent, it gets
        // a 401, and with the one refresh spent the job failed with
        // "Graph refused a freshly refreshed token" (found by the
        // two-instance test). After such a wait, read the token again and
        // allow one more refresh (a few at most per call).
        if waiting.elapsed() > TOKEN_REREAD_AFTER && refreshes < MAX_REFRESHES {
            refreshed = false;
            token = match get_token(backend, connection.id, None, holder).await {
                Ok(t) => t,
                Err(f) => {
                    permit.release().await;
                    return Err(f);
                }
            };
        }
        let result = send(backend, &token.token, &op).await;
        // A Retry-After closes the mailbox *before* this request's slot is
        // given back. Released first, the slot went to a waiting request
        // (here, or on PostgreSQL in another instance) that had not seen
        // the gate yet and went out inside the Retry-After: an early retry
        // that Graph answers with another 429 (found by the fault soak).
        let throttle_wait = match &result {
            Err(GraphError::Throttled { retry_after, .. }) => {
                let wait = retry_after.unwrap_or_else(|| jittered(Duration::from_secs(2), attempt));
                let _ = backend
                    .sync
                    .limiter
                    .close_for(&backend.db, &connection.account, wait)
                    .await;
                Some(wait)
            }
            _ => None,
        };
        permit.release().await;
        match result {
            Ok(v) => {
                if backend.sync.success_worth_recording(connection.id) {
                    let _ =
                        connections::record_success(&backend.db, connection.id, Utc::now()).await;
                }
                return Ok(v);
            }
            Err(GraphError::Unauthorized { .. }) if !refreshed => {
                refreshed = true;
                refreshes += 1;
                token = get_token(backend, connection.id, Some(token.version), holder).await?;
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
                tracing::debug!(error = %e, attempt, "transient Graph failure, retrying");
                tokio::time::sleep(jittered(QUICK_BASE, attempt)).await;
                attempt += 1;
            }
            Err(e) if e.is_transient() => return Err(CallFailure::Backoff(e.to_string())),
            Err(e) => return Err(CallFailure::Permanent(e.to_string())),
        }
    }
}

async fn send(
    backend: &Backend,
    token: &secrecy::SecretString,
    op: &Op<'_>,
) -> Result<Value, GraphError> {
    match op {
        Op::Create(body) => backend.graph.create_event(token, body).await,
        Op::Update(id, body) => backend.graph.update_event(token, id, body).await,
        Op::Delete(id) => backend
            .graph
            .delete_event(token, id)
            .await
            .map(|_| Value::Null),
        Op::Get(url) => backend.graph.get(token, url).await,
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
                CallFailure::Paused(format!("the Outlook connection is {s}"))
            }
            TokenFailure::DeadGrant(m) => CallFailure::Paused(m),
            TokenFailure::Transient(m) => CallFailure::Backoff(m),
            e => CallFailure::Backoff(e.to_string()),
        })
}
