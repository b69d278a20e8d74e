//! Staff appointment settings: the admin's switch that lets a staff member
//! offer appointments, and what the staff member sets themselves — weekly
//! hours, days off, appointment length, location, time zone and how far
//! ahead patrons may book.

use chrono::{DateTime, NaiveDate, Utc};
use chrono_tz::Tz;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DatabaseConnection, DbErr, EntityTrait,
    QueryFilter, QueryOrder, Set, TransactionTrait,
};

use crate::accounts::{Role, User};
use crate::availability::{Hours, MINUTES_PER_DAY};
use crate::entities::{staff_exception, staff_hours, staff_profile, user};
use crate::spaces::{clock, weekday_name};

pub const IN_PERSON: &str = "in_person";
pub const ONLINE: &str = "online";
pub const MIN_APPOINTMENT_MINUTES: i32 = 15;
pub const MAX_APPOINTMENT_MINUTES: i32 = 240;
pub const MAX_BOOKING_WINDOW_DAYS: i32 = 366;
pub const MAX_LOCATION_LEN: usize = 300;
pub const MAX_NOTE_LEN: usize = 200;

/// What a profile starts with before the staff member changes anything.
pub const DEFAULT_MINUTES: i32 = 30;
pub const DEFAULT_ZONE: &str = "UTC";
pub const DEFAULT_WINDOW_DAYS: i32 = 30;

#[derive(Debug, thiserror::Error)]
pub enum StaffError {
    /// Bad input; `field` names the form field the message belongs next to.
    #[error("{message}")]
    Invalid {
        field: &'static str,
        message: String,
    },
    #[error("this account does not exist")]
    NotFound,
    #[error("only staff and admin accounts can offer appointments")]
    NotStaff,
    #[error("database: {0}")]
    Db(#[from] DbErr),
}

fn invalid(field: &'static str, message: impl Into<String>) -> StaffError {
    StaffError::Invalid {
        field,
        message: message.into(),
    }
}

/// A day off: no appointments on that local date.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DayOff {
    pub day: NaiveDate,
    pub note: String,
}

/// A staff member's appointment settings, with defaults when they have
/// never set any.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StaffSettings {
    pub user_id: i64,
    pub appointments_enabled: bool,
    pub appointment_minutes: u32,
    /// [`IN_PERSON`] or [`ONLINE`].
    pub location_kind: String,
    pub location: String,
    pub time_zone: Tz,
    pub booking_window_days: u32,
    /// The staff member opted in to their Outlook busy times blocking
    /// their hours (set by the sync work).
    pub free_busy_enabled: bool,
    pub hours: Vec<Hours>,
    /// In date order.
    pub days_off: Vec<DayOff>,
}

/// What a staff member enters on their settings page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SettingsInput {
    pub appointment_minutes: i32,
    pub location_kind: String,
    pub location: String,
    /// IANA name, e.g. "Europe/London".
    pub time_zone: String,
    pub booking_window_days: i32,
    pub hours: Vec<Hours>,
}

/// A staff account as the admin's list shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StaffAccount {
    pub user: User,
    pub appointments_enabled: bool,
}

/// A staff member patrons can book, with what they need to choose.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Offering {
    pub user_id: i64,
    pub display_name: String,
    pub appointment_minutes: u32,
    pub location_kind: String,
    pub location: String,
    pub time_zone: Tz,
}

struct Valid {
    location: String,
    time_zone: Tz,
}

