//! The client secret and the Microsoft tokens never leave the server: the
//! whole integration flow (save with the real secret, activate, deactivate,
//! a failing save that still carries it; a staff member connects Outlook
//! and an appointment syncs; an admin connects a space to a room and a
//! booking syncs; the status pages; staff disconnect; the admin
//! disconnects everything) runs against the in-process Microsoft emulator,
//! then every HTTP response (status, headers, body),
//! the served HTML, the site's JS and wasm, the server log and every raw
//! database row are searched for the secret, every access and refresh
//! token the emulator issued, and the master key, in raw, URL-encoded, base64
//! (standard and URL-safe, at every alignment) and JSON-escaped forms.
//!
//! The same search runs for application mode (client credentials and
//! change notifications), where the subscriptions' `clientState` values
//! are secrets too.
//!
//! A test binary of its own: it installs the process-wide log capture
//! before anything else logs (both tests share it).

mod support;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use aho_corasick::AhoCorasick;
use backend::entities::{space, user};
use backend::microsoft::identity::ROOM_SCOPES;
use base64::Engine;
use base64::engine::general_purpose::{STANDARD_NO_PAD, URL_SAFE_NO_PAD};
use chrono::Utc;
use emulator::state::SignInAudience;
use emulator::{DEMO, NewApp};
use reqwest::{RequestBuilder, StatusCode};
use sea_orm::EntityTrait;
use support::microsoft::connect_staff;
use support::rooms::{self, SEMINAR};
use support::{Db, TestApp};

