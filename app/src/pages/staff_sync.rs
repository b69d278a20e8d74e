//! `/staff/sync`: a staff member's sync settings. Each kind of sync is its
//! own section component, so others (the Outlook connection) sit beside
//! the legacy password settings.

use leptos::prelude::*;
use leptos_meta::Title;

use crate::components::legacy_exchange::LegacyExchangeSection;
use crate::components::require_role::RequireRole;
use crate::models::Role;

#[component]
pub fn StaffSyncPage() -> impl IntoView {
    view! {
        <Title text="Sync settings" />
        <RequireRole role=Role::Staff>
            <h1>"Sync settings"</h1>
            <LegacyExchangeSection owner_kind="staff" owner_id=Signal::stored(0) />
        </RequireRole>
    }
}
