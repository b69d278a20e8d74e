//! `/subscriptions`: change notifications on Outlook events.
//!
//! Microsoft Graph: "Create subscription", "List subscriptions", "Update
//! subscription", "Delete subscription", "subscription: reauthorize";
//! "Receive change notifications through webhooks" (the validation
//! handshake: `POST {notificationUrl}?validationToken=…`, which the app
//! must answer within 10 seconds with 200, `text/plain` and the token);
//! "Reduce missing subscriptions and change notifications" (lifecycle
//! notifications); "Change notifications for Outlook resources" and "Get
//! shared or delegated Outlook calendar" (the `.Shared` delegated
//! permissions do not support subscriptions on another user's or a shared
//! mailbox: only application permissions can subscribe to those).

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration as StdDuration;

use axum::Json;
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Duration, Utc};
use http::{Method, StatusCode, header};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use tokio::sync::mpsc;
use uuid::Uuid;

use super::auth::{Caller, Principal, check_calendar, resolve_mailbox};
use super::errors::GraphError;
use super::events::ts;
use super::{GraphRequest, Resource, method_not_allowed};
use crate::state::{Delivery, Event, Subscription, User, World};
use crate::{AppState, Settings, Shared};

/// The longest a subscription on Outlook events may live, in minutes
/// ("subscription resource type", subscription lifetime: "Outlook event
/// 4230 minutes (under 3 days)"; Graph answers a longer one with
/// "Subscription expiration can only be 4230 minutes in the future.").
pub const MAX_MINUTES: i64 = 4230;

/// "Any value under 45 minutes after the time of the request is
/// automatically set to 45 minutes after the request time."
const MIN_MINUTES: i64 = 45;

/// Longest `clientState` ("subscription resource type").
const MAX_CLIENT_STATE: usize = 128;

const CHANGE_TYPES: [&str; 3] = ["created", "updated", "deleted"];

/// One notification POSTed to an app, kept for assertions.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DeliveryRecord {
    pub at: DateTime<Utc>,
    pub subscription_id: Uuid,
    /// `created`, `updated`, `deleted` or a lifecycle event.
    pub kind: String,
    pub url: String,
    /// The app's answer; 0 when it never came (refused, timed out).
    pub status: u16,
    pub error: Option<String>,
    pub body: Value,
}

/// Lifecycle events Graph sends to `lifecycleNotificationUrl`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum LifecycleEvent {
    ReauthorizationRequired,
    SubscriptionRemoved,
    Missed,
}

impl LifecycleEvent {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::ReauthorizationRequired => "reauthorizationRequired",
            Self::SubscriptionRemoved => "subscriptionRemoved",
            Self::Missed => "missed",
        }
    }
}

fn invalid(message: impl Into<String>) -> GraphError {
    GraphError::bad_request("InvalidRequest", message)
}

fn validation_failed(message: &str) -> GraphError {
    GraphError::bad_request("ValidationError", message)
}

fn not_found() -> GraphError {
    GraphError::new(
        StatusCode::NOT_FOUND,
        "ResourceNotFound",
        "The object was not found.",
    )
}

/// What Graph answers when the caller may not watch the mailbox; the
/// error comes from the Exchange extension behind /subscriptions.
fn forbidden() -> GraphError {
    GraphError::new(
        StatusCode::FORBIDDEN,
        "ExtensionError",
        "Operation: Create; Exception: [Status Code: Forbidden; Reason: Access is denied. Check credentials and try again.]",
    )
}

