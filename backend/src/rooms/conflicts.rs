//! Both sides booked at once: an Outlook event on the room and a
//! Calbridge booking of the space hold the same time (someone booked the
//! room in Outlook while Calbridge's booking was on its way there, or the
//! other way round).
//!
//! The record committed first keeps the slot; the other is kept too and
//! flagged for an admin: a booking that was first flags the busy block
//! (`external_busy_blocks.conflict_booking_id`), an event that was first
//! flags the booking (`space_bookings.conflict_event_id`). "Committed"
//! is the booking's last change in Calbridge (`updated_at`: a move lands
//! it on a new time) and the event's last change in Outlook (Graph's
//! `lastModifiedDateTime`); Calbridge keeps its times to the second, so
//! an event must have changed before that second to count as first (a
//! tie goes to the booking). A decision once taken is kept while the two
//! still overlap, so later edits of either do not flip it; when they no
//! longer overlap (one moved, cancelled or deleted) the flag goes.
//!
//! The flags are worked out after each delta read of the room (in the
//! same transaction as its blocks), in both delegated and application
//! mode; [`conflicts`] lists a space's open ones.

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, Utc};
use sea_orm::{ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter, QueryOrder};

use crate::bookings::{ACTIVE, SPACE_OWNER};
use crate::entities::{external_busy_block as block, space_booking as booking};

/// Which side kept the slot.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConflictKept {
    /// The Calbridge booking was first: the Outlook event is the conflict.
    Booking,
    /// The Outlook event was first: the booking is the conflict.
    OutlookEvent,
}

/// One open conflict of a space, for admins.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoomConflict {
    pub booking_id: i64,
    pub patron_name: String,
    pub booking_starts_at: DateTime<Utc>,
    pub booking_ends_at: DateTime<Utc>,
    /// The Outlook event's Graph id.
    pub event_id: String,
    pub event_starts_at: DateTime<Utc>,
    pub event_ends_at: DateTime<Utc>,
    pub kept: ConflictKept,
}

fn overlaps(b: &booking::Model, k: &block::Model) -> bool {
    b.starts_at < k.ends_at && k.starts_at < b.ends_at
}

/// Which booking each block of the space was flagged against before the
/// blocks are rewritten (source id → booking id).
pub(crate) async fn previous_decisions(
    db: &impl ConnectionTrait,
    space_id: i64,
) -> Result<HashMap<String, i64>, DbErr> {
    Ok(space_blocks(db, space_id)
        .await?
        .into_iter()
        .filter_map(|b| Some((b.source_id, b.conflict_booking_id?)))
        .collect())
}

async fn space_blocks(
    db: &impl ConnectionTrait,
    space_id: i64,
) -> Result<Vec<block::Model>, DbErr> {
    block::Entity::find()
        .filter(block::Column::OwnerKind.eq(SPACE_OWNER))
        .filter(block::Column::OwnerId.eq(space_id))
        .order_by_asc(block::Column::StartsAt)
        .all(db)
        .await
}

