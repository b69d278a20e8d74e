//! The "Outlook calendar" section of a staff member's sync settings:
//! which Microsoft account is connected, its state, "Connect with
//! Microsoft" (a plain form post that ends at Microsoft's sign-in) and
//! "Disconnect". Works without JavaScript.

use leptos::prelude::*;
use leptos::server_fn::ServerFn;
use leptos_router::hooks::use_query_map;

use crate::api::outlook::{DisconnectOutlook, outlook_connection};
use crate::components::url_error::PostOutcome;
use crate::models::{Done, OUTLOOK_CONNECT_PATH, OutlookConnectionView};
use crate::wire::resource;

#[component]
pub fn OutlookConnection() -> impl IntoView {
    let disconnect = ServerAction::<DisconnectOutlook>::new();
    let connection = resource(move || disconnect.version().get(), |_| outlook_connection());
    let query = use_query_map();
    let just_connected = move || query.with(|q| q.get("connected").is_some());
    view! {
        <section class="card outlook-connection" data-testid="outlook-connection">
            <h2>"Outlook calendar"</h2>
            <Show when=just_connected>
                <p class="success" role="status">"Your Outlook calendar is connected."</p>
            </Show>
            <Suspense fallback=|| view! { <p class="muted">"Loading…"</p> }>
                {move || Suspend::new(async move {
                    match connection.await {
                        Ok(view) => view! { <ConnectionState view disconnect /> }.into_any(),
                        Err(e) => view! { <p class="error" role="alert">{e.to_string()}</p> }.into_any(),
                    }
                })}
            </Suspense>
        </section>
    }
}

#[component]
fn ConnectionState(
    view: OutlookConnectionView,
    disconnect: ServerAction<DisconnectOutlook>,
) -> impl IntoView {
    let status = view.status.clone().unwrap_or_default();
    let connected = status == "active" || status == "needs_reauthorization";
    let state_line = match status.as_str() {
        "active" => Some(
            view! {
                <p data-testid="outlook-account">
                    "Connected to "<strong>{view.account.clone().unwrap_or_default()}</strong>
                    ". Appointments booked with you are written to this calendar."
                </p>
            }
            .into_any(),
        ),
        "needs_reauthorization" => Some(
            view! {
                <p class="error" role="alert" data-testid="outlook-reauthorize">
                    "Microsoft no longer accepts the connection to "
                    <strong>{view.account.clone().unwrap_or_default()}</strong>
                    ". Sync is paused until you connect again; nothing is lost."
                </p>
            }
            .into_any(),
        ),
        "revoked" => Some(
            view! {
                <p class="muted">"Not connected. Events already written to Outlook stay there."</p>
            }
            .into_any(),
        ),
        _ => Some(view! { <p class="muted">"No Outlook calendar connected."</p> }.into_any()),
    };
    let details = connected.then(|| {
        let last = view
            .last_success_at
            .clone()
            .map(|t| format!("Last synced: {t}. "))
            .unwrap_or_default();
        view! {
            <p class="muted" data-testid="outlook-sync-state">
                {format!("{last}Waiting: {}. Failed: {}.", view.pending_jobs, view.failed_jobs)}
            </p>
        }
    });
    let last_error = view
        .last_error
        .clone()
        .filter(|_| status != "revoked")
        .map(|e| view! { <p class="error">{e}</p> });
    let connect_label = if connected {
        "Connect again with Microsoft"
    } else {
        "Connect with Microsoft"
    };
    let connect = if view.can_connect && status != "active" {
        view! {
            <form method="post" action=OUTLOOK_CONNECT_PATH>
                <button type="submit" id="connect-outlook">{connect_label}</button>
            </form>
        }
        .into_any()
    } else if let Some(reason) = view.unavailable_reason.clone() {
        view! { <p class="muted" data-testid="outlook-unavailable">{reason}</p> }.into_any()
    } else {
        ().into_any()
    };
    let outcome = view! {
        <PostOutcome
            path=DisconnectOutlook::PATH
            done=&[Done::OutlookDisconnected, Done::OutlookWasNotConnected]
        />
    };
    view! {
        {state_line}
        {details}
        {last_error}
        {connect}
        {outcome}
        <Show when=move || connected>
            <ActionForm action=disconnect>
                <button type="submit" class="danger" id="disconnect-outlook">
                    "Disconnect Outlook calendar"
                </button>
            </ActionForm>
        </Show>
    }
}
