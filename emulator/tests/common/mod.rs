//! Helpers shared by the integration tests: start the emulator with the
//! demo seed, register apps, and walk the sign-in pages as a browser would.
#![allow(dead_code)]

use base64::Engine;
use emulator::state::SignInAudience;
use emulator::{DEMO, Emulator, EmulatorConfig, EmulatorHandle, NewApp, RegisteredApp};
use reqwest::redirect::Policy;
use serde_json::Value;
use sha2::{Digest, Sha256};

pub const REDIRECT: &str = "http://localhost:3000/auth/microsoft/callback";
pub const SCOPES: &str = "offline_access Calendars.ReadWrite User.Read";

pub async fn start() -> EmulatorHandle {
    Emulator::start(EmulatorConfig::demo())
        .await
        .expect("emulator starts")
}

/// A browser-like client: keeps cookies, does not follow redirects.
pub fn browser() -> reqwest::Client {
    reqwest::Client::builder()
        .cookie_store(true)
        .redirect(Policy::none())
        .build()
        .unwrap()
}

pub fn http() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(Policy::none())
        .build()
        .unwrap()
}

pub fn register(emu: &EmulatorHandle, audience: SignInAudience) -> RegisteredApp {
    emu.register_app(NewApp::web("Calbridge", DEMO.tenant_id, audience, REDIRECT))
}

pub fn register_with(
    emu: &EmulatorHandle,
    audience: SignInAudience,
    delegated: &[&str],
) -> RegisteredApp {
    let mut app = NewApp::web("Calbridge", DEMO.tenant_id, audience, REDIRECT);
    app.delegated_permissions = delegated.iter().map(|s| s.to_string()).collect();
    emu.register_app(app)
}

/// (verifier, S256 challenge)
pub fn pkce() -> (String, String) {
    let verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk-and-some-more".to_string();
    let challenge = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .encode(Sha256::digest(verifier.as_bytes()));
    (verifier, challenge)
}

pub fn authorize_url(
    emu: &EmulatorHandle,
    authority: &str,
    client_id: &str,
    scopes: &str,
    challenge: &str,
) -> String {
    format!(
        "{}/{authority}/oauth2/v2.0/authorize?client_id={client_id}&response_type=code&redirect_uri={}&scope={}&state=st-123&code_challenge={challenge}&code_challenge_method=S256",
        emu.base_url(),
        urlencoding::encode(REDIRECT),
        urlencoding::encode(scopes),
    )
}

/// The value of `attr="..."` after `marker` in `html`.
pub fn between<'a>(html: &'a str, marker: &str, end: &str) -> Option<&'a str> {
    let start = html.find(marker)? + marker.len();
    let rest = &html[start..];
    Some(&rest[..rest.find(end)?])
}

pub fn flow_id(html: &str) -> String {
    between(html, "name=\"flow\" value=\"", "\"")
        .expect("flow id in page")
        .to_string()
}

pub fn location(resp: &reqwest::Response) -> String {
    resp.headers()
        .get("location")
        .expect("a redirect")
        .to_str()
        .unwrap()
        .to_string()
}

/// Query parameters of a redirect Location.
pub fn query(loc: &str) -> std::collections::HashMap<String, String> {
    let q = loc.split_once('?').map(|x| x.1).unwrap_or("");
    serde_urlencoded::from_str(q).unwrap()
}

/// Post a step of the sign-in flow.
pub async fn step(
    b: &reqwest::Client,
    emu: &EmulatorHandle,
    authority: &str,
    form: &[(&str, &str)],
) -> reqwest::Response {
    b.post(format!("{}/{authority}/login", emu.base_url()))
        .form(form)
        .send()
        .await
        .unwrap()
}

