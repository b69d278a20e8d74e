//! A mailbox closed by Graph's Retry-After, for every instance.
//!
//! A 429 used to close a mailbox by marking its free slot rows "held until
//! the Retry-After ends". The slots in flight at that moment were not
//! marked (each holds its own lease), and when one was given back it was
//! free at once: another instance took it and sent inside the Retry-After
//! (found by the fault soak with two instances on one PostgreSQL database:
//! 227 early requests in 1,000 operations). The gate now stands apart from
//! the slots, one row per mailbox, and no slot is taken while it is closed.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(MailboxGates::Table)
                    .if_not_exists()
                    .col(
                        ColumnDef::new(MailboxGates::Mailbox)
                            .string_len(320)
                            .not_null()
                            .primary_key(),
                    )
                    .col(
                        ColumnDef::new(MailboxGates::ClosedUntil)
                            .timestamp_with_time_zone()
                            .not_null(),
                    )
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(MailboxGates::Table).to_owned())
            .await
    }
}

#[derive(DeriveIden)]
enum MailboxGates {
    Table,
    Mailbox,
    ClosedUntil,
}
