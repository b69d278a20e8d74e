//! The control surface for tests and demos: [`EmulatorHandle`] in Rust and
//! the same operations as JSON under `/_emulator/...`.

use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddr;
use std::sync::Arc;

use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, patch, post};
use axum::{Json, Router};
use chrono::{DateTime, Duration, Utc};
use http::{Method, StatusCode};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use uuid::Uuid;

use crate::faults::{FaultConfig, FaultKind, Stats, Target};
use crate::graph::errors::Ctx;
use crate::graph::events;
use crate::graph::subscriptions::{self, DeliveryRecord, LifecycleEvent};
use crate::state::{
    AccountKind, AppRegistration, ClientSecret, Room, SignInAudience, Subscription, Tenant, User,
    World, new_secret_value,
};
use crate::{AppState, Settings, Shared};

/// One line of the request log. Never holds a secret, a token or a body.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct LogEntry {
    pub at: DateTime<Utc>,
    pub request_id: String,
    pub method: String,
    pub path: String,
    pub query: String,
    /// 0 when the connection was dropped.
    pub status: u16,
    pub client_id: Option<String>,
    pub mailbox: Option<String>,
    pub fault: Option<String>,
    pub batch: bool,
    /// Identity endpoints: the token request's `grant_type`.
    #[serde(default)]
    pub grant_type: Option<String>,
    /// Identity endpoints: the OAuth `error` sent back (in the token
    /// response or the redirect), with its AADSTS number when there is one.
    #[serde(default)]
    pub error: Option<String>,
}

impl LogEntry {
    pub fn new(ctx: &Ctx, method: &Method, path: &str, query: &str) -> Self {
        Self {
            at: ctx.now,
            request_id: ctx.request_id.clone(),
            method: method.to_string(),
            path: path.to_string(),
            query: query.to_string(),
            status: 0,
            client_id: None,
            mailbox: None,
            fault: None,
            batch: false,
            grant_type: None,
            error: None,
        }
    }
}

/// What to register.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct NewApp {
    pub name: String,
    /// Home tenant (GUID).
    pub tenant: Uuid,
    pub audience: SignInAudience,
    pub redirect_uris: Vec<String>,
    #[serde(default)]
    pub delegated_permissions: Vec<String>,
    #[serde(default)]
    pub application_permissions: Vec<String>,
    /// Record admin consent in the home tenant right away.
    #[serde(default)]
    pub admin_consent: bool,
    /// Backdate creation so the propagation delay is already over.
    #[serde(default = "yes")]
    pub propagated: bool,
}

fn yes() -> bool {
    true
}

impl NewApp {
    /// A web app with Calbridge's delegated permissions.
    pub fn web(name: &str, tenant: Uuid, audience: SignInAudience, redirect_uri: &str) -> Self {
        Self {
            name: name.into(),
            tenant,
            audience,
            redirect_uris: vec![redirect_uri.into()],
            delegated_permissions: vec![
                "offline_access".into(),
                "Calendars.ReadWrite".into(),
                "User.Read".into(),
            ],
            application_permissions: vec![],
            admin_consent: false,
            propagated: true,
        }
    }
}

/// What a registration gives back (the secret Value is shown once).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RegisteredApp {
    pub client_id: Uuid,
    pub tenant_id: Uuid,
    pub secret_id: Uuid,
    pub secret_value: String,
}

