use sea_orm::entity::prelude::*;

/// An appointment a patron booked with a staff member.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "appointments")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    /// The staff member's user id.
    pub staff_id: i64,
    pub starts_at: ChronoDateTimeUtc,
    pub ends_at: ChronoDateTimeUtc,
    pub patron_name: String,
    pub patron_email: String,
    pub question: String,
    /// "in_person" or "online", copied from the profile when booked.
    pub location_kind: String,
    pub location: String,
    /// "active" or "cancelled".
    pub status: String,
    pub created_by: Option<i64>,
    pub created_at: ChronoDateTimeUtc,
    pub updated_at: ChronoDateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
