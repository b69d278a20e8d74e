//! A space connected to an Exchange room through the emulator, as an
//! admin does it: register the app, save and activate the integration,
//! authorize as the rooms' delegate and pick the room.

use backend::entities::space;
use backend::integration::AccountType;
use backend::microsoft::identity::ROOM_SCOPES;
use emulator::state::SignInAudience;
use emulator::{DEMO, NewApp};
use reqwest::StatusCode;
use sea_orm::EntityTrait;

pub use super::microsoft::location;
use super::{TestApp, api_client, client, login};

pub const ADMIN: (&str, &str) = ("admin@calbridge.test", "calbridge-admin");
pub const FRAN: (&str, &str) = (
    "fran.facilities@contoso-library.onmicrosoft.com",
    "Rooms-Pass-2024!",
);
pub const SEMINAR: &str = "room.seminar@contoso-library.onmicrosoft.com";
/// The Redirect URL the admin registers: the server's own.
fn redirect_url(app: &TestApp) -> String {
    format!(
        "{}/oauth/microsoft/callback",
        app.backend.settings.public_base_url.trim_end_matches('/')
    )
}

/// Registers the app at the emulator and activates the integration;
/// returns the first demo space's id.
pub async fn set_up(app: &TestApp) -> i64 {
    let mut new = NewApp::web(
        "Calbridge",
        DEMO.tenant_id,
        SignInAudience::AzureADMultipleOrgs,
        &redirect_url(app),
    );
    new.delegated_permissions = ROOM_SCOPES.iter().map(|s| s.to_string()).collect();
    let registered = app.emulator().register_app(new);
    activate(app, &registered, AccountType::AnyOrganization).await
}

/// Signs in at the emulator as `who` (and consents); returns the redirect
/// back to Calbridge's callback.
pub async fn at_microsoft(app: &TestApp, authorize_url: &str, who: (&str, &str)) -> String {
    super::microsoft::at_microsoft(app, &client(), authorize_url, who, None).await
}

/// The admin's "Connect a room" for `space_id` in `browser` (signed in
/// as an admin), authorized at Microsoft as Fran, the rooms' delegate.
pub async fn authorize_as_fran(app: &TestApp, browser: &reqwest::Client, space_id: i64) {
    let r = browser
        .post(app.url("/oauth/microsoft/connect-room"))
        .form(&[("space_id", space_id.to_string())])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let redirect = at_microsoft(app, &location(&r), FRAN).await;
    let r = super::microsoft::callback(app, browser, &redirect).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
}

/// `set_up`, then the admin authorizes as Fran and picks the seminar
/// room for the first demo space; returns its id.
pub async fn connected_space(app: &TestApp) -> i64 {
    let space_id = set_up(app).await;
    let browser = client();
    login(app, &browser, ADMIN.0, ADMIN.1).await;
    authorize_as_fran(app, &browser, space_id).await;
    let api = api_client();
    login(app, &api, ADMIN.0, ADMIN.1).await;
    let picked = api
        .post(app.url("/api/pick_room"))
        .form(&[
            ("space_id", space_id.to_string()),
            ("address", SEMINAR.to_owned()),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(picked.status(), StatusCode::OK, "{:?}", picked.text().await);
    space_id
}

/// The tenant granted Calendars.ReadWrite (Application), limited to the
/// seminar room by an application access policy.
pub async fn set_up_application(app: &TestApp) -> i64 {
    set_up_application_with(app).await.0
}

/// [`set_up_application`], also returning the registration (its secret).
pub async fn set_up_application_with(app: &TestApp) -> (i64, emulator::RegisteredApp) {
    let mut new = NewApp::web(
        "Calbridge",
        DEMO.tenant_id,
        SignInAudience::AzureADMultipleOrgs,
        &redirect_url(app),
    );
    new.application_permissions = vec!["Calendars.ReadWrite".into()];
    new.admin_consent = true;
    let emu = app.emulator();
    let registered = emu.register_app(new);
    emu.set_app_only_mailboxes(
        registered.client_id,
        Some(vec![emu.user_id(SEMINAR).unwrap()]),
    );
    let space_id = activate(app, &registered, AccountType::SingleTenant).await;
    (space_id, registered)
}

/// Saves `registered` as the integration, active; returns the first demo
/// space's id.
async fn activate(
    app: &TestApp,
    registered: &emulator::RegisteredApp,
    account_type: AccountType,
) -> i64 {
    super::save_integration(app, registered, account_type).await;
    let backend = &app.backend;
    space::Entity::find()
        .one(&backend.db)
        .await
        .unwrap()
        .expect("a demo space")
        .id
}
