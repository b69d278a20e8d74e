//! Outlook calendar connections: storing a staff member's account and
//! sealed tokens after they connect, handing out access tokens (with a
//! refresh that runs once per connection at a time, across processes),
//! disconnecting, and marking a dead grant "needs reauthorization".

pub mod connect;
pub mod tokens;

use chrono::{DateTime, Utc};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter, Set,
    Statement, TransactionTrait,
};
use secrecy::SecretString;

use crate::entities::calendar_connection::{self, Entity as Connections};
use crate::entities::legacy_exchange_setting;
use crate::integration::{self, StoreError};
use crate::microsoft::{AppCredentials, Authority};
use crate::outbox::db_time;
use crate::vault::{Purpose, Vault};

pub use connect::{
    CallbackOutcome, CallbackParams, ConnectError, appointments_enabled, begin_connect,
    finish_connect,
};
pub use tokens::{AccessToken, TokenFailure, access_token, usable_token};

pub const STAFF: &str = "staff";
pub const SPACE: &str = "space";

pub const ACTIVE: &str = "active";
pub const NEEDS_REAUTHORIZATION: &str = "needs_reauthorization";
pub const REVOKED: &str = "revoked";

/// Who a connection belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Owner<'a> {
    pub kind: &'a str,
    pub id: i64,
}

impl Owner<'static> {
    pub fn staff(user_id: i64) -> Self {
        Owner {
            kind: STAFF,
            id: user_id,
        }
    }
}

/// What a staff member (or admin) may see about a connection: never a
/// token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnectionSummary {
    pub id: i64,
    pub account: String,
    /// "active", "needs_reauthorization" or "revoked".
    pub status: String,
    pub last_error: Option<String>,
    pub last_success_at: Option<DateTime<Utc>>,
    /// Sync jobs not yet done (pending or paused) for this owner.
    pub pending_jobs: u64,
    pub failed_jobs: u64,
}

