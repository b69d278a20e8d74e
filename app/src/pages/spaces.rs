//! The public spaces: the list, and each space's day or week grid of free
//! and unavailable slots with its booking form. Everything is links and
//! plain forms, so it works without JavaScript: the date and view are in
//! the query (`?date=YYYY-MM-DD&view=day|week`), a free slot links to the
//! form with that start chosen (`&start=…`), and booking posts and
//! redirects to the confirmation.

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::{use_params_map, use_query_map};
use serde::{Deserialize, Serialize};

use crate::api::bookings::{BookSpace, CancelBooking, space_bookings};
use crate::api::spaces::{list_spaces, space_slots};
use crate::api::sync_status::space_sync_status;
use crate::components::field_error::{FieldError, FormError, form_error};
use crate::components::hydrated::island_hydrated;
use crate::components::refreshed::refreshed;
use crate::components::session::SessionActions;
use crate::components::sync_status::{LiveSync, SyncBadge};
use crate::models::{
    BookingView, GridDay, GridView, MAX_SLOTS_OFFERED, Role, SpaceGrid, SpaceView, SyncStatusView,
    UserView, space_sync_events_path,
};
use crate::wire::{Prop, resource};

#[component]
pub fn SpacesPage() -> impl IntoView {
    let spaces = resource(|| (), |_| list_spaces());
    view! {
        <Title text="Spaces" />
        <h1>"Spaces"</h1>
        <Suspense fallback=|| view! { <p class="muted">"Loading…"</p> }>
            {move || Suspend::new(async move {
                match spaces.await {
                    Ok(list) if list.is_empty() => view! {
                        <section class="card">
                            <p class="muted">"No bookable spaces have been set up yet."</p>
                        </section>
                    }.into_any(),
                    Ok(list) => view! {
                        <ul class="space-list" data-testid="space-list">
                            {list.into_iter().map(|s| view! { <SpaceCard space=s /> }).collect_view()}
                        </ul>
                    }.into_any(),
                    Err(e) => view! { <p class="error" role="alert">{e.to_string()}</p> }.into_any(),
                }
            })}
        </Suspense>
    }
}

#[component]
fn SpaceCard(space: SpaceView) -> impl IntoView {
    view! {
        <li class="card">
            <h2><a href=format!("/spaces/{}", space.id)>{space.name.clone()}</a></h2>
            <p class="muted">
                {space.location.clone()}" · up to "{space.capacity}" people · "
                {space.slot_minutes}"-minute slots · times in "{space.time_zone.clone()}
            </p>
        </li>
    }
}

/// What the query asks a space's page to show.
#[derive(Clone, PartialEq, Serialize, Deserialize)]
struct Shown {
    space_id: i64,
    date: String,
    view: GridView,
}

impl Shown {
    fn href(&self, date: &str, view: GridView) -> String {
        format!(
            "/spaces/{}?date={date}&view={}",
            self.space_id,
            view.value()
        )
    }
}

#[component]
pub fn SpacePage() -> impl IntoView {
    let params = use_params_map();
    let query = use_query_map();
    // Rendered on the server, once per request: the page reads the URL
    // as it is. Following a link (another date, a slot to book) loads the
    // page again.
    let shown = Shown {
        space_id: params
            .read_untracked()
            .get("id")
            .and_then(|id| id.parse().ok())
            .unwrap_or(0),
        date: query.read_untracked().get("date").unwrap_or_default(),
        view: GridView::from_query(query.read_untracked().get_str("view")),
    };
    let start = query.read_untracked().get("start");
    let book = ServerAction::<BookSpace>::new();
    let cancel = ServerAction::<CancelBooking>::new();
    let space_id = shown.space_id;
    let sync_status = resource(|| (), move |_| space_sync_status(space_id));
    let shown = StoredValue::new(shown);
    let slots = resource(
        move || shown.get_value(),
        |s| space_slots(s.space_id, s.date, s.view.value().to_owned()),
    );
    let session = SessionActions::get();
    view! {
        <Suspense fallback=|| view! { <p class="muted">"Loading…"</p> }>
            {move || Suspend::new(async move {
                // The grid shows the badge only: the detail (an admin's)
                // stays out of the island's props.
                let status = sync_status.await.ok().map(|mut s| {
                    s.detail = None;
                    s
                });
                match slots.await {
                    Ok(grid) => view! {
                        <Title text=grid.space.name.clone() />
                        <LiveSpaceGrid status=Prop(status) grid=Prop(grid) shown=Prop(shown.get_value()) />
                    }
                    .into_any(),
                    Err(e) => view! {
                        <h1>"Space"</h1>
                        <p class="error" role="alert">{e.to_string()}</p>
                        <p><a href="/spaces">"All spaces"</a></p>
                    }
                    .into_any(),
                }
            })}
        </Suspense>
        <Suspense>
            {move || {
                let start = start.clone();
                Suspend::new(async move {
                    let user = session.user.await.ok().flatten();
                    let shown = shown.get_value();
                    // An unknown space is already explained above.
                    slots.await.ok().map(|g| {
                        view! {
                            <BookingPanel grid=g.clone() shown=shown.clone() user=user.clone() start book />
                            {user
                                .filter(|u| u.role.satisfies(Role::Staff))
                                .map(|_| view! { <StaffBookings shown=shown.clone() cancel /> })}
                        }
                    })
                })
            }}
        </Suspense>
    }
}

