//! Graph: /me and events CRUD, as a client sees them.

mod common;

use chrono::Duration;
use common::*;
use emulator::DEMO;
use serde_json::json;

async fn staff_api(emu: &emulator::EmulatorHandle) -> Api {
    Api::new(emu, &staff_token(emu).await)
}

#[tokio::test]
async fn me_returns_the_signed_in_user() {
    let emu = start().await;
    let r = staff_api(&emu).await.get("/me").await;
    assert_eq!(r.status, 200);
    assert!(r.header("request-id").is_some());
    assert_eq!(r.body["userPrincipalName"], DEMO.staff[0].upn);
    assert_eq!(r.body["displayName"], DEMO.staff[0].display_name);
}

#[tokio::test]
async fn me_without_user_read_is_403() {
    let emu = start().await;
    let s = DEMO.staff[0];
    let token = access_token(&emu, s.upn, s.password, "Calendars.ReadWrite").await;
    let r = Api::new(&emu, &token).get("/me").await;
    assert_eq!(r.status, 403);
    assert_eq!(r.error_code(), "Authorization_RequestDenied");
}

#[tokio::test]
async fn missing_garbage_and_expired_tokens_are_401() {
    let emu = start().await;
    let resp = http().get(graph(&emu, "/me/events")).send().await.unwrap();
    assert_eq!(resp.status(), 401);
    assert!(resp.headers().contains_key("www-authenticate"));
    let r = Api::new(&emu, "").get("/me/events").await;
    assert_eq!(r.error_code(), "InvalidAuthenticationToken");
    let r = Api::new(&emu, "garbage").get("/me/events").await;
    assert_eq!(r.status, 401);
    let api = staff_api(&emu).await;
    assert_eq!(api.get("/me/events").await.status, 200);
    emu.advance_clock(Duration::seconds(3601));
    let r = api.get("/me/events").await;
    assert_eq!(r.status, 401);
    assert_eq!(r.error_code(), "InvalidAuthenticationToken");
}

#[tokio::test]
async fn create_get_update_delete_an_event() {
    let emu = start().await;
    let api = staff_api(&emu).await;
    let body = event_body("Appointment", "2030-05-01T10:00:00", "2030-05-01T10:30:00");
    let created = api.post("/me/events", &body).await;
    assert_eq!(created.status, 201);
    let ev = created.body;
    let id = ev["id"].as_str().unwrap().to_string();
    assert_eq!(ev["start"]["dateTime"], "2030-05-01T10:00:00.0000000");
    assert_eq!(ev["start"]["timeZone"], "UTC");
    assert_eq!(ev["showAs"], "busy");
    assert_eq!(ev["type"], "singleInstance");

    let path = format!("/me/calendar/events/{id}");
    assert_eq!(api.get(&path).await.body["subject"], "Appointment");

    let moved = json!({"subject": "Moved", "start": {"dateTime": "2030-05-01T11:00:00", "timeZone": "UTC"}, "end": {"dateTime": "2030-05-01T11:30:00", "timeZone": "UTC"}});
    let patched = api.patch(&path, &moved).await.body;
    assert_eq!(patched["subject"], "Moved");
    assert_eq!(patched["start"]["dateTime"], "2030-05-01T11:00:00.0000000");
    assert_ne!(patched["changeKey"], ev["changeKey"]);
    assert_eq!(emu.events(DEMO.staff[0].upn)[0]["subject"], "Moved");

    assert_eq!(api.delete(&path).await.status, 204);
    let r = api.get(&path).await;
    assert_eq!(r.status, 404);
    assert_eq!(r.error_code(), "ErrorItemNotFound");
    assert!(emu.events(DEMO.staff[0].upn).is_empty());
}

#[tokio::test]
async fn same_transaction_id_never_duplicates() {
    let emu = start().await;
    let api = staff_api(&emu).await;
    let mut body = event_body("Booking 42", "2030-05-01T10:00:00", "2030-05-01T11:00:00");
    body["transactionId"] = json!("calbridge-appointment-42");
    let mut ids = vec![];
    for _ in 0..3 {
        let r = api.post("/me/events", &body).await;
        assert_eq!(r.status, 201);
        ids.push(r.body["id"].as_str().unwrap().to_string());
    }
    assert!(ids.iter().all(|i| i == &ids[0]));
    assert_eq!(emu.events(DEMO.staff[0].upn).len(), 1);
}

#[tokio::test]
async fn unknown_event_ids_are_404_on_every_verb() {
    let emu = start().await;
    let api = staff_api(&emu).await;
    let path = "/me/events/AAMkNOPE";
    for r in [
        api.get(path).await,
        api.patch(path, &json!({"subject": "x"})).await,
        api.delete(path).await,
    ] {
        assert_eq!(r.status, 404);
        assert_eq!(r.error_code(), "ErrorItemNotFound");
    }
}

