//! The sync engine: workers that take appointment jobs from the outbox and
//! write them to each staff member's Outlook calendar through Graph, the
//! per-mailbox limiter shared by every instance, and free/busy reading.
//!
//! Space booking jobs (`space_booking.*`) are left for the room sync.

pub mod appointments;
pub mod calls;
pub mod changes;
pub mod free_busy;
pub mod limiter;
pub mod recorder;
pub mod resync;
pub mod status;
pub mod worker;

use std::sync::Arc;

use sea_orm::{ConnectionTrait, DbBackend, DbErr, Statement};
use tokio::sync::Notify;

use crate::Backend;
pub use status::Subject;

/// Called once when a server process starts, before its workers. SQLite
/// is one process by design, so whatever is still claimed then (outbox
/// jobs, token-refresh leases) was left by a process that is gone —
/// killed or crashed mid-job. Released now, that work resumes at once
/// instead of after its lease (3 minutes for a job; found by the crash
/// test, where every kill stalled the claimed jobs that long). A job that
/// was mid-create is safe to run again: its link says a create was sent,
/// and the transactionId finds the event. PostgreSQL instances cannot
/// tell a dead process from a live one and keep waiting for the leases.
/// Returns how many jobs were released.
pub async fn recover_after_restart(backend: &Backend) -> Result<u64, DbErr> {
    let db = &backend.db;
    if db.get_database_backend() != DbBackend::Sqlite {
        return Ok(0);
    }
    let jobs = db
        .execute(Statement::from_string(
            DbBackend::Sqlite,
            "UPDATE outbox SET claimed_by = NULL, claimed_until = NULL \
             WHERE status = 'pending' AND claimed_by IS NOT NULL",
        ))
        .await?
        .rows_affected();
    db.execute(Statement::from_string(
        DbBackend::Sqlite,
        "UPDATE calendar_connections SET refresh_lease_by = NULL, refresh_lease_until = NULL \
         WHERE refresh_lease_by IS NOT NULL",
    ))
    .await?;
    if jobs > 0 {
        tracing::info!(jobs, "released sync jobs claimed by a process that stopped");
    }
    Ok(jobs)
}

pub use worker::{Worker, spawn_workers};

/// This process's sync state, cloned into `Backend`.
#[derive(Clone, Default)]
pub struct SyncState {
    pub limiter: Arc<limiter::Limiter>,
    /// "This status may have changed", for the live status on pages.
    pub changes: changes::SyncChanges,
    /// Writes finished jobs in groups.
    pub recorder: recorder::Recorder,
    wake: Arc<Notify>,
    /// When each connection's "last synced" was last written.
    recorded: Arc<std::sync::Mutex<std::collections::HashMap<i64, std::time::Instant>>>,
    /// The newest access-token version this process has seen for each
    /// connection (see [`SyncState::newer_token_known`]).
    token_versions: Arc<std::sync::Mutex<std::collections::HashMap<i64, i64>>>,
}

/// "Last synced" is for people: once every few seconds is enough, and
/// saves a database write per request.
const SUCCESS_RECORD_EVERY: std::time::Duration = std::time::Duration::from_secs(5);

impl std::fmt::Debug for SyncState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SyncState").finish_non_exhaustive()
    }
}

impl SyncState {
    /// Tells this process's workers a job was just committed, so they do
    /// not wait for their next poll. Call it after the transaction that
    /// enqueued the job has committed; skipping it only adds latency.
    pub fn wake(&self) {
        self.wake.notify_waiters();
    }

    pub(crate) fn success_worth_recording(&self, connection_id: i64) -> bool {
        let now = std::time::Instant::now();
        let mut recorded = self.recorded.lock().unwrap_or_else(|e| e.into_inner());
        match recorded.get(&connection_id) {
            Some(at) if now.duration_since(*at) < SUCCESS_RECORD_EVERY => false,
            _ => {
                recorded.insert(connection_id, now);
                true
            }
        }
    }

    /// Notes that `version` of the connection's access token was read or
    /// stored here.
    pub(crate) fn saw_token(&self, connection_id: i64, version: i64) {
        let mut versions = self
            .token_versions
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        let newest = versions.entry(connection_id).or_insert(version);
        *newest = (*newest).max(version);
    }

    /// Graph refused `version` of the connection's access token: every
    /// holder of that version here needs the next one.
    pub(crate) fn token_refused(&self, connection_id: i64, version: i64) {
        self.saw_token(connection_id, version + 1);
    }

    /// Whether a token newer than `version` was seen here, or `version`
    /// was refused: a job holding it waits for the new one (refreshed once,
    /// by whoever takes the lease) instead of earning a 401 with it. When
    /// Graph saw an expiry first, nearly every queued job used to send the
    /// old token while the one refresh ran (17–20 401s for 20 jobs).
    pub(crate) fn newer_token_known(&self, connection_id: i64, version: i64) -> bool {
        let versions = self
            .token_versions
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        versions.get(&connection_id).is_some_and(|v| *v > version)
    }

    /// Taken around each sync write on SQLite (nothing on PostgreSQL,
    /// whose writers do not block each other on different rows): SQLite
    /// has one writer, and the sync's writes queue here instead of in
    /// SQLite's busy handler, which sleeps 1–100 ms between retries.
    pub(crate) async fn write_gate(
        &self,
        db: &sea_orm::DatabaseConnection,
    ) -> Option<tokio::sync::MutexGuard<'_, ()>> {
        use sea_orm::ConnectionTrait;
        if db.get_database_backend() == sea_orm::DbBackend::Sqlite {
            Some(self.recorder.gate.lock().await)
        } else {
            None
        }
    }

    pub(crate) async fn woken(&self) {
        self.wake.notified().await
    }
}
