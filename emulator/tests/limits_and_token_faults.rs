//! The 10,000-requests-per-10-minutes mailbox limit, faults injected into
//! the token endpoint, and the request log of the identity endpoints.

mod common;

use chrono::Duration;
use common::*;
use emulator::DEMO;
use emulator::faults::{FaultConfig, FaultKind};
use emulator::state::SignInAudience;
use serde_json::{Value, json};

#[tokio::test]
async fn mailbox_request_limit_answers_429_with_retry_after_until_the_window_moves() {
    let emu = start().await;
    let api = Api::new(&emu, &staff_token(&emu).await);
    // Over HTTP, as the settings page of the control API documents.
    let status = control_post(&emu, "settings", &json!({"mailbox_request_limit": 5})).await;
    assert_eq!(status, 200);
    for _ in 0..5 {
        assert_eq!(api.get("/me/events").await.status, 200);
    }
    let r = api.get("/me/events").await;
    assert_eq!(r.status, 429);
    assert_eq!(r.error_code(), "ApplicationThrottled");
    let wait: f64 = r.header("retry-after").unwrap().parse().unwrap();
    assert!((599.0..=600.0).contains(&wait), "{wait}");
    // Coming back before Retry-After is an early retry, counted.
    emu.advance_clock(Duration::seconds(300));
    assert_eq!(api.get("/me/events").await.status, 429);
    let stats = emu.stats();
    assert_eq!(stats.mailbox_request_rejections, 1);
    assert_eq!(stats.early_retries, 1);
    // Another mailbox has its own budget.
    let (_, app_token) = app_only_token(&emu, &["Calendars.ReadWrite"]).await;
    let other = Api::new(&emu, &app_token);
    let room = DEMO.rooms[0].address;
    assert_eq!(
        other.get(&format!("/users/{room}/events")).await.status,
        200
    );
    // Ten minutes after the first requests, the window has room again.
    emu.advance_clock(Duration::seconds(301));
    assert_eq!(api.get("/me/events").await.status, 200);
}

#[tokio::test]
async fn batch_sub_requests_count_against_the_request_limit() {
    let emu = start().await;
    emu.update_settings(|s| s.mailbox_request_limit = 3);
    let api = Api::new(&emu, &staff_token(&emu).await);
    let requests: Vec<Value> = (1..=5)
        .map(|i| json!({"id": i.to_string(), "method": "GET", "url": "/me/events"}))
        .collect();
    let r = api.post("/$batch", &json!({"requests": requests, })).await;
    assert_eq!(r.status, 200);
    let mut statuses: Vec<u64> = r.body["responses"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x["status"].as_u64().unwrap())
        .collect();
    statuses.sort();
    assert_eq!(statuses, [200, 200, 200, 429, 429]);
}

#[tokio::test]
async fn scripted_token_faults_answer_in_the_token_error_shape() {
    let emu = start().await;
    let (app, _) = app_only_token(&emu, &["Calendars.ReadWrite"]).await;
    emu.push_token_faults([
        FaultKind::ServiceUnavailable,
        FaultKind::TooManyRequests,
        FaultKind::InternalServerError,
        FaultKind::InvalidGrant,
        FaultKind::GatewayTimeout,
    ]);
    let expect = [
        (503, Some("temporarily_unavailable"), true),
        (429, Some("temporarily_unavailable"), true),
        (500, Some("server_error"), false),
        (400, Some("invalid_grant"), false),
        (504, None, false),
    ];
    for (status, error, retry_after) in expect {
        let r = client_credentials(&emu, &app).await.unwrap();
        assert_eq!(r.status(), status);
        assert_eq!(
            r.headers().contains_key("retry-after"),
            retry_after,
            "{status}"
        );
        if let Some(error) = error {
            let body: Value = r.json().await.unwrap();
            assert_eq!(body["error"], error);
            aadsts(&body);
        }
    }
    // The script is used up: the next request is served.
    assert_eq!(client_credentials(&emu, &app).await.unwrap().status(), 200);
    // Graph requests never saw those faults.
    assert_eq!(emu.stats().faults_injected, 5);
}

#[tokio::test]
async fn token_timeout_and_dropped_connection() {
    let emu = start().await;
    let (app, _) = app_only_token(&emu, &["Calendars.ReadWrite"]).await;
    emu.set_faults(FaultConfig {
        timeout_ms: 200,
        ..FaultConfig::default()
    });
    emu.push_token_faults([FaultKind::Timeout, FaultKind::Drop]);
    let started = std::time::Instant::now();
    let err = client_credentials(&emu, &app).await;
    assert!(err.is_err(), "timeout ends in a dropped connection");
    assert!(started.elapsed() >= std::time::Duration::from_millis(200));
    assert!(client_credentials(&emu, &app).await.is_err());
    assert_eq!(client_credentials(&emu, &app).await.unwrap().status(), 200);
}