#[tokio::test]
async fn unknown_property_is_refused() {
    let emu = start().await;
    let mut body = event_body("x", "2030-05-01T10:00:00", "2030-05-01T11:00:00");
    body["colour"] = json!("red");
    let r = staff_api(&emu).await.post("/me/events", &body).await;
    assert_eq!(r.status, 400);
    assert_eq!(r.error_code(), "RequestBodyRead");
}

#[tokio::test]
async fn time_zones_iana_and_windows_are_converted() {
    let emu = start().await;
    let api = staff_api(&emu).await;
    // 10:00 in Berlin in summer is 08:00 UTC; 10:00 in New York in winter is 15:00 UTC.
    for (zone, local, utc) in [
        (
            "Europe/Berlin",
            "2030-07-01T10:00:00",
            "2030-07-01T08:00:00.0000000",
        ),
        (
            "W. Europe Standard Time",
            "2030-07-01T10:00:00",
            "2030-07-01T08:00:00.0000000",
        ),
        (
            "Eastern Standard Time",
            "2030-01-15T10:00:00",
            "2030-01-15T15:00:00.0000000",
        ),
    ] {
        let body = json!({"subject": zone, "start": {"dateTime": local, "timeZone": zone}, "end": {"dateTime": local, "timeZone": zone}});
        let ev = api.post("/me/events", &body).await.body;
        assert_eq!(ev["start"]["dateTime"], utc, "{zone}");
        assert_eq!(ev["originalStartTimeZone"], zone);
    }
    let body = json!({"subject": "bad", "start": {"dateTime": "2030-07-01T10:00:00", "timeZone": "Mars/Olympus"}, "end": {"dateTime": "2030-07-01T11:00:00", "timeZone": "UTC"}});
    let r = api.post("/me/events", &body).await;
    assert_eq!(r.status, 400);
    assert_eq!(r.error_code(), "TimeZoneNotSupportedException");
}

#[tokio::test]
async fn prefer_outlook_timezone_renders_local_times() {
    let emu = start().await;
    let api = staff_api(&emu).await;
    let body = event_body("x", "2030-07-01T08:00:00", "2030-07-01T09:00:00");
    let ev = api.post("/me/events", &body).await.body;
    let path = format!("/me/events/{}", ev["id"].as_str().unwrap());
    let prefer = [("Prefer", "outlook.timezone=\"Pacific Standard Time\"")];
    let got = api.get_with(&path, &prefer).await.body;
    assert_eq!(got["start"]["dateTime"], "2030-07-01T01:00:00.0000000");
    assert_eq!(got["start"]["timeZone"], "Pacific Standard Time");
}

#[tokio::test]
async fn read_only_token_cannot_write() {
    let emu = start().await;
    let s = DEMO.staff[0];
    let token = access_token(&emu, s.upn, s.password, "Calendars.Read User.Read").await;
    let api = Api::new(&emu, &token);
    assert_eq!(api.get("/me/events").await.status, 200);
    let body = event_body("x", "2030-05-01T10:00:00", "2030-05-01T11:00:00");
    let r = api.post("/me/events", &body).await;
    assert_eq!(r.status, 403);
    assert_eq!(r.error_code(), "ErrorAccessDenied");
}

#[tokio::test]
async fn event_list_pages_by_ten_with_next_link() {
    let emu = start().await;
    let api = staff_api(&emu).await;
    for i in 0..12 {
        emu.outlook_create(
            DEMO.staff[0].upn,
            &event_body(
                &format!("e{i}"),
                &format!("2030-05-01T{:02}:00:00", i + 6),
                &format!("2030-05-01T{:02}:30:00", i + 6),
            ),
        )
        .unwrap();
    }
    let page = api.get("/me/events").await.body;
    assert_eq!(page["value"].as_array().unwrap().len(), 10);
    let next = page["@odata.nextLink"].as_str().unwrap();
    let page2 = api.get(next).await.body;
    assert_eq!(page2["value"].as_array().unwrap().len(), 2);
    assert!(page2.get("@odata.nextLink").is_none());
}

#[tokio::test]
async fn users_path_by_upn_and_by_id_reach_the_same_calendar() {
    let emu = start().await;
    let api = staff_api(&emu).await;
    let upn = DEMO.staff[0].upn;
    let id = emu.user_id(upn).unwrap();
    let body = event_body("via upn", "2030-05-01T10:00:00", "2030-05-01T11:00:00");
    let r = api
        .post(&format!("/users/{upn}/calendar/events"), &body)
        .await;
    assert_eq!(r.status, 201);
    let list = api.get(&format!("/users/{id}/events")).await.body;
    assert_eq!(list["value"][0]["subject"], "via upn");
    // Another staff member's calendar is not this token's to touch.
    let other = DEMO.staff[1].upn;
    assert_eq!(api.get(&format!("/users/{other}/events")).await.status, 403);
    let nobody = "/users/nobody@contoso-library.onmicrosoft.com/events";
    assert_eq!(api.get(nobody).await.status, 404);
}
