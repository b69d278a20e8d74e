//! Rooms in application mode over real HTTP: the server's webhook route
//! answers the emulator's validation handshake when an admin picks a room
//! (no delegate authorizes anything), ignores a notification with the
//! wrong clientState, and a real notification from the emulator (someone
//! books the room in Outlook) makes the slot unavailable through the
//! server's own room poller. Revoking and the system-wide disconnect
//! delete the subscriptions.

mod support;

use std::time::Duration;

use backend::bookings::{self, BookingError, BookingRequest};
use backend::entities::external_busy_block;
use chrono::{DateTime, DurationRound, TimeDelta, Utc};
use reqwest::StatusCode;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
use serde_json::json;
use support::{Db, TestApp, api_client, login, spawn_reachable_app, within_time_limit};

const ADMIN: (&str, &str) = ("admin@calbridge.test", "calbridge-admin");
const SEMINAR: &str = "room.seminar@contoso-library.onmicrosoft.com";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_webhook_over_http() {
    let app = app(Db::Sqlite).await.unwrap();
    within_time_limit(webhook_over_http(app)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_webhook_over_http() {
    match app(Db::Postgres).await {
        Some(app) => within_time_limit(webhook_over_http(app)).await,
        None => eprintln!("skipped: CALBRIDGE_TEST_POSTGRES_URL is not set"),
    }
}

async fn app(db: Db) -> Option<TestApp> {
    spawn_reachable_app(db, |f| {
        f.merge(("sync.room_mode", "application"))
            .merge(("sync.http_notifications", true))
            .merge(("sync.room_poll_interval_secs", 1))
    })
    .await
}

use support::rooms::set_up_application as set_up;

async fn call(
    app: &TestApp,
    c: &reqwest::Client,
    name: &str,
    form: &[(&str, &str)],
) -> reqwest::Response {
    c.post(app.url(&format!("/api/{name}")))
        .form(form)
        .send()
        .await
        .unwrap()
}

fn tomorrow(hour: i64) -> DateTime<Utc> {
    Utc::now().duration_trunc(TimeDelta::days(1)).unwrap()
        + TimeDelta::days(1)
        + TimeDelta::hours(hour)
}

async fn eventually<F, Fut>(what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    for _ in 0..200 {
        if check().await {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("timed out waiting for {what}");
}

async fn webhook_over_http(app: TestApp) {
    let space_id = set_up(&app).await;
    let id = space_id.to_string();
    let db = &app.backend.db;
    let api = api_client();
    login(&app, &api, ADMIN.0, ADMIN.1).await;

    // Nothing to authorize: the room can be picked at once.
    let view: serde_json::Value = call(&app, &api, "room_connection", &[("space_id", &id)])
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(view["status"], "active", "{view}");
    assert_eq!(view["account"], backend::rooms::app::APP_ACCOUNT);
    assert!(view["room_address"].is_null());

    // The handshake, as Graph sends it.
    let token =
        "Validation: Testing client application reachability for subscription Request-Id: 42";
    let r = reqwest::Client::new()
        .post(app.url(&format!(
            "/webhooks/graph?validationToken={}",
            urlencoding::encode(token)
        )))
        .header("content-type", "text/plain")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert!(
        r.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/plain")
    );
    assert_eq!(r.text().await.unwrap(), token);

    // Picking subscribes: the emulator's handshake reaches the route.
    let picked = call(
        &app,
        &api,
        "pick_room",
        &[("space_id", &id), ("address", SEMINAR)],
    )
    .await;
    assert_eq!(picked.status(), StatusCode::OK, "{:?}", picked.text().await);
    let subs = app.emulator().subscriptions();
    assert_eq!(subs.len(), 1);
    assert_eq!(subs[0].notification_url, app.url("/webhooks/graph"));
    let view: serde_json::Value = call(&app, &api, "room_connection", &[("space_id", &id)])
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(view["room_address"], SEMINAR);
    let text = view.to_string();
    let state = subs[0].client_state.clone().unwrap();
    assert!(!text.contains(&state), "the clientState never leaves");

    // The server's poller reads the room once.
    let link = || async {
        backend::rooms::link_of(db, space_id)
            .await
            .unwrap()
            .unwrap()
    };
    eventually("the first read of the room", || async {
        link().await.last_polled_at.is_some()
    })
    .await;
    let polled = link().await.last_polled_at;

    // A forged notification (wrong clientState) is accepted and ignored.
    let forged = json!({"value": [{
        "subscriptionId": subs[0].id,
        "clientState": "not-the-client-state",
        "changeType": "created",
        "resource": format!("Users/{SEMINAR}/Events/AAMkForged"),
    }]});
    let r = reqwest::Client::new()
        .post(app.url("/webhooks/graph"))
        .json(&forged)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::ACCEPTED);
    let junk = reqwest::Client::new()
        .post(app.url("/webhooks/graph"))
        .body("not json")
        .send()
        .await
        .unwrap();
    assert_eq!(junk.status(), StatusCode::BAD_REQUEST);
    let huge = reqwest::Client::new()
        .post(app.url("/webhooks/graph"))
        .header("content-type", "application/json")
        .body(format!("{{\"value\": [\"{}\"]}}", "x".repeat(300 * 1024)))
        .send()
        .await
        .unwrap();
    assert_eq!(huge.status(), StatusCode::PAYLOAD_TOO_LARGE);
    tokio::time::sleep(Duration::from_millis(2500)).await;
    assert_eq!(link().await.last_polled_at, polled, "no read was triggered");

    // Someone books the room in Outlook: Graph notifies, the server reads
    // the room, the slot is unavailable.
    app.emulator().clear_notifications();
    app.emulator()
        .outlook_create(
            SEMINAR,
            &json!({
                "subject": "Board meeting",
                "start": {"dateTime": tomorrow(13).format("%Y-%m-%dT%H:%M:%S").to_string(), "timeZone": "UTC"},
                "end": {"dateTime": tomorrow(14).format("%Y-%m-%dT%H:%M:%S").to_string(), "timeZone": "UTC"},
            }),
        )
        .unwrap();
    let got = app
        .emulator()
        .wait_for_notifications(1, Duration::from_secs(10))
        .await;
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].status, 202);
    eventually("the Outlook event to block the space", || async {
        !external_busy_block::Entity::find()
            .filter(external_busy_block::Column::OwnerKind.eq("space"))
            .filter(external_busy_block::Column::OwnerId.eq(space_id))
            .all(db)
            .await
            .unwrap()
            .is_empty()
    })
    .await;
    let taken = bookings::book(
        db,
        &BookingRequest {
            space_id,
            starts_at: tomorrow(13),
            slots: 1,
            patron_name: "Alan Turing",
            patron_email: "alan@example.org",
            created_by: None,
        },
        Utc::now(),
    )
    .await;
    assert!(matches!(taken, Err(BookingError::SlotTaken)), "{taken:?}");

    // A booking reaches the room through the server's workers.
    bookings::book(
        db,
        &BookingRequest {
            space_id,
            starts_at: tomorrow(9),
            slots: 1,
            patron_name: "Ada Lovelace",
            patron_email: "ada@example.org",
            created_by: None,
        },
        Utc::now(),
    )
    .await
    .unwrap();
    app.backend.sync.wake();
    eventually("the booking on the room", || async {
        app.emulator().events(SEMINAR).len() == 2
    })
    .await;

    // Revoking deletes the subscription; the events stay.
    let r = call(&app, &api, "revoke_room", &[("space_id", &id)]).await;
    assert_eq!(r.status(), StatusCode::OK);
    assert!(app.emulator().subscriptions().is_empty());
    assert_eq!(app.emulator().events(SEMINAR).len(), 2);

    // Picked again, then everything is disconnected: the subscription
    // goes too.
    let picked = call(
        &app,
        &api,
        "pick_room",
        &[("space_id", &id), ("address", SEMINAR)],
    )
    .await;
    assert_eq!(picked.status(), StatusCode::OK);
    assert_eq!(app.emulator().subscriptions().len(), 1);
    let r = call(&app, &api, "disconnect_integration", &[("confirm", "true")]).await;
    let status = r.status();
    let message = r.text().await.unwrap();
    assert_eq!(status, StatusCode::OK, "{message}");
    assert!(
        message.contains("1 room subscription(s) deleted"),
        "{message}"
    );
    assert!(app.emulator().subscriptions().is_empty());
    assert_eq!(app.emulator().events(SEMINAR).len(), 2);
}
