//! Graph change-notification subscriptions: the validation handshake
//! against a real receiver, notifications and lifecycle notifications
//! actually POSTed to it, and every refusal Graph documents.

mod common;

use chrono::{Duration, Utc};
use common::*;
use emulator::graph::subscriptions::LifecycleEvent;
use emulator::{DEMO, Emulator, EmulatorConfig, EmulatorHandle};
use serde_json::{Value, json};

async fn start_allowing_http() -> EmulatorHandle {
    Emulator::start(EmulatorConfig::demo().allow_http_notifications())
        .await
        .unwrap()
}

fn in_minutes(emu: &EmulatorHandle, minutes: i64) -> String {
    (emu.shared().clock.now() + Duration::minutes(minutes)).to_rfc3339()
}

fn subscription(emu: &EmulatorHandle, resource: &str, url: &str) -> Value {
    json!({
        "changeType": "created,updated,deleted",
        "notificationUrl": url,
        "resource": resource,
        "expirationDateTime": in_minutes(emu, 4000),
        "clientState": "calbridge-secret-state",
    })
}

/// Subscribe to demo room `i` with the default body.
async fn subscribe(api: &Api, emu: &EmulatorHandle, room: usize, url: &str) -> Reply {
    api.post(
        "/subscriptions",
        &subscription(emu, &room_events(room), url),
    )
    .await
}

fn room_events(i: usize) -> String {
    format!("users/{}/events", DEMO.rooms[i].address)
}

