//! The client secret never leaves the server: the whole integration flow
//! (save with the real secret, activate, deactivate, disconnect, and a
//! failing save that still carries it) runs against the in-process
//! Microsoft emulator, then every HTTP response (status, headers, body),
//! the served HTML, the site's JS and wasm, the server log and every raw
//! database row are searched for the secret in raw, URL-encoded, base64
//! (standard and URL-safe, at every alignment) and JSON-escaped forms.
//!
//! A test binary of its own: it installs the process-wide log capture
//! before anything else logs.

mod support;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use base64::Engine;
use base64::engine::general_purpose::{STANDARD_NO_PAD, URL_SAFE_NO_PAD};
use emulator::state::SignInAudience;
use emulator::{DEMO, NewApp};
use reqwest::{RequestBuilder, StatusCode};
use sea_orm::{ConnectionTrait, Statement};
use support::{Db, TestApp};

const ADMIN: (&str, &str) = ("admin@calbridge.test", "calbridge-admin");
const STAFF: (&str, &str) = ("sam@calbridge.test", "calbridge-staff");

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_client_secret_appears_nowhere_outside_the_vault() {
    let log = capture_log();
    let app = support::spawn_app(Db::Sqlite).await.unwrap();
    support::within_time_limit(scan(app, log)).await;
}

async fn scan(app: TestApp, log: Captured) {
    let mut seen = Haystack::default();
    let client_secret = run_flow(&app, &mut seen).await;
    seen.add_site_files();
    seen.add_database_rows(&app).await;
    let master_key = std::fs::read_to_string(app.data_dir().join("master.key")).unwrap();
    // Let the last log lines of the requests above be written.
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    seen.add("server log", log.contents());
    seen.assert_meaningful();

    for (what, secret) in [
        ("client secret", client_secret.as_str()),
        ("master key", master_key.trim()),
    ] {
        let hits = seen.find(secret);
        assert!(hits.is_empty(), "the {what} leaked: {hits:#?}");
    }
}

// ----- the flow -----

/// Walks the page's operations as an admin would, with and without
/// JavaScript; returns the client secret used.
async fn run_flow(app: &TestApp, seen: &mut Haystack) -> String {
    let registered = app.emulator().register_app(NewApp::web(
        "Calbridge",
        DEMO.tenant_id,
        SignInAudience::AzureADMultipleOrgs,
        "http://127.0.0.1/oauth/microsoft/callback",
    ));
    let secret = registered.secret_value.clone();
    let api = signed_in(app, seen, support::api_client(), ADMIN).await;
    let html = signed_in(app, seen, support::client(), ADMIN).await;
    let mut form = vec![
        ("application_id", registered.client_id.to_string()),
        ("client_secret", secret.clone()),
        ("account_type", "any_organization".to_owned()),
        ("active", "false".to_owned()),
    ];
    page(app, seen, &html).await;

    // Without JavaScript a failed save comes back in the redirect's URL;
    // it must not carry the secret it was sent.
    let wrong_app = [&form[1..], &[("application_id", uuid_string())]].concat();
    // The browser names the page it posts from; the error goes back there.
    let from_page = html
        .post(fn_url(app, "save_integration_settings"))
        .header(reqwest::header::REFERER, app.url("/admin/integrations"))
        .form(&wrong_app);
    let r = call(seen, "failed save (form)", from_page).await;
    assert_eq!(r, StatusCode::FOUND);
    call(
        seen,
        "failed save (JSON)",
        api.post(fn_url(app, "save_integration_settings"))
            .form(&wrong_app),
    )
    .await;

    let r = call(
        seen,
        "save",
        api.post(fn_url(app, "save_integration_settings"))
            .form(&form),
    )
    .await;
    assert_eq!(
        r,
        StatusCode::OK,
        "the save must succeed for the scan to mean anything"
    );
    form.retain(|(k, _)| *k != "client_secret");
    page(app, seen, &html).await;

    let staff = signed_in(app, seen, support::api_client(), STAFF).await;
    let events = staff
        .get(app.url("/events/integration"))
        .send()
        .await
        .unwrap();
    for active in ["true", "false"] {
        let r = call(
            seen,
            "toggle",
            api.post(fn_url(app, "set_integration_active"))
                .form(&[("active", active)]),
        )
        .await;
        assert_eq!(r, StatusCode::OK);
        page(app, seen, &html).await;
    }
    seen.add_event_stream(events).await;
    for read in [
        "integration_settings",
        "integration_audit_log",
        "secret_expiry_banner",
    ] {
        call(seen, read, api.post(fn_url(app, read))).await;
    }
    let r = call(
        seen,
        "disconnect",
        api.post(fn_url(app, "disconnect_integration"))
            .form(&[("confirm", "true")]),
    )
    .await;
    assert_eq!(r, StatusCode::OK);
    page(app, seen, &html).await;
    secret
}

