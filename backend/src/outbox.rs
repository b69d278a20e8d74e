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

/// Claims up to `limit` due jobs of any kind; see [`claim`].
pub async fn claim_batch(
    db: &impl ConnectionTrait,
    worker: &str,
    limit: u64,
    lease: Duration,
    now: DateTime<Utc>,
) -> Result<Vec<outbox::Model>, DbErr> {
    claim(db, worker, &[], limit, lease, now).await
}

/// The appointment sync's job kinds.
pub const APPOINTMENT_KINDS: [&str; 3] = [
    APPOINTMENT_CREATED,
    APPOINTMENT_MOVED,
    APPOINTMENT_CANCELLED,
];

/// Claims up to `limit` due jobs of `kinds` (all kinds when empty) for
/// `worker` until `now + lease`: pending, `run_after` reached, and not
/// leased to anyone (or the lease ran out, i.e. that worker died). Each
/// claim counts as an attempt.
///
/// With `kinds` given, jobs of one aggregate run in order: a job waits
/// while an earlier job of those kinds for the same aggregate is pending
/// or paused, so "cancelled" never overtakes "created".
///
/// PostgreSQL: `FOR UPDATE SKIP LOCKED` lets concurrent claimers pass over
/// rows another transaction is claiming instead of waiting or sharing them.
/// SQLite: the single `UPDATE … RETURNING` holds the database's one write
/// lock for its whole duration, so two claimers can never pick the same row.
pub async fn claim(
    db: &impl ConnectionTrait,
    worker: &str,
    kinds: &[&str],
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
    let mut values: Vec<sea_orm::Value> = vec![
        worker.into(),
        until.into(),
        now.into(),
        (limit as i64).into(),
    ];
    let kind_filter = if kinds.is_empty() {
        String::new()
    } else {
        let placeholders = kinds
            .iter()
            .enumerate()
            .map(|(i, _)| format!("${}", i + 5))
            .collect::<Vec<_>>()
            .join(", ");
        values.extend(kinds.iter().map(|k| sea_orm::Value::from(*k)));
        format!(
            "AND o.kind IN ({placeholders}) \
             AND NOT EXISTS (SELECT 1 FROM outbox e WHERE e.aggregate_id = o.aggregate_id \
                 AND e.kind IN ({placeholders}) AND e.id < o.id \
                 AND e.status IN ('pending', 'paused'))"
        )
    };
    let sql = format!(
        "UPDATE outbox SET claimed_by = $1, claimed_until = $2, attempts = attempts + 1 \
         WHERE id IN (SELECT o.id FROM outbox o \
             WHERE o.status = 'pending' AND o.run_after <= $3 \
               AND (o.claimed_until IS NULL OR o.claimed_until <= $3) {kind_filter} \
             ORDER BY o.run_after, o.id LIMIT $4 {lock}) \
         RETURNING *"
    );
    let mut jobs = outbox::Entity::find()
        .from_raw_sql(Statement::from_sql_and_values(backend, sql, values))
        .all(db)
        .await?;
    jobs.sort_by_key(|j| (j.run_after, j.id));
    Ok(jobs)
}