pub async fn handle(
    s: &AppState,
    req: &GraphRequest,
    p: &Principal,
    resource: &Resource,
) -> Result<Response, GraphError> {
    match (resource, &req.method) {
        (Resource::Subscriptions, &Method::POST) => create(s, req, p).await,
        (Resource::Subscriptions, &Method::GET) => list(s, p),
        (Resource::Subscription(id), &Method::GET) => {
            let mut w = s.world.lock();
            let sub = find(&mut w, s.clock.now(), p, id)?;
            Ok(Json(render(s, &sub, false)).into_response())
        }
        (Resource::Subscription(id), &Method::PATCH) => update(s, req, p, id).await,
        (Resource::Subscription(id), &Method::DELETE) => {
            let mut w = s.world.lock();
            let sub = find(&mut w, s.clock.now(), p, id)?;
            w.subscriptions.remove(&sub.id);
            Ok(StatusCode::NO_CONTENT.into_response())
        }
        (Resource::SubscriptionReauthorize(id), &Method::POST) => {
            let mut w = s.world.lock();
            let sub = find(&mut w, s.clock.now(), p, id)?;
            if let Some(x) = w.subscriptions.get_mut(&sub.id) {
                x.needs_reauthorization = false;
            }
            Ok(StatusCode::NO_CONTENT.into_response())
        }
        _ => Err(method_not_allowed()),
    }
}

async fn create(s: &AppState, req: &GraphRequest, p: &Principal) -> Result<Response, GraphError> {
    let body = req.json_body()?;
    let now = s.clock.now();
    let settings = s.settings();
    let text = |k: &str| body.get(k).and_then(Value::as_str).map(str::to_string);
    let required = |k: &str| text(k).ok_or_else(|| invalid(format!("'{k}' is required.")));
    let change_types = parse_change_types(&required("changeType")?)?;
    let notification_url = required("notificationUrl")?;
    let resource = required("resource")?;
    let expires_at = parse_expiry(&required("expirationDateTime")?, now)?;
    let client_state = text("clientState");
    if client_state
        .as_ref()
        .is_some_and(|c| c.chars().count() > MAX_CLIENT_STATE)
    {
        return Err(invalid(format!(
            "clientState must be at most {MAX_CLIENT_STATE} characters long."
        )));
    }
    if body.get("includeResourceData") == Some(&Value::Bool(true)) {
        // Rich notifications need an encryption certificate; the emulator
        // sends basic notifications only.
        return Err(invalid(
            "includeResourceData is not supported by this emulator.",
        ));
    }
    let lifecycle_url = text("lifecycleNotificationUrl");
    check_url(&notification_url, &settings)?;
    if let Some(u) = &lifecycle_url {
        check_url(u, &settings)?;
    }
    let mailbox = {
        let w = s.world.lock();
        watched_mailbox(&w, p, &resource)?
    };
    handshake(s, &notification_url, settings.validation_timeout_ms).await?;
    if let Some(u) = &lifecycle_url {
        handshake(s, u, settings.validation_timeout_ms).await?;
    }
    let sub = Subscription {
        id: Uuid::new_v4(),
        client_id: p.client_id,
        tenant_id: p.tenant(),
        creator_id: creator_id(p),
        mailbox: mailbox.id,
        resource,
        change_types,
        notification_url,
        lifecycle_url,
        client_state,
        expires_at,
        latest_tls: text("latestSupportedTlsVersion").unwrap_or_else(|| "v1_2".into()),
        needs_reauthorization: false,
    };
    s.world.lock().subscriptions.insert(sub.id, sub.clone());
    Ok((StatusCode::CREATED, Json(render(s, &sub, true))).into_response())
}

fn list(s: &AppState, p: &Principal) -> Result<Response, GraphError> {
    let mut w = s.world.lock();
    purge_expired(&mut w, s.clock.now());
    let mut subs: Vec<&Subscription> = w.subscriptions.values().filter(|x| owns(p, x)).collect();
    subs.sort_by_key(|x| x.expires_at);
    let value: Vec<Value> = subs.into_iter().map(|x| render(s, x, false)).collect();
    Ok(Json(json!({
        "@odata.context": format!("{}/v1.0/$metadata#subscriptions", s.base_url),
        "value": value,
    }))
    .into_response())
}

