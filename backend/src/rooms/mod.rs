//! Spaces ↔ Exchange room resources (delegated mode).
//!
//! An admin authorizes a work or school account that is a delegate of the
//! room mailboxes ([`connect`]); the tokens are stored as the space's
//! calendar connection (owner "space", one per space, so revoking one
//! space never touches another's tokens). The admin then picks the room
//! ([`pick_room`]), which is checked for read and write access before it
//! is linked (`room_links`) and the space's legacy settings are retired.
//! Bookings are written to the room by the outbox worker
//! ([`outbound`]); the room's own events are polled into busy blocks
//! ([`poll`]).
//!
//! In application mode (`sync.room_mode = "application"`, see [`app`])
//! no delegate is authorized: the app's own token reaches the rooms the
//! Exchange application access policy allows, each picked room gets a
//! change-notification subscription ([`subscriptions`]) whose
//! notifications trigger the same delta read, and a periodic reconcile
//! still runs. When an Outlook event and a booking hold the same time,
//! [`conflicts`] keeps the one committed first and flags the other.

pub mod app;
pub mod calls;
pub mod conflicts;
pub mod connect;
pub mod outbound;
pub mod poll;
pub mod subscriptions;

use std::time::Duration;

use chrono::{DateTime, Utc};
use reqwest::Method;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter, Set,
    Statement, TransactionTrait, TryIntoModel,
};
use serde_json::Value;

use crate::Backend;
use crate::connections::{self, ACTIVE, Owner, SPACE};
use crate::entities::{calendar_connection, external_busy_block, outbox as outbox_row, room_link};
use crate::microsoft::{GraphError, TokenSet};
use crate::outbox::{self, db_time};
use crate::vault::Purpose;

pub use app::RoomAuth;
pub use conflicts::{ConflictKept, RoomConflict, conflicts, spaces_with_conflicts};
pub use connect::{RoomCallbackOutcome, begin_room_connect, finish_room_connect, is_room_callback};

/// How long a newly picked room is kept from the poller while
/// [`pick_room`] subscribes to it. Should the process stop meanwhile, the
/// poller subscribes once this has passed.
const SUBSCRIBING_GRACE: chrono::TimeDelta = chrono::TimeDelta::seconds(60);

/// The outbox kinds the room sync handles.
pub const SPACE_BOOKING_KINDS: [&str; 3] = [
    outbox::SPACE_BOOKING_CREATED,
    outbox::SPACE_BOOKING_MOVED,
    outbox::SPACE_BOOKING_CANCELLED,
];

pub fn space_owner(space_id: i64) -> Owner<'static> {
    Owner {
        kind: SPACE,
        id: space_id,
    }
}

pub fn is_room_job(job: &outbox_row::Model) -> bool {
    SPACE_BOOKING_KINDS.contains(&job.kind.as_str())
}

/// Claims due space booking jobs for the worker (empty on error or when
/// `free` is 0).
pub async fn claim_jobs(
    backend: &Backend,
    worker: &str,
    free: usize,
    lease: Duration,
) -> Vec<outbox_row::Model> {
    if free == 0 {
        return vec![];
    }
    match outbox::claim(
        &backend.db,
        worker,
        &SPACE_BOOKING_KINDS,
        free as u64,
        lease,
        Utc::now(),
    )
    .await
    {
        Ok(jobs) => jobs,
        Err(e) => {
            tracing::warn!(error = %e, worker, "could not claim room sync jobs");
            vec![]
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum RoomError {
    #[error(
        "Calendar sync with Microsoft is not active. An administrator turns it on under Admin › Integrations."
    )]
    IntegrationInactive,
    #[error("No such space.")]
    NoSuchSpace,
    #[error("Authorize a Microsoft account for this space first.")]
    NotAuthorized,
    #[error("The authorization of this space needs to be renewed: authorize again.")]
    NeedsReauthorization,
    #[error("Enter the room's email address, like room@contoso.com.")]
    BadAddress,
    #[error("There is no room mailbox {0} in your organization's directory.")]
    NoSuchRoom(String),
    #[error(
        "{account} may not write to the calendar of {room}: make {account} a delegate of the room (with edit rights) and make sure Calbridge was granted Calendars.ReadWrite.Shared."
    )]
    NotADelegate { account: String, room: String },
    #[error(
        "Calbridge may not read the room directory (Place.Read.All is not consented): type the room's address instead."
    )]
    DirectoryNotConsented,
    #[error(
        "Calbridge's application permission does not reach {0}: add the room to the Exchange application access policy (New-ApplicationAccessPolicy -AccessRight RestrictAccess with a group that holds the room), and make sure Calendars.ReadWrite (Application) has admin consent."
    )]
    NotInAccessPolicy(String),
    #[error("{0}")]
    AppToken(String),
    #[error("Microsoft did not answer as expected: {0}")]
    Graph(String),
    /// A Graph answer the caller sorts out (internal to this module).
    #[error("Microsoft did not answer as expected: {0}")]
    Answer(GraphError),
    #[error("database: {0}")]
    Db(#[from] DbErr),
    #[error(transparent)]
    Store(#[from] crate::integration::StoreError),
}

/// A room as the picker shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Room {
    pub address: String,
    pub name: String,
    pub capacity: Option<i64>,
}