async fn signed_in(
    app: &TestApp,
    seen: &mut Haystack,
    client: reqwest::Client,
    (email, password): (&str, &str),
) -> reqwest::Client {
    let form = [("email", email), ("password", password), ("next", "/")];
    call(
        seen,
        "sign in",
        client.post(app.url("/api/login")).form(&form),
    )
    .await;
    client
}

/// The served Admin › Integrations page.
async fn page(app: &TestApp, seen: &mut Haystack, html: &reqwest::Client) {
    let r = call(seen, "page", html.get(app.url("/admin/integrations"))).await;
    assert_eq!(r, StatusCode::OK);
}

fn fn_url(app: &TestApp, name: &str) -> String {
    app.url(&format!("/api/{name}"))
}

fn uuid_string() -> String {
    uuid::Uuid::new_v4().to_string()
}

/// Sends the request and records its status line, headers and body.
async fn call(seen: &mut Haystack, what: &str, request: RequestBuilder) -> StatusCode {
    let response = request.send().await.unwrap();
    let status = response.status();
    let mut bytes = format!("{status}\n").into_bytes();
    for (name, value) in response.headers() {
        bytes.extend_from_slice(format!("{name}: ").as_bytes());
        bytes.extend_from_slice(value.as_bytes());
        bytes.push(b'\n');
    }
    bytes.extend_from_slice(&response.bytes().await.unwrap());
    seen.add(&format!("response to {what}"), bytes);
    status
}

// ----- where the secret could hide -----

#[derive(Default)]
struct Haystack {
    /// What was captured, and its raw bytes.
    items: Vec<(String, Vec<u8>)>,
}

impl Haystack {
    fn add(&mut self, what: &str, bytes: Vec<u8>) {
        self.items.push((what.to_owned(), bytes));
    }

    /// Everything the event stream sent until the last toggle.
    async fn add_event_stream(&mut self, mut events: reqwest::Response) {
        let mut bytes = Vec::new();
        let wait = std::time::Duration::from_millis(500);
        while let Ok(Ok(Some(chunk))) = tokio::time::timeout(wait, events.chunk()).await {
            bytes.extend_from_slice(&chunk);
        }
        self.add("event stream", bytes);
    }

    /// The JS, wasm and CSS the server serves, when built (the test command
    /// builds them before the tests, so CI always scans them).
    fn add_site_files(&mut self) {
        let Some(root) = std::env::var_os("CALBRIDGE_SITE_ROOT").map(PathBuf::from) else {
            eprintln!("note: CALBRIDGE_SITE_ROOT is not set; JS and wasm not scanned");
            return;
        };
        let files = site_files(&root);
        if files.is_empty() {
            eprintln!(
                "note: no JS or wasm under {}; not built yet, not scanned",
                root.display()
            );
        }
        for file in files {
            let bytes = std::fs::read(&file).unwrap();
            self.add(&file.display().to_string(), bytes);
        }
    }

