//! The sync status of one space (its room) or one staff member (their
//! Outlook calendar), as the live status badges, the admin's settings and
//! the dashboard show it. Computed from the database every time, so every
//! instance agrees; [`super::changes`] says when to compute it again.

use chrono::{DateTime, Utc};
use sea_orm::{ConnectionTrait, DbErr, EntityTrait, QueryFilter, QueryOrder, Statement};

use crate::connections::{self, ACTIVE, NEEDS_REAUTHORIZATION, Owner, REVOKED};
use crate::entities::{calendar_connection, room_link, space, user};
use crate::integration::IntegrationStatus;
use crate::legacy::{self, OwnerKind};

/// Whose sync a status is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Subject {
    /// A space and the room resource it is connected to.
    Space(i64),
    /// A staff member's own Outlook calendar.
    Staff(i64),
}

impl Subject {
    pub fn owner(self) -> Owner<'static> {
        match self {
            Subject::Space(id) => crate::rooms::space_owner(id),
            Subject::Staff(id) => Owner::staff(id),
        }
    }

    /// The subject of an outbox job, from the ids its payload carries.
    pub fn of_job_payload(payload: &str) -> Option<Self> {
        let v: serde_json::Value = serde_json::from_str(payload).ok()?;
        if let Some(id) = v.get("space_id").and_then(|v| v.as_i64()) {
            return Some(Subject::Space(id));
        }
        v.get("staff_id")
            .and_then(|v| v.as_i64())
            .map(Subject::Staff)
    }

    /// "space:3" / "staff:7": the form sent between instances.
    pub fn to_wire(self) -> String {
        match self {
            Subject::Space(id) => format!("space:{id}"),
            Subject::Staff(id) => format!("staff:{id}"),
        }
    }

    pub fn from_wire(s: &str) -> Option<Self> {
        let (kind, id) = s.split_once(':')?;
        let id = id.parse().ok()?;
        match kind {
            "space" => Some(Subject::Space(id)),
            "staff" => Some(Subject::Staff(id)),
            _ => None,
        }
    }
}

/// One word for where a sync stands, in order of what needs attention.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SyncState {
    /// Connected; nothing waiting.
    Active,
    /// Connected; changes are on their way (or a first sync runs).
    Syncing,
    /// Microsoft refused the grant: someone must connect again.
    NeedsReauthorization,
    /// Work failed for good and waits for an admin (or a read failed).
    Error,
    /// Sync was revoked; what was written stays.
    Revoked,
    /// The integration is inactive or was disconnected system-wide.
    DisabledSystemWide,
    /// Not connected through OAuth; legacy password settings exist.
    LegacyPassword,
    /// Never connected.
    NotConnected,
}

impl SyncState {
    pub fn as_str(self) -> &'static str {
        match self {
            SyncState::Active => "active",
            SyncState::Syncing => "syncing",
            SyncState::NeedsReauthorization => "needs_reauthorization",
            SyncState::Error => "error",
            SyncState::Revoked => "revoked",
            SyncState::DisabledSystemWide => "disabled",
            SyncState::LegacyPassword => "legacy_password",
            SyncState::NotConnected => "not_connected",
        }
    }

    /// A connection whose records can be written again ("Resync now").
    pub fn can_resync(self) -> bool {
        matches!(
            self,
            SyncState::Active | SyncState::Syncing | SyncState::Error
        )
    }

    /// Needs a person: the dashboard's "in trouble" filter.
    pub fn in_trouble(self) -> bool {
        matches!(self, SyncState::NeedsReauthorization | SyncState::Error)
    }
}

/// How far a first sync (or a "resync now") has got.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Progress {
    pub done: u64,
    pub total: u64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyncStatus {
    pub subject: Subject,
    pub state: SyncState,
    /// The Microsoft account that authorized it.
    pub account: Option<String>,
    /// The room's name and address (spaces).
    pub room: Option<String>,
    pub last_success_at: Option<DateTime<Utc>>,
    /// Changes not yet written (pending or paused jobs).
    pub pending: u64,
    /// Jobs that failed for good.
    pub failed: u64,
    pub last_error: Option<String>,
    /// When the next retry of a job that failed for now is due.
    pub next_retry_at: Option<DateTime<Utc>>,
    /// Application mode's change-notification subscription, if any.
    pub subscription_expires_at: Option<DateTime<Utc>>,
    /// While a first sync (or resync) still runs.
    pub progress: Option<Progress>,
    /// A space's bookings and room events that took the same time, for an
    /// admin to resolve.
    pub conflicts: Vec<crate::rooms::RoomConflict>,
}

