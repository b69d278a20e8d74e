//! Appointments with staff: open slots, booking, cancelling and
//! rescheduling. Every change writes its outbox job in the same
//! transaction (`aggregate_id` = the appointment id).
//!
//! A staff member is never booked twice at once, even under races, by the
//! same means as space bookings (see [`crate::bookings`]): the
//! `appointments_no_overlap` exclusion constraint on PostgreSQL, and on
//! SQLite a first write that takes the database's write lock before the
//! overlap check reads.

use chrono::{DateTime, NaiveDate, TimeDelta, Utc};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DatabaseBackend, DatabaseConnection,
    DatabaseTransaction, DbErr, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder, Set,
    Statement, TransactionTrait,
};
use serde_json::json;

use crate::accounts::Role;
use crate::availability::{self, Slot};
use crate::bookings::{self, BookingError};
use crate::entities::{appointment, external_busy_block};
use crate::outbox::{self, db_time};
use crate::staff::{self, StaffError, StaffSettings};

pub const ACTIVE: &str = "active";
pub const CANCELLED: &str = "cancelled";
/// Owner kind of a staff member's rows in `external_busy_blocks`
/// (`owner_id` = their user id).
pub const STAFF_OWNER: &str = "staff";
pub const MAX_QUESTION_LEN: usize = 2000;
/// Longest range of days one availability request may cover.
pub const MAX_RANGE_DAYS: i64 = 62;

#[derive(Debug, thiserror::Error)]
pub enum AppointmentError {
    /// Bad input; `field` names the form field the message belongs next to.
    #[error("{message}")]
    Invalid {
        field: &'static str,
        message: String,
    },
    #[error("this staff member does not offer appointments")]
    StaffUnavailable,
    #[error("this appointment does not exist")]
    NotFound,
    #[error("this appointment is already cancelled")]
    AlreadyCancelled,
    #[error("you may not change this appointment")]
    Forbidden,
    #[error("that time has just been taken; please choose another")]
    SlotTaken,
    #[error("database: {0}")]
    Db(#[from] DbErr),
}

fn invalid(field: &'static str, message: impl Into<String>) -> AppointmentError {
    AppointmentError::Invalid {
        field,
        message: message.into(),
    }
}

impl From<StaffError> for AppointmentError {
    fn from(err: StaffError) -> Self {
        match err {
            StaffError::NotFound | StaffError::NotStaff => AppointmentError::StaffUnavailable,
            StaffError::Invalid { field, message } => AppointmentError::Invalid { field, message },
            StaffError::Db(e) => AppointmentError::Db(e),
        }
    }
}

/// Who is acting, for the cancel and reschedule rules.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Actor {
    pub user_id: i64,
    pub role: Role,
}

/// A patron's request for an appointment starting at `starts_at`.
#[derive(Debug, Clone)]
pub struct AppointmentRequest<'a> {
    pub staff_id: i64,
    pub starts_at: DateTime<Utc>,
    pub patron_name: &'a str,
    pub patron_email: &'a str,
    pub question: &'a str,
    /// The signed-in account that booked it, if any; that account may
    /// cancel it.
    pub created_by: Option<i64>,
}

/// The open appointment slots of a staff member on the local dates `from`
/// to `to` (inclusive, in their zone): their weekly hours minus days off,
/// active appointments and their Outlook busy blocks, and only times that
/// are bookable now (future, within the booking window). Empty for a
/// staff member who does not offer appointments.
pub async fn open_slots(
    db: &DatabaseConnection,
    staff_id: i64,
    from: NaiveDate,
    to: NaiveDate,
    now: DateTime<Utc>,
) -> Result<Vec<Slot>, AppointmentError> {
    if to < from || (to - from).num_days() >= MAX_RANGE_DAYS {
        return Err(invalid(
            "to",
            format!("choose a range of 1 to {MAX_RANGE_DAYS} days"),
        ));
    }
    if staff::offering(db, staff_id).await?.is_none() {
        return Ok(Vec::new());
    }
    let settings = staff::settings(db, staff_id).await?;
    let slots = candidate_slots(&settings, from, to, now);
    let (Some(first), Some(last)) = (slots.first(), slots.last()) else {
        return Ok(Vec::new());
    };
    let window = Slot {
        starts_at: first.starts_at,
        ends_at: last.ends_at,
    };
    let taken = taken_between(db, staff_id, window, None).await?;
    Ok(availability::mark_taken(&slots, &taken)
        .into_iter()
        .filter(|s| s.free)
        .map(|s| s.slot)
        .collect())
}

