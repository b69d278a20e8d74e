//! Fault injection, throttling, $batch and the control API.

mod common;

use std::time::Duration as StdDuration;

use chrono::Duration;
use common::*;
use emulator::DEMO;
use emulator::faults::{FaultConfig, FaultKind};
use serde_json::{Value, json};

async fn staff_api(emu: &emulator::EmulatorHandle) -> Api {
    Api::new(emu, &staff_token(emu).await)
}

#[tokio::test]
async fn scripted_429_has_fractional_retry_after_and_early_retries_are_counted() {
    let emu = start().await;
    let api = staff_api(&emu).await;
    emu.push_faults([FaultKind::TooManyRequests]);
    let r = api.get("/me/events").await;
    assert_eq!(r.status, 429);
    assert_eq!(r.header("retry-after").as_deref(), Some("2.128"));
    assert_eq!(r.error_code(), "TooManyRequests");
    // Straight back, before Retry-After: throttled again and counted.
    assert_eq!(api.get("/me/events").await.status, 429);
    assert_eq!(emu.stats().early_retries, 1);
    emu.advance_clock(Duration::milliseconds(2200));
    assert_eq!(api.get("/me/events").await.status, 200);
    assert_eq!(emu.stats().early_retries, 1);
}

#[tokio::test]
async fn scripted_503_504_and_dropped_connection() {
    let emu = start().await;
    let api = staff_api(&emu).await;
    emu.push_faults([
        FaultKind::ServiceUnavailable,
        FaultKind::GatewayTimeout,
        FaultKind::Drop,
    ]);
    let r = api.get("/me/events").await;
    assert_eq!(r.status, 503);
    assert!(r.header("retry-after").is_some());
    assert_eq!(api.get("/me/events").await.status, 504);
    assert!(
        api.try_get("/me/events").await.is_err(),
        "connection dropped"
    );
    assert_eq!(api.get("/me/events").await.status, 200);
    let log = emu.requests();
    assert!(
        log.iter()
            .any(|e| e.status == 0 && e.fault.as_deref() == Some("Drop"))
    );
}

