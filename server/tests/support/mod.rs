//! The test command runs these tests one at a time (`--test-threads=1`):
//! with several Calbridge servers in one process, a request occasionally
//! never reached its handler (seen about once in three parallel runs, never
//! in serial runs); the cause is not found yet — suspected process-wide
//! Leptos state shared by the servers. The 90 s limit below turns such a
//! stall into a named failure.
//!
//! `spawn_app()`: the real Calbridge server on a random port with a fresh
//! database — a SQLite file in a temporary directory, or a scratch
//! PostgreSQL database created for the test.

#![allow(dead_code)]

pub mod live;
pub mod microsoft;
pub mod rooms;
pub mod rows;

// The backend's scratch-database helpers: one place that knows how.
#[path = "../../../backend/tests/support/scratch.rs"]
mod scratch;

use std::sync::Arc;

use backend::config::Settings;
use server::startup::Application;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Db {
    Sqlite,
    Postgres,
}

pub struct TestApp {
    pub address: String,
    pub database_url: String,
    pub backend: backend::Backend,
    /// The in-process Microsoft this server talks to (its
    /// `microsoft_login_url`); `None` once a test stopped it.
    pub emulator: Option<emulator::EmulatorHandle>,
    dir: Arc<tempfile::TempDir>,
    server: tokio::task::JoinHandle<()>,
}

impl Drop for TestApp {
    fn drop(&mut self) {
        self.server.abort();
    }
}

/// Where the scratch PostgreSQL databases are made. The test command sets
/// it; a developer without PostgreSQL skips those tests, CI never does.
async fn scratch_postgres() -> Option<String> {
    Some(scratch::create_database(&scratch::admin_url()?).await)
}

fn settings(dir: &std::path::Path, database_url: &str, login_url: &str) -> Settings {
    Settings::from_figment(figment(dir, database_url, login_url)).expect("test settings")
}

fn figment(dir: &std::path::Path, database_url: &str, login_url: &str) -> backend::config::Figment {
    Settings::figment(Some(&dir.join("none.toml")))
        .merge(("microsoft_login_url", login_url))
        .merge(("microsoft_graph_url", format!("{login_url}/v1.0")))
        .merge(("bind_address", "127.0.0.1:0"))
        .merge(("public_base_url", "http://127.0.0.1"))
        .merge(("database_url", database_url))
        .merge(("data_dir", dir.to_string_lossy().as_ref()))
        .merge(("seed_demo", true))
}

/// Starts a server; `None` when PostgreSQL was asked for but is not set up
/// on this machine (outside CI).
pub async fn spawn_app(db: Db) -> Option<TestApp> {
    server::telemetry::init();
    let dir = Arc::new(tempfile::tempdir().expect("temp dir"));
    let database_url = match db {
        Db::Sqlite => format!("sqlite://{}/calbridge.db?mode=rwc", dir.path().display()),
        Db::Postgres => scratch_postgres().await?,
    };
    let emulator = emulator::Emulator::start(emulator::EmulatorConfig::demo())
        .await
        .expect("emulator starts");
    Some(start(dir, database_url, emulator).await)
}

/// Like [`spawn_app`], but Microsoft can reach the server: its
/// `public_base_url` is its own address, the emulator accepts `http://`
/// notification URLs, and `configure` adds settings. (A `restart` of it
/// starts a plain server.)
pub async fn spawn_reachable_app(
    db: Db,
    configure: impl FnOnce(backend::config::Figment) -> backend::config::Figment,
) -> Option<TestApp> {
    server::telemetry::init();
    let dir = Arc::new(tempfile::tempdir().expect("temp dir"));
    let database_url = match db {
        Db::Sqlite => format!("sqlite://{}/calbridge.db?mode=rwc", dir.path().display()),
        Db::Postgres => scratch_postgres().await?,
    };
    let emulator =
        emulator::Emulator::start(emulator::EmulatorConfig::demo().allow_http_notifications())
            .await
            .expect("emulator starts");
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port();
    let figment = configure(
        figment(dir.path(), &database_url, emulator.base_url())
            .merge(("bind_address", format!("127.0.0.1:{port}")))
            .merge(("public_base_url", format!("http://127.0.0.1:{port}"))),
    );
    let settings = Settings::from_figment(figment).expect("test settings");
    Some(start_with(dir, database_url, emulator, settings).await)
}

async fn start(
    dir: Arc<tempfile::TempDir>,
    database_url: String,
    emulator: emulator::EmulatorHandle,
) -> TestApp {
    let settings = settings(dir.path(), &database_url, emulator.base_url());
    start_with(dir, database_url, emulator, settings).await
}

async fn start_with(
    dir: Arc<tempfile::TempDir>,
    database_url: String,
    emulator: emulator::EmulatorHandle,
    settings: Settings,
) -> TestApp {
    let app = Application::build(settings).await.expect("server builds");
    let address = format!("http://127.0.0.1:{}", app.port());
    let backend = app.backend().clone();
    let server = tokio::spawn(async move {
        app.run_until_stopped().await.expect("server runs");
    });
    TestApp {
        address,
        database_url,
        backend,
        emulator: Some(emulator),
        dir,
        server,
    }
}

impl TestApp {
    /// Stops this server and starts a new one on the same database, as an
    /// operator's restart would.
    pub async fn restart(mut self) -> TestApp {
        let dir = self.dir.clone();
        let url = self.database_url.clone();
        let emulator = self.emulator.take().expect("emulator still running");
        drop(self);
        tokio::task::yield_now().await;
        start(dir, url, emulator).await
    }