/// The space's sync badge and its grid of slots, live: an island fed what
/// the server rendered. Each push on the space's status stream (a room
/// event placed or moved in Outlook, a booking written to the room)
/// fetches the slots again, so they change in an open page without a
/// reload. The booking form below is not part of it: rebuilding the form
/// under someone's hands would drop what they typed and silently switch a
/// slot that was just taken to another one. A slot taken meanwhile shows
/// as Unavailable here, and booking it answers "taken" next to Start.
#[island(lazy)]
fn LiveSpaceGrid(
    status: Prop<Option<SyncStatusView>>,
    grid: Prop<SpaceGrid>,
    shown: Prop<Shown>,
) -> impl IntoView {
    island_hydrated();
    let (Prop(status), Prop(grid), Prop(shown)) = (status, grid, shown);
    let live = LiveSync::listen(space_sync_events_path(shown.space_id));
    let fetch = {
        let s = shown.clone();
        move || space_slots(s.space_id, s.date.clone(), s.view.value().to_owned())
    };
    let grid = refreshed(grid, move || live.version.get(), fetch);
    view! {
        {status.map(|rendered| view! {
            <p class="space-sync">{move || view! { <SyncBadge view=live.latest(&rendered) /> }}</p>
        })}
        {move || {
            let g = grid.get();
            let shown = shown.clone();
            view! {
                <SpaceHeader space=g.space.clone() />
                <GridNavigation grid=g.clone() shown=shown.clone() />
                {match g.view {
                    GridView::Day => view! { <DayGrid grid=g.clone() shown /> }.into_any(),
                    GridView::Week => view! { <WeekGrid grid=g.clone() shown /> }.into_any(),
                }}
            }
        }}
    }
}

#[component]
fn SpaceHeader(space: SpaceView) -> impl IntoView {
    view! {
        <p class="crumbs"><a href="/spaces">"Spaces"</a>" ›"</p>
        <h1>{space.name.clone()}</h1>
        <p class="muted">
            {space.location.clone()}" · up to "{space.capacity}" people · "
            {space.slot_minutes}"-minute slots · bookable up to "{space.booking_window_days}
            " days ahead · times in "<strong>{space.time_zone.clone()}</strong>
        </p>
    }
}

#[component]
fn GridNavigation(grid: SpaceGrid, shown: Shown) -> impl IntoView {
    let view = grid.view;
    let (previous, next) = match view {
        GridView::Day => ("Previous day", "Next day"),
        GridView::Week => ("Previous week", "Next week"),
    };
    let current = |v: GridView| (v == view).then_some("page");
    view! {
        <nav class="grid-nav" aria-label="Dates">
            <a href=shown.href(&grid.previous, view) data-testid="grid-previous">{previous}</a>
            <a href=shown.href(&grid.today, view)>"Today"</a>
            <a href=shown.href(&grid.next, view) data-testid="grid-next">{next}</a>
            <span class="toggle">
                <a href=shown.href(&grid.date, GridView::Day) aria-current=current(GridView::Day)>"Day"</a>
                <a href=shown.href(&grid.date, GridView::Week) aria-current=current(GridView::Week)>"Week"</a>
            </span>
        </nav>
    }
}

