//! Live calendar sync status on a page: the server renders the status as
//! it is, then (in the browser, inside an island) an `EventSource` on the
//! status stream replaces it with each status the server pushes — no
//! reload and no polling. Islands that show data the sync changes (a
//! space's free slots) read [`LiveSync::version`] to fetch it again when a
//! push arrives.

use std::collections::HashMap;

use leptos::prelude::*;

use crate::components::hydrated::island_hydrated;
use crate::models::SyncStatusView;
use crate::wire::{Prop, Resource};

type Key = (String, i64);

#[derive(Clone, Copy)]
pub struct LiveSync {
    pushed: RwSignal<HashMap<Key, SyncStatusView>>,
    /// Goes up with every push.
    pub version: RwSignal<u64>,
}

impl LiveSync {
    /// Listens on the stream at `path`, in the island that calls it.
    pub fn listen(path: String) -> Self {
        let live = LiveSync {
            pushed: RwSignal::new(HashMap::new()),
            version: RwSignal::new(0),
        };
        live.start(path);
        live
    }

    /// The newest status of the space or staff member `view` is about:
    /// the pushed one if any, else `view` as rendered.
    pub fn latest(self, view: &SyncStatusView) -> SyncStatusView {
        let key = (view.subject_kind.clone(), view.subject_id);
        self.pushed
            .with(|p| p.get(&key).cloned())
            .map(|mut pushed| {
                // Pushes of one row leave the name out (it does not change).
                if pushed.name.is_none() {
                    pushed.name = view.name.clone();
                }
                pushed
            })
            .unwrap_or_else(|| view.clone())
    }

    #[cfg_attr(not(feature = "hydrate"), allow(dead_code))]
    fn receive(self, view: SyncStatusView) {
        self.pushed.update(|p| {
            p.insert((view.subject_kind.clone(), view.subject_id), view);
        });
        self.version.update(|v| *v += 1);
    }

    /// In the browser: follows the stream for as long as the page is
    /// open (an island is never unmounted). After a network error the
    /// browser reconnects by itself.
    #[cfg(feature = "hydrate")]
    fn start(self, path: String) {
        leptos::task::spawn_local(stream_into(self, path));
    }

    #[cfg(not(feature = "hydrate"))]
    fn start(self, _path: String) {}
}

#[cfg(feature = "hydrate")]
async fn stream_into(live: LiveSync, path: String) {
    use crate::models::SYNC_STATUS_EVENT;
    use futures::StreamExt;
    use gloo_net::eventsource::futures::EventSource;

    let Ok(mut source) = EventSource::new(&path) else {
        return;
    };
    let Ok(mut events) = source.subscribe(SYNC_STATUS_EVENT) else {
        return;
    };
    // The source lives as long as this task (aborting drops and closes
    // it). After a network error the browser reconnects by itself and
    // the server starts again with the current status.
    let _source = source;
    while let Some(next) = events.next().await {
        if let Ok((_, message)) = next
            && let Some(data) = message.data().as_string()
            && let Ok(view) = crate::wire::from_json::<SyncStatusView>(&data)
        {
            live.receive(view);
        }
    }
}

/// The state as a badge: a word or two, coloured by state.
#[component]
pub fn SyncBadge(view: SyncStatusView) -> impl IntoView {
    view! {
        <span
            class=format!("sync-badge sync-{}", view.state)
            data-testid="sync-badge"
            data-state=view.state.clone()
            role="status"
        >
            {view.label.clone()}
        </span>
    }
}

/// Everything an admin (or the staff member) may see of a sync.
#[component]
pub fn SyncDetails(view: SyncStatusView) -> impl IntoView {
    let Some(d) = view.detail.clone() else {
        return view! { <SyncBadge view /> }.into_any();
    };
    let row = |label: &'static str, value: Option<String>| {
        value.map(|v| view! { <dt>{label}</dt><dd>{v}</dd> })
    };
    let progress = d.progress.map(|(done, total)| {
        view! {
            <progress max=total.to_string() value=done.to_string() data-testid="sync-progress">
                {format!("{done} of {total}")}
            </progress>
        }
    });
    let conflicts = (!d.conflicts.is_empty()).then(|| {
        view! {
            <h3>"Conflicts to resolve"</h3>
            <ul class="conflicts" data-testid="sync-conflicts">
                {d.conflicts.iter().map(|c| view! { <li>{c.clone()}</li> }).collect_view()}
            </ul>
        }
    });
    view! {
        <div class="sync-details" data-testid="sync-details">
            <p><SyncBadge view=view.clone() />{progress}</p>
            <dl>
                {row("Microsoft account", d.account)}
                {row("Room", d.room)}
                {row("Last successful sync", d.last_success_at)}
                {row("Changes waiting", Some(d.pending.to_string()))}
                {row("Failed changes", (d.failed > 0).then(|| d.failed.to_string()))}
                {row("Last error", d.last_error)}
                {row("Next retry", d.next_retry_at)}
                {row("Subscription expires", d.subscription_expires_at)}
            </dl>
            {conflicts}
        </div>
    }
    .into_any()
}

/// A card with one subject's live sync status in full: the admin's space
/// settings and the staff member's own sync page. `path` is the status
/// stream the island follows in the browser.
#[component]
pub fn LiveSyncCard(
    status: Resource<Result<SyncStatusView, crate::error::AppError>>,
    path: String,
) -> impl IntoView {
    view! {
        <section class="card" data-testid="live-sync-status">
            <h2>"Sync status"</h2>
            <Suspense fallback=|| view! { <p class="muted">"Loading…"</p> }>
                {move || {
                    let path = path.clone();
                    Suspend::new(async move {
                        match status.await {
                            Ok(rendered) => view! { <LiveSyncDetails rendered=Prop(rendered) path /> }.into_any(),
                            Err(e) => view! { <p class="error" role="alert">{e.to_string()}</p> }.into_any(),
                        }
                    })
                }}
            </Suspense>
        </section>
    }
}

/// [`SyncDetails`] as rendered, then as pushed.
#[island(lazy)]
fn LiveSyncDetails(rendered: Prop<SyncStatusView>, path: String) -> impl IntoView {
    island_hydrated();
    let Prop(rendered) = rendered;
    let live = LiveSync::listen(path);
    move || view! { <SyncDetails view=live.latest(&rendered) /> }
}
