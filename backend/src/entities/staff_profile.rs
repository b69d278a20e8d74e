use sea_orm::entity::prelude::*;

/// A staff member's appointment settings; see the appointments migration.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "staff_profiles")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    #[sea_orm(unique)]
    pub user_id: i64,
    pub appointments_enabled: bool,
    pub appointment_minutes: i32,
    /// "in_person" or "online".
    pub location_kind: String,
    pub location: String,
    pub time_zone: String,
    pub booking_window_days: i32,
    pub free_busy_enabled: bool,
    pub created_at: ChronoDateTimeUtc,
    pub updated_at: ChronoDateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
