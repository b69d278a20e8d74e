//! The token endpoint: every grant and every documented error, as a client sees them.

mod common;

use base64::Engine;
use chrono::Duration;
use common::*;
use emulator::DEMO;
use emulator::state::SignInAudience;
use serde_json::Value;

/// An unredeemed code (and its verifier) for staff member 0.
async fn fresh_code(
    emu: &emulator::EmulatorHandle,
    app: &emulator::RegisteredApp,
) -> (String, String) {
    let (verifier, challenge) = pkce();
    let url = authorize_url(
        emu,
        "organizations",
        &app.client_id.to_string(),
        SCOPES,
        &challenge,
    );
    let s = DEMO.staff[0];
    let loc = sign_in(&browser(), emu, "organizations", &url, s.upn, s.password).await;
    (query(&loc)["code"].clone(), verifier)
}

#[tokio::test]
async fn code_redemption_returns_documented_fields() {
    let emu = start().await;
    let app = register(&emu, SignInAudience::AzureADMultipleOrgs);
    let (code, verifier) = fresh_code(&emu, &app).await;
    let resp = redeem(&emu, &app, "organizations", &code, &verifier).await;
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.headers()["cache-control"], "no-store, no-cache");
    let t: Value = resp.json().await.unwrap();
    assert_eq!(t["token_type"], "Bearer");
    assert_eq!(t["expires_in"], 3600);
    assert_eq!(t["ext_expires_in"], 3600);
    assert!(t["access_token"].as_str().unwrap().len() > 40);
    assert!(t["refresh_token"].is_string());
    let scope = t["scope"].as_str().unwrap();
    assert!(scope.contains("Calendars.ReadWrite") && scope.contains("User.Read"));
}

#[tokio::test]
async fn no_offline_access_means_no_refresh_token_and_openid_gives_id_token() {
    let emu = start().await;
    let app = register(&emu, SignInAudience::AzureADMultipleOrgs);
    let s = DEMO.staff[0];
    let t = user_tokens(
        &emu,
        &app,
        "organizations",
        s.upn,
        s.password,
        "openid User.Read",
    )
    .await;
    assert!(t.get("refresh_token").is_none());
    let id = t["id_token"].as_str().unwrap();
    let claims = id.split('.').nth(1).unwrap();
    let claims: Value = serde_json::from_slice(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(claims)
            .unwrap(),
    )
    .unwrap();
    assert_eq!(claims["preferred_username"], s.upn);
    assert_eq!(claims["tid"], DEMO.tenant_id.to_string());
}

#[tokio::test]
async fn reused_code_is_54005() {
    let emu = start().await;
    let app = register(&emu, SignInAudience::AzureADMultipleOrgs);
    let (code, verifier) = fresh_code(&emu, &app).await;
    assert_eq!(
        redeem(&emu, &app, "organizations", &code, &verifier)
            .await
            .status(),
        200
    );
    let resp = redeem(&emu, &app, "organizations", &code, &verifier).await;
    assert_eq!(resp.status(), 400);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["error"], "invalid_grant");
    assert_eq!(aadsts(&body), 54005);
}

#[tokio::test]
async fn code_expires_after_ten_minutes_70008() {
    let emu = start().await;
    let app = register(&emu, SignInAudience::AzureADMultipleOrgs);
    let (code, verifier) = fresh_code(&emu, &app).await;
    emu.advance_clock(Duration::minutes(11));
    let body: Value = redeem(&emu, &app, "organizations", &code, &verifier)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(aadsts(&body), 70008);
}

#[tokio::test]
async fn garbage_code_is_70000() {
    let emu = start().await;
    let app = register(&emu, SignInAudience::AzureADMultipleOrgs);
    let body: Value = redeem(&emu, &app, "organizations", "not-a-code", "v")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(body["error"], "invalid_grant");
    assert_eq!(aadsts(&body), 70000);
}

#[tokio::test]
async fn pkce_verifier_must_match_and_be_present() {
    let emu = start().await;
    let app = register(&emu, SignInAudience::AzureADMultipleOrgs);
    let (code, _) = fresh_code(&emu, &app).await;
    let body: Value = redeem(
        &emu,
        &app,
        "organizations",
        &code,
        "the-wrong-verifier-of-sufficient-length-0123456789",
    )
    .await
    .json()
    .await
    .unwrap();
    assert_eq!(aadsts(&body), 501481);
    let (status, body) = token_request(
        &emu,
        "organizations",
        &[
            ("grant_type", "authorization_code"),
            ("client_id", &app.client_id.to_string()),
            ("client_secret", &app.secret_value),
            ("code", &code),
            ("redirect_uri", REDIRECT),
        ],
    )
    .await;
    assert_eq!(status, 400);
    assert_eq!(aadsts(&body), 900144);
}

