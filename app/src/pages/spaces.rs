use leptos::prelude::*;
use leptos_meta::Title;

#[component]
pub fn SpacesPage() -> impl IntoView {
    view! {
        <Title text="Spaces" />
        <h1>"Spaces"</h1>
        <section class="card">
            <p class="muted">"No bookable spaces have been set up yet."</p>
        </section>
    }
}
