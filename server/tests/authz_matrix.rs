//! The authorization matrix: every server fn the app registers and every
//! page route is called as a visitor, a patron, a staff member and an
//! admin, and each answer is checked against the policy below.
//!
//! The lists come from the running code (`server_fn_paths()` and the
//! Leptos route list), so a new server fn or page that is missing from the
//! policy fails this test instead of going unchecked. Plain axum routes
//! cannot be listed that way; they are named in `PLAIN_ROUTES`.

mod support;

use std::collections::BTreeSet;

use reqwest::StatusCode;
use support::{TestApp, api_client, client, login};

/// The least role that may call an endpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Who {
    Anyone,
    Patron,
    Staff,
    Admin,
}

/// A caller of the matrix; `None` is a visitor who is not signed in.
const CALLERS: [(Who, Option<(&str, &str)>); 4] = [
    (Who::Anyone, None),
    (
        Who::Patron,
        Some(("pat@calbridge.test", "calbridge-patron")),
    ),
    (Who::Staff, Some(("sam@calbridge.test", "calbridge-staff"))),
    (
        Who::Admin,
        Some(("admin@calbridge.test", "calbridge-admin")),
    ),
];

/// Every server fn: who may call it, and arguments that make a harmless
/// call (ids that do not exist, empty forms, no confirmation), so the
/// answer shows the role check and nothing else changes.
/// Form fields sent with a call.
type Args = &'static [(&'static str, &'static str)];

const SERVER_FNS: &[(&str, Who, Args)] = &[
    // Signing in and out, and asking who is signed in, are for everyone.
    (
        "login",
        Who::Anyone,
        &[
            ("email", "pat@calbridge.test"),
            ("password", "calbridge-patron"),
            ("next", "/"),
        ],
    ),
    ("logout", Who::Anyone, &[]),
    ("current_user", Who::Anyone, &[]),
    ("authorize_page", Who::Admin, &[("required", "Admin")]),
    // Browsing what can be booked is public.
    ("list_spaces", Who::Anyone, &[]),
    ("space_slots", Who::Anyone, &[("space_id", "999999")]),
    ("appointment_staff", Who::Anyone, &[]),
    ("appointment_times", Who::Anyone, &[("staff_id", "999999")]),
    // A space's sync state shows on its public page (detail: admins).
    ("space_sync_status", Who::Anyone, &[("space_id", "999999")]),
    // Booking needs an account.
    ("book_space", Who::Patron, &[("space_id", "999999")]),
    ("cancel_booking", Who::Patron, &[("booking_id", "999999")]),
    ("booking_details", Who::Patron, &[("booking_id", "999999")]),
    ("my_bookings", Who::Patron, &[]),
    ("book_appointment", Who::Patron, &[("staff_id", "999999")]),
    ("my_appointments", Who::Patron, &[]),
    (
        "cancel_appointment",
        Who::Patron,
        &[("appointment_id", "999999")],
    ),
    // Staff work.
    ("space_bookings", Who::Staff, &[("space_id", "999999")]),
    ("staff_appointments", Who::Staff, &[]),
    (
        "reschedule_appointment",
        Who::Staff,
        &[("appointment_id", "999999")],
    ),
    ("my_staff_settings", Who::Staff, &[]),
    ("save_staff_settings", Who::Staff, &[]),
    ("add_day_off", Who::Staff, &[]),
    ("remove_day_off", Who::Staff, &[("day", "not-a-date")]),
    ("legacy_exchange", Who::Staff, &[("owner_kind", "staff")]),
    ("outlook_connection", Who::Staff, &[]),
    ("disconnect_outlook", Who::Staff, &[]),
    ("my_sync_status", Who::Staff, &[]),
    // Administration.
    (
        "save_legacy_exchange",
        Who::Admin,
        &[("owner_kind", "space"), ("owner_id", "999999")],
    ),
    (
        "clear_legacy_exchange",
        Who::Admin,
        &[("owner_kind", "space"), ("owner_id", "999999")],
    ),
    ("admin_spaces", Who::Admin, &[]),
    ("save_space", Who::Admin, &[]),
    ("retire_space", Who::Admin, &[("space_id", "999999")]),
    ("outbox_records", Who::Admin, &[]),
    ("retry_outbox_job", Who::Admin, &[("job_id", "999999")]),
    ("sync_overview", Who::Admin, &[]),
    (
        "resync_now",
        Who::Admin,
        &[("subject_kind", "space"), ("subject_id", "999999")],
    ),
    ("room_connection", Who::Admin, &[("space_id", "999999")]),
    ("room_directory", Who::Admin, &[("space_id", "999999")]),
    ("pick_room", Who::Admin, &[("space_id", "999999")]),
    ("revoke_room", Who::Admin, &[("space_id", "999999")]),
    ("staff_accounts", Who::Admin, &[]),
    (
        "set_staff_appointments",
        Who::Admin,
        &[("user_id", "999999")],
    ),
    ("integration_settings", Who::Admin, &[]),
    (
        "save_integration_settings",
        Who::Admin,
        &[
            ("application_id", "not-a-guid"),
            ("account_type", "any_organization"),
        ],
    ),
    ("set_integration_active", Who::Admin, &[("active", "false")]),
    ("disconnect_integration", Who::Admin, &[]),
    ("integration_audit_log", Who::Admin, &[]),
    ("secret_expiry_banner", Who::Admin, &[]),
];

