//! One Graph call for a connection, with everything around it: a slot of
//! the mailbox, an access token (refreshed once after a 401), a few quick
//! jittered retries for 5xx and lost answers, and Retry-After closing the
//! mailbox for everyone.

use std::time::Duration;

use chrono::Utc;
use rand::Rng;
use secrecy::SecretString;
use serde_json::Value;

use crate::Backend;
use crate::connections::{self, AccessToken, TokenFailure};
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
const TOKEN_REREAD_AFTER: Duration = Duration::from_secs(1);
/// Refreshes one call may ask for (one per long wait); a bound, so a
/// Graph that refuses every new token cannot keep a job in a loop.
const MAX_REFRESHES: u32 = 3;

/// Full jitter: a random wait up to base × 2^attempt.
pub fn jittered(base: Duration, attempt: u32) -> Duration {
    let cap = base.saturating_mul(1 << attempt.min(10));
    let ms = rand::thread_rng().gen_range(cap.as_millis() as u64 / 2..=cap.as_millis() as u64);
    Duration::from_millis(ms)
}

/// What differs between a call on a staff member's calendar and one on a
/// room: the mailbox, where its tokens come from, what is sent, and what
/// a 403 means. [`call_with`] does the rest, the same for both.
pub(crate) trait Caller {
    /// The mailbox Graph counts the request against.
    fn mailbox(&self) -> &str;
    /// A token at hand already (read with the job), saving a read.
    fn token_at_hand(&self, _backend: &Backend) -> Option<AccessToken> {
        None
    }
    /// A token; `refused`: the version Graph just answered 401 to, so
    /// exactly that one is replaced.
    async fn token(
        &self,
        backend: &Backend,
        refused: Option<i64>,
        holder: &str,
    ) -> Result<AccessToken, CallFailure>;
    async fn send(&self, backend: &Backend, token: &SecretString) -> Result<Value, GraphError>;
    /// The connection whose "last synced" a success updates.
    fn connection_id(&self) -> Option<i64>;
    /// Graph answered 403: by default nothing a retry can mend.
    fn forbidden(&self, error: GraphError) -> CallFailure {
        CallFailure::Permanent(error.to_string())
    }
}

/// A call on a staff member's calendar through their connection.
pub async fn call(
    backend: &Backend,
    connection: &calendar_connection::Model,
    op: Op<'_>,
    holder: &str,
) -> Result<Value, CallFailure> {
    call_with(backend, &StaffCall { connection, op }, holder).await
}

struct StaffCall<'a> {
    connection: &'a calendar_connection::Model,
    op: Op<'a>,
}

impl Caller for StaffCall<'_> {
    fn mailbox(&self) -> &str {
        &self.connection.account
    }

    // The row was read by this job a moment ago: its token, when fresh,
    // saves reading it again.
    fn token_at_hand(&self, backend: &Backend) -> Option<AccessToken> {
        connections::usable_token(backend, self.connection)
            .ok()
            .flatten()
    }

    async fn token(
        &self,
        backend: &Backend,
        refused: Option<i64>,
        holder: &str,
    ) -> Result<AccessToken, CallFailure> {
        get_token(backend, self.connection.id, refused, holder).await
    }

    async fn send(&self, backend: &Backend, token: &SecretString) -> Result<Value, GraphError> {
        send(backend, token, &self.op).await
    }

    fn connection_id(&self) -> Option<i64> {
        Some(self.connection.id)
    }
}

/// One call with everything around it: a slot of the mailbox, a token
/// (refreshed once after a 401), quick retries, Retry-After.
pub(crate) async fn call_with(
    backend: &Backend,
    caller: &impl Caller,
    holder: &str,
) -> Result<Value, CallFailure> {
    let mut token = match caller.token_at_hand(backend) {
        Some(token) => token,
        None => caller.token(backend, None, holder).await?,
    };
    let mailbox = caller.mailbox();
    let mut refreshed = false;
    let mut refreshes = 0;
    let mut attempt = 0;
    loop {
        let waiting = std::time::Instant::now();
        let permit = backend
            .sync
            .limiter
            .acquire(&backend.db, mailbox, holder)
            .await
            .map_err(|e| CallFailure::Backoff(format!("database: {e}")))?;
        // Read the token again before sending when either holds:
        // - a long wait for the mailbox (a busy mailbox, a Retry-After) can
        //   outlast the token read (or refreshed) before it: sent, it got a
        //   401, and with the one refresh spent the job failed with "Graph
        //   refused a freshly refreshed token" (found by the two-instance
        //   test); after such a wait one more refresh is allowed (a few at
        //   most per call);
        // - another worker here replaced the token meanwhile, or Graph
        //   refused it: sent, it would only earn a 401 (`refused` then
        //   names it, so exactly that version is replaced).
        let waited_long = waiting.elapsed() > TOKEN_REREAD_AFTER && refreshes < MAX_REFRESHES;
        let outdated = caller
            .connection_id()
            .is_some_and(|id| backend.sync.newer_token_known(id, token.version));
        if waited_long || outdated {
            if waited_long {
                refreshed = false;
            }
            let refused = outdated.then_some(token.version);
            token = match caller.token(backend, refused, holder).await {
                Ok(t) => t,
                Err(f) => {
                    permit.release().await;
                    return Err(f);
                }
            };
        }
        let result = caller.send(backend, &token.token).await;
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
                    .close_for(&backend.db, mailbox, wait)
                    .await;
                Some(wait)
            }
            _ => None,
        };
        // Likewise a 401 marks the token refused before the slot goes to
        // a request that would send the same token.
        if let (Err(GraphError::Unauthorized { .. }), Some(id)) = (&result, caller.connection_id())
        {
            backend.sync.token_refused(id, token.version);
        }
        permit.release().await;
        match result {
            Ok(v) => {
                if let Some(id) = caller.connection_id()
                    && backend.sync.success_worth_recording(id)
                {
                    let _ = connections::record_success(&backend.db, id, Utc::now()).await;
                }
                return Ok(v);
            }
            Err(GraphError::Unauthorized { .. }) if !refreshed => {
                refreshed = true;
                refreshes += 1;
                token = caller.token(backend, Some(token.version), holder).await?;
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
            Err(e @ GraphError::Rejected { status: 403, .. }) => return Err(caller.forbidden(e)),
            Err(e) => return Err(CallFailure::Permanent(e.to_string())),
        }
    }
}

async fn send(backend: &Backend, token: &SecretString, op: &Op<'_>) -> Result<Value, GraphError> {
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
) -> Result<AccessToken, CallFailure> {
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