    /// Every row of every table, each column as text (blobs as bytes).
    async fn add_database_rows(&mut self, app: &TestApp) {
        let db = &app.backend.db;
        for table in sqlite_tables(db).await {
            let columns = column_count(db, &table).await;
            let rows = db
                .query_all(sql(db, &format!("SELECT * FROM \"{table}\"")))
                .await
                .unwrap();
            for (n, row) in rows.iter().enumerate() {
                let mut bytes = Vec::new();
                for i in 0..columns {
                    bytes.extend(column_bytes(row, i, &table));
                    bytes.push(b'|');
                }
                self.add(&format!("table {table}, row {n}"), bytes);
            }
        }
    }

    /// The capture must have caught what it claims to, or zero hits would
    /// prove nothing.
    fn assert_meaningful(&self) {
        let has = |what: &str, needle: &str| {
            self.items
                .iter()
                .any(|(w, b)| w.starts_with(what) && contains(b, needle.as_bytes()))
        };
        assert!(has("response to page", "A client secret is saved"));
        assert!(has("table integration_settings", "any_organization"));
        assert!(has("table integration_audit", "activated"));
        assert!(has("response to failed save (form)", "__err="));
        assert!(has("event stream", "event: integration"));
        assert!(has("server log", "Calbridge is listening"));
    }

    /// Every (place, encoding) where `secret` shows.
    fn find(&self, secret: &str) -> Vec<String> {
        let forms = encodings(secret);
        self.items
            .iter()
            .flat_map(|(what, bytes)| {
                forms
                    .iter()
                    .filter(|(_, form)| contains(bytes, form.as_bytes()))
                    .map(move |(name, _)| format!("{what}: {name}"))
            })
            .collect()
    }
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    !needle.is_empty() && haystack.windows(needle.len()).any(|w| w == needle)
}

fn site_files(root: &Path) -> Vec<PathBuf> {
    let mut found = Vec::new();
    let mut dirs = vec![root.to_path_buf()];
    while let Some(dir) = dirs.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for path in entries.flatten().map(|e| e.path()) {
            if path.is_dir() {
                dirs.push(path);
            } else if matches!(
                path.extension().and_then(|e| e.to_str()),
                Some("js" | "wasm" | "css" | "html")
            ) {
                found.push(path);
            }
        }
    }
    found
}

fn sql(db: &impl ConnectionTrait, text: &str) -> Statement {
    Statement::from_string(db.get_database_backend(), text.to_owned())
}

async fn sqlite_tables(db: &impl ConnectionTrait) -> Vec<String> {
    let rows = db
        .query_all(sql(
            db,
            "SELECT name FROM sqlite_master WHERE type = 'table'",
        ))
        .await
        .unwrap();
    let names: Vec<String> = rows
        .iter()
        .map(|r| r.try_get_by_index(0).unwrap())
        .collect();
    assert!(
        names.iter().any(|n| n == "integration_settings"),
        "{names:?}"
    );
    names
}

async fn column_count(db: &impl ConnectionTrait, table: &str) -> usize {
    let q = format!("SELECT count(*) FROM pragma_table_info('{table}')");
    let row = db.query_one(sql(db, &q)).await.unwrap().unwrap();
    let n: i64 = row.try_get_by_index(0).unwrap();
    n as usize
}

/// A column's value as bytes, whatever its SQLite type.
fn column_bytes(row: &sea_orm::QueryResult, i: usize, table: &str) -> Vec<u8> {
    if let Ok(v) = row.try_get_by_index::<Option<String>>(i) {
        return v.unwrap_or_default().into_bytes();
    }
    if let Ok(v) = row.try_get_by_index::<Option<i64>>(i) {
        return v.map(|n| n.to_string()).unwrap_or_default().into_bytes();
    }
    if let Ok(v) = row.try_get_by_index::<Option<f64>>(i) {
        return v.map(|n| n.to_string()).unwrap_or_default().into_bytes();
    }
    match row.try_get_by_index::<Option<Vec<u8>>>(i) {
        Ok(v) => v.unwrap_or_default(),
        Err(e) => panic!("column {i} of {table} is unreadable, so unscanned: {e}"),
    }
}

