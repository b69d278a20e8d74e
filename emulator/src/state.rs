//! The emulator's in-memory world: directory objects (tenants, users, rooms,
//! app registrations), what the identity platform issued (grants, codes,
//! tokens, sign-in sessions) and what Exchange stores (calendars, events,
//! delta state). One mutex guards it all: every request holds it for
//! microseconds and never across an `.await`.

use std::collections::{BTreeSet, HashMap};

use chrono::{DateTime, Utc};
use rand::Rng;
use serde::Serialize;
use uuid::Uuid;

/// The tenant id Microsoft uses for personal (consumer) accounts.
/// Microsoft identity platform: "ID tokens" (tid claim for personal accounts).
pub const CONSUMERS_TENANT: Uuid = Uuid::from_u128(0x9188040d_6c67_4c5b_b112_36a304b66dad);

#[derive(Debug, Clone, Serialize)]
pub struct Tenant {
    pub id: Uuid,
    pub domain: String,
    pub display_name: String,
    /// "Users can consent to apps" switched off: only an admin may consent.
    pub require_admin_consent: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum AccountKind {
    /// A work or school account in an organisational tenant.
    Work,
    /// A personal Microsoft account (outlook.com and friends).
    Personal,
    /// A room mailbox: has a calendar, cannot sign in.
    Room,
}

#[derive(Debug, Clone, Serialize)]
pub struct Room {
    pub capacity: u32,
    pub building: Option<String>,
    /// Users who may read and write this room's calendar.
    pub delegates: Vec<Uuid>,
}

/// A directory object with a mailbox: a person or a room.
#[derive(Debug, Clone, Serialize)]
pub struct User {
    /// Object id (for personal accounts Graph shows a 16-hex id instead).
    pub id: Uuid,
    pub tenant_id: Uuid,
    /// User principal name, also the primary SMTP address here.
    pub upn: String,
    pub display_name: String,
    #[serde(skip)]
    pub password: String,
    pub kind: AccountKind,
    /// May register apps, grant admin consent, sign in to the portal.
    pub is_admin: bool,
    pub room: Option<Room>,
    /// Tokens issued before this instant are dead (a revoked grant, a
    /// password reset): the reason for AADSTS50173.
    pub tokens_valid_from: DateTime<Utc>,
}

impl User {
    /// The `id` Graph shows for this user.
    pub fn graph_id(&self) -> String {
        match self.kind {
            AccountKind::Personal => format!("{:016x}", self.id.as_u128() as u64),
            _ => self.id.to_string(),
        }
    }
}

/// Supported account types, in manifest words.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize)]
pub enum SignInAudience {
    AzureADMyOrg,
    AzureADMultipleOrgs,
    AzureADandPersonalMicrosoftAccount,
    PersonalMicrosoftAccount,
}

impl SignInAudience {
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "AzureADMyOrg" => Some(Self::AzureADMyOrg),
            "AzureADMultipleOrgs" => Some(Self::AzureADMultipleOrgs),
            "AzureADandPersonalMicrosoftAccount" => Some(Self::AzureADandPersonalMicrosoftAccount),
            "PersonalMicrosoftAccount" => Some(Self::PersonalMicrosoftAccount),
            _ => None,
        }
    }

    /// The words the Azure portal's "Register an application" page uses.
    pub fn portal_label(self) -> &'static str {
        match self {
            Self::AzureADMyOrg => "Accounts in this organizational directory only (Single tenant)",
            Self::AzureADMultipleOrgs => {
                "Accounts in any organizational directory (Any Microsoft Entra ID tenant - Multitenant)"
            }
            Self::AzureADandPersonalMicrosoftAccount => {
                "Accounts in any organizational directory (Any Microsoft Entra ID tenant - Multitenant) and personal Microsoft accounts (e.g. Skype, Xbox)"
            }
            Self::PersonalMicrosoftAccount => "Personal Microsoft accounts only",
        }
    }

    pub const ALL: [SignInAudience; 4] = [
        Self::AzureADMyOrg,
        Self::AzureADMultipleOrgs,
        Self::AzureADandPersonalMicrosoftAccount,
        Self::PersonalMicrosoftAccount,
    ];
}

#[derive(Debug, Clone, Serialize)]
pub struct ClientSecret {
    /// The "Secret ID" column: not a credential.
    pub id: Uuid,
    pub description: String,
    #[serde(skip)]
    pub value: String,
    /// First three characters, as the portal shows after creation.
    pub hint: String,
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
}

#[derive(Debug, Clone, Serialize)]
pub struct AppRegistration {
    pub client_id: Uuid,
    pub name: String,
    pub home_tenant: Uuid,
    pub audience: SignInAudience,
    pub redirect_uris: Vec<String>,
    pub secrets: Vec<ClientSecret>,
    pub created_at: DateTime<Utc>,
    /// Configured delegated Graph permissions ("API permissions").
    pub delegated_permissions: BTreeSet<String>,
    /// Configured application permissions (app roles on Graph).
    pub application_permissions: BTreeSet<String>,
    /// An Exchange application access policy: when set, app-only tokens
    /// reach only these mailboxes.
    pub app_only_mailboxes: Option<Vec<Uuid>>,
}

