//! Graph: rooms, delegate access, app-only tokens, calendarView, delta and getSchedule.

mod common;

use chrono::Duration;
use common::*;
use emulator::state::SignInAudience;
use emulator::{DEMO, NewApp};
use serde_json::{Value, json};

const SHARED: &str =
    "offline_access Calendars.ReadWrite Calendars.ReadWrite.Shared User.Read Place.Read.All";

#[tokio::test]
async fn rooms_list_needs_place_read_all_and_a_work_account() {
    let emu = start().await;
    let f = DEMO.facilities;
    let token = access_token(&emu, f.upn, f.password, SHARED).await;
    let resp = http()
        .get(graph(&emu, "/places/microsoft.graph.room"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let body: Value = resp.json().await.unwrap();
    let rooms = body["value"].as_array().unwrap();
    assert_eq!(rooms.len(), 3);
    let seminar = rooms
        .iter()
        .find(|r| r["displayName"] == "Seminar Room")
        .unwrap();
    assert_eq!(seminar["capacity"], 20);
    assert_eq!(seminar["emailAddress"], DEMO.rooms[1].address);

    let s = DEMO.staff[0];
    let without = access_token(&emu, s.upn, s.password, SCOPES).await;
    let resp = http()
        .get(graph(&emu, "/places/microsoft.graph.room"))
        .bearer_auth(&without)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 403);

    let p = DEMO.personal;
    let personal = access_token(&emu, p.upn, p.password, SCOPES).await;
    let resp = http()
        .get(graph(&emu, "/places/microsoft.graph.room"))
        .bearer_auth(&personal)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 403);
}

#[tokio::test]
async fn delegate_writes_room_calendar_non_delegate_gets_403() {
    let emu = start().await;
    let room = DEMO.rooms[0].address;
    let url = graph(&emu, &format!("/users/{room}/calendar/events"));
    let body = event_body("Study group", "2030-05-01T10:00:00", "2030-05-01T11:00:00");
    let f = DEMO.facilities;
    let token = access_token(&emu, f.upn, f.password, SHARED).await;
    let resp = http()
        .post(&url)
        .bearer_auth(&token)
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 201);
    assert_eq!(emu.events(room).len(), 1);

    let s = DEMO.staff[0];
    let other = access_token(&emu, s.upn, s.password, SHARED).await;
    let resp = http()
        .post(&url)
        .bearer_auth(&other)
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 403);
    let err: Value = resp.json().await.unwrap();
    assert_eq!(err["error"]["code"], "ErrorAccessDenied");
    assert_eq!(emu.events(room).len(), 1);
}

#[tokio::test]
async fn delegate_without_shared_scope_gets_403() {
    let emu = start().await;
    let f = DEMO.facilities;
    let token = access_token(&emu, f.upn, f.password, SCOPES).await;
    let url = graph(&emu, &format!("/users/{}/events", DEMO.rooms[0].address));
    let resp = http().get(&url).bearer_auth(&token).send().await.unwrap();
    assert_eq!(resp.status(), 403);
}

async fn app_token(emu: &emulator::EmulatorHandle) -> (emulator::RegisteredApp, String) {
    app_only_token(emu, &["Calendars.ReadWrite", "Place.Read.All"]).await
}

#[tokio::test]
async fn app_only_token_limited_by_access_policy() {
    let emu = start().await;
    let (app, token) = app_token(&emu).await;
    let room_a = DEMO.rooms[0].address;
    let staff = DEMO.staff[0].upn;
    let c = http();
    assert_eq!(
        c.get(graph(&emu, &format!("/users/{staff}/events")))
            .bearer_auth(&token)
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    emu.set_app_only_mailboxes(
        app.client_id,
        Some(
            DEMO.rooms
                .iter()
                .map(|r| emu.user_id(r.address).unwrap())
                .collect(),
        ),
    );
    assert_eq!(
        c.get(graph(&emu, &format!("/users/{room_a}/events")))
            .bearer_auth(&token)
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    let resp = c
        .get(graph(&emu, &format!("/users/{staff}/events")))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 403);
    let err: Value = resp.json().await.unwrap();
    assert!(
        err["error"]["message"]
            .as_str()
            .unwrap()
            .contains("AccessPolicy")
    );
    // /me means nothing to an app-only token.
    assert_eq!(
        c.get(graph(&emu, "/me/events"))
            .bearer_auth(&token)
            .send()
            .await
            .unwrap()
            .status(),
        400
    );
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
    let (_, body) = token_request(
        &emu,
        DEMO.tenant_domain,
        &[
            ("grant_type", "client_credentials"),
            ("client_id", &app.client_id.to_string()),
            ("client_secret", &app.secret_value),
            ("scope", "https://graph.microsoft.com/.default"),
        ],
    )
    .await;
    let token = body["access_token"].as_str().unwrap();
    let resp = http()
        .get(graph(
            &emu,
            &format!("/users/{}/events", DEMO.rooms[0].address),
        ))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 403);
}