/// Every page: who may open it. `{id}` is filled with 1.
const PAGES: &[(&str, Who)] = &[
    ("/", Who::Anyone),
    ("/login", Who::Anyone),
    ("/logout", Who::Anyone),
    ("/spaces", Who::Anyone),
    ("/spaces/{id}", Who::Anyone),
    ("/appointments", Who::Anyone),
    ("/bookings", Who::Patron),
    ("/appointments/mine", Who::Patron),
    ("/staff/appointments", Who::Staff),
    ("/staff/sync", Who::Staff),
    ("/admin/staff", Who::Admin),
    ("/admin/staff/{id}/sync", Who::Admin),
    ("/admin/spaces", Who::Admin),
    ("/admin/spaces/{id}/sync", Who::Admin),
    ("/admin/outbox", Who::Admin),
    ("/admin/sync", Who::Admin),
    ("/admin/integrations", Who::Admin),
];

/// Plain axum routes (method, path, who, form). They answer browsers, so a
/// visitor may also be sent to the sign-in page instead of a 401.
const PLAIN_ROUTES: &[(&str, &str, Who, Args)] = &[
    ("GET", "/healthz", Who::Anyone, &[]),
    ("GET", "/events/integration", Who::Patron, &[]),
    ("GET", "/events/spaces/1/sync", Who::Anyone, &[]),
    ("GET", "/events/staff/sync", Who::Staff, &[]),
    ("GET", "/events/sync", Who::Admin, &[]),
    ("POST", "/oauth/microsoft/connect", Who::Staff, &[]),
    (
        "POST",
        "/oauth/microsoft/connect-room",
        Who::Admin,
        &[("space_id", "999999")],
    ),
    // Microsoft Graph's change and lifecycle notifications: Microsoft
    // does not sign in; each notification proves itself by its
    // clientState (a form body is no notification: 400).
    ("POST", "/webhooks/graph", Who::Anyone, &[]),
    ("POST", "/webhooks/graph/lifecycle", Who::Anyone, &[]),
];

on_both_databases!(
    every_server_fn_checks_its_caller,
    every_page_checks_its_caller
);

#[tokio::test]
async fn every_registered_server_fn_has_a_policy() {
    let registered: BTreeSet<String> = registered_server_fns();
    let known: BTreeSet<String> = SERVER_FNS.iter().map(|(n, ..)| n.to_string()).collect();
    let missing: Vec<_> = registered.difference(&known).collect();
    let stale: Vec<_> = known.difference(&registered).collect();
    assert!(
        missing.is_empty(),
        "server fns without a policy in the matrix: {missing:?}"
    );
    assert!(
        stale.is_empty(),
        "policies for server fns that no longer exist: {stale:?}"
    );
}

#[tokio::test]
async fn every_page_route_has_a_policy() {
    let known: BTreeSet<&str> = PAGES.iter().map(|(p, _)| *p).collect();
    let registered: BTreeSet<String> = page_paths();
    let missing: Vec<_> = registered
        .iter()
        .filter(|p| !known.contains(p.as_str()))
        .collect();
    assert!(
        missing.is_empty(),
        "pages without a policy in the matrix: {missing:?}"
    );
}

async fn every_server_fn_checks_its_caller(app: TestApp) {
    let mut escapes = Vec::new();
    for (caller, credentials) in CALLERS {
        let c = signed_in(&app, api_client(), credentials).await;
        for (name, least, args) in SERVER_FNS {
            // Signing in or out would change this caller's session
            // mid-matrix: both run on a client of their own.
            let c = match *name {
                "logout" | "login" => signed_in(&app, api_client(), credentials).await,
                _ => c.clone(),
            };
            let response = c
                .post(app.url(&format!("/api/{name}")))
                .form(args)
                .send()
                .await
                .unwrap();
            let status = response.status();
            if let Some(problem) = judge(caller, *least, status) {
                let body = response.text().await.unwrap_or_default();
                escapes.push(format!(
                    "{name} as {caller:?}: {problem} ({status}: {body:.200})"
                ));
            }
        }
    }
    assert!(
        escapes.is_empty(),
        "authorization matrix:\n{}",
        escapes.join("\n")
    );
}

