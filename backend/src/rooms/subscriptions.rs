//! Change notifications for rooms in application mode.
//!
//! Each picked room gets a Graph subscription on `users/{room}/events`
//! (created, updated, deleted) with a random `clientState` (sealed by the
//! vault), `notificationUrl` = `{public_base_url}/webhooks/graph` and
//! `lifecycleNotificationUrl` = `{public_base_url}/webhooks/graph/lifecycle`.
//! Graph first checks the URL (the validation handshake, answered by the
//! server's webhook route); it then POSTs a notification for every change.
//!
//! A notification carries nothing trusted: once its `clientState` matches
//! (compared in constant time), it only makes its room due for a delta
//! read, which is the truth. Lifecycle notifications:
//! `reauthorizationRequired` → renew the subscription (which also
//! reauthorizes it); `subscriptionRemoved` → subscribe again; `missed` →
//! nothing more; each then reads the room by delta to catch up.
//!
//! Subscriptions live at most 4,230 minutes for Outlook events: Calbridge
//! asks for [`LIFETIME`], keeps the expiry Graph answers, and renews
//! [`RENEW_BEFORE`] it. The poller does that on each pass over the room
//! ([`ensure`]), and subscribes rooms that have none, so a failure only
//! means the room is polled meanwhile. Microsoft reaches only HTTPS
//! URLs: with an `http://` `public_base_url` rooms are polled unless
//! `sync.http_notifications` says the Microsoft in use accepts it.

use chrono::{DateTime, SecondsFormat, TimeDelta, Utc};
use rand::RngCore;
use reqwest::Method;
use sea_orm::{ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter};
use secrecy::{ExposeSecret, SecretString};
use serde_json::{Value, json};

use super::app::{self, RoomAuth};
use super::calls::{self, RoomRequest};
use crate::Backend;
use crate::config::Settings;
use crate::entities::room_link;
use crate::outbox::db_time;
use crate::sync::calls::CallFailure;
use crate::vault::{Purpose, Sealed, Vault};

pub const WEBHOOK_PATH: &str = "/webhooks/graph";
pub const LIFECYCLE_PATH: &str = "/webhooks/graph/lifecycle";
/// Largest notification body accepted (Graph batches notifications, each
/// well under a kilobyte).
pub const MAX_BODY_BYTES: usize = 256 * 1024;
/// Longest validation token echoed.
pub const MAX_VALIDATION_TOKEN: usize = 1024;

/// Asked for on create and renew: under Graph's 4,230 minutes, so clocks
/// a little apart do not make Graph refuse it.
pub const LIFETIME: TimeDelta = TimeDelta::minutes(4200);
/// Renewed when less than this is left.
pub const RENEW_BEFORE: TimeDelta = TimeDelta::hours(12);

const CHANGE_TYPES: &str = "created,updated,deleted";

#[derive(Debug, thiserror::Error)]
pub enum SubscriptionError {
    #[error("database: {0}")]
    Db(#[from] DbErr),
    #[error("Graph refused the subscription: {0:?}")]
    Graph(CallFailure),
    #[error("Graph's answer had no {0}")]
    Unexpected(&'static str),
}

/// Can Microsoft reach this installation's webhook?
pub fn notifications_possible(settings: &Settings) -> bool {
    settings.serves_https() || settings.sync.http_notifications
}

pub fn notification_url(settings: &Settings) -> String {
    format!("{}{WEBHOOK_PATH}", settings.public_base_url)
}

pub fn lifecycle_url(settings: &Settings) -> String {
    format!("{}{LIFECYCLE_PATH}", settings.public_base_url)
}

/// 32 random bytes, URL-safe base64 (43 characters; Graph allows 128).
fn new_client_state() -> SecretString {
    use base64::Engine;
    let mut bytes = [0u8; 32];
    rand::thread_rng().fill_bytes(&mut bytes);
    SecretString::from(base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes))
}

fn graph_time(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Secs, true)
}

fn parse_time(v: &Value) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(v.as_str()?)
        .ok()
        .map(|t| t.with_timezone(&Utc))
}

fn holder(link: &room_link::Model) -> String {
    format!("room-subscription-{}", link.id)
}