#[tokio::test]
async fn lost_token_answer_uses_up_the_code_so_the_retry_gets_54005() {
    let emu = start().await;
    let app = register(&emu, SignInAudience::AzureADMultipleOrgs);
    let (verifier, challenge) = pkce();
    let url = authorize_url(
        &emu,
        "organizations",
        &app.client_id.to_string(),
        SCOPES,
        &challenge,
    );
    let s = DEMO.staff[0];
    let loc = sign_in(&browser(), &emu, "organizations", &url, s.upn, s.password).await;
    let code = query(&loc)["code"].clone();
    emu.push_token_faults([FaultKind::LostAnswer504]);
    let r = redeem(&emu, &app, "organizations", &code, &verifier).await;
    assert_eq!(r.status(), 504);
    let r = redeem(&emu, &app, "organizations", &code, &verifier).await;
    assert_eq!(r.status(), 400);
    assert_eq!(aadsts(&r.json().await.unwrap()), 54005);
}

#[tokio::test]
async fn random_token_faults_over_the_control_api() {
    let emu = start().await;
    let (app, token) = app_only_token(&emu, &["Calendars.ReadWrite"]).await;
    let config =
        json!({"rate": 1.0, "kinds": ["503", "invalid_grant"], "targets": ["token"], "seed": 7});
    assert_eq!(control_post(&emu, "faults", &config).await, 200);
    for _ in 0..6 {
        let status = client_credentials(&emu, &app)
            .await
            .unwrap()
            .status()
            .as_u16();
        assert!(status == 503 || status == 400, "{status}");
    }
    // Graph is not a target of this config.
    let room = DEMO.rooms[0].address;
    let api = Api::new(&emu, &token);
    assert_eq!(api.get(&format!("/users/{room}/events")).await.status, 200);
    // Scripted token faults over HTTP.
    http()
        .delete(format!("{}/_emulator/faults", emu.base_url()))
        .send()
        .await
        .unwrap();
    let next = json!({"faults": ["500"], "target": "token"});
    assert_eq!(control_post(&emu, "faults/next", &next).await, 200);
    assert_eq!(api.get(&format!("/users/{room}/events")).await.status, 200);
    assert_eq!(client_credentials(&emu, &app).await.unwrap().status(), 500);
    assert_eq!(client_credentials(&emu, &app).await.unwrap().status(), 200);
}

#[tokio::test]
async fn identity_requests_are_logged_without_secrets() {
    let emu = start().await;
    let app = register(&emu, SignInAudience::AzureADMultipleOrgs);
    let s = DEMO.staff[0];
    let tokens = user_tokens(&emu, &app, "organizations", s.upn, s.password, SCOPES).await;
    let (status, _) = token_request(
        &emu,
        "organizations",
        &[
            ("grant_type", "refresh_token"),
            ("client_id", &app.client_id.to_string()),
            ("client_secret", "wrong-secret"),
            ("refresh_token", tokens["refresh_token"].as_str().unwrap()),
        ],
    )
    .await;
    assert_eq!(status, 401);
    let log = emu.requests();
    let client = app.client_id.to_string();
    let authorize = log
        .iter()
        .find(|e| e.path.ends_with("/oauth2/v2.0/authorize"))
        .expect("authorize logged");
    assert_eq!(authorize.client_id.as_deref(), Some(client.as_str()));
    assert_eq!(authorize.status, 200);
    assert!(
        log.iter()
            .any(|e| e.path.ends_with("/login") && e.status == 302),
        "the consent step that redirected back"
    );
    let tokens_logged: Vec<_> = log
        .iter()
        .filter(|e| e.path.ends_with("/oauth2/v2.0/token"))
        .collect();
    assert_eq!(tokens_logged.len(), 2);
    assert_eq!(
        tokens_logged[0].grant_type.as_deref(),
        Some("authorization_code")
    );
    assert_eq!(tokens_logged[0].status, 200);
    assert_eq!(tokens_logged[0].client_id.as_deref(), Some(client.as_str()));
    assert_eq!(
        tokens_logged[1].grant_type.as_deref(),
        Some("refresh_token")
    );
    assert_eq!(tokens_logged[1].status, 401);
    assert_eq!(
        tokens_logged[1].error.as_deref(),
        Some("invalid_client (AADSTS7000215)")
    );
    let text = serde_json::to_string(&log).unwrap();
    for secret in [
        app.secret_value.as_str(),
        tokens["refresh_token"].as_str().unwrap(),
        tokens["access_token"].as_str().unwrap(),
        s.password,
    ] {
        assert!(!text.contains(secret), "log leaks a secret");
    }
    // An error sent back by redirect is logged too.
    let url = authorize_url(&emu, "organizations", &client, "Calendars.Fly", &pkce().1);
    let resp = browser().get(&url).send().await.unwrap();
    assert_eq!(resp.status(), 302);
    assert_eq!(
        emu.requests().last().unwrap().error.as_deref(),
        Some("invalid_scope (AADSTS70011)")
    );
}