/// Who a token speaks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Subject {
    User(Uuid),
    /// App-only (client credentials) in a tenant.
    App(Uuid),
}

#[derive(Debug, Clone)]
pub struct AccessToken {
    pub client_id: Uuid,
    pub subject: Subject,
    pub scopes: BTreeSet<String>,
    pub issued_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
}

#[derive(Debug, Clone)]
pub struct RefreshToken {
    pub client_id: Uuid,
    pub user_id: Uuid,
    pub scopes: BTreeSet<String>,
    pub issued_at: DateTime<Utc>,
    pub last_used: DateTime<Utc>,
    pub revoked: bool,
    /// The authority the grant was issued at (refresh must use a compatible one).
    pub tenant_id: Uuid,
}

#[derive(Debug, Clone)]
pub struct AuthCode {
    pub client_id: Uuid,
    pub user_id: Uuid,
    pub redirect_uri: String,
    pub scopes: BTreeSet<String>,
    pub code_challenge: Option<String>,
    pub code_challenge_method: Option<String>,
    pub nonce: Option<String>,
    pub expires_at: DateTime<Utc>,
    pub redeemed: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FlowKind {
    Authorize,
    AdminConsent,
}

/// One walk through the sign-in pages, from `/authorize` (or
/// `/adminconsent`) to the redirect back to the app.
#[derive(Debug, Clone)]
pub struct Flow {
    pub kind: FlowKind,
    /// The authority segment as the app sent it (`common`, a GUID, ...).
    pub authority: String,
    pub client_id: Uuid,
    pub redirect_uri: String,
    pub scopes: BTreeSet<String>,
    pub state: Option<String>,
    pub code_challenge: Option<String>,
    pub code_challenge_method: Option<String>,
    pub nonce: Option<String>,
    pub prompt: Option<String>,
    pub login_hint: Option<String>,
    pub user_id: Option<Uuid>,
}

/// A signed-in browser session on the emulator's own pages.
#[derive(Debug, Clone)]
pub struct Session {
    pub user_id: Uuid,
}

/// A `dateTime` + `timeZone` pair exactly as a client wrote it.
#[derive(Debug, Clone, Serialize)]
pub struct Event {
    pub id: String,
    pub mailbox: Uuid,
    pub subject: String,
    pub body_content_type: String,
    pub body: String,
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
    pub original_start_tz: String,
    pub original_end_tz: String,
    pub is_all_day: bool,
    pub show_as: String,
    pub location: Option<String>,
    pub attendees: serde_json::Value,
    pub categories: Vec<String>,
    pub transaction_id: Option<String>,
    pub created_at: DateTime<Utc>,
    pub modified_at: DateTime<Utc>,
    pub change_key: String,
    pub ical_uid: String,
    /// Global change sequence number: the basis of delta tokens.
    pub seq: u64,
    /// `patternedRecurrence` as the client sent it (series masters only).
    pub recurrence: Option<serde_json::Value>,
    pub is_cancelled: bool,
    pub sensitivity: String,
    pub importance: String,
    /// Who made it: "graph:{client_id}" or "outlook".
    pub created_by: String,
    /// Times before the last change: a delta round reports an event that
    /// moved out of its window as removed.
    pub prev_start: Option<DateTime<Utc>>,
    pub prev_end: Option<DateTime<Utc>>,
    pub prev_recurrence: Option<serde_json::Value>,
}

/// A deleted event remembered for delta (`@removed`).
#[derive(Debug, Clone)]
pub struct Tombstone {
    pub seq: u64,
    /// The event as it was when deleted (a series expands to occurrences).
    pub event: Event,
}

/// A delta round's saved state (what `$deltatoken` names).
#[derive(Debug, Clone)]
pub struct DeltaState {
    pub mailbox: Uuid,
    pub window_start: DateTime<Utc>,
    pub window_end: DateTime<Utc>,
    pub seq: u64,
    pub issued_at: DateTime<Utc>,
}

/// The remaining pages of a delta round (what `$skiptoken` names).
#[derive(Debug, Clone)]
pub struct DeltaPages {
    pub remaining: Vec<serde_json::Value>,
    pub next: DeltaState,
    pub issued_at: DateTime<Utc>,
}

/// A change-notification subscription (Microsoft Graph: "subscription
/// resource type").
#[derive(Debug, Clone, Serialize)]
pub struct Subscription {
    pub id: Uuid,
    pub client_id: Uuid,
    pub tenant_id: Uuid,
    /// The signed-in user (delegated) or the app's id (app-only).
    pub creator_id: String,
    /// Whose events it watches.
    pub mailbox: Uuid,
    /// The resource as the client wrote it.
    pub resource: String,
    /// `created`, `updated`, `deleted`, as the client listed them.
    pub change_types: Vec<String>,
    pub notification_url: String,
    pub lifecycle_url: Option<String>,
    pub client_state: Option<String>,
    pub expires_at: DateTime<Utc>,
    pub latest_tls: String,
    /// A `reauthorizationRequired` lifecycle event was sent and the app has
    /// not yet reauthorized (or renewed) the subscription.
    pub needs_reauthorization: bool,
}

/// A POST to an app's notification or lifecycle URL, waiting to be sent.
#[derive(Debug, Clone)]
pub struct Delivery {
    pub subscription_id: Uuid,
    pub url: String,
    /// `created`/`updated`/`deleted` or the lifecycle event.
    pub kind: String,
    pub body: serde_json::Value,
}

#[derive(Debug, Default)]
pub struct World {
    pub tenants: Vec<Tenant>,
    pub users: HashMap<Uuid, User>,
    pub apps: HashMap<Uuid, AppRegistration>,
    /// User consent: (client id, user id) → scopes granted.
    pub user_grants: HashMap<(Uuid, Uuid), BTreeSet<String>>,
    /// Admin consent: (client id, tenant id) → delegated scopes granted for everyone.
    pub admin_grants: HashMap<(Uuid, Uuid), BTreeSet<String>>,
    pub codes: HashMap<String, AuthCode>,
    pub access_tokens: HashMap<String, AccessToken>,
    pub refresh_tokens: HashMap<String, RefreshToken>,
    pub sessions: HashMap<String, Session>,
    pub events: HashMap<String, Event>,
    pub tombstones: Vec<Tombstone>,
    pub delta_tokens: HashMap<String, DeltaState>,
    pub skip_tokens: HashMap<String, DeltaPages>,
    /// Sign-in flows in progress (the authorize and adminconsent pages).
    pub flows: HashMap<String, Flow>,
    pub seq: u64,
    pub subscriptions: HashMap<Uuid, Subscription>,
    /// Notifications waiting for the delivery task.
    pub outbox: Vec<Delivery>,
}

impl World {
    pub fn next_seq(&mut self) -> u64 {
        self.seq += 1;
        self.seq
    }

