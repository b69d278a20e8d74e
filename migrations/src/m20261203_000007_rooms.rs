//! Spaces ↔ Exchange room resources: which room each space is connected
//! to (through the space's calendar connection, owner "space") and where
//! its inbound polling stands.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        use RoomLinks as R;
        manager
            .create_table(
                Table::create()
                    .table(R::Table)
                    .if_not_exists()
                    .col(
                        ColumnDef::new(R::Id)
                            .big_integer()
                            .not_null()
                            .auto_increment()
                            .primary_key(),
                    )
                    .col(ColumnDef::new(R::SpaceId).big_integer().not_null())
                    .col(ColumnDef::new(R::ConnectionId).big_integer().not_null())
                    // The room mailbox written to and read from.
                    .col(ColumnDef::new(R::RoomAddress).string_len(320).not_null())
                    .col(ColumnDef::new(R::RoomName).string_len(200).not_null())
                    // The window of the current delta round and the link
                    // to continue it (NULL: the next poll reads it all).
                    .col(ColumnDef::new(R::WindowStart).timestamp_with_time_zone())
                    .col(ColumnDef::new(R::DeltaLink).text())
                    .col(ColumnDef::new(R::LastPolledAt).timestamp_with_time_zone())
                    // Polls are spread: each room has its own due time.
                    .col(
                        ColumnDef::new(R::NextPollAt)
                            .timestamp_with_time_zone()
                            .not_null(),
                    )
                    .col(ColumnDef::new(R::LastError).text())
                    .col(
                        ColumnDef::new(R::CreatedAt)
                            .timestamp_with_time_zone()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(R::UpdatedAt)
                            .timestamp_with_time_zone()
                            .not_null(),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_room_links_space")
                    .table(R::Table)
                    .col(R::SpaceId)
                    .unique()
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(RoomLinks::Table).to_owned())
            .await
    }
}

#[derive(DeriveIden)]
enum RoomLinks {
    Table,
    Id,
    SpaceId,
    ConnectionId,
    RoomAddress,
    RoomName,
    WindowStart,
    DeltaLink,
    LastPolledAt,
    NextPollAt,
    LastError,
    CreatedAt,
    UpdatedAt,
}