    /// A second server on the same database and data directory (so the
    /// same master key) and the same Microsoft, as another instance behind
    /// a load balancer would be.
    pub async fn second_instance(&self) -> TestApp {
        let settings = settings(
            self.dir.path(),
            &self.database_url,
            self.emulator().base_url(),
        );
        let app = Application::build(settings).await.expect("server builds");
        let address = format!("http://127.0.0.1:{}", app.port());
        let backend = app.backend().clone();
        let server = tokio::spawn(async move {
            app.run_until_stopped().await.expect("server runs");
        });
        TestApp {
            address,
            database_url: self.database_url.clone(),
            backend,
            emulator: None,
            dir: self.dir.clone(),
            server,
        }
    }

    pub fn emulator(&self) -> &emulator::EmulatorHandle {
        self.emulator.as_ref().expect("emulator still running")
    }

    pub fn data_dir(&self) -> &std::path::Path {
        self.dir.path()
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.address, path)
    }
}

/// A client that behaves like a browser without JavaScript: it asks for
/// HTML (so server functions answer form posts with real redirects), keeps
/// cookies, and does not follow redirects (tests look at them).
pub fn client() -> reqwest::Client {
    client_accepting("text/html,application/xhtml+xml,*/*;q=0.8")
}

/// A client that calls server functions as the hydrated app does: errors
/// come back as status + JSON instead of redirects.
pub fn api_client() -> reqwest::Client {
    client_accepting("application/json")
}

fn client_accepting(accept: &'static str) -> reqwest::Client {
    let mut headers = reqwest::header::HeaderMap::new();
    headers.insert(
        reqwest::header::ACCEPT,
        reqwest::header::HeaderValue::from_static(accept),
    );
    reqwest::Client::builder()
        .cookie_store(true)
        .default_headers(headers)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

pub async fn login(
    app: &TestApp,
    client: &reqwest::Client,
    email: &str,
    password: &str,
) -> reqwest::Response {
    client
        .post(app.url("/api/login"))
        .form(&[("email", email), ("password", password), ("next", "/")])
        .send()
        .await
        .unwrap()
}

// ----- calling server fns over HTTP -----

/// An API client (see [`api_client`]) signed in as `who` (email, password).
pub async fn signed_in(app: &TestApp, who: (&str, &str)) -> reqwest::Client {
    let c = api_client();
    let r = login(app, &c, who.0, who.1).await;
    assert!(
        r.status().is_success() || r.status().is_redirection(),
        "sign-in of {} failed: {}",
        who.0,
        r.status()
    );
    c
}

/// Posts `form` to the server fn `fn_name`; its status and body.
pub async fn post(
    c: &reqwest::Client,
    app: &TestApp,
    fn_name: &str,
    form: &[(&str, String)],
) -> (reqwest::StatusCode, String) {
    let r = c
        .post(app.url(&format!("/api/{fn_name}")))
        .form(form)
        .send()
        .await
        .unwrap();
    (r.status(), r.text().await.unwrap())
}

pub fn json(body: &str) -> serde_json::Value {
    serde_json::from_str(body).unwrap_or_else(|_| panic!("not JSON: {body}"))
}

/// The field and message of a `Field` error body.
pub fn field_error(body: &str) -> (String, String) {
    let v = json(body);
    let f = &v["Field"];
    assert!(f.is_object(), "not a field error: {body}");
    (
        f["field"].as_str().unwrap().to_owned(),
        f["message"].as_str().unwrap().to_owned(),
    )
}

/// A hung test fails with its name instead of stalling the whole run.
pub async fn within_time_limit(body: impl std::future::Future<Output = ()>) {
    tokio::time::timeout(std::time::Duration::from_secs(90), body)
        .await
        .expect("test did not finish within 90 s");
}

/// Runs a test body once on SQLite and once on PostgreSQL.
#[macro_export]
macro_rules! on_both_databases {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $name() {
                let app = $crate::support::spawn_app($crate::support::Db::Sqlite).await.unwrap();
                $crate::support::within_time_limit(super::$name(app)).await;
            })*
        }
        mod postgres {
            $(#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $name() {
                match $crate::support::spawn_app($crate::support::Db::Postgres).await {
                    Some(app) => $crate::support::within_time_limit(super::$name(app)).await,
                    None => eprintln!("skipped: CALBRIDGE_TEST_POSTGRES_URL is not set"),
                }
            })*
        }
    };
}

/// Saves the app registered at the emulator as the integration's, sealed
/// as an admin's save would, and active.
pub async fn save_integration(
    app: &TestApp,
    registered: &emulator::RegisteredApp,
    account_type: backend::integration::AccountType,
) {
    use secrecy::SecretString;
    let backend = &app.backend;
    let secret = backend.vault.seal(
        backend::vault::Purpose::ClientSecret,
        &SecretString::from(registered.secret_value.clone()),
    );
    backend::integration::store::write(
        &backend.db,
        &backend::integration::IntegrationSettings {
            application_id: Some(registered.client_id.to_string()),
            client_secret: Some(secret),
            secret_hint: Some(registered.secret_value[..3].to_owned()),
            account_type,
            tenant_id: Some(registered.tenant_id.to_string()),
            active: true,
            checked_at: Some(chrono::Utc::now()),
            ..Default::default()
        },
    )
    .await
    .unwrap();
}
