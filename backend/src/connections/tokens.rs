//! Access tokens for the sync workers. A refresh runs once per connection
//! at a time across every worker and process: the one that sets the
//! connection's refresh lease in the database asks Microsoft, the others
//! wait for the row's `token_version` to move and use the new token.

use std::time::Duration;

use chrono::{TimeDelta, Utc};
use sea_orm::{ActiveValue, ColumnTrait, EntityTrait, QueryFilter};
use secrecy::SecretString;

use super::{ACTIVE, active_registration, mark_needs_reauthorization};
use crate::Backend;
use crate::entities::calendar_connection::{self, Entity as Connections};
use crate::outbox::db_time;
use crate::vault::{Purpose, Sealed};

/// A token is refreshed this long before it expires.
const EXPIRY_MARGIN: TimeDelta = TimeDelta::seconds(120);
/// How long a refresher may hold the lease before others take over.
const REFRESH_LEASE: TimeDelta = TimeDelta::seconds(30);
const WAIT_STEP: Duration = Duration::from_millis(50);
const WAIT_LIMIT: Duration = Duration::from_secs(35);

/// A usable access token and the `token_version` it belongs to (give the
/// version back after a 401, so the refresh happens only once).
pub struct AccessToken {
    pub token: SecretString,
    pub version: i64,
}

impl std::fmt::Debug for AccessToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "AccessToken(version {})", self.version)
    }
}