/// Slots from the settings, without days off, past times and times beyond
/// the booking window.
fn candidate_slots(
    settings: &StaffSettings,
    from: NaiveDate,
    to: NaiveDate,
    now: DateTime<Utc>,
) -> Vec<Slot> {
    let days_off: Vec<NaiveDate> = settings.days_off.iter().map(|d| d.day).collect();
    let horizon = now + TimeDelta::days(i64::from(settings.booking_window_days));
    availability::slots_between(
        settings.time_zone,
        &settings.hours,
        settings.appointment_minutes,
        from,
        to,
        &days_off,
    )
    .into_iter()
    .filter(|s| s.starts_at > now && s.starts_at <= horizon)
    .collect()
}

/// The slot starting at `starts_at` if it is a bookable time of this staff
/// member now; otherwise a message for the `starts_at` field.
pub fn requested_slot(
    settings: &StaffSettings,
    starts_at: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Result<Slot, AppointmentError> {
    if starts_at <= now {
        return Err(invalid("starts_at", "that time is in the past"));
    }
    if starts_at > now + TimeDelta::days(i64::from(settings.booking_window_days)) {
        return Err(invalid(
            "starts_at",
            format!(
                "appointments can be booked at most {} days ahead",
                settings.booking_window_days
            ),
        ));
    }
    let date = availability::local_date(settings.time_zone, starts_at);
    if settings.days_off.iter().any(|d| d.day == date) {
        return Err(invalid(
            "starts_at",
            "the staff member is not available on that day",
        ));
    }
    availability::day_slots(
        settings.time_zone,
        &settings.hours,
        settings.appointment_minutes,
        date,
    )
    .into_iter()
    .find(|s| s.starts_at == starts_at)
    .ok_or_else(|| {
        invalid(
            "starts_at",
            "that time is not one of the staff member's appointment times",
        )
    })
}

fn validate_question(question: &str) -> Result<String, AppointmentError> {
    let question = question.trim();
    if question.chars().count() > MAX_QUESTION_LEN {
        return Err(invalid(
            "question",
            format!("the question may have at most {MAX_QUESTION_LEN} characters"),
        ));
    }
    Ok(question.to_owned())
}

fn patron_error(err: BookingError) -> AppointmentError {
    match err {
        BookingError::Invalid { field, message } => AppointmentError::Invalid { field, message },
        other => AppointmentError::Db(DbErr::Custom(other.to_string())),
    }
}

pub async fn book(
    db: &DatabaseConnection,
    request: &AppointmentRequest<'_>,
    now: DateTime<Utc>,
) -> Result<appointment::Model, AppointmentError> {
    let (name, email) = bookings::validate_patron(request.patron_name, request.patron_email)
        .map_err(patron_error)?;
    let question = validate_question(request.question)?;
    let offering = staff::offering(db, request.staff_id)
        .await?
        .ok_or(AppointmentError::StaffUnavailable)?;
    let settings = staff::settings(db, request.staff_id).await?;
    let slot = requested_slot(&settings, request.starts_at, now)?;

    let txn = begin_write(db, request.staff_id).await?;
    ensure_free(&txn, request.staff_id, slot, None).await?;
    let booked = appointment::ActiveModel {
        staff_id: Set(request.staff_id),
        starts_at: Set(slot.starts_at),
        ends_at: Set(slot.ends_at),
        patron_name: Set(name),
        patron_email: Set(email),
        question: Set(question),
        location_kind: Set(offering.location_kind),
        location: Set(offering.location),
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
        "appointment_id": booked.id,
        "staff_id": booked.staff_id,
        "starts_at": booked.starts_at,
        "ends_at": booked.ends_at,
    });
    outbox::enqueue(&txn, outbox::APPOINTMENT_CREATED, booked.id, &payload, now).await?;
    txn.commit().await.map_err(taken_or_db)?;
    Ok(booked)
}