/// Renew (`expirationDateTime`) and/or move (`notificationUrl`, validated
/// again). Graph lets a client change nothing else.
async fn update(
    s: &AppState,
    req: &GraphRequest,
    p: &Principal,
    id: &str,
) -> Result<Response, GraphError> {
    let body = req.json_body()?;
    let obj = body
        .as_object()
        .ok_or_else(|| invalid("The request body must be a JSON object."))?;
    if let Some(k) = obj
        .keys()
        .find(|k| !matches!(k.as_str(), "expirationDateTime" | "notificationUrl"))
    {
        return Err(invalid(format!(
            "'{k}' cannot be updated; only expirationDateTime and notificationUrl can."
        )));
    }
    let now = s.clock.now();
    let settings = s.settings();
    {
        let mut w = s.world.lock();
        find(&mut w, now, p, id)?;
    }
    let expires_at = match obj.get("expirationDateTime").and_then(Value::as_str) {
        Some(raw) => Some(parse_expiry(raw, now)?),
        None => None,
    };
    let url = obj
        .get("notificationUrl")
        .and_then(Value::as_str)
        .map(str::to_string);
    if let Some(u) = &url {
        check_url(u, &settings)?;
        handshake(s, u, settings.validation_timeout_ms).await?;
    }
    let mut w = s.world.lock();
    let sub = find(&mut w, now, p, id)?;
    let x = w.subscriptions.get_mut(&sub.id).expect("found");
    if let Some(t) = expires_at {
        x.expires_at = t;
        // Renewing is also a way to answer reauthorizationRequired.
        x.needs_reauthorization = false;
    }
    if let Some(u) = url {
        x.notification_url = u;
    }
    let x = x.clone();
    Ok(Json(render(s, &x, false)).into_response())
}

fn creator_id(p: &Principal) -> String {
    match &p.caller {
        Caller::Delegated(u) => u.graph_id(),
        Caller::App { .. } => p.client_id.to_string(),
    }
}

/// A subscription is the business of the app (and, delegated, the user)
/// that made it.
fn owns(p: &Principal, sub: &Subscription) -> bool {
    sub.client_id == p.client_id
        && match &p.caller {
            Caller::Delegated(_) => sub.creator_id == creator_id(p),
            Caller::App { tenant, .. } => sub.tenant_id == *tenant,
        }
}

fn find(
    w: &mut World,
    now: DateTime<Utc>,
    p: &Principal,
    id: &str,
) -> Result<Subscription, GraphError> {
    purge_expired(w, now);
    Uuid::parse_str(id)
        .ok()
        .and_then(|id| w.subscriptions.get(&id))
        .filter(|x| owns(p, x))
        .cloned()
        .ok_or_else(not_found)
}

/// An expired subscription is gone: Graph deletes it without a word.
pub fn purge_expired(w: &mut World, now: DateTime<Utc>) {
    w.subscriptions.retain(|_, x| x.expires_at > now);
}

fn parse_change_types(raw: &str) -> Result<Vec<String>, GraphError> {
    let types: Vec<String> = raw.split(',').map(|t| t.trim().to_string()).collect();
    match types.iter().find(|t| !CHANGE_TYPES.contains(&t.as_str())) {
        Some(bad) => Err(invalid(format!(
            "'{bad}' is not a valid changeType; use created, updated or deleted."
        ))),
        None => Ok(types),
    }
}

fn parse_expiry(raw: &str, now: DateTime<Utc>) -> Result<DateTime<Utc>, GraphError> {
    let t = DateTime::parse_from_rfc3339(raw)
        .map(|t| t.with_timezone(&Utc))
        .ok()
        .or_else(|| crate::timezones::parse_naive(raw).map(|n| n.and_utc()))
        .ok_or_else(|| invalid(format!("'{raw}' is not a valid expirationDateTime.")))?;
    if t <= now {
        return Err(invalid("expirationDateTime must be in the future."));
    }
    if t > now + Duration::minutes(MAX_MINUTES) {
        return Err(GraphError::bad_request(
            "ExtensionError",
            format!("Subscription expiration can only be {MAX_MINUTES} minutes in the future."),
        ));
    }
    Ok(t.max(now + Duration::minutes(MIN_MINUTES)))
}

