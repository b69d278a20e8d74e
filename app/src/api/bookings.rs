//! Space bookings: booking slots, "My bookings", cancelling, and the
//! staff list of a space's bookings. Booking needs a signed-in account
//! (patron, staff or admin); patrons book and cancel for themselves, staff
//! and admins for anyone.

use leptos::prelude::*;

use crate::error::AppError;
use crate::models::BookingView;

#[cfg(feature = "ssr")]
use {
    super::guard::{backend, fail, require_role},
    super::spaces::imp::{bookable, grid_dates, local_span, rfc3339},
    crate::models::{GridView, Role},
    backend::accounts::User,
    backend::entities::space_booking,
    chrono::Utc,
};

/// Books `slots` adjacent slots from `starts_at` (RFC 3339, as the grid
/// gives it). Patrons book under their account's email; staff and admins
/// may enter anyone's. Redirects to the confirmation on My bookings.
#[server(endpoint = "book_space")]
pub async fn book_space(
    space_id: i64,
    #[server(default)] starts_at: String,
    #[server(default)] slots: String,
    #[server(default)] patron_name: String,
    #[server(default)] patron_email: String,
) -> Result<BookingView, AppError> {
    let user = require_role(Role::Patron).await?;
    let backend = backend()?;
    let starts_at = chrono::DateTime::parse_from_rfc3339(starts_at.trim())
        .map(|t| t.to_utc())
        .map_err(|_| fail(AppError::field("starts_at", "choose a start time")))?;
    let slots: u32 = slots
        .trim()
        .parse()
        .map_err(|_| fail(AppError::field("slots", "choose how many slots")))?;
    let on_behalf = Role::from(user.role).satisfies(Role::Staff);
    let email = if on_behalf {
        patron_email
    } else {
        user.email.clone()
    };
    let request = backend::bookings::BookingRequest {
        space_id,
        starts_at,
        slots,
        patron_name: &patron_name,
        patron_email: &email,
        created_by: Some(user.id),
    };
    let booking = backend::bookings::book(&backend.db, &request, Utc::now())
        .await
        .map_err(|e| fail(booking_error(e)))?;
    let space = bookable(&backend, space_id).await?;
    tracing::info!(
        booking_id = booking.id,
        space_id,
        by = user.id,
        "space booked"
    );
    leptos_axum::redirect(&format!("/bookings?booked={}", booking.id));
    Ok(booking_view(&booking, &space))
}

/// Cancels a booking: a patron their own, staff and admins any.
#[server(endpoint = "cancel_booking")]
pub async fn cancel_booking(booking_id: i64) -> Result<(), AppError> {
    let user = require_role(Role::Patron).await?;
    let backend = backend()?;
    let booking = find(&backend, &user, booking_id).await?;
    backend::bookings::cancel(&backend.db, booking.id, Utc::now())
        .await
        .map_err(|e| fail(booking_error(e)))?;
    tracing::info!(booking_id, by = user.id, "space booking cancelled");
    Ok(())
}

/// One booking, for its patron (or staff): the booking confirmation.
#[server(endpoint = "booking_details")]
pub async fn booking_details(booking_id: i64) -> Result<BookingView, AppError> {
    let user = require_role(Role::Patron).await?;
    let backend = backend()?;
    let booking = find(&backend, &user, booking_id).await?;
    let space = space_of(&backend, booking.space_id).await?;
    Ok(booking_view(&booking, &space))
}

/// The signed-in person's active bookings that have not ended, soonest
/// first: those they made and those made for their email.
#[server(endpoint = "my_bookings")]
pub async fn my_bookings() -> Result<Vec<BookingView>, AppError> {
    let user = require_role(Role::Patron).await?;
    let backend = backend()?;
    let bookings =
        backend::bookings::list_upcoming_for(&backend.db, user.id, &user.email, Utc::now())
            .await
            .map_err(|e| fail(AppError::internal(e)))?;
    let spaces = backend::spaces::list(&backend.db, true)
        .await
        .map_err(|e| fail(super::spaces::space_error(e)))?;
    Ok(bookings
        .iter()
        .filter_map(|b| {
            let space = spaces.iter().find(|s| s.id == b.space_id)?;
            Some(booking_view(b, space))
        })
        .collect())
}