    pub fn tenant(&self, id: Uuid) -> Option<&Tenant> {
        self.tenants.iter().find(|t| t.id == id)
    }

    /// A tenant by GUID or verified domain, as the authority segment names it.
    pub fn tenant_by_name(&self, name: &str) -> Option<&Tenant> {
        if let Ok(id) = Uuid::parse_str(name) {
            return self.tenant(id);
        }
        self.tenants
            .iter()
            .find(|t| t.domain.eq_ignore_ascii_case(name))
    }

    pub fn user_by_upn(&self, upn: &str) -> Option<&User> {
        self.users
            .values()
            .find(|u| u.upn.eq_ignore_ascii_case(upn))
    }

    /// A mailbox by object id, Graph id or address.
    pub fn mailbox(&self, key: &str) -> Option<&User> {
        if let Ok(id) = Uuid::parse_str(key)
            && let Some(u) = self.users.get(&id)
        {
            return Some(u);
        }
        self.users
            .values()
            .find(|u| u.upn.eq_ignore_ascii_case(key) || u.graph_id() == key)
    }

    /// Events of one mailbox, in start order.
    pub fn mailbox_events(&self, mailbox: Uuid) -> Vec<&Event> {
        let mut v: Vec<&Event> = self
            .events
            .values()
            .filter(|e| e.mailbox == mailbox)
            .collect();
        v.sort_by(|a, b| a.start.cmp(&b.start).then(a.id.cmp(&b.id)));
        v
    }

    /// Copies of a mailbox's events in start order, so a handler can
    /// render them after letting go of the world lock.
    pub fn mailbox_events_owned(&self, mailbox: Uuid) -> Vec<Event> {
        self.mailbox_events(mailbox).into_iter().cloned().collect()
    }

    /// Scopes consented for this user and app, by the user or by an admin.
    pub fn consented_scopes(&self, client_id: Uuid, user: &User) -> BTreeSet<String> {
        let mut s = self
            .user_grants
            .get(&(client_id, user.id))
            .cloned()
            .unwrap_or_default();
        if let Some(a) = self.admin_grants.get(&(client_id, user.tenant_id)) {
            s.extend(a.iter().cloned());
        }
        s
    }
}

/// A random URL-safe token of `bytes` random bytes.
pub fn random_token(bytes: usize) -> String {
    use base64::Engine;
    let mut buf = vec![0u8; bytes];
    rand::thread_rng().fill(&mut buf[..]);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(buf)
}

/// An id in the shape of an Exchange item id (`AAMkA…`): opaque, URL-safe.
pub fn new_event_id() -> String {
    format!("AAMkAGI2{}AAA=", random_token(48))
}

/// A client secret value in the shape Entra produces (40 chars, with `~`).
pub fn new_secret_value() -> String {
    const ALPHABET: &[u8] = b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-";
    let mut rng = rand::thread_rng();
    let mut s: String = (0..3)
        .map(|_| ALPHABET[rng.gen_range(0..ALPHABET.len())] as char)
        .collect();
    s.push_str("8Q~");
    s.extend((0..34).map(|_| ALPHABET[rng.gen_range(0..ALPHABET.len())] as char));
    s
}
