//! Appointments with staff: who offers them, their open times, booking,
//! "My appointments", cancelling, and the staff member's own list with
//! rescheduling. Anyone may look; booking needs a signed-in account; the
//! backend decides who may cancel or reschedule which appointment.

use leptos::prelude::*;

use crate::error::AppError;
use crate::models::{AppointmentDay, AppointmentView, StaffOfferingView};

#[cfg(feature = "ssr")]
use {
    super::guard::{backend, fail, require_role},
    crate::models::{OpenSlotView, Role},
    backend::appointments::{self as appts, Actor, AppointmentError},
    backend::entities::appointment,
    chrono::{DateTime, NaiveDate, TimeDelta, Utc},
};

/// The staff members patrons can book, by name.
#[server(endpoint = "appointment_staff")]
pub async fn appointment_staff() -> Result<Vec<StaffOfferingView>, AppError> {
    let backend = backend()?;
    let offering = backend::staff::list_offering(&backend.db)
        .await
        .map_err(|e| fail(imp::staff_error(e)))?;
    Ok(offering.iter().map(imp::offering_view).collect())
}

/// A staff member's open times on `date` (`YYYY-MM-DD` in their zone;
/// empty for today).
#[server(endpoint = "appointment_times")]
pub async fn appointment_times(
    staff_id: i64,
    #[server(default)] date: String,
) -> Result<AppointmentDay, AppError> {
    let backend = backend()?;
    let offering = backend::staff::offering(&backend.db, staff_id)
        .await
        .map_err(|e| fail(imp::staff_error(e)))?
        .ok_or_else(|| {
            fail(AppError::Invalid(
                "This staff member does not offer appointments.".into(),
            ))
        })?;
    let now = Utc::now();
    let today = backend::availability::local_date(offering.time_zone, now);
    let date = match date.trim() {
        "" => today,
        d => d
            .parse::<NaiveDate>()
            .map_err(|_| fail(AppError::field("date", "enter the date as YYYY-MM-DD")))?,
    };
    let slots = appts::open_slots(&backend.db, staff_id, date, date, now)
        .await
        .map_err(|e| fail(imp::appointment_error(e)))?;
    let tz = offering.time_zone;
    Ok(AppointmentDay {
        date: date.to_string(),
        label: date.format("%A %-d %B %Y").to_string(),
        previous: (date - TimeDelta::days(1)).to_string(),
        next: (date + TimeDelta::days(1)).to_string(),
        today: today.to_string(),
        slots: slots
            .iter()
            .map(|s| OpenSlotView {
                starts_at: imp::rfc3339(s.starts_at),
                starts: s.starts_at.with_timezone(&tz).format("%H:%M").to_string(),
                ends: s.ends_at.with_timezone(&tz).format("%H:%M").to_string(),
            })
            .collect(),
        staff: imp::offering_view(&offering),
    })
}

/// Books the time starting at `starts_at` (RFC 3339, as the page gives
/// it) for the signed-in account, then redirects to My appointments.
#[server(endpoint = "book_appointment")]
pub async fn book_appointment(
    staff_id: i64,
    #[server(default)] starts_at: String,
    #[server(default)] patron_name: String,
    #[server(default)] patron_email: String,
    #[server(default)] question: String,
) -> Result<AppointmentView, AppError> {
    let user = require_role(Role::Patron).await?;
    let backend = backend()?;
    let starts_at = DateTime::parse_from_rfc3339(starts_at.trim())
        .map(|t| t.to_utc())
        .map_err(|_| fail(AppError::field("starts_at", "choose a time")))?;
    let request = appts::AppointmentRequest {
        staff_id,
        starts_at,
        patron_name: &patron_name,
        patron_email: &patron_email,
        question: &question,
        created_by: Some(user.id),
    };
    let booked = appts::book(&backend.db, &request, Utc::now())
        .await
        .map_err(|e| fail(imp::appointment_error(e)))?;
    tracing::info!(
        appointment_id = booked.id,
        staff_id,
        by = user.id,
        "appointment booked"
    );
    leptos_axum::redirect(&format!("/appointments/mine?booked={}", booked.id));
    imp::appointment_view(&backend, &booked).await
}

/// The appointments the signed-in account booked, newest first.
#[server(endpoint = "my_appointments")]
pub async fn my_appointments() -> Result<Vec<AppointmentView>, AppError> {
    let user = require_role(Role::Patron).await?;
    let backend = backend()?;
    let booked = appts::booked_by(&backend.db, user.id)
        .await
        .map_err(|e| fail(AppError::internal(e)))?;
    imp::views(&backend, &booked).await
}

/// Cancels an appointment: the patron who booked it, the staff member it
/// is with, or an admin.
#[server(endpoint = "cancel_appointment")]
pub async fn cancel_appointment(appointment_id: i64) -> Result<(), AppError> {
    let user = require_role(Role::Patron).await?;
    let backend = backend()?;
    let actor = Actor {
        user_id: user.id,
        role: user.role,
    };
    appts::cancel(&backend.db, appointment_id, actor, Utc::now())
        .await
        .map_err(|e| fail(imp::appointment_error(e)))?;
    tracing::info!(appointment_id, by = user.id, "appointment cancelled");
    Ok(())
}

/// The signed-in staff member's upcoming appointments.
#[server(endpoint = "staff_appointments")]
pub async fn staff_appointments() -> Result<Vec<AppointmentView>, AppError> {
    let user = require_role(Role::Staff).await?;
    let backend = backend()?;
    let upcoming = appts::upcoming_for_staff(&backend.db, user.id, Utc::now())
        .await
        .map_err(|e| fail(AppError::internal(e)))?;
    imp::views(&backend, &upcoming).await
}

