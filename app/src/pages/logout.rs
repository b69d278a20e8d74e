use leptos::prelude::*;
use leptos_meta::Title;

use crate::components::session::SessionActions;

/// A page of its own so signing out also works from a bookmark and
/// without JavaScript.
#[component]
pub fn LogoutPage() -> impl IntoView {
    let session = SessionActions::get();
    view! {
        <Title text="Sign out" />
        <section class="card narrow">
            <h1>"Sign out"</h1>
            <p>"Sign out of Calbridge on this browser?"</p>
            <ActionForm action=session.logout>
                <button type="submit" class="primary">"Sign out"</button>
            </ActionForm>
        </section>
    }
}