#[derive(Debug, thiserror::Error)]
pub enum TokenFailure {
    /// Revoked, needs reauthorization, or the integration is off.
    #[error("the connection is not active ({0})")]
    NotActive(String),
    /// The refresh token was refused for good; the connection is now
    /// marked "needs reauthorization".
    #[error("Microsoft no longer accepts this connection's grant: {0}")]
    DeadGrant(String),
    /// Try again later (Microsoft unreachable, lease holder slow, …).
    #[error("{0}")]
    Transient(String),
    #[error("database: {0}")]
    Db(#[from] sea_orm::DbErr),
    #[error(transparent)]
    Store(#[from] crate::integration::StoreError),
}

/// An access token for the connection, refreshed when it is about to
/// expire or when `refused` names the version Graph just refused.
pub async fn access_token(
    backend: &Backend,
    connection_id: i64,
    refused: Option<i64>,
    holder: &str,
) -> Result<AccessToken, TokenFailure> {
    let token = current_or_refreshed(backend, connection_id, refused, holder).await?;
    backend.sync.saw_token(connection_id, token.version);
    Ok(token)
}

async fn current_or_refreshed(
    backend: &Backend,
    connection_id: i64,
    refused: Option<i64>,
    holder: &str,
) -> Result<AccessToken, TokenFailure> {
    let started = std::time::Instant::now();
    loop {
        let row = Connections::find_by_id(connection_id)
            .one(&backend.db)
            .await?
            .ok_or_else(|| TokenFailure::NotActive("no such connection".into()))?;
        if row.status != ACTIVE || row.refresh_token_sealed.is_none() {
            return Err(TokenFailure::NotActive(row.status));
        }
        if refused != Some(row.token_version)
            && let Some(token) = usable_token(backend, &row)?
        {
            return Ok(token);
        }
        if take_lease(backend, &row, holder).await? {
            return refresh(backend, row, holder).await;
        }
        if started.elapsed() > WAIT_LIMIT {
            return Err(TokenFailure::Transient(
                "another worker's token refresh did not finish in time".into(),
            ));
        }
        tokio::time::sleep(WAIT_STEP).await;
    }
}

/// The access token stored in `row`, if it is not about to expire. Callers
/// that have just read the row use this and skip reading it again.
pub fn usable_token(
    backend: &Backend,
    row: &calendar_connection::Model,
) -> Result<Option<AccessToken>, TokenFailure> {
    let fresh = row.status == ACTIVE
        && row
            .access_expires_at
            .is_some_and(|at| at > Utc::now() + EXPIRY_MARGIN);
    let Some(sealed) = row.access_token_sealed.as_ref().filter(|_| fresh) else {
        return Ok(None);
    };
    let token = backend
        .vault
        .open(Purpose::AccessToken, &Sealed::from_stored(sealed.clone()))
        .map_err(crate::integration::StoreError::from)?;
    Ok(Some(AccessToken {
        token,
        version: row.token_version,
    }))
}

/// Sets the refresh lease unless someone holds it or has refreshed since
/// `row` was read.
async fn take_lease(
    backend: &Backend,
    row: &calendar_connection::Model,
    holder: &str,
) -> Result<bool, sea_orm::DbErr> {
    let now = db_time(Utc::now());
    let result = Connections::update_many()
        .col_expr(
            calendar_connection::Column::RefreshLeaseBy,
            Some(holder.to_owned()).into(),
        )
        .col_expr(
            calendar_connection::Column::RefreshLeaseUntil,
            Some(now + REFRESH_LEASE).into(),
        )
        .filter(calendar_connection::Column::Id.eq(row.id))
        .filter(calendar_connection::Column::Status.eq(ACTIVE))
        .filter(calendar_connection::Column::TokenVersion.eq(row.token_version))
        .filter(
            calendar_connection::Column::RefreshLeaseUntil
                .is_null()
                .or(calendar_connection::Column::RefreshLeaseUntil.lt(now)),
        )
        .exec(&backend.db)
        .await?;
    Ok(result.rows_affected == 1)
}

async fn refresh(
    backend: &Backend,
    row: calendar_connection::Model,
    holder: &str,
) -> Result<AccessToken, TokenFailure> {
    let outcome = ask_microsoft(backend, &row).await;
    let now = Utc::now();
    match outcome {
        Ok(tokens) => {
            let version = row.token_version + 1;
            let access = backend
                .vault
                .seal(Purpose::AccessToken, &tokens.access_token);
            let expires = tokens
                .expires_in
                .and_then(|d| TimeDelta::from_std(d).ok())
                .unwrap_or(TimeDelta::hours(1));
            let mut update = calendar_connection::ActiveModel {
                access_token_sealed: ActiveValue::Set(Some(access.as_stored().to_owned())),
                access_expires_at: ActiveValue::Set(Some(db_time(now + expires))),
                token_version: ActiveValue::Set(version),
                refresh_lease_by: ActiveValue::Set(None),
                refresh_lease_until: ActiveValue::Set(None),
                updated_at: ActiveValue::Set(db_time(now)),
                ..Default::default()
            };
            // Every refresh returns a new refresh token: keep it, or the
            // next refresh would present a revoked one.
            if let Some(r) = &tokens.refresh_token {
                let sealed = backend.vault.seal(Purpose::RefreshToken, r);
                update.refresh_token_sealed = ActiveValue::Set(Some(sealed.as_stored().to_owned()));
            }
            Connections::update_many()
                .set(update)
                .filter(calendar_connection::Column::Id.eq(row.id))
                .filter(calendar_connection::Column::RefreshLeaseBy.eq(holder))
                .exec(&backend.db)
                .await?;
            Ok(AccessToken {
                token: tokens.access_token,
                version,
            })
        }
        Err(Refusal::Dead(message)) => {
            mark_needs_reauthorization(&backend.db, row.id, &message, now).await?;
            Err(TokenFailure::DeadGrant(message))
        }
        Err(Refusal::Other(message)) => {
            release_lease(backend, row.id, holder).await?;
            Err(message)
        }
    }
}

enum Refusal {
    Dead(String),
    Other(TokenFailure),
}

async fn ask_microsoft(
    backend: &Backend,
    row: &calendar_connection::Model,
) -> Result<crate::microsoft::TokenSet, Refusal> {
    let registration = active_registration(&backend.db, &backend.vault, &backend.settings)
        .await
        .map_err(|e| Refusal::Other(e.into()))?
        .ok_or_else(|| Refusal::Other(TokenFailure::NotActive("integration inactive".into())))?;
    let sealed = Sealed::from_stored(row.refresh_token_sealed.clone().unwrap_or_default());
    let refresh_token = backend
        .vault
        .open(Purpose::RefreshToken, &sealed)
        .map_err(|e| Refusal::Other(crate::integration::StoreError::from(e).into()))?;
    backend
        .identity
        // Room sync hook: a space's connection keeps its room scopes.
        .refresh_for(
            &registration.credentials(),
            &refresh_token,
            if row.owner_kind == super::SPACE {
                &crate::microsoft::identity::ROOM_SCOPES[..]
            } else {
                &crate::microsoft::identity::CALENDAR_SCOPES[..]
            },
        )
        .await
        .map_err(|problem| {
            if problem.is_dead_grant() {
                Refusal::Dead(format!(
                    "Microsoft no longer accepts this connection ({problem}). Connect with Microsoft again."
                ))
            } else {
                Refusal::Other(TokenFailure::Transient(problem.to_string()))
            }
        })
}

async fn release_lease(backend: &Backend, id: i64, holder: &str) -> Result<(), sea_orm::DbErr> {
    Connections::update_many()
        .col_expr(
            calendar_connection::Column::RefreshLeaseBy,
            Option::<String>::None.into(),
        )
        .col_expr(
            calendar_connection::Column::RefreshLeaseUntil,
            Option::<chrono::DateTime<Utc>>::None.into(),
        )
        .filter(calendar_connection::Column::Id.eq(id))
        .filter(calendar_connection::Column::RefreshLeaseBy.eq(holder))
        .exec(&backend.db)
        .await?;
    Ok(())
}