async fn every_page_checks_its_caller(app: TestApp) {
    let mut escapes = Vec::new();
    for (caller, credentials) in CALLERS {
        let c = signed_in(&app, client(), credentials).await;
        for (path, least) in PAGES {
            let url = app.url(&path.replace("{id}", "1"));
            let response = c.get(url).send().await.unwrap();
            let status = response.status();
            let location = response
                .headers()
                .get(reqwest::header::LOCATION)
                .and_then(|v| v.to_str().ok())
                .unwrap_or("")
                .to_owned();
            let problem = match (caller >= *least, caller) {
                // Allowed: the page itself (a missing record may say 404).
                (true, _) if status.is_success() || status == StatusCode::NOT_FOUND => None,
                // /logout signs out and sends the visitor home.
                (true, _) if *path == "/logout" && status.is_redirection() => None,
                (true, _) => Some(format!("refused a caller who may open it ({status})")),
                // A visitor is sent to sign in.
                (false, Who::Anyone)
                    if status.is_redirection() && location.starts_with("/login") =>
                {
                    None
                }
                (false, Who::Anyone) => {
                    Some(format!("visitor not sent to sign in ({status} {location})"))
                }
                (false, _) if status == StatusCode::FORBIDDEN => None,
                (false, _) => Some(format!("opened for a caller below {least:?} ({status})")),
            };
            if let Some(problem) = problem {
                escapes.push(format!("{path} as {caller:?}: {problem}"));
            }
        }
        for (method, path, least, args) in PLAIN_ROUTES {
            let request = match *method {
                "POST" => c.post(app.url(path)).form(args),
                _ => c.get(app.url(path)),
            };
            // Event streams never end: only the status line is read.
            let response = tokio::time::timeout(std::time::Duration::from_secs(10), request.send())
                .await
                .expect("no answer within 10 s")
                .unwrap();
            let to_sign_in = response
                .headers()
                .get(reqwest::header::LOCATION)
                .and_then(|v| v.to_str().ok())
                .is_some_and(|l| l.starts_with("/login"));
            if caller == Who::Anyone && *least > Who::Anyone && to_sign_in {
                continue;
            }
            if let Some(problem) = judge(caller, *least, response.status()) {
                escapes.push(format!("{method} {path} as {caller:?}: {problem}"));
            }
        }
    }
    assert!(
        escapes.is_empty(),
        "authorization matrix:\n{}",
        escapes.join("\n")
    );
}

/// `None` when the answer fits the policy. An allowed caller may still get
/// a 4xx for the harmless arguments, but never 401 or 403; a refused one
/// gets exactly 401 (visitor) or 403 (signed in).
fn judge(caller: Who, least: Who, status: StatusCode) -> Option<String> {
    let refused = matches!(status, StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN);
    match (caller >= least, caller) {
        (true, _) if !refused => None,
        (true, _) => Some("refused a caller who may use it".into()),
        (false, Who::Anyone) if status == StatusCode::UNAUTHORIZED => None,
        (false, Who::Anyone) => Some("a visitor got past the sign-in check".into()),
        (false, _) if status == StatusCode::FORBIDDEN => None,
        (false, _) => Some(format!("a caller below {least:?} got past the role check")),
    }
}

async fn signed_in(
    app: &TestApp,
    c: reqwest::Client,
    credentials: Option<(&str, &str)>,
) -> reqwest::Client {
    if let Some((email, password)) = credentials {
        let response = login(app, &c, email, password).await;
        assert!(
            response.status().is_success() || response.status().is_redirection(),
            "sign-in of {email} failed: {}",
            response.status()
        );
    }
    c
}

fn registered_server_fns() -> BTreeSet<String> {
    leptos::server_fn::axum::server_fn_paths()
        .filter_map(|(path, _)| path.strip_prefix("/api/").map(str::to_owned))
        .collect()
}

fn page_paths() -> BTreeSet<String> {
    leptos_axum::generate_route_list(app::App)
        .into_iter()
        .map(|route| route.path().to_owned())
        .filter(|p| !p.is_empty())
        .collect()
}
