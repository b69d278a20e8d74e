use sea_orm::entity::prelude::*;

/// A piece of sync work written in the same transaction as the change it
/// describes.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "outbox")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub kind: String,
    pub aggregate_id: i64,
    #[sea_orm(column_type = "Text")]
    pub payload: String,
    /// "pending", "done", "failed" or "paused".
    pub status: String,
    pub attempts: i32,
    pub run_after: ChronoDateTimeUtc,
    #[sea_orm(column_type = "Text", nullable)]
    pub last_error: Option<String>,
    pub claimed_by: Option<String>,
    pub claimed_until: Option<ChronoDateTimeUtc>,
    pub created_at: ChronoDateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