fn check_url(url: &str, settings: &Settings) -> Result<(), GraphError> {
    let lower = url.to_ascii_lowercase();
    if lower.starts_with("https://") {
        return Ok(());
    }
    if lower.starts_with("http://") && settings.allow_http_notifications {
        return Ok(());
    }
    Err(validation_failed(&format!(
        "Subscription validation request failed. The notification URL '{url}' must use HTTPS."
    )))
}

/// The mailbox a subscription resource names, if the caller may watch it.
fn watched_mailbox(w: &World, p: &Principal, resource: &str) -> Result<User, GraphError> {
    let segs: Vec<&str> = resource.trim_matches('/').split('/').collect();
    let lower: Vec<String> = segs.iter().map(|s| s.to_ascii_lowercase()).collect();
    let lower: Vec<&str> = lower.iter().map(String::as_str).collect();
    let key = match lower.as_slice() {
        ["me", "events"] | ["me", "calendar", "events"] => None,
        ["users", _, "events"] | ["users", _, "calendar", "events"] => Some(segs[1]),
        _ => {
            return Err(invalid(format!(
                "The resource '{resource}' is not supported; subscribe to me/events or users/{{id}}/events."
            )));
        }
    };
    let mailbox = resolve_mailbox(w, p, key)?;
    if let Caller::Delegated(me) = &p.caller
        && me.id != mailbox.id
    {
        // Calendars.Read(Write).Shared and delegate rights are not enough.
        return Err(forbidden());
    }
    check_calendar(p, &mailbox, false).map_err(|_| forbidden())?;
    Ok(mailbox)
}

/// Graph's validation token: opaque text with spaces and a colon, so an
/// app that forgets to URL-decode it fails here as it would there.
fn validation_token() -> String {
    format!(
        "Validation: Testing client application reachability for subscription Request-Id: {}",
        Uuid::new_v4()
    )
}

async fn handshake(s: &Shared, url: &str, timeout_ms: u64) -> Result<(), GraphError> {
    let token = validation_token();
    let sep = if url.contains('?') { '&' } else { '?' };
    let full = format!("{url}{sep}validationToken={}", urlencoding::encode(&token));
    let resp = s
        .http
        .post(full)
        .header(header::CONTENT_TYPE, "text/plain; charset=utf-8")
        .timeout(StdDuration::from_millis(timeout_ms))
        .send()
        .await;
    let must_be_200 = "Subscription validation request failed. Notification endpoint must respond with 200 OK to validation request.";
    let resp = match resp {
        Err(e) if e.is_timeout() => {
            return Err(invalid("Subscription validation request timed out."));
        }
        Err(_) => return Err(validation_failed(must_be_200)),
        Ok(r) if r.status() != StatusCode::OK => return Err(validation_failed(must_be_200)),
        Ok(r) => r,
    };
    let plain = resp
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.to_ascii_lowercase().starts_with("text/plain"));
    let text = match resp.text().await {
        Ok(t) => t,
        Err(e) if e.is_timeout() => {
            return Err(invalid("Subscription validation request timed out."));
        }
        Err(_) => return Err(validation_failed(must_be_200)),
    };
    if !plain || text != token {
        return Err(validation_failed(
            "Subscription validation request failed. Response must exactly match validationToken query parameter.",
        ));
    }
    Ok(())
}

/// The subscription resource. Graph returns `clientState` when the
/// subscription is created and `null` when it is read back.
pub fn render(s: &Shared, x: &Subscription, with_state: bool) -> Value {
    json!({
        "@odata.context": format!("{}/v1.0/$metadata#subscriptions/$entity", s.base_url),
        "id": x.id,
        "resource": x.resource,
        "applicationId": x.client_id,
        "changeType": x.change_types.join(","),
        "clientState": if with_state { json!(x.client_state) } else { Value::Null },
        "notificationUrl": x.notification_url,
        "notificationQueryOptions": null,
        "lifecycleNotificationUrl": x.lifecycle_url,
        "expirationDateTime": ts(x.expires_at),
        "creatorId": x.creator_id,
        "includeResourceData": false,
        "latestSupportedTlsVersion": x.latest_tls,
        "encryptionCertificate": null,
        "encryptionCertificateId": null,
        "notificationUrlAppId": null,
    })
}