fn validate(input: &SettingsInput) -> Result<Valid, StaffError> {
    if !(MIN_APPOINTMENT_MINUTES..=MAX_APPOINTMENT_MINUTES).contains(&input.appointment_minutes)
        || input.appointment_minutes % 5 != 0
    {
        return Err(invalid(
            "appointment_minutes",
            format!(
                "the appointment length must be a multiple of 5 minutes, from \
                 {MIN_APPOINTMENT_MINUTES} to {MAX_APPOINTMENT_MINUTES}"
            ),
        ));
    }
    if input.location_kind != IN_PERSON && input.location_kind != ONLINE {
        return Err(invalid("location_kind", "choose in person or online"));
    }
    let location = input.location.trim();
    if location.chars().count() > MAX_LOCATION_LEN {
        return Err(invalid(
            "location",
            format!("the location may have at most {MAX_LOCATION_LEN} characters"),
        ));
    }
    let time_zone = parse_zone(&input.time_zone)?;
    if !(1..=MAX_BOOKING_WINDOW_DAYS).contains(&input.booking_window_days) {
        return Err(invalid(
            "booking_window_days",
            format!("the booking window must be between 1 and {MAX_BOOKING_WINDOW_DAYS} days"),
        ));
    }
    validate_hours(&input.hours, input.appointment_minutes as u32)?;
    Ok(Valid {
        location: location.to_owned(),
        time_zone,
    })
}

fn parse_zone(zone: &str) -> Result<Tz, StaffError> {
    zone.trim().parse::<Tz>().map_err(|_| {
        invalid(
            "time_zone",
            format!("{zone:?} is not an IANA time zone (e.g. \"Europe/London\")"),
        )
    })
}

/// Each period lies within its day, fits at least one appointment, and
/// does not overlap another period of the same weekday.
fn validate_hours(hours: &[Hours], minutes: u32) -> Result<(), StaffError> {
    for h in hours {
        if h.weekday > 6 {
            return Err(invalid(
                "hours",
                "weekdays run from 0 (Monday) to 6 (Sunday)",
            ));
        }
        if h.opens >= h.closes || h.closes > MINUTES_PER_DAY {
            return Err(invalid(
                "hours",
                format!(
                    "{}: start {} must be before end {}",
                    weekday_name(h.weekday),
                    clock(h.opens),
                    clock(h.closes)
                ),
            ));
        }
        if h.closes - h.opens < minutes {
            return Err(invalid(
                "hours",
                format!(
                    "{}: {}–{} is shorter than one {minutes}-minute appointment",
                    weekday_name(h.weekday),
                    clock(h.opens),
                    clock(h.closes)
                ),
            ));
        }
    }
    let mut sorted = hours.to_vec();
    sorted.sort_by_key(|h| (h.weekday, h.opens));
    for pair in sorted.windows(2) {
        if pair[0].weekday == pair[1].weekday && pair[1].opens < pair[0].closes {
            return Err(invalid(
                "hours",
                format!("{}: periods overlap", weekday_name(pair[0].weekday)),
            ));
        }
    }
    Ok(())
}

async fn staff_user(db: &impl ConnectionTrait, user_id: i64) -> Result<User, StaffError> {
    let model = user::Entity::find_by_id(user_id)
        .one(db)
        .await?
        .ok_or(StaffError::NotFound)?;
    let user = User::try_from(model).map_err(|e| StaffError::Db(DbErr::Custom(e.to_string())))?;
    if !user.role.satisfies(Role::Staff) {
        return Err(StaffError::NotStaff);
    }
    Ok(user)
}

/// The profile row, created with defaults on first use.
async fn profile_row(
    db: &impl ConnectionTrait,
    user_id: i64,
    now: DateTime<Utc>,
) -> Result<staff_profile::Model, StaffError> {
    if let Some(p) = find_profile(db, user_id).await? {
        return Ok(p);
    }
    Ok(staff_profile::ActiveModel {
        user_id: Set(user_id),
        appointments_enabled: Set(false),
        appointment_minutes: Set(DEFAULT_MINUTES),
        location_kind: Set(IN_PERSON.to_owned()),
        location: Set(String::new()),
        time_zone: Set(DEFAULT_ZONE.to_owned()),
        booking_window_days: Set(DEFAULT_WINDOW_DAYS),
        free_busy_enabled: Set(false),
        created_at: Set(now),
        updated_at: Set(now),
        ..Default::default()
    }
    .insert(db)
    .await?)
}

