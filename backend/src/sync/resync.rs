//! The first sync of a new connection, and "resync now": every upcoming
//! record of the subject goes (again) to Outlook, failed work is retried,
//! and a room is read at once.
//!
//! Each record gets a job of the "created" kind. The job handlers bring
//! Outlook in line with the row as it is (create, or update through the
//! stored event link), so sending a record twice never makes a second
//! event. The jobs carry `"first_sync": true`, which is how the live
//! status counts their progress.

use chrono::{DateTime, Utc};
use sea_orm::{ConnectionTrait, DbErr, Statement, TransactionTrait};
use serde_json::json;

use super::Subject;
use crate::Backend;
use crate::outbox::{self, db_time};

/// What a resync queued.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Resync {
    /// Upcoming records queued for writing.
    pub queued: u64,
    /// Jobs that had failed for good, put back in the queue.
    pub retried: u64,
}

/// Queues the subject's upcoming records and retries its failed jobs;
/// a room is read at its next pass (now). Records that already have a
/// job waiting are left to it.
pub async fn resync(
    backend: &Backend,
    subject: Subject,
    now: DateTime<Utc>,
) -> Result<Resync, DbErr> {
    queue(backend, subject, now, Scope::Everything).await
}

/// A new connection's first sync: its upcoming records are queued. (The
/// room of a newly picked space is read by the poller anyway.)
pub async fn first_sync(
    backend: &Backend,
    subject: Subject,
    now: DateTime<Utc>,
) -> Result<u64, DbErr> {
    Ok(queue(backend, subject, now, Scope::UpcomingOnly)
        .await?
        .queued)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Scope {
    UpcomingOnly,
    /// Also retry failed jobs and read a room now.
    Everything,
}

async fn queue(
    backend: &Backend,
    subject: Subject,
    now: DateTime<Utc>,
    scope: Scope,
) -> Result<Resync, DbErr> {
    let txn = backend.db.begin().await?;
    // Reads, then writes: on SQLite take the write lock first.
    crate::db::lock_for_write(&txn, "outbox").await?;
    let queued = queue_upcoming(&txn, subject, now).await?;
    let mut retried = 0;
    if scope == Scope::Everything {
        retried = retry_failed(&txn, subject, now).await?;
        if let Subject::Space(space_id) = subject {
            read_room_now(&txn, space_id, now).await?;
        }
    }
    txn.commit().await?;
    backend.sync.wake();
    backend.sync.changes.publish(subject);
    tracing::info!(?subject, ?scope, queued, retried, "sync queued");
    Ok(Resync { queued, retried })
}

struct Records {
    kind: &'static str,
    select: &'static str,
    key: &'static str,
    owner_key: &'static str,
}

fn records_of(subject: Subject) -> Records {
    match subject {
        Subject::Space(_) => Records {
            kind: outbox::SPACE_BOOKING_CREATED,
            select: "SELECT id FROM space_bookings b WHERE b.space_id = $1 \
                     AND b.status = 'active' AND b.ends_at > $2",
            key: "booking_id",
            owner_key: "space_id",
        },
        Subject::Staff(_) => Records {
            kind: outbox::APPOINTMENT_CREATED,
            select: "SELECT id FROM appointments b WHERE b.staff_id = $1 \
                     AND b.status = 'active' AND b.ends_at > $2",
            key: "appointment_id",
            owner_key: "staff_id",
        },
    }
}

fn owner_id(subject: Subject) -> i64 {
    match subject {
        Subject::Space(id) | Subject::Staff(id) => id,
    }
}

async fn queue_upcoming(
    db: &impl ConnectionTrait,
    subject: Subject,
    now: DateTime<Utc>,
) -> Result<u64, DbErr> {
    let r = records_of(subject);
    let prefix = r.kind.split('.').next().unwrap_or_default();
    let sql = format!(
        "{} AND NOT EXISTS (SELECT 1 FROM outbox o WHERE o.aggregate_id = b.id \
             AND o.kind LIKE '{prefix}.%' AND o.status IN ('pending', 'paused')) \
         ORDER BY b.starts_at",
        r.select
    );
    let rows = db
        .query_all(Statement::from_sql_and_values(
            db.get_database_backend(),
            sql,
            [owner_id(subject).into(), db_time(now).into()],
        ))
        .await?;
    let mut queued = 0;
    for row in rows {
        let id: i64 = row.try_get("", "id")?;
        let payload = json!({ r.key: id, r.owner_key: owner_id(subject), "first_sync": true });
        outbox::enqueue(db, r.kind, id, &payload, now).await?;
        queued += 1;
    }
    Ok(queued)
}

async fn retry_failed(
    db: &impl ConnectionTrait,
    subject: Subject,
    now: DateTime<Utc>,
) -> Result<u64, DbErr> {
    let r = records_of(subject);
    let prefix = r.kind.split('.').next().unwrap_or_default();
    let records = r
        .select
        .replace(" AND b.status = 'active' AND b.ends_at > $2", "");
    let sql = format!(
        "UPDATE outbox SET status = 'pending', run_after = $2, claimed_by = NULL, claimed_until = NULL \
         WHERE status = 'failed' AND kind LIKE '{prefix}.%' AND aggregate_id IN ({records})"
    );
    let result = db
        .execute(Statement::from_sql_and_values(
            db.get_database_backend(),
            sql,
            [owner_id(subject).into(), db_time(now).into()],
        ))
        .await?;
    Ok(result.rows_affected())
}

async fn read_room_now(
    db: &impl ConnectionTrait,
    space_id: i64,
    now: DateTime<Utc>,
) -> Result<(), DbErr> {
    db.execute(Statement::from_sql_and_values(
        db.get_database_backend(),
        "UPDATE room_links SET next_poll_at = $1 WHERE space_id = $2",
        [db_time(now).into(), space_id.into()],
    ))
    .await?;
    Ok(())
}
