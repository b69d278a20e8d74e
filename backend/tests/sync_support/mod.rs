//! What the sync tests share: a Backend on the test database that talks
//! to an in-process emulator, the integration saved and active, a staff
//! member with appointments, and the staff member connected through the
//! emulator's real sign-in and consent pages.

#![allow(dead_code)]

// Also loaded by `support`, in the test crates that use both: two copies
// of two small functions, so the helpers need neither the other module.
#[allow(clippy::duplicate_mod)]
#[path = "../support/scratch.rs"]
pub mod scratch;

use backend::Backend;
use backend::accounts::{self, NewUser, Role};
use backend::config::Settings;
use backend::connections::{self, Owner};
use backend::entities::{appointment, calendar_connection, staff_profile};
use backend::integration::{AccountType, IntegrationSettings};
use backend::outbox;
use backend::vault::{Purpose, Vault};
use chrono::{DateTime, TimeDelta, Utc};
use emulator::state::SignInAudience;
use emulator::{DEMO, EmulatorHandle, NewApp, RegisteredApp};
use sea_orm::{ActiveModelTrait, DatabaseConnection, EntityTrait, Set, TransactionTrait};
use secrecy::SecretString;

pub const PUBLIC_URL: &str = "http://127.0.0.1:3999";
pub const SAM: &str = "sam.reader@contoso-library.onmicrosoft.com";
pub const ALEX: &str = "alex.archivist@contoso-library.onmicrosoft.com";
pub const STAFF_PASSWORD: &str = "Staff-Pass-2024!";

pub struct SyncEnv {
    pub backend: Backend,
    pub emu: EmulatorHandle,
    pub app: RegisteredApp,
    pub staff_id: i64,
    pub _dir: tempfile::TempDir,
}

pub fn settings(dir: &std::path::Path, emu: &EmulatorHandle) -> Settings {
    let figment = Settings::figment(Some(&dir.join("none.toml")))
        .merge(("microsoft_login_url", emu.base_url()))
        .merge(("microsoft_graph_url", format!("{}/v1.0", emu.base_url())))
        .merge(("public_base_url", PUBLIC_URL))
        .merge(("data_dir", dir.to_string_lossy().as_ref()))
        .merge(("sync.poll_interval_ms", 50))
        .merge(("sync.concurrency", 32));
    Settings::from_figment(figment).expect("test settings")
}

/// A number from the environment (`10_000` allowed), else `default`.
pub fn env_number<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name)
        .ok()
        .and_then(|v| v.trim().replace('_', "").parse().ok())
        .unwrap_or(default)
}

/// A database the `calbridge` binary can be started on, with a directory
/// for its data and logs (removed when this is dropped), the URL and a
/// connection of the test's own.
pub struct ServerDb {
    pub dir: tempfile::TempDir,
    pub url: String,
    pub db: DatabaseConnection,
    /// "SQLite" or "PostgreSQL", for what a harness prints.
    pub engine: &'static str,
}

/// A migrated SQLite file.
pub async fn sqlite_file() -> ServerDb {
    let dir = tempfile::tempdir().unwrap();
    let url = format!(
        "sqlite://{}?mode=rwc",
        dir.path().join("calbridge.db").display()
    );
    let db = backend::db::connect(&url).await.unwrap();
    backend::db::migrate(&db).await.unwrap();
    ServerDb {
        dir,
        url,
        db,
        engine: "SQLite",
    }
}

/// A migrated scratch PostgreSQL database, made through
/// `CALBRIDGE_TEST_POSTGRES_URL`; `None` when that is not set (CI sets
/// it, and the test command starts PostgreSQL).
pub async fn postgres_database() -> Option<ServerDb> {
    let url = scratch::create_database(&scratch::admin_url()?).await;
    let db = backend::db::connect(&url).await.unwrap();
    backend::db::migrate(&db).await.unwrap();
    Some(ServerDb {
        dir: tempfile::tempdir().unwrap(),
        url,
        db,
        engine: "PostgreSQL",
    })
}

pub fn test_vault() -> Vault {
    use base64::Engine;
    let key = base64::engine::general_purpose::STANDARD.encode([7u8; 32]);
    Vault::parse(&SecretString::from(key), None).expect("vault")
}

