//! Save Settings: validate, check the credentials with Microsoft, store.
//! Nothing is stored when the check fails, except when Microsoft could not
//! be reached and the admin chose "save anyway".

use chrono::{NaiveDate, Utc};
use sea_orm::TransactionTrait;
use secrecy::{ExposeSecret, SecretString};

use super::store::{self, IntegrationSettings};
use super::{AccountType, StoreError, audit, redirect_url, validate};
use crate::Backend;
use crate::accounts::User;
use crate::microsoft::{AppCredentials, CredentialProblem};
use crate::vault::Purpose;

/// What the admin submitted. `client_secret` is `None` when the field was
/// left empty (keep the saved one, if it still applies).
#[derive(Debug)]
pub struct SaveRequest {
    pub application_id: String,
    pub client_secret: Option<SecretString>,
    pub account_type: AccountType,
    pub tenant_id: Option<String>,
    pub secret_expires_on: Option<NaiveDate>,
    pub active: bool,
    /// Store even though Microsoft could not be reached.
    pub save_anyway: bool,
}

#[derive(Debug, thiserror::Error)]
pub enum SaveError {
    #[error("{0}")]
    Invalid(String),
    #[error(transparent)]
    Credentials(CredentialProblem),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<sea_orm::DbErr> for SaveError {
    fn from(e: sea_orm::DbErr) -> Self {
        SaveError::Store(e.into())
    }
}

#[derive(Debug)]
pub struct SaveResult {
    pub settings: IntegrationSettings,
    /// False after "save anyway".
    pub checked: bool,
}

/// The identity the secret belongs to; changing it voids the saved secret.
#[derive(Debug, PartialEq, Eq)]
struct AppIdentity {
    application_id: String,
    account_type: AccountType,
    tenant_id: Option<String>,
}

pub async fn save_settings(
    backend: &Backend,
    actor: &User,
    req: SaveRequest,
) -> Result<SaveResult, SaveError> {
    let identity = validated_identity(&req)?;
    let current = store::load(&backend.db).await?;
    let same_app = stored_identity(&current).as_ref() == Some(&identity);
    let (secret, new_secret) = secret_to_use(backend, &current, req.client_secret, same_app)?;

    let checked = check(backend, &identity, &secret, req.save_anyway).await?;
    let next = IntegrationSettings {
        client_secret: Some(match new_secret {
            true => backend.vault.seal(Purpose::ClientSecret, &secret),
            false => current.client_secret.clone().expect("kept only when saved"),
        }),
        secret_hint: Some(match new_secret {
            true => hint(&secret),
            false => current.secret_hint.clone().unwrap_or_default(),
        }),
        application_id: Some(identity.application_id),
        account_type: identity.account_type,
        tenant_id: identity.tenant_id,
        secret_expires_on: req.secret_expires_on,
        active: req.active,
        checked_at: checked.then(Utc::now),
        disconnected_at: None,
        updated_at: Some(Utc::now()),
        updated_by: Some(actor.id),
    };
    let txn = backend.db.begin().await?;
    store::write(&txn, &next).await?;
    audit::record(
        &txn,
        actor,
        audit::SAVED,
        describe(&next, new_secret, checked),
    )
    .await?;
    txn.commit().await?;
    // Connections made for another app or tenant will need to be
    // re-authorized; the connection issues mark them here when they exist.
    Ok(SaveResult {
        settings: next,
        checked,
    })
}

fn validated_identity(req: &SaveRequest) -> Result<AppIdentity, SaveError> {
    let application_id = req.application_id.trim().to_ascii_lowercase();
    if !validate::is_guid(&application_id) {
        return Err(SaveError::Invalid(
            "The Application ID is a GUID such as 00000000-0000-0000-0000-000000000000: copy the Application (client) ID from the app's Overview page.".into(),
        ));
    }
    let tenant_id = match req.account_type.needs_tenant() {
        false => None,
        true => {
            let tenant = req
                .tenant_id
                .as_deref()
                .map(|t| t.trim().to_ascii_lowercase())
                .unwrap_or_default();
            if !validate::is_tenant(&tenant) {
                return Err(SaveError::Invalid(
                    "For \"Accounts in this organizational directory only\", enter the Tenant ID: the Directory (tenant) ID from the app's Overview page, or a verified domain.".into(),
                ));
            }
            Some(tenant)
        }
    };
    Ok(AppIdentity {
        application_id,
        account_type: req.account_type,
        tenant_id,
    })
}

fn stored_identity(s: &IntegrationSettings) -> Option<AppIdentity> {
    Some(AppIdentity {
        application_id: s.application_id.clone()?,
        account_type: s.account_type,
        tenant_id: s.tenant_id.clone(),
    })
}

/// The secret to check and store, and whether it is newly entered. A saved
/// secret is reused only for the same app, account type and tenant, so
/// nobody can point it at another app.
fn secret_to_use(
    backend: &Backend,
    current: &IntegrationSettings,
    entered: Option<SecretString>,
    same_app: bool,
) -> Result<(SecretString, bool), SaveError> {
    if let Some(secret) = entered {
        return Ok((secret, true));
    }
    match &current.client_secret {
        Some(sealed) if same_app => Ok((
            backend
                .vault
                .open(Purpose::ClientSecret, sealed)
                .map_err(StoreError::from)?,
            false,
        )),
        Some(_) => Err(SaveError::Invalid(
            "The Application ID, Supported Account Type or Tenant ID changed, so the saved client secret no longer applies. Enter the Client Secret Value of this app.".into(),
        )),
        None => Err(SaveError::Invalid("Enter the Client Secret Value.".into())),
    }
}

/// True when Microsoft accepted the credentials, false when it could not
/// be reached and the admin chose to save anyway.
async fn check(
    backend: &Backend,
    identity: &AppIdentity,
    secret: &SecretString,
    save_anyway: bool,
) -> Result<bool, SaveError> {
    let authority = identity
        .account_type
        .authority(identity.tenant_id.as_deref());
    let redirect = redirect_url(&backend.settings);
    let creds = AppCredentials {
        application_id: &identity.application_id,
        secret,
        authority: &authority,
        redirect_url: &redirect,
    };
    match backend.identity.check_credentials(&creds).await {
        Ok(()) => Ok(true),
        Err(problem) if problem.is_unreachable() && save_anyway => {
            tracing::warn!(%problem, "saving integration settings without a credential check");
            Ok(false)
        }
        Err(problem) => Err(SaveError::Credentials(problem)),
    }
}

/// The first three characters, as Azure shows a saved secret.
fn hint(secret: &SecretString) -> String {
    secret.expose_secret().chars().take(3).collect()
}

fn describe(s: &IntegrationSettings, new_secret: bool, checked: bool) -> String {
    let tenant = s
        .tenant_id
        .as_deref()
        .map(|t| format!("; Tenant ID {t}"))
        .unwrap_or_default();
    let secret = match new_secret {
        true => format!(
            "new client secret (starts {})",
            s.secret_hint.as_deref().unwrap_or("")
        ),
        false => "client secret kept".into(),
    };
    let expiry = s
        .secret_expires_on
        .map(|d| format!("expires on {d}"))
        .unwrap_or_else(|| "no expiry date".into());
    format!(
        "Application ID {}; account type {}{tenant}; {secret}, {expiry}; {}; {}",
        s.application_id.as_deref().unwrap_or(""),
        s.account_type.as_str(),
        if s.active { "Active" } else { "Inactive" },
        if checked {
            "credentials checked with Microsoft"
        } else {
            "saved without a check: Microsoft unreachable"
        },
    )
}