#[tokio::test]
async fn plain_pkce_is_enforced_too() {
    let emu = start().await;
    let app = register(&emu, SignInAudience::AzureADMultipleOrgs);
    let url = authorize_url(
        &emu,
        "organizations",
        &app.client_id.to_string(),
        SCOPES,
        "plain-verifier-1234567890",
    )
    .replace("S256", "plain");
    let s = DEMO.staff[0];
    let code =
        query(&sign_in(&browser(), &emu, "organizations", &url, s.upn, s.password).await)["code"]
            .clone();
    let body: Value = redeem(&emu, &app, "organizations", &code, "other")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(aadsts(&body), 501481);
    assert_eq!(
        redeem(
            &emu,
            &app,
            "organizations",
            &code,
            "plain-verifier-1234567890"
        )
        .await
        .status(),
        200
    );
}

#[tokio::test]
async fn redirect_uri_must_equal_the_authorize_one() {
    let emu = start().await;
    let app = register(&emu, SignInAudience::AzureADMultipleOrgs);
    let (code, verifier) = fresh_code(&emu, &app).await;
    let (status, body) = token_request(
        &emu,
        "organizations",
        &[
            ("grant_type", "authorization_code"),
            ("client_id", &app.client_id.to_string()),
            ("client_secret", &app.secret_value),
            ("code", &code),
            ("redirect_uri", "http://localhost:3000/other"),
            ("code_verifier", &verifier),
        ],
    )
    .await;
    assert_eq!(status, 400);
    assert_eq!(aadsts(&body), 500112);
}

#[tokio::test]
async fn wrong_secret_or_secret_id_is_invalid_client_401_7000215() {
    let emu = start().await;
    let app = register(&emu, SignInAudience::AzureADMultipleOrgs);
    let (code, verifier) = fresh_code(&emu, &app).await;
    // The classic mistake: the Secret ID pasted instead of the Value.
    for secret in ["wrong", &app.secret_id.to_string()] {
        let (status, body) = token_request(
            &emu,
            "organizations",
            &[
                ("grant_type", "authorization_code"),
                ("client_id", &app.client_id.to_string()),
                ("client_secret", secret),
                ("code", &code),
                ("redirect_uri", REDIRECT),
                ("code_verifier", &verifier),
            ],
        )
        .await;
        assert_eq!(status, 401);
        assert_eq!(body["error"], "invalid_client");
        assert_eq!(aadsts(&body), 7000215);
    }
}

#[tokio::test]
async fn missing_secret_is_7000218() {
    let emu = start().await;
    let app = register(&emu, SignInAudience::AzureADMultipleOrgs);
    let (status, body) = token_request(
        &emu,
        "organizations",
        &[
            ("grant_type", "authorization_code"),
            ("client_id", &app.client_id.to_string()),
            ("code", "x"),
            ("redirect_uri", REDIRECT),
        ],
    )
    .await;
    assert_eq!(status, 401);
    assert_eq!(aadsts(&body), 7000218);
}

