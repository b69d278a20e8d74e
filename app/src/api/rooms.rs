//! A space's Exchange room connection (admins only): its status, the
//! room directory, picking (checked) a room, and revoking. Authorizing
//! starts at the plain route `ROOM_CONNECT_PATH`, since it ends in a
//! redirect to Microsoft.

use leptos::prelude::*;

use crate::error::AppError;
use crate::models::{RoomChoice, RoomConnectionView};

#[cfg(feature = "ssr")]
use {
    super::guard::{back_with, backend, fail, require_role},
    crate::models::{Done, Role},
    backend::rooms::{self, RoomError},
};

#[cfg(feature = "ssr")]
fn room_error(e: RoomError) -> AppError {
    match e {
        RoomError::BadAddress
        | RoomError::NoSuchRoom(_)
        | RoomError::NotADelegate { .. }
        | RoomError::NotInAccessPolicy(_) => AppError::field("address", e.to_string()),
        RoomError::Db(_) | RoomError::Store(_) => AppError::internal(e),
        RoomError::Graph(_) => AppError::MicrosoftUnreachable(e.to_string()),
        _ => AppError::Invalid(e.to_string()),
    }
}

#[server(endpoint = "room_connection")]
pub async fn room_connection(space_id: i64) -> Result<RoomConnectionView, AppError> {
    require_role(Role::Admin).await?;
    let backend = backend()?;
    let allowed = backend::integration::connections_allowed(&backend.db)
        .await
        .map_err(|e| fail(AppError::internal(e)))?;
    let status = rooms::status_for(&backend, space_id)
        .await
        .map_err(|e| fail(AppError::internal(e)))?;
    let s = status.as_ref();
    Ok(RoomConnectionView {
        space_id,
        can_authorize: allowed,
        unavailable_reason: (!allowed).then(|| {
            "Calendar sync with Microsoft is not active. Turn it on under Admin › Integrations."
                .to_owned()
        }),
        account: s.map(|s| s.account.clone()),
        status: s.map(|s| s.status.clone()),
        room_address: s.and_then(|s| s.room_address.clone()),
        room_name: s.and_then(|s| s.room_name.clone()),
        last_error: s.and_then(|s| s.last_error.clone()),
        last_success_at: s.and_then(|s| s.last_success_at).map(|t| t.to_rfc3339()),
        last_polled_at: s.and_then(|s| s.last_polled_at).map(|t| t.to_rfc3339()),
        pending_jobs: s.map(|s| s.pending_jobs).unwrap_or(0),
    })
}

/// The organization's rooms, read with the space's authorization. Fails
/// with a plain message when `Place.Read.All` is not consented; the page
/// then offers typing the address.
#[server(endpoint = "room_directory")]
pub async fn room_directory(space_id: i64) -> Result<Vec<RoomChoice>, AppError> {
    require_role(Role::Admin).await?;
    let backend = backend()?;
    let listed = rooms::list_rooms(&backend, space_id)
        .await
        .map_err(|e| fail(room_error(e)))?;
    Ok(listed
        .into_iter()
        .map(|r| RoomChoice {
            address: r.address,
            name: r.name,
            capacity: r.capacity,
        })
        .collect())
}

/// Connects the space to the room at `address` (picked from the
/// directory) or `typed_address` once Calbridge has checked
/// it can read and write that room's calendar.
#[server(endpoint = "pick_room")]
pub async fn pick_room(
    space_id: i64,
    #[server(default)] address: String,
    #[server(default)] typed_address: String,
) -> Result<String, AppError> {
    let admin = require_role(Role::Admin).await?;
    let backend = backend()?;
    // A typed address wins over the directory's choice.
    let address = if typed_address.trim().is_empty() {
        address
    } else {
        typed_address
    };
    let link = rooms::pick_room(&backend, space_id, &address, chrono::Utc::now())
        .await
        .map_err(|e| fail(room_error(e)))?;
    tracing::info!(admin = admin.id, space = space_id, room = %link.room_address, "room picked");
    backend.sync.wake();
    back_with(Done::RoomConnected);
    Ok(format!(
        "Connected to {} ({}). Bookings are written to the room; its Outlook events make the space unavailable.",
        link.room_name, link.room_address
    ))
}

/// "Revoke authorization": sync stops, the space's tokens are erased,
/// events already on the room stay.
#[server(endpoint = "revoke_room")]
pub async fn revoke_room(space_id: i64) -> Result<String, AppError> {
    let admin = require_role(Role::Admin).await?;
    let backend = backend()?;
    let had = rooms::revoke(&backend, space_id, chrono::Utc::now())
        .await
        .map_err(|e| fail(room_error(e)))?;
    tracing::info!(
        admin = admin.id,
        space = space_id,
        "room authorization revoked"
    );
    let done = if had {
        Done::RoomRevoked
    } else {
        Done::RoomWasNotAuthorized
    };
    back_with(done);
    Ok(done.message().to_owned())
}
