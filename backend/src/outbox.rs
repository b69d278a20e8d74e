//! The outbox: sync work written in the same transaction as the booking
//! change it describes, and claimed by workers with a lease so several
//! server instances can share it without doing a job twice at once.

use std::time::Duration;

use chrono::{DateTime, SubsecRound, TimeDelta, Utc};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DatabaseBackend, DbErr, EntityTrait,
    QueryFilter, QueryOrder, QuerySelect, Set, Statement,
};

use crate::entities::outbox;

pub const PENDING: &str = "pending";
pub const DONE: &str = "done";
pub const FAILED: &str = "failed";
pub const PAUSED: &str = "paused";

/// Job kinds the sync workers will act on.
pub const SPACE_BOOKING_CREATED: &str = "space_booking.created";
pub const SPACE_BOOKING_MOVED: &str = "space_booking.moved";
pub const SPACE_BOOKING_CANCELLED: &str = "space_booking.cancelled";
/// Appointment jobs: `aggregate_id` is the appointment id; the worker reads
/// the appointment row for the truth (the payload is for people reading
/// the outbox page).
pub const APPOINTMENT_CREATED: &str = "appointment.created";
pub const APPOINTMENT_MOVED: &str = "appointment.moved";
pub const APPOINTMENT_CANCELLED: &str = "appointment.cancelled";

/// Backoff after a failure: 30 s, doubling per attempt, at most an hour.
const BACKOFF_BASE_SECS: i64 = 30;
const BACKOFF_MAX_SECS: i64 = 3600;

/// Timestamps are written to whole seconds: SQLite compares them as text,
/// and equal precision keeps that comparison a plain time comparison.
pub(crate) fn db_time(at: DateTime<Utc>) -> DateTime<Utc> {
    at.trunc_subsecs(0)
}

/// Adds a job. Call it with the transaction that writes the change, so the
/// change and its job are committed (or rolled back) together.
pub async fn enqueue(
    txn: &impl ConnectionTrait,
    kind: &str,
    aggregate_id: i64,
    payload: &serde_json::Value,
    now: DateTime<Utc>,
) -> Result<outbox::Model, DbErr> {
    outbox::ActiveModel {
        kind: Set(kind.to_owned()),
        aggregate_id: Set(aggregate_id),
        payload: Set(payload.to_string()),
        status: Set(PENDING.to_owned()),
        attempts: Set(0),
        run_after: Set(db_time(now)),
        last_error: Set(None),
        claimed_by: Set(None),
        claimed_until: Set(None),
        created_at: Set(db_time(now)),
        ..Default::default()
    }
    .insert(txn)
    .await
}

/// Claims up to `limit` due jobs for `worker` until `now + lease`: pending,
/// `run_after` reached, and not leased to anyone (or the lease ran out,
/// i.e. that worker died). Each claim counts as an attempt.
///
/// PostgreSQL: `FOR UPDATE SKIP LOCKED` lets concurrent claimers pass over
/// rows another transaction is claiming instead of waiting or sharing them.
/// SQLite: the single `UPDATE … RETURNING` holds the database's one write
/// lock for its whole duration, so two claimers can never pick the same row.
pub async fn claim_batch(
    db: &impl ConnectionTrait,
    worker: &str,
    limit: u64,
    lease: Duration,
    now: DateTime<Utc>,
) -> Result<Vec<outbox::Model>, DbErr> {
    let now = db_time(now);
    let until = now + TimeDelta::from_std(lease).unwrap_or(TimeDelta::hours(1));
    let backend = db.get_database_backend();
    let lock = match backend {
        DatabaseBackend::Postgres => "FOR UPDATE SKIP LOCKED",
        _ => "",
    };
    let sql = format!(
        "UPDATE outbox SET claimed_by = $1, claimed_until = $2, attempts = attempts + 1 \
         WHERE id IN (SELECT id FROM outbox \
             WHERE status = 'pending' AND run_after <= $3 \
               AND (claimed_until IS NULL OR claimed_until <= $3) \
             ORDER BY run_after, id LIMIT $4 {lock}) \
         RETURNING *"
    );
    let values = [
        worker.into(),
        until.into(),
        now.into(),
        (limit as i64).into(),
    ];
    let mut jobs = outbox::Entity::find()
        .from_raw_sql(Statement::from_sql_and_values(backend, sql, values))
        .all(db)
        .await?;
    jobs.sort_by_key(|j| (j.run_after, j.id));
    Ok(jobs)
}