/// Whether `actor` may cancel `a`: the account that booked it, the staff
/// member it is with, or an admin.
pub fn may_cancel(actor: Actor, a: &appointment::Model) -> bool {
    actor.role == Role::Admin
        || a.created_by == Some(actor.user_id)
        || (actor.role.satisfies(Role::Staff) && a.staff_id == actor.user_id)
}

/// Whether `actor` may reschedule `a`: the staff member it is with, or an
/// admin.
pub fn may_reschedule(actor: Actor, a: &appointment::Model) -> bool {
    actor.role == Role::Admin || (actor.role.satisfies(Role::Staff) && a.staff_id == actor.user_id)
}

pub async fn cancel(
    db: &DatabaseConnection,
    appointment_id: i64,
    actor: Actor,
    now: DateTime<Utc>,
) -> Result<appointment::Model, AppointmentError> {
    let found = get(db, appointment_id)
        .await?
        .ok_or(AppointmentError::NotFound)?;
    if !may_cancel(actor, &found) {
        return Err(AppointmentError::Forbidden);
    }
    let txn = db.begin().await?;
    // The UPDATE is the first statement, so on SQLite it takes the write
    // lock before anything is read.
    let changed = appointment::Entity::update_many()
        .col_expr(appointment::Column::Status, CANCELLED.into())
        .col_expr(appointment::Column::UpdatedAt, db_time(now).into())
        .filter(appointment::Column::Id.eq(appointment_id))
        .filter(appointment::Column::Status.eq(ACTIVE))
        .exec(&txn)
        .await?;
    if changed.rows_affected == 0 {
        return Err(AppointmentError::AlreadyCancelled);
    }
    let cancelled = appointment::Entity::find_by_id(appointment_id)
        .one(&txn)
        .await?
        .ok_or(AppointmentError::NotFound)?;
    let payload = json!({ "appointment_id": cancelled.id, "staff_id": cancelled.staff_id });
    outbox::enqueue(
        &txn,
        outbox::APPOINTMENT_CANCELLED,
        cancelled.id,
        &payload,
        now,
    )
    .await?;
    txn.commit().await?;
    Ok(cancelled)
}

/// Moves an active appointment to another of the staff member's slots
/// (their current length). It may overlap only its own old time.
pub async fn reschedule(
    db: &DatabaseConnection,
    appointment_id: i64,
    starts_at: DateTime<Utc>,
    actor: Actor,
    now: DateTime<Utc>,
) -> Result<appointment::Model, AppointmentError> {
    let found = get(db, appointment_id)
        .await?
        .ok_or(AppointmentError::NotFound)?;
    if !may_reschedule(actor, &found) {
        return Err(AppointmentError::Forbidden);
    }
    let settings = staff::settings(db, found.staff_id).await?;
    let slot = requested_slot(&settings, starts_at, now)?;

    let txn = begin_write(db, found.staff_id).await?;
    let current = appointment::Entity::find_by_id(appointment_id)
        .one(&txn)
        .await?
        .ok_or(AppointmentError::NotFound)?;
    if current.status != ACTIVE {
        return Err(AppointmentError::AlreadyCancelled);
    }
    ensure_free(&txn, current.staff_id, slot, Some(appointment_id)).await?;
    let (from_start, from_end) = (current.starts_at, current.ends_at);
    let mut model: appointment::ActiveModel = current.into();
    model.starts_at = Set(slot.starts_at);
    model.ends_at = Set(slot.ends_at);
    model.updated_at = Set(db_time(now));
    let moved = model.update(&txn).await.map_err(taken_or_db)?;
    let payload = json!({
        "appointment_id": moved.id,
        "staff_id": moved.staff_id,
        "from": { "starts_at": from_start, "ends_at": from_end },
        "starts_at": moved.starts_at,
        "ends_at": moved.ends_at,
    });
    outbox::enqueue(&txn, outbox::APPOINTMENT_MOVED, moved.id, &payload, now).await?;
    txn.commit().await.map_err(taken_or_db)?;
    Ok(moved)
}