/// Creates the room's subscription and stores it in place of the one the
/// link had (if the link still has that one: otherwise someone else got
/// there first and the new subscription is deleted again). The room is
/// then due for a delta read, to catch up with what happened meanwhile.
pub async fn subscribe(
    backend: &Backend,
    link: &room_link::Model,
    now: DateTime<Utc>,
) -> Result<room_link::Model, SubscriptionError> {
    let client_state = new_client_state();
    let body = json!({
        "changeType": CHANGE_TYPES,
        "notificationUrl": notification_url(&backend.settings),
        "lifecycleNotificationUrl": lifecycle_url(&backend.settings),
        "resource": format!("users/{}/events", link.room_address),
        "expirationDateTime": graph_time(now + LIFETIME),
        "clientState": client_state.expose_secret(),
        "latestSupportedTlsVersion": "v1_2",
    });
    let request = RoomRequest {
        method: Method::POST,
        path: "/subscriptions",
        body: Some(&body),
    };
    let created = calls::call(
        backend,
        &RoomAuth::Application,
        &link.room_address,
        request,
        &holder(link),
    )
    .await
    .map_err(SubscriptionError::Graph)?;
    let id = created["id"]
        .as_str()
        .ok_or(SubscriptionError::Unexpected("id"))?
        .to_owned();
    let expires = parse_time(&created["expirationDateTime"]).unwrap_or(now + LIFETIME);
    let sealed = backend
        .vault
        .seal(Purpose::SubscriptionClientState, &client_state);
    let mut update = room_link::Entity::update_many()
        .col_expr(room_link::Column::SubscriptionId, Some(id.clone()).into())
        .col_expr(
            room_link::Column::ClientStateSealed,
            Some(sealed.as_stored().to_owned()).into(),
        )
        .col_expr(
            room_link::Column::SubscriptionExpiresAt,
            Some(db_time(expires)).into(),
        )
        .col_expr(room_link::Column::NextPollAt, db_time(now).into())
        .col_expr(room_link::Column::LastError, Option::<String>::None.into())
        .filter(room_link::Column::Id.eq(link.id))
        .filter(room_link::Column::RoomAddress.eq(link.room_address.clone()))
        .filter(room_link::Column::Mode.eq(app::APPLICATION));
    update = match &link.subscription_id {
        Some(old) => update.filter(room_link::Column::SubscriptionId.eq(old.clone())),
        None => update.filter(room_link::Column::SubscriptionId.is_null()),
    };
    if update.exec(&backend.db).await?.rows_affected != 1 {
        tracing::info!(
            space = link.space_id,
            "the room's subscription changed meanwhile; the new one is deleted"
        );
        delete_by_id(backend, &id).await;
        return reload(backend, link).await;
    }
    tracing::info!(space = link.space_id, room = %link.room_address, subscription = %id, %expires, "subscribed to the room's changes");
    backend.rooms.wake();
    reload(backend, link).await
}

async fn reload(
    backend: &Backend,
    link: &room_link::Model,
) -> Result<room_link::Model, SubscriptionError> {
    Ok(room_link::Entity::find_by_id(link.id)
        .one(&backend.db)
        .await?
        .unwrap_or_else(|| link.clone()))
}

/// Extends the room's subscription (which also answers
/// `reauthorizationRequired`); a subscription Graph no longer knows is
/// created anew.
pub async fn renew(
    backend: &Backend,
    link: &room_link::Model,
    now: DateTime<Utc>,
) -> Result<room_link::Model, SubscriptionError> {
    let Some(id) = link.subscription_id.clone() else {
        return subscribe(backend, link, now).await;
    };
    let body = json!({"expirationDateTime": graph_time(now + LIFETIME)});
    let path = format!("/subscriptions/{id}");
    let request = RoomRequest {
        method: Method::PATCH,
        path: &path,
        body: Some(&body),
    };
    match calls::call(
        backend,
        &RoomAuth::Application,
        &link.room_address,
        request,
        &holder(link),
    )
    .await
    {
        Ok(renewed) => {
            let expires = parse_time(&renewed["expirationDateTime"]).unwrap_or(now + LIFETIME);
            room_link::Entity::update_many()
                .col_expr(
                    room_link::Column::SubscriptionExpiresAt,
                    Some(db_time(expires)).into(),
                )
                .filter(room_link::Column::Id.eq(link.id))
                .filter(room_link::Column::SubscriptionId.eq(id.clone()))
                .exec(&backend.db)
                .await?;
            tracing::info!(space = link.space_id, subscription = %id, %expires, "renewed the room's subscription");
            reload(backend, link).await
        }
        // Expired or removed: Graph forgets it without a word.
        Err(CallFailure::NotFound) => {
            tracing::info!(space = link.space_id, subscription = %id, "the room's subscription is gone; subscribing again");
            subscribe(backend, link, now).await
        }
        Err(f) => Err(SubscriptionError::Graph(f)),
    }
}