async fn find_profile(
    db: &impl ConnectionTrait,
    user_id: i64,
) -> Result<Option<staff_profile::Model>, DbErr> {
    staff_profile::Entity::find()
        .filter(staff_profile::Column::UserId.eq(user_id))
        .one(db)
        .await
}

/// The admin's switch. Only staff and admin accounts can be enabled;
/// disabling hides the staff member from patrons but keeps their
/// settings and appointments.
pub async fn set_appointments_enabled(
    db: &DatabaseConnection,
    user_id: i64,
    enabled: bool,
    now: DateTime<Utc>,
) -> Result<StaffSettings, StaffError> {
    let txn = db.begin().await?;
    // Reads, then writes: on SQLite take the write lock first, or a racing
    // writer (a sync worker) makes the upgrade fail with "database is
    // locked" at once (seen in CI).
    crate::db::lock_for_write(&txn, "staff_profiles").await?;
    staff_user(&txn, user_id).await?;
    let mut model: staff_profile::ActiveModel = profile_row(&txn, user_id, now).await?.into();
    model.appointments_enabled = Set(enabled);
    model.updated_at = Set(now);
    model.update(&txn).await?;
    txn.commit().await?;
    settings(db, user_id).await
}

/// The staff member opts in or out of their Outlook busy times blocking
/// their appointment hours (for the appointments-sync work).
pub async fn set_free_busy(
    db: &DatabaseConnection,
    user_id: i64,
    enabled: bool,
    now: DateTime<Utc>,
) -> Result<StaffSettings, StaffError> {
    let txn = db.begin().await?;
    // Reads, then writes: on SQLite take the write lock first, or a racing
    // writer (a sync worker) makes the upgrade fail with "database is
    // locked" at once (seen in CI).
    crate::db::lock_for_write(&txn, "staff_profiles").await?;
    staff_user(&txn, user_id).await?;
    let mut model: staff_profile::ActiveModel = profile_row(&txn, user_id, now).await?.into();
    model.free_busy_enabled = Set(enabled);
    model.updated_at = Set(now);
    model.update(&txn).await?;
    txn.commit().await?;
    settings(db, user_id).await
}

/// A staff member's settings (defaults when they have none yet).
pub async fn settings(
    db: &impl ConnectionTrait,
    user_id: i64,
) -> Result<StaffSettings, StaffError> {
    staff_user(db, user_id).await?;
    let profile = find_profile(db, user_id).await?;
    let hours = staff_hours::Entity::find()
        .filter(staff_hours::Column::UserId.eq(user_id))
        .order_by_asc(staff_hours::Column::Weekday)
        .order_by_asc(staff_hours::Column::Opens)
        .all(db)
        .await?
        .into_iter()
        .map(|h| Hours {
            weekday: h.weekday as u8,
            opens: h.opens as u32,
            closes: h.closes as u32,
        })
        .collect();
    let days_off = staff_exception::Entity::find()
        .filter(staff_exception::Column::UserId.eq(user_id))
        .order_by_asc(staff_exception::Column::Day)
        .all(db)
        .await?
        .into_iter()
        .map(|e| DayOff {
            day: e.day,
            note: e.note,
        })
        .collect();
    let settings = match profile {
        Some(p) => StaffSettings {
            user_id,
            appointments_enabled: p.appointments_enabled,
            appointment_minutes: p.appointment_minutes as u32,
            time_zone: parse_zone(&p.time_zone)
                .map_err(|e| StaffError::Db(DbErr::Custom(e.to_string())))?,
            location_kind: p.location_kind,
            location: p.location,
            booking_window_days: p.booking_window_days as u32,
            free_busy_enabled: p.free_busy_enabled,
            hours,
            days_off,
        },
        None => StaffSettings {
            user_id,
            appointments_enabled: false,
            appointment_minutes: DEFAULT_MINUTES as u32,
            location_kind: IN_PERSON.to_owned(),
            location: String::new(),
            time_zone: Tz::UTC,
            booking_window_days: DEFAULT_WINDOW_DAYS as u32,
            free_busy_enabled: false,
            hours,
            days_off,
        },
    };
    Ok(settings)
}

