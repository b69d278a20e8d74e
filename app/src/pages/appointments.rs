//! Appointments for patrons: pick a staff member, see their open times day
//! by day (`?staff=ID&date=YYYY-MM-DD`), book with name, email and a
//! question; and "My appointments" with the confirmation and Cancel.
//! Links and plain forms only, so it all works without JavaScript.

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_query_map;

use crate::api::appointments::{
    BookAppointment, CancelAppointment, appointment_staff, appointment_times, my_appointments,
};
use crate::components::field_error::{FieldError, FormError, form_error};
use crate::components::require_role::RequireRole;
use crate::components::session::SessionActions;
use crate::models::{AppointmentDay, AppointmentView, Role, UserView};
use crate::wire::resource;

#[component]
pub fn AppointmentsPage() -> impl IntoView {
    let query = use_query_map();
    let staff_id = Memo::new(move |_| {
        query
            .read()
            .get("staff")
            .and_then(|s| s.parse::<i64>().ok())
    });
    let date = Memo::new(move |_| query.read().get("date").unwrap_or_default());
    let staff = resource(|| (), |_| appointment_staff());
    let book = ServerAction::<BookAppointment>::new();
    let day = resource(
        move || (staff_id.get(), date.get(), book.version().get()),
        |(id, date, _)| async move {
            match id {
                Some(id) => appointment_times(id, date).await.map(Some),
                None => Ok(None),
            }
        },
    );
    let session = SessionActions::get();
    view! {
        <Title text="Appointments" />
        <h1>"Appointments"</h1>
        <p><a href="/appointments/mine">"My appointments"</a></p>
        <Suspense fallback=|| view! { <p class="muted">"Loading…"</p> }>
            {move || Suspend::new(async move {
                match staff.await {
                    Ok(list) if list.is_empty() => view! {
                        <section class="card">
                            <p class="muted">"No staff members offer appointments yet."</p>
                        </section>
                    }.into_any(),
                    Ok(list) => {
                        let chosen = staff_id.get_untracked();
                        view! {
                            <ul class="staff-list" data-testid="staff-list">
                                {list.into_iter().map(|s| {
                                    let current = (Some(s.user_id) == chosen).then_some("page");
                                    view! {
                                        <li class="card">
                                            <h2>
                                                <a href=format!("/appointments?staff={}", s.user_id) aria-current=current>
                                                    {s.name.clone()}
                                                </a>
                                            </h2>
                                            <p class="muted">
                                                {s.appointment_minutes}" minutes · "{s.location.clone()}
                                                " · times in "{s.time_zone.clone()}
                                            </p>
                                        </li>
                                    }
                                }).collect_view()}
                            </ul>
                        }.into_any()
                    }
                    Err(e) => view! { <p class="error" role="alert">{e.to_string()}</p> }.into_any(),
                }
            })}
        </Suspense>
        <Suspense fallback=|| ()>
            {move || Suspend::new(async move {
                let user = session.user.await.ok().flatten();
                match day.await {
                    Ok(Some(d)) => view! { <DayOfSlots day=d user book /> }.into_any(),
                    Ok(None) => ().into_any(),
                    Err(e) => view! { <p class="error" role="alert">{e.to_string()}</p> }.into_any(),
                }
            })}
        </Suspense>
    }
}