#[derive(Debug, thiserror::Error)]
pub enum ConnectionError {
    #[error("database: {0}")]
    Db(#[from] DbErr),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<crate::vault::VaultError> for ConnectionError {
    fn from(e: crate::vault::VaultError) -> Self {
        ConnectionError::Store(StoreError::Vault(e))
    }
}

pub async fn find(
    db: &impl ConnectionTrait,
    owner: Owner<'_>,
) -> Result<Option<calendar_connection::Model>, DbErr> {
    Connections::find()
        .filter(calendar_connection::Column::OwnerKind.eq(owner.kind))
        .filter(calendar_connection::Column::OwnerId.eq(owner.id))
        .one(db)
        .await
}

/// The owner's connection as the sync page shows it.
pub async fn summary(
    db: &impl ConnectionTrait,
    owner: Owner<'_>,
) -> Result<Option<ConnectionSummary>, DbErr> {
    let Some(c) = find(db, owner).await? else {
        return Ok(None);
    };
    let (pending_jobs, failed_jobs) = if owner.kind == STAFF {
        (
            count_staff_jobs(db, owner.id, &["pending", "paused"]).await?,
            count_staff_jobs(db, owner.id, &["failed"]).await?,
        )
    } else {
        (0, 0)
    };
    Ok(Some(ConnectionSummary {
        id: c.id,
        account: c.account,
        status: c.status,
        last_error: c.last_error,
        last_success_at: c.last_success_at,
        pending_jobs,
        failed_jobs,
    }))
}

async fn count_staff_jobs(
    db: &impl ConnectionTrait,
    staff_id: i64,
    statuses: &[&str],
) -> Result<u64, DbErr> {
    let list = statuses
        .iter()
        .map(|s| format!("'{s}'"))
        .collect::<Vec<_>>()
        .join(",");
    let sql = format!(
        "SELECT COUNT(*) AS n FROM outbox WHERE status IN ({list}) AND kind LIKE 'appointment.%' \
         AND aggregate_id IN (SELECT id FROM appointments WHERE staff_id = $1)"
    );
    let row = db
        .query_one(Statement::from_sql_and_values(
            db.get_database_backend(),
            sql,
            [staff_id.into()],
        ))
        .await?;
    Ok(row
        .and_then(|r| r.try_get::<i64>("", "n").ok())
        .unwrap_or(0) as u64)
}

/// Stores a new (or renewed) connection with its sealed tokens, resumes
/// jobs paused while it was away, and retires the owner's legacy password
/// settings — all in one transaction.
pub async fn store_connection(
    db: &impl TransactionTrait,
    vault: &Vault,
    owner: Owner<'_>,
    account: &str,
    tokens: &crate::microsoft::TokenSet,
    now: DateTime<Utc>,
) -> Result<calendar_connection::Model, ConnectionError> {
    let access = vault.seal(Purpose::AccessToken, &tokens.access_token);
    let refresh = tokens
        .refresh_token
        .as_ref()
        .map(|r| vault.seal(Purpose::RefreshToken, r));
    let expires = tokens
        .expires_in
        .and_then(|d| chrono::TimeDelta::from_std(d).ok())
        .map(|d| db_time(now + d));
    let txn = db.begin().await?;
    let existing = find(&txn, owner).await?;
    let model = match existing {
        Some(row) => {
            let version = row.token_version + 1;
            let mut a: calendar_connection::ActiveModel = row.into();
            a.account = Set(account.to_owned());
            a.access_token_sealed = Set(Some(access.as_stored().to_owned()));
            a.refresh_token_sealed = Set(refresh.map(|r| r.as_stored().to_owned()));
            a.access_expires_at = Set(expires);
            a.token_version = Set(version);
            a.status = Set(ACTIVE.to_owned());
            a.last_error = Set(None);
            a.refresh_lease_by = Set(None);
            a.refresh_lease_until = Set(None);
            a.updated_at = Set(db_time(now));
            a.update(&txn).await?
        }
        None => {
            calendar_connection::ActiveModel {
                owner_kind: Set(owner.kind.to_owned()),
                owner_id: Set(owner.id),
                account: Set(account.to_owned()),
                access_token_sealed: Set(Some(access.as_stored().to_owned())),
                refresh_token_sealed: Set(refresh.map(|r| r.as_stored().to_owned())),
                access_expires_at: Set(expires),
                token_version: Set(1),
                status: Set(ACTIVE.to_owned()),
                last_error: Set(None),
                last_success_at: Set(None),
                refresh_lease_by: Set(None),
                refresh_lease_until: Set(None),
                created_at: Set(db_time(now)),
                updated_at: Set(db_time(now)),
                ..Default::default()
            }
            .insert(&txn)
            .await?
        }
    };
    legacy_exchange_setting::Entity::delete_many()
        .filter(legacy_exchange_setting::Column::OwnerKind.eq(owner.kind))
        .filter(legacy_exchange_setting::Column::OwnerId.eq(owner.id))
        .exec(&txn)
        .await?;
    if owner.kind == STAFF {
        resume_staff_jobs(&txn, owner.id, now).await?;
    }
    txn.commit().await?;
    Ok(model)
}

/// The owner stops sync: tokens erased, status revoked, their waiting
/// jobs paused. Events already in Outlook stay. `false` when there was
/// no connection.
pub async fn disconnect(
    db: &impl TransactionTrait,
    owner: Owner<'_>,
    now: DateTime<Utc>,
) -> Result<bool, ConnectionError> {
    let txn = db.begin().await?;
    let Some(row) = find(&txn, owner).await? else {
        return Ok(false);
    };
    revoke_row(&txn, row, None, now).await?;
    txn.commit().await?;
    Ok(true)
}

async fn revoke_row(
    db: &impl ConnectionTrait,
    row: calendar_connection::Model,
    note: Option<String>,
    now: DateTime<Utc>,
) -> Result<(), DbErr> {
    let (kind, id) = (row.owner_kind.clone(), row.owner_id);
    let mut a: calendar_connection::ActiveModel = row.into();
    a.access_token_sealed = Set(None);
    a.refresh_token_sealed = Set(None);
    a.access_expires_at = Set(None);
    a.status = Set(REVOKED.to_owned());
    a.last_error = Set(note);
    a.refresh_lease_by = Set(None);
    a.refresh_lease_until = Set(None);
    a.updated_at = Set(db_time(now));
    a.update(db).await?;
    if kind == STAFF {
        pause_staff_jobs(db, id).await?;
    }
    Ok(())
}

/// Every connection revoked, every token erased, every waiting job
/// paused (the system-wide disconnect). Returns how many were revoked.
pub async fn revoke_all(db: &impl ConnectionTrait, now: DateTime<Utc>) -> Result<u64, DbErr> {
    let rows = Connections::find()
        .filter(calendar_connection::Column::Status.ne(REVOKED))
        .all(db)
        .await?;
    let n = rows.len() as u64;
    for row in rows {
        revoke_row(
            db,
            row,
            Some("Disconnected by an administrator for all users and spaces.".into()),
            now,
        )
        .await?;
    }
    // Tokens of already-revoked rows are erased too (belt and braces).
    Connections::update_many()
        .col_expr(
            calendar_connection::Column::AccessTokenSealed,
            Option::<String>::None.into(),
        )
        .col_expr(
            calendar_connection::Column::RefreshTokenSealed,
            Option::<String>::None.into(),
        )
        .exec(db)
        .await?;
    Ok(n)
}

/// The grant is dead: only the person signing in again helps. Pauses the
/// connection's jobs so nothing retries in a loop.
pub async fn mark_needs_reauthorization(
    db: &impl ConnectionTrait,
    connection_id: i64,
    error: &str,
    now: DateTime<Utc>,
) -> Result<(), DbErr> {
    let Some(row) = Connections::find_by_id(connection_id).one(db).await? else {
        return Ok(());
    };
    let (kind, id) = (row.owner_kind.clone(), row.owner_id);
    let mut a: calendar_connection::ActiveModel = row.into();
    a.status = Set(NEEDS_REAUTHORIZATION.to_owned());
    a.last_error = Set(Some(error.to_owned()));
    a.access_token_sealed = Set(None);
    a.refresh_lease_by = Set(None);
    a.refresh_lease_until = Set(None);
    a.updated_at = Set(db_time(now));
    a.update(db).await?;
    if kind == STAFF {
        pause_staff_jobs(db, id).await?;
    }
    Ok(())
}

/// A request went through: the page shows "last synced".
pub async fn record_success(
    db: &impl ConnectionTrait,
    connection_id: i64,
    now: DateTime<Utc>,
) -> Result<(), DbErr> {
    Connections::update_many()
        .col_expr(
            calendar_connection::Column::LastSuccessAt,
            Some(db_time(now)).into(),
        )
        .col_expr(
            calendar_connection::Column::LastError,
            Option::<String>::None.into(),
        )
        .filter(calendar_connection::Column::Id.eq(connection_id))
        .filter(calendar_connection::Column::Status.eq(ACTIVE))
        .exec(db)
        .await?;
    Ok(())
}

/// Pending appointment jobs of a staff member → paused.
pub async fn pause_staff_jobs(db: &impl ConnectionTrait, staff_id: i64) -> Result<u64, DbErr> {
    let sql = "UPDATE outbox SET status = 'paused' WHERE status = 'pending' \
               AND kind LIKE 'appointment.%' \
               AND aggregate_id IN (SELECT id FROM appointments WHERE staff_id = $1)";
    let r = db
        .execute(Statement::from_sql_and_values(
            db.get_database_backend(),
            sql,
            [staff_id.into()],
        ))
        .await?;
    Ok(r.rows_affected())
}

/// Paused appointment jobs of a staff member → pending, due now.
pub async fn resume_staff_jobs(
    db: &impl ConnectionTrait,
    staff_id: i64,
    now: DateTime<Utc>,
) -> Result<u64, DbErr> {
    let sql = "UPDATE outbox SET status = 'pending', run_after = $2, claimed_by = NULL, \
               claimed_until = NULL WHERE status = 'paused' AND kind LIKE 'appointment.%' \
               AND aggregate_id IN (SELECT id FROM appointments WHERE staff_id = $1)";
    let r = db
        .execute(Statement::from_sql_and_values(
            db.get_database_backend(),
            sql,
            [staff_id.into(), db_time(now).into()],
        ))
        .await?;
    Ok(r.rows_affected())
}

/// The app registration as the token endpoint needs it, secret opened.
pub struct AppRegistration {
    pub application_id: String,
    pub secret: SecretString,
    pub authority: Authority,
    pub redirect_url: String,
    /// For the admin-consent link: the tenant, or "organizations".
    pub consent_tenant: String,
}

impl AppRegistration {
    pub fn credentials(&self) -> AppCredentials<'_> {
        AppCredentials {
            application_id: &self.application_id,
            secret: &self.secret,
            authority: &self.authority,
            redirect_url: &self.redirect_url,
        }
    }
}

