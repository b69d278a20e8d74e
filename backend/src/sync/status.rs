//! The sync status of one space (its room) or one staff member (their
//! Outlook calendar), as the live status badges, the admin's settings and
//! the dashboard show it. Computed from the database every time, so every
//! instance agrees; [`super::changes`] says when to compute it again.

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, Utc};
use sea_orm::{ConnectionTrait, DbErr, EntityTrait, QueryFilter, QueryOrder, Statement};

use crate::connections::{self, ACTIVE, NEEDS_REAUTHORIZATION, Owner, REVOKED};
use crate::entities::{calendar_connection, legacy_exchange_setting, room_link, space, user};
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
    /// The space's or the staff member's id.
    pub fn id(self) -> i64 {
        match self {
            Subject::Space(id) | Subject::Staff(id) => id,
        }
    }

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
    let integration = current_integration(db).await?;
    let connection = connections::find(db, subject.owner()).await?;
    let link = match subject {
        Subject::Space(id) => crate::rooms::link_of(db, id).await?,
        Subject::Staff(_) => None,
    };
    let jobs = job_counts(db, JobOwner::of(subject), Some(subject.id()))
        .await?
        .remove(&subject.id())
        .unwrap_or_default();
    let jobs = with_last_error(db, subject, jobs).await?;
    let conflicts = match subject {
        Subject::Space(id) if link.is_some() => crate::rooms::conflicts(db, id).await?,
        _ => vec![],
    };
    let has_legacy = match subject {
        Subject::Space(id) => legacy::get(db, OwnerKind::Space, id).await?,
        Subject::Staff(id) => legacy::get(db, OwnerKind::Staff, id).await?,
    }
    .is_some();
    Ok(assemble(
        subject,
        &integration,
        Parts {
            connection,
            link,
            jobs,
            conflicts,
            has_legacy,
        },
    ))
}

async fn current_integration(db: &impl ConnectionTrait) -> Result<IntegrationStatus, DbErr> {
    IntegrationStatus::current(db)
        .await
        .map_err(|e| DbErr::Custom(e.to_string()))
}

/// What a subject's status is worked out from, read by [`status_of`] for
/// one subject and by [`overview`] for all of them at once.
struct Parts {
    connection: Option<calendar_connection::Model>,
    link: Option<room_link::Model>,
    jobs: JobCounts,
    conflicts: Vec<crate::rooms::RoomConflict>,
    has_legacy: bool,
}

