use sea_orm::entity::prelude::*;

/// The one row of Outlook integration settings (id 1).
#[derive(Clone, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "integration_settings")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: i32,
    pub application_id: Option<String>,
    /// A vault envelope (see `crate::vault`).
    pub client_secret: Option<String>,
    pub secret_hint: Option<String>,
    pub secret_expires_on: Option<Date>,
    pub account_type: String,
    pub tenant_id: Option<String>,
    pub active: bool,
    pub checked_at: Option<ChronoDateTimeUtc>,
    pub disconnected_at: Option<ChronoDateTimeUtc>,
    pub updated_at: Option<ChronoDateTimeUtc>,
    pub updated_by: Option<i64>,
}

// Written by hand so not even the ciphertext lands in a log line.
impl std::fmt::Debug for Model {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IntegrationSettings")
            .field("application_id", &self.application_id)
            .field("secret_saved", &self.client_secret.is_some())
            .field("account_type", &self.account_type)
            .field("tenant_id", &self.tenant_id)
            .field("active", &self.active)
            .finish_non_exhaustive()
    }
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