/// A running emulator. Dropping it stops the server.
pub struct EmulatorHandle {
    shared: Arc<Shared>,
    addr: SocketAddr,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for EmulatorHandle {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl EmulatorHandle {
    pub(crate) fn new(
        shared: Arc<Shared>,
        addr: SocketAddr,
        task: tokio::task::JoinHandle<()>,
    ) -> Self {
        Self { shared, addr, task }
    }

    /// `http://127.0.0.1:port` (no trailing slash): both the login and the
    /// Graph host. Graph is under `{base_url}/v1.0`.
    pub fn base_url(&self) -> &str {
        &self.shared.base_url
    }

    pub fn graph_url(&self) -> String {
        format!("{}/v1.0", self.shared.base_url)
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    pub fn shared(&self) -> &Arc<Shared> {
        &self.shared
    }

    /// Wait until the server task ends (it does not on its own).
    pub async fn wait(mut self) {
        let task = std::mem::replace(&mut self.task, tokio::spawn(async {}));
        let _ = task.await;
    }

    // ----- directory -----

    pub fn add_tenant(&self, domain: &str, display_name: &str) -> Uuid {
        add_tenant(&mut self.shared.world.lock(), domain, display_name)
    }

    pub fn add_user(
        &self,
        tenant: Uuid,
        upn: &str,
        name: &str,
        password: &str,
        admin: bool,
    ) -> Uuid {
        let now = self.shared.clock.now();
        add_user(
            &mut self.shared.world.lock(),
            tenant,
            upn,
            name,
            password,
            AccountKind::Work,
            admin,
            now,
        )
    }

    pub fn add_personal_user(&self, upn: &str, name: &str, password: &str) -> Uuid {
        let now = self.shared.clock.now();
        add_user(
            &mut self.shared.world.lock(),
            crate::state::CONSUMERS_TENANT,
            upn,
            name,
            password,
            AccountKind::Personal,
            false,
            now,
        )
    }

    pub fn add_room(
        &self,
        tenant: Uuid,
        address: &str,
        name: &str,
        capacity: u32,
        delegates: &[Uuid],
    ) -> Uuid {
        let now = self.shared.clock.now();
        add_room(
            &mut self.shared.world.lock(),
            tenant,
            address,
            name,
            capacity,
            delegates,
            now,
        )
    }

    pub fn user_id(&self, upn: &str) -> Option<Uuid> {
        self.shared.world.lock().user_by_upn(upn).map(|u| u.id)
    }

    pub fn tenant_id(&self, domain: &str) -> Option<Uuid> {
        self.shared
            .world
            .lock()
            .tenant_by_name(domain)
            .map(|t| t.id)
    }

    pub fn set_require_admin_consent(&self, tenant: Uuid, on: bool) {
        if let Some(t) = self
            .shared
            .world
            .lock()
            .tenants
            .iter_mut()
            .find(|t| t.id == tenant)
        {
            t.require_admin_consent = on;
        }
    }

    // ----- app registrations -----

    pub fn register_app(&self, app: NewApp) -> RegisteredApp {
        let now = self.shared.clock.now();
        let delay = self.shared.settings().propagation_delay_secs;
        register_app(&mut self.shared.world.lock(), app, now, delay)
    }

    /// A new secret; returns (Secret ID, Value).
    pub fn add_secret(
        &self,
        client_id: Uuid,
        description: &str,
        expires_in: Duration,
    ) -> Option<(Uuid, String)> {
        let now = self.shared.clock.now();
        add_secret(
            &mut self.shared.world.lock(),
            client_id,
            description,
            now,
            now + expires_in,
        )
    }

    pub fn expire_secret(&self, client_id: Uuid, secret_id: Uuid) -> bool {
        let now = self.shared.clock.now();
        expire_secret(&mut self.shared.world.lock(), client_id, secret_id, now)
    }

    pub fn grant_admin_consent(&self, client_id: Uuid, tenant: Uuid) {
        grant_admin_consent(&mut self.shared.world.lock(), client_id, tenant);
    }

    /// Limit app-only tokens to these mailboxes (None: no policy).
    pub fn set_app_only_mailboxes(&self, client_id: Uuid, mailboxes: Option<Vec<Uuid>>) {
        if let Some(a) = self.shared.world.lock().apps.get_mut(&client_id) {
            a.app_only_mailboxes = mailboxes;
        }
    }

    /// Withdraw a user's consent (for one app or all) and kill their
    /// refresh tokens: the next refresh answers AADSTS50173.
    pub fn revoke_grant(&self, user: Uuid, client_id: Option<Uuid>) {
        let now = self.shared.clock.now();
        revoke_grant(&mut self.shared.world.lock(), user, client_id, now);
        self.shared.kick_outbox();
    }

    /// Every access token and every refresh token issued so far (expired
    /// and revoked ones too): what a leak scan looks for.
    pub fn issued_tokens(&self) -> (Vec<String>, Vec<String>) {
        issued_tokens(&self.shared.world.lock())
    }

    // ----- clock, settings, faults -----

    pub fn now(&self) -> DateTime<Utc> {
        self.shared.clock.now()
    }

    pub fn set_clock(&self, at: DateTime<Utc>) {
        self.shared.clock.set(at);
    }

    pub fn advance_clock(&self, by: Duration) {
        self.shared.clock.advance(by);
    }

    pub fn settings(&self) -> Settings {
        self.shared.settings()
    }

    pub fn update_settings(&self, f: impl FnOnce(&mut Settings)) {
        f(&mut self.shared.settings.lock());
    }

    pub fn set_faults(&self, config: FaultConfig) {
        self.shared.faults.configure(config);
    }

    /// The next Graph requests get these faults, in order.
    pub fn push_faults(&self, kinds: impl IntoIterator<Item = FaultKind>) {
        self.shared.faults.push_script(kinds);
    }

    /// The next token-endpoint requests get these faults, in order.
    pub fn push_token_faults(&self, kinds: impl IntoIterator<Item = FaultKind>) {
        self.shared.faults.push_script_for(Target::Token, kinds);
    }

    pub fn clear_faults(&self) {
        self.shared.faults.clear();
    }

    // ----- subscriptions -----

    /// Live subscriptions (expired ones are dropped first).
    pub fn subscriptions(&self) -> Vec<Subscription> {
        live_subscriptions(&self.shared)
    }

    /// End a subscription as its expiry would: silently.
    pub fn expire_subscription(&self, id: Uuid) -> bool {
        self.shared.world.lock().subscriptions.remove(&id).is_some()
    }

    /// Send a lifecycle notification to the subscription's
    /// `lifecycleNotificationUrl`. `Ok(false)`: it has none.
    pub fn lifecycle_event(&self, id: Uuid, event: LifecycleEvent) -> Result<bool, String> {
        let queued = subscriptions::lifecycle(&mut self.shared.world.lock(), id, event)?;
        self.shared.kick_outbox();
        Ok(queued)
    }

    /// Every notification POSTed so far (change and lifecycle), oldest first.
    pub fn notifications(&self) -> Vec<DeliveryRecord> {
        self.shared.deliveries.lock().clone()
    }

    pub fn clear_notifications(&self) {
        self.shared.deliveries.lock().clear();
    }

    /// Wait until at least `n` notifications have been POSTed (or
    /// `timeout` passes), then return them all.
    pub async fn wait_for_notifications(
        &self,
        n: usize,
        timeout: std::time::Duration,
    ) -> Vec<DeliveryRecord> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let got = self.notifications();
            if got.len() >= n || tokio::time::Instant::now() >= deadline {
                return got;
            }
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
    }

    pub fn stats(&self) -> Stats {
        self.shared.faults.stats()
    }

    // ----- calendars -----

    /// Create an event as a person would in Outlook (Graph event JSON).
    pub fn outlook_create(&self, mailbox: &str, body: &Value) -> Result<Value, String> {
        outlook_edit(&self.shared, mailbox, None, Some(body))
    }

    pub fn outlook_update(&self, mailbox: &str, id: &str, body: &Value) -> Result<Value, String> {
        outlook_edit(&self.shared, mailbox, Some(id), Some(body))
    }

    pub fn outlook_delete(&self, mailbox: &str, id: &str) -> Result<(), String> {
        outlook_edit(&self.shared, mailbox, Some(id), None).map(|_| ())
    }

    /// The events of one mailbox, rendered as Graph would (UTC).
    pub fn events(&self, mailbox: &str) -> Vec<Value> {
        mailbox_events(&self.shared.world.lock(), mailbox)
    }

    /// Every mailbox's events, by address.
    pub fn all_events(&self) -> BTreeMap<String, Vec<Value>> {
        all_events(&self.shared.world.lock())
    }

    /// Make every saved `$deltatoken` answer 410 syncStateNotFound.
    pub fn expire_delta_tokens(&self) {
        let mut w = self.shared.world.lock();
        w.delta_tokens.clear();
        w.skip_tokens.clear();
    }

    pub fn requests(&self) -> Vec<LogEntry> {
        self.shared.log.lock().clone()
    }

    pub fn clear_requests(&self) {
        self.shared.log.lock().clear();
    }
}

// ----- operations shared by the handle, the routes and the portal -----

pub fn add_tenant(w: &mut World, domain: &str, display_name: &str) -> Uuid {
    let id = Uuid::new_v4();
    w.tenants.push(Tenant {
        id,
        domain: domain.to_string(),
        display_name: display_name.to_string(),
        require_admin_consent: false,
    });
    id
}

#[allow(clippy::too_many_arguments)]
pub fn add_user(
    w: &mut World,
    tenant: Uuid,
    upn: &str,
    name: &str,
    password: &str,
    kind: AccountKind,
    admin: bool,
    now: DateTime<Utc>,
) -> Uuid {
    let id = Uuid::new_v4();
    w.users.insert(
        id,
        User {
            id,
            tenant_id: tenant,
            upn: upn.to_string(),
            display_name: name.to_string(),
            password: password.to_string(),
            kind,
            is_admin: admin,
            room: None,
            tokens_valid_from: now - Duration::days(365),
        },
    );
    id
}

pub fn add_room(
    w: &mut World,
    tenant: Uuid,
    address: &str,
    name: &str,
    capacity: u32,
    delegates: &[Uuid],
    now: DateTime<Utc>,
) -> Uuid {
    let id = add_user(w, tenant, address, name, "", AccountKind::Room, false, now);
    w.users.get_mut(&id).expect("just added").room = Some(Room {
        capacity,
        building: None,
        delegates: delegates.to_vec(),
    });
    id
}

pub fn register_app(
    w: &mut World,
    app: NewApp,
    now: DateTime<Utc>,
    delay_secs: i64,
) -> RegisteredApp {
    let client_id = Uuid::new_v4();
    let created_at = if app.propagated {
        now - Duration::seconds(delay_secs + 1)
    } else {
        now
    };
    w.apps.insert(
        client_id,
        AppRegistration {
            client_id,
            name: app.name,
            home_tenant: app.tenant,
            audience: app.audience,
            redirect_uris: app.redirect_uris,
            secrets: vec![],
            created_at,
            delegated_permissions: app.delegated_permissions.into_iter().collect(),
            application_permissions: app.application_permissions.into_iter().collect(),
            app_only_mailboxes: None,
        },
    );
    if app.admin_consent {
        grant_admin_consent(w, client_id, app.tenant);
    }
    let (secret_id, secret_value) =
        add_secret(w, client_id, "emulator", now, now + Duration::days(180)).expect("app exists");
    RegisteredApp {
        client_id,
        tenant_id: app.tenant,
        secret_id,
        secret_value,
    }
}

pub fn add_secret(
    w: &mut World,
    client_id: Uuid,
    description: &str,
    now: DateTime<Utc>,
    expires_at: DateTime<Utc>,
) -> Option<(Uuid, String)> {
    let app = w.apps.get_mut(&client_id)?;
    let value = new_secret_value();
    let id = Uuid::new_v4();
    app.secrets.push(ClientSecret {
        id,
        description: description.to_string(),
        hint: value.chars().take(3).collect(),
        value: value.clone(),
        created_at: now,
        expires_at,
    });
    Some((id, value))
}

pub fn expire_secret(w: &mut World, client_id: Uuid, secret_id: Uuid, now: DateTime<Utc>) -> bool {
    let Some(s) = w
        .apps
        .get_mut(&client_id)
        .and_then(|a| a.secrets.iter_mut().find(|s| s.id == secret_id))
    else {
        return false;
    };
    s.expires_at = now - Duration::seconds(1);
    true
}

pub fn grant_admin_consent(w: &mut World, client_id: Uuid, tenant: Uuid) {
    let Some(app) = w.apps.get(&client_id) else {
        return;
    };
    let mut scopes: BTreeSet<String> = app.delegated_permissions.clone();
    scopes.extend(app.application_permissions.iter().cloned());
    w.admin_grants
        .entry((client_id, tenant))
        .or_default()
        .extend(scopes);
}

pub fn revoke_grant(w: &mut World, user: Uuid, client_id: Option<Uuid>, now: DateTime<Utc>) {
    w.user_grants
        .retain(|(c, u), _| !(*u == user && client_id.is_none_or(|id| id == *c)));
    for rt in w.refresh_tokens.values_mut() {
        if rt.user_id == user && client_id.is_none_or(|id| id == rt.client_id) {
            rt.revoked = true;
        }
    }
    if let Some(u) = w.users.get_mut(&user) {
        u.tokens_valid_from = now;
    }
    // "Reduce missing subscriptions and change notifications": when a
    // user's access is revoked, Graph asks the app to reauthorize the
    // subscriptions it made with that user's delegated permission.
    let creator = w.users.get(&user).map(|u| u.graph_id());
    let affected: Vec<Uuid> = w
        .subscriptions
        .values()
        .filter(|x| {
            Some(&x.creator_id) == creator.as_ref() && client_id.is_none_or(|id| id == x.client_id)
        })
        .map(|x| x.id)
        .collect();
    for id in affected {
        let _ = subscriptions::lifecycle(w, id, LifecycleEvent::ReauthorizationRequired);
    }
}

fn outlook_edit(
    s: &Shared,
    mailbox: &str,
    id: Option<&str>,
    body: Option<&Value>,
) -> Result<Value, String> {
    let now = s.clock.now();
    let mut w = s.world.lock();
    let owner = w
        .mailbox(mailbox)
        .cloned()
        .ok_or_else(|| format!("no mailbox {mailbox}"))?;
    let result = match (id, body) {
        (None, Some(b)) => {
            events::create_event(&mut w, now, &owner, b, "outlook").map(|(_, e)| Some(e))
        }
        (Some(id), Some(b)) => events::update_event(&mut w, now, &owner, id, b).map(Some),
        (Some(id), None) => events::delete_event(&mut w, now, &owner, id).map(|_| None),
        (None, None) => Ok(None),
    };
    drop(w);
    s.kick_outbox();
    match result {
        Ok(Some(e)) => Ok(events::render(&e, &owner, "UTC")),
        Ok(None) => Ok(Value::Null),
        Err(e) => Err(format!("{}: {}", e.code, e.message)),
    }
}

fn live_subscriptions(s: &Shared) -> Vec<Subscription> {
    let now = s.clock.now();
    let mut w = s.world.lock();
    subscriptions::purge_expired(&mut w, now);
    let mut v: Vec<Subscription> = w.subscriptions.values().cloned().collect();
    v.sort_by_key(|x| x.expires_at);
    v
}

fn mailbox_events(w: &World, mailbox: &str) -> Vec<Value> {
    let Some(owner) = w.mailbox(mailbox) else {
        return vec![];
    };
    w.mailbox_events(owner.id)
        .into_iter()
        .map(|e| events::render(e, owner, "UTC"))
        .collect()
}

fn all_events(w: &World) -> BTreeMap<String, Vec<Value>> {
    w.users
        .values()
        .map(|u| (u.upn.clone(), mailbox_events(w, &u.upn)))
        .collect()
}

// ----- HTTP routes -----

pub fn routes() -> Router<AppState> {
    Router::new()
        .route(
            "/_emulator/health",
            get(|| async { Json(json!({"ok": true})) }),
        )
        .route("/_emulator/state", get(state_summary))
        .route("/_emulator/clock", get(clock_get).post(clock_set))
        .route("/_emulator/settings", get(settings_get).post(settings_set))
        .route(
            "/_emulator/faults",
            get(faults_get).post(faults_set).delete(faults_clear),
        )
        .route("/_emulator/faults/next", post(faults_next))
        .route("/_emulator/stats", get(stats_get).delete(stats_reset))
        .route("/_emulator/tenants", post(tenant_add))
        .route(
            "/_emulator/tenants/{tenant}/settings",
            post(tenant_settings),
        )
        .route("/_emulator/users", post(user_add))
        .route("/_emulator/rooms", post(room_add))
        .route("/_emulator/apps", post(app_add))
        .route("/_emulator/apps/{client_id}/secrets", post(secret_add))
        .route(
            "/_emulator/apps/{client_id}/secrets/{secret_id}/expire",
            post(secret_expire),
        )
        .route(
            "/_emulator/apps/{client_id}/admin-consent",
            post(admin_consent),
        )
        .route(
            "/_emulator/apps/{client_id}/app-only-mailboxes",
            post(app_only_mailboxes),
        )
        .route("/_emulator/grants/revoke", post(grant_revoke))
        .route("/_emulator/tokens", get(tokens_get))
        .route("/_emulator/mailboxes", get(mailboxes))
        .route(
            "/_emulator/mailboxes/{mailbox}/events",
            get(mailbox_get).post(mailbox_create),
        )
        .route(
            "/_emulator/mailboxes/{mailbox}/events/{id}",
            patch(mailbox_update).delete(mailbox_delete),
        )
        .route("/_emulator/delta/expire", post(delta_expire))
        .route("/_emulator/subscriptions", get(subscriptions_get))
        .route(
            "/_emulator/subscriptions/{id}/expire",
            post(subscription_expire),
        )
        .route(
            "/_emulator/subscriptions/{id}/lifecycle",
            post(subscription_lifecycle),
        )
        .route(
            "/_emulator/notifications",
            get(notifications_get).delete(notifications_clear),
        )
        .route(
            "/_emulator/requests",
            get(requests_get).delete(requests_clear),
        )
}

fn issued_tokens(w: &World) -> (Vec<String>, Vec<String>) {
    (
        w.access_tokens.keys().cloned().collect(),
        w.refresh_tokens.keys().cloned().collect(),
    )
}

type Res = Result<Response, (StatusCode, Json<Value>)>;

fn fail(status: StatusCode, msg: impl Into<String>) -> (StatusCode, Json<Value>) {
    (status, Json(json!({"error": msg.into()})))
}

fn ok(v: Value) -> Res {
    Ok(Json(v).into_response())
}

async fn state_summary(State(s): State<AppState>) -> Res {
    let w = s.world.lock();
    let apps: Vec<Value> = w
        .apps
        .values()
        .map(|a| {
            json!({
                "client_id": a.client_id, "name": a.name, "home_tenant": a.home_tenant,
                "audience": a.audience, "redirect_uris": a.redirect_uris,
                "secrets": a.secrets, "delegated_permissions": a.delegated_permissions,
                "application_permissions": a.application_permissions,
            })
        })
        .collect();
    let users: Vec<&User> = w.users.values().collect();
    ok(json!({"tenants": w.tenants, "users": users, "apps": apps}))
}

async fn clock_get(State(s): State<AppState>) -> Res {
    ok(json!({"now": s.clock.now()}))
}

#[derive(Deserialize)]
struct ClockBody {
    set: Option<DateTime<Utc>>,
    advance_secs: Option<f64>,
    #[serde(default)]
    reset: bool,
}

async fn clock_set(State(s): State<AppState>, Json(b): Json<ClockBody>) -> Res {
    if b.reset {
        s.clock.reset();
    }
    if let Some(at) = b.set {
        s.clock.set(at);
    }
    if let Some(secs) = b.advance_secs {
        s.clock
            .advance(Duration::milliseconds((secs * 1000.0) as i64));
    }
    ok(json!({"now": s.clock.now()}))
}

async fn settings_get(State(s): State<AppState>) -> Res {
    ok(serde_json::to_value(s.settings()).expect("settings"))
}

/// Partial update: only the given fields change.
async fn settings_set(State(s): State<AppState>, Json(patch): Json<Value>) -> Res {
    let mut current = serde_json::to_value(s.settings()).expect("settings");
    if let (Some(c), Some(p)) = (current.as_object_mut(), patch.as_object()) {
        for (k, v) in p {
            c.insert(k.clone(), v.clone());
        }
    }
    let new: Settings = serde_json::from_value(current)
        .map_err(|e| fail(StatusCode::BAD_REQUEST, e.to_string()))?;
    *s.settings.lock() = new.clone();
    ok(serde_json::to_value(new).expect("settings"))
}

async fn faults_get(State(s): State<AppState>) -> Res {
    ok(serde_json::to_value(s.faults.config()).expect("faults"))
}

async fn faults_set(State(s): State<AppState>, Json(c): Json<FaultConfig>) -> Res {
    s.faults.configure(c);
    ok(serde_json::to_value(s.faults.config()).expect("faults"))
}

async fn faults_clear(State(s): State<AppState>) -> Res {
    s.faults.clear();
    ok(json!({"cleared": true}))
}

#[derive(Deserialize)]
struct NextFaults {
    faults: Vec<FaultKind>,
    /// `graph` (default) or `token`.
    target: Option<Target>,
}

async fn faults_next(State(s): State<AppState>, Json(b): Json<NextFaults>) -> Res {
    let n = b.faults.len();
    s.faults
        .push_script_for(b.target.unwrap_or(Target::Graph), b.faults);
    ok(json!({"queued": n}))
}

async fn stats_get(State(s): State<AppState>) -> Res {
    ok(serde_json::to_value(s.faults.stats()).expect("stats"))
}

async fn stats_reset(State(s): State<AppState>) -> Res {
    s.faults.reset_stats();
    ok(json!({"reset": true}))
}

#[derive(Deserialize)]
struct TenantBody {
    domain: String,
    display_name: Option<String>,
}

async fn tenant_add(State(s): State<AppState>, Json(b): Json<TenantBody>) -> Res {
    let name = b.display_name.clone().unwrap_or_else(|| b.domain.clone());
    let id = add_tenant(&mut s.world.lock(), &b.domain, &name);
    ok(json!({"id": id}))
}

#[derive(Deserialize)]
struct TenantSettings {
    require_admin_consent: bool,
}

async fn tenant_settings(
    State(s): State<AppState>,
    Path(tenant): Path<String>,
    Json(b): Json<TenantSettings>,
) -> Res {
    let mut w = s.world.lock();
    let id = w
        .tenant_by_name(&tenant)
        .map(|t| t.id)
        .ok_or_else(|| fail(StatusCode::NOT_FOUND, "no such tenant"))?;
    let t = w.tenants.iter_mut().find(|t| t.id == id).expect("found");
    t.require_admin_consent = b.require_admin_consent;
    ok(json!(t))
}

#[derive(Deserialize)]
struct UserBody {
    tenant: Option<String>,
    upn: String,
    display_name: String,
    password: String,
    #[serde(default)]
    admin: bool,
    #[serde(default)]
    personal: bool,
}

async fn user_add(State(s): State<AppState>, Json(b): Json<UserBody>) -> Res {
    let now = s.clock.now();
    let mut w = s.world.lock();
    let (tenant, kind) = if b.personal {
        (crate::state::CONSUMERS_TENANT, AccountKind::Personal)
    } else {
        let t = b
            .tenant
            .as_deref()
            .and_then(|t| w.tenant_by_name(t))
            .map(|t| t.id)
            .ok_or_else(|| fail(StatusCode::BAD_REQUEST, "tenant required"))?;
        (t, AccountKind::Work)
    };
    let id = add_user(
        &mut w,
        tenant,
        &b.upn,
        &b.display_name,
        &b.password,
        kind,
        b.admin,
        now,
    );
    ok(json!({"id": id}))
}

#[derive(Deserialize)]
struct RoomBody {
    tenant: String,
    address: String,
    display_name: String,
    capacity: u32,
    #[serde(default)]
    delegates: Vec<String>,
}

async fn room_add(State(s): State<AppState>, Json(b): Json<RoomBody>) -> Res {
    let now = s.clock.now();
    let mut w = s.world.lock();
    let tenant = w
        .tenant_by_name(&b.tenant)
        .map(|t| t.id)
        .ok_or_else(|| fail(StatusCode::BAD_REQUEST, "no such tenant"))?;
    let delegates: Vec<Uuid> = b
        .delegates
        .iter()
        .filter_map(|d| w.user_by_upn(d).map(|u| u.id))
        .collect();
    let id = add_room(
        &mut w,
        tenant,
        &b.address,
        &b.display_name,
        b.capacity,
        &delegates,
        now,
    );
    ok(json!({"id": id}))
}

async fn app_add(State(s): State<AppState>, Json(b): Json<NewApp>) -> Res {
    let now = s.clock.now();
    let delay = s.settings().propagation_delay_secs;
    let r = register_app(&mut s.world.lock(), b, now, delay);
    ok(serde_json::to_value(r).expect("app"))
}

#[derive(Deserialize)]
struct SecretBody {
    description: Option<String>,
    expires_in_days: Option<i64>,
}

async fn secret_add(
    State(s): State<AppState>,
    Path(client_id): Path<Uuid>,
    Json(b): Json<SecretBody>,
) -> Res {
    let now = s.clock.now();
    let exp = now + Duration::days(b.expires_in_days.unwrap_or(180));
    let (id, value) = add_secret(
        &mut s.world.lock(),
        client_id,
        b.description.as_deref().unwrap_or(""),
        now,
        exp,
    )
    .ok_or_else(|| fail(StatusCode::NOT_FOUND, "no such app"))?;
    ok(json!({"secret_id": id, "secret_value": value, "expires_at": exp}))
}

async fn secret_expire(
    State(s): State<AppState>,
    Path((client_id, secret_id)): Path<(Uuid, Uuid)>,
) -> Res {
    let now = s.clock.now();
    if expire_secret(&mut s.world.lock(), client_id, secret_id, now) {
        ok(json!({"expired": true}))
    } else {
        Err(fail(StatusCode::NOT_FOUND, "no such secret"))
    }
}

#[derive(Deserialize, Default)]
struct ConsentBody {
    tenant: Option<String>,
}

async fn admin_consent(
    State(s): State<AppState>,
    Path(client_id): Path<Uuid>,
    body: Option<Json<ConsentBody>>,
) -> Res {
    let mut w = s.world.lock();
    let home = w
        .apps
        .get(&client_id)
        .map(|a| a.home_tenant)
        .ok_or_else(|| fail(StatusCode::NOT_FOUND, "no such app"))?;
    let tenant = body
        .and_then(|b| b.0.tenant)
        .and_then(|t| w.tenant_by_name(&t).map(|t| t.id))
        .unwrap_or(home);
    grant_admin_consent(&mut w, client_id, tenant);
    ok(json!({"granted": true, "tenant": tenant}))
}

#[derive(Deserialize)]
struct MailboxList {
    mailboxes: Option<Vec<String>>,
}

async fn app_only_mailboxes(
    State(s): State<AppState>,
    Path(client_id): Path<Uuid>,
    Json(b): Json<MailboxList>,
) -> Res {
    let mut w = s.world.lock();
    let ids = b.mailboxes.map(|list| {
        list.iter()
            .filter_map(|m| w.mailbox(m).map(|u| u.id))
            .collect::<Vec<_>>()
    });
    let app = w
        .apps
        .get_mut(&client_id)
        .ok_or_else(|| fail(StatusCode::NOT_FOUND, "no such app"))?;
    app.app_only_mailboxes = ids;
    ok(json!({"app_only_mailboxes": app.app_only_mailboxes}))
}

#[derive(Deserialize)]
struct RevokeBody {
    user: String,
    client_id: Option<Uuid>,
}

async fn grant_revoke(State(s): State<AppState>, Json(b): Json<RevokeBody>) -> Res {
    let now = s.clock.now();
    let mut w = s.world.lock();
    let user = w
        .user_by_upn(&b.user)
        .map(|u| u.id)
        .ok_or_else(|| fail(StatusCode::NOT_FOUND, "no such user"))?;
    revoke_grant(&mut w, user, b.client_id, now);
    drop(w);
    s.kick_outbox();
    ok(json!({"revoked": true}))
}

/// Every token issued so far: what a leak scan searches for. (This is
/// Microsoft's side; the emulator is a test double and shows them.)
async fn tokens_get(State(s): State<AppState>) -> Res {
    let (access, refresh) = issued_tokens(&s.world.lock());
    ok(json!({"access_tokens": access, "refresh_tokens": refresh}))
}

async fn mailboxes(State(s): State<AppState>) -> Res {
    ok(json!(all_events(&s.world.lock())))
}

async fn mailbox_get(State(s): State<AppState>, Path(mailbox): Path<String>) -> Res {
    ok(json!({"value": mailbox_events(&s.world.lock(), &mailbox)}))
}

async fn mailbox_create(
    State(s): State<AppState>,
    Path(mailbox): Path<String>,
    Json(b): Json<Value>,
) -> Res {
    outlook_edit(&s, &mailbox, None, Some(&b))
        .map(|v| (StatusCode::CREATED, Json(v)).into_response())
        .map_err(|e| fail(StatusCode::BAD_REQUEST, e))
}

async fn mailbox_update(
    State(s): State<AppState>,
    Path((mailbox, id)): Path<(String, String)>,
    Json(b): Json<Value>,
) -> Res {
    outlook_edit(&s, &mailbox, Some(&id), Some(&b))
        .map(|v| Json(v).into_response())
        .map_err(|e| fail(StatusCode::BAD_REQUEST, e))
}

async fn mailbox_delete(
    State(s): State<AppState>,
    Path((mailbox, id)): Path<(String, String)>,
) -> Res {
    outlook_edit(&s, &mailbox, Some(&id), None)
        .map(|_| StatusCode::NO_CONTENT.into_response())
        .map_err(|e| fail(StatusCode::NOT_FOUND, e))
}

async fn delta_expire(State(s): State<AppState>) -> Res {
    let mut w = s.world.lock();
    w.delta_tokens.clear();
    w.skip_tokens.clear();
    ok(json!({"expired": true}))
}

async fn requests_get(State(s): State<AppState>) -> Res {
    ok(json!(s.log.lock().clone()))
}

async fn requests_clear(State(s): State<AppState>) -> Res {
    s.log.lock().clear();
    ok(json!({"cleared": true}))
}

async fn subscriptions_get(State(s): State<AppState>) -> Res {
    ok(json!(live_subscriptions(&s)))
}

async fn subscription_expire(State(s): State<AppState>, Path(id): Path<Uuid>) -> Res {
    if s.world.lock().subscriptions.remove(&id).is_some() {
        ok(json!({"expired": true}))
    } else {
        Err(fail(StatusCode::NOT_FOUND, "no such subscription"))
    }
}

#[derive(Deserialize)]
struct LifecycleBody {
    event: LifecycleEvent,
}

async fn subscription_lifecycle(
    State(s): State<AppState>,
    Path(id): Path<Uuid>,
    Json(b): Json<LifecycleBody>,
) -> Res {
    let queued = subscriptions::lifecycle(&mut s.world.lock(), id, b.event)
        .map_err(|e| fail(StatusCode::NOT_FOUND, e))?;
    s.kick_outbox();
    ok(json!({"queued": queued}))
}

async fn notifications_get(State(s): State<AppState>) -> Res {
    ok(json!(s.deliveries.lock().clone()))
}

async fn notifications_clear(State(s): State<AppState>) -> Res {
    s.deliveries.lock().clear();
    ok(json!({"cleared": true}))
}
