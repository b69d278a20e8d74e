use sea_orm::entity::prelude::*;

/// One weekly opening of a staff member's appointment hours.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "staff_hours")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub user_id: i64,
    /// 0 = Monday … 6 = Sunday.
    pub weekday: i16,
    /// Minutes from local midnight.
    pub opens: i32,
    pub closes: i32,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