/// What the poller calls for an application-mode room on each pass:
/// subscribe when there is none (and Microsoft can reach us), renew when
/// the expiry is near. Failures are recorded on the link and leave the
/// room polled.
pub async fn ensure(
    backend: &Backend,
    link: &room_link::Model,
    now: DateTime<Utc>,
) -> room_link::Model {
    if !app::is_application(link) || !notifications_possible(&backend.settings) {
        return link.clone();
    }
    let result = match (link.subscription_id.as_ref(), link.subscription_expires_at) {
        (None, _) => subscribe(backend, link, now).await,
        (Some(_), Some(at)) if at - now > RENEW_BEFORE => return link.clone(),
        (Some(_), _) => renew(backend, link, now).await,
    };
    match result {
        Ok(l) => l,
        Err(e) => {
            tracing::warn!(space = link.space_id, room = %link.room_address, error = %e, "keeping the room's subscription failed; it is polled meanwhile");
            record_error(backend, link, &e.to_string(), None).await;
            link.clone()
        }
    }
}

/// Keeps why change notifications failed for the room (shown on its
/// status); with `due_at`, also when the poller reads the room next.
pub(crate) async fn record_error(
    backend: &Backend,
    link: &room_link::Model,
    error: &str,
    due_at: Option<DateTime<Utc>>,
) {
    let mut update = room_link::Entity::update_many().col_expr(
        room_link::Column::LastError,
        Some(format!("Change notifications: {error}")).into(),
    );
    if let Some(at) = due_at {
        update = update.col_expr(room_link::Column::NextPollAt, db_time(at).into());
    }
    let _ = update
        .filter(room_link::Column::Id.eq(link.id))
        .exec(&backend.db)
        .await;
}

/// Deletes a subscription at Graph (best effort: one Graph does not know
/// is already gone; others expire within days and their notifications
/// are ignored). `true` when Graph no longer has it.
pub async fn delete_by_id(backend: &Backend, id: &str) -> bool {
    let path = format!("/subscriptions/{}", urlencode(id));
    match app_request(backend, Method::DELETE, &path).await {
        Ok(_) | Err(AppCallError::Graph(crate::microsoft::GraphError::NotFound { .. })) => true,
        Err(e) => {
            tracing::warn!(subscription = %id, error = %e, "could not delete a room subscription");
            false
        }
    }
}