#[tokio::test]
async fn timeout_fault_holds_the_request() {
    let emu = start().await;
    let token = staff_token(&emu).await;
    emu.set_faults(FaultConfig {
        timeout_ms: 5_000,
        ..FaultConfig::default()
    });
    emu.push_faults([FaultKind::Timeout]);
    let c = reqwest::Client::builder()
        .timeout(StdDuration::from_millis(300))
        .build()
        .unwrap();
    let err = c
        .get(graph(&emu, "/me/events"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap_err();
    assert!(err.is_timeout());
}

#[tokio::test]
async fn lost_answer_applies_the_write_and_transaction_id_saves_the_retry() {
    let emu = start().await;
    let api = staff_api(&emu).await;
    let mut body = event_body("Booking 7", "2030-05-01T10:00:00", "2030-05-01T11:00:00");
    body["transactionId"] = json!("booking-7");
    emu.push_faults([FaultKind::LostAnswer504]);
    assert_eq!(api.post("/me/events", &body).await.status, 504);
    assert_eq!(emu.events(DEMO.staff[0].upn).len(), 1, "the write happened");
    emu.push_faults([FaultKind::LostAnswerDrop]);
    let post = api
        .try_send(reqwest::Method::POST, "/me/events", Some(&body), &[])
        .await;
    assert!(post.is_err(), "connection dropped after the write");
    assert_eq!(api.post("/me/events", &body).await.status, 201);
    assert_eq!(emu.events(DEMO.staff[0].upn).len(), 1, "no duplicate");
}

#[tokio::test]
async fn random_fault_rate_is_reproducible_and_bounded() {
    let emu = start().await;
    let api = staff_api(&emu).await;
    emu.set_faults(FaultConfig {
        rate: 0.5,
        kinds: vec![FaultKind::GatewayTimeout],
        seed: Some(7),
        ..FaultConfig::default()
    });
    let mut failures = 0;
    for _ in 0..40 {
        if api.get("/me/events").await.status == 504 {
            failures += 1;
        }
    }
    assert!((8..=32).contains(&failures), "{failures} of 40");
    emu.clear_faults();
    assert_eq!(api.get("/me/events").await.status, 200);
}

#[tokio::test]
async fn more_than_four_concurrent_requests_per_mailbox_get_mailbox_concurrency_429() {
    let emu = start().await;
    let api = std::sync::Arc::new(staff_api(&emu).await);
    emu.set_faults(FaultConfig {
        latency_ms: 400,
        ..FaultConfig::default()
    });
    let mut tasks = vec![];
    for _ in 0..6 {
        let api = api.clone();
        tasks.push(tokio::spawn(async move { api.get("/me/events").await }));
    }
    let mut throttled = 0;
    for t in tasks {
        let r = t.await.unwrap();
        if r.status == 429 {
            throttled += 1;
            assert_eq!(r.error_code(), "ApplicationThrottled");
            let message = r.body["error"]["message"].as_str().unwrap();
            assert!(message.contains("MailboxConcurrency"), "{message}");
        } else {
            assert_eq!(r.status, 200);
        }
    }
    assert_eq!(throttled, 2);
    assert_eq!(emu.stats().max_in_flight, 4);
    assert_eq!(emu.stats().concurrency_rejections, 2);
}

fn statuses(r: &Reply) -> Vec<u64> {
    r.body["responses"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x["status"].as_u64().unwrap())
        .collect()
}

#[tokio::test]
async fn batch_runs_sub_requests_and_each_counts_against_the_mailbox_limit() {
    let emu = start().await;
    let api = staff_api(&emu).await;
    let requests: Vec<Value> = (0..3)
        .map(|i| {
            json!({"id": i.to_string(), "method": "POST", "url": "/me/events",
            "headers": {"Content-Type": "application/json"},
            "body": event_body(&format!("b{i}"), "2030-05-01T10:00:00", "2030-05-01T11:00:00")})
        })
        .collect();
    let r = api.post("/$batch", &json!({"requests": requests})).await;
    assert_eq!(statuses(&r), [201, 201, 201]);
    assert_eq!(emu.events(DEMO.staff[0].upn).len(), 3);

    emu.set_faults(FaultConfig {
        latency_ms: 300,
        ..FaultConfig::default()
    });
    let requests: Vec<Value> = (0..6)
        .map(|i| json!({"id": i.to_string(), "method": "GET", "url": "/me/events"}))
        .collect();
    let r = api.post("/$batch", &json!({"requests": requests})).await;
    let throttled = statuses(&r).iter().filter(|s| **s == 429).count();
    assert_eq!(throttled, 2);

    let too_many: Vec<Value> = (0..21)
        .map(|i| json!({"id": i.to_string(), "method": "GET", "url": "/me"}))
        .collect();
    let r = api.post("/$batch", &json!({"requests": too_many})).await;
    assert_eq!(r.status, 400);
}

#[tokio::test]
async fn control_api_over_http() {
    let emu = start().await;
    let c = http();
    let base = emu.base_url();
    assert_eq!(
        c.get(format!("{base}/_emulator/health"))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    // Clock.
    let now: Value = c
        .post(format!("{base}/_emulator/clock"))
        .json(&json!({"set": "2031-01-01T00:00:00Z"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(now["now"].as_str().unwrap().starts_with("2031-01-01"));
    // Outlook edits and read-back.
    let room = DEMO.rooms[0].address;
    let r = c
        .post(format!("{base}/_emulator/mailboxes/{room}/events"))
        .json(&event_body(
            "walk-in",
            "2031-01-02T10:00:00",
            "2031-01-02T11:00:00",
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let id = r.json::<Value>().await.unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    let r = c
        .patch(format!("{base}/_emulator/mailboxes/{room}/events/{id}"))
        .json(&json!({"subject": "moved"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let all: Value = c
        .get(format!("{base}/_emulator/mailboxes"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(all[room][0]["subject"], "moved");
    assert_eq!(
        c.delete(format!("{base}/_emulator/mailboxes/{room}/events/{id}"))
            .send()
            .await
            .unwrap()
            .status(),
        204
    );
    assert!(emu.events(room).is_empty());
    // Faults and settings.
    let r = c
        .post(format!("{base}/_emulator/faults/next"))
        .json(&json!({"faults": ["429", "lost_answer_504"]}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let r = c
        .post(format!("{base}/_emulator/settings"))
        .json(&json!({"strict_refresh_rotation": true}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert!(emu.settings().strict_refresh_rotation);
    assert_eq!(
        emu.settings().mailbox_concurrency_limit,
        4,
        "partial update keeps the rest"
    );
    // App registration and secret expiry.
    let app: Value = c.post(format!("{base}/_emulator/apps")).json(&json!({
        "name": "via http", "tenant": DEMO.tenant_id, "audience": "AzureADMyOrg", "redirect_uris": [REDIRECT]
    })).send().await.unwrap().json().await.unwrap();
    let (cid, sid) = (
        app["client_id"].as_str().unwrap(),
        app["secret_id"].as_str().unwrap(),
    );
    let r = c
        .post(format!("{base}/_emulator/apps/{cid}/secrets/{sid}/expire"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let (status, body) = token_request(
        &emu,
        DEMO.tenant_domain,
        &[
            ("grant_type", "client_credentials"),
            ("client_id", cid),
            ("client_secret", app["secret_value"].as_str().unwrap()),
            ("scope", "https://graph.microsoft.com/.default"),
        ],
    )
    .await;
    assert_eq!(status, 401);
    assert_eq!(aadsts(&body), 7000222);
    // The state summary never shows secret values.
    let state = c
        .get(format!("{base}/_emulator/state"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(!state.contains(app["secret_value"].as_str().unwrap()));
    assert!(!state.contains(DEMO.it_admin.password));
}

#[tokio::test]
async fn request_log_records_graph_calls_without_tokens() {
    let emu = start().await;
    let token = staff_token(&emu).await;
    emu.clear_requests();
    http()
        .get(graph(&emu, "/me/events?$top=5"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    let log: Value = http()
        .get(format!("{}/_emulator/requests", emu.base_url()))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let entry = &log[0];
    assert_eq!(entry["method"], "GET");
    assert_eq!(entry["path"], "/v1.0/me/events");
    assert_eq!(entry["status"], 200);
    assert_eq!(entry["mailbox"], DEMO.staff[0].upn);
    assert!(!log.to_string().contains(&token));
}

#[tokio::test]
async fn mailbox_concurrency_fault_and_503_retry_after_count_early_comebacks() {
    let emu = start().await;
    let api = staff_api(&emu).await;
    emu.update_settings(|s| s.concurrency_retry_after_secs = 0.75);
    emu.push_faults([FaultKind::MailboxConcurrency]);
    let r = api.get("/me/events").await;
    assert_eq!(r.status, 429);
    assert_eq!(r.error_code(), "ApplicationThrottled");
    let message = r.body["error"]["message"].as_str().unwrap();
    assert!(message.contains("MailboxConcurrency"), "{message}");
    assert_eq!(r.header("retry-after").as_deref(), Some("0.75"));
    // Back at once: counted, but not refused (the limit is about what is
    // in flight, and nothing is).
    assert_eq!(api.get("/me/events").await.status, 200);
    assert_eq!(emu.stats().early_retries, 1);
    emu.advance_clock(Duration::milliseconds(800));
    assert_eq!(api.get("/me/events").await.status, 200);
    assert_eq!(emu.stats().early_retries, 1);

    // A 503's Retry-After is counted the same way.
    emu.push_faults([FaultKind::ServiceUnavailable]);
    assert_eq!(api.get("/me/events").await.status, 503);
    assert_eq!(api.get("/me/events").await.status, 200);
    assert_eq!(emu.stats().early_retries, 2);
    emu.advance_clock(Duration::seconds(3));
    assert_eq!(api.get("/me/events").await.status, 200);
    assert_eq!(emu.stats().early_retries, 2);

    // Within the grace, another request crossed the answer on the wire:
    // counted apart (and, after a 429, still refused). The throttled
    // request itself sent again is an early retry whenever it comes.
    emu.set_faults(FaultConfig {
        retry_after_grace_ms: 60_000,
        ..FaultConfig::default()
    });
    emu.push_faults([FaultKind::TooManyRequests]);
    assert_eq!(api.get("/me/events").await.status, 429);
    assert_eq!(api.get("/me/calendar").await.status, 429);
    let stats = emu.stats();
    assert_eq!((stats.early_retries, stats.crossed_retry_after), (2, 1));
    assert_eq!(api.get("/me/events").await.status, 429);
    let stats = emu.stats();
    assert_eq!((stats.early_retries, stats.crossed_retry_after), (3, 1));
    // Each early retry so far was `GET /me/events` sent again.
    assert_eq!(stats.early_repeats, 3);

    // Random draws of the kind never reach the token endpoint.
    let config: FaultConfig =
        serde_json::from_value(json!({"rate": 1.0, "kinds": ["mailbox_concurrency"]})).unwrap();
    assert_eq!(config.kinds, [FaultKind::MailboxConcurrency]);
    assert!(!FaultKind::MailboxConcurrency.applies_to(emulator::faults::Target::Token));
}
