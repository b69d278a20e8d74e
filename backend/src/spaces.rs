//! Spaces (rooms, desks, studios) that patrons book: creating, editing and
//! retiring them, with their weekly opening hours.

use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DatabaseConnection, DbErr, EntityTrait,
    QueryFilter, QueryOrder, Set, TransactionTrait,
};

use crate::availability::{Hours, MINUTES_PER_DAY};
use crate::entities::{space, space_hours};

pub const MAX_NAME_LEN: usize = 200;
pub const MAX_SLOT_MINUTES: i32 = 24 * 60;
pub const MAX_BOOKING_WINDOW_DAYS: i32 = 366;
pub const MAX_CAPACITY: i32 = 10_000;

#[derive(Debug, thiserror::Error)]
pub enum SpaceError {
    /// Bad input; `field` names the form field the message belongs next to.
    #[error("{message}")]
    Invalid {
        field: &'static str,
        message: String,
    },
    #[error("this space does not exist")]
    NotFound,
    #[error("database: {0}")]
    Db(#[from] DbErr),
}

fn invalid(field: &'static str, message: impl Into<String>) -> SpaceError {
    SpaceError::Invalid {
        field,
        message: message.into(),
    }
}

/// What an admin enters for a space.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpaceInput {
    pub name: String,
    pub location: String,
    pub capacity: i32,
    /// IANA name, e.g. "Europe/London".
    pub time_zone: String,
    pub slot_minutes: i32,
    pub booking_window_days: i32,
    pub hours: Vec<Hours>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Space {
    pub id: i64,
    pub name: String,
    pub location: String,
    pub capacity: i32,
    pub time_zone: Tz,
    pub slot_minutes: u32,
    pub booking_window_days: u32,
    pub retired: bool,
    pub hours: Vec<Hours>,
    pub created_at: DateTime<Utc>,
}

/// Input that passed validation: trimmed text and a parsed zone.
struct Valid {
    name: String,
    location: String,
    time_zone: Tz,
}

fn validate(input: &SpaceInput) -> Result<Valid, SpaceError> {
    let name = input.name.trim();
    if name.is_empty() {
        return Err(invalid("name", "a name is required"));
    }
    if name.chars().count() > MAX_NAME_LEN {
        return Err(invalid(
            "name",
            format!("the name may have at most {MAX_NAME_LEN} characters"),
        ));
    }
    let location = input.location.trim();
    if location.chars().count() > MAX_NAME_LEN {
        return Err(invalid(
            "location",
            format!("the location may have at most {MAX_NAME_LEN} characters"),
        ));
    }
    if !(1..=MAX_CAPACITY).contains(&input.capacity) {
        return Err(invalid(
            "capacity",
            format!("the capacity must be between 1 and {MAX_CAPACITY}"),
        ));
    }
    let time_zone = parse_zone(&input.time_zone)?;
    validate_slot_and_window(input)?;
    validate_hours(&input.hours, input.slot_minutes as u32)?;
    Ok(Valid {
        name: name.to_owned(),
        location: location.to_owned(),
        time_zone,
    })
}

fn parse_zone(zone: &str) -> Result<Tz, SpaceError> {
    zone.trim().parse::<Tz>().map_err(|_| {
        invalid(
            "time_zone",
            format!("{zone:?} is not an IANA time zone (e.g. \"Europe/London\")"),
        )
    })
}

fn validate_slot_and_window(input: &SpaceInput) -> Result<(), SpaceError> {
    if !(5..=MAX_SLOT_MINUTES).contains(&input.slot_minutes) || input.slot_minutes % 5 != 0 {
        return Err(invalid(
            "slot_minutes",
            format!(
                "the slot length must be a multiple of 5 minutes, from 5 to {MAX_SLOT_MINUTES}"
            ),
        ));
    }
    if !(1..=MAX_BOOKING_WINDOW_DAYS).contains(&input.booking_window_days) {
        return Err(invalid(
            "booking_window_days",
            format!("the booking window must be between 1 and {MAX_BOOKING_WINDOW_DAYS} days"),
        ));
    }
    Ok(())
}

/// Each period lies within its day, holds a whole number of slots, and
/// does not overlap another period of the same weekday.
pub(crate) fn validate_hours(hours: &[Hours], slot_minutes: u32) -> Result<(), SpaceError> {
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
                    "{}: opening time {} must be before closing time {}",
                    weekday_name(h.weekday),
                    clock(h.opens),
                    clock(h.closes)
                ),
            ));
        }
        if (h.closes - h.opens) % slot_minutes != 0 {
            return Err(invalid(
                "hours",
                format!(
                    "{}: {}–{} is not a whole number of {slot_minutes}-minute slots",
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
                format!("{}: opening periods overlap", weekday_name(pair[0].weekday)),
            ));
        }
    }
    Ok(())
}