#[tokio::test]
async fn app_subscribes_to_a_room_after_the_handshake_and_gets_every_change() {
    let emu = start_allowing_http().await;
    let hook = Receiver::start(Handshake::Echo).await;
    let (app, token) = app_only_token(&emu, &["Calendars.ReadWrite"]).await;
    let api = Api::new(&emu, &token);

    let r = subscribe(&api, &emu, 1, &hook.url).await;
    assert_eq!(r.status, 201, "{}", r.body);
    assert_eq!(r.body["clientState"], "calbridge-secret-state");
    assert_eq!(r.body["applicationId"], app.client_id.to_string());
    assert_eq!(r.body["changeType"], "created,updated,deleted");
    let sub_id = r.body["id"].as_str().unwrap().to_string();
    // The handshake happened, with the token URL-decoded by the receiver.
    let tokens = hook.validations.lock().unwrap().clone();
    assert_eq!(tokens.len(), 1);
    assert!(tokens[0].starts_with("Validation: "), "{tokens:?}");

    // An app write, then a person's edits "in Outlook".
    let room = DEMO.rooms[1].address;
    let created = api
        .post(
            &format!("/users/{room}/events"),
            &event_body("Seminar", "2030-03-04T10:00:00", "2030-03-04T11:00:00"),
        )
        .await;
    assert_eq!(created.status, 201);
    let id = created.body["id"].as_str().unwrap().to_string();
    emu.outlook_update(room, &id, &json!({"subject": "Moved seminar"}))
        .unwrap();
    emu.outlook_delete(room, &id).unwrap();

    let got = hook.wait_for(3).await;
    assert_eq!(got.len(), 3, "{got:?}");
    let kinds: Vec<&str> = got
        .iter()
        .map(|n| n["value"][0]["changeType"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, ["created", "updated", "deleted"]);
    let room_id = emu.user_id(room).unwrap();
    for n in &got {
        let v = &n["value"][0];
        assert_eq!(v["subscriptionId"], sub_id);
        assert_eq!(v["clientState"], "calbridge-secret-state");
        assert_eq!(v["tenantId"], DEMO.tenant_id.to_string());
        assert_eq!(v["resourceData"]["id"], id);
        assert_eq!(v["resource"], format!("Users/{room_id}/Events/{id}"));
        assert!(v["subscriptionExpirationDateTime"].is_string());
    }
    // The control API saw the same deliveries, all answered 202. A
    // delivery is logged once its answer is back, which may be a moment
    // after the receiver above has seen it.
    let mut log = emu.notifications();
    for _ in 0..100 {
        if log.len() >= 3 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        log = emu.notifications();
    }
    assert_eq!(log.len(), 3);
    assert!(log.iter().all(|d| d.status == 202), "{log:?}");
}

#[tokio::test]
async fn another_rooms_changes_and_unsubscribed_types_are_not_sent() {
    let emu = start_allowing_http().await;
    let hook = Receiver::start(Handshake::Echo).await;
    let (_, token) = app_only_token(&emu, &["Calendars.ReadWrite"]).await;
    let api = Api::new(&emu, &token);
    let mut body = subscription(&emu, &room_events(0), &hook.url);
    body["changeType"] = json!("deleted");
    assert_eq!(api.post("/subscriptions", &body).await.status, 201);
    let other = DEMO.rooms[2].address;
    let watched = DEMO.rooms[0].address;
    let ev = event_body("x", "2030-01-01T09:00:00", "2030-01-01T10:00:00");
    let o = emu.outlook_create(other, &ev).unwrap();
    emu.outlook_delete(other, o["id"].as_str().unwrap())
        .unwrap();
    let w = emu.outlook_create(watched, &ev).unwrap();
    emu.outlook_delete(watched, w["id"].as_str().unwrap())
        .unwrap();
    let got = hook.wait_for(1).await;
    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    let got_later = hook.notifications.lock().unwrap().clone();
    assert_eq!(got.len(), 1);
    assert_eq!(got_later.len(), 1, "only the watched room's delete");
    assert_eq!(got[0]["value"][0]["changeType"], "deleted");
    assert_eq!(got[0]["value"][0]["resourceData"]["id"], w["id"]);
}

#[tokio::test]
async fn delegated_user_may_watch_own_calendar_but_not_a_room_even_as_delegate() {
    let emu = start_allowing_http().await;
    let hook = Receiver::start(Handshake::Echo).await;
    let f = DEMO.facilities;
    let token = access_token(
        &emu,
        f.upn,
        f.password,
        "offline_access Calendars.ReadWrite Calendars.ReadWrite.Shared User.Read",
    )
    .await;
    let api = Api::new(&emu, &token);
    // The delegate may write the room's calendar...
    let room = DEMO.rooms[0].address;
    let write = api
        .post(
            &format!("/users/{room}/events"),
            &event_body("ok", "2030-01-01T09:00:00", "2030-01-01T10:00:00"),
        )
        .await;
    assert_eq!(write.status, 201);
    // ...but .Shared does not extend to subscriptions.
    let r = subscribe(&api, &emu, 0, &hook.url).await;
    assert_eq!(r.status, 403, "{}", r.body);
    assert_eq!(r.error_code(), "ExtensionError");
    let r = api
        .post(
            "/subscriptions",
            &subscription(
                &emu,
                &format!("users/{}/events", DEMO.staff[0].upn),
                &hook.url,
            ),
        )
        .await;
    assert_eq!(r.status, 403);
    assert!(
        hook.validations.lock().unwrap().is_empty(),
        "refused before the handshake"
    );
    // Their own calendar is fine, by /me or by their own address.
    let r = api
        .post(
            "/subscriptions",
            &subscription(&emu, "/me/events", &hook.url),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    assert_eq!(r.body["creatorId"], emu.user_id(f.upn).unwrap().to_string());
}

#[tokio::test]
async fn app_without_calendar_permission_or_outside_its_access_policy_is_refused() {
    let emu = start_allowing_http().await;
    let hook = Receiver::start(Handshake::Echo).await;
    let (_, token) = app_only_token(&emu, &["Place.Read.All"]).await;
    let r = subscribe(&Api::new(&emu, &token), &emu, 0, &hook.url).await;
    assert_eq!(r.status, 403);
    assert_eq!(r.error_code(), "ExtensionError");

    let (app, token) = app_only_token(&emu, &["Calendars.ReadWrite"]).await;
    emu.set_app_only_mailboxes(
        app.client_id,
        emu.user_id(DEMO.rooms[0].address).map(|r| vec![r]),
    );
    let api = Api::new(&emu, &token);
    let r = subscribe(&api, &emu, 1, &hook.url).await;
    assert_eq!(r.status, 403);
    let r = subscribe(&api, &emu, 0, &hook.url).await;
    assert_eq!(r.status, 201);
}

#[tokio::test]
async fn http_notification_url_is_refused_unless_allowed() {
    let emu = start().await; // production-like: HTTPS only
    let hook = Receiver::start(Handshake::Echo).await;
    let (_, token) = app_only_token(&emu, &["Calendars.ReadWrite"]).await;
    let r = subscribe(&Api::new(&emu, &token), &emu, 0, &hook.url).await;
    assert_eq!(r.status, 400, "{}", r.body);
    assert_eq!(r.error_code(), "ValidationError");
    assert!(
        r.body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("HTTPS")
    );
    assert!(hook.validations.lock().unwrap().is_empty());
}

#[tokio::test]
async fn failed_handshakes_are_refused_and_nothing_is_created() {
    let emu = start_allowing_http().await;
    emu.update_settings(|s| s.validation_timeout_ms = 300);
    let (_, token) = app_only_token(&emu, &["Calendars.ReadWrite"]).await;
    let api = Api::new(&emu, &token);
    for (mode, code, text) in [
        (
            Handshake::WrongStatus,
            "ValidationError",
            "must respond with 200 OK",
        ),
        (
            Handshake::Undecoded,
            "ValidationError",
            "must exactly match",
        ),
        (
            Handshake::Slow(std::time::Duration::from_millis(1500)),
            "InvalidRequest",
            "timed out",
        ),
    ] {
        let hook = Receiver::start(mode).await;
        let r = subscribe(&api, &emu, 0, &hook.url).await;
        assert_eq!(r.status, 400, "{mode:?}: {}", r.body);
        assert_eq!(r.error_code(), code, "{mode:?}");
        let msg = r.body["error"]["message"].as_str().unwrap();
        assert!(msg.contains(text), "{mode:?}: {msg}");
        assert_eq!(hook.validations.lock().unwrap().len(), 1, "{mode:?}");
    }
    // Nothing listening at all.
    let r = api
        .post(
            "/subscriptions",
            &subscription(&emu, &room_events(0), "http://127.0.0.1:9/hook"),
        )
        .await;
    assert_eq!(r.status, 400);
    assert!(emu.subscriptions().is_empty());
    assert_eq!(api.get("/subscriptions").await.body["value"], json!([]));
}

#[tokio::test]
async fn client_state_expiry_change_type_and_resource_are_checked() {
    let emu = start_allowing_http().await;
    let hook = Receiver::start(Handshake::Echo).await;
    let (_, token) = app_only_token(&emu, &["Calendars.ReadWrite"]).await;
    let api = Api::new(&emu, &token);
    let base = subscription(&emu, &room_events(0), &hook.url);
    let with = |k: &str, v: Value| {
        let mut b = base.clone();
        b[k] = v;
        b
    };
    let cases = [
        (
            with("clientState", json!("x".repeat(129))),
            "InvalidRequest",
        ),
        (
            with("expirationDateTime", json!(in_minutes(&emu, 4231))),
            "ExtensionError",
        ),
        (
            with("expirationDateTime", json!(in_minutes(&emu, -5))),
            "InvalidRequest",
        ),
        (with("changeType", json!("created,moved")), "InvalidRequest"),
        (
            with("resource", json!("users/x/messages")),
            "InvalidRequest",
        ),
    ];
    for (body, code) in cases {
        let r = api.post("/subscriptions", &body).await;
        assert_eq!(r.status, 400, "{body}: {}", r.body);
        assert_eq!(r.error_code(), code, "{body}");
    }
    assert!(hook.validations.lock().unwrap().is_empty());
    // 128 characters and 4230 minutes are the limits, not beyond them.
    let ok = with("clientState", json!("x".repeat(128)));
    let ok = {
        let mut b = ok;
        b["expirationDateTime"] = json!(in_minutes(&emu, 4229));
        b
    };
    assert_eq!(api.post("/subscriptions", &ok).await.status, 201);
    // A short expiry is lifted to 45 minutes.
    let short = with("expirationDateTime", json!(in_minutes(&emu, 5)));
    let r = api.post("/subscriptions", &short).await;
    assert_eq!(r.status, 201);
    let exp: chrono::DateTime<Utc> = r.body["expirationDateTime"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(exp >= emu.shared().clock.now() + Duration::minutes(44));
}

#[tokio::test]
async fn renew_list_get_delete_and_expiry() {
    let emu = start_allowing_http().await;
    // The clock jumps an hour below; the token must outlive that.
    emu.update_settings(|s| s.access_token_lifetime_secs = 24 * 3600);
    let hook = Receiver::start(Handshake::Echo).await;
    let (_, token) = app_only_token(&emu, &["Calendars.ReadWrite"]).await;
    let api = Api::new(&emu, &token);
    let mut body = subscription(&emu, &room_events(0), &hook.url);
    body["expirationDateTime"] = json!(in_minutes(&emu, 60));
    let a = api.post("/subscriptions", &body).await.body["id"]
        .as_str()
        .unwrap()
        .to_string();
    let b = api.post("/subscriptions", &body).await.body["id"]
        .as_str()
        .unwrap()
        .to_string();

    // Another app sees none of them.
    let (_, other) = app_only_token(&emu, &["Calendars.ReadWrite"]).await;
    let other = Api::new(&emu, &other);
    assert_eq!(other.get("/subscriptions").await.body["value"], json!([]));
    assert_eq!(other.get(&format!("/subscriptions/{a}")).await.status, 404);

    let list = api.get("/subscriptions").await;
    assert_eq!(list.body["value"].as_array().unwrap().len(), 2);
    let one = api.get(&format!("/subscriptions/{a}")).await;
    assert_eq!(one.status, 200);
    assert_eq!(one.body["clientState"], Value::Null, "not echoed on read");

    // Renew a for three days; b is left to expire.
    let r = api
        .patch(
            &format!("/subscriptions/{a}"),
            &json!({"expirationDateTime": in_minutes(&emu, 4200)}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let r = api
        .patch(
            &format!("/subscriptions/{a}"),
            &json!({"clientState": "new"}),
        )
        .await;
    assert_eq!(r.status, 400);
    let r = api
        .patch(
            &format!("/subscriptions/{a}"),
            &json!({"expirationDateTime": in_minutes(&emu, 5000)}),
        )
        .await;
    assert_eq!(r.error_code(), "ExtensionError");

    emu.advance_clock(Duration::minutes(61));
    assert_eq!(api.get(&format!("/subscriptions/{b}")).await.status, 404);
    let list = api.get("/subscriptions").await;
    assert_eq!(list.body["value"].as_array().unwrap().len(), 1);

    // Only the live one is told about a change.
    let room = DEMO.rooms[0].address;
    emu.outlook_create(
        room,
        &event_body("x", "2030-01-01T09:00:00", "2030-01-01T10:00:00"),
    )
    .unwrap();
    let got = hook.wait_for(1).await;
    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    assert_eq!(hook.notifications.lock().unwrap().len(), 1);
    assert_eq!(got[0]["value"][0]["subscriptionId"], a);

    assert_eq!(api.delete(&format!("/subscriptions/{a}")).await.status, 204);
    assert_eq!(api.delete(&format!("/subscriptions/{a}")).await.status, 404);
    emu.outlook_create(
        room,
        &event_body("y", "2030-01-02T09:00:00", "2030-01-02T10:00:00"),
    )
    .unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(150)).await;
    assert_eq!(
        hook.notifications.lock().unwrap().len(),
        1,
        "deleted: silent"
    );
}

#[tokio::test]
async fn lifecycle_notifications_go_to_the_lifecycle_url() {
    let emu = start_allowing_http().await;
    let hook = Receiver::start(Handshake::Echo).await;
    let life = Receiver::start(Handshake::Echo).await;
    let (_, token) = app_only_token(&emu, &["Calendars.ReadWrite"]).await;
    let api = Api::new(&emu, &token);
    let mut body = subscription(&emu, &room_events(0), &hook.url);
    body["lifecycleNotificationUrl"] = json!(life.url);
    let r = api.post("/subscriptions", &body).await;
    assert_eq!(r.status, 201);
    assert_eq!(r.body["lifecycleNotificationUrl"], json!(life.url));
    assert_eq!(
        life.validations.lock().unwrap().len(),
        1,
        "both URLs validated"
    );
    let id = r.body["id"].as_str().unwrap().to_string();

    // Over the control API, as Playwright or another process would.
    let lifecycle = format!("subscriptions/{id}/lifecycle");
    for event in ["reauthorizationRequired", "missed"] {
        let status = control_post(&emu, &lifecycle, &json!({"event": event})).await;
        assert_eq!(status, 200, "{event}");
    }
    let got = life.wait_for(2).await;
    let events: Vec<&str> = got
        .iter()
        .map(|n| n["value"][0]["lifecycleEvent"].as_str().unwrap())
        .collect();
    assert_eq!(events, ["reauthorizationRequired", "missed"]);
    assert_eq!(got[0]["value"][0]["subscriptionId"], id);
    assert_eq!(got[0]["value"][0]["clientState"], "calbridge-secret-state");
    assert!(emu.subscriptions()[0].needs_reauthorization);
    let r = api
        .send(
            reqwest::Method::POST,
            &format!("/subscriptions/{id}/reauthorize"),
            None,
        )
        .await;
    assert_eq!(r.status, 204);
    assert!(!emu.subscriptions()[0].needs_reauthorization);

    // subscriptionRemoved: told, and gone.
    let sub_id = id.parse().unwrap();
    assert_eq!(
        emu.lifecycle_event(sub_id, LifecycleEvent::SubscriptionRemoved),
        Ok(true)
    );
    let got = life.wait_for(3).await;
    assert_eq!(got[2]["value"][0]["lifecycleEvent"], "subscriptionRemoved");
    assert_eq!(api.get(&format!("/subscriptions/{id}")).await.status, 404);
    assert!(hook.notifications.lock().unwrap().is_empty());

    // Control API: expire and read back.
    let r = subscribe(&api, &emu, 0, &hook.url).await;
    let id2 = r.body["id"].as_str().unwrap().to_string();
    let listed = control_get(&emu, "subscriptions").await;
    assert_eq!(listed[0]["id"], id2);
    let expire = format!("subscriptions/{id2}/expire");
    assert_eq!(control_post(&emu, &expire, &json!({})).await, 200);
    assert_eq!(api.get(&format!("/subscriptions/{id2}")).await.status, 404);
    let log = control_get(&emu, "notifications").await;
    assert_eq!(log.as_array().unwrap().len(), 3);
}

#[tokio::test]
async fn moving_the_notification_url_validates_the_new_one_first() {
    let emu = start_allowing_http().await;
    let old = Receiver::start(Handshake::Echo).await;
    let new = Receiver::start(Handshake::Echo).await;
    let broken = Receiver::start(Handshake::WrongStatus).await;
    let (_, token) = app_only_token(&emu, &["Calendars.ReadWrite"]).await;
    let api = Api::new(&emu, &token);
    let id = subscribe(&api, &emu, 0, &old.url).await.body["id"]
        .as_str()
        .unwrap()
        .to_string();
    let path = format!("/subscriptions/{id}");
    let r = api
        .patch(&path, &json!({"notificationUrl": broken.url}))
        .await;
    assert_eq!(r.status, 400);
    assert_eq!(r.error_code(), "ValidationError");
    assert_eq!(api.get(&path).await.body["notificationUrl"], json!(old.url));

    let r = api.patch(&path, &json!({"notificationUrl": new.url})).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(new.validations.lock().unwrap().len(), 1);
    let room = DEMO.rooms[0].address;
    emu.outlook_create(
        room,
        &event_body("x", "2030-01-01T09:00:00", "2030-01-01T10:00:00"),
    )
    .unwrap();
    assert_eq!(new.wait_for(1).await.len(), 1);
    assert!(old.notifications.lock().unwrap().is_empty());
}

#[tokio::test]
async fn revoking_the_users_grant_asks_for_reauthorization() {
    let emu = start_allowing_http().await;
    let hook = Receiver::start(Handshake::Echo).await;
    let life = Receiver::start(Handshake::Echo).await;
    let s = DEMO.staff[0];
    let api = Api::new(&emu, &staff_token(&emu).await);
    let mut body = subscription(&emu, "me/events", &hook.url);
    body["lifecycleNotificationUrl"] = json!(life.url);
    let r = api.post("/subscriptions", &body).await;
    assert_eq!(r.status, 201, "{}", r.body);
    let status = control_post(&emu, "grants/revoke", &json!({"user": s.upn})).await;
    assert_eq!(status, 200);
    let got = life.wait_for(1).await;
    assert_eq!(got.len(), 1);
    assert_eq!(
        got[0]["value"][0]["lifecycleEvent"],
        "reauthorizationRequired"
    );
    assert_eq!(got[0]["value"][0]["subscriptionId"], r.body["id"]);
    assert!(emu.subscriptions()[0].needs_reauthorization);
}
