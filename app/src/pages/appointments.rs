use leptos::prelude::*;
use leptos_meta::Title;

#[component]
pub fn AppointmentsPage() -> impl IntoView {
    view! {
        <Title text="Appointments" />
        <h1>"Appointments"</h1>
        <section class="card">
            <p class="muted">"No staff members offer appointments yet."</p>
        </section>
    }
}
