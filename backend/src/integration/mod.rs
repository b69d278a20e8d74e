//! The Outlook integration as an admin configures it on Admin ›
//! Integrations: the app registration (Application ID, client secret,
//! Supported Account Type, tenant), the credential check on save,
//! activation, the system-wide disconnect, and the audit log of it all.

pub mod account_type;
pub mod activation;
pub mod audit;
pub mod events;
pub mod expiry;
pub mod save;
pub mod store;
pub mod validate;

pub use account_type::AccountType;
pub use activation::{DisconnectReport, connections_allowed, disconnect_everything, set_active};
pub use events::{IntegrationEvents, IntegrationStatus};
pub use expiry::{ExpiryNotice, expiry_notice};
pub use save::{SaveError, SaveRequest, SaveResult, save_settings};
pub use store::{IntegrationSettings, load};

use crate::config::Settings;

/// Where Microsoft sends people back after they sign in to connect a
/// calendar. The connect flow serves this path; the settings page shows
/// the full URL to register in Azure.
pub const OAUTH_CALLBACK_PATH: &str = "/oauth/microsoft/callback";

/// The exact Redirect URL of this installation.
pub fn redirect_url(settings: &Settings) -> String {
    format!("{}{OAUTH_CALLBACK_PATH}", settings.public_base_url)
}

/// An error from the database or the vault while reading or writing the
/// integration.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database: {0}")]
    Db(#[from] sea_orm::DbErr),
    #[error("stored client secret: {0}")]
    Vault(#[from] crate::vault::VaultError),
}
