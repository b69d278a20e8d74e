//! Staff appointment settings (a staff member's own), and Admin › Staff:
//! the switch that lets a staff account offer appointments.

// The settings form posts one field per weekday: plain form fields keep it
// working without JavaScript, at the price of a long parameter list (the
// server macro also generates the browser-side stub, hence module level).
#![allow(clippy::too_many_arguments)]

use leptos::prelude::*;

use crate::error::AppError;
use crate::models::{StaffAccountView, StaffSettingsView};

#[cfg(feature = "ssr")]
use {
    super::appointments::imp::staff_error,
    super::guard::{back_with, backend, fail, require_role},
    crate::models::{DayOffView, Done, Role, parse_periods, periods_text},
    backend::availability::Hours,
    chrono::{NaiveDate, Utc},
};

/// The signed-in staff member's settings.
#[server(endpoint = "my_staff_settings")]
pub async fn my_staff_settings() -> Result<StaffSettingsView, AppError> {
    let user = require_role(Role::Staff).await?;
    let backend = backend()?;
    let settings = backend::staff::settings(&backend.db, user.id)
        .await
        .map_err(|e| fail(staff_error(e)))?;
    Ok(settings_view(settings))
}

/// Saves the signed-in staff member's settings. `hours_0` … `hours_6`
/// (Monday … Sunday) are periods like `09:00-12:00, 13:00-17:00`.
#[server(endpoint = "save_staff_settings")]
pub async fn save_staff_settings(
    #[server(default)] appointment_minutes: String,
    #[server(default)] location_kind: String,
    #[server(default)] location: String,
    #[server(default)] time_zone: String,
    #[server(default)] booking_window_days: String,
    #[server(default)] hours_0: String,
    #[server(default)] hours_1: String,
    #[server(default)] hours_2: String,
    #[server(default)] hours_3: String,
    #[server(default)] hours_4: String,
    #[server(default)] hours_5: String,
    #[server(default)] hours_6: String,
) -> Result<StaffSettingsView, AppError> {
    let user = require_role(Role::Staff).await?;
    let backend = backend()?;
    let number = |field: &'static str, text: &str, what: &str| {
        text.trim()
            .parse::<i32>()
            .map_err(|_| fail(AppError::field(field, format!("enter {what} as a number"))))
    };
    let appointment_minutes = number(
        "appointment_minutes",
        &appointment_minutes,
        "the length in minutes",
    )?;
    let booking_window_days = number(
        "booking_window_days",
        &booking_window_days,
        "the number of days",
    )?;
    let mut hours = Vec::new();
    for (weekday, text) in [
        hours_0, hours_1, hours_2, hours_3, hours_4, hours_5, hours_6,
    ]
    .iter()
    .enumerate()
    {
        let periods = parse_periods(text).map_err(|m| fail(AppError::field("hours", m)))?;
        hours.extend(periods.into_iter().map(|(opens, closes)| Hours {
            weekday: weekday as u8,
            opens,
            closes,
        }));
    }
    let input = backend::staff::SettingsInput {
        appointment_minutes,
        location_kind,
        location,
        time_zone,
        booking_window_days,
        hours,
    };
    let saved = backend::staff::update_settings(&backend.db, user.id, &input, Utc::now())
        .await
        .map_err(|e| fail(staff_error(e)))?;
    back_with(Done::StaffSettingsSaved);
    Ok(settings_view(saved))
}

/// Adds a day off (`YYYY-MM-DD`, the staff member's local date).
#[server(endpoint = "add_day_off")]
pub async fn add_day_off(
    #[server(default)] day: String,
    #[server(default)] note: String,
) -> Result<StaffSettingsView, AppError> {
    let user = require_role(Role::Staff).await?;
    let backend = backend()?;
    let day: NaiveDate = day
        .trim()
        .parse()
        .map_err(|_| fail(AppError::field("day", "choose a date")))?;
    let current = backend::staff::settings(&backend.db, user.id)
        .await
        .map_err(|e| fail(staff_error(e)))?;
    let today = backend::availability::local_date(current.time_zone, Utc::now());
    let saved = backend::staff::add_day_off(&backend.db, user.id, day, &note, today)
        .await
        .map_err(|e| fail(staff_error(e)))?;
    Ok(settings_view(saved))
}

#[server(endpoint = "remove_day_off")]
pub async fn remove_day_off(day: String) -> Result<StaffSettingsView, AppError> {
    let user = require_role(Role::Staff).await?;
    let backend = backend()?;
    let day: NaiveDate = day
        .trim()
        .parse()
        .map_err(|_| fail(AppError::field("day", "choose a date")))?;
    let saved = backend::staff::remove_day_off(&backend.db, user.id, day)
        .await
        .map_err(|e| fail(staff_error(e)))?;
    Ok(settings_view(saved))
}

/// Admin › Staff: every staff and admin account with its switch.
#[server(endpoint = "staff_accounts")]
pub async fn staff_accounts() -> Result<Vec<StaffAccountView>, AppError> {
    require_role(Role::Admin).await?;
    let backend = backend()?;
    let accounts = backend::staff::list_staff_accounts(&backend.db)
        .await
        .map_err(|e| fail(staff_error(e)))?;
    Ok(accounts
        .into_iter()
        .map(|a| StaffAccountView {
            user_id: a.user.id,
            name: a.user.display_name,
            email: a.user.email,
            role: a.user.role.into(),
            appointments_enabled: a.appointments_enabled,
        })
        .collect())
}

/// Admin › Staff: turns appointments on or off for a staff account.
#[server(endpoint = "set_staff_appointments")]
pub async fn set_staff_appointments(
    user_id: i64,
    #[server(default)] enabled: bool,
) -> Result<(), AppError> {
    let admin = require_role(Role::Admin).await?;
    let backend = backend()?;
    backend::staff::set_appointments_enabled(&backend.db, user_id, enabled, Utc::now())
        .await
        .map_err(|e| fail(staff_error(e)))?;
    tracing::info!(user_id, enabled, by = admin.id, "appointments switched");
    Ok(())
}

#[cfg(feature = "ssr")]
fn settings_view(s: backend::staff::StaffSettings) -> StaffSettingsView {
    StaffSettingsView {
        appointments_enabled: s.appointments_enabled,
        appointment_minutes: s.appointment_minutes,
        location_kind: s.location_kind,
        location: s.location,
        time_zone: s.time_zone.name().to_owned(),
        booking_window_days: s.booking_window_days,
        hours: (0..7u8)
            .map(|weekday| {
                let periods: Vec<(u32, u32)> = s
                    .hours
                    .iter()
                    .filter(|h| h.weekday == weekday)
                    .map(|h| (h.opens, h.closes))
                    .collect();
                periods_text(&periods)
            })
            .collect(),
        days_off: s
            .days_off
            .into_iter()
            .map(|d| DayOffView {
                day: d.day.to_string(),
                note: d.note,
            })
            .collect(),
    }
}
