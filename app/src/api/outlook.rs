//! A staff member's own Outlook connection: its status and disconnecting
//! it. Connecting starts at the plain route `OUTLOOK_CONNECT_PATH`, since
//! it ends in a redirect to Microsoft.

use leptos::prelude::*;

use crate::error::AppError;
use crate::models::OutlookConnectionView;

#[cfg(feature = "ssr")]
use {
    super::guard::{back_with, backend, fail, require_role},
    crate::models::{Done, Role},
    backend::connections::{self, Owner},
};

#[server(endpoint = "outlook_connection")]
pub async fn outlook_connection() -> Result<OutlookConnectionView, AppError> {
    let user = require_role(Role::Staff).await?;
    let backend = backend()?;
    let allowed = backend::integration::connections_allowed(&backend.db)
        .await
        .map_err(|e| fail(AppError::internal(e)))?;
    let enabled = connections::appointments_enabled(&backend, &user)
        .await
        .map_err(|e| fail(AppError::internal(e)))?;
    let summary = connections::summary(&backend.db, Owner::staff(user.id))
        .await
        .map_err(|e| fail(AppError::internal(e)))?;
    let unavailable_reason = if !allowed {
        Some("Calendar sync with Microsoft is not active. An administrator turns it on under Admin › Integrations.".to_owned())
    } else if !enabled {
        Some("Appointments are not activated for your account yet, so there is nothing to sync. Ask an administrator to activate them.".to_owned())
    } else {
        None
    };
    Ok(OutlookConnectionView {
        can_connect: allowed && enabled,
        unavailable_reason,
        account: summary.as_ref().map(|s| s.account.clone()),
        status: summary.as_ref().map(|s| s.status.clone()),
        last_error: summary.as_ref().and_then(|s| s.last_error.clone()),
        last_success_at: summary
            .as_ref()
            .and_then(|s| s.last_success_at)
            .map(|t| t.to_rfc3339()),
        pending_jobs: summary.as_ref().map(|s| s.pending_jobs).unwrap_or(0),
        failed_jobs: summary.as_ref().map(|s| s.failed_jobs).unwrap_or(0),
    })
}

/// Stops this staff member's sync: tokens erased, jobs paused, events
/// already in Outlook left there.
#[server(endpoint = "disconnect_outlook")]
pub async fn disconnect_outlook() -> Result<String, AppError> {
    let user = require_role(Role::Staff).await?;
    let backend = backend()?;
    let had = connections::disconnect(&backend.db, Owner::staff(user.id), chrono::Utc::now())
        .await
        .map_err(|e| fail(AppError::internal(e)))?;
    backend
        .sync
        .changes
        .publish(backend::sync::Subject::Staff(user.id));
    let done = if had {
        Done::OutlookDisconnected
    } else {
        Done::OutlookWasNotConnected
    };
    back_with(done);
    Ok(done.message().to_owned())
}