#[derive(Debug, thiserror::Error)]
enum AppCallError {
    #[error(transparent)]
    Token(#[from] app::AppTokenError),
    #[error(transparent)]
    Graph(#[from] crate::microsoft::GraphError),
}

/// One Graph call with the app's token, outside the job engine; a token
/// Graph refuses is replaced once.
async fn app_request(backend: &Backend, method: Method, path: &str) -> Result<Value, AppCallError> {
    // Deleting works while sync is turned off too (the secret is kept).
    let token = app::app_token_with(backend, None, false).await?;
    match backend
        .graph
        .request(method.clone(), path, &token.token, None)
        .await
    {
        Err(crate::microsoft::GraphError::Unauthorized { .. }) => {
            let token = app::app_token_with(backend, Some(token.version), false).await?;
            Ok(backend
                .graph
                .request(method, path, &token.token, None)
                .await?)
        }
        other => Ok(other?),
    }
}

fn urlencode(s: &str) -> String {
    oauth2::url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

/// The system-wide disconnect: deletes every room subscription Calbridge
/// knows, and any other subscription of this app that notifies this
/// installation (left by a crash). Returns how many Graph no longer has.
pub async fn delete_all(backend: &Backend) -> u64 {
    let mut ids: Vec<String> = room_link::Entity::find()
        .filter(room_link::Column::SubscriptionId.is_not_null())
        .all(&backend.db)
        .await
        .unwrap_or_default()
        .into_iter()
        .filter_map(|l| l.subscription_id)
        .collect();
    if let Ok(listed) = app_request(backend, Method::GET, "/subscriptions").await {
        let ours = notification_url(&backend.settings);
        for s in listed["value"].as_array().into_iter().flatten() {
            if s["notificationUrl"].as_str() == Some(ours.as_str())
                && let Some(id) = s["id"].as_str()
                && !ids.iter().any(|i| i == id)
            {
                ids.push(id.to_owned());
            }
        }
    }
    let mut deleted = 0;
    for id in ids {
        if delete_by_id(backend, &id).await {
            deleted += 1;
        }
    }
    deleted
}

/// Re-seals every stored `clientState` with the active key (rotate-key).
pub async fn reseal_client_states(
    db: &impl ConnectionTrait,
    vault: &Vault,
) -> Result<u64, crate::integration::StoreError> {
    let mut n = 0;
    for link in room_link::Entity::find()
        .filter(room_link::Column::ClientStateSealed.is_not_null())
        .all(db)
        .await?
    {
        let sealed = Sealed::from_stored(link.client_state_sealed.clone().unwrap_or_default());
        if let Some(resealed) = vault.reseal(Purpose::SubscriptionClientState, &sealed)? {
            room_link::Entity::update_many()
                .col_expr(
                    room_link::Column::ClientStateSealed,
                    Some(resealed.as_stored().to_owned()).into(),
                )
                .filter(room_link::Column::Id.eq(link.id))
                .exec(db)
                .await?;
            n += 1;
        }
    }
    Ok(n)
}

// ----- receiving ------------------------------------------------------------

/// What [`receive`] made of a POST.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct NotificationReport {
    /// Change notifications that made their room due.
    pub changes: usize,
    /// Lifecycle notifications handled.
    pub lifecycle: usize,
    /// Unknown subscription, wrong `clientState`, or unreadable.
    pub ignored: usize,
}

/// A notification POST's body: `{"value": [...]}`, else `None`.
pub fn parse(body: &[u8]) -> Option<Value> {
    let v: Value = serde_json::from_slice(body).ok()?;
    v["value"].is_array().then_some(v)
}

/// Equal in time independent of where the two differ.
fn same(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

fn truncated(s: &str) -> &str {
    match s.char_indices().nth(64) {
        Some((i, _)) => &s[..i],
        None => s,
    }
}

/// The link a notification is for, if its `clientState` is the one
/// stored for its subscription.
async fn verified_link(backend: &Backend, item: &Value) -> Result<Option<room_link::Model>, DbErr> {
    let Some(subscription) = item["subscriptionId"].as_str() else {
        return Ok(None);
    };
    let link = room_link::Entity::find()
        .filter(room_link::Column::SubscriptionId.eq(subscription))
        .one(&backend.db)
        .await?;
    let Some(link) = link else {
        // Debug formatting: whatever a caller sent stays one quoted line.
        tracing::debug!(subscription = ?truncated(subscription), "a notification for a subscription Calbridge does not hold; ignored");
        return Ok(None);
    };
    let stored = link
        .client_state_sealed
        .clone()
        .map(Sealed::from_stored)
        .and_then(|s| {
            backend
                .vault
                .open(Purpose::SubscriptionClientState, &s)
                .ok()
        });
    let given = item["clientState"].as_str().unwrap_or_default();
    let matches = stored.is_some_and(|s| same(s.expose_secret().as_bytes(), given.as_bytes()));
    if !matches {
        // Never the value: only that it did not match.
        tracing::warn!(space = link.space_id, %subscription, "a notification's clientState did not match; ignored");
        return Ok(None);
    }
    Ok(Some(link))
}

/// Handles a notification POST (change or lifecycle notifications, as
/// Graph batches them). The webhook route answers 202 first and runs this
/// in the background.
pub async fn receive(backend: &Backend, body: &Value, now: DateTime<Utc>) -> NotificationReport {
    let mut report = NotificationReport::default();
    let items = body["value"].as_array().cloned().unwrap_or_default();
    let mut due: Vec<i64> = Vec::new();
    for item in &items {
        let link = match verified_link(backend, item).await {
            Ok(Some(l)) => l,
            Ok(None) => {
                report.ignored += 1;
                continue;
            }
            Err(e) => {
                tracing::warn!(error = %e, "reading a notification's room failed");
                report.ignored += 1;
                continue;
            }
        };
        if let Some(event) = item["lifecycleEvent"].as_str() {
            report.lifecycle += 1;
            tracing::info!(
                space = link.space_id,
                event,
                "lifecycle notification for a room"
            );
            let kept = match event {
                "reauthorizationRequired" => renew(backend, &link, now).await.map(drop),
                // Graph has deleted it: a new one in its place, then
                // catch up.
                "subscriptionRemoved" => subscribe(backend, &link, now).await.map(drop),
                // "missed" and anything new: the delta read catches up.
                _ => Ok(()),
            };
            if let Err(e) = kept {
                tracing::warn!(space = link.space_id, error = %e, "handling a lifecycle notification failed; the room is polled meanwhile");
                record_error(backend, &link, &e.to_string(), None).await;
            }
        } else {
            report.changes += 1;
        }
        if !due.contains(&link.id) {
            due.push(link.id);
        }
    }
    if !due.is_empty() {
        match room_link::Entity::update_many()
            .col_expr(room_link::Column::NextPollAt, db_time(now).into())
            .filter(room_link::Column::Id.is_in(due))
            .exec(&backend.db)
            .await
        {
            Ok(_) => backend.rooms.wake(),
            Err(e) => tracing::warn!(error = %e, "could not mark rooms due after a notification"),
        }
    }
    report
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn client_states_are_random_and_short_enough() {
        let a = new_client_state();
        let b = new_client_state();
        assert_ne!(a.expose_secret(), b.expose_secret());
        assert!(a.expose_secret().len() <= 128);
        assert!(a.expose_secret().len() >= 40);
    }

    #[test]
    fn comparison_needs_every_byte() {
        assert!(same(b"abc", b"abc"));
        assert!(!same(b"abc", b"abd"));
        assert!(!same(b"abc", b"ab"));
        assert!(!same(b"", b"a"));
    }
}
