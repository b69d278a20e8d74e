//! Bad input, generated: every server fn the app registers is called by
//! an admin (who passes every role check, so the input reaches the
//! validation) with forms proptest makes up — fields missing, ids that do
//! not exist or overflow, dates that are not dates, long and odd Unicode
//! text, stray fields — and `/webhooks/graph` gets made-up bodies. Each
//! answer must be a success or a clear error (a 4xx with the app's error
//! and a message; never a 5xx, so never a panic), and a refused call must
//! change no row of the database.
//!
//! The field list comes from the server fns' signatures and is checked
//! against the registered fns, so a new one cannot be left out.

mod support;

use std::collections::BTreeSet;

use app::error::AppError;
use proptest::prelude::*;
use proptest::test_runner::{Config, TestCaseError, TestRunner};
use support::{Db, TestApp, api_client, login};

const ADMIN: (&str, &str) = ("admin@calbridge.test", "calbridge-admin");

/// What a field holds, for making up values that come near the real ones.
#[derive(Debug, Clone, Copy)]
enum Kind {
    Id,
    Text,
    Time,
    Date,
    Bool,
    Choice(&'static [&'static str]),
}

use Kind::*;

const HOURS: Kind = Choice(&["09:00-17:00", "closed", "", "17:00-09:00", "9-5"]);
const OWNER: Kind = Choice(&["staff", "space", "room", ""]);
const VIEW: Kind = Choice(&["day", "week", "month"]);

