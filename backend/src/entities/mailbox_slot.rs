use sea_orm::entity::prelude::*;

/// One of the 4 request slots of a mailbox, shared by all instances.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "mailbox_slots")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub mailbox: String,
    pub slot: i32,
    pub held_by: Option<String>,
    pub held_until: Option<ChronoDateTimeUtc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