pub(crate) fn weekday_name(weekday: u8) -> &'static str {
    [
        "Monday",
        "Tuesday",
        "Wednesday",
        "Thursday",
        "Friday",
        "Saturday",
        "Sunday",
    ]
    .get(weekday as usize)
    .copied()
    .unwrap_or("?")
}

pub(crate) fn clock(minutes: u32) -> String {
    format!("{:02}:{:02}", minutes / 60, minutes % 60)
}

pub async fn create(
    db: &DatabaseConnection,
    input: &SpaceInput,
    now: DateTime<Utc>,
) -> Result<Space, SpaceError> {
    let valid = validate(input)?;
    let txn = db.begin().await?;
    let model = space::ActiveModel {
        name: Set(valid.name),
        location: Set(valid.location),
        capacity: Set(input.capacity),
        time_zone: Set(valid.time_zone.name().to_owned()),
        slot_minutes: Set(input.slot_minutes),
        booking_window_days: Set(input.booking_window_days),
        retired: Set(false),
        created_at: Set(now),
        ..Default::default()
    }
    .insert(&txn)
    .await?;
    replace_hours(&txn, model.id, &input.hours).await?;
    txn.commit().await?;
    get(db, model.id).await?.ok_or(SpaceError::NotFound)
}

/// Changes a space's details and replaces its opening hours. Existing
/// bookings stay as they are, even if they now fall outside the hours.
pub async fn update(
    db: &DatabaseConnection,
    id: i64,
    input: &SpaceInput,
) -> Result<Space, SpaceError> {
    let valid = validate(input)?;
    let txn = db.begin().await?;
    let existing = space::Entity::find_by_id(id)
        .one(&txn)
        .await?
        .ok_or(SpaceError::NotFound)?;
    let mut model: space::ActiveModel = existing.into();
    model.name = Set(valid.name);
    model.location = Set(valid.location);
    model.capacity = Set(input.capacity);
    model.time_zone = Set(valid.time_zone.name().to_owned());
    model.slot_minutes = Set(input.slot_minutes);
    model.booking_window_days = Set(input.booking_window_days);
    model.update(&txn).await?;
    replace_hours(&txn, id, &input.hours).await?;
    txn.commit().await?;
    get(db, id).await?.ok_or(SpaceError::NotFound)
}

/// Hides a space from patrons and refuses new bookings. Kept (not deleted)
/// because its bookings and sync history refer to it.
pub async fn retire(db: &DatabaseConnection, id: i64) -> Result<(), SpaceError> {
    let existing = space::Entity::find_by_id(id)
        .one(db)
        .await?
        .ok_or(SpaceError::NotFound)?;
    let mut model: space::ActiveModel = existing.into();
    model.retired = Set(true);
    model.update(db).await?;
    Ok(())
}

async fn replace_hours(
    txn: &impl ConnectionTrait,
    space_id: i64,
    hours: &[Hours],
) -> Result<(), DbErr> {
    space_hours::Entity::delete_many()
        .filter(space_hours::Column::SpaceId.eq(space_id))
        .exec(txn)
        .await?;
    for h in hours {
        space_hours::ActiveModel {
            space_id: Set(space_id),
            weekday: Set(i16::from(h.weekday)),
            opens: Set(h.opens as i32),
            closes: Set(h.closes as i32),
            ..Default::default()
        }
        .insert(txn)
        .await?;
    }
    Ok(())
}

pub async fn get(db: &impl ConnectionTrait, id: i64) -> Result<Option<Space>, SpaceError> {
    let Some(model) = space::Entity::find_by_id(id).one(db).await? else {
        return Ok(None);
    };
    let hours = space_hours::Entity::find()
        .filter(space_hours::Column::SpaceId.eq(id))
        .order_by_asc(space_hours::Column::Weekday)
        .order_by_asc(space_hours::Column::Opens)
        .all(db)
        .await?;
    Ok(Some(from_models(model, hours)?))
}

