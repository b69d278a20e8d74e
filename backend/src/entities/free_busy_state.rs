use sea_orm::entity::prelude::*;

/// A connection's free/busy delta round: its fixed window and where to
/// continue.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "free_busy_state")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    #[sea_orm(unique)]
    pub connection_id: i64,
    pub window_start: ChronoDateTimeUtc,
    pub window_end: ChronoDateTimeUtc,
    #[sea_orm(column_type = "Text", nullable)]
    pub delta_link: Option<String>,
    pub last_synced_at: Option<ChronoDateTimeUtc>,
    pub updated_at: ChronoDateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