/// What the space's sync section shows: never a token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoomStatus {
    /// The authorized Microsoft account.
    pub account: String,
    /// "active", "needs_reauthorization" or "revoked".
    pub status: String,
    pub room_address: Option<String>,
    pub room_name: Option<String>,
    pub last_error: Option<String>,
    pub last_success_at: Option<DateTime<Utc>>,
    pub last_polled_at: Option<DateTime<Utc>>,
    /// Space booking jobs not yet done (pending or paused).
    pub pending_jobs: u64,
    /// "delegated" or "application".
    pub mode: String,
    /// Application mode: until when the room's change notifications are
    /// subscribed (`None`: the room is polled).
    pub subscribed_until: Option<DateTime<Utc>>,
}

pub async fn link_of(
    db: &impl ConnectionTrait,
    space_id: i64,
) -> Result<Option<room_link::Model>, DbErr> {
    room_link::Entity::find()
        .filter(room_link::Column::SpaceId.eq(space_id))
        .one(db)
        .await
}

pub async fn status(db: &impl ConnectionTrait, space_id: i64) -> Result<Option<RoomStatus>, DbErr> {
    let link = link_of(db, space_id).await?;
    if let Some(l) = link.as_ref().filter(|l| app::is_application(l)) {
        return Ok(Some(application_status(db, space_id, Some(l)).await?));
    }
    let Some(c) = connections::find(db, space_owner(space_id)).await? else {
        return Ok(None);
    };
    let pending_jobs = count_space_jobs(db, space_id).await?;
    Ok(Some(RoomStatus {
        account: c.account,
        status: c.status,
        room_address: link.as_ref().map(|l| l.room_address.clone()),
        room_name: link.as_ref().map(|l| l.room_name.clone()),
        last_error: c
            .last_error
            .or_else(|| link.as_ref().and_then(|l| l.last_error.clone())),
        last_success_at: c.last_success_at,
        last_polled_at: link.and_then(|l| l.last_polled_at),
        pending_jobs,
        mode: app::DELEGATED.to_owned(),
        subscribed_until: None,
    }))
}

/// The space's status as its sync settings show it, in the configured
/// mode: in application mode there is nothing to authorize, so a space
/// without a room is shown as ready to pick one (while the integration
/// is active).
pub async fn status_for(backend: &Backend, space_id: i64) -> Result<Option<RoomStatus>, DbErr> {
    let found = status(&backend.db, space_id).await?;
    if backend.settings.sync.room_mode != crate::config::RoomMode::Application {
        return Ok(found);
    }
    // A room already linked keeps the mode it was picked in.
    if found
        .as_ref()
        .is_some_and(|s| s.mode == app::APPLICATION || s.room_address.is_some())
    {
        return Ok(found);
    }
    let allowed = crate::integration::connections_allowed(&backend.db)
        .await
        .unwrap_or(false);
    if !allowed {
        return Ok(found);
    }
    Ok(Some(application_status(&backend.db, space_id, None).await?))
}

