//! Space bookings: booking one or several adjacent slots, cancelling, and
//! the day grid of free and unavailable slots. Every change writes its
//! outbox job in the same transaction.
//!
//! Two active bookings of a space never overlap, even under races:
//! - PostgreSQL: the `space_bookings_no_overlap` exclusion constraint
//!   refuses the second insert (SQLSTATE 23P01), mapped to `SlotTaken`.
//! - SQLite: every booking writer takes the database's write lock before it
//!   reads (see [`begin_write`]), so writers run one after the other and the
//!   later one sees the earlier booking in its overlap check.

use chrono::{DateTime, NaiveDate, TimeDelta, Utc};
use sea_orm::sqlx;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DatabaseBackend, DatabaseConnection,
    DatabaseTransaction, DbErr, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder, RuntimeErr,
    Set, Statement, TransactionTrait,
};
use serde_json::json;

use crate::availability::{self, Slot, SlotAvailability};
use crate::entities::{external_busy_block, space_booking};
use crate::outbox::{self, db_time};
use crate::spaces::{self, Space};

pub const ACTIVE: &str = "active";
pub const CANCELLED: &str = "cancelled";
/// Owner kind of a space's rows in `external_busy_blocks`.
pub const SPACE_OWNER: &str = "space";

pub const MAX_SLOTS_PER_BOOKING: u32 = 16;
const MAX_NAME_LEN: usize = 200;
const MAX_EMAIL_LEN: usize = 320;

#[derive(Debug, thiserror::Error)]
pub enum BookingError {
    /// Bad input; `field` names the form field the message belongs next to.
    #[error("{message}")]
    Invalid {
        field: &'static str,
        message: String,
    },
    #[error("this space does not exist")]
    SpaceNotFound,
    #[error("this space is no longer bookable")]
    SpaceRetired,
    #[error("this booking does not exist")]
    NotFound,
    #[error("this booking is already cancelled")]
    AlreadyCancelled,
    /// Someone else has (part of) the time: a booking or an Exchange event.
    #[error("that slot has just been taken; please choose another time")]
    SlotTaken,
    #[error("database: {0}")]
    Db(#[from] DbErr),
}

fn invalid(field: &'static str, message: impl Into<String>) -> BookingError {
    BookingError::Invalid {
        field,
        message: message.into(),
    }
}

/// A request to book `slots` adjacent slots from `starts_at`.
#[derive(Debug, Clone)]
pub struct BookingRequest<'a> {
    pub space_id: i64,
    pub starts_at: DateTime<Utc>,
    pub slots: u32,
    pub patron_name: &'a str,
    pub patron_email: &'a str,
    /// The signed-in user who made it (staff on a patron's behalf, or the
    /// patron), if any.
    pub created_by: Option<i64>,
}

pub async fn book(
    db: &DatabaseConnection,
    request: &BookingRequest<'_>,
    now: DateTime<Utc>,
) -> Result<space_booking::Model, BookingError> {
    let (name, email) = validate_patron(request.patron_name, request.patron_email)?;
    // Checked before taking the write lock: refusing bad input blocks nobody.
    let space = bookable_space(db, request.space_id).await?;
    let slot = requested_time(&space, request.starts_at, request.slots, now)?;

    let txn = begin_write(db, space.id).await?;
    ensure_free(&txn, space.id, slot).await?;
    let booking = space_booking::ActiveModel {
        space_id: Set(space.id),
        starts_at: Set(slot.starts_at),
        ends_at: Set(slot.ends_at),
        patron_name: Set(name),
        patron_email: Set(email),
        status: Set(ACTIVE.to_owned()),
        created_by: Set(request.created_by),
        created_at: Set(db_time(now)),
        updated_at: Set(db_time(now)),
        ..Default::default()
    }
    .insert(&txn)
    .await
    .map_err(taken_or_db)?;
    let payload = json!({
        "booking_id": booking.id,
        "space_id": booking.space_id,
        "starts_at": booking.starts_at,
        "ends_at": booking.ends_at,
    });
    outbox::enqueue(
        &txn,
        outbox::SPACE_BOOKING_CREATED,
        booking.id,
        &payload,
        now,
    )
    .await?;
    txn.commit().await.map_err(taken_or_db)?;
    Ok(booking)
}