/// A Backend like the server's, on `db`, with its own emulator.
pub async fn env(db: DatabaseConnection) -> SyncEnv {
    let emu = emulator::Emulator::start(emulator::EmulatorConfig::demo())
        .await
        .expect("emulator starts");
    env_with(db, emu).await
}

pub async fn env_with(db: DatabaseConnection, emu: EmulatorHandle) -> SyncEnv {
    env_with_scopes(db, emu, &[]).await
}

/// [`env`] whose app may also ask for the room scopes, so its staff
/// connect their calendars and spaces are authorized for rooms.
pub async fn env_for_staff_and_rooms(db: DatabaseConnection) -> SyncEnv {
    let emu = emulator::Emulator::start(emulator::EmulatorConfig::demo())
        .await
        .expect("emulator starts");
    env_with_scopes(db, emu, &backend::microsoft::identity::ROOM_SCOPES).await
}

async fn env_with_scopes(db: DatabaseConnection, emu: EmulatorHandle, extra: &[&str]) -> SyncEnv {
    let dir = tempfile::tempdir().unwrap();
    let settings = settings(dir.path(), &emu);
    let redirect = backend::integration::redirect_url(&settings);
    let backend = Backend::new(db, settings, test_vault());
    let mut registration = NewApp::web(
        "Calbridge",
        DEMO.tenant_id,
        SignInAudience::AzureADMultipleOrgs,
        &redirect,
    );
    for scope in extra {
        if !registration
            .delegated_permissions
            .iter()
            .any(|p| p == scope)
        {
            registration.delegated_permissions.push(scope.to_string());
        }
    }
    let app = emu.register_app(registration);
    save_integration(&backend, &app, AccountType::AnyOrganization).await;
    let staff_id = staff_member(&backend, "sam@calbridge.test").await;
    SyncEnv {
        backend,
        emu,
        app,
        staff_id,
        _dir: dir,
    }
}

pub async fn save_integration(backend: &Backend, app: &RegisteredApp, account_type: AccountType) {
    let secret = backend.vault.seal(
        Purpose::ClientSecret,
        &SecretString::from(app.secret_value.clone()),
    );
    let settings = IntegrationSettings {
        application_id: Some(app.client_id.to_string()),
        client_secret: Some(secret),
        secret_hint: Some(app.secret_value[..3].to_owned()),
        account_type,
        tenant_id: Some(app.tenant_id.to_string()),
        active: true,
        checked_at: Some(Utc::now()),
        ..Default::default()
    };
    backend::integration::store::write(&backend.db, &settings)
        .await
        .unwrap();
}

/// A staff account with appointments activated; returns its user id.
pub async fn staff_member(backend: &Backend, email: &str) -> i64 {
    let user = accounts::create_user(
        &backend.db,
        NewUser {
            email,
            display_name: "Sam Reference",
            role: Role::Staff,
            password: "calbridge-staff-pass",
        },
    )
    .await
    .unwrap();
    let now = Utc::now();
    staff_profile::ActiveModel {
        user_id: Set(user.id),
        appointments_enabled: Set(true),
        appointment_minutes: Set(30),
        location_kind: Set("in_person".into()),
        location: Set("Reference desk, 2nd floor".into()),
        time_zone: Set("Europe/Amsterdam".into()),
        booking_window_days: Set(14),
        free_busy_enabled: Set(false),
        created_at: Set(now),
        updated_at: Set(now),
        ..Default::default()
    }
    .insert(&backend.db)
    .await
    .unwrap();
    user.id
}

