//! A local stand-in for the Microsoft identity platform (v2.0 endpoints, the
//! App registrations portal) and the Microsoft Graph v1.0 calendar subset
//! that Calbridge uses, with a control API for tests (`/_emulator/...`).
//!
//! It never depends on the Calbridge crates: it plays Microsoft. Start it
//! in-process with [`Emulator::start`] or run the `emulator` binary.
//!
//! ```no_run
//! # async fn demo() -> std::io::Result<()> {
//! let emu = emulator::Emulator::start(emulator::EmulatorConfig::demo()).await?;
//! let login = format!("{}/common/oauth2/v2.0/authorize", emu.base_url());
//! # let _ = login; Ok(()) }
//! ```

#![recursion_limit = "256"]

pub mod clock;
pub mod control;
pub mod faults;
pub mod graph;
pub mod html;
pub mod identity;
pub mod latency;
pub mod portal;
pub mod seed;
pub mod server;
pub mod state;
pub mod timezones;

use std::sync::Arc;

use parking_lot::Mutex;
use serde::{Deserialize, Serialize};

pub use control::{EmulatorHandle, NewApp, RegisteredApp};
pub use seed::{DEMO, Demo};

/// Behaviour switches; all can be changed at run time through the handle
/// or `POST /_emulator/settings`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct Settings {
    /// How long a new app registration answers AADSTS700016 (Microsoft:
    /// "it may take a few minutes" to propagate).
    pub propagation_delay_secs: i64,
    /// Revoke a refresh token as soon as it has been redeemed.
    pub strict_refresh_rotation: bool,
    /// Refuse an authorization request without `code_challenge`.
    pub require_pkce: bool,
    pub access_token_lifetime_secs: i64,
    /// Graph: concurrent requests per app per mailbox.
    pub mailbox_concurrency_limit: usize,
    /// Retry-After (seconds) sent with MailboxConcurrency 429s.
    pub concurrency_retry_after_secs: f64,
    /// How long a `$deltatoken` stays usable before 410 syncStateNotFound.
    pub delta_token_ttl_secs: i64,
    /// Allow `http://` notification URLs for subscriptions (local tests).
    /// Off by default, as on Graph, which requires HTTPS.
    pub allow_http_notifications: bool,
    /// How long the validation handshake waits for the app's answer
    /// (Graph: 10 seconds).
    pub validation_timeout_ms: u64,
    /// Graph: 10,000 requests per app per mailbox in a 10-minute window
    /// ("Outlook service limits"), measured on the emulator's clock.
    pub mailbox_request_limit: usize,
    pub mailbox_request_window_secs: i64,
    /// Default page size of calendarView/delta when the client sends no
    /// `Prefer: odata.maxpagesize`.
    pub delta_page_size: usize,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            propagation_delay_secs: 0,
            strict_refresh_rotation: false,
            require_pkce: true,
            access_token_lifetime_secs: 3600,
            mailbox_concurrency_limit: 4,
            concurrency_retry_after_secs: 1.0,
            delta_token_ttl_secs: 7 * 24 * 3600,
            allow_http_notifications: false,
            validation_timeout_ms: 10_000,
            mailbox_request_limit: 10_000,
            mailbox_request_window_secs: 600,
            delta_page_size: 10,
        }
    }
}

/// Which data to start with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Seed {
    /// No tenants at all: tests build what they need through the handle.
    #[default]
    Empty,
    /// The demo organisation of [`DEMO`].
    Demo,
}

#[derive(Debug, Clone, Default)]
pub struct EmulatorConfig {
    /// `None` binds an ephemeral port.
    pub port: Option<u16>,
    /// Address to bind; 127.0.0.1 unless set.
    pub host: Option<String>,
    pub seed: Seed,
    pub settings: Settings,
    /// The URL clients use, when it differs from the bound address
    /// (behind a proxy). Defaults to `http://{host}:{port}`.
    pub public_url: Option<String>,
}

impl EmulatorConfig {
    /// Ephemeral port, demo seed, default settings.
    pub fn demo() -> Self {
        Self {
            seed: Seed::Demo,
            ..Self::default()
        }
    }

    /// Accept `http://` notification URLs (what `--allow-http-notifications`
    /// does for the binary): for tests whose receiver has no certificate.
    pub fn allow_http_notifications(mut self) -> Self {
        self.settings.allow_http_notifications = true;
        self
    }
}

/// Everything the handlers share.
pub struct Shared {
    pub world: Mutex<state::World>,
    pub settings: Mutex<Settings>,
    pub clock: clock::Clock,
    pub faults: faults::Faults,
    pub log: Mutex<Vec<control::LogEntry>>,
    pub base_url: String,
    /// Used to deliver change notifications and validation requests.
    pub http: reqwest::Client,
    /// Wakes the notification delivery task.
    pub outbox_ready: tokio::sync::Notify,
    /// Every notification POSTed to an app, for assertions.
    pub deliveries: Mutex<Vec<graph::subscriptions::DeliveryRecord>>,
}

impl Shared {
    pub fn settings(&self) -> Settings {
        self.settings.lock().clone()
    }

    /// Append to the request log, which keeps the newest
    /// [`REQUEST_LOG_CAP`] entries so a long demo run stays small.
    pub fn log_request(&self, entry: control::LogEntry) {
        let mut log = self.log.lock();
        if log.len() >= REQUEST_LOG_CAP {
            log.drain(..REQUEST_LOG_CAP / 10);
        }
        log.push(entry);
    }

    /// Tell the delivery task that the outbox may hold notifications.
    pub fn kick_outbox(&self) {
        self.outbox_ready.notify_one();
    }
}

pub type AppState = Arc<Shared>;

/// How many request-log entries are kept.
pub const REQUEST_LOG_CAP: usize = 50_000;

/// Entry point.
pub struct Emulator;

impl Emulator {
    /// Bind, seed and serve in the background. The server stops when the
    /// returned handle is dropped.
    pub async fn start(config: EmulatorConfig) -> std::io::Result<EmulatorHandle> {
        server::start(config).await
    }
}
