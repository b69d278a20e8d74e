//! The "Exchange room (Outlook)" section of a space's sync settings:
//! "Authorize with Microsoft" (a plain form post that ends at Microsoft's
//! sign-in, as a work or school account that is a delegate of the room),
//! then picking the room from the directory or typing its address, the
//! connection's state, and "Revoke authorization". Plain forms: works
//! without JavaScript.
//!
//! The page creates the resources and actions ([`RoomConnectionData`])
//! outside `RequireRole`, as the lead's note asks.

use leptos::prelude::*;
use leptos::server_fn::ServerFn;
use leptos_router::hooks::use_query_map;

use crate::api::rooms::{PickRoom, RevokeRoom, room_connection, room_directory};
use crate::components::field_error::{FieldError, form_error};
use crate::components::url_error::PostOutcome;
use crate::error::AppError;
use crate::models::{Done, ROOM_CONNECT_PATH, RoomChoice, RoomConnectionView};
use crate::wire::{Resource, resource};

/// What the section shows, made by the page.
#[derive(Clone, Copy)]
pub struct RoomConnectionData {
    pick: ServerAction<PickRoom>,
    revoke: ServerAction<RevokeRoom>,
    connection: Resource<Result<RoomConnectionView, AppError>>,
    directory: Resource<Option<Result<Vec<RoomChoice>, AppError>>>,
}

impl RoomConnectionData {
    pub fn new(space_id: Signal<i64>) -> Self {
        let pick = ServerAction::<PickRoom>::new();
        let revoke = ServerAction::<RevokeRoom>::new();
        let connection = resource(
            move || (space_id.get(), pick.version().get(), revoke.version().get()),
            |(id, _, _)| room_connection(id),
        );
        // The directory is read only while a room is to be picked.
        let directory = resource(
            move || {
                let wants = connection.get().and_then(Result::ok).is_some_and(|c| {
                    c.status.as_deref() == Some("active") && c.room_address.is_none()
                });
                (space_id.get(), wants)
            },
            |(id, wants)| async move {
                if wants {
                    Some(room_directory(id).await)
                } else {
                    None
                }
            },
        );
        Self {
            pick,
            revoke,
            connection,
            directory,
        }
    }
}

#[component]
pub fn RoomConnectionSection(data: RoomConnectionData) -> impl IntoView {
    let query = use_query_map();
    let authorized = move || query.with(|q| q.get("authorized").is_some());
    view! {
        <section class="card room-connection" aria-labelledby="room-connection" data-testid="room-connection">
            <h2 id="room-connection">"Exchange room (Outlook)"</h2>
            <Show when=authorized>
                <p class="success" role="status">"Authorized. Now pick the room this space stands for."</p>
            </Show>
            <Suspense fallback=|| view! { <p class="muted">"Loading…"</p> }>
                {move || Suspend::new(async move {
                    match data.connection.await {
                        Ok(view) => view! { <RoomState view data /> }.into_any(),
                        Err(e) => view! { <p class="error" role="alert">{e.to_string()}</p> }.into_any(),
                    }
                })}
            </Suspense>
        </section>
    }
}

