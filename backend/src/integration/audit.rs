//! The audit log of Admin › Integrations: who changed what, when. Details
//! name fields and outcomes, never a secret.

use chrono::Utc;
use sea_orm::{ActiveModelTrait, ConnectionTrait, EntityTrait, QueryOrder, QuerySelect, Set};

use crate::accounts::User;
use crate::entities::integration_audit::{self, Entity as AuditTable};

pub use integration_audit::Model as AuditEntry;

pub const SAVED: &str = "settings saved";
pub const ACTIVATED: &str = "activated";
pub const DEACTIVATED: &str = "deactivated";
pub const DISCONNECTED: &str = "disconnected for all users and spaces";

pub async fn record(
    db: &impl ConnectionTrait,
    actor: &User,
    action: &str,
    detail: String,
) -> Result<(), sea_orm::DbErr> {
    integration_audit::ActiveModel {
        at: Set(Utc::now()),
        actor_id: Set(Some(actor.id)),
        actor_email: Set(actor.email.clone()),
        action: Set(action.to_owned()),
        detail: Set(detail),
        ..Default::default()
    }
    .insert(db)
    .await?;
    Ok(())
}

/// Newest first.
pub async fn recent(
    db: &impl ConnectionTrait,
    limit: u64,
) -> Result<Vec<AuditEntry>, sea_orm::DbErr> {
    AuditTable::find()
        .order_by_desc(integration_audit::Column::Id)
        .limit(limit)
        .all(db)
        .await
}
