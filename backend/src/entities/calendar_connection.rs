use sea_orm::entity::prelude::*;

/// A staff member's (or space's) Outlook connection. The tokens are vault
/// ciphertexts, erased when the connection is revoked.
#[derive(Clone, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "calendar_connections")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    /// "staff" (owner_id is a user id) or "space".
    pub owner_kind: String,
    pub owner_id: i64,
    /// The mailbox address of the signed-in account.
    pub account: String,
    #[sea_orm(column_type = "Text", nullable)]
    pub access_token_sealed: Option<String>,
    #[sea_orm(column_type = "Text", nullable)]
    pub refresh_token_sealed: Option<String>,
    pub access_expires_at: Option<ChronoDateTimeUtc>,
    pub token_version: i64,
    /// "active", "needs_reauthorization" or "revoked".
    pub status: String,
    #[sea_orm(column_type = "Text", nullable)]
    pub last_error: Option<String>,
    pub last_success_at: Option<ChronoDateTimeUtc>,
    pub refresh_lease_by: Option<String>,
    pub refresh_lease_until: Option<ChronoDateTimeUtc>,
    pub created_at: ChronoDateTimeUtc,
    pub updated_at: ChronoDateTimeUtc,
}

// Written by hand: even sealed, tokens have no business in a log line.
impl std::fmt::Debug for Model {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CalendarConnection")
            .field("id", &self.id)
            .field("owner_kind", &self.owner_kind)
            .field("owner_id", &self.owner_id)
            .field("account", &self.account)
            .field("has_tokens", &self.refresh_token_sealed.is_some())
            .field("access_expires_at", &self.access_expires_at)
            .field("token_version", &self.token_version)
            .field("status", &self.status)
            .field("last_error", &self.last_error)
            .field("last_success_at", &self.last_success_at)
            .finish_non_exhaustive()
    }
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