/// Walks the emulator's sign-in (and consent) pages like a browser and
/// returns the authorization code sent to the redirect URI.
pub async fn sign_in_for_code(
    backend: &Backend,
    authorize_url: &str,
    upn: &str,
    password: &str,
) -> Result<String, String> {
    let client = reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let page = client.get(authorize_url).send().await.unwrap();
    let html = page.text().await.unwrap();
    let (action, flow) = form_of(&html).ok_or_else(|| format!("no sign-in form: {html}"))?;
    let base = &backend.settings.microsoft_login_url;
    let answer = client
        .post(format!("{base}{action}"))
        .form(&[
            ("flow", flow.as_str()),
            ("action", "signin"),
            ("loginfmt", upn),
            ("passwd", password),
        ])
        .send()
        .await
        .unwrap();
    let answer = if answer.status().is_redirection() {
        answer
    } else {
        let html = answer.text().await.unwrap();
        let (action, flow) = form_of(&html).ok_or_else(|| format!("no consent form: {html}"))?;
        client
            .post(format!("{base}{action}"))
            .form(&[("flow", flow.as_str()), ("action", "accept")])
            .send()
            .await
            .unwrap()
    };
    let location = answer
        .headers()
        .get("location")
        .and_then(|v| v.to_str().ok())
        .ok_or("no redirect after consent")?
        .to_owned();
    let url = reqwest::Url::parse(&location).map_err(|e| e.to_string())?;
    url.query_pairs()
        .find(|(k, _)| k == "code")
        .map(|(_, v)| v.into_owned())
        .ok_or(location)
}

/// `(action, flow)` of the first form on an emulator page.
pub fn form_of(html: &str) -> Option<(String, String)> {
    let action = between(html, "action=\"", "\"")?;
    let after = html.find("name=\"flow\"")?;
    let flow = between(&html[after..], "value=\"", "\"")?;
    Some((action, flow))
}

fn between(s: &str, start: &str, end: &str) -> Option<String> {
    let i = s.find(start)? + start.len();
    let j = s[i..].find(end)? + i;
    Some(s[i..j].to_owned())
}

/// Connects `user_id` to Microsoft account `upn` through the real flow
/// (PKCE, code redemption, `/me`), without the HTTP callback route.
pub async fn connect(backend: &Backend, user_id: i64, upn: &str) -> calendar_connection::Model {
    let registration =
        connections::active_registration(&backend.db, &backend.vault, &backend.settings)
            .await
            .unwrap()
            .expect("integration active");
    let request = backend
        .identity
        .authorization_request(&registration.credentials(), Some(upn))
        .unwrap();
    let code = sign_in_for_code(backend, &request.url, upn, STAFF_PASSWORD)
        .await
        .expect("code");
    let tokens = backend
        .identity
        .redeem_code(&registration.credentials(), &code, &request.verifier)
        .await
        .expect("tokens");
    let me = backend.graph.me(&tokens.access_token).await.expect("/me");
    connections::store_connection(
        &backend.db,
        &backend.vault,
        Owner::staff(user_id),
        &me.address(),
        &tokens,
        Utc::now(),
    )
    .await
    .unwrap()
}

pub fn t(hours_from_now: i64) -> DateTime<Utc> {
    outbox_time(Utc::now() + TimeDelta::hours(hours_from_now))
}

fn outbox_time(at: DateTime<Utc>) -> DateTime<Utc> {
    use chrono::{DurationRound, TimeDelta};
    at.duration_trunc(TimeDelta::minutes(30)).unwrap()
}

/// Books an appointment and enqueues its job in one transaction, as the
/// appointments code does.
pub async fn book(backend: &Backend, staff_id: i64, patron: &str, start: DateTime<Utc>) -> i64 {
    let now = Utc::now();
    let txn = backend.db.begin().await.unwrap();
    let a = appointment::ActiveModel {
        staff_id: Set(staff_id),
        starts_at: Set(start),
        ends_at: Set(start + TimeDelta::minutes(30)),
        patron_name: Set(patron.to_owned()),
        patron_email: Set(format!(
            "{}@example.org",
            patron.to_lowercase().replace(' ', ".")
        )),
        question: Set("Where do I find the 1850s newspapers?".into()),
        location_kind: Set("in_person".into()),
        location: Set("Reference desk, 2nd floor".into()),
        status: Set("active".into()),
        created_by: Set(None),
        created_at: Set(now),
        updated_at: Set(now),
        ..Default::default()
    }
    .insert(&txn)
    .await
    .unwrap();
    outbox::enqueue(
        &txn,
        outbox::APPOINTMENT_CREATED,
        a.id,
        // The shape `backend::appointments` writes: the staff id tells
        // the status page whose sync changed.
        &serde_json::json!({"appointment_id": a.id, "staff_id": staff_id}),
        now,
    )
    .await
    .unwrap();
    txn.commit().await.unwrap();
    a.id
}