/// Every server fn and its fields.
const SERVER_FNS: &[(&str, &[(&str, Kind)])] = &[
    ("appointment_staff", &[]),
    ("appointment_times", &[("staff_id", Id), ("date", Date)]),
    (
        "book_appointment",
        &[
            ("staff_id", Id),
            ("starts_at", Time),
            ("patron_name", Text),
            ("patron_email", Text),
            ("question", Text),
        ],
    ),
    ("my_appointments", &[]),
    ("cancel_appointment", &[("appointment_id", Id)]),
    ("staff_appointments", &[]),
    (
        "reschedule_appointment",
        &[("appointment_id", Id), ("starts_at", Time)],
    ),
    ("current_user", &[]),
    (
        "authorize_page",
        &[("required", Choice(&["Patron", "Staff", "Admin", "Root"]))],
    ),
    (
        "book_space",
        &[
            ("space_id", Id),
            ("starts_at", Time),
            ("slots", Choice(&["1", "2", "0", "-1", "99"])),
            ("patron_name", Text),
            ("patron_email", Text),
        ],
    ),
    ("cancel_booking", &[("booking_id", Id)]),
    ("booking_details", &[("booking_id", Id)]),
    ("my_bookings", &[]),
    (
        "space_bookings",
        &[("space_id", Id), ("date", Date), ("view", VIEW)],
    ),
    ("integration_settings", &[]),
    (
        "save_integration_settings",
        &[
            ("application_id", Text),
            ("client_secret", Text),
            (
                "account_type",
                Choice(&["single_tenant", "any_organization", "personal", "x"]),
            ),
            ("tenant_id", Text),
            ("secret_expires_on", Date),
            ("active", Bool),
            ("save_anyway", Bool),
        ],
    ),
    ("set_integration_active", &[("active", Bool)]),
    ("integration_audit_log", &[]),
    ("secret_expiry_banner", &[]),
    (
        "legacy_exchange",
        &[("owner_kind", OWNER), ("owner_id", Id)],
    ),
    (
        "save_legacy_exchange",
        &[
            ("owner_kind", OWNER),
            ("owner_id", Id),
            ("server_url", Text),
            ("account", Text),
            ("password", Text),
        ],
    ),
    (
        "clear_legacy_exchange",
        &[("owner_kind", OWNER), ("owner_id", Id)],
    ),
    ("outbox_records", &[]),
    ("retry_outbox_job", &[("job_id", Id)]),
    ("outlook_connection", &[]),
    ("room_connection", &[("space_id", Id)]),
    ("room_directory", &[("space_id", Id)]),
    (
        "pick_room",
        &[("space_id", Id), ("address", Text), ("typed_address", Text)],
    ),
    ("list_spaces", &[]),
    (
        "space_slots",
        &[("space_id", Id), ("date", Date), ("view", VIEW)],
    ),
    ("admin_spaces", &[]),
    (
        "save_space",
        &[
            ("space_id", Id),
            ("name", Text),
            ("location", Text),
            ("capacity", Choice(&["1", "0", "-3", "100000", "ten"])),
            (
                "time_zone",
                Choice(&["Europe/London", "Mars/Olympus", "UTC", ""]),
            ),
            ("slot_minutes", Choice(&["30", "0", "7", "1441", "x"])),
            ("booking_window_days", Choice(&["14", "0", "-1", "100000"])),
            ("hours_0", HOURS),
            ("hours_1", HOURS),
            ("hours_2", HOURS),
            ("hours_3", HOURS),
            ("hours_4", HOURS),
            ("hours_5", HOURS),
            ("hours_6", HOURS),
        ],
    ),
    ("my_staff_settings", &[]),
    (
        "save_staff_settings",
        &[
            ("appointment_minutes", Choice(&["30", "0", "-5", "100000"])),
            (
                "location_kind",
                Choice(&["in_person", "online", "phone", "?"]),
            ),
            ("location", Text),
            ("time_zone", Choice(&["Europe/London", "Nowhere/Land", ""])),
            ("booking_window_days", Choice(&["14", "0", "-1", "100000"])),
            ("hours_0", HOURS),
            ("hours_1", HOURS),
            ("hours_2", HOURS),
            ("hours_3", HOURS),
            ("hours_4", HOURS),
            ("hours_5", HOURS),
            ("hours_6", HOURS),
        ],
    ),
    ("add_day_off", &[("day", Date), ("note", Text)]),
    ("remove_day_off", &[("day", Date)]),
    ("staff_accounts", &[]),
    (
        "set_staff_appointments",
        &[("user_id", Id), ("enabled", Bool)],
    ),
    ("space_sync_status", &[("space_id", Id)]),
    ("my_sync_status", &[]),
    ("sync_overview", &[]),
    ("disconnect_outlook", &[]),
    // Last: these may succeed with a made-up id and take spaces, rooms or
    // the integration away from the calls after them.
    ("revoke_room", &[("space_id", Id)]),
    ("retire_space", &[("space_id", Id)]),
    ("disconnect_integration", &[("confirm", Bool)]),
    (
        "resync_now",
        &[
            ("subject_kind", Choice(&["space", "staff", "room", ""])),
            ("subject_id", Id),
        ],
    ),
];

/// Called without the admin's session: signing in and out would change
/// the session the other calls use.
const SESSION_FNS: &[(&str, &[(&str, Kind)])] = &[
    (
        "login",
        &[("email", Text), ("password", Text), ("next", Text)],
    ),
    ("logout", &[]),
];

