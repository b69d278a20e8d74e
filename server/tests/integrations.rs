//! Admin › Integrations through real HTTP: every Save outcome against the
//! in-process Microsoft emulator, activation, the system-wide disconnect,
//! key rotation, role checks, and the secret never leaving the server.

mod support;

use emulator::state::SignInAudience;
use emulator::{DEMO, NewApp, RegisteredApp};
use reqwest::StatusCode;
use serde_json::Value;
use support::{TestApp, api_client, login, post};

const ADMIN: (&str, &str) = ("admin@calbridge.test", "calbridge-admin");
const STAFF: (&str, &str) = ("sam@calbridge.test", "calbridge-staff");
const PATRON: (&str, &str) = ("pat@calbridge.test", "calbridge-patron");
const REDIRECT: &str = "http://127.0.0.1/oauth/microsoft/callback";

on_both_databases!(
    single_tenant_app_is_checked_saved_and_its_secret_never_returns,
    each_multi_tenant_account_type_is_checked_with_an_invalid_code,
    unknown_or_just_registered_app_is_700016_and_nothing_is_stored,
    secret_id_instead_of_value_is_7000215,
    expired_secret_is_7000222,
    single_tenant_app_without_its_tenant_is_50194,
    app_narrower_than_the_chosen_account_type_says_which_to_pick,
    unreachable_microsoft_stores_nothing_unless_saved_anyway,
    changing_the_app_drops_the_saved_secret,
    activation_saves_at_once_and_is_audited,
    disconnect_everything_disables_and_blocks_new_connections,
    rotate_key_reseals_with_the_active_key,
    expiry_banner_warns_then_says_expired,
    only_admins_reach_the_integration_server_fns,
    integration_events_refuse_anonymous_and_follow_each_toggle,
);

// ----- helpers -----

async fn admin(app: &TestApp) -> reqwest::Client {
    let c = api_client();
    login(app, &c, ADMIN.0, ADMIN.1).await;
    c
}

fn register(app: &TestApp, audience: SignInAudience) -> RegisteredApp {
    app.emulator()
        .register_app(NewApp::web("Calbridge", DEMO.tenant_id, audience, REDIRECT))
}

struct Form {
    fields: Vec<(&'static str, String)>,
}

impl Form {
    fn new(registered: &RegisteredApp, account_type: &str) -> Self {
        let mut fields = vec![
            ("application_id", registered.client_id.to_string()),
            ("client_secret", registered.secret_value.clone()),
            ("account_type", account_type.to_owned()),
            ("active", "true".to_owned()),
        ];
        if account_type == "single_tenant" {
            fields.push(("tenant_id", registered.tenant_id.to_string()));
        }
        Self { fields }
    }