/// A slot's cell: free slots link to the booking form with that start.
fn slot_cell(shown: &Shown, day: &GridDay, starts_at: &str, free: bool) -> AnyView {
    if free {
        let href = format!(
            "{}&start={}#book",
            shown.href(&day.date, GridView::Day),
            urlencoding::encode(starts_at)
        );
        view! { <a class="slot free" href=href data-starts-at=starts_at.to_owned()>"Free"</a> }
            .into_any()
    } else {
        view! { <span class="slot unavailable" data-starts-at=starts_at.to_owned()>"Unavailable"</span> }
            .into_any()
    }
}

#[component]
fn DayGrid(grid: SpaceGrid, shown: Shown) -> impl IntoView {
    let day = grid.days[0].clone();
    let caption = day.label.clone();
    view! {
        <h2>{caption}</h2>
        {if day.slots.is_empty() {
            view! { <p class="muted">"Closed on this day."</p> }.into_any()
        } else {
            view! {
                <table class="slot-grid day" data-testid="slot-grid">
                    <thead><tr><th scope="col">"Time"</th><th scope="col">"Availability"</th></tr></thead>
                    <tbody>
                        {day.slots.iter().map(|s| view! {
                            <tr>
                                <th scope="row">{format!("{}–{}", s.starts, s.ends)}</th>
                                <td>{slot_cell(&shown, &day, &s.starts_at, s.free)}</td>
                            </tr>
                        }).collect_view()}
                    </tbody>
                </table>
            }.into_any()
        }}
    }
}

#[component]
fn WeekGrid(grid: SpaceGrid, shown: Shown) -> impl IntoView {
    // Rows: every local start time any day of the week has.
    let mut times: Vec<String> = grid
        .days
        .iter()
        .flat_map(|d| d.slots.iter().map(|s| s.starts.clone()))
        .collect();
    times.sort();
    times.dedup();
    let days = grid.days.clone();
    let caption = format!(
        "Week of {}",
        days.first().map(|d| d.label.clone()).unwrap_or_default()
    );
    view! {
        <h2>{caption}</h2>
        {if times.is_empty() {
            view! { <p class="muted">"Closed all week."</p> }.into_any()
        } else {
            view! {
                <table class="slot-grid week" data-testid="slot-grid">
                    <thead>
                        <tr>
                            <th scope="col">"Time"</th>
                            {days.iter().map(|d| view! {
                                <th scope="col"><a href=shown.href(&d.date, GridView::Day)>{d.label.clone()}</a></th>
                            }).collect_view()}
                        </tr>
                    </thead>
                    <tbody>
                        {times.iter().map(|t| view! {
                            <tr>
                                <th scope="row">{t.clone()}</th>
                                {days.iter().map(|d| {
                                    let cell = d.slots.iter().find(|s| &s.starts == t).map(|s| {
                                        slot_cell(&shown, d, &s.starts_at, s.free)
                                    });
                                    view! { <td>{cell.unwrap_or_else(|| view! { <span class="slot closed">"–"</span> }.into_any())}</td> }
                                }).collect_view()}
                            </tr>
                        }).collect_view()}
                    </tbody>
                </table>
            }.into_any()
        }}
    }
}