/// Extends to `until` the leases of the jobs held by workers whose names
/// start with `workers` (a process renews its own while it runs; a
/// killed one's run out and its jobs are taken over).
pub async fn renew_leases(
    db: &impl ConnectionTrait,
    workers: &str,
    until: DateTime<Utc>,
) -> Result<u64, DbErr> {
    let result = outbox::Entity::update_many()
        .col_expr(outbox::Column::ClaimedUntil, Some(db_time(until)).into())
        .filter(outbox::Column::ClaimedBy.like(format!("{workers}-%")))
        .filter(outbox::Column::Status.eq(PENDING))
        .exec(db)
        .await?;
    Ok(result.rows_affected)
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
        // Rounded up to the stored whole second: never earlier than asked.
        Retry::After(wait) => (
            PENDING,
            ceil_time(now + TimeDelta::from_std(wait).unwrap_or(TimeDelta::hours(1))),
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

/// `at` rounded up to the next whole second (unchanged when whole).
fn ceil_time(at: DateTime<Utc>) -> DateTime<Utc> {
    let whole = db_time(at);
    if whole == at {
        whole
    } else {
        whole + TimeDelta::seconds(1)
    }
}

/// Finishes a job that needed no remote work, keeping why for the admin
/// ("no Outlook connection: nothing sent"). `false` when `worker` no
/// longer holds it.
pub async fn mark_done_with_note(
    db: &impl ConnectionTrait,
    id: i64,
    worker: &str,
    note: &str,
) -> Result<bool, DbErr> {
    let result = outbox::Entity::update_many()
        .col_expr(outbox::Column::Status, DONE.into())
        .col_expr(outbox::Column::ClaimedBy, Option::<String>::None.into())
        .col_expr(
            outbox::Column::ClaimedUntil,
            Option::<DateTime<Utc>>::None.into(),
        )
        .col_expr(outbox::Column::LastError, Some(note.to_owned()).into())
        .filter(outbox::Column::Id.eq(id))
        .filter(outbox::Column::ClaimedBy.eq(worker))
        .exec(db)
        .await?;
    Ok(result.rows_affected == 1)
}

/// Parks a job until its connection works again (see
/// [`crate::connections::resume_staff_jobs`]).
pub async fn mark_paused(
    db: &impl ConnectionTrait,
    id: i64,
    worker: &str,
    note: &str,
) -> Result<bool, DbErr> {
    let result = outbox::Entity::update_many()
        .col_expr(outbox::Column::Status, PAUSED.into())
        .col_expr(outbox::Column::ClaimedBy, Option::<String>::None.into())
        .col_expr(
            outbox::Column::ClaimedUntil,
            Option::<DateTime<Utc>>::None.into(),
        )
        .col_expr(outbox::Column::LastError, Some(note.to_owned()).into())
        .filter(outbox::Column::Id.eq(id))
        .filter(outbox::Column::ClaimedBy.eq(worker))
        .exec(db)
        .await?;
    Ok(result.rows_affected == 1)
}

/// The admin's "Retry": a failed (or paused) job becomes due now. `false`
/// when the job is neither.
pub async fn retry(db: &impl ConnectionTrait, id: i64, now: DateTime<Utc>) -> Result<bool, DbErr> {
    let result = outbox::Entity::update_many()
        .col_expr(outbox::Column::Status, PENDING.into())
        .col_expr(outbox::Column::RunAfter, db_time(now).into())
        .col_expr(outbox::Column::ClaimedBy, Option::<String>::None.into())
        .col_expr(
            outbox::Column::ClaimedUntil,
            Option::<DateTime<Utc>>::None.into(),
        )
        .filter(outbox::Column::Id.eq(id))
        .filter(outbox::Column::Status.is_in([FAILED, PAUSED]))
        .exec(db)
        .await?;
    Ok(result.rows_affected == 1)
}

/// Pauses every pending job of `kinds` (all kinds when empty): the
/// system-wide disconnect. Returns how many.
pub async fn pause_all(db: &impl ConnectionTrait, kinds: &[&str]) -> Result<u64, DbErr> {
    let mut q = outbox::Entity::update_many()
        .col_expr(outbox::Column::Status, PAUSED.into())
        .filter(outbox::Column::Status.eq(PENDING));
    if !kinds.is_empty() {
        q = q.filter(outbox::Column::Kind.is_in(kinds.iter().copied()));
    }
    Ok(q.exec(db).await?.rows_affected)
}

/// 30 s after the first attempt, doubling, capped at an hour.
pub fn backoff(attempts: i32) -> TimeDelta {
    let exponent = attempts.saturating_sub(1).clamp(0, 20) as u32;
    let secs = BACKOFF_BASE_SECS.saturating_mul(1_i64 << exponent);
    TimeDelta::seconds(secs.min(BACKOFF_MAX_SECS))
}

/// Everything not yet done, oldest first, for the admin's outbox page.
/// The admin's outbox list: work not done yet (pending, failed, paused),
/// oldest first, then the most recent finished jobs, newest first, so an
/// admin sees both what waits and what just went through.
pub async fn list_for_admin(
    db: &impl ConnectionTrait,
    limit: u64,
) -> Result<Vec<outbox::Model>, DbErr> {
    let mut records = list_pending(db, limit).await?;
    let room = limit.saturating_sub(records.len() as u64);
    if room > 0 {
        let done = outbox::Entity::find()
            .filter(outbox::Column::Status.eq(DONE))
            .order_by_desc(outbox::Column::Id)
            .limit(room)
            .all(db)
            .await?;
        records.extend(done);
    }
    Ok(records)
}

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
