//! Free/busy (opt-in per staff member): the staff member's Outlook busy
//! times block their appointment availability.
//!
//! Read with `calendarView/delta` over a window from the start of today
//! (in the staff member's zone) to the end of their booking window. A
//! delta round keeps the window it started with, so on a new day the
//! round starts over with a new window. `showAs` busy, oof and tentative
//! block; free, workingElsewhere and unknown do not. Recurring series
//! arrive as their occurrences, each with its own id. The results are
//! `external_busy_blocks` rows (owner "staff", the user id, the Graph id).

use chrono::{DateTime, NaiveDateTime, TimeDelta, TimeZone, Utc};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, Set, TransactionTrait,
};
use serde_json::Value;

use super::calls::{self, CallFailure, Op};
use crate::Backend;
use crate::connections::{self, Owner};
use crate::entities::{calendar_connection, external_busy_block, free_busy_state, staff_profile};
use crate::outbox::db_time;

const OWNER_KIND: &str = "staff";
/// Graph pages; a runaway loop of nextLinks stops here.
const MAX_PAGES: usize = 500;

/// What one round did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct FreeBusyReport {
    /// A new window (first round, new day, or an expired delta token).
    pub full: bool,
    pub blocks_written: usize,
    pub blocks_removed: usize,
}

#[derive(Debug, thiserror::Error)]
pub enum FreeBusyError {
    #[error("database: {0}")]
    Db(#[from] sea_orm::DbErr),
    #[error("Graph: {0:?}")]
    Graph(CallFailure),
    #[error("unexpected delta page: {0}")]
    Unexpected(String),
}

/// The window for `now`: local midnight today → the end of the booking
/// window.
pub fn window(
    profile: &staff_profile::Model,
    now: DateTime<Utc>,
) -> (DateTime<Utc>, DateTime<Utc>) {
    let zone: chrono_tz::Tz = profile.time_zone.parse().unwrap_or(chrono_tz::UTC);
    let today = now.with_timezone(&zone).date_naive();
    let midnight = today.and_hms_opt(0, 0, 0).expect("valid time");
    let start = zone
        .from_local_datetime(&midnight)
        .earliest()
        .map(|t| t.with_timezone(&Utc))
        .unwrap_or(now);
    let days = i64::from(profile.booking_window_days.max(1)) + 1;
    (start, start + TimeDelta::days(days))
}

/// One round for one staff member.
pub async fn sync_staff(
    backend: &Backend,
    profile: &staff_profile::Model,
    connection: &calendar_connection::Model,
    now: DateTime<Utc>,
) -> Result<FreeBusyReport, FreeBusyError> {
    let holder = format!("free-busy-{}", connection.id);
    let (start, end) = window(profile, now);
    let state = free_busy_state::Entity::find()
        .filter(free_busy_state::Column::ConnectionId.eq(connection.id))
        .one(&backend.db)
        .await?;
    let resume = state
        .as_ref()
        .filter(|s| s.window_start == db_time(start))
        .and_then(|s| s.delta_link.clone());
    if let Some(link) = resume {
        match read_all(backend, connection, &link, &holder).await {
            Ok((items, delta)) => {
                let report = apply_changes(backend, profile.user_id, &items).await?;
                save_state(backend, connection.id, start, end, &delta, now).await?;
                return Ok(report);
            }
            // The delta token expired (410): start over.
            Err(FreeBusyError::Graph(CallFailure::Gone)) => {}
            Err(e) => return Err(e),
        }
    }
    let first = format!(
        "/me/calendarView/delta?startDateTime={}&endDateTime={}",
        start.format("%Y-%m-%dT%H:%M:%SZ"),
        end.format("%Y-%m-%dT%H:%M:%SZ")
    );
    let (items, delta) = read_all(backend, connection, &first, &holder).await?;
    let report = replace_all(backend, profile.user_id, &items).await?;
    save_state(backend, connection.id, start, end, &delta, now).await?;
    Ok(report)
}

/// Follows `@odata.nextLink` to the final `@odata.deltaLink`.
async fn read_all(
    backend: &Backend,
    connection: &calendar_connection::Model,
    first: &str,
    holder: &str,
) -> Result<(Vec<Value>, String), FreeBusyError> {
    let mut url = first.to_owned();
    let mut items = Vec::new();
    for _ in 0..MAX_PAGES {
        let page = calls::call(backend, connection, Op::Get(&url), holder)
            .await
            .map_err(FreeBusyError::Graph)?;
        if let Some(values) = page.get("value").and_then(Value::as_array) {
            items.extend(values.iter().cloned());
        }
        if let Some(next) = page.get("@odata.nextLink").and_then(Value::as_str) {
            url = next.to_owned();
            continue;
        }
        if let Some(delta) = page.get("@odata.deltaLink").and_then(Value::as_str) {
            return Ok((items, delta.to_owned()));
        }
        return Err(FreeBusyError::Unexpected(
            "a page with neither nextLink nor deltaLink".into(),
        ));
    }
    Err(FreeBusyError::Unexpected("too many pages".into()))
}

/// A busy interval from an event, or `None` when it does not block.
pub fn busy_interval(event: &Value) -> Option<(DateTime<Utc>, DateTime<Utc>)> {
    if event.get("@removed").is_some() || event["isCancelled"].as_bool() == Some(true) {
        return None;
    }
    let blocks = matches!(
        event["showAs"].as_str().unwrap_or("busy"),
        "busy" | "oof" | "tentative"
    );
    if !blocks {
        return None;
    }
    let start = graph_time(&event["start"])?;
    let end = graph_time(&event["end"])?;
    (end > start).then_some((start, end))
}

/// `{dateTime, timeZone}` → UTC. UTC and IANA names; anything else is
/// read as UTC, which is what we ask Graph for.
fn graph_time(v: &Value) -> Option<DateTime<Utc>> {
    let text = v["dateTime"].as_str()?;
    let naive = NaiveDateTime::parse_from_str(text, "%Y-%m-%dT%H:%M:%S%.f").ok()?;
    let zone = v["timeZone"].as_str().unwrap_or("UTC");
    match zone.parse::<chrono_tz::Tz>() {
        Ok(tz) if zone != "UTC" => tz
            .from_local_datetime(&naive)
            .earliest()
            .map(|t| t.with_timezone(&Utc)),
        _ => Some(naive.and_utc()),
    }
}

/// A new round: the staff member's blocks become exactly these.
async fn replace_all(
    backend: &Backend,
    user_id: i64,
    items: &[Value],
) -> Result<FreeBusyReport, sea_orm::DbErr> {
    let txn = backend.db.begin().await?;
    let removed = external_busy_block::Entity::delete_many()
        .filter(external_busy_block::Column::OwnerKind.eq(OWNER_KIND))
        .filter(external_busy_block::Column::OwnerId.eq(user_id))
        .exec(&txn)
        .await?
        .rows_affected as usize;
    let mut written = 0;
    for item in items {
        if let (Some(id), Some((s, e))) = (item["id"].as_str(), busy_interval(item)) {
            // A page may repeat an item that changed while we paged.
            delete_block(&txn, user_id, id).await?;
            insert_block(&txn, user_id, id, s, e).await?;
            written += 1;
        }
    }
    txn.commit().await?;
    Ok(FreeBusyReport {
        full: true,
        blocks_written: written,
        blocks_removed: removed,
    })
}

/// An incremental round: each changed item replaces its block (or
/// removes it when deleted or no longer busy).
async fn apply_changes(
    backend: &Backend,
    user_id: i64,
    items: &[Value],
) -> Result<FreeBusyReport, sea_orm::DbErr> {
    let txn = backend.db.begin().await?;
    let mut report = FreeBusyReport::default();
    for item in items {
        let Some(id) = item["id"].as_str() else {
            continue;
        };
        report.blocks_removed += delete_block(&txn, user_id, id).await?;
        if let Some((s, e)) = busy_interval(item) {
            insert_block(&txn, user_id, id, s, e).await?;
            report.blocks_written += 1;
        }
    }
    txn.commit().await?;
    Ok(report)
}

async fn delete_block(
    db: &impl ConnectionTrait,
    user_id: i64,
    source_id: &str,
) -> Result<usize, sea_orm::DbErr> {
    Ok(external_busy_block::Entity::delete_many()
        .filter(external_busy_block::Column::OwnerKind.eq(OWNER_KIND))
        .filter(external_busy_block::Column::OwnerId.eq(user_id))
        .filter(external_busy_block::Column::SourceId.eq(source_id))
        .exec(db)
        .await?
        .rows_affected as usize)
}

async fn insert_block(
    db: &impl ConnectionTrait,
    user_id: i64,
    source_id: &str,
    start: DateTime<Utc>,
    end: DateTime<Utc>,
) -> Result<(), sea_orm::DbErr> {
    external_busy_block::ActiveModel {
        owner_kind: Set(OWNER_KIND.to_owned()),
        owner_id: Set(user_id),
        starts_at: Set(start),
        ends_at: Set(end),
        source_id: Set(source_id.to_owned()),
        ..Default::default()
    }
    .insert(db)
    .await?;
    Ok(())
}

async fn save_state(
    backend: &Backend,
    connection_id: i64,
    start: DateTime<Utc>,
    end: DateTime<Utc>,
    delta: &str,
    now: DateTime<Utc>,
) -> Result<(), sea_orm::DbErr> {
    let existing = free_busy_state::Entity::find()
        .filter(free_busy_state::Column::ConnectionId.eq(connection_id))
        .one(&backend.db)
        .await?;
    let mut row: free_busy_state::ActiveModel = match existing {
        Some(r) => r.into(),
        None => free_busy_state::ActiveModel {
            connection_id: Set(connection_id),
            ..Default::default()
        },
    };
    row.window_start = Set(db_time(start));
    row.window_end = Set(db_time(end));
    row.delta_link = Set(Some(delta.to_owned()));
    row.last_synced_at = Set(Some(db_time(now)));
    row.updated_at = Set(db_time(now));
    row.save(&backend.db).await?;
    Ok(())
}

/// One pass over every opted-in staff member with an active connection.
pub async fn sync_all(backend: &Backend, now: DateTime<Utc>) -> Result<usize, sea_orm::DbErr> {
    let profiles = staff_profile::Entity::find()
        .filter(staff_profile::Column::FreeBusyEnabled.eq(true))
        .filter(staff_profile::Column::AppointmentsEnabled.eq(true))
        .all(&backend.db)
        .await?;
    let mut done = 0;
    for profile in profiles {
        let Some(connection) =
            connections::find(&backend.db, Owner::staff(profile.user_id)).await?
        else {
            continue;
        };
        if connection.status != connections::ACTIVE {
            continue;
        }
        match sync_staff(backend, &profile, &connection, now).await {
            Ok(_) => done += 1,
            Err(e) => tracing::warn!(user = profile.user_id, error = %e, "free/busy round failed"),
        }
    }
    Ok(done)
}

/// Polls every `settings.sync.free_busy_interval_secs` while the
/// integration is active.
pub async fn run(backend: Backend) {
    let every =
        std::time::Duration::from_secs(backend.settings.sync.free_busy_interval_secs.max(5));
    loop {
        let active = crate::integration::IntegrationStatus::current(&backend.db)
            .await
            .map(|s| s.connections_allowed)
            .unwrap_or(false);
        if active && let Err(e) = sync_all(&backend, Utc::now()).await {
            tracing::warn!(error = %e, "free/busy pass failed");
        }
        tokio::time::sleep(every).await;
    }
}
