//! The booking core: spaces and their hours, space bookings, busy blocks
//! copied from Exchange, and the outbox of sync work.
//!
//! Times are `timestamp with time zone` and always written in UTC; hours
//! are minutes from local midnight in the space's IANA zone, so they keep
//! meaning the same wall-clock time across daylight-saving changes.

use sea_orm::DatabaseBackend;
use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.create_table(spaces_table()).await?;
        manager.create_table(space_hours_table()).await?;
        manager.create_table(space_bookings_table()).await?;
        manager.create_table(busy_blocks_table()).await?;
        manager.create_table(outbox_table()).await?;
        for index in indexes() {
            manager.create_index(index).await?;
        }
        if manager.get_database_backend() == DatabaseBackend::Postgres {
            no_overlap_constraint(manager).await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            Outbox::Table.into_iden(),
            ExternalBusyBlocks::Table.into_iden(),
            SpaceBookings::Table.into_iden(),
            SpaceHours::Table.into_iden(),
            Spaces::Table.into_iden(),
        ] {
            manager
                .drop_table(Table::drop().table(table).to_owned())
                .await?;
        }
        Ok(())
    }
}

/// Two active bookings of one space can never overlap, even when two
/// transactions race: PostgreSQL checks it at insert time. (SQLite has no
/// such constraint; the backend serialises booking writers there.)
async fn no_overlap_constraint(manager: &SchemaManager<'_>) -> Result<(), DbErr> {
    let db = manager.get_connection();
    // Trusted since PostgreSQL 13: a database owner may create it.
    db.execute_unprepared("CREATE EXTENSION IF NOT EXISTS btree_gist")
        .await?;
    db.execute_unprepared(
        "ALTER TABLE space_bookings ADD CONSTRAINT space_bookings_no_overlap \
         EXCLUDE USING gist (space_id WITH =, tstzrange(starts_at, ends_at) WITH &&) \
         WHERE (status = 'active')",
    )
    .await?;
    Ok(())
}

fn id_col<T: IntoIden>(col: T) -> ColumnDef {
    ColumnDef::new(col)
        .big_integer()
        .not_null()
        .auto_increment()
        .primary_key()
        .to_owned()
}

fn spaces_table() -> TableCreateStatement {
    use Spaces as S;
    Table::create()
        .table(S::Table)
        .if_not_exists()
        .col(id_col(S::Id))
        .col(ColumnDef::new(S::Name).string_len(200).not_null())
        .col(ColumnDef::new(S::Location).string_len(200).not_null())
        .col(ColumnDef::new(S::Capacity).integer().not_null())
        .col(ColumnDef::new(S::TimeZone).string_len(64).not_null())
        .col(ColumnDef::new(S::SlotMinutes).integer().not_null())
        .col(ColumnDef::new(S::BookingWindowDays).integer().not_null())
        .col(ColumnDef::new(S::Retired).boolean().not_null())
        .col(
            ColumnDef::new(S::CreatedAt)
                .timestamp_with_time_zone()
                .not_null(),
        )
        .to_owned()
}

fn space_hours_table() -> TableCreateStatement {
    use SpaceHours as H;
    Table::create()
        .table(H::Table)
        .if_not_exists()
        .col(id_col(H::Id))
        .col(ColumnDef::new(H::SpaceId).big_integer().not_null())
        // 0 = Monday … 6 = Sunday (chrono's `num_days_from_monday`).
        .col(ColumnDef::new(H::Weekday).small_integer().not_null())
        // Minutes from local midnight: 540 = 09:00, 1440 = end of day.
        .col(ColumnDef::new(H::Opens).integer().not_null())
        .col(ColumnDef::new(H::Closes).integer().not_null())
        .foreign_key(
            ForeignKey::create()
                .from(H::Table, H::SpaceId)
                .to(Spaces::Table, Spaces::Id)
                .on_delete(ForeignKeyAction::Cascade),
        )
        .to_owned()
}

fn space_bookings_table() -> TableCreateStatement {
    use SpaceBookings as B;
    Table::create()
        .table(B::Table)
        .if_not_exists()
        .col(id_col(B::Id))
        .col(ColumnDef::new(B::SpaceId).big_integer().not_null())
        .col(
            ColumnDef::new(B::StartsAt)
                .timestamp_with_time_zone()
                .not_null(),
        )
        .col(
            ColumnDef::new(B::EndsAt)
                .timestamp_with_time_zone()
                .not_null(),
        )
        .col(ColumnDef::new(B::PatronName).string_len(200).not_null())
        .col(ColumnDef::new(B::PatronEmail).string_len(320).not_null())
        // "active" or "cancelled"; the exclusion constraint looks at it.
        .col(ColumnDef::new(B::Status).string_len(16).not_null())
        // Staff booking on a patron's behalf, or a signed-in patron.
        .col(ColumnDef::new(B::CreatedBy).big_integer())
        .col(
            ColumnDef::new(B::CreatedAt)
                .timestamp_with_time_zone()
                .not_null(),
        )
        .col(
            ColumnDef::new(B::UpdatedAt)
                .timestamp_with_time_zone()
                .not_null(),
        )
        .foreign_key(
            ForeignKey::create()
                .from(B::Table, B::SpaceId)
                .to(Spaces::Table, Spaces::Id),
        )
        .to_owned()
}

