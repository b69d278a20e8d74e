//! The authorize endpoint and the sign-in pages, as an app and a browser see them.

mod common;

use common::*;
use emulator::DEMO;
use emulator::state::SignInAudience;

#[tokio::test]
async fn sign_in_and_consent_redirects_with_code_and_state() {
    let emu = start().await;
    let app = register(&emu, SignInAudience::AzureADMultipleOrgs);
    let (_, challenge) = pkce();
    let url = authorize_url(
        &emu,
        "organizations",
        &app.client_id.to_string(),
        SCOPES,
        &challenge,
    );
    let b = browser();
    let html = b.get(&url).send().await.unwrap().text().await.unwrap();
    assert!(html.contains("name=\"loginfmt\"") && html.contains("Calbridge"));
    let flow = flow_id(&html);
    let s = DEMO.staff[0];
    let consent = sign_in_step(&b, &emu, "organizations", &flow, s.upn, s.password).await;
    let html = consent.text().await.unwrap();
    for scope in ["offline_access", "Calendars.ReadWrite", "User.Read"] {
        assert!(
            html.contains(&format!("data-scope=\"{scope}\"")),
            "consent lists {scope}"
        );
    }
    let resp = flow_action(&b, &emu, "organizations", &flow, "accept").await;
    assert_eq!(resp.status(), 302);
    let loc = location(&resp);
    assert!(loc.starts_with(REDIRECT));
    let q = query(&loc);
    assert_eq!(q["state"], "st-123");
    assert!(!q["code"].is_empty());
}

#[tokio::test]
async fn second_authorization_skips_consent_thanks_to_session() {
    let emu = start().await;
    let app = register(&emu, SignInAudience::AzureADMultipleOrgs);
    let (_, challenge) = pkce();
    let url = authorize_url(
        &emu,
        "organizations",
        &app.client_id.to_string(),
        SCOPES,
        &challenge,
    );
    let b = browser();
    let s = DEMO.staff[0];
    sign_in(&b, &emu, "organizations", &url, s.upn, s.password).await;
    // Same browser: the session cookie signs in, consent is remembered.
    let resp = b.get(&url).send().await.unwrap();
    assert_eq!(resp.status(), 302);
    assert!(query(&location(&resp)).contains_key("code"));
}

#[tokio::test]
async fn cancel_on_consent_returns_access_denied_65004() {
    let emu = start().await;
    let app = register(&emu, SignInAudience::AzureADMultipleOrgs);
    let (_, challenge) = pkce();
    let url = authorize_url(
        &emu,
        "organizations",
        &app.client_id.to_string(),
        SCOPES,
        &challenge,
    );
    let b = browser();
    let flow = open_flow(&b, &url).await;
    let s = DEMO.staff[1];
    sign_in_step(&b, &emu, "organizations", &flow, s.upn, s.password).await;
    let resp = flow_action(&b, &emu, "organizations", &flow, "cancel").await;
    let q = query(&location(&resp));
    assert_eq!(q["error"], "access_denied");
    assert!(q["error_description"].starts_with("AADSTS65004:"));
    assert_eq!(q["state"], "st-123");
    assert!(!q.contains_key("code"));
}

async fn error_page_code(url: &str) -> String {
    let resp = browser().get(url).send().await.unwrap();
    assert_eq!(
        resp.status(),
        400,
        "shown on the emulator's page, not redirected"
    );
    assert!(resp.headers().get("location").is_none());
    let html = resp.text().await.unwrap();
    between(&html, "data-code=\"", "\"")
        .expect("error code on page")
        .to_string()
}

#[tokio::test]
async fn unknown_app_is_shown_on_error_page_700016() {
    let emu = start().await;
    let url = authorize_url(
        &emu,
        "organizations",
        "11111111-2222-3333-4444-555555555555",
        SCOPES,
        &pkce().1,
    );
    assert_eq!(error_page_code(&url).await, "700016");
}

#[tokio::test]
async fn redirect_uri_mismatch_is_shown_on_error_page_50011() {
    let emu = start().await;
    let app = register(&emu, SignInAudience::AzureADMultipleOrgs);
    let url = authorize_url(
        &emu,
        "organizations",
        &app.client_id.to_string(),
        SCOPES,
        &pkce().1,
    )
    .replace("callback", "callback/");
    assert_eq!(error_page_code(&url).await, "50011");
}