pub async fn move_to(backend: &Backend, id: i64, start: DateTime<Utc>) {
    change(backend, id, outbox::APPOINTMENT_MOVED, |a| {
        a.starts_at = Set(start);
        a.ends_at = Set(start + TimeDelta::minutes(30));
    })
    .await
}

pub async fn cancel(backend: &Backend, id: i64) {
    change(backend, id, outbox::APPOINTMENT_CANCELLED, |a| {
        a.status = Set("cancelled".into());
    })
    .await
}

async fn change(
    backend: &Backend,
    id: i64,
    kind: &str,
    edit: impl FnOnce(&mut appointment::ActiveModel),
) {
    let now = Utc::now();
    let txn = backend.db.begin().await.unwrap();
    // SQLite: write first, so the transaction holds the write lock before
    // it reads (a deferred read-then-write fails with "database is
    // locked" when a sync worker commits in between; see
    // `bookings::begin_write`).
    use sea_orm::ConnectionTrait;
    if txn.get_database_backend() == sea_orm::DatabaseBackend::Sqlite {
        txn.execute(sea_orm::Statement::from_sql_and_values(
            sea_orm::DatabaseBackend::Sqlite,
            "UPDATE appointments SET id = id WHERE id = ?",
            [id.into()],
        ))
        .await
        .unwrap();
    }
    let row = appointment::Entity::find_by_id(id)
        .one(&txn)
        .await
        .unwrap()
        .unwrap();
    let staff_id = row.staff_id;
    let mut a: appointment::ActiveModel = row.into();
    edit(&mut a);
    a.updated_at = Set(now);
    a.update(&txn).await.unwrap();
    let payload = serde_json::json!({"appointment_id": id, "staff_id": staff_id});
    outbox::enqueue(&txn, kind, id, &payload, now)
        .await
        .unwrap();
    txn.commit().await.unwrap();
}

/// Refresh tokens the emulator has issued for `upn`: one per successful
/// token request (code redemption or refresh). Its request log covers
/// Graph only, so the token endpoint is counted here.
pub fn tokens_issued(emu: &EmulatorHandle, upn: &str) -> usize {
    let user = emu.user_id(upn).expect("known user");
    emu.shared()
        .world
        .lock()
        .refresh_tokens
        .values()
        .filter(|t| t.user_id == user)
        .count()
}

pub async fn connection(backend: &Backend, id: i64) -> calendar_connection::Model {
    calendar_connection::Entity::find_by_id(id)
        .one(&backend.db)
        .await
        .unwrap()
        .unwrap()
}

pub async fn jobs(backend: &Backend) -> Vec<backend::entities::outbox::Model> {
    backend::entities::outbox::Entity::find()
        .all(&backend.db)
        .await
        .unwrap()
}

/// What a soak or crash run left in the mailboxes (see [`tally`]).
#[derive(Debug, Default)]
pub struct Tally {
    pub missing: usize,
    pub stale: usize,
    pub not_deleted: usize,
    pub duplicated: usize,
    pub unexplained: usize,
}

/// "lost 0 (missing 0, stale 0, not deleted 0), duplicated 0 (extra 0,
/// unexplained 0)", as the soak and the crash test print it.
impl std::fmt::Display for Tally {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "lost {} (missing {}, stale {}, not deleted {}), duplicated {} (extra {}, unexplained {})",
            self.lost(),
            self.missing,
            self.stale,
            self.not_deleted,
            self.duplicated(),
            self.duplicated,
            self.unexplained,
        )
    }
}

impl Tally {
    pub fn lost(&self) -> usize {
        self.missing + self.stale + self.not_deleted
    }
    pub fn duplicated(&self) -> usize {
        self.duplicated + self.unexplained
    }
}

fn subject_of(patron: &str) -> String {
    format!("Appointment: {patron}")
}

