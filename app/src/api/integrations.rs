//! Admin › Integrations: the Outlook (Azure OAuth 2) settings. Admin only;
//! every function checks the role first, then hands over to
//! `backend::integration`.

use leptos::prelude::*;

use crate::error::AppError;
use crate::models::{
    AccountType, AuditEntryView, ExpiryBanner, IntegrationSettingsView, SaveConfirmation,
    SecretInput,
};

#[cfg(feature = "ssr")]
use {
    super::guard::{backend, fail, require_role},
    crate::models::Role,
};

/// How many audit entries the page shows.
pub const AUDIT_ENTRIES_SHOWN: u64 = 50;

#[server(endpoint = "integration_settings")]
pub async fn integration_settings() -> Result<IntegrationSettingsView, AppError> {
    require_role(Role::Admin).await?;
    let backend = backend()?;
    settings_view(&backend).await
}

/// Save Settings. An empty `client_secret` keeps the saved one when the
/// app, account type and tenant are unchanged.
#[server(endpoint = "save_integration_settings")]
pub async fn save_integration_settings(
    application_id: String,
    #[server(default)] client_secret: SecretInput,
    account_type: AccountType,
    #[server(default)] tenant_id: String,
    #[server(default)] secret_expires_on: String,
    #[server(default)] active: bool,
    #[server(default)] save_anyway: bool,
) -> Result<SaveConfirmation, AppError> {
    let actor = require_role(Role::Admin).await?;
    let backend = backend()?;
    let request = backend::integration::SaveRequest {
        application_id,
        client_secret: client_secret
            .into_non_empty()
            .map(secrecy::SecretString::from),
        account_type: account_type.into(),
        tenant_id: non_empty(tenant_id),
        secret_expires_on: parse_date(&secret_expires_on).map_err(fail)?,
        active,
        save_anyway,
    };
    let saved = backend::integration::save_settings(&backend, &actor, request)
        .await
        .map_err(|e| fail(e.into()))?;
    announce(&backend).await;
    let message = match saved.checked {
        true => "Settings saved. Microsoft accepted the Application ID and client secret.",
        false => {
            "Settings saved without a credential check, because Microsoft could not be reached. Save again later to check them."
        }
    };
    Ok(SaveConfirmation {
        message: message.to_owned(),
        checked: saved.checked,
    })
}

/// Activate / Inactive: saves at once, without a new credential check.
#[server(endpoint = "set_integration_active")]
pub async fn set_integration_active(active: bool) -> Result<IntegrationSettingsView, AppError> {
    let actor = require_role(Role::Admin).await?;
    let backend = backend()?;
    backend::integration::set_active(&backend.db, &actor, active)
        .await
        .map_err(|e| fail(e.into()))?;
    announce(&backend).await;
    settings_view(&backend).await
}

/// Disconnect for all users and spaces. `confirm` is the checkbox that
/// says the admin read what happens.
#[server(endpoint = "disconnect_integration")]
pub async fn disconnect_integration(#[server(default)] confirm: bool) -> Result<String, AppError> {
    let actor = require_role(Role::Admin).await?;
    if !confirm {
        return Err(fail(AppError::Invalid(
            "Tick the confirmation to disconnect every user and space.".into(),
        )));
    }
    let backend = backend()?;
    let report = backend::integration::disconnect_everything(&backend, &actor)
        .await
        .map_err(|e| fail(AppError::internal(e)))?;
    announce(&backend).await;
    Ok(format!(
        "Disconnected: {} connection(s) revoked, {} room subscription(s) deleted. Nobody can connect until the settings are saved again with a client secret. Events already in Outlook were left alone.",
        report.connections_revoked, report.subscriptions_deleted
    ))
}

#[server(endpoint = "integration_audit_log")]
pub async fn integration_audit_log() -> Result<Vec<AuditEntryView>, AppError> {
    require_role(Role::Admin).await?;
    let backend = backend()?;
    let entries = backend::integration::audit::recent(&backend.db, AUDIT_ENTRIES_SHOWN)
        .await
        .map_err(|e| fail(AppError::internal(e)))?;
    Ok(entries.into_iter().map(Into::into).collect())
}

/// The banner for admin pages, from 30 days before the secret expires.
#[server(endpoint = "secret_expiry_banner")]
pub async fn secret_expiry_banner() -> Result<Option<ExpiryBanner>, AppError> {
    require_role(Role::Admin).await?;
    let backend = backend()?;
    let settings = load(&backend).await?;
    let today = chrono::Utc::now().date_naive();
    let notice = settings
        .secret_saved()
        .then(|| backend::integration::expiry_notice(settings.secret_expires_on, today))
        .flatten();
    Ok(notice.map(Into::into))
}

#[cfg(feature = "ssr")]
async fn load(
    backend: &backend::Backend,
) -> Result<backend::integration::IntegrationSettings, AppError> {
    backend::integration::load(&backend.db)
        .await
        .map_err(|e| fail(AppError::internal(e)))
}

#[cfg(feature = "ssr")]
async fn settings_view(backend: &backend::Backend) -> Result<IntegrationSettingsView, AppError> {
    let redirect = backend::integration::redirect_url(&backend.settings);
    Ok(IntegrationSettingsView::new(load(backend).await?, redirect))
}

/// Tells every open page about the change. The change itself is saved
/// already, so a failure here is logged, not reported to the admin: pages
/// catch up at their next load.
#[cfg(feature = "ssr")]
async fn announce(backend: &backend::Backend) {
    if let Err(e) = backend.announce_integration_status().await {
        tracing::warn!(error = %e, "could not announce the integration status");
    }
}

#[cfg(feature = "ssr")]
fn non_empty(s: String) -> Option<String> {
    let t = s.trim();
    (!t.is_empty()).then(|| t.to_owned())
}

#[cfg(feature = "ssr")]
fn parse_date(s: &str) -> Result<Option<chrono::NaiveDate>, AppError> {
    match s.trim() {
        "" => Ok(None),
        t => t.parse().map(Some).map_err(|_| {
            AppError::Invalid("Enter the expiry date as YYYY-MM-DD, or leave it empty.".into())
        }),
    }
}