// ----- the forms a secret can take -----

/// The secret as it would look raw, URL- or form-encoded, JSON- or
/// HTML-escaped, or inside any base64 text (standard or URL-safe).
fn encodings(secret: &str) -> Vec<(String, String)> {
    let json = serde_json::to_string(secret).unwrap();
    let json = json.trim_matches('"');
    let form = form_encode(secret);
    let mut forms = vec![
        ("raw".to_owned(), secret.to_owned()),
        (
            "URL-encoded".to_owned(),
            urlencoding::encode(secret).into_owned(),
        ),
        ("form-encoded".to_owned(), form),
        ("JSON-escaped".to_owned(), json.to_owned()),
        ("JSON-escaped with \\/".to_owned(), json.replace('/', "\\/")),
        ("HTML-escaped".to_owned(), html_escape(secret)),
    ];
    for offset in 0..3 {
        forms.push((
            format!("base64 (offset {offset})"),
            base64_core(secret, offset, &STANDARD_NO_PAD),
        ));
        forms.push((
            format!("base64url (offset {offset})"),
            base64_core(secret, offset, &URL_SAFE_NO_PAD),
        ));
    }
    forms
}

/// The base64 characters that depend only on the secret's bytes when it
/// starts `offset` bytes into a 3-byte group: present in the base64 of any
/// text that contains the secret at that alignment.
fn base64_core(secret: &str, offset: usize, engine: &impl Engine) -> String {
    let mut bytes = vec![0u8; offset];
    bytes.extend_from_slice(secret.as_bytes());
    let encoded = engine.encode(&bytes);
    // Characters mixing the filler bytes or the unknown following bytes.
    let start = (offset * 8).div_ceil(6);
    let end = bytes.len() * 8 / 6;
    encoded[start..end].to_owned()
}

/// `application/x-www-form-urlencoded`, as browsers post forms: unlike
/// `urlencoding`, `~` is escaped and a space is `+`.
fn form_encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'*' | b'-' | b'.' | b'_' => {
                char::from(b).to_string()
            }
            b' ' => "+".to_owned(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

fn html_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#39;")
}

#[test]
fn the_scanner_finds_each_form_inside_larger_text() {
    let secret = "Zq8~a.b_c-d/e+f\"g<h";
    let hay = |text: &[u8]| Haystack {
        items: vec![("sample".to_owned(), text.to_vec())],
    };
    for prefix in ["", "x", "xy"] {
        let text = format!("{prefix}{secret}!!");
        let b64 = STANDARD_NO_PAD.encode(text.as_bytes());
        let b64url = URL_SAFE_NO_PAD.encode(text.as_bytes());
        assert!(
            !hay(b64.as_bytes()).find(secret).is_empty(),
            "{prefix:?} base64"
        );
        assert!(
            !hay(b64url.as_bytes()).find(secret).is_empty(),
            "{prefix:?} base64url"
        );
    }
    let json = serde_json::json!({ "s": secret }).to_string();
    assert!(!hay(json.as_bytes()).find(secret).is_empty());
    let query = format!("a=1&s={}", urlencoding::encode(secret));
    assert!(!hay(query.as_bytes()).find(secret).is_empty());
    assert!(hay(b"nothing to see").find(secret).is_empty());
}

// ----- the server log -----

/// Everything the process logs, at debug level (the emulator, which plays
/// Microsoft and sees the secret by design, excepted).
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Captured {
    fn contents(&self) -> Vec<u8> {
        self.0.lock().unwrap().clone()
    }
}

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Installs the capture as the process's subscriber; `spawn_app`'s own
/// `telemetry::init` then finds one installed and leaves it.
fn capture_log() -> Captured {
    let captured = Captured::default();
    let writer = captured.clone();
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::new("debug,emulator=off"))
        .with_ansi(false)
        .with_writer(move || writer.clone())
        .try_init()
        .expect("the first subscriber of this test binary");
    captured
}