/// Moves an active booking to `slots` adjacent slots from `starts_at`,
/// with the same checks as a new booking; it may overlap only its own old
/// time. Enqueues the move for Outlook in the same transaction.
pub async fn move_booking(
    db: &DatabaseConnection,
    booking_id: i64,
    starts_at: DateTime<Utc>,
    slots: u32,
    now: DateTime<Utc>,
) -> Result<space_booking::Model, BookingError> {
    let current = space_booking::Entity::find_by_id(booking_id)
        .one(db)
        .await?
        .ok_or(BookingError::NotFound)?;
    let space = bookable_space(db, current.space_id).await?;
    let slot = requested_time(&space, starts_at, slots, now)?;

    let txn = begin_write(db, space.id).await?;
    // Read again under the lock: it may have been cancelled meanwhile.
    let current = space_booking::Entity::find_by_id(booking_id)
        .one(&txn)
        .await?
        .ok_or(BookingError::NotFound)?;
    if current.status != ACTIVE {
        return Err(BookingError::AlreadyCancelled);
    }
    ensure_free_except(&txn, space.id, slot, Some(booking_id)).await?;
    let (from_start, from_end) = (current.starts_at, current.ends_at);
    let mut model: space_booking::ActiveModel = current.into();
    model.starts_at = Set(slot.starts_at);
    model.ends_at = Set(slot.ends_at);
    model.updated_at = Set(db_time(now));
    let booking = model.update(&txn).await.map_err(taken_or_db)?;
    let payload = json!({
        "booking_id": booking.id,
        "space_id": booking.space_id,
        "from": { "starts_at": from_start, "ends_at": from_end },
        "starts_at": booking.starts_at,
        "ends_at": booking.ends_at,
    });
    outbox::enqueue(&txn, outbox::SPACE_BOOKING_MOVED, booking.id, &payload, now).await?;
    txn.commit().await.map_err(taken_or_db)?;
    Ok(booking)
}

/// Cancels an active booking and enqueues the removal from Outlook.
pub async fn cancel(
    db: &DatabaseConnection,
    booking_id: i64,
    now: DateTime<Utc>,
) -> Result<space_booking::Model, BookingError> {
    let txn = db.begin().await?;
    // The UPDATE is the first statement, so on SQLite it takes the write
    // lock before anything is read (see `begin_write`).
    let changed = space_booking::Entity::update_many()
        .col_expr(space_booking::Column::Status, CANCELLED.into())
        .col_expr(space_booking::Column::UpdatedAt, db_time(now).into())
        .filter(space_booking::Column::Id.eq(booking_id))
        .filter(space_booking::Column::Status.eq(ACTIVE))
        .exec(&txn)
        .await?;
    let booking = space_booking::Entity::find_by_id(booking_id)
        .one(&txn)
        .await?
        .ok_or(BookingError::NotFound)?;
    if changed.rows_affected == 0 {
        return Err(BookingError::AlreadyCancelled);
    }
    let payload = json!({ "booking_id": booking.id, "space_id": booking.space_id });
    outbox::enqueue(
        &txn,
        outbox::SPACE_BOOKING_CANCELLED,
        booking.id,
        &payload,
        now,
    )
    .await?;
    txn.commit().await?;
    Ok(booking)
}

/// The slots of a space on a local date, each free or unavailable. Taken
/// slots do not say whether a booking or an Exchange event holds them.
pub async fn day_availability(
    db: &DatabaseConnection,
    space_id: i64,
    date: NaiveDate,
) -> Result<Vec<SlotAvailability>, BookingError> {
    let space = spaces::get(db, space_id)
        .await
        .map_err(space_error)?
        .ok_or(BookingError::SpaceNotFound)?;
    let slots = availability::day_slots(space.time_zone, &space.hours, space.slot_minutes, date);
    let (Some(first), Some(last)) = (slots.first(), slots.last()) else {
        return Ok(Vec::new());
    };
    let window = Slot {
        starts_at: first.starts_at,
        ends_at: last.ends_at,
    };
    let taken = taken_between(db, space_id, window).await?;
    Ok(availability::mark_taken(&slots, &taken))
}

/// Active bookings of a space in time order (for staff and admin pages).
pub async fn list_active(
    db: &DatabaseConnection,
    space_id: i64,
) -> Result<Vec<space_booking::Model>, DbErr> {
    space_booking::Entity::find()
        .filter(space_booking::Column::SpaceId.eq(space_id))
        .filter(space_booking::Column::Status.eq(ACTIVE))
        .order_by_asc(space_booking::Column::StartsAt)
        .all(db)
        .await
}

