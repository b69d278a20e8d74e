//! Application mode: Calbridge reaches room mailboxes with its own
//! app-only token (client credentials grant, scope
//! `https://graph.microsoft.com/.default`) instead of a delegate's. The
//! tenant admin grants the app the application permission
//! `Calendars.ReadWrite` and limits it to the room mailboxes with an
//! Exchange application access policy.
//!
//! The token is cached in this process until two minutes before it
//! expires; one request at a time asks Microsoft for a new one. After a
//! 401 the caller hands back the version Graph refused and gets a fresh
//! token (once).

use std::sync::Arc;
use std::time::{Duration, Instant};

use secrecy::SecretString;
use tokio::sync::{Mutex, Notify};

use crate::Backend;
use crate::connections::{active_registration, stored_registration};
use crate::entities::{calendar_connection, room_link};
use crate::microsoft::{AppCredentials, Authority, TokenProblem};

/// `room_links.mode` values.
pub const DELEGATED: &str = "delegated";
pub const APPLICATION: &str = "application";

/// What the room's status shows as the account in application mode.
pub const APP_ACCOUNT: &str = "Calbridge app (application permission)";

/// A token is fetched again this long before it expires.
const EXPIRY_MARGIN: Duration = Duration::from_secs(120);

/// How a room is reached.
#[derive(Debug, Clone)]
pub enum RoomAuth {
    /// The space's authorized delegate account.
    Delegated(Box<calendar_connection::Model>),
    /// The app's own application permission.
    Application,
}

impl RoomAuth {
    /// Who writes, in messages.
    pub fn account(&self) -> &str {
        match self {
            RoomAuth::Delegated(c) => &c.account,
            RoomAuth::Application => APP_ACCOUNT,
        }
    }

    pub fn is_application(&self) -> bool {
        matches!(self, RoomAuth::Application)
    }
}

pub fn is_application(link: &room_link::Model) -> bool {
    link.mode == APPLICATION
}

/// This process's room state, cloned into `Backend`: the app-only token
/// cache and the poller's wake-up call.
#[derive(Clone, Default)]
pub struct RoomState {
    token: Arc<Mutex<Option<Cached>>>,
    wake: Arc<Notify>,
}

impl std::fmt::Debug for RoomState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RoomState").finish_non_exhaustive()
    }
}

struct Cached {
    /// Application ID and tenant the token was issued for.
    key: String,
    token: SecretString,
    expires: Instant,
    version: u64,
}

impl RoomState {
    /// Tells the room poller that a room is due now (a change
    /// notification arrived).
    pub fn wake(&self) {
        // One poller per process: a permit is kept if it is busy.
        self.wake.notify_one();
    }

    pub(crate) async fn woken(&self) {
        self.wake.notified().await
    }

    /// Forget the cached token (the integration was disconnected).
    pub async fn forget_token(&self) {
        *self.token.lock().await = None;
    }
}

/// An app-only access token and its version in this process's cache.
pub struct AppToken {
    pub token: SecretString,
    pub version: u64,
}

impl std::fmt::Debug for AppToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "AppToken(version {})", self.version)
    }
}

#[derive(Debug, thiserror::Error)]
pub enum AppTokenError {
    #[error("calendar sync with Microsoft is not active")]
    Inactive,
    #[error(
        "application mode needs the Directory (tenant) ID of the rooms' organization: use a single-tenant app registration with its Tenant ID, or set sync.room_tenant_id"
    )]
    NoTenant,
    /// Microsoft refused (consent missing, secret expired, …): an admin
    /// has to act.
    #[error("Microsoft refused Calbridge an app-only token: {0}")]
    Refused(String),
    #[error("{0}")]
    Transient(String),
}

/// The tenant the client-credentials grant is asked at.
async fn tenant(backend: &Backend, authority: &Authority) -> Result<String, AppTokenError> {
    if let Some(t) = backend
        .settings
        .sync
        .room_tenant_id
        .as_ref()
        .filter(|t| !t.trim().is_empty())
    {
        return Ok(t.trim().to_owned());
    }
    if let Authority::Tenant(t) = authority
        && !t.is_empty()
    {
        return Ok(t.clone());
    }
    let stored = crate::integration::load(&backend.db)
        .await
        .map_err(|e| AppTokenError::Transient(e.to_string()))?;
    stored
        .tenant_id
        .filter(|t| !t.trim().is_empty())
        .ok_or(AppTokenError::NoTenant)
}

/// A usable app-only token; a new one when the cached one is about to
/// expire or `refused` names its version.
pub async fn app_token(backend: &Backend, refused: Option<u64>) -> Result<AppToken, AppTokenError> {
    app_token_with(backend, refused, true).await
}

/// The same; with `require_active` false also while sync is turned off
/// (but the secret still stored), to clean up subscriptions.
pub async fn app_token_with(
    backend: &Backend,
    refused: Option<u64>,
    require_active: bool,
) -> Result<AppToken, AppTokenError> {
    let mut cache = backend.rooms.token.lock().await;
    let registration = if require_active {
        active_registration(&backend.db, &backend.vault, &backend.settings).await
    } else {
        stored_registration(&backend.db, &backend.vault, &backend.settings).await
    }
    .map_err(|e| AppTokenError::Transient(e.to_string()))?
    .ok_or(AppTokenError::Inactive)?;
    let tenant = tenant(backend, &registration.authority).await?;
    let key = format!("{}/{tenant}", registration.application_id);
    if let Some(c) = cache.as_ref()
        && c.key == key
        && c.expires > Instant::now() + EXPIRY_MARGIN
        && refused != Some(c.version)
    {
        return Ok(AppToken {
            token: c.token.clone(),
            version: c.version,
        });
    }
    let authority = Authority::Tenant(tenant);
    let creds = AppCredentials {
        application_id: &registration.application_id,
        secret: &registration.secret,
        authority: &authority,
        redirect_url: &registration.redirect_url,
    };
    let tokens = backend
        .identity
        .app_token(&creds)
        .await
        .map_err(|p| match p {
            TokenProblem::Refused(e) => {
                AppTokenError::Refused(format!("{} ({})", e.summary(), e.reference()))
            }
            other => AppTokenError::Transient(other.to_string()),
        })?;
    let version = cache.as_ref().map(|c| c.version + 1).unwrap_or(1);
    let lifetime = tokens.expires_in.unwrap_or(Duration::from_secs(3599));
    *cache = Some(Cached {
        key,
        token: tokens.access_token.clone(),
        expires: Instant::now() + lifetime,
        version,
    });
    tracing::debug!(version, "fetched an app-only token for the rooms");
    Ok(AppToken {
        token: tokens.access_token,
        version,
    })
}