/// The booking form, for anyone signed in; a sign-in link otherwise.
#[component]
fn BookingPanel(
    grid: SpaceGrid,
    shown: Shown,
    user: Option<UserView>,
    start: Option<String>,
    book: ServerAction<BookSpace>,
) -> impl IntoView {
    let Some(user) = user else {
        let here = shown.href(&grid.date, grid.view);
        let login = format!("/login?next={}", urlencoding::encode(&here));
        return view! {
            <section class="card" id="book">
                <p><a href=login data-testid="sign-in-to-book">"Sign in to book"</a>" a slot of this space."</p>
            </section>
        }
        .into_any();
    };
    let week = grid.view == GridView::Week;
    let free: Vec<(String, String)> = grid
        .days
        .iter()
        .flat_map(|d| {
            d.slots.iter().filter(|s| s.free).map(move |s| {
                let label = match week {
                    true => format!("{} {}–{}", d.label, s.starts, s.ends),
                    false => format!("{}–{}", s.starts, s.ends),
                };
                (s.starts_at.clone(), label)
            })
        })
        .collect();
    if free.is_empty() {
        return view! {
            <section class="card" id="book">
                <p class="muted">"No free slots to book here. Try another date."</p>
            </section>
        }
        .into_any();
    }
    let error = form_error(book);
    let on_behalf = user.role.satisfies(Role::Staff);
    let slot_minutes = grid.space.slot_minutes;
    view! {
        <section class="card" id="book" aria-labelledby="book-heading">
            <h2 id="book-heading">"Book"</h2>
            <ActionForm action=book attr:class="booking-form">
                <input type="hidden" name="space_id" value=grid.space.id.to_string() />
                <label>
                    "Start"
                    <select name="starts_at">
                        {free.into_iter().map(|(value, label)| {
                            let selected = start.as_deref() == Some(value.as_str());
                            view! { <option value=value selected=selected>{label}</option> }
                        }).collect_view()}
                    </select>
                </label>
                <FieldError error field="starts_at" />
                <label>
                    "Number of slots"
                    <select name="slots">
                        {(1..=MAX_SLOTS_OFFERED).map(|n| {
                            let label = format!(
                                "{n} slot{} ({} min)",
                                if n == 1 { "" } else { "s" },
                                n * slot_minutes
                            );
                            view! { <option value=n.to_string()>{label}</option> }
                        }).collect_view()}
                    </select>
                </label>
                <FieldError error field="slots" />
                {on_behalf.then(|| view! {
                    <p class="muted">"As staff you can book for a patron: enter their name and email."</p>
                })}
                <label>
                    "Name"
                    <input type="text" name="patron_name" required maxlength="200" value=user.display_name.clone() />
                </label>
                <FieldError error field="patron_name" />
                <label>
                    "Email"
                    <input type="email" name="patron_email" required maxlength="320" value=user.email.clone() readonly=!on_behalf />
                </label>
                <FieldError error field="patron_email" />
                <FormError error />
                <button type="submit" class="primary">"Book"</button>
            </ActionForm>
        </section>
    }
    .into_any()
}

/// Staff and admins: who booked the days shown, with Cancel.
#[component]
fn StaffBookings(shown: Shown, cancel: ServerAction<CancelBooking>) -> impl IntoView {
    let bookings = resource(
        move || cancel.version().get(),
        move |_| {
            let s = shown.clone();
            space_bookings(s.space_id, s.date, s.view.value().to_owned())
        },
    );
    view! {
        <section class="card" aria-labelledby="space-bookings">
            <h2 id="space-bookings">"Bookings (staff view)"</h2>
            <Suspense fallback=|| view! { <p class="muted">"Loading…"</p> }>
                {move || Suspend::new(async move {
                    match bookings.await {
                        Ok(list) => view! { <BookingTable bookings=list cancel show_space=false /> }.into_any(),
                        Err(e) => view! { <p class="error" role="alert">{e.to_string()}</p> }.into_any(),
                    }
                })}
            </Suspense>
        </section>
    }
}

/// Bookings with a Cancel button each (patron's own, or staff's view).
#[component]
pub fn BookingTable(
    bookings: Vec<BookingView>,
    cancel: ServerAction<CancelBooking>,
    show_space: bool,
) -> impl IntoView {
    if bookings.is_empty() {
        return view! { <p class="muted">"No bookings."</p> }.into_any();
    }
    let error = form_error(cancel);
    view! {
        <FormError error />
        <table class="bookings" data-testid="bookings">
            <thead>
                <tr>
                    {show_space.then(|| view! { <th scope="col">"Space"</th> })}
                    <th scope="col">"When"</th>
                    <th scope="col">"For"</th>
                    <th scope="col"><span class="visually-hidden">"Actions"</span></th>
                </tr>
            </thead>
            <tbody>
                {bookings.into_iter().map(|b| view! {
                    <tr data-booking-id=b.id.to_string()>
                        {show_space.then(|| view! {
                            <td><a href=format!("/spaces/{}", b.space_id)>{b.space_name.clone()}</a></td>
                        })}
                        <td>{b.when.clone()}</td>
                        <td>{b.patron_name.clone()}" ("{b.patron_email.clone()}")"</td>
                        <td>
                            <ActionForm action=cancel attr:class="inline">
                                <input type="hidden" name="booking_id" value=b.id.to_string() />
                                <button type="submit">"Cancel"</button>
                            </ActionForm>
                        </td>
                    </tr>
                }).collect_view()}
            </tbody>
        </table>
    }
    .into_any()
}
