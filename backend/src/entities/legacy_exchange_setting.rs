use sea_orm::entity::prelude::*;

/// Exchange password-authentication settings kept from before OAuth 2.
#[derive(Clone, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "legacy_exchange_settings")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    /// "staff" (owner_id is a user id) or "space" (a space id).
    pub owner_kind: String,
    pub owner_id: i64,
    pub server_url: String,
    pub account: String,
    /// Vault ciphertext of the password.
    pub password_sealed: String,
    pub updated_at: ChronoDateTimeUtc,
}

// Written by hand: even sealed, a password has no business in a log line.
impl std::fmt::Debug for Model {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LegacyExchangeSetting")
            .field("id", &self.id)
            .field("owner_kind", &self.owner_kind)
            .field("owner_id", &self.owner_id)
            .field("server_url", &self.server_url)
            .field("account", &self.account)
            .finish_non_exhaustive()
    }
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
