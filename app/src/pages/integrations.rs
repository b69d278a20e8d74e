use leptos::prelude::*;
use leptos_meta::Title;

use crate::components::require_role::RequireRole;
use crate::models::Role;

/// Admin › Integrations. The Outlook sync settings box is filled in by the
/// Integrations issue; this page already carries its guard and place.
#[component]
pub fn IntegrationsPage() -> impl IntoView {
    view! {
        <Title text="Admin › Integrations" />
        <RequireRole role=Role::Admin>
            <h1>"Admin › Integrations"</h1>
            <section class="card" aria-labelledby="outlook-sync">
                <h2 id="outlook-sync">"OAuth2 Outlook/Exchange Calendar Sync"</h2>
                <p class="muted">
                    "Connect Calbridge to Microsoft Entra to sync appointments and spaces with Outlook. "
                    "The settings form is not available in this version yet."
                </p>
            </section>
        </RequireRole>
    }
}