/// Walk authorize → sign in → consent (Accept if asked) and return the
/// final redirect Location.
pub async fn sign_in(
    b: &reqwest::Client,
    emu: &EmulatorHandle,
    authority: &str,
    url: &str,
    upn: &str,
    password: &str,
) -> String {
    let page = b.get(url).send().await.unwrap();
    assert_eq!(page.status(), 200, "sign-in page");
    let html = page.text().await.unwrap();
    let flow = flow_id(&html);
    let resp = step(
        b,
        emu,
        authority,
        &[
            ("flow", &flow),
            ("action", "signin"),
            ("loginfmt", upn),
            ("passwd", password),
        ],
    )
    .await;
    if resp.status() == 302 {
        return location(&resp);
    }
    let html = resp.text().await.unwrap();
    assert!(
        html.contains("Permissions requested"),
        "consent page expected: {html}"
    );
    let resp = step(b, emu, authority, &[("flow", &flow), ("action", "accept")]).await;
    assert_eq!(resp.status(), 302);
    location(&resp)
}

/// Full flow to a token response for a user.
pub async fn user_tokens(
    emu: &EmulatorHandle,
    app: &RegisteredApp,
    authority: &str,
    upn: &str,
    password: &str,
    scopes: &str,
) -> Value {
    let (verifier, challenge) = pkce();
    let url = authorize_url(
        emu,
        authority,
        &app.client_id.to_string(),
        scopes,
        &challenge,
    );
    let loc = sign_in(&browser(), emu, authority, &url, upn, password).await;
    let code = query(&loc)
        .get("code")
        .cloned()
        .unwrap_or_else(|| panic!("no code in {loc}"));
    let resp = redeem(emu, app, authority, &code, &verifier).await;
    assert_eq!(resp.status(), 200);
    resp.json().await.unwrap()
}

pub async fn redeem(
    emu: &EmulatorHandle,
    app: &RegisteredApp,
    authority: &str,
    code: &str,
    verifier: &str,
) -> reqwest::Response {
    http()
        .post(format!("{}/{authority}/oauth2/v2.0/token", emu.base_url()))
        .form(&[
            ("grant_type", "authorization_code"),
            ("client_id", &app.client_id.to_string()),
            ("client_secret", &app.secret_value),
            ("code", code),
            ("redirect_uri", REDIRECT),
            ("code_verifier", verifier),
        ])
        .send()
        .await
        .unwrap()
}

pub async fn token_request(
    emu: &EmulatorHandle,
    authority: &str,
    form: &[(&str, &str)],
) -> (u16, Value) {
    let resp = http()
        .post(format!("{}/{authority}/oauth2/v2.0/token", emu.base_url()))
        .form(form)
        .send()
        .await
        .unwrap();
    let status = resp.status().as_u16();
    (status, resp.json().await.unwrap())
}

/// A delegated access token for a demo account with the given scopes.
pub async fn access_token(emu: &EmulatorHandle, upn: &str, password: &str, scopes: &str) -> String {
    let app = register(emu, SignInAudience::AzureADandPersonalMicrosoftAccount);
    let authority = if upn.ends_with("outlook.com") {
        "consumers"
    } else {
        "organizations"
    };
    let t = user_tokens(emu, &app, authority, upn, password, scopes).await;
    t["access_token"].as_str().unwrap().to_string()
}

pub fn graph(emu: &EmulatorHandle, path: &str) -> String {
    format!("{}/v1.0{path}", emu.base_url())
}

pub fn event_body(subject: &str, start: &str, end: &str) -> Value {
    serde_json::json!({
        "subject": subject,
        "start": {"dateTime": start, "timeZone": "UTC"},
        "end": {"dateTime": end, "timeZone": "UTC"},
    })
}

/// The AADSTS number of a token error body, after checking its shape.
pub fn aadsts(body: &Value) -> u64 {
    for f in [
        "error",
        "error_description",
        "timestamp",
        "trace_id",
        "correlation_id",
        "error_uri",
    ] {
        assert!(body.get(f).is_some(), "token error lacks {f}: {body}");
    }
    let code = body["error_codes"][0].as_u64().expect("error_codes");
    assert!(
        body["error_description"]
            .as_str()
            .unwrap()
            .starts_with(&format!("AADSTS{code}: ")),
        "{body}"
    );
    code
}
