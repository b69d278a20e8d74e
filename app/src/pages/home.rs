use leptos::prelude::*;
use leptos_meta::Title;

use crate::components::session::SessionActions;

#[component]
pub fn HomePage() -> impl IntoView {
    let session = SessionActions::get();
    view! {
        <Title text="" />
        <section class="card">
            <h1>"Welcome to Calbridge"</h1>
            <p>
                "Book a study room or group space, or make an appointment with a librarian. "
                "Bookings and appointments can appear in the Outlook calendars of the staff and rooms involved."
            </p>
            <ul class="links">
                <li><a href="/spaces">"Book a space"</a></li>
                <li><a href="/appointments">"Make an appointment"</a></li>
            </ul>
            <Transition fallback=|| ()>
                {move || Suspend::new(async move {
                    match session.user.await.ok().flatten() {
                        Some(u) => view! { <p>"You are signed in as " {u.email} "."</p> }.into_any(),
                        None => view! { <p><a href="/login">"Sign in"</a> " to manage your bookings."</p> }.into_any(),
                    }
                })}
            </Transition>
        </section>
    }
}