#[component]
fn RoomState(view: RoomConnectionView, data: RoomConnectionData) -> impl IntoView {
    let status = view.status.clone().unwrap_or_default();
    let account = view.account.clone().unwrap_or_default();
    let id = view.space_id.to_string();
    let live = status == "active" || status == "needs_reauthorization";
    let state_line = match (status.as_str(), &view.room_address) {
        ("active", Some(room)) => view! {
            <p data-testid="room-connected">
                "Connected to "<strong>{view.room_name.clone().unwrap_or_default()}</strong>
                {format!(" ({room}) through {account}. Bookings are written to the room; its Outlook events make the space unavailable.")}
            </p>
        }
        .into_any(),
        ("active", None) => view! {
            <p data-testid="room-authorized">
                {format!("Authorized as {account}. Pick the room this space stands for:")}
            </p>
        }
        .into_any(),
        ("needs_reauthorization", _) => view! {
            <p class="error" role="alert" data-testid="room-reauthorize">
                {format!("Microsoft no longer accepts the authorization of {account}. Sync is paused until you authorize again; nothing is lost.")}
            </p>
        }
        .into_any(),
        ("revoked", _) => view! {
            <p class="muted" data-testid="room-revoked">"Not connected. Events already on the room stay there."</p>
        }
        .into_any(),
        _ => view! { <p class="muted" data-testid="room-none">"Not connected to an Exchange room."</p> }.into_any(),
    };
    let details = view.room_address.is_some().then(|| {
        let synced = view
            .last_success_at
            .clone()
            .map(|t| format!("Last synced: {t}. "))
            .unwrap_or_default();
        let polled = view
            .last_polled_at
            .clone()
            .map(|t| format!("Room last read: {t}. "))
            .unwrap_or_default();
        view! {
            <p class="muted" data-testid="room-sync-state">
                {format!("{synced}{polled}Waiting: {}.", view.pending_jobs)}
            </p>
        }
    });
    let last_error = view
        .last_error
        .clone()
        .filter(|_| live)
        .map(|e| view! { <p class="error">{e}</p> });
    let picker = (status == "active" && view.room_address.is_none())
        .then(|| view! { <RoomPicker space_id=id.clone() data /> });
    let authorize = if view.can_authorize && status != "active" {
        let label = if live {
            "Authorize again with Microsoft"
        } else {
            "Authorize with Microsoft"
        };
        view! {
            <form method="post" action=ROOM_CONNECT_PATH>
                <input type="hidden" name="space_id" value=id.clone() />
                <p class="muted">"Sign in with the work or school account that is a delegate of the room (personal Microsoft accounts cannot hold rooms)."</p>
                <button type="submit" id="authorize-room">{label}</button>
            </form>
        }
        .into_any()
    } else if let Some(reason) = view.unavailable_reason.clone() {
        view! { <p class="muted" data-testid="room-unavailable">{reason}</p> }.into_any()
    } else {
        ().into_any()
    };
    let revoke = data.revoke;
    let outcome = view! {
        <PostOutcome path=RevokeRoom::PATH done=&[Done::RoomRevoked, Done::RoomWasNotAuthorized] />
    };
    let revoke_form = live.then(|| {
        view! {
            <ActionForm action=revoke>
                <input type="hidden" name="space_id" value=id.clone() />
                <button type="submit" class="danger" id="revoke-room">"Revoke authorization"</button>
            </ActionForm>
        }
    });
    view! {
        {state_line}
        {details}
        {last_error}
        {picker}
        {authorize}
        {outcome}
        {revoke_form}
    }
}

#[component]
fn RoomPicker(space_id: String, data: RoomConnectionData) -> impl IntoView {
    let pick = data.pick;
    let error = form_error(pick);
    let directory = data.directory;
    let choices = move || {
        Suspend::new(async move {
            match directory.await {
                Some(Ok(rooms)) if !rooms.is_empty() => view! {
                    <label>
                        "Room from your organization's directory"
                        <select name="address" id="room-address-select">
                            <option value="">"— choose, or type the address below —"</option>
                            {rooms
                                .into_iter()
                                .map(|r| {
                                    let text = match r.capacity {
                                        Some(c) => format!("{} ({}, {} seats)", r.name, r.address, c),
                                        None => format!("{} ({})", r.name, r.address),
                                    };
                                    view! { <option value=r.address>{text}</option> }
                                })
                                .collect_view()}
                        </select>
                    </label>
                }
                .into_any(),
                Some(Err(e)) => view! {
                    <p class="muted" data-testid="room-directory-error">{e.to_string()}</p>
                }
                .into_any(),
                _ => ().into_any(),
            }
        })
    };
    view! {
        <ActionForm action=pick attr:class="room-picker">
            <input type="hidden" name="space_id" value=space_id />
            <Suspense fallback=|| view! { <p class="muted">"Reading the room directory…"</p> }>
                {choices}
            </Suspense>
            <label>
                "Room email address"
                <input type="email" name="typed_address" id="room-address" placeholder="room@contoso.com" />
            </label>
            <FieldError error field="address" />
            <button type="submit" id="pick-room">"Connect this room"</button>
        </ActionForm>
        <PostOutcome path=PickRoom::PATH done=&[Done::RoomConnected] />
    }
}
