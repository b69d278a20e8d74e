//! Graph: rooms, delegate access, app-only tokens, calendarView, delta and getSchedule.

mod common;

use chrono::Duration;
use common::*;
use emulator::state::SignInAudience;
use emulator::{DEMO, NewApp};
use serde_json::{Value, json};

const SHARED: &str =
    "offline_access Calendars.ReadWrite Calendars.ReadWrite.Shared User.Read Place.Read.All";

const ROOMS: &str = "/places/microsoft.graph.room";

/// A Graph client for a demo account with these scopes.
async fn api_for(
    emu: &emulator::EmulatorHandle,
    who: emulator::seed::DemoAccount,
    scopes: &str,
) -> Api {
    Api::new(emu, &access_token(emu, who.upn, who.password, scopes).await)
}

#[tokio::test]
async fn rooms_list_needs_place_read_all_and_a_work_account() {
    let emu = start().await;
    let r = api_for(&emu, DEMO.facilities, SHARED)
        .await
        .get(ROOMS)
        .await;
    assert_eq!(r.status, 200);
    let rooms = r.body["value"].as_array().unwrap();
    assert_eq!(rooms.len(), 3);
    let seminar = rooms
        .iter()
        .find(|r| r["displayName"] == "Seminar Room")
        .unwrap();
    assert_eq!(seminar["capacity"], 20);
    assert_eq!(seminar["emailAddress"], DEMO.rooms[1].address);

    let without = api_for(&emu, DEMO.staff[0], SCOPES).await;
    assert_eq!(without.get(ROOMS).await.status, 403);
    let personal = api_for(&emu, DEMO.personal, SCOPES).await;
    assert_eq!(personal.get(ROOMS).await.status, 403);
}

#[tokio::test]
async fn delegate_writes_room_calendar_non_delegate_gets_403() {
    let emu = start().await;
    let room = DEMO.rooms[0].address;
    let path = format!("/users/{room}/calendar/events");
    let body = event_body("Study group", "2030-05-01T10:00:00", "2030-05-01T11:00:00");
    let delegate = api_for(&emu, DEMO.facilities, SHARED).await;
    assert_eq!(delegate.post(&path, &body).await.status, 201);
    assert_eq!(emu.events(room).len(), 1);

    let other = api_for(&emu, DEMO.staff[0], SHARED).await;
    let r = other.post(&path, &body).await;
    assert_eq!(r.status, 403);
    assert_eq!(r.error_code(), "ErrorAccessDenied");
    assert_eq!(emu.events(room).len(), 1);
}

#[tokio::test]
async fn delegate_without_shared_scope_gets_403() {
    let emu = start().await;
    let api = api_for(&emu, DEMO.facilities, SCOPES).await;
    let r = api
        .get(&format!("/users/{}/events", DEMO.rooms[0].address))
        .await;
    assert_eq!(r.status, 403);
}

#[tokio::test]
async fn app_only_token_limited_by_access_policy() {
    let emu = start().await;
    let (app, token) = app_only_token(&emu, &["Calendars.ReadWrite", "Place.Read.All"]).await;
    let api = Api::new(&emu, &token);
    let room_a = DEMO.rooms[0].address;
    let staff = DEMO.staff[0].upn;
    assert_eq!(api.get(&format!("/users/{staff}/events")).await.status, 200);
    let rooms = DEMO
        .rooms
        .iter()
        .map(|r| emu.user_id(r.address).unwrap())
        .collect();
    emu.set_app_only_mailboxes(app.client_id, Some(rooms));
    assert_eq!(
        api.get(&format!("/users/{room_a}/events")).await.status,
        200
    );
    let r = api.get(&format!("/users/{staff}/events")).await;
    assert_eq!(r.status, 403);
    let message = r.body["error"]["message"].as_str().unwrap();
    assert!(message.contains("AccessPolicy"), "{message}");
    // /me means nothing to an app-only token.
    assert_eq!(api.get("/me/events").await.status, 400);
}