/// Saves what a staff member entered. Appointments already booked stay as
/// they are, even outside the new hours.
pub async fn update_settings(
    db: &DatabaseConnection,
    user_id: i64,
    input: &SettingsInput,
    now: DateTime<Utc>,
) -> Result<StaffSettings, StaffError> {
    let valid = validate(input)?;
    let txn = db.begin().await?;
    // Reads, then writes: on SQLite take the write lock first, or a racing
    // writer (a sync worker) makes the upgrade fail with "database is
    // locked" at once (seen in CI).
    crate::db::lock_for_write(&txn, "staff_profiles").await?;
    staff_user(&txn, user_id).await?;
    let mut model: staff_profile::ActiveModel = profile_row(&txn, user_id, now).await?.into();
    model.appointment_minutes = Set(input.appointment_minutes);
    model.location_kind = Set(input.location_kind.clone());
    model.location = Set(valid.location);
    model.time_zone = Set(valid.time_zone.name().to_owned());
    model.booking_window_days = Set(input.booking_window_days);
    model.updated_at = Set(now);
    model.update(&txn).await?;
    staff_hours::Entity::delete_many()
        .filter(staff_hours::Column::UserId.eq(user_id))
        .exec(&txn)
        .await?;
    for h in &input.hours {
        staff_hours::ActiveModel {
            user_id: Set(user_id),
            weekday: Set(i16::from(h.weekday)),
            opens: Set(h.opens as i32),
            closes: Set(h.closes as i32),
            ..Default::default()
        }
        .insert(&txn)
        .await?;
    }
    txn.commit().await?;
    settings(db, user_id).await
}

/// Adds a day off (a local date in the staff member's zone), not in the past.
pub async fn add_day_off(
    db: &DatabaseConnection,
    user_id: i64,
    day: NaiveDate,
    note: &str,
    today: NaiveDate,
) -> Result<StaffSettings, StaffError> {
    let note = note.trim();
    if note.chars().count() > MAX_NOTE_LEN {
        return Err(invalid(
            "note",
            format!("the note may have at most {MAX_NOTE_LEN} characters"),
        ));
    }
    if day < today {
        return Err(invalid("day", "that day is in the past"));
    }
    staff_user(db, user_id).await?;
    let existing = staff_exception::Entity::find()
        .filter(staff_exception::Column::UserId.eq(user_id))
        .filter(staff_exception::Column::Day.eq(day))
        .one(db)
        .await?;
    if existing.is_some() {
        return Err(invalid("day", format!("{day} is already a day off")));
    }
    staff_exception::ActiveModel {
        user_id: Set(user_id),
        day: Set(day),
        note: Set(note.to_owned()),
        ..Default::default()
    }
    .insert(db)
    .await?;
    settings(db, user_id).await
}

/// Removes a day off; removing one that is not there changes nothing.
pub async fn remove_day_off(
    db: &DatabaseConnection,
    user_id: i64,
    day: NaiveDate,
) -> Result<StaffSettings, StaffError> {
    staff_user(db, user_id).await?;
    staff_exception::Entity::delete_many()
        .filter(staff_exception::Column::UserId.eq(user_id))
        .filter(staff_exception::Column::Day.eq(day))
        .exec(db)
        .await?;
    settings(db, user_id).await
}

/// Every staff and admin account with its switch, by name (admin page).
pub async fn list_staff_accounts(db: &DatabaseConnection) -> Result<Vec<StaffAccount>, StaffError> {
    let users = user::Entity::find()
        .filter(user::Column::Role.is_in([Role::Staff.as_str(), Role::Admin.as_str()]))
        .order_by_asc(user::Column::DisplayName)
        .all(db)
        .await?;
    let enabled: std::collections::HashSet<i64> = staff_profile::Entity::find()
        .filter(staff_profile::Column::AppointmentsEnabled.eq(true))
        .all(db)
        .await?
        .into_iter()
        .map(|p| p.user_id)
        .collect();
    users
        .into_iter()
        .map(|m| {
            let user =
                User::try_from(m).map_err(|e| StaffError::Db(DbErr::Custom(e.to_string())))?;
            Ok(StaffAccount {
                appointments_enabled: enabled.contains(&user.id),
                user,
            })
        })
        .collect()
}

