//! "Connect with Microsoft" over real HTTP: Calbridge's start route and
//! callback, the emulator's sign-in, consent and admin-consent pages, and
//! every refusal with its way forward; disconnecting; a personal account.

mod support;

use backend::connections::{self, Owner};
use backend::entities::{legacy_exchange_setting, user};
use backend::integration::AccountType;
use chrono::Utc;
use emulator::state::SignInAudience;
use emulator::{DEMO, NewApp, RegisteredApp};
use reqwest::StatusCode;
use sea_orm::{ActiveModelTrait, EntityTrait, PaginatorTrait, Set};
use support::microsoft::{at_microsoft, callback, location};
use support::{TestApp, client, login};

/// Riley, not Sam: the demo seed turns Sam's appointments on, and these
/// tests start from a staff member without them.
const STAFF: (&str, &str) = ("riley@calbridge.test", "calbridge-staff");
const PATRON: (&str, &str) = ("pat@calbridge.test", "calbridge-patron");
const SAM_MS: (&str, &str) = (
    "sam.reader@contoso-library.onmicrosoft.com",
    "Staff-Pass-2024!",
);
const IT_ADMIN: (&str, &str) = (
    "it.admin@contoso-library.onmicrosoft.com",
    "Admin-Pass-2024!",
);
const REDIRECT: &str = "http://127.0.0.1/oauth/microsoft/callback";

on_both_databases!(
    staff_connects_and_the_callback_cannot_be_replayed,
    cancelling_at_microsoft_connects_nothing,
    consent_missing_shows_the_admin_link_which_lets_staff_connect,
    deactivated_meanwhile_connects_nothing,
    only_signed_in_staff_with_appointments_may_connect,
    staff_disconnects_and_tokens_are_erased,
    a_personal_microsoft_account_connects,
);

// ----- helpers -----

async fn set_up(
    app: &TestApp,
    audience: SignInAudience,
    account_type: AccountType,
) -> RegisteredApp {
    let registered =
        app.emulator()
            .register_app(NewApp::web("Calbridge", DEMO.tenant_id, audience, REDIRECT));
    support::save_integration(app, &registered, account_type).await;
    registered
}

async fn staff_id(app: &TestApp) -> i64 {
    use sea_orm::{ColumnTrait, QueryFilter};
    user::Entity::find()
        .filter(user::Column::Email.eq(STAFF.0))
        .one(&app.backend.db)
        .await
        .unwrap()
        .unwrap()
        .id
}

async fn enable_appointments(app: &TestApp) -> i64 {
    let id = staff_id(app).await;
    backend::staff::set_appointments_enabled(&app.backend.db, id, true, Utc::now())
        .await
        .unwrap();
    id
}

async fn staff_client(app: &TestApp) -> reqwest::Client {
    let c = client();
    login(app, &c, STAFF.0, STAFF.1).await;
    c
}

