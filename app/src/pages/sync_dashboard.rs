//! Admin › Sync status: every space and every staff connection with its
//! live sync status, a filter for the ones that need someone, and
//! "Resync now". The filter is a query parameter (`?trouble=1`), so it
//! works without JavaScript; with it, rows change as pushes arrive.

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_query_map;

use crate::api::sync_status::{ResyncNow, sync_overview};
use crate::components::hydrated::island_hydrated;
use crate::components::refreshed::refreshed;
use crate::components::require_role::RequireRole;
use crate::components::sync_status::{LiveSync, SyncBadge};
use crate::models::{ALL_SYNC_EVENTS_PATH, Role, SyncStatusView};
use crate::wire::{Prop, resource};

#[component]
pub fn SyncDashboardPage() -> impl IntoView {
    // Made here, outside RequireRole (see components/require_role.rs).
    let rows = resource(|| (), |_| sync_overview());
    let query = use_query_map();
    let trouble_only = query.with_untracked(|q| q.get("trouble").is_some_and(|v| v == "1"));
    view! {
        <Title text="Admin › Sync status" />
        <RequireRole role=Role::Admin>
            <h1>"Admin › Sync status"</h1>
            <Suspense fallback=|| view! { <p class="muted">"Loading…"</p> }>
                {move || Suspend::new(async move {
                    match rows.await {
                        Ok(list) => view! { <Dashboard list=Prop(list) trouble_only /> }.into_any(),
                        Err(e) => view! { <p class="error" role="alert">{e.to_string()}</p> }.into_any(),
                    }
                })}
            </Suspense>
        </RequireRole>
    }
}

/// The table, live: an island, fed the rows the server rendered; pushes
/// change rows in place, and "Resync now" (with JavaScript) fetches them
/// again.
#[island(lazy)]
fn Dashboard(list: Prop<Vec<SyncStatusView>>, trouble_only: bool) -> impl IntoView {
    island_hydrated();
    let Prop(list) = list;
    let resync = ServerAction::<ResyncNow>::new();
    let list = refreshed(list, move || resync.version().get(), sync_overview);
    let live = LiveSync::listen(ALL_SYNC_EVENTS_PATH.to_owned());
    let outcome = move || {
        resync.value().get().map(|r| match r {
            Ok(message) => view! { <p class="success" role="status">{message}</p> }.into_any(),
            Err(e) => view! { <p class="error" role="alert">{e.to_string()}</p> }.into_any(),
        })
    };
    view! {
        <section class="card">
            <p class="muted">"Every space's room sync and every staff member's Outlook sync. Statuses change here as they change on the server."</p>
            <nav class="filters">
                <a href="/admin/sync" aria-current=(!trouble_only).then_some("page")>"All"</a>" · "
                <a href="/admin/sync?trouble=1" aria-current=trouble_only.then_some("page")>"Needs attention"</a>
            </nav>
            {outcome}
            <StatusTable list live resync trouble_only />
        </section>
    }
}

#[component]
fn StatusTable(
    list: ReadSignal<Vec<SyncStatusView>>,
    live: LiveSync,
    resync: ServerAction<ResyncNow>,
    trouble_only: bool,
) -> impl IntoView {
    let rows = move || {
        list.with(|list| {
            list.iter()
                .map(|rendered| live.latest(rendered))
                .filter(|v| !trouble_only || v.in_trouble)
                .collect::<Vec<_>>()
        })
    };
    view! {
        <table class="sync-dashboard" data-testid="sync-dashboard">
            <thead>
                <tr>
                    <th scope="col">"Name"</th>
                    <th scope="col">"Kind"</th>
                    <th scope="col">"Status"</th>
                    <th scope="col">"Account / room"</th>
                    <th scope="col">"Last successful sync"</th>
                    <th scope="col">"Waiting"</th>
                    <th scope="col">"Last error"</th>
                    <th scope="col"><span class="visually-hidden">"Actions"</span></th>
                </tr>
            </thead>
            <tbody>
                {move || {
                    let shown = rows();
                    if shown.is_empty() {
                        return view! { <tr><td colspan="8" class="muted">"Nothing to show."</td></tr> }.into_any();
                    }
                    shown.into_iter().map(|v| view! { <StatusRow v resync /> }).collect_view().into_any()
                }}
            </tbody>
        </table>
    }
}

#[component]
fn StatusRow(v: SyncStatusView, resync: ServerAction<ResyncNow>) -> impl IntoView {
    let d = v.detail.clone();
    let name = v.name.clone().unwrap_or_default();
    let (kind, settings) = if v.is_space() {
        ("Space", format!("/admin/spaces/{}/sync", v.subject_id))
    } else {
        ("Staff", format!("/admin/staff/{}/sync", v.subject_id))
    };
    let can_resync = v.can_resync;
    let (subject_kind, subject_id) = (v.subject_kind.clone(), v.subject_id.to_string());
    let who = d
        .as_ref()
        .and_then(|d| d.room.clone().or_else(|| d.account.clone()))
        .unwrap_or_default();
    view! {
        <tr data-subject=format!("{}:{}", v.subject_kind, v.subject_id) data-state=v.state.clone()>
            <td><a href=settings>{name.clone()}</a></td>
            <td>{kind}</td>
            <td><SyncBadge view=v.clone() /></td>
            <td>{who}</td>
            <td>{d.as_ref().and_then(|d| d.last_success_at.clone()).unwrap_or_default()}</td>
            <td>{d.as_ref().map(|d| d.pending).unwrap_or(0)}</td>
            <td>{d.as_ref().and_then(|d| d.last_error.clone()).unwrap_or_default()}</td>
            <td>{can_resync.then(|| view! {
                <ActionForm action=resync>
                    <input type="hidden" name="subject_kind" value=subject_kind.clone() />
                    <input type="hidden" name="subject_id" value=subject_id.clone() />
                    <button type="submit" aria-label=format!("Resync {name} now")>"Resync now"</button>
                </ActionForm>
            })}</td>
        </tr>
    }
}