/// Begins a transaction for a booking write.
///
/// On SQLite, sea-orm's `begin()` sends a plain (deferred) `BEGIN`, and a
/// pooled `execute("BEGIN IMMEDIATE")` would not stay on the connection the
/// transaction uses. A deferred transaction that reads first and writes
/// later fails at once with SQLITE_BUSY ("database is locked") when another
/// writer committed in between — the busy timeout does not help there. So
/// the first statement is a harmless write: it takes the write lock before
/// anything is read, waiting (busy timeout) for a racing writer to finish,
/// exactly like `BEGIN IMMEDIATE`. The overlap check that follows then sees
/// the racing booking and answers `SlotTaken`.
///
/// On PostgreSQL nothing is locked up front: the exclusion constraint
/// decides between racing inserts.
async fn begin_write(db: &DatabaseConnection, space_id: i64) -> Result<DatabaseTransaction, DbErr> {
    let txn = db.begin().await?;
    if txn.get_database_backend() == DatabaseBackend::Sqlite {
        txn.execute(Statement::from_sql_and_values(
            DatabaseBackend::Sqlite,
            "UPDATE spaces SET id = id WHERE id = ?",
            [space_id.into()],
        ))
        .await?;
    }
    Ok(txn)
}

/// An exclusion-constraint violation means a racing booking won.
fn taken_or_db(err: DbErr) -> BookingError {
    if is_exclusion_violation(&err) {
        BookingError::SlotTaken
    } else {
        BookingError::Db(err)
    }
}

pub(crate) fn is_exclusion_violation(err: &DbErr) -> bool {
    match err {
        DbErr::Exec(RuntimeErr::SqlxError(sqlx::Error::Database(e)))
        | DbErr::Query(RuntimeErr::SqlxError(sqlx::Error::Database(e))) => {
            e.code().as_deref() == Some("23P01")
        }
        _ => false,
    }
}

fn space_error(err: spaces::SpaceError) -> BookingError {
    match err {
        spaces::SpaceError::NotFound => BookingError::SpaceNotFound,
        spaces::SpaceError::Db(e) => BookingError::Db(e),
        // A stored space with a bad zone: an operator problem, not input.
        other => BookingError::Db(DbErr::Custom(other.to_string())),
    }
}

async fn bookable_space(db: &DatabaseConnection, space_id: i64) -> Result<Space, BookingError> {
    let space = spaces::get(db, space_id)
        .await
        .map_err(space_error)?
        .ok_or(BookingError::SpaceNotFound)?;
    if space.retired {
        return Err(BookingError::SpaceRetired);
    }
    Ok(space)
}

pub(crate) fn validate_patron(name: &str, email: &str) -> Result<(String, String), BookingError> {
    let name = name.trim();
    if name.is_empty() {
        return Err(invalid("patron_name", "your name is required"));
    }
    if name.chars().count() > MAX_NAME_LEN {
        return Err(invalid(
            "patron_name",
            format!("the name may have at most {MAX_NAME_LEN} characters"),
        ));
    }
    let email = crate::accounts::normalise_email(email);
    let plausible = email.len() <= MAX_EMAIL_LEN
        && !email.contains(char::is_whitespace)
        && email.split_once('@').is_some_and(|(local, domain)| {
            !local.is_empty()
                && domain.contains('.')
                && !domain.starts_with('.')
                && !domain.ends_with('.')
        });
    if !plausible {
        return Err(invalid(
            "patron_email",
            format!("{email:?} is not an email address"),
        ));
    }
    Ok((name.to_owned(), email))
}

/// The exact time `slots` adjacent slots from `starts_at` cover, if that
/// is a bookable time of this space now.
pub fn requested_time(
    space: &Space,
    starts_at: DateTime<Utc>,
    slots: u32,
    now: DateTime<Utc>,
) -> Result<Slot, BookingError> {
    if !(1..=MAX_SLOTS_PER_BOOKING).contains(&slots) {
        return Err(invalid(
            "slots",
            format!("book between 1 and {MAX_SLOTS_PER_BOOKING} slots"),
        ));
    }
    if starts_at <= now {
        return Err(invalid("starts_at", "that time is in the past"));
    }
    if starts_at > now + TimeDelta::days(i64::from(space.booking_window_days)) {
        return Err(invalid(
            "starts_at",
            format!(
                "bookings open at most {} days ahead",
                space.booking_window_days
            ),
        ));
    }
    let date = availability::local_date(space.time_zone, starts_at);
    let day = availability::day_slots(space.time_zone, &space.hours, space.slot_minutes, date);
    let Some(first) = day.iter().position(|s| s.starts_at == starts_at) else {
        return Err(not_a_slot_start(&day, starts_at));
    };
    let chosen = day
        .get(first..first + slots as usize)
        .ok_or_else(closes_before)?;
    if chosen.windows(2).any(|w| w[0].ends_at != w[1].starts_at) {
        return Err(closes_before());
    }
    Ok(Slot {
        starts_at,
        ends_at: chosen[chosen.len() - 1].ends_at,
    })
}

fn not_a_slot_start(day: &[Slot], starts_at: DateTime<Utc>) -> BookingError {
    if day
        .iter()
        .any(|s| s.starts_at < starts_at && starts_at < s.ends_at)
    {
        invalid(
            "starts_at",
            "a booking must start at the beginning of a slot",
        )
    } else {
        invalid(
            "starts_at",
            "that time is outside the space's bookable hours",
        )
    }
}