/// Moves an appointment to `starts_at`, a local `YYYY-MM-DDTHH:MM` in the
/// staff member's zone (the form's datetime-local field). Staff their own,
/// admins any.
#[server(endpoint = "reschedule_appointment")]
pub async fn reschedule_appointment(
    appointment_id: i64,
    #[server(default)] starts_at: String,
) -> Result<AppointmentView, AppError> {
    let user = require_role(Role::Staff).await?;
    let backend = backend()?;
    let found = appts::get(&backend.db, appointment_id)
        .await
        .map_err(|e| fail(AppError::internal(e)))?
        .ok_or_else(|| fail(AppError::Invalid("This appointment does not exist.".into())))?;
    let settings = backend::staff::settings(&backend.db, found.staff_id)
        .await
        .map_err(|e| fail(imp::staff_error(e)))?;
    let starts_at = imp::parse_local(&starts_at, settings.time_zone).map_err(fail)?;
    let actor = Actor {
        user_id: user.id,
        role: user.role,
    };
    let moved = appts::reschedule(&backend.db, appointment_id, starts_at, actor, Utc::now())
        .await
        .map_err(|e| fail(imp::appointment_error(e)))?;
    tracing::info!(appointment_id, by = user.id, "appointment rescheduled");
    imp::appointment_view(&backend, &moved).await
}

#[cfg(feature = "ssr")]
pub(crate) mod imp {
    use super::*;
    use backend::availability::local_to_utc;
    use backend::staff::{Offering, StaffError};

    pub fn rfc3339(at: DateTime<Utc>) -> String {
        at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
    }

    pub fn location_label(kind: &str, location: &str) -> String {
        match (kind, location.trim()) {
            (backend::staff::ONLINE, "") => "Online".into(),
            (backend::staff::ONLINE, l) => format!("Online: {l}"),
            (_, "") => "In person".into(),
            (_, l) => format!("In person: {l}"),
        }
    }

    pub fn offering_view(o: &Offering) -> StaffOfferingView {
        StaffOfferingView {
            user_id: o.user_id,
            name: o.display_name.clone(),
            appointment_minutes: o.appointment_minutes,
            location: location_label(&o.location_kind, &o.location),
            time_zone: o.time_zone.name().to_owned(),
        }
    }

    pub fn staff_error(e: StaffError) -> AppError {
        match e {
            StaffError::Invalid { field, message } => AppError::field(field, message),
            StaffError::NotFound => AppError::Invalid("This account does not exist.".into()),
            StaffError::NotStaff => {
                AppError::Invalid("Only staff and admin accounts can offer appointments.".into())
            }
            StaffError::Db(e) => AppError::internal(e),
        }
    }

    pub fn appointment_error(e: AppointmentError) -> AppError {
        match e {
            AppointmentError::Invalid { field, message } => AppError::field(field, message),
            AppointmentError::SlotTaken => AppError::field(
                "starts_at",
                "that time has just been taken; please choose another",
            ),
            AppointmentError::StaffUnavailable => {
                AppError::Invalid("This staff member does not offer appointments.".into())
            }
            AppointmentError::NotFound => {
                AppError::Invalid("This appointment does not exist.".into())
            }
            AppointmentError::AlreadyCancelled => {
                AppError::Invalid("This appointment is already cancelled.".into())
            }
            AppointmentError::Forbidden => AppError::Forbidden,
            AppointmentError::Db(e) => AppError::internal(e),
        }
    }

    /// `YYYY-MM-DDTHH:MM` local time in `tz` to UTC.
    pub fn parse_local(
        text: &str,
        tz: backend::availability::Tz,
    ) -> Result<DateTime<Utc>, AppError> {
        let naive = chrono::NaiveDateTime::parse_from_str(text.trim(), "%Y-%m-%dT%H:%M")
            .map_err(|_| AppError::field("starts_at", "enter the new date and time"))?;
        local_to_utc(tz, naive).ok_or_else(|| {
            AppError::field(
                "starts_at",
                "that local time does not exist (the clocks change then)",
            )
        })
    }

    pub async fn views(
        backend: &backend::Backend,
        list: &[appointment::Model],
    ) -> Result<Vec<AppointmentView>, AppError> {
        let mut out = Vec::with_capacity(list.len());
        for a in list {
            out.push(appointment_view(backend, a).await?);
        }
        Ok(out)
    }

    pub async fn appointment_view(
        backend: &backend::Backend,
        a: &appointment::Model,
    ) -> Result<AppointmentView, AppError> {
        let staff = backend::accounts::find_by_id(&backend.db, a.staff_id)
            .await
            .map_err(|e| fail(AppError::internal(e)))?;
        let settings = backend::staff::settings(&backend.db, a.staff_id).await.ok();
        let tz = settings
            .map(|s| s.time_zone)
            .unwrap_or(backend::availability::Tz::UTC);
        let (start, end) = (a.starts_at.with_timezone(&tz), a.ends_at.with_timezone(&tz));
        Ok(AppointmentView {
            id: a.id,
            staff_id: a.staff_id,
            staff_name: staff.map(|u| u.display_name).unwrap_or_default(),
            when: format!(
                "{}–{} ({})",
                start.format("%a %-d %b %Y, %H:%M"),
                end.format("%H:%M"),
                tz.name()
            ),
            starts_at: rfc3339(a.starts_at),
            local_start: start.format("%Y-%m-%dT%H:%M").to_string(),
            patron_name: a.patron_name.clone(),
            patron_email: a.patron_email.clone(),
            question: a.question.clone(),
            location: location_label(&a.location_kind, &a.location),
            active: a.status == appts::ACTIVE,
        })
    }
}
