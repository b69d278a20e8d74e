//! Room → Calbridge in delegated mode. Microsoft does not let delegated
//! `.Shared` permissions subscribe to another mailbox, so each connected
//! room's `calendarView/delta` is polled with the space's token over a
//! window from the start of today (in the space's zone) to the end of its
//! booking window. Graph allows delta on a room a delegate can read; a
//! round keeps its window, so a new day starts a new round, as does an
//! expired delta token (410).
//!
//! Each room has its own `next_poll_at`, set to the interval plus up to
//! a tenth of it at random after each poll, so polls of many rooms spread
//! out instead of arriving together. A process takes a room by moving its
//! `next_poll_at` first (a compare-and-set), so two instances never poll
//! the same room at once.
//!
//! Events Calbridge wrote (their id is in `event_links`, or their
//! `transactionId` is one of this space's bookings') are not imported.
//!
//! Application mode uses the same rounds with the app's token: a change
//! notification makes the room due at once (and wakes this loop); while
//! the room is subscribed, its periodic read is only a reconcile
//! (`sync.room_reconcile_interval_secs`), else it is polled as above.
//! Each pass also keeps the room's subscription alive (see
//! [`super::subscriptions::ensure`]).

use std::collections::HashSet;

use chrono::{DateTime, TimeDelta, TimeZone, Utc};
use rand::Rng;
use reqwest::Method;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, Set, TransactionTrait,
};
use serde_json::Value;

use super::app::{self, RoomAuth};
use super::calls::{self, RoomRequest};
use super::outbound::{RECORD_KIND, transaction_id};
use crate::Backend;
use crate::bookings::SPACE_OWNER;
use crate::connections::{self, ACTIVE};
use crate::entities::{
    calendar_connection, event_link, external_busy_block, room_link, space, space_booking,
};
use crate::outbox::db_time;
use crate::sync::calls::CallFailure;
use crate::sync::free_busy::busy_interval;

const MAX_PAGES: usize = 500;

#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct PollReport {
    /// A new round (first poll, new day, or an expired delta token).
    pub full: bool,
    pub blocks_written: usize,
    pub blocks_removed: usize,
    /// Events Calbridge wrote itself, seen and left alone.
    pub own_events: usize,
    /// Outlook events that hold the same time as a booking (see
    /// [`super::conflicts`]).
    pub conflicts: usize,
}

/// When the event last changed in Outlook.
fn changed_at(item: &Value) -> Option<DateTime<Utc>> {
    let text = item["lastModifiedDateTime"]
        .as_str()
        .or_else(|| item["createdDateTime"].as_str())?;
    DateTime::parse_from_rfc3339(text)
        .ok()
        .map(|t| t.with_timezone(&Utc))
}

