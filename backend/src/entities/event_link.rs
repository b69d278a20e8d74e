use sea_orm::entity::prelude::*;

/// A local record and the Graph event that mirrors it.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "event_links")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    /// "appointment" or "space_booking".
    pub record_kind: String,
    pub record_id: i64,
    pub connection_id: i64,
    pub mailbox: String,
    pub graph_event_id: String,
    pub transaction_id: String,
    pub created_at: ChronoDateTimeUtc,
    pub updated_at: ChronoDateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