#[tokio::test]
async fn calendar_view_returns_overlapping_events_and_needs_a_window() {
    let emu = start().await;
    let s = DEMO.staff[0];
    let token = access_token(&emu, s.upn, s.password, SCOPES).await;
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
    let c = http();
    let url = graph(
        &emu,
        "/me/calendarView?startDateTime=2030-05-01T10:00:00Z&endDateTime=2030-05-01T12:00:00Z",
    );
    let body: Value = c
        .get(&url)
        .bearer_auth(&token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let subjects: Vec<&str> = body["value"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["subject"].as_str().unwrap())
        .collect();
    assert_eq!(subjects, ["in"]);
    let resp = c
        .get(graph(&emu, "/me/calendarView"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 400);
}

#[tokio::test]
async fn calendar_view_expands_weekly_series_across_dst() {
    let emu = start().await;
    let s = DEMO.staff[0];
    let token = access_token(&emu, s.upn, s.password, SCOPES).await;
    let series = json!({
        "subject": "Weekly desk shift",
        "start": {"dateTime": "2030-03-18T09:00:00", "timeZone": "Europe/Berlin"},
        "end": {"dateTime": "2030-03-18T10:00:00", "timeZone": "Europe/Berlin"},
        "recurrence": {
            "pattern": {"type": "weekly", "interval": 1, "daysOfWeek": ["monday"]},
            "range": {"type": "numbered", "startDate": "2030-03-18", "numberOfOccurrences": 3}
        }
    });
    let c = http();
    let resp = c
        .post(graph(&emu, "/me/events"))
        .bearer_auth(&token)
        .json(&series)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 201);
    let master: Value = resp.json().await.unwrap();
    assert_eq!(master["type"], "seriesMaster");
    let url = graph(
        &emu,
        "/me/calendarView?startDateTime=2030-03-01T00:00:00Z&endDateTime=2030-05-01T00:00:00Z",
    );
    let body: Value = c
        .get(&url)
        .bearer_auth(&token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let starts: Vec<&str> = body["value"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["start"]["dateTime"].as_str().unwrap())
        .collect();
    // 09:00 Berlin = 08:00 UTC before 31 March 2030, 07:00 UTC after.
    assert_eq!(
        starts,
        [
            "2030-03-18T08:00:00.0000000",
            "2030-03-25T08:00:00.0000000",
            "2030-04-01T07:00:00.0000000"
        ]
    );
    assert!(
        body["value"]
            .as_array()
            .unwrap()
            .iter()
            .all(|e| e["type"] == "occurrence" && e["seriesMasterId"] == master["id"])
    );
}

async fn delta_all(
    c: &reqwest::Client,
    token: &str,
    mut url: String,
    page: usize,
) -> (Vec<Value>, String, usize) {
    let mut items = vec![];
    let mut pages = 0;
    loop {
        let resp = c
            .get(&url)
            .bearer_auth(token)
            .header("Prefer", format!("odata.maxpagesize={page}"))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 200, "{url}");
        let body: Value = resp.json().await.unwrap();
        pages += 1;
        items.extend(body["value"].as_array().unwrap().iter().cloned());
        if let Some(next) = body["@odata.nextLink"].as_str() {
            assert!(next.contains("$skiptoken="));
            url = next.to_string();
        } else {
            let delta = body["@odata.deltaLink"]
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
    let f = DEMO.facilities;
    let token = access_token(&emu, f.upn, f.password, SHARED).await;
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
    let c = http();
    let start = graph(
        &emu,
        &format!(
            "/users/{room}/calendarView/delta?startDateTime=2030-06-01T00:00:00Z&endDateTime=2030-07-01T00:00:00Z"
        ),
    );
    let (items, delta, pages) = delta_all(&c, &token, start, 2).await;
    assert_eq!(items.len(), 5);
    assert_eq!(pages, 3);

    // Nothing changed: an empty round.
    let (items, delta, _) = delta_all(&c, &token, delta, 2).await;
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
    let (items, _, _) = delta_all(&c, &token, delta, 10).await;
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
    let token = access_token(&emu, s.upn, s.password, SCOPES).await;
    let c = http();
    let (_, delta, _) = delta_all(&c, &token, graph(&emu, "/me/calendarView/delta?startDateTime=2030-06-01T00:00:00Z&endDateTime=2030-07-01T00:00:00Z"), 10).await;
    emu.expire_delta_tokens();
    let resp = c.get(&delta).bearer_auth(&token).send().await.unwrap();
    assert_eq!(resp.status(), 410);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["error"]["code"], "syncStateNotFound");

    // Tokens also age out by the clock.
    let (_, delta, _) = delta_all(&c, &token, graph(&emu, "/me/calendarView/delta?startDateTime=2030-06-01T00:00:00Z&endDateTime=2030-07-01T00:00:00Z"), 10).await;
    emu.update_settings(|s| s.delta_token_ttl_secs = 60);
    emu.advance_clock(Duration::seconds(61));
    let fresh = access_token(&emu, s.upn, s.password, SCOPES).await;
    assert_eq!(
        c.get(&delta)
            .bearer_auth(&fresh)
            .send()
            .await
            .unwrap()
            .status(),
        410
    );
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
    let s = DEMO.staff[0];
    let token = access_token(&emu, s.upn, s.password, SCOPES).await;
    let body = json!({
        "schedules": [room],
        "startTime": {"dateTime": "2030-06-03T08:00:00", "timeZone": "UTC"},
        "endTime": {"dateTime": "2030-06-03T12:00:00", "timeZone": "UTC"},
        "availabilityViewInterval": 30
    });
    let resp = http()
        .post(graph(&emu, "/me/calendar/getSchedule"))
        .bearer_auth(&token)
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let out: Value = resp.json().await.unwrap();
    assert_eq!(out["value"][0]["availabilityView"], "00220100");
    assert_eq!(
        out["value"][0]["scheduleItems"].as_array().unwrap().len(),
        2
    );
}
