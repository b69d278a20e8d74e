//! `calbridge rotate-key`: re-seal every stored secret with the active key
//! of the keyring, so the keys before it can be removed.

use sea_orm::{DatabaseConnection, TransactionTrait};

use crate::integration::{self, StoreError};
use crate::vault::Vault;

#[derive(Debug, Default, PartialEq, Eq)]
pub struct RotationReport {
    /// Values that were sealed with another key and now use the active one.
    pub resealed: u64,
}

/// One transaction: either everything uses the active key afterwards, or
/// nothing changed. Every table holding sealed values is listed here.
pub async fn rotate_all(
    db: &DatabaseConnection,
    vault: &Vault,
) -> Result<RotationReport, StoreError> {
    let txn = db.begin().await?;
    let mut report = RotationReport::default();
    if integration::store::reseal_secret(&txn, vault).await? {
        report.resealed += 1;
    }
    report.resealed += crate::legacy::reseal_all(&txn, vault)
        .await
        .map_err(|e| match e {
            crate::legacy::LegacyError::Vault(e) => StoreError::Vault(e),
            crate::legacy::LegacyError::Db(e) => StoreError::Db(e),
            other => StoreError::Db(sea_orm::DbErr::Custom(other.to_string())),
        })?;
    report.resealed += crate::connections::reseal_tokens(&txn, vault).await?;
    report.resealed += crate::rooms::subscriptions::reseal_client_states(&txn, vault).await?;
    txn.commit().await?;
    Ok(report)
}
