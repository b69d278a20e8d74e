//! Layered configuration: built-in defaults, then an optional TOML file,
//! then `CALBRIDGE_*` environment variables (and the conventional
//! `DATABASE_URL`). Later layers win.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

pub use figment::Figment;
use figment::providers::{Env, Format, Serialized, Toml};
use secrecy::SecretString;
use serde::{Deserialize, Serialize};

pub const DEFAULT_LOGIN_URL: &str = "https://login.microsoftonline.com";
pub const DEFAULT_GRAPH_URL: &str = "https://graph.microsoft.com/v1.0";

#[derive(Debug, Clone, Deserialize)]
pub struct Settings {
    /// Address the HTTP server binds to.
    pub bind_address: SocketAddr,
    /// The URL people and Microsoft use to reach this installation; the
    /// OAuth redirect URL is derived from it.
    pub public_base_url: String,
    #[serde(default)]
    pub database_url: String,
    /// Where the embedded database, the generated master key and other
    /// local state live.
    pub data_dir: PathBuf,
    /// The keyring that encrypts secrets at rest: base64 of 32 bytes (a
    /// single key, id `default`), or `id:base64,id:base64,…`. When absent,
    /// the keyring is read from (or generated into) `master_key_path`.
    pub master_key: Option<SecretString>,
    /// Which key of the keyring encrypts new secrets; the first one listed
    /// when unset. The others still decrypt what they encrypted.
    pub master_key_active: Option<String>,
    pub master_key_path: Option<PathBuf>,
    pub microsoft_login_url: String,
    pub microsoft_graph_url: String,
    /// Where cargo-leptos put the compiled site (JS, wasm, CSS).
    pub site_root: PathBuf,
    /// Create the demo accounts on an empty database.
    pub seed_demo: bool,
    /// The Outlook sync workers.
    #[serde(default)]
    pub sync: SyncSettings,
}

/// `[sync]` in the file, `CALBRIDGE_SYNC__ENABLED=false` etc. in the
/// environment.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct SyncSettings {
    /// Run the sync workers in this process.
    pub enabled: bool,
    /// How often an idle worker looks for due jobs, in milliseconds.
    pub poll_interval_ms: u64,
    /// Jobs handled at once by this process (over all mailboxes).
    pub concurrency: usize,
    /// How often free/busy is read from each opted-in calendar, seconds.
    pub free_busy_interval_secs: u64,
    /// How often each connected room's calendar is polled (delegated
    /// mode), seconds. Polls are spread over the interval.
    pub room_poll_interval_secs: u64,
    /// How Calbridge reaches room mailboxes: "delegated" (an admin
    /// authorizes a delegate account per space) or "application" (the
    /// app's own `Calendars.ReadWrite` application permission, limited to
    /// the rooms by an Exchange application access policy; no delegate).
    /// Applies to rooms picked from then on.
    pub room_mode: RoomMode,
    /// Application mode: the Directory (tenant) ID that holds the rooms,
    /// when the integration is not single-tenant (a single-tenant app's
    /// Tenant ID is used otherwise).
    pub room_tenant_id: Option<String>,
    /// Application mode: how often each room is read in full by delta even
    /// though change notifications arrive (in case some are lost), seconds.
    pub room_reconcile_interval_secs: u64,
    /// Subscribe to change notifications although `public_base_url` is
    /// `http://` (local setups whose Microsoft, such as the emulator with
    /// `--allow-http-notifications`, accepts it). Graph itself accepts
    /// HTTPS only, so without this an `http://` installation polls.
    pub http_notifications: bool,
}

/// `sync.room_mode`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RoomMode {
    #[default]
    Delegated,
    Application,
}

impl RoomMode {
    pub fn as_str(self) -> &'static str {
        match self {
            RoomMode::Delegated => "delegated",
            RoomMode::Application => "application",
        }
    }
}

impl Default for SyncSettings {
    fn default() -> Self {
        Self {
            enabled: true,
            poll_interval_ms: 500,
            concurrency: 64,
            free_busy_interval_secs: 300,
            room_poll_interval_secs: 60,
            room_mode: RoomMode::Delegated,
            room_tenant_id: None,
            room_reconcile_interval_secs: 900,
            http_notifications: false,
        }
    }
}

/// The defaults, as a serialisable layer for figment.
#[derive(Serialize)]
struct Defaults {
    bind_address: &'static str,
    public_base_url: &'static str,
    data_dir: &'static str,
    microsoft_login_url: &'static str,
    microsoft_graph_url: &'static str,
    site_root: &'static str,
    seed_demo: bool,
}

const DEFAULTS: Defaults = Defaults {
    bind_address: "127.0.0.1:3000",
    public_base_url: "http://localhost:3000",
    data_dir: "data",
    microsoft_login_url: DEFAULT_LOGIN_URL,
    microsoft_graph_url: DEFAULT_GRAPH_URL,
    site_root: "target/site",
    seed_demo: false,
};

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("configuration: {0}")]
    Invalid(String),
}