fn assemble(subject: Subject, integration: &IntegrationStatus, parts: Parts) -> SyncStatus {
    let Parts {
        connection,
        link,
        jobs,
        conflicts,
        has_legacy,
    } = parts;
    let state = state_of(
        integration,
        connection.as_ref(),
        link.as_ref(),
        &jobs,
        has_legacy,
    );
    let last_error = connection
        .as_ref()
        .and_then(|c| c.last_error.clone())
        .or_else(|| link.as_ref().and_then(|l| l.last_error.clone()))
        .or(jobs.last_error.clone());
    SyncStatus {
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
    }
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

/// Whose jobs: a space's are its bookings', a staff member's their
/// appointments'.
#[derive(Debug, Clone, Copy)]
enum JobOwner {
    Space,
    Staff,
}

impl JobOwner {
    fn of(subject: Subject) -> Self {
        match subject {
            Subject::Space(_) => JobOwner::Space,
            Subject::Staff(_) => JobOwner::Staff,
        }
    }

    /// The job kinds (a LIKE pattern), the records the jobs are about and
    /// the records' column naming the subject.
    fn source(self) -> (&'static str, &'static str, &'static str) {
        match self {
            JobOwner::Space => ("space_booking.%", "space_bookings", "space_id"),
            JobOwner::Staff => ("appointment.%", "appointments", "staff_id"),
        }
    }
}

/// The job counts of every space (or staff member) that has jobs, in one
/// query; `only` limits it to one. A first sync's jobs carry
/// "first_sync" in their payload; progress shows while any is left. The
/// last error is left for [`with_last_error`].
async fn job_counts(
    db: &impl ConnectionTrait,
    owner: JobOwner,
    only: Option<i64>,
) -> Result<HashMap<i64, JobCounts>, DbErr> {
    let (kinds, records, column) = owner.source();
    let only_one = if only.is_some() {
        format!(" AND r.{column} = $1")
    } else {
        String::new()
    };
    let sql = format!(
        "SELECT r.{column} AS subject_id, \
           SUM(CASE WHEN o.status IN ('pending', 'paused') THEN 1 ELSE 0 END) AS pending, \
           SUM(CASE WHEN o.status = 'failed' THEN 1 ELSE 0 END) AS failed, \
           MIN(CASE WHEN o.status = 'pending' AND o.last_error IS NOT NULL THEN o.run_after END) AS next_retry, \
           SUM(CASE WHEN o.payload LIKE '%\"first_sync\"%' THEN 1 ELSE 0 END) AS first_total, \
           SUM(CASE WHEN o.payload LIKE '%\"first_sync\"%' AND o.status IN ('pending', 'paused') THEN 1 ELSE 0 END) AS first_left \
         FROM outbox o JOIN {records} r ON r.id = o.aggregate_id \
         WHERE o.kind LIKE '{kinds}'{only_one} \
         GROUP BY r.{column}"
    );
    let values: Vec<sea_orm::Value> = only.into_iter().map(Into::into).collect();
    let rows = db
        .query_all(Statement::from_sql_and_values(
            db.get_database_backend(),
            sql,
            values,
        ))
        .await?;
    let mut by_subject = HashMap::new();
    for row in rows {
        let n = |col: &str| {
            row.try_get::<Option<i64>>("", col)
                .ok()
                .flatten()
                .unwrap_or(0) as u64
        };
        let mut counts = JobCounts {
            pending: n("pending"),
            failed: n("failed"),
            ..JobCounts::default()
        };
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
        let id: i64 = row.try_get("", "subject_id")?;
        by_subject.insert(id, counts);
    }
    Ok(by_subject)
}

/// Adds the latest job error to counts that have failed or retrying jobs
/// (few do, so one query each).
async fn with_last_error(
    db: &impl ConnectionTrait,
    subject: Subject,
    mut counts: JobCounts,
) -> Result<JobCounts, DbErr> {
    if counts.failed > 0 || counts.next_retry_at.is_some() {
        counts.last_error = latest_job_error(db, subject).await?;
    }
    Ok(counts)
}

async fn latest_job_error(
    db: &impl ConnectionTrait,
    subject: Subject,
) -> Result<Option<String>, DbErr> {
    let (kinds, records, column) = JobOwner::of(subject).source();
    let sql = format!(
        "SELECT o.last_error FROM outbox o JOIN {records} r ON r.id = o.aggregate_id \
         WHERE o.kind LIKE '{kinds}' AND r.{column} = $1 \
           AND o.status IN ('pending', 'failed') AND o.last_error IS NOT NULL \
         ORDER BY o.id DESC LIMIT 1"
    );
    let row = db
        .query_one(Statement::from_sql_and_values(
            db.get_database_backend(),
            sql,
            [subject.id().into()],
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
/// connection or legacy settings, spaces first, each by name. Reads each
/// table once for all subjects (the dashboard of a library with a
/// thousand staff calendars must not cost thousands of queries); only
/// spaces with conflicts, and subjects with failed jobs, cost one more
/// query each.
pub async fn overview(db: &impl ConnectionTrait) -> Result<Vec<OverviewRow>, DbErr> {
    let integration = current_integration(db).await?;
    let mut connections: HashMap<(String, i64), calendar_connection::Model> =
        calendar_connection::Entity::find()
            .all(db)
            .await?
            .into_iter()
            .map(|c| ((c.owner_kind.clone(), c.owner_id), c))
            .collect();
    let mut links: HashMap<i64, room_link::Model> = room_link::Entity::find()
        .all(db)
        .await?
        .into_iter()
        .map(|l| (l.space_id, l))
        .collect();
    let legacy: HashSet<(String, i64)> = legacy_exchange_setting::Entity::find()
        .all(db)
        .await?
        .into_iter()
        .map(|l| (l.owner_kind, l.owner_id))
        .collect();
    let with_conflicts = crate::rooms::spaces_with_conflicts(db).await?;

    let mut subjects: Vec<(Subject, String)> = space::Entity::find()
        .order_by_asc(space::Column::Name)
        .all(db)
        .await?
        .into_iter()
        .filter(|s| !s.retired)
        .map(|s| (Subject::Space(s.id), s.name))
        .collect();
    let staff_ids: Vec<i64> = connections
        .keys()
        .chain(legacy.iter())
        .filter(|(kind, _)| kind == connections::STAFF)
        .map(|(_, id)| *id)
        .collect();
    let staff = user::Entity::find()
        .filter(sea_orm::ColumnTrait::is_in(&user::Column::Id, staff_ids))
        .order_by_asc(user::Column::DisplayName)
        .all(db)
        .await?;
    subjects.extend(
        staff
            .into_iter()
            .map(|u| (Subject::Staff(u.id), u.display_name)),
    );

    let mut space_jobs = job_counts(db, JobOwner::Space, None).await?;
    let mut staff_jobs = job_counts(db, JobOwner::Staff, None).await?;
    let mut rows = Vec::with_capacity(subjects.len());
    for (subject, name) in subjects {
        let owner = subject.owner();
        let key = (owner.kind.to_owned(), owner.id);
        let counts = match subject {
            Subject::Space(id) => space_jobs.remove(&id),
            Subject::Staff(id) => staff_jobs.remove(&id),
        };
        let link = match subject {
            Subject::Space(id) => links.remove(&id),
            Subject::Staff(_) => None,
        };
        let conflicts = match subject {
            Subject::Space(id) if link.is_some() && with_conflicts.contains(&id) => {
                crate::rooms::conflicts(db, id).await?
            }
            _ => vec![],
        };
        let parts = Parts {
            connection: connections.remove(&key),
            link,
            jobs: with_last_error(db, subject, counts.unwrap_or_default()).await?,
            conflicts,
            has_legacy: legacy.contains(&key),
        };
        rows.push(OverviewRow {
            name,
            status: assemble(subject, &integration, parts),
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
