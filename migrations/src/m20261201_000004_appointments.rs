//! Staff appointments: who offers them and when, the appointments booked
//! with them, and the legacy Exchange password settings that staff members
//! and spaces may carry over from password-based sync.
//!
//! Like the booking tables: times are UTC `timestamp with time zone`;
//! weekly hours are minutes from local midnight in the staff member's zone.

use sea_orm::DatabaseBackend;
use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.create_table(staff_profiles_table()).await?;
        manager.create_table(staff_hours_table()).await?;
        manager.create_table(staff_exceptions_table()).await?;
        manager.create_table(appointments_table()).await?;
        manager.create_table(legacy_settings_table()).await?;
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
            LegacyExchangeSettings::Table.into_iden(),
            Appointments::Table.into_iden(),
            StaffExceptions::Table.into_iden(),
            StaffHours::Table.into_iden(),
            StaffProfiles::Table.into_iden(),
        ] {
            manager
                .drop_table(Table::drop().table(table).to_owned())
                .await?;
        }
        Ok(())
    }
}

/// A staff member is never booked twice at once, even under a race; the
/// same guarantee and the same mechanism as for space bookings.
async fn no_overlap_constraint(manager: &SchemaManager<'_>) -> Result<(), DbErr> {
    let db = manager.get_connection();
    db.execute_unprepared("CREATE EXTENSION IF NOT EXISTS btree_gist")
        .await?;
    db.execute_unprepared(
        "ALTER TABLE appointments ADD CONSTRAINT appointments_no_overlap \
         EXCLUDE USING gist (staff_id WITH =, tstzrange(starts_at, ends_at) WITH &&) \
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

fn timestamp<T: IntoIden>(col: T) -> ColumnDef {
    ColumnDef::new(col)
        .timestamp_with_time_zone()
        .not_null()
        .to_owned()
}

fn user_fk<T: IntoIden + 'static>(table: T, col: impl IntoIden) -> ForeignKeyCreateStatement {
    ForeignKey::create()
        .from(table, col)
        .to(Users::Table, Users::Id)
        .on_delete(ForeignKeyAction::Cascade)
        .to_owned()
}

/// One row per staff member who has (ever) had appointments set up.
fn staff_profiles_table() -> TableCreateStatement {
    use StaffProfiles as P;
    Table::create()
        .table(P::Table)
        .if_not_exists()
        .col(id_col(P::Id))
        .col(
            ColumnDef::new(P::UserId)
                .big_integer()
                .not_null()
                .unique_key(),
        )
        // The admin's switch: only activated staff appear to patrons.
        .col(ColumnDef::new(P::AppointmentsEnabled).boolean().not_null())
        .col(ColumnDef::new(P::AppointmentMinutes).integer().not_null())
        // "in_person" or "online".
        .col(ColumnDef::new(P::LocationKind).string_len(16).not_null())
        .col(ColumnDef::new(P::Location).string_len(300).not_null())
        .col(ColumnDef::new(P::TimeZone).string_len(64).not_null())
        .col(ColumnDef::new(P::BookingWindowDays).integer().not_null())
        // Opt-in: the staff member's Outlook busy times block their hours.
        .col(ColumnDef::new(P::FreeBusyEnabled).boolean().not_null())
        .col(timestamp(P::CreatedAt))
        .col(timestamp(P::UpdatedAt))
        .foreign_key(&mut user_fk(P::Table, P::UserId))
        .to_owned()
}

fn staff_hours_table() -> TableCreateStatement {
    use StaffHours as H;
    Table::create()
        .table(H::Table)
        .if_not_exists()
        .col(id_col(H::Id))
        .col(ColumnDef::new(H::UserId).big_integer().not_null())
        // 0 = Monday … 6 = Sunday.
        .col(ColumnDef::new(H::Weekday).small_integer().not_null())
        .col(ColumnDef::new(H::Opens).integer().not_null())
        .col(ColumnDef::new(H::Closes).integer().not_null())
        .foreign_key(&mut user_fk(H::Table, H::UserId))
        .to_owned()
}

/// Days off: no appointments on that local date.
fn staff_exceptions_table() -> TableCreateStatement {
    use StaffExceptions as E;
    Table::create()
        .table(E::Table)
        .if_not_exists()
        .col(id_col(E::Id))
        .col(ColumnDef::new(E::UserId).big_integer().not_null())
        .col(ColumnDef::new(E::Day).date().not_null())
        .col(ColumnDef::new(E::Note).string_len(200).not_null())
        .foreign_key(&mut user_fk(E::Table, E::UserId))
        .to_owned()
}

fn appointments_table() -> TableCreateStatement {
    use Appointments as A;
    Table::create()
        .table(A::Table)
        .if_not_exists()
        .col(id_col(A::Id))
        .col(ColumnDef::new(A::StaffId).big_integer().not_null())
        .col(timestamp(A::StartsAt))
        .col(timestamp(A::EndsAt))
        .col(ColumnDef::new(A::PatronName).string_len(200).not_null())
        .col(ColumnDef::new(A::PatronEmail).string_len(320).not_null())
        .col(ColumnDef::new(A::Question).text().not_null())
        // Copied from the profile when booked, so a later change of the
        // staff member's location does not rewrite past appointments.
        .col(ColumnDef::new(A::LocationKind).string_len(16).not_null())
        .col(ColumnDef::new(A::Location).string_len(300).not_null())
        // "active" or "cancelled"; the exclusion constraint looks at it.
        .col(ColumnDef::new(A::Status).string_len(16).not_null())
        .col(ColumnDef::new(A::CreatedBy).big_integer())
        .col(timestamp(A::CreatedAt))
        .col(timestamp(A::UpdatedAt))
        .foreign_key(&mut user_fk(A::Table, A::StaffId))
        .to_owned()
}

/// Exchange "password authentication" settings from before OAuth. Kept
/// exactly as they are until the owner connects by OAuth 2.
fn legacy_settings_table() -> TableCreateStatement {
    use LegacyExchangeSettings as L;
    Table::create()
        .table(L::Table)
        .if_not_exists()
        .col(id_col(L::Id))
        // "staff" (a user id) or "space" (a space id).
        .col(ColumnDef::new(L::OwnerKind).string_len(16).not_null())
        .col(ColumnDef::new(L::OwnerId).big_integer().not_null())
        .col(ColumnDef::new(L::ServerUrl).string_len(500).not_null())
        .col(ColumnDef::new(L::Account).string_len(320).not_null())
        // Sealed by the vault, like every secret.
        .col(ColumnDef::new(L::PasswordSealed).text().not_null())
        .col(timestamp(L::UpdatedAt))
        .to_owned()
}

fn indexes() -> Vec<IndexCreateStatement> {
    vec![
        Index::create()
            .name("idx_staff_hours_user")
            .table(StaffHours::Table)
            .col(StaffHours::UserId)
            .to_owned(),
        Index::create()
            .name("idx_staff_exceptions_user_day")
            .table(StaffExceptions::Table)
            .col(StaffExceptions::UserId)
            .col(StaffExceptions::Day)
            .unique()
            .to_owned(),
        Index::create()
            .name("idx_appointments_staff_starts")
            .table(Appointments::Table)
            .col(Appointments::StaffId)
            .col(Appointments::StartsAt)
            .to_owned(),
        Index::create()
            .name("idx_legacy_settings_owner")
            .table(LegacyExchangeSettings::Table)
            .col(LegacyExchangeSettings::OwnerKind)
            .col(LegacyExchangeSettings::OwnerId)
            .unique()
            .to_owned(),
    ]
}

#[derive(DeriveIden)]
enum Users {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum StaffProfiles {
    Table,
    Id,
    UserId,
    AppointmentsEnabled,
    AppointmentMinutes,
    LocationKind,
    Location,
    TimeZone,
    BookingWindowDays,
    FreeBusyEnabled,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum StaffHours {
    Table,
    Id,
    UserId,
    Weekday,
    Opens,
    Closes,
}

#[derive(DeriveIden)]
enum StaffExceptions {
    Table,
    Id,
    UserId,
    Day,
    Note,
}

#[derive(DeriveIden)]
enum Appointments {
    Table,
    Id,
    StaffId,
    StartsAt,
    EndsAt,
    PatronName,
    PatronEmail,
    Question,
    LocationKind,
    Location,
    Status,
    CreatedBy,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum LegacyExchangeSettings {
    Table,
    Id,
    OwnerKind,
    OwnerId,
    ServerUrl,
    Account,
    PasswordSealed,
    UpdatedAt,
}