#[derive(Debug, thiserror::Error)]
pub enum PollError {
    #[error("database: {0}")]
    Db(#[from] sea_orm::DbErr),
    #[error("Graph: {0:?}")]
    Graph(CallFailure),
    #[error("unexpected delta page: {0}")]
    Unexpected(String),
}

/// The window for `now`: the space's local midnight today → the end of
/// its booking window.
pub fn window(space: &space::Model, now: DateTime<Utc>) -> (DateTime<Utc>, DateTime<Utc>) {
    let zone: chrono_tz::Tz = space.time_zone.parse().unwrap_or(chrono_tz::UTC);
    let today = now.with_timezone(&zone).date_naive();
    let midnight = today.and_hms_opt(0, 0, 0).expect("valid time");
    let start = zone
        .from_local_datetime(&midnight)
        .earliest()
        .map(|t| t.with_timezone(&Utc))
        .unwrap_or(now);
    let days = i64::from(space.booking_window_days.max(1)) + 1;
    (start, start + TimeDelta::days(days))
}

/// One round for one room (tests call this directly).
pub async fn poll_room(
    backend: &Backend,
    link: &room_link::Model,
    now: DateTime<Utc>,
) -> Result<PollReport, PollError> {
    let auth = if app::is_application(link) {
        RoomAuth::Application
    } else {
        RoomAuth::Delegated(Box::new(
            calendar_connection::Entity::find_by_id(link.connection_id)
                .one(&backend.db)
                .await?
                .filter(|c| c.status == ACTIVE)
                .ok_or_else(|| {
                    PollError::Graph(CallFailure::Paused(
                        "the room connection is not active".into(),
                    ))
                })?,
        ))
    };
    let Some(space) = space::Entity::find_by_id(link.space_id)
        .one(&backend.db)
        .await?
    else {
        return Err(PollError::Unexpected("the space no longer exists".into()));
    };
    let holder = format!("room-poll-{}", link.id);
    let (start, end) = window(&space, now);
    let own = own_events(backend, &space, link.connection_id, start, end).await?;
    let resume = link
        .delta_link
        .clone()
        .filter(|_| link.window_start == Some(db_time(start)));
    if let Some(delta) = resume {
        match read_all(backend, &auth, &link.room_address, &delta, &holder).await {
            Ok((items, next)) => {
                let report = apply(backend, space.id, &items, &own, false).await?;
                save(backend, link, start, Some(next), None, now).await?;
                return Ok(report);
            }
            Err(PollError::Graph(CallFailure::Gone)) => {}
            Err(e) => return Err(e),
        }
    }
    let first = format!(
        "/users/{}/calendarView/delta?startDateTime={}&endDateTime={}",
        link.room_address,
        start.format("%Y-%m-%dT%H:%M:%SZ"),
        end.format("%Y-%m-%dT%H:%M:%SZ")
    );
    let (items, next) = read_all(backend, &auth, &link.room_address, &first, &holder).await?;
    let report = apply(backend, space.id, &items, &own, true).await?;
    save(backend, link, start, Some(next), None, now).await?;
    Ok(report)
}

/// Ids and transaction ids of the events Calbridge wrote to this room.
struct Own {
    ids: HashSet<String>,
    transaction_ids: HashSet<String>,
}

impl Own {
    fn contains(&self, item: &Value) -> bool {
        item["id"].as_str().is_some_and(|id| self.ids.contains(id))
            || item["transactionId"]
                .as_str()
                .is_some_and(|t| self.transaction_ids.contains(t))
    }
}

async fn own_events(
    backend: &Backend,
    space: &space::Model,
    connection_id: i64,
    start: DateTime<Utc>,
    end: DateTime<Utc>,
) -> Result<Own, sea_orm::DbErr> {
    let ids = event_link::Entity::find()
        .filter(event_link::Column::RecordKind.eq(RECORD_KIND))
        .filter(event_link::Column::ConnectionId.eq(connection_id))
        .all(&backend.db)
        .await?
        .into_iter()
        .map(|l| l.graph_event_id)
        .collect();
    // A create whose link is not written yet (in flight, or a crash
    // between Graph's answer and the link) is still recognised by the
    // transactionId derived from the booking.
    let transaction_ids = space_booking::Entity::find()
        .filter(space_booking::Column::SpaceId.eq(space.id))
        .filter(space_booking::Column::EndsAt.gt(db_time(start)))
        .filter(space_booking::Column::StartsAt.lt(db_time(end)))
        .all(&backend.db)
        .await?
        .into_iter()
        .map(|b| transaction_id(&backend.settings.public_base_url, b.id))
        .collect();
    Ok(Own {
        ids,
        transaction_ids,
    })
}

async fn read_all(
    backend: &Backend,
    auth: &RoomAuth,
    room: &str,
    first: &str,
    holder: &str,
) -> Result<(Vec<Value>, String), PollError> {
    let mut url = first.to_owned();
    let mut items = Vec::new();
    for _ in 0..MAX_PAGES {
        let request = RoomRequest {
            method: Method::GET,
            path: &url,
            body: None,
        };
        let page = calls::call(backend, auth, room, request, holder)
            .await
            .map_err(PollError::Graph)?;
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
        return Err(PollError::Unexpected(
            "a page with neither nextLink nor deltaLink".into(),
        ));
    }
    Err(PollError::Unexpected("too many pages".into()))
}

/// A full round replaces the space's blocks; an incremental one replaces
/// (or removes) the block of each changed item.
async fn apply(
    backend: &Backend,
    space_id: i64,
    items: &[Value],
    own: &Own,
    full: bool,
) -> Result<PollReport, sea_orm::DbErr> {
    let txn = backend.db.begin().await?;
    crate::db::lock_for_write(&txn, "external_busy_blocks").await?;
    let previous = super::conflicts::previous_decisions(&txn, space_id).await?;
    let mut report = PollReport {
        full,
        ..Default::default()
    };
    if full {
        report.blocks_removed += external_busy_block::Entity::delete_many()
            .filter(external_busy_block::Column::OwnerKind.eq(SPACE_OWNER))
            .filter(external_busy_block::Column::OwnerId.eq(space_id))
            .exec(&txn)
            .await?
            .rows_affected as usize;
    }
    for item in items {
        let Some(id) = item["id"].as_str() else {
            continue;
        };
        report.blocks_removed += delete_block(&txn, space_id, id).await?;
        if own.contains(item) {
            report.own_events += 1;
            continue;
        }
        if let Some((s, e)) = busy_interval(item) {
            external_busy_block::ActiveModel {
                owner_kind: Set(SPACE_OWNER.to_owned()),
                owner_id: Set(space_id),
                starts_at: Set(db_time(s)),
                ends_at: Set(db_time(e)),
                source_id: Set(id.to_owned()),
                source_changed_at: Set(changed_at(item)),
                ..Default::default()
            }
            .insert(&txn)
            .await?;
            report.blocks_written += 1;
        }
    }
    report.conflicts = super::conflicts::flag(&txn, space_id, &previous).await?;
    txn.commit().await?;
    Ok(report)
}

async fn delete_block(
    db: &impl ConnectionTrait,
    space_id: i64,
    source_id: &str,
) -> Result<usize, sea_orm::DbErr> {
    Ok(external_busy_block::Entity::delete_many()
        .filter(external_busy_block::Column::OwnerKind.eq(SPACE_OWNER))
        .filter(external_busy_block::Column::OwnerId.eq(space_id))
        .filter(external_busy_block::Column::SourceId.eq(source_id))
        .exec(db)
        .await?
        .rows_affected as usize)
}

async fn save(
    backend: &Backend,
    link: &room_link::Model,
    start: DateTime<Utc>,
    delta: Option<String>,
    error: Option<String>,
    now: DateTime<Utc>,
) -> Result<(), sea_orm::DbErr> {
    // The row may have been revoked or re-picked meanwhile: update only
    // if it is still the same room.
    room_link::Entity::update_many()
        .col_expr(room_link::Column::WindowStart, Some(db_time(start)).into())
        .col_expr(room_link::Column::DeltaLink, delta.into())
        .col_expr(room_link::Column::LastPolledAt, Some(db_time(now)).into())
        .col_expr(room_link::Column::LastError, error.into())
        .col_expr(room_link::Column::UpdatedAt, db_time(now).into())
        .filter(room_link::Column::Id.eq(link.id))
        .filter(room_link::Column::RoomAddress.eq(link.room_address.clone()))
        .exec(&backend.db)
        .await?;
    Ok(())
}

/// When this room is read next: the interval plus up to a tenth more.
/// A subscribed room (application mode) hears of changes by notification,
/// so its periodic read is only a reconcile, far less often.
fn next_due(backend: &Backend, link: &room_link::Model, now: DateTime<Utc>) -> DateTime<Utc> {
    let sync = &backend.settings.sync;
    let secs = if link.subscription_id.is_some() {
        sync.room_reconcile_interval_secs
    } else {
        sync.room_poll_interval_secs
    };
    let every = secs.max(1) as i64 * 1000;
    let spread = rand::thread_rng().gen_range(0..=every / 10);
    db_time(now + TimeDelta::milliseconds(every + spread))
}

/// Takes the room for this pass by moving its due time; `false` when
/// another process took it first.
async fn take(
    backend: &Backend,
    link: &room_link::Model,
    now: DateTime<Utc>,
) -> Result<bool, sea_orm::DbErr> {
    let r = room_link::Entity::update_many()
        .col_expr(
            room_link::Column::NextPollAt,
            next_due(backend, link, now).into(),
        )
        .filter(room_link::Column::Id.eq(link.id))
        .filter(room_link::Column::NextPollAt.eq(link.next_poll_at))
        .exec(&backend.db)
        .await?;
    Ok(r.rows_affected == 1)
}

/// Polls every connected room that is due; returns how many were polled.
pub async fn poll_due(backend: &Backend, now: DateTime<Utc>) -> Result<usize, sea_orm::DbErr> {
    let due = room_link::Entity::find()
        .filter(room_link::Column::NextPollAt.lte(db_time(now)))
        .all(&backend.db)
        .await?;
    let mut polled = 0;
    for link in due {
        let usable = if app::is_application(&link) {
            true
        } else {
            connections::find(&backend.db, super::space_owner(link.space_id))
                .await?
                .is_some_and(|c| c.status == ACTIVE && c.id == link.connection_id)
        };
        if !usable || !take(backend, &link, now).await? {
            continue;
        }
        // Application mode: subscribe, or renew before it expires; a
        // failure leaves the room polled and is tried again next time.
        let link = if app::is_application(&link) {
            super::subscriptions::ensure(backend, &link, now).await
        } else {
            link
        };
        let result = poll_room(backend, &link, now).await;
        // Pages showing the space's slots or status read them again when
        // busy blocks changed, or the poll failed or recovered.
        let changed = match &result {
            Ok(r) => r.blocks_written + r.blocks_removed > 0 || link.last_error.is_some(),
            Err(_) => true,
        };
        if changed {
            backend
                .sync
                .changes
                .publish(crate::sync::Subject::Space(link.space_id));
        }
        match result {
            Ok(_) => polled += 1,
            Err(e) => {
                tracing::warn!(space = link.space_id, room = %link.room_address, error = %e, "room poll failed");
                let _ = room_link::Entity::update_many()
                    .col_expr(room_link::Column::LastError, Some(e.to_string()).into())
                    .filter(room_link::Column::Id.eq(link.id))
                    .exec(&backend.db)
                    .await;
            }
        }
    }
    Ok(polled)
}

/// Looks for due rooms ten times per poll interval (at most every 5 s)
/// while the integration is active, so a room is read at most a tenth of
/// the interval after it is due. Looking once per interval read each room
/// only every second pass: its due time (the interval plus a random
/// spread) always fell just after the pass (found by the `room_latency`
/// bench in release: 4 s for a 2 s interval).
pub async fn run(backend: Backend) {
    let interval = backend.settings.sync.room_poll_interval_secs.max(1);
    let tick = std::time::Duration::from_millis((interval * 100).clamp(100, 5000));
    loop {
        let active = crate::integration::IntegrationStatus::current(&backend.db)
            .await
            .map(|s| s.connections_allowed)
            .unwrap_or(false);
        if active && let Err(e) = poll_due(&backend, Utc::now()).await {
            tracing::warn!(error = %e, "room poll pass failed");
        }
        // A change notification wakes the loop at once.
        tokio::select! {
            _ = tokio::time::sleep(tick) => {},
            _ = backend.rooms.woken() => {},
        }
    }
}
