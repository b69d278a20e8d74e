//! Outlook calendar sync: each staff member's (later each space's)
//! connection with its sealed tokens, the map from local records to Graph
//! events, the per-mailbox request slots shared by every server instance,
//! and the free/busy delta state.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.create_table(connections_table()).await?;
        manager.create_table(event_links_table()).await?;
        manager.create_table(mailbox_slots_table()).await?;
        manager.create_table(free_busy_state_table()).await?;
        for index in indexes() {
            manager.create_index(index).await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            FreeBusyState::Table.into_iden(),
            MailboxSlots::Table.into_iden(),
            EventLinks::Table.into_iden(),
            CalendarConnections::Table.into_iden(),
        ] {
            manager
                .drop_table(Table::drop().table(table).to_owned())
                .await?;
        }
        Ok(())
    }
}

fn id_col<T: IntoIden>(col: T) -> ColumnDef {
    ColumnDef::new(col)
        .big_integer()
        .not_null()
        .auto_increment()
        .primary_key()
        .to_owned()
}

fn timestamp<T: IntoIden>(col: T) -> ColumnDef {
    ColumnDef::new(col)
        .timestamp_with_time_zone()
        .not_null()
        .to_owned()
}

fn optional_timestamp<T: IntoIden>(col: T) -> ColumnDef {
    ColumnDef::new(col).timestamp_with_time_zone().to_owned()
}

/// One per owner: a staff member (user id) or a space (space id).
fn connections_table() -> TableCreateStatement {
    use CalendarConnections as C;
    Table::create()
        .table(C::Table)
        .if_not_exists()
        .col(id_col(C::Id))
        // "staff" or "space".
        .col(ColumnDef::new(C::OwnerKind).string_len(16).not_null())
        .col(ColumnDef::new(C::OwnerId).big_integer().not_null())
        // The mailbox written to: the signed-in account's address.
        .col(ColumnDef::new(C::Account).string_len(320).not_null())
        // Vault ciphertexts; erased (NULL) when the connection is revoked.
        .col(ColumnDef::new(C::AccessTokenSealed).text())
        .col(ColumnDef::new(C::RefreshTokenSealed).text())
        .col(optional_timestamp(C::AccessExpiresAt))
        // Bumped by every refresh: a worker whose token was refused knows
        // whether someone else has refreshed since it read the row.
        .col(ColumnDef::new(C::TokenVersion).big_integer().not_null())
        // "active", "needs_reauthorization" or "revoked".
        .col(ColumnDef::new(C::Status).string_len(32).not_null())
        .col(ColumnDef::new(C::LastError).text())
        .col(optional_timestamp(C::LastSuccessAt))
        // Single-flight refresh across processes: whoever sets the lease
        // refreshes, the others wait for the new token.
        .col(ColumnDef::new(C::RefreshLeaseBy).string_len(100))
        .col(optional_timestamp(C::RefreshLeaseUntil))
        .col(timestamp(C::CreatedAt))
        .col(timestamp(C::UpdatedAt))
        .to_owned()
}

/// Local record → Graph event, written before its job is marked done.
fn event_links_table() -> TableCreateStatement {
    use EventLinks as L;
    Table::create()
        .table(L::Table)
        .if_not_exists()
        .col(id_col(L::Id))
        // "appointment" or "space_booking".
        .col(ColumnDef::new(L::RecordKind).string_len(32).not_null())
        .col(ColumnDef::new(L::RecordId).big_integer().not_null())
        .col(ColumnDef::new(L::ConnectionId).big_integer().not_null())
        .col(ColumnDef::new(L::Mailbox).string_len(320).not_null())
        .col(ColumnDef::new(L::GraphEventId).string_len(512).not_null())
        .col(ColumnDef::new(L::TransactionId).string_len(64).not_null())
        .col(timestamp(L::CreatedAt))
        .col(timestamp(L::UpdatedAt))
        .to_owned()
}

/// Graph allows 4 concurrent requests per app per mailbox, counted across
/// all our instances: a request holds one of the mailbox's rows (slot 0..3)
/// while in flight. `held_until` frees the slot of a crashed holder.
fn mailbox_slots_table() -> TableCreateStatement {
    use MailboxSlots as S;
    Table::create()
        .table(S::Table)
        .if_not_exists()
        .col(id_col(S::Id))
        .col(ColumnDef::new(S::Mailbox).string_len(320).not_null())
        .col(ColumnDef::new(S::Slot).integer().not_null())
        .col(ColumnDef::new(S::HeldBy).string_len(100))
        .col(optional_timestamp(S::HeldUntil))
        .to_owned()
}

/// Where a connection's free/busy reading stands: the window of the
/// current delta round and the link to continue it.
fn free_busy_state_table() -> TableCreateStatement {
    use FreeBusyState as F;
    Table::create()
        .table(F::Table)
        .if_not_exists()
        .col(id_col(F::Id))
        .col(ColumnDef::new(F::ConnectionId).big_integer().not_null())
        .col(timestamp(F::WindowStart))
        .col(timestamp(F::WindowEnd))
        .col(ColumnDef::new(F::DeltaLink).text())
        .col(optional_timestamp(F::LastSyncedAt))
        .col(timestamp(F::UpdatedAt))
        .to_owned()
}

fn indexes() -> Vec<IndexCreateStatement> {
    vec![
        Index::create()
            .name("idx_calendar_connections_owner")
            .table(CalendarConnections::Table)
            .col(CalendarConnections::OwnerKind)
            .col(CalendarConnections::OwnerId)
            .unique()
            .to_owned(),
        Index::create()
            .name("idx_event_links_record")
            .table(EventLinks::Table)
            .col(EventLinks::RecordKind)
            .col(EventLinks::RecordId)
            .unique()
            .to_owned(),
        Index::create()
            .name("idx_mailbox_slots_slot")
            .table(MailboxSlots::Table)
            .col(MailboxSlots::Mailbox)
            .col(MailboxSlots::Slot)
            .unique()
            .to_owned(),
        // The sync workers' claim looks for earlier jobs of the same
        // record; without this it scans the outbox once per candidate.
        Index::create()
            .name("idx_outbox_aggregate")
            .table(Outbox::Table)
            .col(Outbox::AggregateId)
            .col(Outbox::Id)
            .to_owned(),
        Index::create()
            .name("idx_free_busy_state_connection")
            .table(FreeBusyState::Table)
            .col(FreeBusyState::ConnectionId)
            .unique()
            .to_owned(),
    ]
}

#[derive(DeriveIden)]
enum CalendarConnections {
    Table,
    Id,
    OwnerKind,
    OwnerId,
    Account,
    AccessTokenSealed,
    RefreshTokenSealed,
    AccessExpiresAt,
    TokenVersion,
    Status,
    LastError,
    LastSuccessAt,
    RefreshLeaseBy,
    RefreshLeaseUntil,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum Outbox {
    Table,
    AggregateId,
    Id,
}

#[derive(DeriveIden)]
enum EventLinks {
    Table,
    Id,
    RecordKind,
    RecordId,
    ConnectionId,
    Mailbox,
    GraphEventId,
    TransactionId,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum MailboxSlots {
    Table,
    Id,
    Mailbox,
    Slot,
    HeldBy,
    HeldUntil,
}

#[derive(DeriveIden)]
enum FreeBusyState {
    Table,
    Id,
    ConnectionId,
    WindowStart,
    WindowEnd,
    DeltaLink,
    LastSyncedAt,
    UpdatedAt,
}