#[tokio::test]
async fn single_tenant_app_at_common_or_organizations_is_50194() {
    let emu = start().await;
    let app = register(&emu, SignInAudience::AzureADMyOrg);
    for authority in ["common", "organizations"] {
        let url = authorize_url(
            &emu,
            authority,
            &app.client_id.to_string(),
            SCOPES,
            &pkce().1,
        );
        assert_eq!(error_page_code(&url).await, "50194", "{authority}");
    }
    // At its own tenant (GUID or domain) it is fine.
    for authority in [DEMO.tenant_id.to_string(), DEMO.tenant_domain.to_string()] {
        let url = authorize_url(
            &emu,
            &authority,
            &app.client_id.to_string(),
            SCOPES,
            &pkce().1,
        );
        assert_eq!(browser().get(&url).send().await.unwrap().status(), 200);
    }
}

#[tokio::test]
async fn unknown_tenant_is_90002() {
    let emu = start().await;
    let app = register(&emu, SignInAudience::AzureADMultipleOrgs);
    let url = authorize_url(
        &emu,
        "nowhere.example",
        &app.client_id.to_string(),
        SCOPES,
        &pkce().1,
    );
    assert_eq!(error_page_code(&url).await, "90002");
}

#[tokio::test]
async fn new_registration_is_unknown_during_propagation_delay() {
    let emu = start().await;
    emu.update_settings(|s| s.propagation_delay_secs = 120);
    let mut new = emulator::NewApp::web(
        "Fresh",
        DEMO.tenant_id,
        SignInAudience::AzureADMultipleOrgs,
        REDIRECT,
    );
    new.propagated = false;
    let app = emu.register_app(new);
    let url = authorize_url(
        &emu,
        "organizations",
        &app.client_id.to_string(),
        SCOPES,
        &pkce().1,
    );
    assert_eq!(error_page_code(&url).await, "700016");
    emu.advance_clock(chrono::Duration::seconds(121));
    assert_eq!(browser().get(&url).send().await.unwrap().status(), 200);
}

#[tokio::test]
async fn wrong_password_stays_on_sign_in_page_with_50126() {
    let emu = start().await;
    let app = register(&emu, SignInAudience::AzureADMultipleOrgs);
    let url = authorize_url(
        &emu,
        "organizations",
        &app.client_id.to_string(),
        SCOPES,
        &pkce().1,
    );
    let b = browser();
    let flow = open_flow(&b, &url).await;
    let resp = sign_in_step(&b, &emu, "organizations", &flow, DEMO.staff[0].upn, "nope").await;
    assert_eq!(resp.status(), 200);
    assert!(resp.text().await.unwrap().contains("AADSTS50126"));
}

#[tokio::test]
async fn personal_account_cannot_sign_in_to_org_only_app_50020() {
    let emu = start().await;
    let app = register(&emu, SignInAudience::AzureADMultipleOrgs);
    let url = authorize_url(
        &emu,
        "common",
        &app.client_id.to_string(),
        SCOPES,
        &pkce().1,
    );
    let b = browser();
    let flow = open_flow(&b, &url).await;
    let p = DEMO.personal;
    let resp = sign_in_step(&b, &emu, "common", &flow, p.upn, p.password).await;
    assert_eq!(resp.status(), 200);
    assert!(resp.text().await.unwrap().contains("AADSTS50020"));
}

#[tokio::test]
async fn personal_account_signs_in_at_consumers() {
    let emu = start().await;
    let app = register(&emu, SignInAudience::AzureADandPersonalMicrosoftAccount);
    let p = DEMO.personal;
    let t = user_tokens(&emu, &app, "consumers", p.upn, p.password, SCOPES).await;
    assert!(t["refresh_token"].is_string());
}

#[tokio::test]
async fn personal_account_cannot_get_work_only_scope() {
    let emu = start().await;
    let app = register(&emu, SignInAudience::AzureADandPersonalMicrosoftAccount);
    let url = authorize_url(
        &emu,
        "consumers",
        &app.client_id.to_string(),
        "Place.Read.All User.Read",
        &pkce().1,
    );
    let p = DEMO.personal;
    let loc = sign_in(&browser(), &emu, "consumers", &url, p.upn, p.password).await;
    let q = query(&loc);
    assert_eq!(q["error"], "invalid_scope");
    assert!(q["error_description"].starts_with("AADSTS70011:"));
}