/// Works out the flags of a space's blocks and bookings as they are now.
/// `previous`: see [`previous_decisions`]. Returns how many pairs clash.
pub(crate) async fn flag(
    db: &impl ConnectionTrait,
    space_id: i64,
    previous: &HashMap<String, i64>,
) -> Result<usize, DbErr> {
    let blocks = space_blocks(db, space_id).await?;
    let mut bookings: Vec<booking::Model> = Vec::new();
    if let (Some(first), Some(last)) = (
        blocks.iter().map(|b| b.starts_at).min(),
        blocks.iter().map(|b| b.ends_at).max(),
    ) {
        bookings = booking::Entity::find()
            .filter(booking::Column::SpaceId.eq(space_id))
            .filter(booking::Column::Status.eq(ACTIVE))
            .filter(booking::Column::StartsAt.lt(last))
            .filter(booking::Column::EndsAt.gt(first))
            .all(db)
            .await?;
    }
    // What each block and booking should carry.
    let mut block_flag: HashMap<i64, Option<i64>> = blocks.iter().map(|b| (b.id, None)).collect();
    let mut booking_flag: HashMap<i64, Option<String>> = HashMap::new();
    let mut clashes = 0;
    for k in &blocks {
        for b in bookings.iter().filter(|b| overlaps(b, k)) {
            clashes += 1;
            let event_first = if b.conflict_event_id.as_deref() == Some(k.source_id.as_str()) {
                true
            } else if previous.get(&k.source_id) == Some(&b.id) {
                false
            } else {
                // An event whose change time is unknown counts as seen now.
                let event_at = k.source_changed_at.unwrap_or_else(Utc::now);
                event_at < b.updated_at
            };
            if event_first {
                booking_flag
                    .entry(b.id)
                    .or_insert_with(|| Some(k.source_id.clone()));
            } else if block_flag.get(&k.id).is_some_and(Option::is_none) {
                block_flag.insert(k.id, Some(b.id));
            }
        }
    }
    for k in &blocks {
        let wanted = block_flag.get(&k.id).copied().flatten();
        if k.conflict_booking_id != wanted {
            block::Entity::update_many()
                .col_expr(block::Column::ConflictBookingId, wanted.into())
                .filter(block::Column::Id.eq(k.id))
                .exec(db)
                .await?;
        }
    }
    // Bookings flagged before but no longer clashing lose the flag.
    let flagged = booking::Entity::find()
        .filter(booking::Column::SpaceId.eq(space_id))
        .filter(booking::Column::ConflictEventId.is_not_null())
        .all(db)
        .await?;
    let mut seen = HashSet::new();
    for b in flagged.iter().chain(bookings.iter()) {
        if !seen.insert(b.id) {
            continue;
        }
        let wanted = booking_flag.get(&b.id).cloned().flatten();
        if b.conflict_event_id != wanted {
            booking::Entity::update_many()
                .col_expr(booking::Column::ConflictEventId, wanted.into())
                .filter(booking::Column::Id.eq(b.id))
                .exec(db)
                .await?;
        }
    }
    if clashes > 0 {
        tracing::info!(
            space = space_id,
            clashes,
            "an Outlook event and a booking hold the same time"
        );
    }
    Ok(clashes)
}

/// The spaces with a flag set on a booking or a busy block: those whose
/// [`conflicts`] may list something (for the dashboard, which would
/// otherwise ask every connected space).
pub async fn spaces_with_conflicts(db: &impl ConnectionTrait) -> Result<HashSet<i64>, DbErr> {
    let flagged_bookings = booking::Entity::find()
        .filter(booking::Column::Status.eq(ACTIVE))
        .filter(booking::Column::ConflictEventId.is_not_null())
        .all(db)
        .await?;
    let flagged_blocks = block::Entity::find()
        .filter(block::Column::OwnerKind.eq(SPACE_OWNER))
        .filter(block::Column::ConflictBookingId.is_not_null())
        .all(db)
        .await?;
    Ok(flagged_bookings
        .into_iter()
        .map(|b| b.space_id)
        .chain(flagged_blocks.into_iter().map(|k| k.owner_id))
        .collect())
}

/// A space's open conflicts, by start time: each pair of an active
/// booking and an Outlook event on its room that hold the same time,
/// with the side that kept the slot.
pub async fn conflicts(
    db: &impl ConnectionTrait,
    space_id: i64,
) -> Result<Vec<RoomConflict>, DbErr> {
    let blocks = space_blocks(db, space_id).await?;
    let ids: Vec<i64> = blocks
        .iter()
        .filter_map(|b| b.conflict_booking_id)
        .collect();
    let mut bookings = booking::Entity::find()
        .filter(booking::Column::SpaceId.eq(space_id))
        .filter(booking::Column::Status.eq(ACTIVE))
        .filter(
            booking::Column::ConflictEventId
                .is_not_null()
                .or(booking::Column::Id.is_in(ids)),
        )
        .all(db)
        .await?;
    bookings.sort_by_key(|b| b.starts_at);
    let mut out = Vec::new();
    for b in &bookings {
        for k in blocks.iter().filter(|k| overlaps(b, k)) {
            let kept = if b.conflict_event_id.as_deref() == Some(k.source_id.as_str()) {
                ConflictKept::OutlookEvent
            } else if k.conflict_booking_id == Some(b.id) {
                ConflictKept::Booking
            } else {
                continue;
            };
            out.push(RoomConflict {
                booking_id: b.id,
                patron_name: b.patron_name.clone(),
                booking_starts_at: b.starts_at,
                booking_ends_at: b.ends_at,
                event_id: k.source_id.clone(),
                event_starts_at: k.starts_at,
                event_ends_at: k.ends_at,
                kept,
            });
        }
    }
    out.sort_by_key(|c| (c.booking_starts_at, c.event_starts_at));
    Ok(out)
}
