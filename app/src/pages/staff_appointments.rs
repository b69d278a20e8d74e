//! `/staff/appointments`: a staff member's appointment settings (hours per
//! weekday, days off, length, location, zone, booking window) and their
//! upcoming appointments with Reschedule and Cancel. Plain forms.

use leptos::prelude::*;
use leptos_meta::Title;

use crate::api::appointments::{CancelAppointment, RescheduleAppointment, staff_appointments};
use crate::api::staff::{AddDayOff, RemoveDayOff, SaveStaffSettings, my_staff_settings};
use crate::components::field_error::{FieldError, FormError, form_error};
use crate::components::require_role::RequireRole;
use crate::components::url_error::url_done;
use crate::models::{APPOINTMENT_WEEKDAYS, AppointmentView, Done, Role, StaffSettingsView};
use crate::wire::resource;

#[component]
pub fn StaffAppointmentsPage() -> impl IntoView {
    view! {
        <Title text="My appointment settings" />
        <RequireRole role=Role::Staff>
            <h1>"Appointments"</h1>
            <p><a href="/staff/sync">"Sync settings"</a></p>
            <SettingsSections />
            <UpcomingAppointments />
        </RequireRole>
    }
}

#[component]
fn SettingsSections() -> impl IntoView {
    let save = ServerAction::<SaveStaffSettings>::new();
    let add = ServerAction::<AddDayOff>::new();
    let remove = ServerAction::<RemoveDayOff>::new();
    let settings = resource(
        move || {
            (
                save.version().get(),
                add.version().get(),
                remove.version().get(),
            )
        },
        |_| my_staff_settings(),
    );
    view! {
        <Suspense fallback=|| view! { <p class="muted">"Loading…"</p> }>
            {move || Suspend::new(async move {
                match settings.await {
                    Ok(s) => view! {
                        <SettingsForm s=s.clone() save />
                        <DaysOff s add remove />
                    }.into_any(),
                    Err(e) => view! { <p class="error" role="alert">{e.to_string()}</p> }.into_any(),
                }
            })}
        </Suspense>
    }
}

#[component]
fn SettingsForm(s: StaffSettingsView, save: ServerAction<SaveStaffSettings>) -> impl IntoView {
    let error = form_error(save);
    let saved = url_done(&[Done::StaffSettingsSaved]);
    let online = s.location_kind == "online";
    view! {
        <section class="card" aria-labelledby="appointment-settings">
            <h2 id="appointment-settings">"Settings"</h2>
            <p data-testid="appointments-status">
                {if s.appointments_enabled {
                    "Patrons can book appointments with you."
                } else {
                    "Appointments are switched off for you; an administrator can switch them on."
                }}
            </p>
            <ActionForm action=save attr:class="staff-settings">
                <fieldset>
                    <legend>"Weekly hours (e.g. 09:00-12:00, 13:00-17:00; empty = not available)"</legend>
                    {APPOINTMENT_WEEKDAYS.iter().enumerate().map(|(i, name)| view! {
                        <label>
                            {*name}
                            <input type="text" name=format!("hours_{i}") value=s.hours.get(i).cloned().unwrap_or_default() />
                        </label>
                    }).collect_view()}
                </fieldset>
                <FieldError error field="hours" />
                <label>
                    "Appointment length (minutes, 15–240)"
                    <input type="number" name="appointment_minutes" min="15" max="240" step="5" value=s.appointment_minutes.to_string() />
                </label>
                <FieldError error field="appointment_minutes" />
                <fieldset>
                    <legend>"Location"</legend>
                    <label class="inline">
                        <input type="radio" name="location_kind" value="in_person" checked=!online />
                        "In person"
                    </label>
                    <label class="inline">
                        <input type="radio" name="location_kind" value="online" checked=online />
                        "Online"
                    </label>
                </fieldset>
                <FieldError error field="location_kind" />
                <label>
                    "Where (a room, or a meeting link)"
                    <input type="text" name="location" value=s.location.clone() maxlength="300" />
                </label>
                <FieldError error field="location" />
                <label>
                    "Time zone (IANA, e.g. Europe/London)"
                    <input type="text" name="time_zone" value=s.time_zone.clone() />
                </label>
                <FieldError error field="time_zone" />
                <label>
                    "Booking window (days ahead)"
                    <input type="number" name="booking_window_days" min="1" max="366" value=s.booking_window_days.to_string() />
                </label>
                <FieldError error field="booking_window_days" />
                <FormError error />
                {saved.map(|d| view! { <p class="success" role="status">{d.message()}</p> })}
                <button type="submit" class="primary">"Save settings"</button>
            </ActionForm>
        </section>
    }
}

