//! Accounts, sessions and the role guard, through real HTTP against the
//! real server, on SQLite and on PostgreSQL.

mod support;

use reqwest::StatusCode;
use support::{TestApp, api_client, client, login};

const ADMIN: (&str, &str) = ("admin@calbridge.test", "calbridge-admin");
const PATRON: (&str, &str) = ("pat@calbridge.test", "calbridge-patron");

on_both_databases!(
    anonymous_is_sent_to_login,
    patron_gets_403_and_admin_gets_in,
    wrong_credentials_give_one_message,
    logout_ends_the_session,
    session_survives_a_restart,
    session_id_is_cycled_at_login,
    repeated_failures_are_slowed_down,
    server_fns_check_the_role,
);

async fn get(client: &reqwest::Client, app: &TestApp, path: &str) -> reqwest::Response {
    client.get(app.url(path)).send().await.unwrap()
}

fn location(r: &reqwest::Response) -> String {
    r.headers()
        .get("location")
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default()
}

fn session_cookie(r: &reqwest::Response) -> Option<String> {
    r.headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().to_owned())
        .find(|c| c.starts_with("calbridge_session="))
}

async fn anonymous_is_sent_to_login(app: TestApp) {
    let r = get(&client(), &app, "/admin/integrations").await;
    assert!(r.status().is_redirection(), "got {}", r.status());
    assert_eq!(location(&r), "/login?next=%2Fadmin%2Fintegrations");
}

async fn patron_gets_403_and_admin_gets_in(app: TestApp) {
    let patron = client();
    assert!(
        login(&app, &patron, PATRON.0, PATRON.1)
            .await
            .status()
            .is_redirection()
    );
    let r = get(&patron, &app, "/admin/integrations").await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    let body = r.text().await.unwrap();
    assert!(body.contains("No access"), "{body}");
    assert!(!body.contains("OAuth2 Outlook/Exchange Calendar Sync"));

    let admin = client();
    let r = login(&app, &admin, ADMIN.0, ADMIN.1).await;
    assert!(r.status().is_redirection());
    assert_eq!(location(&r), "/");
    let r = get(&admin, &app, "/admin/integrations").await;
    assert_eq!(r.status(), StatusCode::OK);
    assert!(
        r.text()
            .await
            .unwrap()
            .contains("OAuth2 Outlook/Exchange Calendar Sync")
    );
}

async fn wrong_credentials_give_one_message(app: TestApp) {
    let c = api_client();
    let wrong_password = login(&app, &c, ADMIN.0, "not-the-password").await;
    assert_eq!(wrong_password.status(), StatusCode::UNAUTHORIZED);
    assert!(
        session_cookie(&wrong_password).is_none(),
        "no session for a failed sign-in"
    );
    let wrong_password: app::error::AppError = wrong_password.json().await.unwrap();
    let unknown: app::error::AppError =
        login(&app, &c, "nobody@calbridge.test", "not-the-password")
            .await
            .json()
            .await
            .unwrap();
    assert_eq!(
        wrong_password.to_string(),
        "Email or password is incorrect."
    );
    // Same answer whether or not the account exists.
    assert_eq!(wrong_password, unknown);
}

async fn logout_ends_the_session(app: TestApp) {
    let c = client();
    let r = login(&app, &c, ADMIN.0, ADMIN.1).await;
    let cookie = session_cookie(&r).expect("sign-in sets the session cookie");
    assert!(cookie.contains("HttpOnly"), "{cookie}");
    assert!(cookie.contains("SameSite=Lax"), "{cookie}");
    assert!(!cookie.contains("Secure"), "plain-HTTP base URL: {cookie}");
    assert_eq!(
        get(&c, &app, "/admin/integrations").await.status(),
        StatusCode::OK
    );

    let r = c.post(app.url("/api/logout")).send().await.unwrap();
    assert!(r.status().is_redirection(), "got {}", r.status());
    assert!(
        get(&c, &app, "/admin/integrations")
            .await
            .status()
            .is_redirection()
    );
}

async fn session_survives_a_restart(app: TestApp) {
    let c = client();
    login(&app, &c, ADMIN.0, ADMIN.1).await;
    let app = app.restart().await;
    // Cookies are scoped to the host, not the port, so the same jar applies.
    let r = get(&c, &app, "/admin/integrations").await;
    assert_eq!(
        r.status(),
        StatusCode::OK,
        "still signed in after a restart"
    );
}

async fn session_id_is_cycled_at_login(app: TestApp) {
    let c = client();
    let first = session_cookie(&login(&app, &c, PATRON.0, PATRON.1).await).unwrap();
    let second = session_cookie(&login(&app, &c, ADMIN.0, ADMIN.1).await).unwrap();
    let id = |c: &str| c.split(';').next().unwrap().to_owned();
    assert_ne!(id(&first), id(&second), "a new id at every sign-in");

    // The old id no longer signs anyone in.
    let r = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
        .get(app.url("/admin/integrations"))
        .header("accept", "text/html")
        .header("cookie", id(&first))
        .send()
        .await
        .unwrap();
    assert!(
        r.status().is_redirection(),
        "old session id still valid: {}",
        r.status()
    );
}

async fn repeated_failures_are_slowed_down(app: TestApp) {
    let c = api_client();
    for _ in 0..backend::throttle::FREE_ATTEMPTS {
        assert_eq!(
            login(&app, &c, ADMIN.0, "guess").await.status(),
            StatusCode::UNAUTHORIZED
        );
    }
    // Now even the right password must wait.
    let r = login(&app, &c, ADMIN.0, ADMIN.1).await;
    assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);
    let error: app::error::AppError = r.json().await.unwrap();
    assert!(
        matches!(error, app::error::AppError::TooManyAttempts(s) if s >= 1),
        "{error:?}"
    );
}

async fn server_fns_check_the_role(app: TestApp) {
    let path = "/api/authorize_page";
    let anonymous = api_client()
        .post(app.url(path))
        .form(&[("required", "Admin")])
        .send()
        .await
        .unwrap();
    assert_eq!(anonymous.status(), StatusCode::UNAUTHORIZED);

    let patron = api_client();
    login(&app, &patron, PATRON.0, PATRON.1).await;
    let r = patron
        .post(app.url(path))
        .form(&[("required", "Admin")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    let r = patron
        .post(app.url(path))
        .form(&[("required", "Patron")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let me: serde_json::Value = r.json().await.unwrap();
    assert_eq!(me["email"], PATRON.0);
    assert!(me.get("password_hash").is_none());
}
