//! `/staff/sync`: a staff member's sync settings. The Outlook connection
//! lives in its own component, so other sections (legacy password
//! settings) sit beside it.

use leptos::prelude::*;
use leptos_meta::Title;

use crate::components::outlook_connection::OutlookConnection;
use crate::components::require_role::RequireRole;
use crate::models::Role;

#[component]
pub fn StaffSyncPage() -> impl IntoView {
    view! {
        <Title text="Sync settings" />
        <RequireRole role=Role::Staff>
            <h1>"Sync settings"</h1>
            <OutlookConnection />
        </RequireRole>
    }
}