/// Staff and admins: who booked what in the days a space's grid shows.
#[server(endpoint = "space_bookings")]
pub async fn space_bookings(
    space_id: i64,
    #[server(default)] date: String,
    #[server(default)] view: String,
) -> Result<Vec<BookingView>, AppError> {
    require_role(Role::Staff).await?;
    let backend = backend()?;
    let space = bookable(&backend, space_id).await?;
    let now = Utc::now();
    let dates = grid_dates(&space, &date, GridView::from_query(Some(&view)), now)?;
    let (first, last) = (dates[0], dates[dates.len() - 1]);
    // A generous UTC window, then exactly the local dates shown.
    let window = backend::availability::Slot {
        starts_at: first.and_time(chrono::NaiveTime::MIN).and_utc() - chrono::TimeDelta::days(1),
        ends_at: last.and_time(chrono::NaiveTime::MIN).and_utc() + chrono::TimeDelta::days(2),
    };
    let bookings = backend::bookings::list_active_between(&backend.db, space.id, window)
        .await
        .map_err(|e| fail(AppError::internal(e)))?;
    Ok(bookings
        .iter()
        .filter(|b| {
            let date = backend::availability::local_date(space.time_zone, b.starts_at);
            first <= date && date <= last
        })
        .map(|b| booking_view(b, &space))
        .collect())
}

#[cfg(feature = "ssr")]
pub(crate) fn booking_error(e: backend::bookings::BookingError) -> AppError {
    use backend::bookings::BookingError;
    match e {
        BookingError::Invalid { field, message } => AppError::field(field, message),
        BookingError::SlotTaken => AppError::field(
            "starts_at",
            "that slot has just been taken; please choose another time",
        ),
        BookingError::SpaceNotFound => AppError::Invalid("This space does not exist.".into()),
        BookingError::SpaceRetired => {
            AppError::Invalid("This space can no longer be booked.".into())
        }
        BookingError::NotFound => AppError::Invalid("This booking does not exist.".into()),
        BookingError::AlreadyCancelled => {
            AppError::Invalid("This booking is already cancelled.".into())
        }
        BookingError::Db(e) => AppError::internal(e),
    }
}

/// The booking, if `user` may see and cancel it: their own (made by them
/// or for their email), or any for staff and admins.
#[cfg(feature = "ssr")]
async fn find(
    backend: &backend::Backend,
    user: &User,
    booking_id: i64,
) -> Result<space_booking::Model, AppError> {
    let booking = backend::bookings::get(&backend.db, booking_id)
        .await
        .map_err(|e| fail(AppError::internal(e)))?
        .ok_or_else(|| fail(AppError::Invalid("This booking does not exist.".into())))?;
    let own = booking.created_by == Some(user.id)
        || booking.patron_email == backend::accounts::normalise_email(&user.email);
    if own || Role::from(user.role).satisfies(Role::Staff) {
        Ok(booking)
    } else {
        Err(fail(AppError::Forbidden))
    }
}

#[cfg(feature = "ssr")]
async fn space_of(
    backend: &backend::Backend,
    space_id: i64,
) -> Result<backend::spaces::Space, AppError> {
    backend::spaces::get(&backend.db, space_id)
        .await
        .map_err(|e| fail(super::spaces::space_error(e)))?
        .ok_or_else(|| fail(AppError::Invalid("This space does not exist.".into())))
}

#[cfg(feature = "ssr")]
fn booking_view(b: &space_booking::Model, space: &backend::spaces::Space) -> BookingView {
    BookingView {
        id: b.id,
        space_id: b.space_id,
        space_name: space.name.clone(),
        when: local_span(space, b.starts_at, b.ends_at),
        starts_at: rfc3339(b.starts_at),
        patron_name: b.patron_name.clone(),
        patron_email: b.patron_email.clone(),
        active: b.status == backend::bookings::ACTIVE,
    }
}
