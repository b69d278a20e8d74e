//! Database schema, as sea-orm migrations that run on both SQLite and
//! PostgreSQL. `calbridge migrate` and `calbridge serve` apply them.

pub use sea_orm_migration::prelude::*;

mod m20261128_000001_accounts;
mod m20261129_000002_integration;
mod m20261130_000003_bookings;
mod m20261201_000004_appointments;
mod m20261202_000005_calendar_sync;
mod m20261203_000007_rooms;
mod m20261204_000008_room_app_mode;
mod m20261205_000009_mailbox_gates;

pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m20261128_000001_accounts::Migration),
            Box::new(m20261129_000002_integration::Migration),
            Box::new(m20261130_000003_bookings::Migration),
            Box::new(m20261201_000004_appointments::Migration),
            Box::new(m20261202_000005_calendar_sync::Migration),
            Box::new(m20261203_000007_rooms::Migration),
            Box::new(m20261204_000008_room_app_mode::Migration),
            Box::new(m20261205_000009_mailbox_gates::Migration),
        ]
    }
}
