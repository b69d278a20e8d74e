//! The Outlook integration's settings (one row) and its audit log.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.create_table(settings_table()).await?;
        manager.create_table(audit_table()).await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_integration_audit_at")
                    .table(IntegrationAudit::Table)
                    .col(IntegrationAudit::At)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(IntegrationAudit::Table).to_owned())
            .await?;
        manager
            .drop_table(Table::drop().table(IntegrationSettings::Table).to_owned())
            .await
    }
}

fn settings_table() -> TableCreateStatement {
    use IntegrationSettings as S;
    Table::create()
        .table(S::Table)
        .if_not_exists()
        // Always 1: the integration is configured once per installation.
        .col(ColumnDef::new(S::Id).integer().not_null().primary_key())
        .col(ColumnDef::new(S::ApplicationId).string_len(64))
        // A vault envelope (key id + AES-GCM), never the plain secret.
        .col(ColumnDef::new(S::ClientSecret).text())
        .col(ColumnDef::new(S::SecretHint).string_len(8))
        .col(ColumnDef::new(S::SecretExpiresOn).date())
        .col(ColumnDef::new(S::AccountType).string_len(32).not_null())
        .col(ColumnDef::new(S::TenantId).string_len(255))
        .col(ColumnDef::new(S::Active).boolean().not_null())
        .col(ColumnDef::new(S::CheckedAt).timestamp_with_time_zone())
        .col(ColumnDef::new(S::DisconnectedAt).timestamp_with_time_zone())
        .col(ColumnDef::new(S::UpdatedAt).timestamp_with_time_zone())
        .col(ColumnDef::new(S::UpdatedBy).big_integer())
        .to_owned()
}

fn audit_table() -> TableCreateStatement {
    use IntegrationAudit as A;
    Table::create()
        .table(A::Table)
        .if_not_exists()
        .col(
            ColumnDef::new(A::Id)
                .big_integer()
                .not_null()
                .auto_increment()
                .primary_key(),
        )
        .col(ColumnDef::new(A::At).timestamp_with_time_zone().not_null())
        .col(ColumnDef::new(A::ActorId).big_integer())
        // Kept as text so the entry still says who after an account is gone.
        .col(ColumnDef::new(A::ActorEmail).string_len(320).not_null())
        .col(ColumnDef::new(A::Action).string_len(64).not_null())
        .col(ColumnDef::new(A::Detail).text().not_null())
        .to_owned()
}

#[derive(DeriveIden)]
enum IntegrationSettings {
    Table,
    Id,
    ApplicationId,
    ClientSecret,
    SecretHint,
    SecretExpiresOn,
    AccountType,
    TenantId,
    Active,
    CheckedAt,
    DisconnectedAt,
    UpdatedAt,
    UpdatedBy,
}

#[derive(DeriveIden)]
enum IntegrationAudit {
    Table,
    Id,
    At,
    ActorId,
    ActorEmail,
    Action,
    Detail,
}