/// Finishes a job. `false` when `worker` no longer holds it (its lease ran
/// out and someone else took it over), so the caller knows.
pub async fn mark_done(db: &impl ConnectionTrait, id: i64, worker: &str) -> Result<bool, DbErr> {
    let result = outbox::Entity::update_many()
        .col_expr(outbox::Column::Status, DONE.into())
        .col_expr(outbox::Column::ClaimedBy, Option::<String>::None.into())
        .col_expr(
            outbox::Column::ClaimedUntil,
            Option::<DateTime<Utc>>::None.into(),
        )
        .col_expr(outbox::Column::LastError, Option::<String>::None.into())
        .filter(outbox::Column::Id.eq(id))
        .filter(outbox::Column::ClaimedBy.eq(worker))
        .exec(db)
        .await?;
    Ok(result.rows_affected == 1)
}

/// What to do with a job that failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Retry {
    /// Exponential backoff by attempt count.
    Backoff,
    /// At a time the remote side asked for (e.g. `Retry-After`).
    After(Duration),
    /// Never by itself: the job is kept as "failed" for an admin to see.
    Never,
}

/// Records a failure and releases the lease. `false` when `worker` no
/// longer holds the job.
pub async fn mark_failed(
    db: &impl ConnectionTrait,
    id: i64,
    worker: &str,
    error: &str,
    retry: Retry,
    now: DateTime<Utc>,
) -> Result<bool, DbErr> {
    let Some(job) = outbox::Entity::find_by_id(id)
        .filter(outbox::Column::ClaimedBy.eq(worker))
        .one(db)
        .await?
    else {
        return Ok(false);
    };
    let (status, run_after) = match retry {
        Retry::Never => (FAILED, job.run_after),
        Retry::Backoff => (PENDING, db_time(now) + backoff(job.attempts)),
        Retry::After(wait) => (
            PENDING,
            db_time(now) + TimeDelta::from_std(wait).unwrap_or(TimeDelta::hours(1)),
        ),
    };
    let result = outbox::Entity::update_many()
        .col_expr(outbox::Column::Status, status.into())
        .col_expr(outbox::Column::RunAfter, db_time(run_after).into())
        .col_expr(outbox::Column::LastError, Some(error.to_owned()).into())
        .col_expr(outbox::Column::ClaimedBy, Option::<String>::None.into())
        .col_expr(
            outbox::Column::ClaimedUntil,
            Option::<DateTime<Utc>>::None.into(),
        )
        .filter(outbox::Column::Id.eq(id))
        .filter(outbox::Column::ClaimedBy.eq(worker))
        .exec(db)
        .await?;
    Ok(result.rows_affected == 1)
}

/// 30 s after the first attempt, doubling, capped at an hour.
pub fn backoff(attempts: i32) -> TimeDelta {
    let exponent = attempts.saturating_sub(1).clamp(0, 20) as u32;
    let secs = BACKOFF_BASE_SECS.saturating_mul(1_i64 << exponent);
    TimeDelta::seconds(secs.min(BACKOFF_MAX_SECS))
}

/// Everything not yet done, oldest first, for the admin's outbox page.
pub async fn list_pending(
    db: &impl ConnectionTrait,
    limit: u64,
) -> Result<Vec<outbox::Model>, DbErr> {
    outbox::Entity::find()
        .filter(outbox::Column::Status.ne(DONE))
        .order_by_asc(outbox::Column::Id)
        .limit(limit)
        .all(db)
        .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_and_is_capped() {
        assert_eq!(backoff(1), TimeDelta::seconds(30));
        assert_eq!(backoff(2), TimeDelta::seconds(60));
        assert_eq!(backoff(4), TimeDelta::seconds(240));
        assert_eq!(backoff(40), TimeDelta::seconds(3600));
        assert_eq!(backoff(0), TimeDelta::seconds(30));
    }
}
