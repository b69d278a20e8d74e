use sea_orm::entity::prelude::*;

/// One opening period of a space on a weekday, in the space's local time.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "space_hours")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub space_id: i64,
    /// 0 = Monday … 6 = Sunday.
    pub weekday: i16,
    /// Minutes from local midnight.
    pub opens: i32,
    pub closes: i32,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
