//! Admins' view of one space's or one staff member's sync settings:
//! `/admin/spaces/:id/sync` and `/admin/staff/:id/sync`. Composed of
//! section components like `/staff/sync`.

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_params_map;

use crate::api::sync_status::space_sync_status;
use crate::components::legacy_exchange::LegacyExchangeSection;
use crate::components::require_role::RequireRole;
use crate::components::room_connection::{RoomConnectionData, RoomConnectionSection};
use crate::components::sync_status::LiveSyncCard;
use crate::models::{Role, space_sync_events_path};
use crate::wire::resource;

fn id_param() -> Signal<i64> {
    let params = use_params_map();
    Signal::derive(move || {
        params
            .read()
            .get("id")
            .and_then(|id| id.parse().ok())
            .unwrap_or(-1)
    })
}

#[component]
pub fn AdminSpaceSyncPage() -> impl IntoView {
    let id = id_param();
    // Made here, outside RequireRole (see the lead's note on resources).
    let rooms = RoomConnectionData::new(id);
    let status = resource(move || id.get(), space_sync_status);
    view! {
        <Title text="Space sync settings" />
        <RequireRole role=Role::Admin>
            <p class="crumbs"><a href="/admin/sync">"Admin › Sync status"</a>" ›"</p>
            <h1>"Space sync settings"</h1>
            <LiveSyncCard status path=space_sync_events_path(id.get_untracked()) />
            <RoomConnectionSection data=rooms />
            <LegacyExchangeSection owner_kind="space" owner_id=id />
        </RequireRole>
    }
}

#[component]
pub fn AdminStaffSyncPage() -> impl IntoView {
    let id = id_param();
    view! {
        <Title text="Staff sync settings" />
        <RequireRole role=Role::Admin>
            <p class="crumbs"><a href="/admin/staff">"Admin › Staff"</a>" ›"</p>
            <h1>"Staff sync settings"</h1>
            <LegacyExchangeSection owner_kind="staff" owner_id=id />
        </RequireRole>
    }
}