/// Changed by any request (the session's expiry), refused or not.
const NOT_COMPARED: &[&str] = &["sessions"];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_server_fn_and_field_is_listed() {
    let listed: BTreeSet<String> = SERVER_FNS
        .iter()
        .chain(SESSION_FNS)
        .map(|(name, _)| format!("/api/{name}"))
        .collect();
    let registered: BTreeSet<String> = leptos::server_fn::axum::server_fn_paths()
        .map(|(path, _)| path.to_owned())
        .collect();
    assert_eq!(
        registered.difference(&listed).collect::<Vec<_>>(),
        Vec::<&String>::new(),
        "server fns without made-up input here"
    );
    assert_eq!(
        listed.difference(&registered).collect::<Vec<_>>(),
        Vec::<&String>::new(),
        "listed here but not registered"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn made_up_input_gets_a_clear_error_and_changes_nothing() {
    let app = app().await;
    let admin = api_client();
    login(&app, &admin, ADMIN.0, ADMIN.1).await;
    let cases = cases_per_fn();
    for (name, fields) in SERVER_FNS {
        run(&app, &admin, name, fields, cases).await;
    }
    for (name, fields) in SESSION_FNS {
        run(&app, &api_client(), name, fields, cases).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn made_up_webhook_bodies_change_nothing() {
    let app = app().await;
    let strategy = (
        prop::option::of(any_text()),
        prop_oneof![
            any_text().prop_map(String::into_bytes),
            prop::collection::vec(any::<u8>(), 0..400),
            notification_json(),
        ],
    );
    let c = api_client();
    let app = &app;
    check_all(strategy, cases_per_fn() * 4, move |(token, body)| {
        let c = c.clone();
        async move {
            let mut url = app.url("/webhooks/graph");
            if let Some(token) = token {
                url.push_str(&format!("?validationToken={}", urlencoding::encode(&token)));
            }
            let r = c.post(url).body(body).send().await.unwrap();
            let status = r.status();
            prop_assert!(!status.is_server_error(), "{status}: {:?}", r.text().await);
            Ok(())
        }
    })
    .await;
}

// ----- running the cases -----

async fn app() -> TestApp {
    // No sync workers: a job they finish between the two snapshots of a
    // call would look like the call's doing.
    support::spawn_reachable_app(Db::Sqlite, |f| f.merge(("sync.enabled", false)))
        .await
        .unwrap()
}

fn cases_per_fn() -> u32 {
    std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(24)
}

async fn run(
    app: &TestApp,
    c: &reqwest::Client,
    name: &'static str,
    fields: &'static [(&'static str, Kind)],
    cases: u32,
) {
    let c = c.clone();
    check_all(form(fields), cases, move |form| {
        let c = c.clone();
        async move { call(app, &c, name, &form).await }
    })
    .await;
}

/// One refused or accepted call, judged.
async fn call(
    app: &TestApp,
    c: &reqwest::Client,
    name: &str,
    form: &[(String, String)],
) -> Result<(), TestCaseError> {
    let before = rows(app).await;
    let r = c
        .post(app.url(&format!("/api/{name}")))
        .form(form)
        .send()
        .await
        .unwrap();
    let status = r.status();
    let body = r.text().await.unwrap();
    prop_assert!(!status.is_server_error(), "{name}: {status} {body}");
    if status.is_success() {
        return Ok(());
    }
    prop_assert!(status.is_client_error(), "{name}: {status} {body}");
    let error: AppError = serde_json::from_str(&body)
        .map_err(|e| TestCaseError::fail(format!("{name}: not the app's error ({e}): {body}")))?;
    prop_assert!(!error.to_string().trim().is_empty(), "{name}: no message");
    prop_assert!(
        before == rows(app).await,
        "{name} was refused ({status}: {body}) but changed rows"
    );
    Ok(())
}

/// Runs `check` on `cases` values of `strategy`, shrinking a failure to
/// its simplest form.
async fn check_all<S, F, Fut>(strategy: S, cases: u32, check: F)
where
    S: Strategy,
    S::Value: Clone,
    F: Fn(S::Value) -> Fut,
    Fut: std::future::Future<Output = Result<(), TestCaseError>>,
{
    let handle = tokio::runtime::Handle::current();
    let mut runner = TestRunner::new(Config {
        cases,
        failure_persistence: None,
        ..Config::default()
    });
    tokio::task::block_in_place(|| {
        let result = runner.run(&strategy, |value| handle.block_on(check(value)));
        if let Err(e) = result {
            panic!("{e}");
        }
    });
}

async fn rows(app: &TestApp) -> Vec<(String, Vec<u8>)> {
    let mut rows = support::rows::all_rows(&app.backend.db).await;
    rows.retain(|(table, _)| !NOT_COMPARED.contains(&table.as_str()));
    rows
}

// ----- made-up values -----

/// A form: each field present or not, plus maybe a field nobody asked for.
fn form(fields: &'static [(&'static str, Kind)]) -> BoxedStrategy<Vec<(String, String)>> {
    let each: Vec<_> = fields
        .iter()
        .map(|(name, kind)| {
            prop::option::weighted(0.85, value(*kind)).prop_map(move |v| (*name, v))
        })
        .collect();
    (each, prop::option::of(("[a-z_]{1,12}", any_text())))
        .prop_map(|(values, extra)| {
            values
                .into_iter()
                .filter_map(|(name, v)| v.map(|v| (name.to_owned(), v)))
                .chain(extra)
                .collect()
        })
        .boxed()
}