/// The staff members patrons can book: switched on by an admin and still
/// holding a staff or admin role. By name.
pub async fn list_offering(db: &impl ConnectionTrait) -> Result<Vec<Offering>, StaffError> {
    let profiles = staff_profile::Entity::find()
        .filter(staff_profile::Column::AppointmentsEnabled.eq(true))
        .all(db)
        .await?;
    let mut offering = Vec::new();
    for p in profiles {
        if let Some(o) = offering_from(db, p).await? {
            offering.push(o);
        }
    }
    offering.sort_by(|a, b| a.display_name.cmp(&b.display_name));
    Ok(offering)
}

/// One staff member patrons can book, or `None` when they cannot.
pub async fn offering(
    db: &impl ConnectionTrait,
    user_id: i64,
) -> Result<Option<Offering>, StaffError> {
    match find_profile(db, user_id).await? {
        Some(p) if p.appointments_enabled => offering_from(db, p).await,
        _ => Ok(None),
    }
}

async fn offering_from(
    db: &impl ConnectionTrait,
    p: staff_profile::Model,
) -> Result<Option<Offering>, StaffError> {
    let Some(u) = user::Entity::find_by_id(p.user_id).one(db).await? else {
        return Ok(None);
    };
    let Ok(user) = User::try_from(u) else {
        return Ok(None);
    };
    if !user.role.satisfies(Role::Staff) {
        return Ok(None);
    }
    let Ok(time_zone) = p.time_zone.parse::<Tz>() else {
        return Ok(None);
    };
    Ok(Some(Offering {
        user_id: user.id,
        display_name: user.display_name,
        appointment_minutes: p.appointment_minutes as u32,
        location_kind: p.location_kind,
        location: p.location,
        time_zone,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input() -> SettingsInput {
        SettingsInput {
            appointment_minutes: 30,
            location_kind: IN_PERSON.into(),
            location: "Reference desk".into(),
            time_zone: "Europe/London".into(),
            booking_window_days: 21,
            hours: vec![Hours {
                weekday: 0,
                opens: 600,
                closes: 720,
            }],
        }
    }

    fn field_of(input: SettingsInput) -> &'static str {
        match validate(&input) {
            Err(StaffError::Invalid { field, .. }) => field,
            Err(other) => panic!("expected a validation error, got {other:?}"),
            Ok(_) => panic!("expected a validation error, got Ok"),
        }
    }

    #[test]
    fn bad_settings_name_their_field() {
        assert!(validate(&input()).is_ok());
        for minutes in [10, 245, 33] {
            assert_eq!(
                field_of(SettingsInput {
                    appointment_minutes: minutes,
                    ..input()
                }),
                "appointment_minutes"
            );
        }
        assert_eq!(
            field_of(SettingsInput {
                location_kind: "phone".into(),
                ..input()
            }),
            "location_kind"
        );
        assert_eq!(
            field_of(SettingsInput {
                location: "x".repeat(301),
                ..input()
            }),
            "location"
        );
        assert_eq!(
            field_of(SettingsInput {
                time_zone: "Atlantis/Main".into(),
                ..input()
            }),
            "time_zone"
        );
        assert_eq!(
            field_of(SettingsInput {
                booking_window_days: 0,
                ..input()
            }),
            "booking_window_days"
        );
        let h = |weekday, opens, closes| Hours {
            weekday,
            opens,
            closes,
        };
        for hours in [
            vec![h(0, 700, 600)],
            vec![h(0, 600, 620)],
            vec![h(9, 600, 720)],
            vec![h(1, 540, 720), h(1, 700, 800)],
        ] {
            assert_eq!(field_of(SettingsInput { hours, ..input() }), "hours");
        }
    }
}
