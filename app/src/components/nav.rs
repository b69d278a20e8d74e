use leptos::prelude::*;
use leptos_router::components::A;

use crate::components::session::SessionActions;
use crate::models::Role;

#[component]
pub fn Nav() -> impl IntoView {
    let session = SessionActions::get();
    view! {
        <header class="topbar">
            <a class="brand" href="/">"Calbridge"</a>
            <nav aria-label="Main">
                <A href="/spaces">"Spaces"</A>
                <A href="/appointments">"Appointments"</A>
                <Transition fallback=|| ()>
                    {move || Suspend::new(async move {
                        let user = session.user.await.ok().flatten();
                        let admin = user.as_ref().is_some_and(|u| u.role.satisfies(Role::Admin));
                        let staff = user.as_ref().is_some_and(|u| u.role.satisfies(Role::Staff));
                        let signed_in = user.is_some();
                        view! {
                            <Show when=move || signed_in>
                                <A href="/bookings">"My bookings"</A>
                            </Show>
                            <Show when=move || staff>
                                <A href="/staff/appointments">"My appointment settings"</A>
                            </Show>
                            <Show when=move || admin>
                                <A href="/admin/staff">"Admin › Staff"</A>
                            </Show>
                            <Show when=move || admin>
                                <A href="/admin/spaces">"Admin › Spaces"</A>
                                <A href="/admin/outbox">"Outbox"</A>
                                <A href="/admin/sync">"Sync status"</A>
                                <A href="/admin/integrations">"Admin › Integrations"</A>
                            </Show>
                            {match user {
                                Some(u) => view! {
                                    <span class="whoami" data-testid="whoami">
                                        {u.display_name} " (" {u.role.label()} ")"
                                    </span>
                                    <ActionForm action=session.logout attr:class="inline">
                                        <button type="submit">"Sign out"</button>
                                    </ActionForm>
                                }.into_any(),
                                None => view! { <A href="/login">"Sign in"</A> }.into_any(),
                            }}
                        }
                    })}
                </Transition>
            </nav>
        </header>
    }
}