#[component]
fn DaysOff(
    s: StaffSettingsView,
    add: ServerAction<AddDayOff>,
    remove: ServerAction<RemoveDayOff>,
) -> impl IntoView {
    let error = form_error(add);
    let remove_error = form_error(remove);
    view! {
        <section class="card" aria-labelledby="days-off">
            <h2 id="days-off">"Days off"</h2>
            {if s.days_off.is_empty() {
                view! { <p class="muted">"No days off."</p> }.into_any()
            } else {
                view! {
                    <ul data-testid="days-off">
                        {s.days_off.into_iter().map(|d| view! {
                            <li>
                                {d.day.clone()}{(!d.note.is_empty()).then(|| format!(" — {}", d.note))}" "
                                <ActionForm action=remove attr:class="inline">
                                    <input type="hidden" name="day" value=d.day.clone() />
                                    <button type="submit">"Remove"</button>
                                </ActionForm>
                            </li>
                        }).collect_view()}
                    </ul>
                }.into_any()
            }}
            <FormError error=remove_error />
            <ActionForm action=add attr:class="day-off-form">
                <label>"Day" <input type="date" name="day" required /></label>
                <FieldError error field="day" />
                <label>"Note (optional)" <input type="text" name="note" maxlength="200" /></label>
                <FieldError error field="note" />
                <FormError error />
                <button type="submit">"Add day off"</button>
            </ActionForm>
        </section>
    }
}

#[component]
fn UpcomingAppointments() -> impl IntoView {
    let reschedule = ServerAction::<RescheduleAppointment>::new();
    let cancel = ServerAction::<CancelAppointment>::new();
    let list = resource(
        move || (reschedule.version().get(), cancel.version().get()),
        |_| staff_appointments(),
    );
    let error = form_error(reschedule);
    let cancel_error = form_error(cancel);
    view! {
        <section class="card" aria-labelledby="upcoming">
            <h2 id="upcoming">"Upcoming appointments"</h2>
            <FieldError error field="starts_at" />
            <FormError error />
            <FormError error=cancel_error />
            <Suspense fallback=|| view! { <p class="muted">"Loading…"</p> }>
                {move || Suspend::new(async move {
                    match list.await {
                        Ok(items) if items.is_empty() => view! { <p class="muted">"No upcoming appointments."</p> }.into_any(),
                        Ok(items) => view! {
                            <ul class="appointment-list" data-testid="staff-appointments">
                                {items.into_iter().map(|a| view! { <StaffItem a reschedule cancel /> }).collect_view()}
                            </ul>
                        }.into_any(),
                        Err(e) => view! { <p class="error" role="alert">{e.to_string()}</p> }.into_any(),
                    }
                })}
            </Suspense>
        </section>
    }
}

#[component]
fn StaffItem(
    a: AppointmentView,
    reschedule: ServerAction<RescheduleAppointment>,
    cancel: ServerAction<CancelAppointment>,
) -> impl IntoView {
    view! {
        <li data-appointment-id=a.id.to_string()>
            <strong>{a.when.clone()}</strong>" · "{a.patron_name.clone()}" <"{a.patron_email.clone()}">"
            {(!a.question.is_empty()).then(|| view! { <p class="muted">{a.question.clone()}</p> })}
            <ActionForm action=reschedule attr:class="inline">
                <input type="hidden" name="appointment_id" value=a.id.to_string() />
                <label class="inline">
                    "New time "
                    <input type="datetime-local" name="starts_at" value=a.local_start.clone() required />
                </label>
                <button type="submit">"Reschedule"</button>
            </ActionForm>
            " "
            <ActionForm action=cancel attr:class="inline">
                <input type="hidden" name="appointment_id" value=a.id.to_string() />
                <button type="submit" class="danger">"Cancel"</button>
            </ActionForm>
        </li>
    }
}