fn closes_before() -> BookingError {
    invalid(
        "slots",
        "the space is not open for that many slots in a row from this time",
    )
}

/// `SlotTaken` when an active booking or a busy block overlaps `slot`.
async fn ensure_free(
    txn: &DatabaseTransaction,
    space_id: i64,
    slot: Slot,
) -> Result<(), BookingError> {
    ensure_free_except(txn, space_id, slot, None).await
}

/// Like [`ensure_free`], ignoring the booking `except` (the one moving).
async fn ensure_free_except(
    txn: &DatabaseTransaction,
    space_id: i64,
    slot: Slot,
    except: Option<i64>,
) -> Result<(), BookingError> {
    let mut bookings = space_booking::Entity::find()
        .filter(space_booking::Column::SpaceId.eq(space_id))
        .filter(space_booking::Column::Status.eq(ACTIVE))
        .filter(space_booking::Column::StartsAt.lt(slot.ends_at))
        .filter(space_booking::Column::EndsAt.gt(slot.starts_at));
    if let Some(id) = except {
        bookings = bookings.filter(space_booking::Column::Id.ne(id));
    }
    let bookings = bookings.count(txn).await?;
    let blocks = busy_blocks(space_id, slot).count(txn).await?;
    if bookings + blocks > 0 {
        return Err(BookingError::SlotTaken);
    }
    Ok(())
}

fn busy_blocks(space_id: i64, window: Slot) -> sea_orm::Select<external_busy_block::Entity> {
    external_busy_block::Entity::find()
        .filter(external_busy_block::Column::OwnerKind.eq(SPACE_OWNER))
        .filter(external_busy_block::Column::OwnerId.eq(space_id))
        .filter(external_busy_block::Column::StartsAt.lt(window.ends_at))
        .filter(external_busy_block::Column::EndsAt.gt(window.starts_at))
}

/// Every interval (booking or busy block) overlapping `window`.
async fn taken_between(
    db: &DatabaseConnection,
    space_id: i64,
    window: Slot,
) -> Result<Vec<(DateTime<Utc>, DateTime<Utc>)>, DbErr> {
    let bookings = space_booking::Entity::find()
        .filter(space_booking::Column::SpaceId.eq(space_id))
        .filter(space_booking::Column::Status.eq(ACTIVE))
        .filter(space_booking::Column::StartsAt.lt(window.ends_at))
        .filter(space_booking::Column::EndsAt.gt(window.starts_at))
        .all(db)
        .await?;
    let blocks = busy_blocks(space_id, window).all(db).await?;
    Ok(bookings
        .into_iter()
        .map(|b| (b.starts_at, b.ends_at))
        .chain(blocks.into_iter().map(|b| (b.starts_at, b.ends_at)))
        .collect())
}

/// One booking, whatever its status (for confirmation pages and the
/// cancel permission check).
pub async fn get(
    db: &DatabaseConnection,
    booking_id: i64,
) -> Result<Option<space_booking::Model>, DbErr> {
    space_booking::Entity::find_by_id(booking_id).one(db).await
}

/// A person's active bookings that have not ended yet, soonest first:
/// those they made (`created_by`) and those made for their email.
pub async fn list_upcoming_for(
    db: &DatabaseConnection,
    user_id: i64,
    email: &str,
    now: DateTime<Utc>,
) -> Result<Vec<space_booking::Model>, DbErr> {
    use sea_orm::Condition;
    let email = crate::accounts::normalise_email(email);
    space_booking::Entity::find()
        .filter(space_booking::Column::Status.eq(ACTIVE))
        .filter(space_booking::Column::EndsAt.gt(db_time(now)))
        .filter(
            Condition::any()
                .add(space_booking::Column::CreatedBy.eq(user_id))
                .add(space_booking::Column::PatronEmail.eq(email)),
        )
        .order_by_asc(space_booking::Column::StartsAt)
        .all(db)
        .await
}

/// Active bookings of a space overlapping `window` (staff views of a day
/// or week), in time order.
pub async fn list_active_between(
    db: &DatabaseConnection,
    space_id: i64,
    window: Slot,
) -> Result<Vec<space_booking::Model>, DbErr> {
    space_booking::Entity::find()
        .filter(space_booking::Column::SpaceId.eq(space_id))
        .filter(space_booking::Column::Status.eq(ACTIVE))
        .filter(space_booking::Column::StartsAt.lt(window.ends_at))
        .filter(space_booking::Column::EndsAt.gt(window.starts_at))
        .order_by_asc(space_booking::Column::StartsAt)
        .all(db)
        .await
}