fn busy_blocks_table() -> TableCreateStatement {
    use ExternalBusyBlocks as X;
    Table::create()
        .table(X::Table)
        .if_not_exists()
        .col(id_col(X::Id))
        // "space" or "staff": whose calendar the block came from.
        .col(ColumnDef::new(X::OwnerKind).string_len(16).not_null())
        .col(ColumnDef::new(X::OwnerId).big_integer().not_null())
        .col(
            ColumnDef::new(X::StartsAt)
                .timestamp_with_time_zone()
                .not_null(),
        )
        .col(
            ColumnDef::new(X::EndsAt)
                .timestamp_with_time_zone()
                .not_null(),
        )
        // The Graph event id (or similar), so sync can update in place.
        .col(ColumnDef::new(X::SourceId).string_len(512).not_null())
        .to_owned()
}

fn outbox_table() -> TableCreateStatement {
    use Outbox as O;
    Table::create()
        .table(O::Table)
        .if_not_exists()
        .col(id_col(O::Id))
        // e.g. "space_booking.created"
        .col(ColumnDef::new(O::Kind).string_len(64).not_null())
        .col(ColumnDef::new(O::AggregateId).big_integer().not_null())
        .col(ColumnDef::new(O::Payload).text().not_null())
        // pending, done, failed or paused.
        .col(ColumnDef::new(O::Status).string_len(16).not_null())
        .col(ColumnDef::new(O::Attempts).integer().not_null())
        .col(
            ColumnDef::new(O::RunAfter)
                .timestamp_with_time_zone()
                .not_null(),
        )
        .col(ColumnDef::new(O::LastError).text())
        // A lease: the worker holding the job and until when.
        .col(ColumnDef::new(O::ClaimedBy).string_len(128))
        .col(ColumnDef::new(O::ClaimedUntil).timestamp_with_time_zone())
        .col(
            ColumnDef::new(O::CreatedAt)
                .timestamp_with_time_zone()
                .not_null(),
        )
        .to_owned()
}

fn indexes() -> Vec<IndexCreateStatement> {
    vec![
        Index::create()
            .name("idx_space_hours_space")
            .table(SpaceHours::Table)
            .col(SpaceHours::SpaceId)
            .to_owned(),
        Index::create()
            .name("idx_space_bookings_space_starts")
            .table(SpaceBookings::Table)
            .col(SpaceBookings::SpaceId)
            .col(SpaceBookings::StartsAt)
            .to_owned(),
        Index::create()
            .name("idx_busy_blocks_owner_starts")
            .table(ExternalBusyBlocks::Table)
            .col(ExternalBusyBlocks::OwnerKind)
            .col(ExternalBusyBlocks::OwnerId)
            .col(ExternalBusyBlocks::StartsAt)
            .to_owned(),
        // Claiming scans pending jobs in run_after order.
        Index::create()
            .name("idx_outbox_status_run_after")
            .table(Outbox::Table)
            .col(Outbox::Status)
            .col(Outbox::RunAfter)
            .to_owned(),
    ]
}

#[derive(DeriveIden)]
enum Spaces {
    Table,
    Id,
    Name,
    Location,
    Capacity,
    TimeZone,
    SlotMinutes,
    BookingWindowDays,
    Retired,
    CreatedAt,
}

#[derive(DeriveIden)]
enum SpaceHours {
    Table,
    Id,
    SpaceId,
    Weekday,
    Opens,
    Closes,
}

#[derive(DeriveIden)]
enum SpaceBookings {
    Table,
    Id,
    SpaceId,
    StartsAt,
    EndsAt,
    PatronName,
    PatronEmail,
    Status,
    CreatedBy,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum ExternalBusyBlocks {
    Table,
    Id,
    OwnerKind,
    OwnerId,
    StartsAt,
    EndsAt,
    SourceId,
}

#[derive(DeriveIden)]
enum Outbox {
    Table,
    Id,
    Kind,
    AggregateId,
    Payload,
    Status,
    Attempts,
    RunAfter,
    LastError,
    ClaimedBy,
    ClaimedUntil,
    CreatedAt,
}
