//! Graph: /me and events CRUD, as a client sees them.

mod common;

use chrono::Duration;
use common::*;
use emulator::DEMO;
use serde_json::{Value, json};

fn graph_error(body: &Value) -> String {
    let e = &body["error"];
    for f in ["date", "request-id", "client-request-id"] {
        assert!(e["innerError"][f].is_string(), "innerError.{f} in {body}");
    }
    assert!(e["message"].is_string());
    e["code"].as_str().unwrap().to_string()
}

#[tokio::test]
async fn me_returns_the_signed_in_user() {
    let emu = start().await;
    let token = staff_token(&emu).await;
    let resp = http()
        .get(graph(&emu, "/me"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert!(resp.headers().contains_key("request-id"));
    let me: Value = resp.json().await.unwrap();
    assert_eq!(me["userPrincipalName"], DEMO.staff[0].upn);
    assert_eq!(me["displayName"], DEMO.staff[0].display_name);
}

#[tokio::test]
async fn me_without_user_read_is_403() {
    let emu = start().await;
    let s = DEMO.staff[0];
    let token = access_token(&emu, s.upn, s.password, "Calendars.ReadWrite").await;
    let resp = http()
        .get(graph(&emu, "/me"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 403);
    assert_eq!(
        graph_error(&resp.json().await.unwrap()),
        "Authorization_RequestDenied"
    );
}

#[tokio::test]
async fn missing_garbage_and_expired_tokens_are_401() {
    let emu = start().await;
    let c = http();
    let resp = c.get(graph(&emu, "/me/events")).send().await.unwrap();
    assert_eq!(resp.status(), 401);
    assert!(resp.headers().contains_key("www-authenticate"));
    assert_eq!(
        graph_error(&resp.json().await.unwrap()),
        "InvalidAuthenticationToken"
    );
    let resp = c
        .get(graph(&emu, "/me/events"))
        .bearer_auth("garbage")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 401);
    let token = staff_token(&emu).await;
    assert_eq!(
        c.get(graph(&emu, "/me/events"))
            .bearer_auth(&token)
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    emu.advance_clock(Duration::seconds(3601));
    let resp = c
        .get(graph(&emu, "/me/events"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 401);
    assert_eq!(
        graph_error(&resp.json().await.unwrap()),
        "InvalidAuthenticationToken"
    );
}

#[tokio::test]
async fn create_get_update_delete_an_event() {
    let emu = start().await;
    let token = staff_token(&emu).await;
    let c = http();
    let resp = c
        .post(graph(&emu, "/me/events"))
        .bearer_auth(&token)
        .json(&event_body(
            "Appointment",
            "2030-05-01T10:00:00",
            "2030-05-01T10:30:00",
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 201);
    let ev: Value = resp.json().await.unwrap();
    let id = ev["id"].as_str().unwrap().to_string();
    assert_eq!(ev["start"]["dateTime"], "2030-05-01T10:00:00.0000000");
    assert_eq!(ev["start"]["timeZone"], "UTC");
    assert_eq!(ev["showAs"], "busy");
    assert_eq!(ev["type"], "singleInstance");

    let url = graph(&emu, &format!("/me/calendar/events/{id}"));
    let got: Value = c
        .get(&url)
        .bearer_auth(&token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(got["subject"], "Appointment");

    let patched: Value = c
        .patch(&url)
        .bearer_auth(&token)
        .json(&json!({"subject": "Moved", "start": {"dateTime": "2030-05-01T11:00:00", "timeZone": "UTC"}, "end": {"dateTime": "2030-05-01T11:30:00", "timeZone": "UTC"}}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(patched["subject"], "Moved");
    assert_eq!(patched["start"]["dateTime"], "2030-05-01T11:00:00.0000000");
    assert_ne!(patched["changeKey"], ev["changeKey"]);
    assert_eq!(emu.events(DEMO.staff[0].upn)[0]["subject"], "Moved");

    assert_eq!(
        c.delete(&url)
            .bearer_auth(&token)
            .send()
            .await
            .unwrap()
            .status(),
        204
    );
    let resp = c.get(&url).bearer_auth(&token).send().await.unwrap();
    assert_eq!(resp.status(), 404);
    assert_eq!(
        graph_error(&resp.json().await.unwrap()),
        "ErrorItemNotFound"
    );
    assert!(emu.events(DEMO.staff[0].upn).is_empty());
}

#[tokio::test]
async fn same_transaction_id_never_duplicates() {
    let emu = start().await;
    let token = staff_token(&emu).await;
    let mut body = event_body("Booking 42", "2030-05-01T10:00:00", "2030-05-01T11:00:00");
    body["transactionId"] = json!("calbridge-appointment-42");
    let mut ids = vec![];
    for _ in 0..3 {
        let resp = http()
            .post(graph(&emu, "/me/events"))
            .bearer_auth(&token)
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 201);
        ids.push(
            resp.json::<Value>().await.unwrap()["id"]
                .as_str()
                .unwrap()
                .to_string(),
        );
    }
    assert!(ids.iter().all(|i| i == &ids[0]));
    assert_eq!(emu.events(DEMO.staff[0].upn).len(), 1);
}

#[tokio::test]
async fn unknown_event_ids_are_404_on_every_verb() {
    let emu = start().await;
    let token = staff_token(&emu).await;
    let url = graph(&emu, "/me/events/AAMkNOPE");
    let c = http();
    for resp in [
        c.get(&url).bearer_auth(&token).send().await.unwrap(),
        c.patch(&url)
            .bearer_auth(&token)
            .json(&json!({"subject": "x"}))
            .send()
            .await
            .unwrap(),
        c.delete(&url).bearer_auth(&token).send().await.unwrap(),
    ] {
        assert_eq!(resp.status(), 404);
        assert_eq!(
            graph_error(&resp.json().await.unwrap()),
            "ErrorItemNotFound"
        );
    }
}

#[tokio::test]
async fn unknown_property_is_refused() {
    let emu = start().await;
    let token = staff_token(&emu).await;
    let mut body = event_body("x", "2030-05-01T10:00:00", "2030-05-01T11:00:00");
    body["colour"] = json!("red");
    let resp = http()
        .post(graph(&emu, "/me/events"))
        .bearer_auth(&token)
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 400);
    assert_eq!(graph_error(&resp.json().await.unwrap()), "RequestBodyRead");
}

#[tokio::test]
async fn time_zones_iana_and_windows_are_converted() {
    let emu = start().await;
    let token = staff_token(&emu).await;
    let c = http();
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
        let ev: Value = c
            .post(graph(&emu, "/me/events"))
            .bearer_auth(&token)
            .json(&body)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(ev["start"]["dateTime"], utc, "{zone}");
        assert_eq!(ev["originalStartTimeZone"], zone);
    }
    let body = json!({"subject": "bad", "start": {"dateTime": "2030-07-01T10:00:00", "timeZone": "Mars/Olympus"}, "end": {"dateTime": "2030-07-01T11:00:00", "timeZone": "UTC"}});
    let resp = c
        .post(graph(&emu, "/me/events"))
        .bearer_auth(&token)
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 400);
    assert_eq!(
        graph_error(&resp.json().await.unwrap()),
        "TimeZoneNotSupportedException"
    );
}

#[tokio::test]
async fn prefer_outlook_timezone_renders_local_times() {
    let emu = start().await;
    let token = staff_token(&emu).await;
    let c = http();
    let ev: Value = c
        .post(graph(&emu, "/me/events"))
        .bearer_auth(&token)
        .json(&event_body(
            "x",
            "2030-07-01T08:00:00",
            "2030-07-01T09:00:00",
        ))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let got: Value = c
        .get(graph(
            &emu,
            &format!("/me/events/{}", ev["id"].as_str().unwrap()),
        ))
        .bearer_auth(&token)
        .header("Prefer", "outlook.timezone=\"Pacific Standard Time\"")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(got["start"]["dateTime"], "2030-07-01T01:00:00.0000000");
    assert_eq!(got["start"]["timeZone"], "Pacific Standard Time");
}

#[tokio::test]
async fn read_only_token_cannot_write() {
    let emu = start().await;
    let s = DEMO.staff[0];
    let token = access_token(&emu, s.upn, s.password, "Calendars.Read User.Read").await;
    let c = http();
    assert_eq!(
        c.get(graph(&emu, "/me/events"))
            .bearer_auth(&token)
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    let resp = c
        .post(graph(&emu, "/me/events"))
        .bearer_auth(&token)
        .json(&event_body(
            "x",
            "2030-05-01T10:00:00",
            "2030-05-01T11:00:00",
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 403);
    assert_eq!(
        graph_error(&resp.json().await.unwrap()),
        "ErrorAccessDenied"
    );
}

#[tokio::test]
async fn event_list_pages_by_ten_with_next_link() {
    let emu = start().await;
    let token = staff_token(&emu).await;
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
    let c = http();
    let page: Value = c
        .get(graph(&emu, "/me/events"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(page["value"].as_array().unwrap().len(), 10);
    let next = page["@odata.nextLink"].as_str().unwrap();
    let page2: Value = c
        .get(next)
        .bearer_auth(&token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(page2["value"].as_array().unwrap().len(), 2);
    assert!(page2.get("@odata.nextLink").is_none());
}

#[tokio::test]
async fn users_path_by_upn_and_by_id_reach_the_same_calendar() {
    let emu = start().await;
    let token = staff_token(&emu).await;
    let upn = DEMO.staff[0].upn;
    let id = emu.user_id(upn).unwrap();
    let c = http();
    let resp = c
        .post(graph(&emu, &format!("/users/{upn}/calendar/events")))
        .bearer_auth(&token)
        .json(&event_body(
            "via upn",
            "2030-05-01T10:00:00",
            "2030-05-01T11:00:00",
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 201);
    let list: Value = c
        .get(graph(&emu, &format!("/users/{id}/events")))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(list["value"][0]["subject"], "via upn");
    // Another staff member's calendar is not this token's to touch.
    let other = DEMO.staff[1].upn;
    let resp = c
        .get(graph(&emu, &format!("/users/{other}/events")))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 403);
    let resp = c
        .get(graph(
            &emu,
            "/users/nobody@contoso-library.onmicrosoft.com/events",
        ))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 404);
}
