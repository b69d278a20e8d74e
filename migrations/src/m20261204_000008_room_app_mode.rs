//! Rooms in application mode and conflicts.
//!
//! - `room_links.mode`: how Calbridge reaches the room ("delegated": the
//!   space's authorized delegate account; "application": the app's own
//!   client-credentials token), and the room's change-notification
//!   subscription in application mode (its id, its `clientState` sealed
//!   by the vault, when it expires).
//! - Conflicts: when an Outlook event and a Calbridge booking hold the
//!   same time, the one committed first keeps the slot and the other is
//!   flagged: `external_busy_blocks.conflict_booking_id` (the booking that
//!   was there first) or `space_bookings.conflict_event_id` (the Outlook
//!   event that was). `source_changed_at` is when the event last changed
//!   in Outlook (Graph's `lastModifiedDateTime`), which decides who was
//!   first.
//!
//! SQLite alters one column per statement, so each column is its own
//! `ALTER TABLE`.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let room_links = [
            ColumnDef::new(RoomLinks::Mode)
                .string_len(20)
                .not_null()
                .default("delegated")
                .to_owned(),
            ColumnDef::new(RoomLinks::SubscriptionId)
                .string_len(100)
                .to_owned(),
            ColumnDef::new(RoomLinks::ClientStateSealed)
                .text()
                .to_owned(),
            ColumnDef::new(RoomLinks::SubscriptionExpiresAt)
                .timestamp_with_time_zone()
                .to_owned(),
        ];
        for mut col in room_links {
            manager
                .alter_table(
                    Table::alter()
                        .table(RoomLinks::Table)
                        .add_column(&mut col)
                        .to_owned(),
                )
                .await?;
        }
        let blocks = [
            ColumnDef::new(ExternalBusyBlocks::SourceChangedAt)
                .timestamp_with_time_zone()
                .to_owned(),
            ColumnDef::new(ExternalBusyBlocks::ConflictBookingId)
                .big_integer()
                .to_owned(),
        ];
        for mut col in blocks {
            manager
                .alter_table(
                    Table::alter()
                        .table(ExternalBusyBlocks::Table)
                        .add_column(&mut col)
                        .to_owned(),
                )
                .await?;
        }
        manager
            .alter_table(
                Table::alter()
                    .table(SpaceBookings::Table)
                    .add_column(ColumnDef::new(SpaceBookings::ConflictEventId).text())
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_room_links_subscription")
                    .table(RoomLinks::Table)
                    .col(RoomLinks::SubscriptionId)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_index(
                Index::drop()
                    .name("idx_room_links_subscription")
                    .table(RoomLinks::Table)
                    .to_owned(),
            )
            .await?;
        for (table, col) in [
            (
                SpaceBookings::Table.into_iden(),
                SpaceBookings::ConflictEventId.into_iden(),
            ),
            (
                ExternalBusyBlocks::Table.into_iden(),
                ExternalBusyBlocks::ConflictBookingId.into_iden(),
            ),
            (
                ExternalBusyBlocks::Table.into_iden(),
                ExternalBusyBlocks::SourceChangedAt.into_iden(),
            ),
            (
                RoomLinks::Table.into_iden(),
                RoomLinks::SubscriptionExpiresAt.into_iden(),
            ),
            (
                RoomLinks::Table.into_iden(),
                RoomLinks::ClientStateSealed.into_iden(),
            ),
            (
                RoomLinks::Table.into_iden(),
                RoomLinks::SubscriptionId.into_iden(),
            ),
            (RoomLinks::Table.into_iden(), RoomLinks::Mode.into_iden()),
        ] {
            manager
                .alter_table(Table::alter().table(table).drop_column(col).to_owned())
                .await?;
        }
        Ok(())
    }
}

#[derive(DeriveIden)]
enum RoomLinks {
    Table,
    Mode,
    SubscriptionId,
    ClientStateSealed,
    SubscriptionExpiresAt,
}

#[derive(DeriveIden)]
enum ExternalBusyBlocks {
    Table,
    SourceChangedAt,
    ConflictBookingId,
}

#[derive(DeriveIden)]
enum SpaceBookings {
    Table,
    ConflictEventId,
}