/// Queue change notifications for a change to `ev` (`kind` is created,
/// updated or deleted). One notification per POST; Graph may batch
/// several, which an app must accept anyway.
pub fn changed(w: &mut World, now: DateTime<Utc>, ev: &Event, kind: &str) {
    let resource = format!("Users/{}/Events/{}", ev.mailbox, ev.id);
    let due: Vec<Delivery> = w
        .subscriptions
        .values()
        .filter(|x| {
            x.mailbox == ev.mailbox
                && x.expires_at > now
                && x.change_types.iter().any(|c| c == kind)
        })
        .map(|x| Delivery {
            subscription_id: x.id,
            url: x.notification_url.clone(),
            kind: kind.to_string(),
            body: json!({"value": [{
                "subscriptionId": x.id,
                "subscriptionExpirationDateTime": ts(x.expires_at),
                "changeType": kind,
                "resource": resource,
                "clientState": x.client_state,
                "tenantId": x.tenant_id,
                "resourceData": {
                    "@odata.type": "#Microsoft.Graph.Event",
                    "@odata.id": resource,
                    "@odata.etag": format!("W/\"{}\"", ev.change_key),
                    "id": ev.id,
                },
            }]}),
        })
        .collect();
    w.outbox.extend(due);
}

/// Queue a lifecycle notification (if the subscription has a
/// `lifecycleNotificationUrl`); `subscriptionRemoved` also deletes the
/// subscription. Returns whether a notification was queued.
pub fn lifecycle(w: &mut World, id: Uuid, event: LifecycleEvent) -> Result<bool, String> {
    let x = w
        .subscriptions
        .get_mut(&id)
        .ok_or_else(|| format!("no subscription {id}"))?;
    if event == LifecycleEvent::ReauthorizationRequired {
        x.needs_reauthorization = true;
    }
    let x = x.clone();
    if event == LifecycleEvent::SubscriptionRemoved {
        w.subscriptions.remove(&id);
    }
    let Some(url) = x.lifecycle_url.clone() else {
        return Ok(false);
    };
    w.outbox.push(Delivery {
        subscription_id: id,
        url,
        kind: event.as_str().to_string(),
        body: json!({"value": [{
            "subscriptionId": x.id,
            "subscriptionExpirationDateTime": ts(x.expires_at),
            "tenantId": x.tenant_id,
            "clientState": x.client_state,
            "lifecycleEvent": event.as_str(),
        }]}),
    });
    Ok(true)
}

/// Sends what the outbox holds: one worker per URL, so an app gets its
/// notifications in order and a slow app delays only itself. Graph
/// retries failed deliveries for hours; the emulator records the failure
/// and moves on (tests read it from the delivery log).
pub async fn delivery_loop(s: Arc<Shared>) {
    let mut workers: HashMap<String, mpsc::UnboundedSender<Delivery>> = HashMap::new();
    let mut tasks = tokio::task::JoinSet::new();
    loop {
        s.outbox_ready.notified().await;
        let batch = std::mem::take(&mut s.world.lock().outbox);
        for d in batch {
            let tx = workers.entry(d.url.clone()).or_insert_with(|| {
                let (tx, mut rx) = mpsc::unbounded_channel::<Delivery>();
                let s = s.clone();
                tasks.spawn(async move {
                    while let Some(d) = rx.recv().await {
                        deliver(&s, d).await;
                    }
                });
                tx
            });
            let _ = tx.send(d);
        }
    }
}

async fn deliver(s: &Shared, d: Delivery) {
    let at = s.clock.now();
    let result = s.http.post(&d.url).json(&d.body).send().await;
    let (status, error) = match result {
        Ok(r) => (r.status().as_u16(), None),
        Err(e) => (0, Some(e.to_string())),
    };
    s.deliveries.lock().push(DeliveryRecord {
        at,
        subscription_id: d.subscription_id,
        kind: d.kind,
        url: d.url,
        status,
        error,
        body: d.body,
    });
}
