use sea_orm::entity::prelude::*;

/// A space connected to an Exchange room mailbox, and where the room's
/// inbound polling stands.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "room_links")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub space_id: i64,
    pub connection_id: i64,
    pub room_address: String,
    pub room_name: String,
    pub window_start: Option<ChronoDateTimeUtc>,
    #[sea_orm(column_type = "Text", nullable)]
    pub delta_link: Option<String>,
    pub last_polled_at: Option<ChronoDateTimeUtc>,
    pub next_poll_at: ChronoDateTimeUtc,
    #[sea_orm(column_type = "Text", nullable)]
    pub last_error: Option<String>,
    pub created_at: ChronoDateTimeUtc,
    pub updated_at: ChronoDateTimeUtc,
    /// "delegated" (the space's authorized delegate account) or
    /// "application" (the app's own token, no delegate).
    pub mode: String,
    /// Application mode: the room's change-notification subscription.
    pub subscription_id: Option<String>,
    /// Its `clientState`, sealed by the vault (never shown, never logged).
    #[sea_orm(column_type = "Text", nullable)]
    pub client_state_sealed: Option<String>,
    pub subscription_expires_at: Option<ChronoDateTimeUtc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
