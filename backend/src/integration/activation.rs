//! Turning the integration on and off, and the system-wide disconnect.

use chrono::Utc;
use sea_orm::{ConnectionTrait, TransactionTrait};

use super::save::SaveError;
use super::store::{self, IntegrationSettings};
use super::{StoreError, audit};
use crate::Backend;
use crate::accounts::User;
use sea_orm::DatabaseConnection;

/// Active / Inactive saves at once, without a new credential check.
/// Activating needs settings that were saved with a secret.
pub async fn set_active(
    db: &DatabaseConnection,
    actor: &User,
    active: bool,
) -> Result<IntegrationSettings, SaveError> {
    let mut settings = store::load(db).await?;
    if active && !settings.is_set_up() {
        return Err(SaveError::Invalid(
            "Enter the Application ID and Client Secret Value and save the settings before activating.".into(),
        ));
    }
    if settings.active == active {
        return Ok(settings);
    }
    settings.active = active;
    settings.updated_at = Some(Utc::now());
    settings.updated_by = Some(actor.id);
    let action = if active {
        audit::ACTIVATED
    } else {
        audit::DEACTIVATED
    };
    let txn = db.begin().await?;
    store::write(&txn, &settings).await?;
    audit::record(
        &txn,
        actor,
        action,
        format!("Calendar sync is now {action}"),
    )
    .await?;
    txn.commit().await?;
    Ok(settings)
}

/// What [`disconnect_everything`] did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct DisconnectReport {
    pub connections_revoked: u64,
    pub subscriptions_deleted: u64,
}

/// "Disconnect for all users and spaces": stops all sync and blocks new
/// connections until the integration is set up again (a successful Save
/// with a client secret). Events already written to Outlook stay, and
/// legacy password settings are not touched.
///
/// Deletes the rooms' change-notification subscriptions at Microsoft
/// (application mode; this needs the client secret, so it comes first),
/// then disables the integration, erases the client secret, revokes every
/// calendar connection (their tokens erased) and pauses every waiting
/// sync job.
pub async fn disconnect_everything(
    backend: &Backend,
    actor: &User,
) -> Result<DisconnectReport, StoreError> {
    let db = &backend.db;
    let subscriptions_deleted = crate::rooms::subscriptions::delete_all(backend).await;
    let txn = db.begin().await?;
    // Reads, then writes: wait for a racing writer (a room poll) first.
    crate::db::lock_for_write(&txn, "integration_settings").await?;
    let mut settings = store::load(&txn).await?;
    settings.active = false;
    settings.client_secret = None;
    settings.secret_hint = None;
    settings.secret_expires_on = None;
    settings.checked_at = None;
    settings.disconnected_at = Some(Utc::now());
    settings.updated_at = settings.disconnected_at;
    settings.updated_by = Some(actor.id);
    store::write(&txn, &settings).await?;
    let report = DisconnectReport {
        connections_revoked: crate::connections::revoke_all(&txn, Utc::now()).await?,
        subscriptions_deleted,
    };
    crate::outbox::pause_all(&txn, &crate::outbox::APPOINTMENT_KINDS).await?;
    // Room sync: its booking jobs wait too, and the rooms' links and the
    // busy blocks read from them go (the events stay on the rooms).
    crate::outbox::pause_all(&txn, &crate::rooms::SPACE_BOOKING_KINDS).await?;
    crate::rooms::forget_all_rooms(&txn).await?;
    audit::record(
        &txn,
        actor,
        audit::DISCONNECTED,
        format!(
            "sync disabled, client secret erased; {} connections revoked, {} subscriptions deleted",
            report.connections_revoked, report.subscriptions_deleted
        ),
    )
    .await?;
    txn.commit().await?;
    backend.rooms.forget_token().await;
    Ok(report)
}

/// May anyone start a new connection? Only while the integration is set
/// up, active and not disconnected.
pub async fn connections_allowed(db: &impl ConnectionTrait) -> Result<bool, StoreError> {
    Ok(super::IntegrationStatus::current(db)
        .await?
        .connections_allowed)
}