const ADMIN: (&str, &str) = ("admin@calbridge.test", "calbridge-admin");
const STAFF: (&str, &str) = ("sam@calbridge.test", "calbridge-staff");
const PATRON: (&str, &str) = ("pat@calbridge.test", "calbridge-patron");
const SAM_MS: (&str, &str) = (
    "sam.reader@contoso-library.onmicrosoft.com",
    "Staff-Pass-2024!",
);

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

    let (access_tokens, refresh_tokens) = app.emulator().issued_tokens();
    // Sam's and Fran's grants, at least: else the scan proves nothing.
    assert!(
        access_tokens.len() >= 2,
        "{} access tokens",
        access_tokens.len()
    );
    assert!(
        refresh_tokens.len() >= 2,
        "{} refresh tokens",
        refresh_tokens.len()
    );
    seen.assert_nothing_of(vec![
        ("client secret", vec![client_secret]),
        ("master key", vec![master_key.trim().to_owned()]),
        ("access token", access_tokens),
        ("refresh token", refresh_tokens),
    ]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn application_mode_keeps_client_states_and_app_tokens_inside() {
    let log = capture_log();
    let app = support::spawn_reachable_app(Db::Sqlite, |f| {
        f.merge(("sync.room_mode", "application"))
            .merge(("sync.http_notifications", true))
            .merge(("sync.room_poll_interval_secs", 1))
    })
    .await
    .unwrap();
    support::within_time_limit(scan_application_mode(app, log)).await;
}

/// An admin picks a room (Graph validates the webhook and subscribes with
/// a clientState); someone books the room in Outlook (Graph notifies the
/// webhook with it); a patron's booking goes to the room with an app-only
/// token; the status is read; the room is revoked and everything
/// disconnected.
async fn scan_application_mode(app: TestApp, log: Captured) {
    let mut seen = Haystack::default();
    let seen = &mut seen;
    let (space_id, registered) = rooms::set_up_application_with(&app).await;
    let id = space_id.to_string();
    let api = signed_in(&app, seen, support::api_client(), ADMIN).await;
    let html = signed_in(&app, seen, support::client(), ADMIN).await;
    let pick = [("space_id", id.as_str()), ("address", SEMINAR)];
    let r = call(
        seen,
        "pick_room",
        api.post(fn_url(&app, "pick_room")).form(&pick),
    )
    .await;
    assert_eq!(r, StatusCode::OK);
    let client_states: Vec<String> = app
        .emulator()
        .subscriptions()
        .into_iter()
        .filter_map(|s| s.client_state)
        .collect();
    assert!(
        !client_states.is_empty(),
        "a subscription with a clientState"
    );

    app.emulator().clear_notifications();
    let tomorrow = (Utc::now() + chrono::TimeDelta::days(1)).date_naive();
    app.emulator()
        .outlook_create(
            SEMINAR,
            &serde_json::json!({
                "subject": "Board meeting",
                "start": {"dateTime": format!("{tomorrow}T13:00:00"), "timeZone": "UTC"},
                "end": {"dateTime": format!("{tomorrow}T14:00:00"), "timeZone": "UTC"},
            }),
        )
        .unwrap();
    let delivered = app
        .emulator()
        .wait_for_notifications(1, std::time::Duration::from_secs(10))
        .await;
    assert_eq!(delivered.len(), 1, "Graph notified the webhook");
    patron_books_space(&app, seen, space_id).await;
    for _ in 0..300 {
        if app.emulator().events(SEMINAR).len() >= 2 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_eq!(
        app.emulator().events(SEMINAR).len(),
        2,
        "the booking synced"
    );
    let status = [("space_id", id.as_str())];
    for read in ["space_sync_status", "room_connection", "sync_overview"] {
        call(seen, read, api.post(fn_url(&app, read)).form(&status)).await;
    }
    let r = call(
        seen,
        "space sync page",
        html.get(app.url(&format!("/admin/spaces/{space_id}/sync"))),
    )
    .await;
    assert_eq!(r, StatusCode::OK);
    // The sealed clientState, while it is stored.
    seen.add_database_rows(&app).await;
    let r = call(
        seen,
        "revoke_room",
        api.post(fn_url(&app, "revoke_room")).form(&status),
    )
    .await;
    assert_eq!(r, StatusCode::OK);
    let r = call(
        seen,
        "disconnect",
        api.post(fn_url(&app, "disconnect_integration"))
            .form(&[("confirm", "true")]),
    )
    .await;
    assert_eq!(r, StatusCode::OK);
    seen.add_database_rows(&app).await;
    let master_key = std::fs::read_to_string(app.data_dir().join("master.key")).unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    seen.add("server log", log.contents());

    seen.assert_holds(&[
        ("table room_links", "v1:"),
        ("response to room_connection", "room.seminar@"),
        ("response to space sync page", "room.seminar@"),
        ("server log", "Calbridge is listening"),
    ]);
    let (access_tokens, _) = app.emulator().issued_tokens();
    assert!(!access_tokens.is_empty(), "an app-only token was issued");
    seen.assert_nothing_of(vec![
        ("client secret", vec![registered.secret_value.clone()]),
        ("master key", vec![master_key.trim().to_owned()]),
        ("access token", access_tokens),
        ("clientState", client_states),
    ]);
}

// ----- the flow -----

/// Walks the page's operations as an admin would, with and without
/// JavaScript; returns the client secret used.
async fn run_flow(app: &TestApp, seen: &mut Haystack) -> String {
    let mut new = NewApp::web(
        "Calbridge",
        DEMO.tenant_id,
        SignInAudience::AzureADMultipleOrgs,
        &format!(
            "{}/oauth/microsoft/callback",
            app.backend.settings.public_base_url.trim_end_matches('/')
        ),
    );
    // Staff calendars and room calendars, as the README tells admins.
    for scope in ROOM_SCOPES {
        if !new.delegated_permissions.iter().any(|p| p == scope) {
            new.delegated_permissions.push(scope.to_owned());
        }
    }
    let registered = app.emulator().register_app(new);
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
    let r = call(
        seen,
        "activate",
        api.post(fn_url(app, "set_integration_active"))
            .form(&[("active", "true")]),
    )
    .await;
    assert_eq!(r, StatusCode::OK);
    let sam = staff_calendar_syncs(app, seen).await;
    room_syncs(app, seen, &api).await;
    // The sealed tokens, while they are stored.
    seen.add_database_rows(app).await;
    let r = call(
        seen,
        "disconnect_outlook",
        sam.post(fn_url(app, "disconnect_outlook")),
    )
    .await;
    assert_eq!(r, StatusCode::OK);
    for read in [
        "integration_settings",
        "integration_audit_log",
        "secret_expiry_banner",
        "sync_overview",
        "outbox_records",
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

/// Sam connects Outlook, a patron books an appointment with Sam, it lands
/// in Sam's mailbox; Sam looks at the sync status. Returns Sam's client.
async fn staff_calendar_syncs(app: &TestApp, seen: &mut Haystack) -> reqwest::Client {
    let sam = signed_in(app, seen, support::client(), STAFF).await;
    connect_staff(app, &sam, SAM_MS).await;
    let sam_api = signed_in(app, seen, support::api_client(), STAFF).await;
    call(
        seen,
        "outlook_connection",
        sam_api.post(fn_url(app, "outlook_connection")),
    )
    .await;

    let patron = signed_in(app, seen, support::api_client(), PATRON).await;
    let sam_id = user_id(app, STAFF.0).await;
    let starts_at = open_time(app, seen, sam_id).await;
    let form = [
        ("staff_id", sam_id.to_string()),
        ("starts_at", starts_at),
        ("patron_name", "Pat Patron".to_owned()),
        ("patron_email", PATRON.0.to_owned()),
        ("question", String::new()),
    ];
    let r = call(
        seen,
        "book_appointment",
        patron.post(fn_url(app, "book_appointment")).form(&form),
    )
    .await;
    assert_eq!(r, StatusCode::OK);
    written_to(app, SAM_MS.0).await;
    call(
        seen,
        "my_sync_status",
        sam_api.post(fn_url(app, "my_sync_status")),
    )
    .await;
    sam_api
}

/// The admin connects the first space to the seminar room as Fran; a
/// patron's booking of it lands on the room.
async fn room_syncs(app: &TestApp, seen: &mut Haystack, api: &reqwest::Client) {
    let space_id = space::Entity::find()
        .one(&app.backend.db)
        .await
        .unwrap()
        .expect("a demo space")
        .id;
    let browser = signed_in(app, seen, support::client(), ADMIN).await;
    rooms::authorize_as_fran(app, &browser, space_id).await;
    let pick = [
        ("space_id", space_id.to_string()),
        ("address", SEMINAR.to_owned()),
    ];
    let r = call(
        seen,
        "pick_room",
        api.post(fn_url(app, "pick_room")).form(&pick),
    )
    .await;
    assert_eq!(r, StatusCode::OK);

    patron_books_space(app, seen, space_id).await;
    written_to(app, SEMINAR).await;
    let status = [("space_id", space_id.to_string())];
    for read in ["space_sync_status", "room_connection"] {
        call(seen, read, api.post(fn_url(app, read)).form(&status)).await;
    }
}

/// A patron books the first free slot of `space_id` the day after
/// tomorrow, through the server fns.
async fn patron_books_space(app: &TestApp, seen: &mut Haystack, space_id: i64) {
    let patron = signed_in(app, seen, support::api_client(), PATRON).await;
    let date = (Utc::now().date_naive() + chrono::TimeDelta::days(2)).to_string();
    let grid = [
        ("space_id", space_id.to_string()),
        ("date", date),
        ("view", "day".to_owned()),
    ];
    let body = body_of(
        seen,
        "space_slots",
        patron.post(fn_url(app, "space_slots")).form(&grid),
    )
    .await;
    let starts_at = support::json(&body)["days"][0]["slots"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["free"] == true)
        .expect("a free slot")["starts_at"]
        .as_str()
        .unwrap()
        .to_owned();
    let form = [
        ("space_id", space_id.to_string()),
        ("starts_at", starts_at),
        ("slots", "1".to_owned()),
        ("patron_name", "Pat Patron".to_owned()),
        ("patron_email", PATRON.0.to_owned()),
    ];
    let r = call(
        seen,
        "book_space",
        patron.post(fn_url(app, "book_space")).form(&form),
    )
    .await;
    assert_eq!(r, StatusCode::OK);
}

async fn user_id(app: &TestApp, email: &str) -> i64 {
    use sea_orm::{ColumnTrait, QueryFilter};
    user::Entity::find()
        .filter(user::Column::Email.eq(email))
        .one(&app.backend.db)
        .await
        .unwrap()
        .unwrap_or_else(|| panic!("{email} is seeded"))
        .id
}

/// The first open appointment time of the staff member in the next week.
async fn open_time(app: &TestApp, seen: &mut Haystack, staff_id: i64) -> String {
    for ahead in 1..8 {
        let date = (Utc::now().date_naive() + chrono::TimeDelta::days(ahead)).to_string();
        let form = [("staff_id", staff_id.to_string()), ("date", date)];
        let request = support::api_client()
            .post(fn_url(app, "appointment_times"))
            .form(&form);
        let body = body_of(seen, "appointment_times", request).await;
        if let Some(first) = support::json(&body)["slots"][0]["starts_at"].as_str() {
            return first.to_owned();
        }
    }
    panic!("no open times in the next week");
}

/// Waits until the sync wrote an event to `mailbox` at the emulator.
async fn written_to(app: &TestApp, mailbox: &str) {
    for _ in 0..300 {
        if !app.emulator().events(mailbox).is_empty() {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    panic!("nothing was written to {mailbox} in 30 s");
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

/// `call`, returning the body of a successful answer.
async fn body_of(seen: &mut Haystack, what: &str, request: RequestBuilder) -> String {
    let (status, body) = send(seen, what, request).await;
    assert_eq!(status, StatusCode::OK, "{what}");
    String::from_utf8(body).unwrap()
}

/// Sends the request and records its status line, headers and body.
async fn call(seen: &mut Haystack, what: &str, request: RequestBuilder) -> StatusCode {
    send(seen, what, request).await.0
}

async fn send(seen: &mut Haystack, what: &str, request: RequestBuilder) -> (StatusCode, Vec<u8>) {
    let response = request.send().await.unwrap();
    let status = response.status();
    let mut bytes = format!("{status}\n").into_bytes();
    for (name, value) in response.headers() {
        bytes.extend_from_slice(format!("{name}: ").as_bytes());
        bytes.extend_from_slice(value.as_bytes());
        bytes.push(b'\n');
    }
    let body = response.bytes().await.unwrap().to_vec();
    bytes.extend_from_slice(&body);
    seen.add(&format!("response to {what}"), bytes);
    (status, body)
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

    /// The JS, wasm (every island's own files too) and CSS the server
    /// serves, when built (the test command builds them before the tests,
    /// so CI always scans them).
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
        for (n, (table, bytes)) in support::rows::all_rows(&app.backend.db)
            .await
            .into_iter()
            .enumerate()
        {
            self.add(&format!("table {table}, row {n}"), bytes);
        }
    }

    /// The capture must have caught what it claims to, or zero hits would
    /// prove nothing.
    fn assert_meaningful(&self) {
        self.assert_holds(&[
            ("response to page", "A client secret is saved"),
            ("table integration_settings", "any_organization"),
            ("table integration_audit", "activated"),
            ("response to failed save (form)", "__err="),
            ("event stream", "event: integration"),
            ("server log", "Calbridge is listening"),
            ("table calendar_connections", "v1:"),
            ("response to outlook_connection", "sam.reader@"),
        ]);
    }

    /// Asserts that an item whose name starts with each `what` holds its
    /// `needle`: the flow ran, so finding no secret means something.
    fn assert_holds(&self, expected: &[(&str, &str)]) {
        for (what, needle) in expected {
            assert!(
                self.items
                    .iter()
                    .any(|(w, b)| w.starts_with(what) && contains(b, needle.as_bytes())),
                "{what} holds {needle:?}"
            );
        }
    }

    /// Every (place, encoding) where `secret` shows.
    fn find(&self, secret: &str) -> Vec<String> {
        self.find_all(&[("secret".to_owned(), secret.to_owned())])
    }

    /// Every (place, which secret, encoding) where one of the named
    /// secrets shows: one pass over each item for all of them at once
    /// (a debug build's wasm is megabytes, and there are dozens of
    /// secrets in a hundred forms each).
    /// Names each value `"{what} #{n}"` and asserts none is found.
    fn assert_nothing_of(&self, secrets: Vec<(&str, Vec<String>)>) {
        let named: Vec<(String, String)> = secrets
            .into_iter()
            .flat_map(|(what, values)| {
                values
                    .into_iter()
                    .enumerate()
                    .map(move |(n, v)| (format!("{what} #{n}"), v))
            })
            .collect();
        let hits = self.find_all(&named);
        assert!(hits.is_empty(), "leaked: {hits:#?}");
    }

    fn find_all(&self, secrets: &[(String, String)]) -> Vec<String> {
        let (labels, patterns): (Vec<String>, Vec<String>) = secrets
            .iter()
            .flat_map(|(name, secret)| {
                encodings(secret)
                    .into_iter()
                    .filter(|(_, form)| !form.is_empty())
                    .map(move |(encoding, form)| (format!("{name}, {encoding}"), form))
            })
            .unzip();
        let searcher = AhoCorasick::new(&patterns).unwrap();
        let mut hits = Vec::new();
        for (what, bytes) in &self.items {
            for m in searcher.find_overlapping_iter(bytes.as_slice()) {
                hits.push(format!("{what}: {}", labels[m.pattern().as_usize()]));
            }
        }
        hits.sort();
        hits.dedup();
        hits
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
                Some("js" | "wasm" | "css" | "html" | "json")
            ) {
                found.push(path);
            }
        }
    }
    found
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

/// Installs the capture as the process's subscriber (once; both tests
/// share it); `spawn_app`'s own `telemetry::init` then finds one installed
/// and leaves it.
fn capture_log() -> Captured {
    static CAPTURED: std::sync::OnceLock<Captured> = std::sync::OnceLock::new();
    CAPTURED
        .get_or_init(|| {
            let captured = Captured::default();
            let writer = captured.clone();
            tracing_subscriber::fmt()
                .with_env_filter(tracing_subscriber::EnvFilter::new("debug,emulator=off"))
                .with_ansi(false)
                .with_writer(move || writer.clone())
                .try_init()
                .expect("the first subscriber of this test binary");
            captured
        })
        .clone()
}
