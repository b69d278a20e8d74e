//! Live calendar sync status: a space's (public, state only unless an
//! admin asks), a staff member's own, and the admin's dashboard of every
//! one with "Resync now". The pages render these, then the event streams
//! (`server/src/routes/events.rs`) push each change.

use leptos::prelude::*;

use crate::error::AppError;
use crate::models::SyncStatusView;

#[cfg(feature = "ssr")]
use {
    super::guard::{backend, fail, require_role},
    crate::models::{Role, SyncStatusDetail},
    backend::sync::Subject,
    backend::sync::status::{self, SyncState, SyncStatus},
};

/// The badge text of each state.
#[cfg(feature = "ssr")]
fn label(s: &SyncStatus) -> String {
    match s.state {
        SyncState::Active => "In sync with Outlook".to_owned(),
        SyncState::Syncing => match s.progress {
            Some(p) => format!("Syncing: {} of {}", p.done, p.total),
            None => "Syncing".to_owned(),
        },
        SyncState::NeedsReauthorization => "Needs reauthorization".to_owned(),
        SyncState::Error => "Sync error".to_owned(),
        SyncState::Revoked => "Sync revoked".to_owned(),
        SyncState::DisabledSystemWide => "Sync turned off for the whole site".to_owned(),
        SyncState::LegacyPassword => "Legacy password sync".to_owned(),
        SyncState::NotConnected => "Not connected to Outlook".to_owned(),
    }
}

/// One conflict in words: who kept the time, and what to do.
#[cfg(feature = "ssr")]
fn conflict_line(c: &backend::rooms::RoomConflict) -> String {
    let when = format!(
        "{} – {} (UTC)",
        c.booking_starts_at.format("%a %-d %b %H:%M"),
        c.booking_ends_at.format("%H:%M")
    );
    match c.kept {
        backend::rooms::ConflictKept::Booking => format!(
            "{when}: booking #{} for {} was first; an Outlook event placed on the room later overlaps it. Move or decline the Outlook event.",
            c.booking_id, c.patron_name
        ),
        backend::rooms::ConflictKept::OutlookEvent => format!(
            "{when}: an Outlook event was on the room first; booking #{} for {} overlaps it. Move or cancel the booking.",
            c.booking_id, c.patron_name
        ),
    }
}

/// The view of `s`; `detail` for those who may act on it.
#[cfg(feature = "ssr")]
pub fn status_view(s: &SyncStatus, name: Option<String>, detail: bool) -> SyncStatusView {
    let (subject_kind, subject_id) = match s.subject {
        Subject::Space(id) => ("space", id),
        Subject::Staff(id) => ("staff", id),
    };
    let time = |t: Option<chrono::DateTime<chrono::Utc>>| t.map(|t| t.to_rfc3339());
    SyncStatusView {
        subject_kind: subject_kind.to_owned(),
        subject_id,
        name,
        state: s.state.as_str().to_owned(),
        label: label(s),
        in_trouble: s.state.in_trouble() || !s.conflicts.is_empty(),
        can_resync: s.state.can_resync(),
        detail: detail.then(|| SyncStatusDetail {
            account: s.account.clone(),
            room: s.room.clone(),
            last_success_at: time(s.last_success_at),
            pending: s.pending,
            failed: s.failed,
            last_error: s.last_error.clone(),
            next_retry_at: time(s.next_retry_at),
            subscription_expires_at: time(s.subscription_expires_at),
            progress: s.progress.map(|p| (p.done, p.total)),
            conflicts: s.conflicts.iter().map(conflict_line).collect(),
        }),
    }
}

/// A space's sync status as its page shows it: anyone may see the state,
/// only admins the detail.
#[server(endpoint = "space_sync_status")]
pub async fn space_sync_status(space_id: i64) -> Result<SyncStatusView, AppError> {
    // Open to everyone, like the space's page; the detail is for admins.
    let viewer = super::guard::optional_user().await?;
    let backend = backend()?;
    let is_admin = viewer.is_some_and(|u| u.role.satisfies(backend::accounts::Role::Admin));
    let s = status::status_of(&backend.db, Subject::Space(space_id))
        .await
        .map_err(|e| fail(AppError::internal(e)))?;
    Ok(status_view(&s, None, is_admin))
}

/// The signed-in staff member's own appointment sync, in full.
#[server(endpoint = "my_sync_status")]
pub async fn my_sync_status() -> Result<SyncStatusView, AppError> {
    let user = require_role(Role::Staff).await?;
    let backend = backend()?;
    let s = status::status_of(&backend.db, Subject::Staff(user.id))
        .await
        .map_err(|e| fail(AppError::internal(e)))?;
    Ok(status_view(&s, None, true))
}

/// Every space and every staff connection, for the admin's dashboard.
#[server(endpoint = "sync_overview")]
pub async fn sync_overview() -> Result<Vec<SyncStatusView>, AppError> {
    require_role(Role::Admin).await?;
    let backend = backend()?;
    let rows = status::overview(&backend.db)
        .await
        .map_err(|e| fail(AppError::internal(e)))?;
    Ok(rows
        .iter()
        .map(|r| status_view(&r.status, Some(r.name.clone()), true))
        .collect())
}

/// "Resync now": every upcoming booking (or appointment) of the subject
/// is written again, failed work is retried, a room is read at once.
#[server(endpoint = "resync_now")]
pub async fn resync_now(subject_kind: String, subject_id: i64) -> Result<String, AppError> {
    let admin = require_role(Role::Admin).await?;
    let backend = backend()?;
    let subject = match subject_kind.as_str() {
        "space" => Subject::Space(subject_id),
        "staff" => Subject::Staff(subject_id),
        _ => {
            return Err(fail(AppError::Invalid(
                "Choose a space or a staff member to resync.".to_owned(),
            )));
        }
    };
    let current = status::status_of(&backend.db, subject)
        .await
        .map_err(|e| fail(AppError::internal(e)))?;
    if !current.state.can_resync() {
        return Err(fail(AppError::Invalid(format!(
            "Nothing to resync: the sync is \"{}\". Connect it first.",
            label(&current)
        ))));
    }
    let done = backend::sync::resync::resync(&backend, subject, chrono::Utc::now())
        .await
        .map_err(|e| fail(AppError::internal(e)))?;
    tracing::info!(admin = admin.id, ?subject, "resync requested");
    Ok(format!(
        "Resync started: {} upcoming {} queued, {} failed {} retried.",
        done.queued,
        if done.queued == 1 {
            "record"
        } else {
            "records"
        },
        done.retried,
        if done.retried == 1 { "job" } else { "jobs" },
    ))
}