/// One record as a mailbox should show it: an event with `subject` in
/// `mailbox` starting at `starts` while active, none once cancelled.
pub struct Expected {
    pub aggregate_id: i64,
    pub mailbox: String,
    pub subject: String,
    pub active: bool,
    pub starts: DateTime<Utc>,
}

/// Compares every appointment in the database with the mailboxes of the
/// emulator. `mailboxes` maps a staff user id to its Outlook address.
pub async fn tally(
    backend: &Backend,
    emu: &EmulatorHandle,
    mailboxes: &std::collections::HashMap<i64, String>,
) -> Tally {
    let expected = appointment::Entity::find()
        .all(&backend.db)
        .await
        .unwrap()
        .into_iter()
        .map(|a| Expected {
            aggregate_id: a.id,
            mailbox: mailboxes[&a.staff_id].clone(),
            subject: subject_of(&a.patron_name),
            active: a.status == "active",
            starts: a.starts_at,
        })
        .collect();
    compare(backend, emu, mailboxes.values(), expected).await
}

/// Compares every space booking with the events on its space's room.
/// `rooms` maps a space id to (its name, its room's address).
pub async fn room_tally(
    backend: &Backend,
    emu: &EmulatorHandle,
    rooms: &std::collections::HashMap<i64, (String, String)>,
) -> Tally {
    let expected = backend::entities::space_booking::Entity::find()
        .all(&backend.db)
        .await
        .unwrap()
        .into_iter()
        .map(|b| {
            let (name, room) = &rooms[&b.space_id];
            Expected {
                aggregate_id: b.id,
                mailbox: room.clone(),
                subject: format!("{name}: booked by {}", b.patron_name),
                active: b.status == "active",
                starts: b.starts_at,
            }
        })
        .collect();
    compare(backend, emu, rooms.values().map(|(_, room)| room), expected).await
}

/// Counts what `mailboxes` hold against `expected`: missing, stale (at
/// an old time), not deleted, duplicated, and events nothing explains.
async fn compare(
    backend: &Backend,
    emu: &EmulatorHandle,
    mailboxes: impl Iterator<Item = &String>,
    expected: Vec<Expected>,
) -> Tally {
    let mut events: std::collections::HashMap<(String, String), Vec<String>> =
        std::collections::HashMap::new();
    for mailbox in mailboxes {
        for e in emu.events(mailbox) {
            let subject = e["subject"].as_str().unwrap_or_default().to_owned();
            let start = e["start"]["dateTime"]
                .as_str()
                .unwrap_or_default()
                .to_owned();
            events
                .entry((mailbox.to_lowercase(), subject))
                .or_default()
                .push(start);
        }
    }
    let mut t = Tally::default();
    for x in &expected {
        let found = events
            .remove(&(x.mailbox.to_lowercase(), x.subject.clone()))
            .unwrap_or_default();
        if x.active {
            let starts = x.starts.format("%Y-%m-%dT%H:%M:%S").to_string();
            match found.len() {
                0 => t.missing += 1,
                n => {
                    if !found.iter().any(|s| s.starts_with(&starts)) {
                        t.stale += 1;
                    }
                    t.duplicated += n - 1;
                }
            }
        } else if !found.is_empty() {
            if std::env::var_os("SOAK_DEBUG").is_some() {
                let js: Vec<_> = jobs(backend)
                    .await
                    .into_iter()
                    .filter(|j| j.aggregate_id == x.aggregate_id)
                    .map(|j| (j.id, j.kind, j.status, j.attempts, j.last_error))
                    .collect();
                println!(
                    "not deleted: {} {} events {found:?} jobs {js:?}",
                    x.mailbox, x.subject
                );
            }
            t.not_deleted += 1;
            t.duplicated += found.len() - 1;
        }
    }
    t.unexplained = events.values().map(Vec::len).sum();
    t
}

