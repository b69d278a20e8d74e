//! Demo accounts for a fresh installation, so the product can be tried at
//! once. Only created on an empty database, and only when asked
//! (`calbridge serve --seed-demo`, as the README's run command does).

use sea_orm::{ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter};

use crate::accounts::{self, AccountError, NewUser, Role};
use crate::availability::Hours;
use crate::entities::user;
use crate::spaces::{self, SpaceError, SpaceInput};
use crate::staff::{self, SettingsInput, StaffError};

pub struct DemoAccount {
    pub email: &'static str,
    pub display_name: &'static str,
    pub role: Role,
    pub password: &'static str,
}

/// Also listed in the README; they are public, so never use them on a
/// server that others can reach.
pub const DEMO_ACCOUNTS: [DemoAccount; 4] = [
    DemoAccount {
        email: "admin@calbridge.test",
        display_name: "Ada Admin",
        role: Role::Admin,
        password: "calbridge-admin",
    },
    DemoAccount {
        email: "sam@calbridge.test",
        display_name: "Sam Reference",
        role: Role::Staff,
        password: "calbridge-staff",
    },
    DemoAccount {
        email: "riley@calbridge.test",
        display_name: "Riley Outreach",
        role: Role::Staff,
        password: "calbridge-staff",
    },
    DemoAccount {
        email: "pat@calbridge.test",
        display_name: "Pat Patron",
        role: Role::Patron,
        password: "calbridge-patron",
    },
];

/// Creates the demo accounts when no account exists yet. Returns whether
/// it did, so the caller can print the credentials once.
pub async fn seed_demo_accounts(db: &DatabaseConnection) -> Result<bool, AccountError> {
    if accounts::count(db).await? > 0 {
        return Ok(false);
    }
    for a in &DEMO_ACCOUNTS {
        accounts::create_user(
            db,
            NewUser {
                email: a.email,
                display_name: a.display_name,
                role: a.role,
                password: a.password,
            },
        )
        .await?;
    }
    seed_demo_appointments(db)
        .await
        .map_err(|e| AccountError::Invalid(format!("demo appointment settings: {e}")))?;
    seed_demo_spaces(db).await.map_err(|e| match e {
        SpaceError::Db(e) => AccountError::Db(e),
        other => AccountError::Invalid(format!("demo space: {other}")),
    })?;
    Ok(true)
}

/// The demo staff member Sam offers 30-minute appointments, Monday to
/// Friday 09:00–17:00 London time, at the reference desk.
pub const DEMO_APPOINTMENT_STAFF: &str = "sam@calbridge.test";

async fn seed_demo_appointments(db: &DatabaseConnection) -> Result<(), StaffError> {
    let Some(sam) = user::Entity::find()
        .filter(user::Column::Email.eq(DEMO_APPOINTMENT_STAFF))
        .one(db)
        .await?
    else {
        return Ok(());
    };
    let now = chrono::Utc::now();
    let input = SettingsInput {
        appointment_minutes: 30,
        location_kind: staff::IN_PERSON.into(),
        location: "Reference desk, ground floor".into(),
        time_zone: "Europe/London".into(),
        booking_window_days: 30,
        hours: (0..5)
            .map(|weekday| Hours {
                weekday,
                opens: 9 * 60,
                closes: 17 * 60,
            })
            .collect(),
    };
    staff::update_settings(db, sam.id, &input, now).await?;
    staff::set_appointments_enabled(db, sam.id, true, now).await?;
    Ok(())
}

/// Two bookable spaces, so the demo has something to book. Open every day
/// (the study room) or on weekdays (the lab), in London time.
async fn seed_demo_spaces(db: &DatabaseConnection) -> Result<(), SpaceError> {
    let every_day = |opens, closes| -> Vec<Hours> {
        (0..7)
            .map(|weekday| Hours {
                weekday,
                opens,
                closes,
            })
            .collect()
    };
    let demo = [
        SpaceInput {
            name: "Group Study Room 1".into(),
            location: "Main Library, 2nd floor".into(),
            capacity: 6,
            time_zone: "Europe/London".into(),
            slot_minutes: 30,
            booking_window_days: 14,
            hours: every_day(8 * 60, 20 * 60),
        },
        SpaceInput {
            name: "Media Lab".into(),
            location: "Main Library, ground floor".into(),
            capacity: 3,
            time_zone: "Europe/London".into(),
            slot_minutes: 60,
            booking_window_days: 14,
            hours: every_day(9 * 60, 17 * 60)
                .into_iter()
                .filter(|h| h.weekday < 5)
                .collect(),
        },
    ];
    let now = chrono::Utc::now();
    for input in &demo {
        spaces::create(db, input, now).await?;
    }
    Ok(())
}