async fn application_status(
    db: &impl ConnectionTrait,
    space_id: i64,
    link: Option<&room_link::Model>,
) -> Result<RoomStatus, DbErr> {
    Ok(RoomStatus {
        account: app::APP_ACCOUNT.to_owned(),
        status: ACTIVE.to_owned(),
        room_address: link.map(|l| l.room_address.clone()),
        room_name: link.map(|l| l.room_name.clone()),
        last_error: link.and_then(|l| l.last_error.clone()),
        last_success_at: link.and_then(|l| l.last_polled_at),
        last_polled_at: link.and_then(|l| l.last_polled_at),
        pending_jobs: count_space_jobs(db, space_id).await?,
        mode: app::APPLICATION.to_owned(),
        subscribed_until: link
            .and_then(|l| l.subscription_id.as_ref().and(l.subscription_expires_at)),
    })
}

async fn count_space_jobs(db: &impl ConnectionTrait, space_id: i64) -> Result<u64, DbErr> {
    let sql = "SELECT COUNT(*) AS n FROM outbox WHERE status IN ('pending', 'paused') \
               AND kind LIKE 'space_booking.%' \
               AND aggregate_id IN (SELECT id FROM space_bookings WHERE space_id = $1)";
    let row = db
        .query_one(Statement::from_sql_and_values(
            db.get_database_backend(),
            sql,
            [space_id.into()],
        ))
        .await?;
    Ok(row
        .and_then(|r| r.try_get::<i64>("", "n").ok())
        .unwrap_or(0) as u64)
}

/// Stores the tokens of a new (or renewed) authorization as the space's
/// connection. Unlike a staff connection, the legacy settings stay until
/// a room is picked and checked. Paused jobs of the space resume.
pub async fn store_authorization(
    backend: &Backend,
    space_id: i64,
    account: &str,
    tokens: &TokenSet,
    now: DateTime<Utc>,
) -> Result<calendar_connection::Model, RoomError> {
    let access = backend
        .vault
        .seal(Purpose::AccessToken, &tokens.access_token);
    let refresh = tokens
        .refresh_token
        .as_ref()
        .map(|r| backend.vault.seal(Purpose::RefreshToken, r));
    let expires = tokens
        .expires_in
        .and_then(|d| chrono::TimeDelta::from_std(d).ok())
        .map(|d| db_time(now + d));
    let txn = backend.db.begin().await?;
    let existing = connections::find(&txn, space_owner(space_id)).await?;
    let mut a: calendar_connection::ActiveModel = match existing {
        Some(row) => {
            let version = row.token_version + 1;
            let mut a: calendar_connection::ActiveModel = row.into();
            a.token_version = Set(version);
            a
        }
        None => calendar_connection::ActiveModel {
            owner_kind: Set(SPACE.to_owned()),
            owner_id: Set(space_id),
            token_version: Set(1),
            last_success_at: Set(None),
            created_at: Set(db_time(now)),
            ..Default::default()
        },
    };
    a.account = Set(account.to_owned());
    a.access_token_sealed = Set(Some(access.as_stored().to_owned()));
    a.refresh_token_sealed = Set(refresh.map(|r| r.as_stored().to_owned()));
    a.access_expires_at = Set(expires);
    a.status = Set(ACTIVE.to_owned());
    a.last_error = Set(None);
    a.refresh_lease_by = Set(None);
    a.refresh_lease_until = Set(None);
    a.updated_at = Set(db_time(now));
    let model = a.save(&txn).await?.try_into_model()?;
    resume_space_jobs(&txn, space_id, now).await?;
    txn.commit().await?;
    Ok(model)
}

