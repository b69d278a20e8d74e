//! Admin › Outbox: the sync work not yet done (pending, failed, paused),
//! then the latest finished jobs, and "Retry" for a job that stopped.
//! Admin only.

use leptos::prelude::*;

use crate::error::AppError;
use crate::models::OutboxRecordView;

#[cfg(feature = "ssr")]
use {
    super::guard::{back_with, backend, fail, require_role},
    crate::models::{Done, Role},
};

/// How many records the page lists.
pub const OUTBOX_RECORDS_SHOWN: u64 = 200;

#[server(endpoint = "outbox_records")]
pub async fn outbox_records() -> Result<Vec<OutboxRecordView>, AppError> {
    require_role(Role::Admin).await?;
    let backend = backend()?;
    let records = backend::outbox::list_for_admin(&backend.db, OUTBOX_RECORDS_SHOWN)
        .await
        .map_err(|e| fail(AppError::internal(e)))?;
    Ok(records
        .into_iter()
        .map(|r| OutboxRecordView {
            id: r.id,
            kind: r.kind,
            aggregate_id: r.aggregate_id,
            status: r.status,
            attempts: r.attempts,
            run_after: r.run_after.to_rfc3339(),
            last_error: r.last_error,
            created_at: r.created_at.to_rfc3339(),
        })
        .collect())
}

/// Puts a failed or paused job back in the queue, due now. A job that is
/// pending or done is left alone and the admin is told so.
#[server(endpoint = "retry_outbox_job")]
pub async fn retry_outbox_job(job_id: i64) -> Result<(), AppError> {
    let admin = require_role(Role::Admin).await?;
    let backend = backend()?;
    let requeued = backend::outbox::retry(&backend.db, job_id, chrono::Utc::now())
        .await
        .map_err(|e| fail(AppError::internal(e)))?;
    if !requeued {
        return Err(fail(AppError::Invalid(format!(
            "Job #{job_id} is not failed or paused, so there is nothing to retry."
        ))));
    }
    tracing::info!(job_id, by = admin.id, "outbox job retried by an admin");
    backend.sync.wake();
    back_with(Done::JobRetried);
    Ok(())
}
