//! Admin › Spaces: every space (retired ones too), the create / edit form
//! (`?edit=ID`), and Retire. Plain forms that post and redirect, so it
//! works without JavaScript; saving redirects to `?saved=ID`.

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_query_map;

use crate::api::spaces::{RetireSpace, SaveSpace, admin_spaces};
use crate::components::field_error::{FieldError, FormError, form_error};
use crate::components::require_role::RequireRole;
use crate::models::{Role, SpaceView, WEEKDAYS, hours_text};
use crate::wire::resource;

#[component]
pub fn AdminSpacesPage() -> impl IntoView {
    view! {
        <Title text="Admin › Spaces" />
        <RequireRole role=Role::Admin>
            <h1>"Admin › Spaces"</h1>
            <SpacesAdmin />
        </RequireRole>
    }
}

#[component]
fn SpacesAdmin() -> impl IntoView {
    let query = use_query_map();
    let save = ServerAction::<SaveSpace>::new();
    let retire = ServerAction::<RetireSpace>::new();
    let spaces = resource(
        move || (save.version().get(), retire.version().get()),
        |_| admin_spaces(),
    );
    let param = move |name: &str| query.read().get(name).and_then(|id| id.parse::<i64>().ok());
    view! {
        <Suspense fallback=|| view! { <p class="muted">"Loading…"</p> }>
            {move || Suspend::new(async move {
                let (saved, edit) = (param("saved"), param("edit"));
                match spaces.await {
                    Ok(list) => {
                        let saved = saved.and_then(|id| list.iter().find(|s| s.id == id).cloned());
                        let editing = edit.and_then(|id| list.iter().find(|s| s.id == id).cloned());
                        view! {
                            {saved.map(|s| view! {
                                <p class="banner success" role="status" data-testid="space-saved">
                                    "Saved “"{s.name.clone()}"”. "
                                    <a href=format!("/spaces/{}", s.id)>"Open its booking page"</a>
                                </p>
                            })}
                            <SpaceTable spaces=list retire />
                            <SpaceForm space=editing save />
                        }
                        .into_any()
                    }
                    Err(e) => view! { <p class="error" role="alert">{e.to_string()}</p> }.into_any(),
                }
            })}
        </Suspense>
    }
}

#[component]
fn SpaceTable(spaces: Vec<SpaceView>, retire: ServerAction<RetireSpace>) -> impl IntoView {
    let error = form_error(retire);
    view! {
        <section class="card" aria-labelledby="all-spaces">
            <h2 id="all-spaces">"Spaces"</h2>
            <FormError error />
            {if spaces.is_empty() {
                view! { <p class="muted">"No spaces yet. Create one below."</p> }.into_any()
            } else {
                view! {
                    <table class="spaces" data-testid="admin-spaces">
                        <thead>
                            <tr>
                                <th scope="col">"Name"</th>
                                <th scope="col">"Location"</th>
                                <th scope="col">"Capacity"</th>
                                <th scope="col">"Time zone"</th>
                                <th scope="col">"Slot"</th>
                                <th scope="col">"Window"</th>
                                <th scope="col">"Status"</th>
                                <th scope="col"><span class="visually-hidden">"Actions"</span></th>
                            </tr>
                        </thead>
                        <tbody>
                            {spaces.into_iter().map(|s| view! {
                                <tr data-space-id=s.id.to_string()>
                                    <td><a href=format!("/spaces/{}", s.id)>{s.name.clone()}</a></td>
                                    <td>{s.location.clone()}</td>
                                    <td>{s.capacity}</td>
                                    <td>{s.time_zone.clone()}</td>
                                    <td>{s.slot_minutes}" min"</td>
                                    <td>{s.booking_window_days}" days"</td>
                                    <td>{if s.retired { "Retired" } else { "Bookable" }}</td>
                                    <td class="actions">
                                        <a href=format!("/admin/spaces?edit={}#space-form", s.id)>"Edit"</a>
                                        {(!s.retired).then(|| view! {
                                            <ActionForm action=retire attr:class="inline">
                                                <input type="hidden" name="space_id" value=s.id.to_string() />
                                                <button type="submit">"Retire"</button>
                                            </ActionForm>
                                        })}
                                    </td>
                                </tr>
                            }).collect_view()}
                        </tbody>
                    </table>
                }.into_any()
            }}
        </section>
    }
}

#[component]
fn SpaceForm(space: Option<SpaceView>, save: ServerAction<SaveSpace>) -> impl IntoView {
    let error = form_error(save);
    let heading = match &space {
        Some(s) => format!("Edit “{}”", s.name),
        None => "New space".to_owned(),
    };
    let s = space.clone().unwrap_or(SpaceView {
        id: 0,
        name: String::new(),
        location: String::new(),
        capacity: 1,
        time_zone: "Europe/London".to_owned(),
        slot_minutes: 30,
        booking_window_days: 14,
        retired: false,
        hours: Vec::new(),
    });
    view! {
        <section class="card" id="space-form" aria-labelledby="space-form-heading">
            <h2 id="space-form-heading">{heading}</h2>
            <ActionForm action=save attr:class="space-form">
                <input type="hidden" name="space_id" value=s.id.to_string() />
                <label>"Name"<input type="text" name="name" required maxlength="200" value=s.name.clone() /></label>
                <FieldError error field="name" />
                <label>"Location"<input type="text" name="location" maxlength="200" value=s.location.clone() /></label>
                <FieldError error field="location" />
                <label>"Capacity"<input type="number" name="capacity" min="1" max="10000" required value=s.capacity.to_string() /></label>
                <FieldError error field="capacity" />
                <label>
                    "Time zone"
                    <input type="text" name="time_zone" required value=s.time_zone.clone() spellcheck="false" />
                    <span class="muted">"An IANA time zone, e.g. Europe/London or America/New_York."</span>
                </label>
                <FieldError error field="time_zone" />
                <label>"Slot length (minutes)"<input type="number" name="slot_minutes" min="5" max="1440" step="5" required value=s.slot_minutes.to_string() /></label>
                <FieldError error field="slot_minutes" />
                <label>"Booking window (days ahead)"<input type="number" name="booking_window_days" min="1" max="366" required value=s.booking_window_days.to_string() /></label>
                <FieldError error field="booking_window_days" />
                <fieldset>
                    <legend>"Bookable hours"</legend>
                    <span class="muted">"Local time, like 09:00-17:00; several periods with commas (09:00-12:00, 13:00-17:00). Empty: closed."</span>
                    {(0u8..7).map(|weekday| {
                        let field: &'static str = ["hours_0", "hours_1", "hours_2", "hours_3", "hours_4", "hours_5", "hours_6"][weekday as usize];
                        view! {
                            <label class="hours">
                                {format!("{} hours", WEEKDAYS[weekday as usize])}
                                <input type="text" name=field value=hours_text(&s.hours, weekday) placeholder="closed" spellcheck="false" />
                            </label>
                            <FieldError error field />
                        }
                    }).collect_view()}
                    <FieldError error field="hours" />
                </fieldset>
                <FormError error />
                <button type="submit" class="primary">{if s.id == 0 { "Create space" } else { "Save space" }}</button>
                {(s.id != 0).then(|| view! { " "<a href="/admin/spaces">"New space instead"</a> })}
            </ActionForm>
        </section>
    }
}