#[tokio::test]
async fn missing_pkce_is_refused_by_redirect() {
    let emu = start().await;
    let app = register(&emu, SignInAudience::AzureADMultipleOrgs);
    let url = authorize_url(
        &emu,
        "organizations",
        &app.client_id.to_string(),
        SCOPES,
        "x",
    )
    .replace("&code_challenge=x&code_challenge_method=S256", "");
    let resp = browser().get(&url).send().await.unwrap();
    assert_eq!(resp.status(), 302);
    let q = query(&location(&resp));
    assert_eq!(q["error"], "invalid_request");
    assert_eq!(q["state"], "st-123");
}

#[tokio::test]
async fn unknown_scope_is_invalid_scope_70011() {
    let emu = start().await;
    let app = register(&emu, SignInAudience::AzureADMultipleOrgs);
    let url = authorize_url(
        &emu,
        "organizations",
        &app.client_id.to_string(),
        "Calendars.Everything",
        &pkce().1,
    );
    let q = query(&location(&browser().get(&url).send().await.unwrap()));
    assert_eq!(q["error"], "invalid_scope");
    assert!(q["error_description"].starts_with("AADSTS70011"));
}

#[tokio::test]
async fn prompt_none_without_session_is_login_required() {
    let emu = start().await;
    let app = register(&emu, SignInAudience::AzureADMultipleOrgs);
    let url = authorize_url(
        &emu,
        "organizations",
        &app.client_id.to_string(),
        SCOPES,
        &pkce().1,
    ) + "&prompt=none";
    let q = query(&location(&browser().get(&url).send().await.unwrap()));
    assert_eq!(q["error"], "login_required");
}

#[tokio::test]
async fn tenant_requiring_admin_consent_sends_user_back_with_65001() {
    let emu = start().await;
    emu.set_require_admin_consent(DEMO.tenant_id, true);
    let app = register(&emu, SignInAudience::AzureADMultipleOrgs);
    let url = authorize_url(
        &emu,
        "organizations",
        &app.client_id.to_string(),
        SCOPES,
        &pkce().1,
    );
    let b = browser();
    let flow = open_flow(&b, &url).await;
    let s = DEMO.staff[0];
    let page = sign_in_step(&b, &emu, "organizations", &flow, s.upn, s.password).await;
    assert!(page.text().await.unwrap().contains("Need admin approval"));
    let resp = flow_action(&b, &emu, "organizations", &flow, "back").await;
    let q = query(&location(&resp));
    assert_eq!(q["error"], "consent_required");
    assert!(q["error_description"].starts_with("AADSTS65001:"));
}

#[tokio::test]
async fn admin_consent_endpoint_grants_for_the_whole_tenant() {
    let emu = start().await;
    emu.set_require_admin_consent(DEMO.tenant_id, true);
    let app = register(&emu, SignInAudience::AzureADMultipleOrgs);
    let url = format!(
        "{}/organizations/v2.0/adminconsent?client_id={}&redirect_uri={}&state=adm&scope={}",
        emu.base_url(),
        app.client_id,
        urlencoding::encode(REDIRECT),
        urlencoding::encode("https://graph.microsoft.com/.default")
    );
    let b = browser();
    // A staff member is not an admin: refused.
    let flow = open_flow(&b, &url).await;
    let s = DEMO.staff[0];
    let resp = sign_in_step(&b, &emu, "organizations", &flow, s.upn, s.password).await;
    assert!(resp.text().await.unwrap().contains("AADSTS90094"));
    // The IT admin accepts.
    let a = DEMO.it_admin;
    let b = browser();
    let flow = open_flow(&b, &url).await;
    let page = sign_in_step(&b, &emu, "organizations", &flow, a.upn, a.password).await;
    assert!(page.text().await.unwrap().contains("Permissions requested"));
    let resp = flow_action(&b, &emu, "organizations", &flow, "accept").await;
    let q = query(&location(&resp));
    assert_eq!(q["admin_consent"], "True");
    assert_eq!(q["tenant"], DEMO.tenant_id.to_string());
    assert_eq!(q["state"], "adm");
    // Now a staff member gets a code without any consent page.
    let t = user_tokens(&emu, &app, "organizations", s.upn, s.password, SCOPES).await;
    assert!(t["access_token"].is_string());
}