/// "Connect with Microsoft": Calbridge answers with a redirect to the
/// emulator's authorize endpoint.
async fn start(app: &TestApp, c: &reqwest::Client) -> String {
    let r = c
        .post(app.url("/oauth/microsoft/connect"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER, "{:?}", r.text().await);
    location(&r)
}

async fn connection(
    app: &TestApp,
    id: i64,
) -> Option<backend::entities::calendar_connection::Model> {
    connections::find(&app.backend.db, Owner::staff(id))
        .await
        .unwrap()
}

// ----- tests -----

async fn staff_connects_and_the_callback_cannot_be_replayed(app: TestApp) {
    set_up(
        &app,
        SignInAudience::AzureADMultipleOrgs,
        AccountType::AnyOrganization,
    )
    .await;
    let id = enable_appointments(&app).await;
    // Legacy password settings stay until the staff member connects.
    legacy_exchange_setting::ActiveModel {
        owner_kind: Set("staff".into()),
        owner_id: Set(id),
        server_url: Set("https://mail.example.org/EWS/Exchange.asmx".into()),
        account: Set("sam@example.org".into()),
        password_sealed: Set("v1:default:xxx".into()),
        updated_at: Set(Utc::now()),
        ..Default::default()
    }
    .insert(&app.backend.db)
    .await
    .unwrap();

    let c = staff_client(&app).await;
    let page = c
        .get(app.url("/staff/sync"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(page.contains("Connect with Microsoft"), "{page}");

    let authorize = start(&app, &c).await;
    let url = reqwest::Url::parse(&authorize).unwrap();
    assert!(
        url.path().ends_with("/organizations/oauth2/v2.0/authorize"),
        "{url}"
    );
    let q: std::collections::HashMap<_, _> = url.query_pairs().into_owned().collect();
    assert_eq!(q["code_challenge_method"], "S256");
    assert_eq!(q["scope"], "offline_access Calendars.ReadWrite User.Read");
    assert_eq!(q["redirect_uri"], REDIRECT);
    assert!(q["state"].len() >= 16);

    let redirect = at_microsoft(&app, &c, &authorize, SAM_MS, None).await;
    assert!(
        redirect.starts_with(REDIRECT) && redirect.contains("code="),
        "{redirect}"
    );
    let r = callback(&app, &c, &redirect).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&r), "/staff/sync?connected=1");

    let row = connection(&app, id).await.expect("stored");
    assert_eq!(
        (row.account.as_str(), row.status.as_str()),
        (SAM_MS.0, "active")
    );
    let sealed = row.refresh_token_sealed.clone().unwrap();
    assert!(sealed.starts_with("v1:"), "tokens are sealed by the vault");
    assert_eq!(
        legacy_exchange_setting::Entity::find()
            .count(&app.backend.db)
            .await
            .unwrap(),
        0,
        "connecting replaces the legacy password settings"
    );
    let page = c
        .get(app.url("/staff/sync?connected=1"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(page.contains(SAM_MS.0), "{page}");
    assert!(!page.contains(&sealed));

    // The same callback again: stale, nothing changes.
    let r = callback(&app, &c, &redirect).await;
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    let text = r.text().await.unwrap();
    assert!(text.contains("already been used or has expired"), "{text}");
    assert!(text.contains("/staff/sync"));
    assert_eq!(
        connection(&app, id).await.unwrap().token_version,
        row.token_version
    );

    // A callback with a state this session never had is refused too.
    let authorize = start(&app, &c).await;
    let redirect = at_microsoft(&app, &c, &authorize, SAM_MS, None).await;
    let forged = redirect.replace("state=", "state=x");
    let r = callback(&app, &c, &forged).await;
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
}

async fn cancelling_at_microsoft_connects_nothing(app: TestApp) {
    set_up(
        &app,
        SignInAudience::AzureADMultipleOrgs,
        AccountType::AnyOrganization,
    )
    .await;
    let id = enable_appointments(&app).await;
    let c = staff_client(&app).await;
    let authorize = start(&app, &c).await;
    let redirect = at_microsoft(&app, &c, &authorize, SAM_MS, Some("cancel")).await;
    assert!(redirect.contains("error=access_denied"), "{redirect}");
    let r = callback(&app, &c, &redirect).await;
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    let text = r.text().await.unwrap();
    assert!(text.contains("You cancelled the sign-in"), "{text}");
    assert!(connection(&app, id).await.is_none());
}

async fn consent_missing_shows_the_admin_link_which_lets_staff_connect(app: TestApp) {
    let registered = set_up(
        &app,
        SignInAudience::AzureADMultipleOrgs,
        AccountType::AnyOrganization,
    )
    .await;
    app.emulator()
        .set_require_admin_consent(DEMO.tenant_id, true);
    let id = enable_appointments(&app).await;
    let c = staff_client(&app).await;
    let authorize = start(&app, &c).await;
    let redirect = at_microsoft(&app, &c, &authorize, SAM_MS, Some("back")).await;
    let r = callback(&app, &c, &redirect).await;
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    let text = r.text().await.unwrap();
    assert!(
        text.contains("requires an administrator to approve"),
        "{text}"
    );
    let link = {
        let i = text.find("id=\"admin-consent-link\" href=\"").unwrap() + 30;
        text[i..i + text[i..].find('"').unwrap()].replace("&amp;", "&")
    };
    assert!(link.contains("/v2.0/adminconsent?client_id="), "{link}");
    assert!(link.contains(&registered.client_id.to_string()));
    assert!(connection(&app, id).await.is_none());

    // The tenant admin follows the link, signs in and grants consent.
    let admin_browser = client();
    let redirect = at_microsoft(&app, &admin_browser, &link, IT_ADMIN, None).await;
    assert!(redirect.contains("admin_consent=True"), "{redirect}");
    let r = callback(&app, &admin_browser, &redirect).await;
    assert!(r.text().await.unwrap().contains("Consent granted"));

    // Now the staff member connects.
    let authorize = start(&app, &c).await;
    let redirect = at_microsoft(&app, &c, &authorize, SAM_MS, None).await;
    let r = callback(&app, &c, &redirect).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(connection(&app, id).await.unwrap().status, "active");
}

async fn deactivated_meanwhile_connects_nothing(app: TestApp) {
    set_up(
        &app,
        SignInAudience::AzureADMultipleOrgs,
        AccountType::AnyOrganization,
    )
    .await;
    let id = enable_appointments(&app).await;
    let c = staff_client(&app).await;
    let authorize = start(&app, &c).await;
    let redirect = at_microsoft(&app, &c, &authorize, SAM_MS, None).await;
    // The admin switches sync off while the staff member is at Microsoft.
    let mut settings = backend::integration::load(&app.backend.db).await.unwrap();
    settings.active = false;
    backend::integration::store::write(&app.backend.db, &settings)
        .await
        .unwrap();
    let r = callback(&app, &c, &redirect).await;
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    assert!(
        r.text()
            .await
            .unwrap()
            .contains("turned off while you were signing in")
    );
    assert!(connection(&app, id).await.is_none());
    // And starting again is refused with the reason.
    let r = c
        .post(app.url("/oauth/microsoft/connect"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::CONFLICT);
    assert!(r.text().await.unwrap().contains("not active"));
}

async fn only_signed_in_staff_with_appointments_may_connect(app: TestApp) {
    set_up(
        &app,
        SignInAudience::AzureADMultipleOrgs,
        AccountType::AnyOrganization,
    )
    .await;
    // Anonymous: sent to sign in.
    let anonymous = client();
    let r = anonymous
        .post(app.url("/oauth/microsoft/connect"))
        .send()
        .await
        .unwrap();
    assert!(location(&r).starts_with("/login"));
    let r = anonymous
        .get(app.url("/oauth/microsoft/callback?code=x&state=y"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    assert!(r.text().await.unwrap().contains("not signed in"));
    // A patron: refused.
    let patron = client();
    login(&app, &patron, PATRON.0, PATRON.1).await;
    let r = patron
        .post(app.url("/oauth/microsoft/connect"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    // Staff without appointments activated: told why.
    let c = staff_client(&app).await;
    let r = c
        .post(app.url("/oauth/microsoft/connect"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::CONFLICT);
    assert!(
        r.text()
            .await
            .unwrap()
            .contains("Appointments are not activated")
    );
    let page = c
        .get(app.url("/staff/sync"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(page.contains("Appointments are not activated"), "{page}");
}

async fn staff_disconnects_and_tokens_are_erased(app: TestApp) {
    set_up(
        &app,
        SignInAudience::AzureADMultipleOrgs,
        AccountType::AnyOrganization,
    )
    .await;
    let id = enable_appointments(&app).await;
    let c = staff_client(&app).await;
    let authorize = start(&app, &c).await;
    let redirect = at_microsoft(&app, &c, &authorize, SAM_MS, None).await;
    callback(&app, &c, &redirect).await;
    assert_eq!(connection(&app, id).await.unwrap().status, "active");

    let api = support::api_client();
    login(&app, &api, STAFF.0, STAFF.1).await;
    let r = api
        .post(app.url("/api/disconnect_outlook"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert!(
        r.text()
            .await
            .unwrap()
            .contains("events already there stay")
    );
    let row = connection(&app, id).await.unwrap();
    assert_eq!(row.status, "revoked");
    assert!(row.access_token_sealed.is_none() && row.refresh_token_sealed.is_none());
    let r = api
        .post(app.url("/api/outlook_connection"))
        .send()
        .await
        .unwrap();
    let v: serde_json::Value = r.json().await.unwrap();
    assert_eq!(v["status"], "revoked");
    assert_eq!(v["can_connect"], true);
    assert!(!v.to_string().contains("v1:"));
}

async fn a_personal_microsoft_account_connects(app: TestApp) {
    set_up(
        &app,
        SignInAudience::AzureADandPersonalMicrosoftAccount,
        AccountType::OrganizationAndPersonal,
    )
    .await;
    let id = enable_appointments(&app).await;
    let c = staff_client(&app).await;
    let authorize = start(&app, &c).await;
    assert!(
        authorize.contains("/common/oauth2/v2.0/authorize"),
        "{authorize}"
    );
    let personal = (DEMO.personal.upn, DEMO.personal.password);
    let redirect = at_microsoft(&app, &c, &authorize, personal, None).await;
    let r = callback(&app, &c, &redirect).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER, "{:?}", r.text().await);
    assert_eq!(
        connection(&app, id).await.unwrap().account,
        DEMO.personal.upn
    );
}