    fn set(mut self, name: &'static str, value: &str) -> Self {
        self.fields.retain(|(n, _)| *n != name);
        self.fields.push((name, value.to_owned()));
        self
    }
}

async fn save(c: &reqwest::Client, app: &TestApp, form: &Form) -> (StatusCode, String) {
    post(c, app, "save_integration_settings", &form.fields).await
}

async fn settings(c: &reqwest::Client, app: &TestApp) -> Value {
    let (status, body) = post(c, app, "integration_settings", &[]).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    serde_json::from_str(&body).unwrap()
}

/// The error's variant and message from a server fn's JSON error body.
fn error(body: &str) -> (String, String) {
    let v: Value = serde_json::from_str(body).unwrap_or_else(|_| panic!("not JSON: {body}"));
    let (variant, message) = v.as_object().unwrap().iter().next().unwrap();
    (
        variant.clone(),
        message.as_str().unwrap_or_default().to_owned(),
    )
}

async fn assert_nothing_stored(c: &reqwest::Client, app: &TestApp) {
    let s = settings(c, app).await;
    assert_eq!(s["application_id"], "", "{s}");
    assert_eq!(s["secret_saved"], false);
    let audit = post(c, app, "integration_audit_log", &[]).await.1;
    assert_eq!(audit, "[]");
}

async fn raw_settings_row(app: &TestApp) -> String {
    use sea_orm::{ConnectionTrait, Statement};
    let db = &app.backend.db;
    let row = db
        .query_one(Statement::from_string(
            db.get_database_backend(),
            "SELECT application_id, client_secret, secret_hint FROM integration_settings",
        ))
        .await
        .unwrap()
        .expect("a settings row");
    let cols: Vec<String> = (0..3)
        .map(|i| {
            row.try_get_by_index::<Option<String>>(i)
                .unwrap()
                .unwrap_or_default()
        })
        .collect();
    cols.join("|")
}

// ----- Save outcomes -----

async fn single_tenant_app_is_checked_saved_and_its_secret_never_returns(app: TestApp) {
    let c = admin(&app).await;
    let registered = register(&app, SignInAudience::AzureADMyOrg);
    let secret = registered.secret_value.clone();
    let (status, body) = save(&c, &app, &Form::new(&registered, "single_tenant")).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(body.contains("Microsoft accepted"), "{body}");

    let s = settings(&c, &app).await;
    assert_eq!(s["application_id"], registered.client_id.to_string());
    assert_eq!(s["tenant_id"], registered.tenant_id.to_string());
    assert_eq!(s["account_type"], "single_tenant");
    assert_eq!(s["secret_saved"], true);
    assert_eq!(s["secret_hint"], secret[..3]);
    assert_eq!(s["active"], true);
    assert_eq!(s["checked"], true);
    assert_eq!(s["redirect_url"], REDIRECT);

    // The secret appears in no response and not in the database row.
    let mut bodies = vec![body, s.to_string()];
    bodies.push(post(&c, &app, "integration_audit_log", &[]).await.1);
    bodies.push(post(&c, &app, "secret_expiry_banner", &[]).await.1);
    let page = support::client();
    login(&app, &page, ADMIN.0, ADMIN.1).await;
    let html = page
        .get(app.url("/admin/integrations"))
        .send()
        .await
        .unwrap();
    bodies.push(html.text().await.unwrap());
    assert!(
        bodies[4].contains("A client secret is saved"),
        "{}",
        bodies[4]
    );
    let row = raw_settings_row(&app).await;
    bodies.push(row);
    for b in &bodies {
        assert!(!b.contains(&secret), "secret leaked in {b}");
        assert!(!b.contains(&urlencoding::encode(&secret).into_owned()));
    }
    // Saving again without a secret re-checks with the saved one.
    let again = Form::new(&registered, "single_tenant").set("client_secret", "");
    let (status, body) = save(&c, &app, &again).await;
    assert_eq!(status, StatusCode::OK, "{body}");
}

async fn each_multi_tenant_account_type_is_checked_with_an_invalid_code(app: TestApp) {
    let c = admin(&app).await;
    for (audience, account_type) in [
        (SignInAudience::AzureADMultipleOrgs, "any_organization"),
        (
            SignInAudience::AzureADandPersonalMicrosoftAccount,
            "organization_and_personal",
        ),
        (SignInAudience::PersonalMicrosoftAccount, "personal_only"),
    ] {
        let registered = register(&app, audience);
        let (status, body) = save(&c, &app, &Form::new(&registered, account_type)).await;
        assert_eq!(status, StatusCode::OK, "{account_type}: {body}");
        let s = settings(&c, &app).await;
        assert_eq!(s["account_type"], account_type);
        assert_eq!(s["tenant_id"], "", "no tenant for {account_type}");
    }
    // Which authority was asked shows in the narrower-app test: the same
    // organizations-only app passes at /organizations and fails at /consumers.
}

async fn unknown_or_just_registered_app_is_700016_and_nothing_is_stored(app: TestApp) {
    let c = admin(&app).await;
    let registered = register(&app, SignInAudience::AzureADMultipleOrgs);
    let wrong = Form::new(&registered, "any_organization")
        .set("application_id", &uuid::Uuid::new_v4().to_string());
    let (status, body) = save(&c, &app, &wrong).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (variant, message) = error(&body);
    assert_eq!(variant, "CredentialsRejected");
    assert!(message.contains("wait a few minutes"), "{message}");
    assert!(message.contains("AADSTS700016"), "{message}");
    assert!(message.contains("trace ID") && message.contains("correlation ID"));

    // A registration still propagating answers the same way.
    let emu = app.emulator();
    emu.update_settings(|s| s.propagation_delay_secs = 300);
    let mut fresh = NewApp::web(
        "Calbridge",
        DEMO.tenant_id,
        SignInAudience::AzureADMultipleOrgs,
        REDIRECT,
    );
    fresh.propagated = false;
    let fresh = emu.register_app(fresh);
    let (status, body) = save(&c, &app, &Form::new(&fresh, "any_organization")).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(error(&body).1.contains("wait a few minutes"));
    assert_nothing_stored(&c, &app).await;
}

async fn secret_id_instead_of_value_is_7000215(app: TestApp) {
    let c = admin(&app).await;
    let registered = register(&app, SignInAudience::AzureADMultipleOrgs);
    let form = Form::new(&registered, "any_organization")
        .set("client_secret", &registered.secret_id.to_string());
    let (status, body) = save(&c, &app, &form).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let message = error(&body).1;
    assert!(
        message.contains("Did you paste the Secret ID instead of the Value?"),
        "{message}"
    );
    assert!(message.contains("AADSTS7000215"));
    assert_nothing_stored(&c, &app).await;
}

async fn expired_secret_is_7000222(app: TestApp) {
    let c = admin(&app).await;
    let registered = register(&app, SignInAudience::AzureADMyOrg);
    assert!(
        app.emulator()
            .expire_secret(registered.client_id, registered.secret_id)
    );
    let (status, body) = save(&c, &app, &Form::new(&registered, "single_tenant")).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let message = error(&body).1;
    assert!(message.contains("has expired"), "{message}");
    assert!(message.contains("AADSTS7000222"));
    assert_nothing_stored(&c, &app).await;
}

async fn single_tenant_app_without_its_tenant_is_50194(app: TestApp) {
    let c = admin(&app).await;
    let registered = register(&app, SignInAudience::AzureADMyOrg);
    for account_type in ["any_organization", "organization_and_personal"] {
        let (status, body) = save(&c, &app, &Form::new(&registered, account_type)).await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        let message = error(&body).1;
        assert!(message.contains("AADSTS50194"), "{message}");
        assert!(
            message.contains("Choose \"Accounts in this organizational directory only\""),
            "{message}"
        );
    }
    // And the form itself insists on a tenant for the single-tenant choice.
    let no_tenant = Form::new(&registered, "single_tenant").set("tenant_id", "");
    let (status, body) = save(&c, &app, &no_tenant).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(error(&body).0, "Invalid");
    assert_nothing_stored(&c, &app).await;
}

async fn app_narrower_than_the_chosen_account_type_says_which_to_pick(app: TestApp) {
    let c = admin(&app).await;
    // Registered for organizations only, used for personal accounts.
    let orgs = register(&app, SignInAudience::AzureADMultipleOrgs);
    let (status, body) = save(&c, &app, &Form::new(&orgs, "personal_only")).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let message = error(&body).1;
    assert!(
        message.contains("organizational accounts only"),
        "{message}"
    );
    assert!(
        message.contains("Accounts in any organizational directory"),
        "{message}"
    );
    // Registered for personal accounts only, used for organizations.
    let personal = register(&app, SignInAudience::PersonalMicrosoftAccount);
    let (status, body) = save(&c, &app, &Form::new(&personal, "any_organization")).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let message = error(&body).1;
    assert!(
        message.contains("Choose \"Personal Microsoft accounts only\""),
        "{message}"
    );
    assert_nothing_stored(&c, &app).await;
}

async fn unreachable_microsoft_stores_nothing_unless_saved_anyway(mut app: TestApp) {
    let c = admin(&app).await;
    let registered = register(&app, SignInAudience::AzureADMultipleOrgs);
    let login_url = app.emulator().base_url().to_owned();
    drop(app.emulator.take());
    // Let the aborted server task release its port.
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;

    let form = Form::new(&registered, "any_organization");
    let (status, body) = save(&c, &app, &form).await;
    assert_eq!(status, StatusCode::BAD_GATEWAY, "{body}");
    let (variant, message) = error(&body);
    assert_eq!(variant, "MicrosoftUnreachable");
    let tried = format!("{login_url}/organizations/oauth2/v2.0/token");
    assert!(message.contains(&tried), "{message}");
    assert!(message.contains("Save anyway"), "{message}");
    assert_nothing_stored(&c, &app).await;

    let (status, body) = save(&c, &app, &form.set("save_anyway", "true")).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let s = settings(&c, &app).await;
    assert_eq!(s["secret_saved"], true);
    assert_eq!(s["checked"], false);
}

async fn changing_the_app_drops_the_saved_secret(app: TestApp) {
    let c = admin(&app).await;
    let first = register(&app, SignInAudience::AzureADMultipleOrgs);
    let second = register(&app, SignInAudience::AzureADMultipleOrgs);
    assert_eq!(
        save(&c, &app, &Form::new(&first, "any_organization"))
            .await
            .0,
        StatusCode::OK
    );

    // Another app, or another account type, without a new secret: refused,
    // so the saved secret is never sent for anything but its own app.
    for form in [
        Form::new(&second, "any_organization").set("client_secret", ""),
        Form::new(&first, "organization_and_personal").set("client_secret", ""),
        Form::new(&first, "single_tenant").set("client_secret", ""),
    ] {
        let (status, body) = save(&c, &app, &form).await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert!(error(&body).1.contains("no longer applies"), "{body}");
    }
    assert_eq!(
        settings(&c, &app).await["application_id"],
        first.client_id.to_string()
    );

    // With the new app's secret in the same save, it is replaced.
    let (status, body) = save(&c, &app, &Form::new(&second, "any_organization")).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let s = settings(&c, &app).await;
    assert_eq!(s["application_id"], second.client_id.to_string());
    assert_eq!(s["secret_hint"], second.secret_value[..3]);
}

// ----- activation, disconnect, audit -----

async fn activation_saves_at_once_and_is_audited(app: TestApp) {
    let c = admin(&app).await;
    let active = |v: &str| vec![("active", v.to_owned())];
    // Nothing to activate yet.
    let (status, body) = post(&c, &app, "set_integration_active", &active("true")).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");

    let registered = register(&app, SignInAudience::AzureADMultipleOrgs);
    let form = Form::new(&registered, "any_organization").set("active", "false");
    assert_eq!(save(&c, &app, &form).await.0, StatusCode::OK);
    assert!(
        !backend::integration::connections_allowed(&app.backend.db)
            .await
            .unwrap()
    );

    // Toggling saves at once: no credential re-check.
    let requests_before = app.emulator().requests().len();
    let (status, body) = post(&c, &app, "set_integration_active", &active("true")).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let view: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(view["active"], true);
    assert_eq!(app.emulator().requests().len(), requests_before);
    assert!(
        backend::integration::connections_allowed(&app.backend.db)
            .await
            .unwrap()
    );

    let (status, _) = post(&c, &app, "set_integration_active", &active("false")).await;
    assert_eq!(status, StatusCode::OK);
    let audit: Vec<Value> =
        serde_json::from_str(&post(&c, &app, "integration_audit_log", &[]).await.1).unwrap();
    let actions: Vec<&str> = audit
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    assert_eq!(actions, ["deactivated", "activated", "settings saved"]);
    assert!(audit.iter().all(|e| e["actor"] == ADMIN.0));
    assert!(
        audit[2]["detail"]
            .as_str()
            .unwrap()
            .contains(&registered.client_id.to_string())
    );
}

async fn disconnect_everything_disables_and_blocks_new_connections(app: TestApp) {
    let c = admin(&app).await;
    let registered = register(&app, SignInAudience::AzureADMultipleOrgs);
    assert_eq!(
        save(&c, &app, &Form::new(&registered, "any_organization"))
            .await
            .0,
        StatusCode::OK
    );
    let db = &app.backend.db;
    assert!(backend::integration::connections_allowed(db).await.unwrap());

    // The page's form insists on the confirmation.
    let (status, _) = post(&c, &app, "disconnect_integration", &[]).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(backend::integration::connections_allowed(db).await.unwrap());

    // The backend operation itself.
    let admin_user = backend::accounts::authenticate(db, ADMIN.0, ADMIN.1)
        .await
        .unwrap()
        .unwrap();
    let report = backend::integration::disconnect_everything(&app.backend, &admin_user)
        .await
        .unwrap();
    assert_eq!(report, backend::integration::DisconnectReport::default());
    assert!(!backend::integration::connections_allowed(db).await.unwrap());
    let s = settings(&c, &app).await;
    assert_eq!(s["active"], false);
    assert_eq!(s["secret_saved"], false);
    assert_eq!(s["disconnected"], true);
    // Reactivating needs the settings saved again with a secret.
    let (status, _) = post(
        &c,
        &app,
        "set_integration_active",
        &[("active", "true".into())],
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);

    // Setting up again lifts the block.
    assert_eq!(
        save(&c, &app, &Form::new(&registered, "any_organization"))
            .await
            .0,
        StatusCode::OK
    );
    assert!(backend::integration::connections_allowed(db).await.unwrap());
    let (status, body) = post(
        &c,
        &app,
        "disconnect_integration",
        &[("confirm", "true".into())],
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(!backend::integration::connections_allowed(db).await.unwrap());
}

async fn rotate_key_reseals_with_the_active_key(app: TestApp) {
    use backend::vault::{Purpose, Vault};
    use secrecy::{ExposeSecret, SecretString};

    let c = admin(&app).await;
    let registered = register(&app, SignInAudience::AzureADMultipleOrgs);
    save(&c, &app, &Form::new(&registered, "any_organization")).await;
    let generated = std::fs::read_to_string(app.data_dir().join("master.key")).unwrap();
    let new_key = backend::master_key::MasterKey::generate();
    let new_b64 = base64_of(new_key.bytes());
    let both = SecretString::from(format!("new:{new_b64},default:{generated}"));
    let rotated = Vault::parse(&both, Some("new")).unwrap();

    let db = &app.backend.db;
    let report = backend::rotation::rotate_all(db, &rotated).await.unwrap();
    assert_eq!(report.resealed, 1);
    assert_eq!(
        backend::rotation::rotate_all(db, &rotated)
            .await
            .unwrap()
            .resealed,
        0
    );

    // The old key can go: the new one alone opens the secret.
    let only_new = Vault::parse(&SecretString::from(format!("new:{new_b64}")), None).unwrap();
    let stored = backend::integration::load(db)
        .await
        .unwrap()
        .client_secret
        .unwrap();
    assert_eq!(stored.key_id(), Some("new"));
    let opened = only_new.open(Purpose::ClientSecret, &stored).unwrap();
    assert_eq!(opened.expose_secret(), registered.secret_value);
}

fn base64_of(bytes: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

async fn expiry_banner_warns_then_says_expired(app: TestApp) {
    let c = admin(&app).await;
    let registered = register(&app, SignInAudience::AzureADMultipleOrgs);
    let today = chrono::Utc::now().date_naive();
    let banner = |c: reqwest::Client| {
        let app = &app;
        async move {
            let body = post(&c, app, "secret_expiry_banner", &[]).await.1;
            serde_json::from_str::<Value>(&body).unwrap()
        }
    };
    let on = |days: i64| (today + chrono::Duration::days(days)).to_string();
    let form = Form::new(&registered, "any_organization");
    save(&c, &app, &form.set("secret_expires_on", &on(90))).await;
    assert_eq!(banner(c.clone()).await, Value::Null);

    let form = Form::new(&registered, "any_organization").set("client_secret", "");
    save(&c, &app, &form.set("secret_expires_on", &on(10))).await;
    let b = banner(c.clone()).await;
    assert_eq!(b["days_left"], 10);
    assert_eq!(b["expired"], false);

    let form = Form::new(&registered, "any_organization").set("client_secret", "");
    save(&c, &app, &form.set("secret_expires_on", &on(-1))).await;
    let b = banner(c.clone()).await;
    assert_eq!(b["expired"], true);
    let page = support::client();
    login(&app, &page, ADMIN.0, ADMIN.1).await;
    let html = page
        .get(app.url("/admin/integrations"))
        .send()
        .await
        .unwrap();
    assert!(
        html.text()
            .await
            .unwrap()
            .contains("client secret expired on")
    );
}

// ----- roles -----

async fn only_admins_reach_the_integration_server_fns(app: TestApp) {
    let registered = register(&app, SignInAudience::AzureADMultipleOrgs);
    let save_form = Form::new(&registered, "any_organization").fields;
    let calls: [(&str, Vec<(&str, String)>); 6] = [
        ("integration_settings", vec![]),
        ("save_integration_settings", save_form),
        ("set_integration_active", vec![("active", "true".into())]),
        ("disconnect_integration", vec![("confirm", "true".into())]),
        ("integration_audit_log", vec![]),
        ("secret_expiry_banner", vec![]),
    ];
    let anonymous = api_client();
    let staff = api_client();
    login(&app, &staff, STAFF.0, STAFF.1).await;
    let patron = api_client();
    login(&app, &patron, PATRON.0, PATRON.1).await;
    for (name, form) in &calls {
        let (status, _) = post(&anonymous, &app, name, form).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "anonymous {name}");
        for (who, c) in [("staff", &staff), ("patron", &patron)] {
            let (status, body) = post(c, &app, name, form).await;
            assert_eq!(status, StatusCode::FORBIDDEN, "{who} {name}: {body}");
        }
    }
    // Nothing was changed by any of them.
    let c = admin(&app).await;
    assert_nothing_stored(&c, &app).await;
}

// ----- live updates -----

async fn integration_events_refuse_anonymous_and_follow_each_toggle(app: TestApp) {
    let url = app.url("/events/integration");
    let anonymous = api_client().get(&url).send().await.unwrap();
    assert_eq!(anonymous.status(), StatusCode::UNAUTHORIZED);

    let c = admin(&app).await;
    let registered = register(&app, SignInAudience::AzureADMultipleOrgs);
    let inactive = Form::new(&registered, "any_organization").set("active", "false");
    assert_eq!(save(&c, &app, &inactive).await.0, StatusCode::OK);

    // A staff member's page listens too: its "Connect" controls need it.
    let staff = api_client();
    login(&app, &staff, STAFF.0, STAFF.1).await;
    let mut stream = staff.get(&url).send().await.unwrap();
    assert_eq!(stream.status(), StatusCode::OK);
    assert_eq!(
        stream.headers()[reqwest::header::CONTENT_TYPE],
        "text/event-stream"
    );
    // First the current status, then one event per change.
    let first = next_event(&mut stream).await;
    assert_eq!(first["active"], false, "{first}");
    assert_eq!(first["connections_allowed"], false);

    let on = [("active", "true".to_owned())];
    assert_eq!(
        post(&c, &app, "set_integration_active", &on).await.0,
        StatusCode::OK
    );
    let toggled = next_event(&mut stream).await;
    assert_eq!(toggled["active"], true, "{toggled}");
    assert_eq!(toggled["connections_allowed"], true);

    let confirm = [("confirm", "true".to_owned())];
    assert_eq!(
        post(&c, &app, "disconnect_integration", &confirm).await.0,
        StatusCode::OK
    );
    let disconnected = next_event(&mut stream).await;
    assert_eq!(disconnected["active"], false, "{disconnected}");
    assert_eq!(disconnected["disconnected"], true);
}

/// The JSON data of the next `integration` event (keep-alive comments are
/// skipped); fails after 10 s.
async fn next_event(stream: &mut reqwest::Response) -> Value {
    let mut text = String::new();
    let read = async {
        loop {
            if let Some(data) = integration_event_data(&mut text) {
                return data;
            }
            let chunk = stream.chunk().await.unwrap().expect("stream still open");
            text.push_str(std::str::from_utf8(&chunk).unwrap());
        }
    };
    let data = tokio::time::timeout(std::time::Duration::from_secs(10), read)
        .await
        .expect("an event within 10 s");
    serde_json::from_str(&data).unwrap()
}

/// Takes the first complete event off `text`, if any, and returns its
/// data when it is an `integration` event.
fn integration_event_data(text: &mut String) -> Option<String> {
    loop {
        let end = text.find("\n\n")?;
        let block: String = text.drain(..end + 2).collect();
        let is_ours = block.lines().any(|l| l == "event: integration");
        let data = block.lines().find_map(|l| l.strip_prefix("data: "));
        if let (true, Some(data)) = (is_ours, data) {
            return Some(data.to_owned());
        }
    }
}