#[tokio::test]
async fn expired_secret_is_7000222() {
    let emu = start().await;
    let app = register(&emu, SignInAudience::AzureADMultipleOrgs);
    assert!(emu.expire_secret(app.client_id, app.secret_id));
    let (status, body) = token_request(
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
    assert_eq!(status, 401);
    assert_eq!(body["error"], "invalid_client");
    assert_eq!(aadsts(&body), 7000222);
}

#[tokio::test]
async fn http_basic_client_authentication_works() {
    let emu = start().await;
    let app = register(&emu, SignInAudience::AzureADMultipleOrgs);
    let (code, verifier) = fresh_code(&emu, &app).await;
    let resp = http()
        .post(format!(
            "{}/organizations/oauth2/v2.0/token",
            emu.base_url()
        ))
        .basic_auth(app.client_id, Some(urlencoding::encode(&app.secret_value)))
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", REDIRECT),
            ("code_verifier", &verifier),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
}

#[tokio::test]
async fn unknown_app_at_token_endpoint_is_700016() {
    let emu = start().await;
    let (status, body) = token_request(
        &emu,
        "organizations",
        &[
            ("grant_type", "refresh_token"),
            ("client_id", "11111111-2222-3333-4444-555555555555"),
            ("client_secret", "x"),
            ("refresh_token", "y"),
        ],
    )
    .await;
    assert_eq!(status, 400);
    assert_eq!(body["error"], "unauthorized_client");
    assert_eq!(aadsts(&body), 700016);
}

#[tokio::test]
async fn unsupported_grant_type_is_70003() {
    let emu = start().await;
    let app = register(&emu, SignInAudience::AzureADMultipleOrgs);
    let (status, body) = token_request(
        &emu,
        "organizations",
        &[
            ("grant_type", "password"),
            ("client_id", &app.client_id.to_string()),
            ("client_secret", &app.secret_value),
        ],
    )
    .await;
    assert_eq!(status, 400);
    assert_eq!(body["error"], "unsupported_grant_type");
    assert_eq!(aadsts(&body), 70003);
}

async fn refresh(
    emu: &emulator::EmulatorHandle,
    app: &emulator::RegisteredApp,
    rt: &str,
    scope: Option<&str>,
) -> (u16, Value) {
    let id = app.client_id.to_string();
    let mut form = vec![
        ("grant_type", "refresh_token"),
        ("client_id", id.as_str()),
        ("client_secret", app.secret_value.as_str()),
        ("refresh_token", rt),
    ];
    if let Some(s) = scope {
        form.push(("scope", s));
    }
    token_request(emu, "organizations", &form).await
}

#[tokio::test]
async fn refresh_returns_a_new_refresh_token_every_time() {
    let emu = start().await;
    let app = register(&emu, SignInAudience::AzureADMultipleOrgs);
    let s = DEMO.staff[0];
    let t = user_tokens(&emu, &app, "organizations", s.upn, s.password, SCOPES).await;
    let rt1 = t["refresh_token"].as_str().unwrap();
    let (status, t2) = refresh(&emu, &app, rt1, None).await;
    assert_eq!(status, 200);
    let rt2 = t2["refresh_token"].as_str().unwrap();
    assert_ne!(rt1, rt2);
    assert_ne!(t["access_token"], t2["access_token"]);
    // Lenient mode (the default): the old refresh token still works.
    assert_eq!(refresh(&emu, &app, rt1, None).await.0, 200);
}

#[tokio::test]
async fn strict_rotation_revokes_the_old_refresh_token() {
    let emu = start().await;
    emu.update_settings(|s| s.strict_refresh_rotation = true);
    let app = register(&emu, SignInAudience::AzureADMultipleOrgs);
    let s = DEMO.staff[0];
    let t = user_tokens(&emu, &app, "organizations", s.upn, s.password, SCOPES).await;
    let rt1 = t["refresh_token"].as_str().unwrap();
    let (_, t2) = refresh(&emu, &app, rt1, None).await;
    let (status, body) = refresh(&emu, &app, rt1, None).await;
    assert_eq!(status, 400);
    assert_eq!(aadsts(&body), 70000);
    assert_eq!(
        refresh(&emu, &app, t2["refresh_token"].as_str().unwrap(), None)
            .await
            .0,
        200
    );
}

#[tokio::test]
async fn revoked_grant_is_50173() {
    let emu = start().await;
    let app = register(&emu, SignInAudience::AzureADMultipleOrgs);
    let s = DEMO.staff[0];
    let t = user_tokens(&emu, &app, "organizations", s.upn, s.password, SCOPES).await;
    emu.advance_clock(Duration::seconds(5));
    emu.revoke_grant(emu.user_id(s.upn).unwrap(), Some(app.client_id));
    let (status, body) = refresh(&emu, &app, t["refresh_token"].as_str().unwrap(), None).await;
    assert_eq!(status, 400);
    assert_eq!(body["error"], "invalid_grant");
    assert_eq!(aadsts(&body), 50173);
}

#[tokio::test]
async fn revoke_through_control_api_too() {
    let emu = start().await;
    let app = register(&emu, SignInAudience::AzureADMultipleOrgs);
    let s = DEMO.staff[1];
    let t = user_tokens(&emu, &app, "organizations", s.upn, s.password, SCOPES).await;
    emu.advance_clock(Duration::seconds(5));
    let resp = http()
        .post(format!("{}/_emulator/grants/revoke", emu.base_url()))
        .json(&serde_json::json!({"user": s.upn}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let (_, body) = refresh(&emu, &app, t["refresh_token"].as_str().unwrap(), None).await;
    assert_eq!(aadsts(&body), 50173);
}

#[tokio::test]
async fn refresh_token_unused_for_90_days_is_700082() {
    let emu = start().await;
    let app = register(&emu, SignInAudience::AzureADMultipleOrgs);
    let s = DEMO.staff[0];
    let t = user_tokens(&emu, &app, "organizations", s.upn, s.password, SCOPES).await;
    emu.advance_clock(Duration::days(91));
    let (_, body) = refresh(&emu, &app, t["refresh_token"].as_str().unwrap(), None).await;
    assert_eq!(aadsts(&body), 700082);
}

#[tokio::test]
async fn refresh_for_an_unconsented_scope_is_65001() {
    let emu = start().await;
    let app = register(&emu, SignInAudience::AzureADMultipleOrgs);
    let s = DEMO.staff[0];
    let t = user_tokens(&emu, &app, "organizations", s.upn, s.password, SCOPES).await;
    let (status, body) = refresh(
        &emu,
        &app,
        t["refresh_token"].as_str().unwrap(),
        Some("Calendars.ReadWrite.Shared offline_access"),
    )
    .await;
    assert_eq!(status, 400);
    assert_eq!(body["error"], "invalid_grant");
    assert_eq!(aadsts(&body), 65001);
}

#[tokio::test]
async fn client_credentials_refused_at_common_and_consumers() {
    let emu = start().await;
    let app = register(&emu, SignInAudience::AzureADandPersonalMicrosoftAccount);
    for (authority, code) in [
        ("common", 50059),
        ("organizations", 50059),
        ("consumers", 700016),
    ] {
        let (status, body) = token_request(
            &emu,
            authority,
            &[
                ("grant_type", "client_credentials"),
                ("client_id", &app.client_id.to_string()),
                ("client_secret", &app.secret_value),
                ("scope", "https://graph.microsoft.com/.default"),
            ],
        )
        .await;
        assert_eq!(status, 400, "{authority}");
        assert_eq!(aadsts(&body), code, "{authority}");
    }
}

#[tokio::test]
async fn client_credentials_at_a_tenant_returns_an_app_token() {
    let emu = start().await;
    let app = register(&emu, SignInAudience::AzureADMyOrg);
    let (status, body) = token_request(
        &emu,
        &DEMO.tenant_id.to_string(),
        &[
            ("grant_type", "client_credentials"),
            ("client_id", &app.client_id.to_string()),
            ("client_secret", &app.secret_value),
            ("scope", "https://graph.microsoft.com/.default"),
        ],
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(body["token_type"], "Bearer");
    assert!(body.get("refresh_token").is_none());
    let (status, body) = token_request(
        &emu,
        &DEMO.tenant_id.to_string(),
        &[
            ("grant_type", "client_credentials"),
            ("client_id", &app.client_id.to_string()),
            ("client_secret", &app.secret_value),
            ("scope", "Calendars.ReadWrite"),
        ],
    )
    .await;
    assert_eq!(status, 400);
    assert_eq!(aadsts(&body), 1002012);
}

#[tokio::test]
async fn single_tenant_app_at_common_token_endpoint_is_50194() {
    let emu = start().await;
    let app = register(&emu, SignInAudience::AzureADMyOrg);
    let (status, body) = token_request(
        &emu,
        "common",
        &[
            ("grant_type", "refresh_token"),
            ("client_id", &app.client_id.to_string()),
            ("client_secret", &app.secret_value),
            ("refresh_token", "x"),
        ],
    )
    .await;
    assert_eq!(status, 400);
    assert_eq!(aadsts(&body), 50194);
}

#[tokio::test]
async fn missing_grant_type_is_900144() {
    let emu = start().await;
    let (status, body) = token_request(&emu, "common", &[("client_id", "x")]).await;
    assert_eq!(status, 400);
    assert_eq!(body["error"], "invalid_request");
    assert_eq!(aadsts(&body), 900144);
}