/// Paused space booking jobs of a space → pending, due now.
async fn resume_space_jobs(
    db: &impl ConnectionTrait,
    space_id: i64,
    now: DateTime<Utc>,
) -> Result<u64, DbErr> {
    let sql = "UPDATE outbox SET status = 'pending', run_after = $2, claimed_by = NULL, \
               claimed_until = NULL WHERE status = 'paused' AND kind LIKE 'space_booking.%' \
               AND aggregate_id IN (SELECT id FROM space_bookings WHERE space_id = $1)";
    let r = db
        .execute(Statement::from_sql_and_values(
            db.get_database_backend(),
            sql,
            [space_id.into(), db_time(now).into()],
        ))
        .await?;
    Ok(r.rows_affected())
}

/// The space's active connection, or why there is none.
async fn active_connection(
    backend: &Backend,
    space_id: i64,
) -> Result<calendar_connection::Model, RoomError> {
    match connections::find(&backend.db, space_owner(space_id)).await? {
        Some(c) if c.status == ACTIVE => Ok(c),
        Some(c) if c.status == connections::NEEDS_REAUTHORIZATION => {
            Err(RoomError::NeedsReauthorization)
        }
        _ => Err(RoomError::NotAuthorized),
    }
}

/// How the admin's picker and checks reach Graph: the configured mode.
async fn admin_auth(backend: &Backend, space_id: i64) -> Result<RoomAuth, RoomError> {
    if backend.settings.sync.room_mode == crate::config::RoomMode::Application {
        if !crate::integration::connections_allowed(&backend.db).await? {
            return Err(RoomError::IntegrationInactive);
        }
        return Ok(RoomAuth::Application);
    }
    Ok(RoomAuth::Delegated(Box::new(
        active_connection(backend, space_id).await?,
    )))
}

/// One Graph GET for the picker and the checks, outside the job engine
/// (an admin is waiting; failures are shown, not retried).
async fn admin_get(backend: &Backend, auth: &RoomAuth, path: &str) -> Result<Value, RoomError> {
    match auth {
        RoomAuth::Delegated(connection) => {
            let holder = format!("room-admin-{}", connection.id);
            let token = connections::access_token(backend, connection.id, None, &holder)
                .await
                .map_err(|e| RoomError::Graph(e.to_string()))?;
            backend
                .graph
                .request(Method::GET, path, &token.token, None)
                .await
                .map_err(RoomError::Answer)
        }
        RoomAuth::Application => {
            let app_token = |refused| async move {
                app::app_token(backend, refused)
                    .await
                    .map_err(|e| RoomError::AppToken(e.to_string()))
            };
            let token = app_token(None).await?;
            match backend
                .graph
                .request(Method::GET, path, &token.token, None)
                .await
            {
                // A cached token Microsoft no longer takes: a new one, once.
                Err(GraphError::Unauthorized { .. }) => {
                    let token = app_token(Some(token.version)).await?;
                    backend
                        .graph
                        .request(Method::GET, path, &token.token, None)
                        .await
                        .map_err(RoomError::Answer)
                }
                other => other.map_err(RoomError::Answer),
            }
        }
    }
}

/// The tenant's rooms (`/places/microsoft.graph.room`), by name.
pub async fn list_rooms(backend: &Backend, space_id: i64) -> Result<Vec<Room>, RoomError> {
    let auth = admin_auth(backend, space_id).await?;
    let answer = admin_get(backend, &auth, "/places/microsoft.graph.room?$top=100").await;
    let page = match answer {
        Ok(v) => v,
        Err(RoomError::Answer(GraphError::Rejected { status: 403, .. })) => {
            return Err(RoomError::DirectoryNotConsented);
        }
        Err(RoomError::Answer(e)) => return Err(RoomError::Graph(e.to_string())),
        Err(e) => return Err(e),
    };
    let mut rooms: Vec<Room> = page["value"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|r| {
            Some(Room {
                address: r["emailAddress"].as_str()?.to_owned(),
                name: r["displayName"].as_str().unwrap_or_default().to_owned(),
                capacity: r["capacity"].as_i64(),
            })
        })
        .collect();
    rooms.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(rooms)
}

fn valid_address(address: &str) -> bool {
    let Some((local, domain)) = address.split_once('@') else {
        return false;
    };
    !local.is_empty()
        && domain.contains('.')
        && !address
            .chars()
            .any(|c| c.is_whitespace() || "/?#%\"<>".contains(c))
}