/// Every space, by name; retired ones only when asked for (admin pages).
pub async fn list(
    db: &DatabaseConnection,
    include_retired: bool,
) -> Result<Vec<Space>, SpaceError> {
    let mut query = space::Entity::find().order_by_asc(space::Column::Name);
    if !include_retired {
        query = query.filter(space::Column::Retired.eq(false));
    }
    let mut spaces = Vec::new();
    for model in query.all(db).await? {
        if let Some(space) = get(db, model.id).await? {
            spaces.push(space);
        }
    }
    Ok(spaces)
}

fn from_models(m: space::Model, hours: Vec<space_hours::Model>) -> Result<Space, SpaceError> {
    Ok(Space {
        id: m.id,
        time_zone: parse_zone(&m.time_zone)?,
        name: m.name,
        location: m.location,
        capacity: m.capacity,
        slot_minutes: m.slot_minutes as u32,
        booking_window_days: m.booking_window_days as u32,
        retired: m.retired,
        created_at: m.created_at,
        hours: hours
            .into_iter()
            .map(|h| Hours {
                weekday: h.weekday as u8,
                opens: h.opens as u32,
                closes: h.closes as u32,
            })
            .collect(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input() -> SpaceInput {
        SpaceInput {
            name: " Study room 1 ".into(),
            location: "Floor 2".into(),
            capacity: 4,
            time_zone: "Europe/Amsterdam".into(),
            slot_minutes: 30,
            booking_window_days: 14,
            hours: vec![Hours {
                weekday: 0,
                opens: 540,
                closes: 1020,
            }],
        }
    }

    fn field_of(input: SpaceInput) -> &'static str {
        match validate(&input) {
            Err(SpaceError::Invalid { field, .. }) => field,
            other => panic!(
                "expected a validation error, got {:?}",
                other.map(|v| v.name)
            ),
        }
    }

    #[test]
    fn a_good_space_passes_and_is_trimmed() {
        let valid = validate(&input()).unwrap();
        assert_eq!(valid.name, "Study room 1");
        assert_eq!(valid.time_zone, chrono_tz::Europe::Amsterdam);
    }

    #[test]
    fn bad_fields_are_named() {
        assert_eq!(
            field_of(SpaceInput {
                name: "  ".into(),
                ..input()
            }),
            "name"
        );
        assert_eq!(
            field_of(SpaceInput {
                name: "x".repeat(201),
                ..input()
            }),
            "name"
        );
        assert_eq!(
            field_of(SpaceInput {
                capacity: 0,
                ..input()
            }),
            "capacity"
        );
        assert_eq!(
            field_of(SpaceInput {
                time_zone: "Mars/Olympus".into(),
                ..input()
            }),
            "time_zone"
        );
        assert_eq!(
            field_of(SpaceInput {
                slot_minutes: 7,
                ..input()
            }),
            "slot_minutes"
        );
        assert_eq!(
            field_of(SpaceInput {
                booking_window_days: 0,
                ..input()
            }),
            "booking_window_days"
        );
    }

    #[test]
    fn hours_must_be_ordered_whole_slots_without_overlap() {
        let with = |hours: Vec<Hours>| SpaceInput { hours, ..input() };
        let h = |weekday, opens, closes| Hours {
            weekday,
            opens,
            closes,
        };
        assert_eq!(field_of(with(vec![h(0, 600, 540)])), "hours");
        assert_eq!(field_of(with(vec![h(7, 540, 600)])), "hours");
        assert_eq!(field_of(with(vec![h(0, 540, 1500)])), "hours");
        assert_eq!(field_of(with(vec![h(0, 540, 555)])), "hours");
        assert_eq!(
            field_of(with(vec![h(1, 540, 720), h(1, 700, 800)])),
            "hours"
        );
        let err = validate(&with(vec![h(2, 540, 555)])).err().unwrap();
        assert_eq!(
            err.to_string(),
            "Wednesday: 09:00–09:15 is not a whole number of 30-minute slots"
        );
        assert!(validate(&with(vec![h(1, 540, 720), h(1, 720, 1440)])).is_ok());
    }
}
