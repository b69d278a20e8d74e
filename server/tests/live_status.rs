//! Live sync status over real HTTP: the event streams start with the
//! status as it is (state only for visitors, detail for admins), push a
//! change when an event placed on the room "in Outlook" makes a slot
//! unavailable, and refuse callers who may not see them. The admin's
//! dashboard lists the space and "Resync now" queues its bookings again.

mod support;

use std::time::Duration;

use chrono::{NaiveTime, TimeDelta, TimeZone, Utc};
use chrono_tz::Europe::London;
use reqwest::StatusCode;
use serde_json::json;
use support::live::{EventStream, free_at};
use support::rooms::{ADMIN, SEMINAR, connected_space};
use support::{TestApp, client, json as parse, post, signed_in};

const STAFF: (&str, &str) = ("sam@calbridge.test", "calbridge-staff");
const PATRON: (&str, &str) = ("pat@calbridge.test", "calbridge-patron");

on_both_databases!(
    a_room_event_reaches_an_open_space_page,
    streams_check_who_listens
);

/// Tomorrow 10:00–11:00 in the space's zone (London).
fn tomorrow_at_ten() -> (chrono::DateTime<Utc>, String) {
    let day = Utc::now().with_timezone(&London).date_naive() + TimeDelta::days(1);
    let start = London
        .from_local_datetime(&day.and_time(NaiveTime::from_hms_opt(10, 0, 0).unwrap()))
        .earliest()
        .unwrap()
        .with_timezone(&Utc);
    (start, day.format("%Y-%m-%d").to_string())
}

async fn a_room_event_reaches_an_open_space_page(app: TestApp) {
    let space_id = connected_space(&app).await;
    let path = format!("/events/spaces/{space_id}/sync");

    // A visitor's stream: the state, no detail.
    let mut visitor = EventStream::open(&client(), &app, &path).await;
    let first = visitor
        .next(Duration::from_secs(10))
        .await
        .expect("a first status");
    assert_eq!(first["subject_kind"], "space");
    assert!(first["detail"].is_null(), "{first}");
    assert!(
        ["active", "syncing"].contains(&first["state"].as_str().unwrap()),
        "{first}"
    );

    // An admin's stream: the detail, with the room.
    let admin = signed_in(&app, ADMIN).await;
    let mut admin_stream = EventStream::open(&admin, &app, &path).await;
    let detailed = admin_stream.next(Duration::from_secs(10)).await.unwrap();
    assert!(
        detailed["detail"]["room"]
            .as_str()
            .unwrap()
            .contains(SEMINAR),
        "{detailed}"
    );

    // The room's first read may still be on its way; let it settle.
    while visitor.next(Duration::from_millis(1500)).await.is_some() {}

    // Someone books the room in Outlook.
    let (start, date) = tomorrow_at_ten();
    assert!(free_at(&app, space_id, &date, start).await);
    let fmt = |t: chrono::DateTime<Utc>| t.format("%Y-%m-%dT%H:%M:%S").to_string();
    app.emulator()
        .outlook_create(
            SEMINAR,
            &json!({
                "subject": "Board meeting",
                "start": {"dateTime": fmt(start), "timeZone": "UTC"},
                "end": {"dateTime": fmt(start + TimeDelta::hours(1)), "timeZone": "UTC"},
                "showAs": "busy",
            }),
        )
        .unwrap();
    // "Resync now" reads the room at the poller's next tick.
    let (status, body) = post(
        &admin,
        &app,
        "resync_now",
        &[
            ("subject_kind", "space".to_owned()),
            ("subject_id", space_id.to_string()),
        ],
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(body.contains("Resync started"), "{body}");

    // The open page is told, without asking, and the slot is taken.
    let pushed = visitor
        .next(Duration::from_secs(20))
        .await
        .expect("a push after the room changed");
    assert_eq!(pushed["subject_id"], space_id);
    let mut taken = false;
    for _ in 0..50 {
        if !free_at(&app, space_id, &date, start).await {
            taken = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(taken, "the slot became unavailable");

    // The dashboard lists the space with its state.
    let (status, body) = post(&admin, &app, "sync_overview", &[]).await;
    assert_eq!(status, StatusCode::OK);
    let rows = parse(&body);
    let row = rows
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["subject_kind"] == "space" && r["subject_id"] == space_id)
        .expect("the space is on the dashboard")
        .clone();
    assert!(row["name"].as_str().is_some(), "{row}");
    assert!(!row.to_string().contains("token"), "{row}");
}

async fn streams_check_who_listens(app: TestApp) {
    // Staff see their own sync; patrons may not.
    let staff = signed_in(&app, STAFF).await;
    let mut own = EventStream::open(&staff, &app, "/events/staff/sync").await;
    let status = own.next(Duration::from_secs(10)).await.unwrap();
    assert_eq!(status["subject_kind"], "staff");
    assert_eq!(status["state"], "not_connected");
    assert!(status["detail"].is_object());

    let patron = signed_in(&app, PATRON).await;
    let r = patron
        .get(app.url("/events/staff/sync"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    // The dashboard's stream is for admins only.
    let r = staff.get(app.url("/events/sync")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    let admin = signed_in(&app, ADMIN).await;
    let mut all = EventStream::open(&admin, &app, "/events/sync").await;
    let first = all.next(Duration::from_secs(10)).await.unwrap();
    assert!(first["name"].is_string(), "{first}");

    // "Resync now" refuses what is not connected, and patrons altogether.
    let (status, body) = post(
        &admin,
        &app,
        "resync_now",
        &[
            ("subject_kind", "space".to_owned()),
            ("subject_id", "1".to_owned()),
        ],
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert!(body.contains("Nothing to resync"), "{body}");
    let (status, _) = post(
        &patron,
        &app,
        "resync_now",
        &[
            ("subject_kind", "space".to_owned()),
            ("subject_id", "1".to_owned()),
        ],
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
}

/// Two instances on one PostgreSQL: a page held open by one hears a change
/// made through the other (LISTEN/NOTIFY).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_change_on_one_instance_reaches_pages_served_by_another() {
    let Some(first) = support::spawn_app(support::Db::Postgres).await else {
        eprintln!("skipped: CALBRIDGE_TEST_POSTGRES_URL is not set");
        return;
    };
    support::within_time_limit(async move {
        let space_id = connected_space(&first).await;
        let second = first.second_instance().await;
        let path = format!("/events/spaces/{space_id}/sync");
        let mut page = EventStream::open(&client(), &second, &path).await;
        page.next(Duration::from_secs(10))
            .await
            .expect("a first status");
        while page.next(Duration::from_millis(1500)).await.is_some() {}

        // Revoked through the first instance: only it publishes the change.
        let admin = signed_in(&first, ADMIN).await;
        let (status, body) = post(
            &admin,
            &first,
            "revoke_room",
            &[("space_id", space_id.to_string())],
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        let pushed = page
            .next(Duration::from_secs(10))
            .await
            .expect("the second instance's page heard the first's change");
        assert_eq!(pushed["state"], "revoked", "{pushed}");
    })
    .await;
}