/// Waits until no job is pending (all done, failed or paused) or
/// `limit` passes; returns the jobs not done.
pub async fn drain(
    backend: &Backend,
    limit: std::time::Duration,
) -> Vec<backend::entities::outbox::Model> {
    let started = std::time::Instant::now();
    loop {
        let all = jobs(backend).await;
        let waiting = all.iter().filter(|j| j.status == "pending").count();
        if waiting == 0 || started.elapsed() > limit {
            return all.into_iter().filter(|j| j.status != "done").collect();
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
}

/// `n` staff members, each connected to an Outlook mailbox of their own:
/// the environment's staff member (Sam), Alex, then new emulator users
/// `{prefix}.staff{i}@contoso-library.onmicrosoft.com`. Returns
/// (staff user id, mailbox) in that order.
pub async fn staff_with_mailboxes(env: &SyncEnv, n: usize, prefix: &str) -> Vec<(i64, String)> {
    let backend = &env.backend;
    connect(backend, env.staff_id, SAM).await;
    let mut staff = vec![(env.staff_id, SAM.to_owned())];
    for i in 1..n.max(1) {
        let upn = if i == 1 {
            ALEX.to_owned()
        } else {
            let upn = format!("{prefix}.staff{i}@contoso-library.onmicrosoft.com");
            env.emu.add_user(
                DEMO.tenant_id,
                &upn,
                &format!("Staff {i}"),
                STAFF_PASSWORD,
                false,
            );
            upn
        };
        let id = staff_member(backend, &format!("{prefix}{i}@calbridge.test")).await;
        connect(backend, id, &upn).await;
        staff.push((id, upn));
    }
    staff
}

// ----- rooms -----

/// A space open around the clock, in UTC, booked up to 14 days ahead.
pub async fn new_space(backend: &Backend, name: &str) -> i64 {
    new_space_for_days(backend, name, 14).await
}

/// [`new_space`], booked up to `days` ahead.
pub async fn new_space_for_days(backend: &Backend, name: &str, days: i32) -> i64 {
    let input = backend::spaces::SpaceInput {
        name: name.into(),
        location: "Floor 1".into(),
        capacity: 20,
        time_zone: "UTC".into(),
        slot_minutes: 30,
        booking_window_days: days,
        hours: (0..7)
            .map(|weekday| backend::availability::Hours {
                weekday,
                opens: 0,
                closes: 1440,
            })
            .collect(),
    };
    backend::spaces::create(&backend.db, &input, Utc::now())
        .await
        .unwrap()
        .id
}

/// Signs `upn` in through the emulator's pages with the room scopes and
/// stores the authorization for `space_id`, as the callback does.
pub async fn authorize_room(
    b: &Backend,
    space_id: i64,
    upn: &str,
    password: &str,
) -> backend::rooms::RoomCallbackOutcome {
    let registration = connections::active_registration(&b.db, &b.vault, &b.settings)
        .await
        .unwrap()
        .expect("integration active");
    let request = b
        .identity
        .authorization_request_for(
            &registration.credentials(),
            Some(upn),
            &backend::microsoft::identity::ROOM_SCOPES,
        )
        .unwrap();
    let code = sign_in_for_code(b, &request.url, upn, password)
        .await
        .expect("code");
    let tokens = b
        .identity
        .redeem_code(&registration.credentials(), &code, &request.verifier)
        .await
        .expect("tokens");
    backend::rooms::connect::authorize_with_tokens(b, space_id, tokens).await
}

/// Tomorrow at `hour`:00 UTC.
pub fn tomorrow(hour: u32) -> DateTime<Utc> {
    use chrono::DurationRound;
    let midnight = Utc::now().duration_trunc(TimeDelta::days(1)).unwrap();
    midnight + TimeDelta::days(1) + TimeDelta::hours(hour as i64)
}

/// A time as Graph writes `dateTime` (no offset; the zone is beside it).
pub fn at_text(at: DateTime<Utc>) -> String {
    at.format("%Y-%m-%dT%H:%M:%S").to_string()
}

/// An event as Outlook would create it, busy, in UTC.
pub fn outlook_event(subject: &str, from: DateTime<Utc>, to: DateTime<Utc>) -> serde_json::Value {
    serde_json::json!({
        "subject": subject,
        "start": {"dateTime": at_text(from), "timeZone": "UTC"},
        "end": {"dateTime": at_text(to), "timeZone": "UTC"},
        "showAs": "busy",
    })
}