/// The status of `subject` now.
pub async fn status_of(db: &impl ConnectionTrait, subject: Subject) -> Result<SyncStatus, DbErr> {
    let integration = IntegrationStatus::current(db)
        .await
        .map_err(|e| DbErr::Custom(e.to_string()))?;
    let connection = connections::find(db, subject.owner()).await?;
    let link = match subject {
        Subject::Space(id) => crate::rooms::link_of(db, id).await?,
        Subject::Staff(_) => None,
    };
    let jobs = job_counts(db, subject).await?;
    let conflicts = match subject {
        Subject::Space(id) if link.is_some() => crate::rooms::conflicts(db, id).await?,
        _ => vec![],
    };
    let legacy = match subject {
        Subject::Space(id) => legacy::get(db, OwnerKind::Space, id).await?,
        Subject::Staff(id) => legacy::get(db, OwnerKind::Staff, id).await?,
    };
    let state = state_of(
        &integration,
        connection.as_ref(),
        link.as_ref(),
        &jobs,
        legacy.is_some(),
    );
    let last_error = connection
        .as_ref()
        .and_then(|c| c.last_error.clone())
        .or_else(|| link.as_ref().and_then(|l| l.last_error.clone()))
        .or(jobs.last_error.clone());
    Ok(SyncStatus {
        subject,
        state,
        account: connection.as_ref().map(|c| c.account.clone()),
        room: link
            .as_ref()
            .map(|l| format!("{} ({})", l.room_name, l.room_address)),
        last_success_at: connection.as_ref().and_then(|c| c.last_success_at),
        pending: jobs.pending,
        failed: jobs.failed,
        last_error,
        next_retry_at: jobs.next_retry_at,
        subscription_expires_at: link.as_ref().and_then(|l| l.subscription_expires_at),
        progress: jobs.progress,
        conflicts,
    })
}

fn state_of(
    integration: &IntegrationStatus,
    connection: Option<&calendar_connection::Model>,
    link: Option<&room_link::Model>,
    jobs: &JobCounts,
    has_legacy: bool,
) -> SyncState {
    let Some(c) = connection.filter(|c| c.status != REVOKED) else {
        return match (connection, has_legacy) {
            (_, true) => SyncState::LegacyPassword,
            (Some(_), false) => SyncState::Revoked,
            (None, false) => SyncState::NotConnected,
        };
    };
    if !integration.connections_allowed {
        return SyncState::DisabledSystemWide;
    }
    match c.status.as_str() {
        NEEDS_REAUTHORIZATION => SyncState::NeedsReauthorization,
        ACTIVE if jobs.failed > 0 || link.is_some_and(|l| l.last_error.is_some()) => {
            SyncState::Error
        }
        ACTIVE if jobs.pending > 0 => SyncState::Syncing,
        _ => SyncState::Active,
    }
}

#[derive(Debug, Default)]
struct JobCounts {
    pending: u64,
    failed: u64,
    last_error: Option<String>,
    next_retry_at: Option<DateTime<Utc>>,
    progress: Option<Progress>,
}

/// The subject's outbox rows: those of its bookings (a space) or its
/// appointments (a staff member).
fn jobs_of(subject: Subject) -> (&'static str, &'static str, i64) {
    match subject {
        Subject::Space(id) => (
            "space_booking.%",
            "SELECT id FROM space_bookings WHERE space_id = $1",
            id,
        ),
        Subject::Staff(id) => (
            "appointment.%",
            "SELECT id FROM appointments WHERE staff_id = $1",
            id,
        ),
    }
}

