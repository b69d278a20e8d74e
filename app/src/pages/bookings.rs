//! My bookings: the signed-in person's upcoming bookings, each with
//! Cancel, and the confirmation a booking redirects to (`?booked=ID`).

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_query_map;

use crate::api::bookings::{CancelBooking, booking_details, my_bookings};
use crate::components::require_role::RequireRole;
use crate::models::Role;
use crate::pages::spaces::BookingTable;
use crate::wire::resource;

#[component]
pub fn MyBookingsPage() -> impl IntoView {
    view! {
        <Title text="My bookings" />
        <RequireRole role=Role::Patron>
            <MyBookings />
        </RequireRole>
    }
}

#[component]
fn MyBookings() -> impl IntoView {
    let cancel = ServerAction::<CancelBooking>::new();
    view! {
        <h1>"My bookings"</h1>
        <Confirmation cancel />
        <UpcomingBookings cancel />
    }
}

#[component]
fn Confirmation(cancel: ServerAction<CancelBooking>) -> impl IntoView {
    let query = use_query_map();
    let booked = Memo::new(move |_| {
        query
            .read()
            .get("booked")
            .and_then(|id| id.parse::<i64>().ok())
    });
    let details = resource(
        move || (booked.get(), cancel.version().get()),
        |(id, _)| async move {
            match id {
                Some(id) => booking_details(id).await.map(Some),
                None => Ok(None),
            }
        },
    );
    view! {
        <Suspense>
            {move || Suspend::new(async move {
                match details.await {
                    Ok(Some(b)) => Some(view! {
                        <section class="card confirmation" role="status" data-testid="booking-confirmation">
                            // The confirmation stays in the URL after a
                            // Cancel, so it says when it no longer holds.
                            <h2>{if b.active { "Booked" } else { "Cancelled" }}</h2>
                            <p>
                                <strong>{b.space_name}</strong>", "{b.when}
                                <br />"For "{b.patron_name}" ("{b.patron_email}")"
                            </p>
                            <p class="muted">"Booking number "{b.id}"."</p>
                        </section>
                    }.into_any()),
                    Ok(None) => None,
                    Err(e) => Some(view! { <p class="error" role="alert">{e.to_string()}</p> }.into_any()),
                }
            })}
        </Suspense>
    }
}

#[component]
fn UpcomingBookings(cancel: ServerAction<CancelBooking>) -> impl IntoView {
    let bookings = resource(move || cancel.version().get(), |_| my_bookings());
    view! {
        <section class="card" aria-labelledby="upcoming">
            <h2 id="upcoming">"Upcoming"</h2>
            <Suspense fallback=|| view! { <p class="muted">"Loading…"</p> }>
                {move || Suspend::new(async move {
                    match bookings.await {
                        Ok(list) => view! { <BookingTable bookings=list cancel show_space=true /> }.into_any(),
                        Err(e) => view! { <p class="error" role="alert">{e.to_string()}</p> }.into_any(),
                    }
                })}
            </Suspense>
            <p><a href="/spaces">"Book a space"</a></p>
        </section>
    }
}