impl Settings {
    /// Loads the layers. `file` is the TOML file named on the command line;
    /// without it, `CALBRIDGE_CONFIG` or `./calbridge.toml` is used when present.
    pub fn load(file: Option<&Path>) -> Result<Self, ConfigError> {
        Self::from_figment(Self::figment(file))
    }

    pub fn figment(file: Option<&Path>) -> Figment {
        let file = file
            .map(Path::to_path_buf)
            .or_else(|| std::env::var_os("CALBRIDGE_CONFIG").map(PathBuf::from))
            .unwrap_or_else(|| PathBuf::from("calbridge.toml"));
        Figment::from(Serialized::defaults(DEFAULTS))
            .merge(Toml::file(file))
            .merge(Env::raw().only(&["DATABASE_URL"]))
            .merge(Env::prefixed("CALBRIDGE_").ignore(&["CONFIG"]).split("__"))
    }

    pub fn from_figment(figment: Figment) -> Result<Self, ConfigError> {
        let mut settings: Settings = figment
            .extract()
            .map_err(|e| ConfigError::Invalid(e.to_string()))?;
        settings.public_base_url = settings.public_base_url.trim_end_matches('/').to_owned();
        settings.microsoft_login_url = settings
            .microsoft_login_url
            .trim_end_matches('/')
            .to_owned();
        settings.microsoft_graph_url = settings
            .microsoft_graph_url
            .trim_end_matches('/')
            .to_owned();
        if settings.database_url.is_empty() {
            settings.database_url = settings.default_database_url();
        }
        settings.validate()?;
        Ok(settings)
    }

    fn default_database_url(&self) -> String {
        format!(
            "sqlite://{}?mode=rwc",
            self.data_dir.join("calbridge.db").display()
        )
    }

    fn validate(&self) -> Result<(), ConfigError> {
        for (name, url) in [
            ("public_base_url", &self.public_base_url),
            ("microsoft_login_url", &self.microsoft_login_url),
            ("microsoft_graph_url", &self.microsoft_graph_url),
        ] {
            if !(url.starts_with("http://") || url.starts_with("https://")) {
                return Err(ConfigError::Invalid(format!(
                    "{name} must be an http:// or https:// URL, got {url:?}"
                )));
            }
        }
        if !(self.database_url.starts_with("sqlite:") || self.database_url.starts_with("postgres"))
        {
            return Err(ConfigError::Invalid(
                "database_url must start with sqlite: or postgres://".into(),
            ));
        }
        Ok(())
    }

    /// Cookies get the `Secure` flag when people reach us over HTTPS.
    pub fn serves_https(&self) -> bool {
        self.public_base_url.starts_with("https://")
    }

    pub fn master_key_file(&self) -> PathBuf {
        self.master_key_path
            .clone()
            .unwrap_or_else(|| self.data_dir.join("master.key"))
    }
}

#[cfg(test)]
// figment's Jail closures must return its (large) error type.
#[allow(clippy::result_large_err)]
mod tests {
    use super::*;
    use figment::Jail;

    #[test]
    fn defaults_point_at_microsoft_and_embedded_sqlite() {
        Jail::expect_with(|_jail| {
            let s = Settings::load(None).expect("defaults load");
            assert_eq!(s.microsoft_login_url, DEFAULT_LOGIN_URL);
            assert_eq!(s.microsoft_graph_url, DEFAULT_GRAPH_URL);
            assert_eq!(s.database_url, "sqlite://data/calbridge.db?mode=rwc");
            assert_eq!(s.bind_address.port(), 3000);
            Ok(())
        });
    }

    #[test]
    fn file_then_environment_override_defaults() {
        Jail::expect_with(|jail| {
            jail.create_file(
                "calbridge.toml",
                r#"
                public_base_url = "https://booking.example.org/"
                microsoft_login_url = "http://127.0.0.1:3900"
                "#,
            )?;
            jail.set_env("CALBRIDGE_MICROSOFT_LOGIN_URL", "http://127.0.0.1:4000");
            jail.set_env("DATABASE_URL", "postgres://u@localhost/db");
            let s = Settings::load(None).expect("loads");
            assert_eq!(s.public_base_url, "https://booking.example.org");
            assert!(s.serves_https());
            assert_eq!(s.microsoft_login_url, "http://127.0.0.1:4000");
            assert_eq!(s.database_url, "postgres://u@localhost/db");
            Ok(())
        });
    }

    #[test]
    fn rejects_a_base_url_without_scheme() {
        Jail::expect_with(|jail| {
            jail.set_env("CALBRIDGE_PUBLIC_BASE_URL", "booking.example.org");
            let err = Settings::load(None).unwrap_err().to_string();
            assert!(err.contains("public_base_url"), "{err}");
            Ok(())
        });
    }
}
