//! `/staff/sync`: a staff member's sync settings. Each kind of sync is its
//! own section component: the Outlook connection (OAuth 2), and below it
//! the legacy password settings that connecting replaces.

use leptos::prelude::*;
use leptos_meta::Title;

use crate::components::legacy_exchange::LegacyExchangeSection;
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
            <LegacyExchangeSection owner_kind="staff" owner_id=Signal::stored(0) />
        </RequireRole>
    }
}