async fn job_counts(db: &impl ConnectionTrait, subject: Subject) -> Result<JobCounts, DbErr> {
    let (kinds, records, id) = jobs_of(subject);
    // One pass over the subject's jobs. A first sync's jobs carry
    // "first_sync" in their payload; progress shows while any is left.
    let sql = format!(
        "SELECT \
           SUM(CASE WHEN status IN ('pending', 'paused') THEN 1 ELSE 0 END) AS pending, \
           SUM(CASE WHEN status = 'failed' THEN 1 ELSE 0 END) AS failed, \
           MIN(CASE WHEN status = 'pending' AND last_error IS NOT NULL THEN run_after END) AS next_retry, \
           SUM(CASE WHEN payload LIKE '%\"first_sync\"%' THEN 1 ELSE 0 END) AS first_total, \
           SUM(CASE WHEN payload LIKE '%\"first_sync\"%' AND status IN ('pending', 'paused') THEN 1 ELSE 0 END) AS first_left \
         FROM outbox WHERE kind LIKE '{kinds}' AND aggregate_id IN ({records})"
    );
    let backend = db.get_database_backend();
    let row = db
        .query_one(Statement::from_sql_and_values(backend, sql, [id.into()]))
        .await?;
    let mut counts = JobCounts::default();
    if let Some(row) = row {
        let n = |col: &str| {
            row.try_get::<Option<i64>>("", col)
                .ok()
                .flatten()
                .unwrap_or(0) as u64
        };
        counts.pending = n("pending");
        counts.failed = n("failed");
        let (first_total, first_left) = (n("first_total"), n("first_left"));
        if first_left > 0 {
            counts.progress = Some(Progress {
                done: first_total - first_left,
                total: first_total,
            });
        }
        counts.next_retry_at = row
            .try_get::<Option<DateTime<Utc>>>("", "next_retry")
            .ok()
            .flatten();
    }
    if counts.failed > 0 || counts.next_retry_at.is_some() {
        counts.last_error = latest_job_error(db, subject).await?;
    }
    Ok(counts)
}

async fn latest_job_error(
    db: &impl ConnectionTrait,
    subject: Subject,
) -> Result<Option<String>, DbErr> {
    let (kinds, records, id) = jobs_of(subject);
    let sql = format!(
        "SELECT last_error FROM outbox WHERE kind LIKE '{kinds}' AND aggregate_id IN ({records}) \
           AND status IN ('pending', 'failed') AND last_error IS NOT NULL \
         ORDER BY id DESC LIMIT 1"
    );
    let row = db
        .query_one(Statement::from_sql_and_values(
            db.get_database_backend(),
            sql,
            [id.into()],
        ))
        .await?;
    Ok(row.and_then(|r| r.try_get::<Option<String>>("", "last_error").ok().flatten()))
}

/// A row of the admin's sync dashboard.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OverviewRow {
    /// The space's or staff member's name.
    pub name: String,
    pub status: SyncStatus,
}

/// Every space that is not retired and every staff member with a
/// connection or legacy settings, spaces first, each by name.
pub async fn overview(db: &impl ConnectionTrait) -> Result<Vec<OverviewRow>, DbErr> {
    let mut rows = Vec::new();
    let spaces = space::Entity::find()
        .order_by_asc(space::Column::Name)
        .all(db)
        .await?;
    for s in spaces.into_iter().filter(|s| !s.retired) {
        let status = status_of(db, Subject::Space(s.id)).await?;
        rows.push(OverviewRow {
            name: s.name,
            status,
        });
    }
    let owners: Vec<i64> = calendar_connection::Entity::find()
        .filter(sea_orm::ColumnTrait::eq(
            &calendar_connection::Column::OwnerKind,
            connections::STAFF,
        ))
        .all(db)
        .await?
        .into_iter()
        .map(|c| c.owner_id)
        .collect();
    let staff = user::Entity::find()
        .filter(sea_orm::ColumnTrait::is_in(&user::Column::Id, owners))
        .order_by_asc(user::Column::DisplayName)
        .all(db)
        .await?;
    for u in staff {
        let status = status_of(db, Subject::Staff(u.id)).await?;
        rows.push(OverviewRow {
            name: u.display_name,
            status,
        });
    }
    Ok(rows)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subjects_survive_the_wire_and_come_from_job_payloads() {
        for s in [Subject::Space(3), Subject::Staff(17)] {
            assert_eq!(Subject::from_wire(&s.to_wire()), Some(s));
        }
        assert_eq!(Subject::from_wire("room:1"), None);
        assert_eq!(Subject::from_wire("space:x"), None);
        assert_eq!(
            Subject::of_job_payload(r#"{"booking_id":4,"space_id":9}"#),
            Some(Subject::Space(9))
        );
        assert_eq!(
            Subject::of_job_payload(r#"{"appointment_id":4,"staff_id":2}"#),
            Some(Subject::Staff(2))
        );
        assert_eq!(Subject::of_job_payload("not json"), None);
    }
}