/// Checks the authorized account can read and write `address`'s calendar,
/// then links the space to the room and retires its legacy settings, in
/// one transaction. The room's name comes from its calendar's owner.
pub async fn pick_room(
    backend: &Backend,
    space_id: i64,
    address: &str,
    now: DateTime<Utc>,
) -> Result<room_link::Model, RoomError> {
    let address = address.trim().to_lowercase();
    if !valid_address(&address) {
        return Err(RoomError::BadAddress);
    }
    let auth = admin_auth(backend, space_id).await?;
    let not_allowed = || match &auth {
        RoomAuth::Delegated(c) => RoomError::NotADelegate {
            account: c.account.clone(),
            room: address.clone(),
        },
        RoomAuth::Application => RoomError::NotInAccessPolicy(address.clone()),
    };
    let calendar = match admin_get(backend, &auth, &format!("/users/{address}/calendar")).await {
        Ok(v) => v,
        Err(RoomError::Answer(GraphError::NotFound { .. })) => {
            return Err(RoomError::NoSuchRoom(address.clone()));
        }
        Err(RoomError::Answer(GraphError::Rejected { status: 403, .. })) => {
            return Err(not_allowed());
        }
        Err(RoomError::Answer(e)) => return Err(RoomError::Graph(e.to_string())),
        Err(e) => return Err(e),
    };
    if calendar["canEdit"].as_bool() != Some(true) {
        return Err(not_allowed());
    }
    let name = calendar["owner"]["name"]
        .as_str()
        .unwrap_or(&address)
        .to_owned();
    let txn = backend.db.begin().await?;
    // Reads, then writes: wait for a racing writer (a room poll) first.
    crate::db::lock_for_write(&txn, "room_links").await?;
    let mut a: room_link::ActiveModel = match link_of(&txn, space_id).await? {
        Some(row) => row.into(),
        None => room_link::ActiveModel {
            space_id: Set(space_id),
            created_at: Set(db_time(now)),
            ..Default::default()
        },
    };
    let changed_room = a
        .room_address
        .try_as_ref()
        .is_some_and(|old| *old != address);
    // A subscription of the room picked before (application mode) goes.
    let old_subscription = a.subscription_id.try_as_ref().cloned().flatten();
    let (connection_id, mode) = match &auth {
        RoomAuth::Delegated(c) => (c.id, app::DELEGATED),
        RoomAuth::Application => (0, app::APPLICATION),
    };
    a.connection_id = Set(connection_id);
    a.mode = Set(mode.to_owned());
    a.room_address = Set(address.clone());
    a.room_name = Set(name);
    a.window_start = Set(None);
    a.delta_link = Set(None);
    // When this call subscribes below, the room is not due until it has:
    // the poller would otherwise subscribe too, and for a moment Graph
    // would hold two subscriptions and notify every change twice.
    let subscribes_here =
        auth.is_application() && subscriptions::notifications_possible(&backend.settings);
    a.next_poll_at = Set(db_time(if subscribes_here {
        now + SUBSCRIBING_GRACE
    } else {
        now
    }));
    a.last_error = Set(None);
    a.subscription_id = Set(None);
    a.client_state_sealed = Set(None);
    a.subscription_expires_at = Set(None);
    a.updated_at = Set(db_time(now));
    if changed_room {
        remove_blocks(&txn, space_id).await?;
        clear_booking_conflicts(&txn, space_id).await?;
    }
    let link = a.save(&txn).await?.try_into_model()?;
    if auth.is_application() {
        // A delegate's tokens the space no longer uses are not kept.
        connections::disconnect(&txn, space_owner(space_id), now)
            .await
            .map_err(|e| match e {
                connections::ConnectionError::Db(d) => RoomError::Db(d),
                connections::ConnectionError::Store(s) => RoomError::Store(s),
            })?;
    }
    crate::legacy::replace_on_oauth_connect(&txn, SPACE, space_id).await?;
    resume_space_jobs(&txn, space_id, now).await?;
    txn.commit().await?;
    tracing::info!(space = space_id, room = %link.room_address, mode, "space connected to a room");
    if let Some(id) = old_subscription {
        subscriptions::delete_by_id(backend, &id).await;
    }
    // Application mode: subscribe now when Microsoft can reach us (a
    // failure leaves the room polled; the poller tries again).
    // `subscribe` makes the room due again; so does a failure.
    let link = if subscribes_here {
        match subscriptions::subscribe(backend, &link, now).await {
            Ok(l) => l,
            Err(e) => {
                tracing::warn!(space = space_id, error = %e, "subscribing to the room failed; it is polled meanwhile");
                subscriptions::record_error(backend, &link, &e.to_string(), Some(now)).await;
                link
            }
        }
    } else {
        link
    };
    // The first sync: the space's upcoming bookings go to the room.
    crate::sync::resync::first_sync(backend, crate::sync::Subject::Space(space_id), now).await?;
    backend.rooms.wake();
    Ok(link)
}

