//! The App registrations portal, walked with plain form posts as a browser would.

mod common;

use chrono::Duration;
use common::*;
use emulator::DEMO;

async fn signed_in_admin(emu: &emulator::EmulatorHandle) -> reqwest::Client {
    let b = browser();
    let a = DEMO.it_admin;
    let r = b
        .post(format!("{}/portal/signin", emu.base_url()))
        .form(&[("loginfmt", a.upn), ("passwd", a.password)])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303);
    b
}

#[tokio::test]
async fn only_an_admin_can_sign_in() {
    let emu = start().await;
    let s = DEMO.staff[0];
    let r = browser()
        .post(format!("{}/portal/signin", emu.base_url()))
        .form(&[("loginfmt", s.upn), ("passwd", s.password)])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert!(r.text().await.unwrap().contains("portal-error"));
    let r = browser()
        .get(format!("{}/portal/apps", emu.base_url()))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303, "anonymous visitors go to sign-in");
}

#[tokio::test]
async fn register_app_create_secret_and_use_it() {
    let emu = start().await;
    emu.update_settings(|s| s.propagation_delay_secs = 300);
    let b = signed_in_admin(&emu).await;
    let base = emu.base_url();
    let r = b
        .post(format!("{base}/portal/apps"))
        .form(&[
            ("name", "Calbridge Sync"),
            ("audience", "AzureADMyOrg"),
            ("platform", "web"),
            ("redirect_uri", REDIRECT),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303);
    let overview_url = format!("{base}{}", location(&r));
    let html = b
        .get(&overview_url)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let client_id = between(&html, "data-testid=\"application-client-id\">", "<")
        .unwrap()
        .to_string();
    let tenant_id = between(&html, "data-testid=\"directory-tenant-id\">", "<")
        .unwrap()
        .to_string();
    assert_eq!(tenant_id, DEMO.tenant_id.to_string());
    assert!(html.contains(REDIRECT));

    // Certificates & secrets: the Value shows once, beside a separate Secret ID.
    let r = b
        .post(format!("{overview_url}/secrets"))
        .form(&[("description", "calbridge"), ("expires", "730")])
        .send()
        .await
        .unwrap();
    let html = r.text().await.unwrap();
    let value = between(
        &html,
        "data-testid=\"secret-value\" id=\"secret-value\">",
        "<",
    )
    .unwrap()
    .to_string();
    let secret_id = between(&html, "data-testid=\"secret-id\">", "<")
        .unwrap()
        .to_string();
    assert_eq!(value.len(), 40);
    assert_ne!(value, secret_id);
    let again = b
        .get(format!("{overview_url}/secrets"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(!again.contains(&value), "the Value is never shown again");
    assert!(again.contains(&secret_id));

    // API permissions: add application Calendars.ReadWrite and grant admin consent.
    b.post(format!("{overview_url}/permissions"))
        .form(&[
            ("delegated:Calendars.ReadWrite", "on"),
            ("delegated:offline_access", "on"),
            ("application:Calendars.ReadWrite", "on"),
        ])
        .send()
        .await
        .unwrap();
    b.post(format!("{overview_url}/permissions/consent"))
        .send()
        .await
        .unwrap();
    let html = b
        .get(format!("{overview_url}/permissions"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(html.contains("data-permission=\"Calendars.ReadWrite\" data-type=\"Application\""));
    assert!(html.contains("Granted for your organization"));

    // Just registered: Microsoft does not know the app yet.
    let form = [
        ("grant_type", "client_credentials"),
        ("client_id", client_id.as_str()),
        ("client_secret", value.as_str()),
        ("scope", "https://graph.microsoft.com/.default"),
    ];
    let (status, body) = token_request(&emu, &tenant_id, &form).await;
    assert_eq!(status, 400);
    assert_eq!(aadsts(&body), 700016);
    emu.advance_clock(Duration::seconds(301));
    let (status, body) = token_request(&emu, &tenant_id, &form).await;
    assert_eq!(status, 200, "{body}");
    let token = body["access_token"].as_str().unwrap();
    let r = http()
        .get(graph(
            &emu,
            &format!("/users/{}/events", DEMO.rooms[0].address),
        ))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
}

#[tokio::test]
async fn consent_setting_in_portal_requires_admin_consent() {
    let emu = start().await;
    let b = signed_in_admin(&emu).await;
    b.post(format!("{}/portal/tenant", emu.base_url()))
        .form(&[("user_consent", "deny")])
        .send()
        .await
        .unwrap();
    let html = b
        .get(format!("{}/portal/tenant", emu.base_url()))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(html.contains("value=\"deny\" checked"));
    let app = register(&emu, emulator::state::SignInAudience::AzureADMultipleOrgs);
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
}