pub async fn get(
    db: &impl ConnectionTrait,
    appointment_id: i64,
) -> Result<Option<appointment::Model>, DbErr> {
    appointment::Entity::find_by_id(appointment_id)
        .one(db)
        .await
}

/// Active appointments with a staff member ending after `now`, in time order.
pub async fn upcoming_for_staff(
    db: &DatabaseConnection,
    staff_id: i64,
    now: DateTime<Utc>,
) -> Result<Vec<appointment::Model>, DbErr> {
    appointment::Entity::find()
        .filter(appointment::Column::StaffId.eq(staff_id))
        .filter(appointment::Column::Status.eq(ACTIVE))
        .filter(appointment::Column::EndsAt.gt(db_time(now)))
        .order_by_asc(appointment::Column::StartsAt)
        .all(db)
        .await
}

/// Appointments an account booked (active and cancelled), newest first.
pub async fn booked_by(
    db: &DatabaseConnection,
    user_id: i64,
) -> Result<Vec<appointment::Model>, DbErr> {
    appointment::Entity::find()
        .filter(appointment::Column::CreatedBy.eq(user_id))
        .order_by_desc(appointment::Column::StartsAt)
        .all(db)
        .await
}

/// Begins a transaction for an appointment write; see
/// `bookings::begin_write` for why SQLite needs a first write.
async fn begin_write(db: &DatabaseConnection, staff_id: i64) -> Result<DatabaseTransaction, DbErr> {
    let txn = db.begin().await?;
    if txn.get_database_backend() == DatabaseBackend::Sqlite {
        txn.execute(Statement::from_sql_and_values(
            DatabaseBackend::Sqlite,
            "UPDATE staff_profiles SET id = id WHERE user_id = ?",
            [staff_id.into()],
        ))
        .await?;
    }
    Ok(txn)
}

fn taken_or_db(err: DbErr) -> AppointmentError {
    if bookings::is_exclusion_violation(&err) {
        AppointmentError::SlotTaken
    } else {
        AppointmentError::Db(err)
    }
}

/// `SlotTaken` when another active appointment or a busy block overlaps.
async fn ensure_free(
    txn: &DatabaseTransaction,
    staff_id: i64,
    slot: Slot,
    except: Option<i64>,
) -> Result<(), AppointmentError> {
    let appointments = active_overlapping(staff_id, slot, except)
        .count(txn)
        .await?;
    let blocks = busy_blocks(staff_id, slot).count(txn).await?;
    if appointments + blocks > 0 {
        return Err(AppointmentError::SlotTaken);
    }
    Ok(())
}

fn active_overlapping(
    staff_id: i64,
    window: Slot,
    except: Option<i64>,
) -> sea_orm::Select<appointment::Entity> {
    let mut query = appointment::Entity::find()
        .filter(appointment::Column::StaffId.eq(staff_id))
        .filter(appointment::Column::Status.eq(ACTIVE))
        .filter(appointment::Column::StartsAt.lt(window.ends_at))
        .filter(appointment::Column::EndsAt.gt(window.starts_at));
    if let Some(id) = except {
        query = query.filter(appointment::Column::Id.ne(id));
    }
    query
}

fn busy_blocks(staff_id: i64, window: Slot) -> sea_orm::Select<external_busy_block::Entity> {
    external_busy_block::Entity::find()
        .filter(external_busy_block::Column::OwnerKind.eq(STAFF_OWNER))
        .filter(external_busy_block::Column::OwnerId.eq(staff_id))
        .filter(external_busy_block::Column::StartsAt.lt(window.ends_at))
        .filter(external_busy_block::Column::EndsAt.gt(window.starts_at))
}

async fn taken_between(
    db: &DatabaseConnection,
    staff_id: i64,
    window: Slot,
    except: Option<i64>,
) -> Result<Vec<(DateTime<Utc>, DateTime<Utc>)>, DbErr> {
    let appointments = active_overlapping(staff_id, window, except).all(db).await?;
    let blocks = busy_blocks(staff_id, window).all(db).await?;
    Ok(appointments
        .into_iter()
        .map(|a| (a.starts_at, a.ends_at))
        .chain(blocks.into_iter().map(|b| (b.starts_at, b.ends_at)))
        .collect())
}