/// The space's blocks that came from its room.
async fn remove_blocks(db: &impl ConnectionTrait, space_id: i64) -> Result<u64, DbErr> {
    Ok(external_busy_block::Entity::delete_many()
        .filter(external_busy_block::Column::OwnerKind.eq(crate::bookings::SPACE_OWNER))
        .filter(external_busy_block::Column::OwnerId.eq(space_id))
        .exec(db)
        .await?
        .rows_affected)
}

/// "Revoke authorization": sync stops, the space's tokens are erased
/// (each space has its own, so no other space is affected), the room
/// link and the busy blocks read from the room go; the events already on
/// the room stay. `false` when the space had no connection.
pub async fn revoke(
    backend: &Backend,
    space_id: i64,
    now: DateTime<Utc>,
) -> Result<bool, RoomError> {
    // Application mode: the room's subscription goes first (it needs the
    // app's token; the events on the room stay).
    let link = link_of(&backend.db, space_id).await?;
    if let Some(id) = link.as_ref().and_then(|l| l.subscription_id.clone()) {
        subscriptions::delete_by_id(backend, &id).await;
    }
    let txn = backend.db.begin().await?;
    crate::db::lock_for_write(&txn, "room_links").await?;
    let revoked = connections::disconnect(&txn, space_owner(space_id), now)
        .await
        .map_err(|e| match e {
            connections::ConnectionError::Db(d) => RoomError::Db(d),
            connections::ConnectionError::Store(s) => RoomError::Store(s),
        })?;
    room_link::Entity::delete_many()
        .filter(room_link::Column::SpaceId.eq(space_id))
        .exec(&txn)
        .await?;
    remove_blocks(&txn, space_id).await?;
    clear_booking_conflicts(&txn, space_id).await?;
    txn.commit().await?;
    backend
        .sync
        .changes
        .publish(crate::sync::Subject::Space(space_id));
    Ok(revoked || link.is_some_and(|l| app::is_application(&l)))
}

/// A space no longer synced has no conflicts to show.
async fn clear_booking_conflicts(db: &impl ConnectionTrait, space_id: i64) -> Result<(), DbErr> {
    crate::entities::space_booking::Entity::update_many()
        .col_expr(
            crate::entities::space_booking::Column::ConflictEventId,
            Option::<String>::None.into(),
        )
        .filter(crate::entities::space_booking::Column::SpaceId.eq(space_id))
        .filter(crate::entities::space_booking::Column::ConflictEventId.is_not_null())
        .exec(db)
        .await?;
    Ok(())
}

/// The system-wide disconnect: every room link and every busy block read
/// from a room go (the connections themselves are revoked by
/// `connections::revoke_all`, the subscriptions deleted beforehand by
/// [`subscriptions::delete_all`]); the events stay on the rooms.
pub async fn forget_all_rooms(db: &impl ConnectionTrait) -> Result<u64, DbErr> {
    let links = room_link::Entity::find().all(db).await?;
    for link in &links {
        remove_blocks(db, link.space_id).await?;
        clear_booking_conflicts(db, link.space_id).await?;
    }
    room_link::Entity::delete_many().exec(db).await?;
    Ok(links.len() as u64)
}
