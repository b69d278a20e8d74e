//! The settings row: reading it, writing it, re-sealing its secret.

use chrono::{DateTime, NaiveDate, Utc};
use sea_orm::{ActiveModelTrait, ConnectionTrait, EntityTrait, IntoActiveModel};

use super::{AccountType, StoreError};
use crate::entities::integration_settings::{self, Entity as SettingsTable};
use crate::vault::{Purpose, Sealed, Vault};

const ROW_ID: i32 = 1;

/// What is stored. The secret stays sealed; open it only to use it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IntegrationSettings {
    pub application_id: Option<String>,
    pub client_secret: Option<Sealed>,
    /// The first three characters of the secret, as Azure shows them.
    pub secret_hint: Option<String>,
    pub secret_expires_on: Option<NaiveDate>,
    pub account_type: AccountType,
    pub tenant_id: Option<String>,
    pub active: bool,
    /// When Microsoft last accepted the credentials (`None` after a
    /// "save anyway").
    pub checked_at: Option<DateTime<Utc>>,
    /// Set by the system-wide disconnect until the next successful save.
    pub disconnected_at: Option<DateTime<Utc>>,
    pub updated_at: Option<DateTime<Utc>>,
    pub updated_by: Option<i64>,
}

impl Default for IntegrationSettings {
    fn default() -> Self {
        Self {
            application_id: None,
            client_secret: None,
            secret_hint: None,
            secret_expires_on: None,
            // Azure's own default on "Register an application".
            account_type: AccountType::SingleTenant,
            tenant_id: None,
            active: false,
            checked_at: None,
            disconnected_at: None,
            updated_at: None,
            updated_by: None,
        }
    }
}

impl IntegrationSettings {
    pub fn secret_saved(&self) -> bool {
        self.client_secret.is_some()
    }

    /// Enough is stored to let people connect (once active).
    pub fn is_set_up(&self) -> bool {
        self.application_id.is_some() && self.client_secret.is_some()
    }
}

pub async fn load(db: &impl ConnectionTrait) -> Result<IntegrationSettings, StoreError> {
    let row = SettingsTable::find_by_id(ROW_ID).one(db).await?;
    Ok(row.map(from_row).unwrap_or_default())
}

pub async fn write(db: &impl ConnectionTrait, s: &IntegrationSettings) -> Result<(), StoreError> {
    // Every column is written, whether it changed or not.
    let row = to_row(s).into_active_model().reset_all();
    if SettingsTable::find_by_id(ROW_ID).one(db).await?.is_some() {
        row.update(db).await?;
    } else {
        row.insert(db).await?;
    }
    Ok(())
}

/// Re-seals the stored client secret with the active key; true when it
/// had to change.
pub async fn reseal_secret(db: &impl ConnectionTrait, vault: &Vault) -> Result<bool, StoreError> {
    let mut settings = load(db).await?;
    let Some(sealed) = &settings.client_secret else {
        return Ok(false);
    };
    let Some(resealed) = vault.reseal(Purpose::ClientSecret, sealed)? else {
        return Ok(false);
    };
    settings.client_secret = Some(resealed);
    write(db, &settings).await?;
    Ok(true)
}

fn from_row(m: integration_settings::Model) -> IntegrationSettings {
    IntegrationSettings {
        application_id: m.application_id,
        client_secret: m.client_secret.map(Sealed::from_stored),
        secret_hint: m.secret_hint,
        secret_expires_on: m.secret_expires_on,
        account_type: AccountType::parse(&m.account_type).unwrap_or(AccountType::SingleTenant),
        tenant_id: m.tenant_id,
        active: m.active,
        checked_at: m.checked_at,
        disconnected_at: m.disconnected_at,
        updated_at: m.updated_at,
        updated_by: m.updated_by,
    }
}

fn to_row(s: &IntegrationSettings) -> integration_settings::Model {
    integration_settings::Model {
        id: ROW_ID,
        application_id: s.application_id.clone(),
        client_secret: s.client_secret.as_ref().map(|c| c.as_stored().to_owned()),
        secret_hint: s.secret_hint.clone(),
        secret_expires_on: s.secret_expires_on,
        account_type: s.account_type.as_str().to_owned(),
        tenant_id: s.tenant_id.clone(),
        active: s.active,
        checked_at: s.checked_at,
        disconnected_at: s.disconnected_at,
        updated_at: s.updated_at,
        updated_by: s.updated_by,
    }
}
