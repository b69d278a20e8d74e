//! Admin › Staff: every staff and admin account with its appointments
//! switch, and a link to each one's sync settings.

use leptos::prelude::*;
use leptos_meta::Title;

use crate::api::staff::{SetStaffAppointments, staff_accounts};
use crate::components::field_error::{FormError, form_error};
use crate::components::require_role::RequireRole;
use crate::models::Role;
use crate::wire::resource;

#[component]
pub fn AdminStaffPage() -> impl IntoView {
    view! {
        <Title text="Admin › Staff" />
        <RequireRole role=Role::Admin>
            <h1>"Admin › Staff"</h1>
            <StaffTable />
        </RequireRole>
    }
}

#[component]
fn StaffTable() -> impl IntoView {
    let switch = ServerAction::<SetStaffAppointments>::new();
    let accounts = resource(move || switch.version().get(), |_| staff_accounts());
    let error = form_error(switch);
    view! {
        <FormError error />
        <Suspense fallback=|| view! { <p class="muted">"Loading…"</p> }>
            {move || Suspend::new(async move {
                match accounts.await {
                    Ok(list) => view! {
                        <table class="staff-table" data-testid="staff-table">
                            <thead>
                                <tr>
                                    <th scope="col">"Name"</th>
                                    <th scope="col">"Email"</th>
                                    <th scope="col">"Role"</th>
                                    <th scope="col">"Appointments"</th>
                                    <th scope="col">"Sync"</th>
                                </tr>
                            </thead>
                            <tbody>
                                {list.into_iter().map(|a| view! {
                                    <tr data-email=a.email.clone()>
                                        <td>{a.name.clone()}</td>
                                        <td>{a.email.clone()}</td>
                                        <td>{a.role.label()}</td>
                                        <td>
                                            <span data-testid="appointments-state">{if a.appointments_enabled { "On" } else { "Off" }}</span>" "
                                            <ActionForm action=switch attr:class="inline">
                                                <input type="hidden" name="user_id" value=a.user_id.to_string() />
                                                <input type="hidden" name="enabled" value=(!a.appointments_enabled).to_string() />
                                                <button type="submit">{if a.appointments_enabled { "Turn off" } else { "Turn on" }}</button>
                                            </ActionForm>
                                        </td>
                                        <td><a href=format!("/admin/staff/{}/sync", a.user_id)>"Sync settings"</a></td>
                                    </tr>
                                }).collect_view()}
                            </tbody>
                        </table>
                    }.into_any(),
                    Err(e) => view! { <p class="error" role="alert">{e.to_string()}</p> }.into_any(),
                }
            })}
        </Suspense>
    }
}