#[tokio::test]
async fn app_only_token_without_admin_consent_has_no_roles() {
    let emu = start().await;
    let mut new = NewApp::web(
        "No consent",
        DEMO.tenant_id,
        SignInAudience::AzureADMyOrg,
        REDIRECT,
    );
    new.application_permissions = vec!["Calendars.ReadWrite".into()];
    let app = emu.register_app(new);
    let resp = client_credentials(&emu, &app).await.unwrap();
    let body: Value = resp.json().await.unwrap();
    let api = Api::new(&emu, body["access_token"].as_str().unwrap());
    let r = api
        .get(&format!("/users/{}/events", DEMO.rooms[0].address))
        .await;
    assert_eq!(r.status, 403);
}

fn field<'a>(r: &'a Reply, f: impl Fn(&'a Value) -> &'a Value) -> Vec<&'a str> {
    r.body["value"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| f(e).as_str().unwrap())
        .collect()
}

#[tokio::test]
async fn calendar_view_returns_overlapping_events_and_needs_a_window() {
    let emu = start().await;
    let s = DEMO.staff[0];
    let api = api_for(&emu, s, SCOPES).await;
    emu.outlook_create(
        s.upn,
        &event_body("in", "2030-05-01T09:30:00", "2030-05-01T10:30:00"),
    )
    .unwrap();
    emu.outlook_create(
        s.upn,
        &event_body("out", "2030-05-02T09:00:00", "2030-05-02T10:00:00"),
    )
    .unwrap();
    let r = api
        .get("/me/calendarView?startDateTime=2030-05-01T10:00:00Z&endDateTime=2030-05-01T12:00:00Z")
        .await;
    assert_eq!(field(&r, |e| &e["subject"]), ["in"]);
    assert_eq!(api.get("/me/calendarView").await.status, 400);
}

#[tokio::test]
async fn calendar_view_expands_weekly_series_across_dst() {
    let emu = start().await;
    let api = api_for(&emu, DEMO.staff[0], SCOPES).await;
    let series = json!({
        "subject": "Weekly desk shift",
        "start": {"dateTime": "2030-03-18T09:00:00", "timeZone": "Europe/Berlin"},
        "end": {"dateTime": "2030-03-18T10:00:00", "timeZone": "Europe/Berlin"},
        "recurrence": {
            "pattern": {"type": "weekly", "interval": 1, "daysOfWeek": ["monday"]},
            "range": {"type": "numbered", "startDate": "2030-03-18", "numberOfOccurrences": 3}
        }
    });
    let created = api.post("/me/events", &series).await;
    assert_eq!(created.status, 201);
    let master = created.body;
    assert_eq!(master["type"], "seriesMaster");
    let r = api
        .get("/me/calendarView?startDateTime=2030-03-01T00:00:00Z&endDateTime=2030-05-01T00:00:00Z")
        .await;
    // 09:00 Berlin = 08:00 UTC before 31 March 2030, 07:00 UTC after.
    assert_eq!(
        field(&r, |e| &e["start"]["dateTime"]),
        [
            "2030-03-18T08:00:00.0000000",
            "2030-03-25T08:00:00.0000000",
            "2030-04-01T07:00:00.0000000"
        ]
    );
    assert!(
        r.body["value"]
            .as_array()
            .unwrap()
            .iter()
            .all(|e| e["type"] == "occurrence" && e["seriesMasterId"] == master["id"])
    );
}

/// Follow a delta round to its deltaLink: (items, deltaLink, pages).
async fn delta_all(api: &Api, mut path: String, page: usize) -> (Vec<Value>, String, usize) {
    let mut items = vec![];
    let mut pages = 0;
    let prefer = format!("odata.maxpagesize={page}");
    loop {
        let r = api.get_with(&path, &[("Prefer", &prefer)]).await;
        assert_eq!(r.status, 200, "{path}");
        pages += 1;
        items.extend(r.body["value"].as_array().unwrap().iter().cloned());
        if let Some(next) = r.body["@odata.nextLink"].as_str() {
            assert!(next.contains("$skiptoken="));
            path = next.to_string();
        } else {
            let delta = r.body["@odata.deltaLink"]
                .as_str()
                .expect("deltaLink at the end");
            assert!(delta.contains("$deltatoken="));
            return (items, delta.to_string(), pages);
        }
    }
}