#[component]
fn DayOfSlots(
    day: AppointmentDay,
    user: Option<UserView>,
    book: ServerAction<BookAppointment>,
) -> impl IntoView {
    let id = day.staff.user_id;
    let href = move |date: &str| format!("/appointments?staff={id}&date={date}");
    let error = form_error(book);
    view! {
        <section class="card" aria-labelledby="open-times" data-testid="open-times">
            <h2 id="open-times">{format!("{} — {}", day.staff.name, day.label)}</h2>
            <nav class="grid-nav" aria-label="Dates">
                <a href=href(&day.previous) data-testid="day-previous">"Previous day"</a>
                <a href=href(&day.today)>"Today"</a>
                <a href=href(&day.next) data-testid="day-next">"Next day"</a>
            </nav>
            {if day.slots.is_empty() {
                view! { <p class="muted" data-testid="no-slots">"No open times on this day."</p> }.into_any()
            } else {
                match user {
                    None => view! {
                        <ul class="slot-list">
                            {day.slots.iter().map(|s| view! { <li>{format!("{}–{}", s.starts, s.ends)}</li> }).collect_view()}
                        </ul>
                        <p>
                            <a href=format!("/login?next={}", urlencoding::encode(&href(&day.date)))>"Sign in"</a>
                            " to book an appointment."
                        </p>
                    }.into_any(),
                    Some(u) => view! {
                        <ActionForm action=book attr:class="appointment-form">
                            <input type="hidden" name="staff_id" value=id.to_string() />
                            <fieldset>
                                <legend>"Choose a time"</legend>
                                <div class="slot-choices" data-testid="slot-choices">
                                    {day.slots.iter().enumerate().map(|(i, s)| view! {
                                        <label class="inline slot-choice">
                                            <input type="radio" name="starts_at" value=s.starts_at.clone() required checked={i == 0} />
                                            {format!("{}–{}", s.starts, s.ends)}
                                        </label>
                                    }).collect_view()}
                                </div>
                            </fieldset>
                            <FieldError error field="starts_at" />
                            <label>
                                "Your name"
                                <input type="text" name="patron_name" value=u.display_name.clone() required maxlength="200" />
                            </label>
                            <FieldError error field="patron_name" />
                            <label>
                                "Your email"
                                <input type="email" name="patron_email" value=u.email.clone() required />
                            </label>
                            <FieldError error field="patron_email" />
                            <label>
                                "Your question"
                                <textarea name="question" rows="4" maxlength="2000"></textarea>
                            </label>
                            <FieldError error field="question" />
                            <FormError error />
                            <button type="submit" class="primary">"Book appointment"</button>
                        </ActionForm>
                    }.into_any(),
                }
            }}
        </section>
    }
}

#[component]
pub fn MyAppointmentsPage() -> impl IntoView {
    view! {
        <Title text="My appointments" />
        <RequireRole role=Role::Patron>
            <h1>"My appointments"</h1>
            <MyAppointments />
        </RequireRole>
    }
}

#[component]
fn MyAppointments() -> impl IntoView {
    let query = use_query_map();
    let booked = Memo::new(move |_| {
        query
            .read()
            .get("booked")
            .and_then(|b| b.parse::<i64>().ok())
    });
    let cancel = ServerAction::<CancelAppointment>::new();
    let list = resource(move || cancel.version().get(), |_| my_appointments());
    let error = form_error(cancel);
    view! {
        <FormError error />
        <Suspense fallback=|| view! { <p class="muted">"Loading…"</p> }>
            {move || Suspend::new(async move {
                match list.await {
                    Ok(items) => {
                        let confirmed = booked
                            .get_untracked()
                            .and_then(|id| items.iter().find(|a| a.id == id && a.active).cloned());
                        view! {
                            {confirmed.map(|a| view! {
                                <p class="banner success" role="status" data-testid="booked-confirmation">
                                    {format!("Booked: {} with {}. ", a.when, a.staff_name)}{a.location.clone()}
                                </p>
                            })}
                            {if items.is_empty() {
                                view! { <p class="muted">"You have no appointments."</p> }.into_any()
                            } else {
                                view! {
                                    <ul class="appointment-list" data-testid="my-appointments">
                                        {items.into_iter().map(|a| view! { <AppointmentItem a cancel /> }).collect_view()}
                                    </ul>
                                }.into_any()
                            }}
                        }.into_any()
                    }
                    Err(e) => view! { <p class="error" role="alert">{e.to_string()}</p> }.into_any(),
                }
            })}
        </Suspense>
        <p><a href="/appointments">"Book another appointment"</a></p>
    }
}

#[component]
fn AppointmentItem(a: AppointmentView, cancel: ServerAction<CancelAppointment>) -> impl IntoView {
    view! {
        <li class="card" data-appointment-id=a.id.to_string()>
            <strong>{a.when.clone()}</strong>" with "{a.staff_name.clone()}
            <p class="muted">{a.location.clone()}</p>
            {(!a.question.is_empty()).then(|| view! { <p>{a.question.clone()}</p> })}
            {if a.active {
                view! {
                    <ActionForm action=cancel attr:class="inline">
                        <input type="hidden" name="appointment_id" value=a.id.to_string() />
                        <button type="submit" class="danger">"Cancel"</button>
                    </ActionForm>
                }.into_any()
            } else {
                view! { <p class="muted">"Cancelled"</p> }.into_any()
            }}
        </li>
    }
}
