//! `$filter` and `$select` on events and calendarView.

mod common;

use common::*;
use emulator::DEMO;
use serde_json::{Value, json};

/// Three events in the first staff member's calendar; returns the API.
async fn calendar_with_three_events(emu: &emulator::EmulatorHandle) -> Api {
    let api = Api::new(emu, &staff_token(emu).await);
    let mut tentative = event_body(
        "Budget review",
        "2030-05-02T09:00:00",
        "2030-05-02T10:00:00",
    );
    tentative["showAs"] = json!("tentative");
    for body in [
        event_body(
            "Reading group",
            "2030-05-01T09:00:00",
            "2030-05-01T10:00:00",
        ),
        tentative,
        event_body(
            "Reading group",
            "2030-05-03T09:00:00",
            "2030-05-03T10:00:00",
        ),
    ] {
        assert_eq!(api.post("/me/events", &body).await.status, 201);
    }
    api
}

fn subjects(r: &Reply) -> Vec<String> {
    r.body["value"]
        .as_array()
        .unwrap_or_else(|| panic!("no value in {}", r.body))
        .iter()
        .map(|e| e["subject"].as_str().unwrap().to_string())
        .collect()
}

fn q(filter: &str) -> String {
    format!("/me/events?$filter={}", urlencoding::encode(filter))
}

#[tokio::test]
async fn filter_by_subject_show_as_and_start_range() {
    let emu = start().await;
    let api = calendar_with_three_events(&emu).await;
    let r = api.get(&q("subject eq 'Reading group'")).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(subjects(&r), ["Reading group", "Reading group"]);
    let r = api.get(&q("showAs eq 'tentative'")).await;
    assert_eq!(subjects(&r), ["Budget review"]);
    let r = api.get(&q("showAs ne 'tentative'")).await;
    assert_eq!(subjects(&r).len(), 2);
    let r = api
        .get(&q(
            "start/dateTime ge '2030-05-02T00:00:00' and start/dateTime le '2030-05-03T09:00:00'",
        ))
        .await;
    assert_eq!(subjects(&r), ["Budget review", "Reading group"]);
    let r = api
        .get(&q(
            "subject eq 'Reading group' and start/dateTime gt '2030-05-01T09:00:00'",
        ))
        .await;
    assert_eq!(r.body["value"].as_array().unwrap().len(), 1);
    assert_eq!(
        r.body["value"][0]["start"]["dateTime"],
        "2030-05-03T09:00:00.0000000"
    );
    // A quote inside a literal is doubled.
    let r = api.get(&q("subject eq 'O''Brien'")).await;
    assert_eq!(r.status, 200);
    assert_eq!(subjects(&r).len(), 0);
}

#[tokio::test]
async fn filter_on_start_compares_instants_whatever_the_output_zone() {
    let emu = start().await;
    let api = calendar_with_three_events(&emu).await;
    // Rendered in Tokyo time (UTC+9): 09:00Z is 18:00 there, but the
    // filter literal is UTC.
    let r = http()
        .get(graph(&emu, &q("start/dateTime ge '2030-05-03T09:00:00'")))
        .bearer_auth(api.token())
        .header("Prefer", "outlook.timezone=\"Asia/Tokyo\"")
        .send()
        .await
        .unwrap();
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["value"].as_array().unwrap().len(), 1, "{body}");
    assert_eq!(
        body["value"][0]["start"]["dateTime"],
        "2030-05-03T18:00:00.0000000"
    );
}

#[tokio::test]
async fn filter_and_select_on_calendar_view() {
    let emu = start().await;
    let api = calendar_with_three_events(&emu).await;
    let window = "startDateTime=2030-05-01T00:00:00&endDateTime=2030-05-04T00:00:00";
    let r = api
        .get(&format!(
            "/me/calendarView?{window}&$select=subject,start&$filter={}",
            urlencoding::encode("subject eq 'Reading group'")
        ))
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let items = r.body["value"].as_array().unwrap();
    assert_eq!(items.len(), 2);
    for item in items {
        let mut keys: Vec<&str> = item
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        keys.sort();
        assert_eq!(keys, ["@odata.etag", "id", "start", "subject"]);
    }
}

#[tokio::test]
async fn select_on_list_and_single_event_and_paging_keeps_the_query() {
    let emu = start().await;
    let api = calendar_with_three_events(&emu).await;
    let r = api.get("/me/events?$select=subject&$top=2").await;
    assert_eq!(r.status, 200);
    assert_eq!(
        r.body["value"][0].as_object().unwrap().len(),
        3,
        "{}",
        r.body
    );
    let next = r.body["@odata.nextLink"].as_str().expect("a next page");
    assert!(next.contains("select"), "{next}");
    let r2 = api.get(next).await;
    assert_eq!(r2.body["value"].as_array().unwrap().len(), 1);
    assert!(r2.body["value"][0].get("body").is_none());
    let id = r.body["value"][0]["id"].as_str().unwrap();
    let one = api
        .get(&format!("/me/events/{id}?$select=showAs,end"))
        .await;
    assert_eq!(one.status, 200);
    assert!(one.body.get("subject").is_none());
    assert_eq!(one.body["showAs"], "busy");
    assert!(one.body["end"]["dateTime"].is_string());
}

#[tokio::test]
async fn unsupported_filter_and_unknown_select_are_400() {
    let emu = start().await;
    let api = calendar_with_three_events(&emu).await;
    for bad in [
        "subject eq",
        "bodyPreview eq 'x'",
        "subject like 'x'",
        "subject eq 'a' or subject eq 'b'",
        "startswith(subject,'R')",
        "start/dateTime ge 'yesterday'",
        "subject eq 'unterminated",
    ] {
        let r = api.get(&q(bad)).await;
        assert_eq!(r.status, 400, "{bad}: {}", r.body);
        assert_eq!(r.error_code(), "BadRequest", "{bad}");
    }
    let r = api.get("/me/events?$select=subject,colour").await;
    assert_eq!(r.status, 400);
    assert_eq!(r.error_code(), "RequestBroker--ParseUri");
    let room = DEMO.rooms[0].address;
    let r = api
        .get(&format!("/users/{room}/events?$select=subject"))
        .await;
    assert_eq!(r.status, 403, "access is checked before the query");
}