fn value(kind: Kind) -> BoxedStrategy<String> {
    let typed = match kind {
        Id => prop_oneof![
            (1i64..6).prop_map(|n| n.to_string()),
            any::<i64>().prop_map(|n| n.to_string()),
            Just("99999999999999999999".to_owned()),
            Just("1.5".to_owned()),
        ]
        .boxed(),
        Time => prop_oneof![
            (0i64..400 * 24).prop_map(|h| {
                (chrono::Utc::now() + chrono::TimeDelta::hours(h - 24))
                    .format("%Y-%m-%dT%H:%M:00Z")
                    .to_string()
            }),
            "[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z",
            Just("9999-12-31T23:59:59Z".to_owned()),
            Just("1970-01-01T00:00:00+14:00".to_owned()),
        ]
        .boxed(),
        Date => prop_oneof![
            (0i64..800).prop_map(|d| {
                (chrono::Utc::now().date_naive() + chrono::TimeDelta::days(d - 400)).to_string()
            }),
            "[0-9]{4}-[0-9]{2}-[0-9]{2}",
            Just("262143-12-31".to_owned()),
        ]
        .boxed(),
        Bool => prop_oneof![
            Just("true".to_owned()),
            Just("false".to_owned()),
            Just("on".to_owned())
        ]
        .boxed(),
        Choice(choices) => prop::sample::select(choices)
            .prop_map(str::to_owned)
            .boxed(),
        Text => prop_oneof![
            Just(String::new()),
            "[a-zA-Z@. ]{1,40}",
            "[a-z]{1,10}@[a-z]{1,10}\\.(org|test)",
        ]
        .boxed(),
    };
    prop_oneof![4 => typed, 1 => any_text()].boxed()
}

/// Any text: control characters, right-to-left marks, emoji, NULs, and
/// now and then something long.
fn any_text() -> BoxedStrategy<String> {
    prop_oneof![
        8 => any::<String>(),
        1 => Just(" \u{202e}\u{0}<script>alert(1)</script>' OR 1=1 --".to_owned()),
        1 => (1usize..20_000).prop_map(|n| "x".repeat(n)),
    ]
    .boxed()
}

/// Bodies shaped like Graph's change notifications, with made-up values.
fn notification_json() -> BoxedStrategy<Vec<u8>> {
    let field = prop_oneof![
        any_text().prop_map(serde_json::Value::from),
        any::<i64>().prop_map(serde_json::Value::from),
        Just(serde_json::Value::Null),
        Just(serde_json::json!(uuid::Uuid::new_v4().to_string())),
    ];
    prop::collection::vec((field.clone(), field.clone(), field), 0..4)
        .prop_map(|items| {
            let value: Vec<_> = items
                .into_iter()
                .map(|(subscription, state, event)| {
                    serde_json::json!({
                        "subscriptionId": subscription,
                        "clientState": state,
                        "changeType": "created",
                        "lifecycleEvent": event,
                        "resource": "Users/x/Events/y",
                    })
                })
                .collect();
            serde_json::to_vec(&serde_json::json!({ "value": value })).unwrap()
        })
        .boxed()
}
