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
    /// When the event last changed in Outlook (rooms only): decides who
    /// was first when it clashes with a booking.
    pub source_changed_at: Option<ChronoDateTimeUtc>,
    /// Set when a Calbridge booking held this time first: the booking
    /// keeps the slot and this block is a conflict for an admin.
    pub conflict_booking_id: Option<i64>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
