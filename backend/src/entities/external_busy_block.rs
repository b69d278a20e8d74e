use sea_orm::entity::prelude::*;

/// Time taken in Exchange by someone Calbridge does not know about; filled
/// by the sync issues, shown only as "unavailable".
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "external_busy_blocks")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    /// "space" or "staff".
    pub owner_kind: String,
    pub owner_id: i64,
    pub starts_at: ChronoDateTimeUtc,
    pub ends_at: ChronoDateTimeUtc,
    pub source_id: String,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