impl std::fmt::Debug for AppRegistration {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AppRegistration")
            .field("application_id", &self.application_id)
            .field("authority", &self.authority)
            .finish_non_exhaustive()
    }
}

/// `None` unless the integration is set up, active and not disconnected.
pub async fn active_registration(
    db: &impl ConnectionTrait,
    vault: &Vault,
    settings: &crate::config::Settings,
) -> Result<Option<AppRegistration>, StoreError> {
    let s = integration::load(db).await?;
    if !(s.active && s.disconnected_at.is_none()) {
        return Ok(None);
    }
    registration_of(s, vault, settings)
}

/// The registration while its secret is stored, active or not (to clean
/// up at Microsoft after sync was turned off).
pub async fn stored_registration(
    db: &impl ConnectionTrait,
    vault: &Vault,
    settings: &crate::config::Settings,
) -> Result<Option<AppRegistration>, StoreError> {
    registration_of(integration::load(db).await?, vault, settings)
}

fn registration_of(
    s: integration::IntegrationSettings,
    vault: &Vault,
    settings: &crate::config::Settings,
) -> Result<Option<AppRegistration>, StoreError> {
    let (Some(application_id), Some(sealed)) = (s.application_id.clone(), &s.client_secret) else {
        return Ok(None);
    };
    let secret = vault.open(Purpose::ClientSecret, sealed)?;
    let authority = s.account_type.authority(s.tenant_id.as_deref());
    let consent_tenant = match &authority {
        Authority::Tenant(t) => t.clone(),
        _ => "organizations".to_owned(),
    };
    Ok(Some(AppRegistration {
        application_id,
        secret,
        authority,
        redirect_url: integration::redirect_url(settings),
        consent_tenant,
    }))
}

/// Re-seals every connection's tokens with the active key (rotate-key).
pub async fn reseal_tokens(db: &impl ConnectionTrait, vault: &Vault) -> Result<u64, StoreError> {
    use crate::vault::Sealed;
    let mut n = 0;
    for row in Connections::find().all(db).await? {
        let access = row.access_token_sealed.clone().map(Sealed::from_stored);
        let refresh = row.refresh_token_sealed.clone().map(Sealed::from_stored);
        let new_access = match &access {
            Some(s) => vault.reseal(Purpose::AccessToken, s)?,
            None => None,
        };
        let new_refresh = match &refresh {
            Some(s) => vault.reseal(Purpose::RefreshToken, s)?,
            None => None,
        };
        if new_access.is_none() && new_refresh.is_none() {
            continue;
        }
        let mut a: calendar_connection::ActiveModel = row.into();
        if let Some(s) = new_access {
            a.access_token_sealed = Set(Some(s.as_stored().to_owned()));
            n += 1;
        }
        if let Some(s) = new_refresh {
            a.refresh_token_sealed = Set(Some(s.as_stored().to_owned()));
            n += 1;
        }
        a.update(db).await?;
    }
    Ok(n)
}