#[tokio::test]
async fn delta_pages_then_reports_changes_and_removals() {
    let emu = start().await;
    let room = DEMO.rooms[1].address;
    let api = api_for(&emu, DEMO.facilities, SHARED).await;
    let mut ids = vec![];
    for i in 0..5 {
        let ev = emu
            .outlook_create(
                room,
                &event_body(
                    &format!("b{i}"),
                    &format!("2030-06-0{}T10:00:00", i + 1),
                    &format!("2030-06-0{}T11:00:00", i + 1),
                ),
            )
            .unwrap();
        ids.push(ev["id"].as_str().unwrap().to_string());
    }
    let start = format!(
        "/users/{room}/calendarView/delta?startDateTime=2030-06-01T00:00:00Z&endDateTime=2030-07-01T00:00:00Z"
    );
    let (items, delta, pages) = delta_all(&api, start, 2).await;
    assert_eq!(items.len(), 5);
    assert_eq!(pages, 3);

    // Nothing changed: an empty round.
    let (items, delta, _) = delta_all(&api, delta, 2).await;
    assert!(items.is_empty());

    // A person edits in Outlook: one moved inside, one moved out, one deleted, one new.
    emu.outlook_update(room, &ids[0], &json!({"subject": "renamed"}))
        .unwrap();
    emu.outlook_update(room, &ids[1], &json!({"start": {"dateTime": "2030-08-01T10:00:00", "timeZone": "UTC"}, "end": {"dateTime": "2030-08-01T11:00:00", "timeZone": "UTC"}})).unwrap();
    emu.outlook_delete(room, &ids[2]).unwrap();
    emu.outlook_create(
        room,
        &event_body("new", "2030-06-20T10:00:00", "2030-06-20T11:00:00"),
    )
    .unwrap();
    let (items, _, _) = delta_all(&api, delta, 10).await;
    let removed: Vec<&str> = items
        .iter()
        .filter(|i| i.get("@removed").is_some())
        .map(|i| i["id"].as_str().unwrap())
        .collect();
    assert_eq!(removed.len(), 2);
    assert!(removed.contains(&ids[1].as_str()) && removed.contains(&ids[2].as_str()));
    let subjects: Vec<&str> = items.iter().filter_map(|i| i["subject"].as_str()).collect();
    assert!(subjects.contains(&"renamed") && subjects.contains(&"new"));
    assert_eq!(subjects.len(), 2);
}

#[tokio::test]
async fn expired_delta_token_is_410_sync_state_not_found() {
    let emu = start().await;
    let s = DEMO.staff[0];
    let api = api_for(&emu, s, SCOPES).await;
    let start = "/me/calendarView/delta?startDateTime=2030-06-01T00:00:00Z&endDateTime=2030-07-01T00:00:00Z";
    let (_, delta, _) = delta_all(&api, start.to_string(), 10).await;
    emu.expire_delta_tokens();
    let r = api.get(&delta).await;
    assert_eq!(r.status, 410);
    assert_eq!(r.error_code(), "syncStateNotFound");

    // Tokens also age out by the clock.
    let (_, delta, _) = delta_all(&api, start.to_string(), 10).await;
    emu.update_settings(|s| s.delta_token_ttl_secs = 60);
    emu.advance_clock(Duration::seconds(61));
    let fresh = api_for(&emu, s, SCOPES).await;
    assert_eq!(fresh.get(&delta).await.status, 410);
}

#[tokio::test]
async fn get_schedule_reports_availability_view() {
    let emu = start().await;
    let room = DEMO.rooms[2].address;
    let mut busy = event_body("busy", "2030-06-03T09:00:00", "2030-06-03T10:00:00");
    busy["showAs"] = json!("busy");
    emu.outlook_create(room, &busy).unwrap();
    let mut tentative = event_body("maybe", "2030-06-03T10:30:00", "2030-06-03T11:00:00");
    tentative["showAs"] = json!("tentative");
    emu.outlook_create(room, &tentative).unwrap();
    let api = api_for(&emu, DEMO.staff[0], SCOPES).await;
    let body = json!({
        "schedules": [room],
        "startTime": {"dateTime": "2030-06-03T08:00:00", "timeZone": "UTC"},
        "endTime": {"dateTime": "2030-06-03T12:00:00", "timeZone": "UTC"},
        "availabilityViewInterval": 30
    });
    let r = api.post("/me/calendar/getSchedule", &body).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.body["value"][0]["availabilityView"], "00220100");
    assert_eq!(
        r.body["value"][0]["scheduleItems"]
            .as_array()
            .unwrap()
            .len(),
        2
    );
}
