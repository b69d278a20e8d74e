//! `/staff/sync`: a staff member's sync settings. Each kind of sync is its
//! own section component: the Outlook connection (OAuth 2), and below it
//! the legacy password settings that connecting replaces.

use leptos::prelude::*;
use leptos_meta::Title;

use crate::api::sync_status::my_sync_status;
use crate::components::legacy_exchange::LegacyExchangeSection;
use crate::components::outlook_connection::OutlookConnection;
use crate::components::require_role::RequireRole;
use crate::components::sync_status::LiveSyncCard;
use crate::models::{MY_SYNC_EVENTS_PATH, Role};
use crate::wire::resource;

#[component]
pub fn StaffSyncPage() -> impl IntoView {
    // Made here, outside RequireRole (see components/require_role.rs).
    let status = resource(|| (), |_| my_sync_status());
    view! {
        <Title text="Sync settings" />
        <RequireRole role=Role::Staff>
            <h1>"Sync settings"</h1>
            <LiveSyncCard status path=MY_SYNC_EVENTS_PATH.to_owned() />
            <OutlookConnection />
            <LegacyExchangeSection owner_kind="staff" owner_id=Signal::stored(0) />
        </RequireRole>
    }
}
