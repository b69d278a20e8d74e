//! Microsoft's side of "Connect with Microsoft", walked over HTTP as a
//! browser would: the emulator's sign-in, account picker and consent
//! pages, and the redirect back to Calbridge's callback.

use reqwest::StatusCode;

use super::TestApp;

/// Where a redirect points.
pub fn location(r: &reqwest::Response) -> String {
    r.headers()
        .get("location")
        .expect("a redirect")
        .to_str()
        .unwrap()
        .to_owned()
}

/// The action and the `flow` field of an emulator page's form.
fn form_of(html: &str) -> (String, String) {
    let between = |s: &str, a: &str, b: &str| {
        let i = s.find(a).unwrap_or_else(|| panic!("{a} not in {s}")) + a.len();
        let j = s[i..].find(b).unwrap() + i;
        s[i..j].to_owned()
    };
    let action = between(html, "action=\"", "\"");
    let at = html.find("name=\"flow\"").expect("a flow field");
    (action, between(&html[at..], "value=\"", "\""))
}

/// Signs in at the emulator and presses `button` on the page that follows
/// (consent "accept"/"cancel", admin approval "back"); `None` accepts.
/// Returns the final redirect (to Calbridge's callback).
pub async fn at_microsoft(
    app: &TestApp,
    c: &reqwest::Client,
    authorize_url: &str,
    who: (&str, &str),
    button: Option<&str>,
) -> String {
    let base = app.emulator().base_url().to_owned();
    let r = c.get(authorize_url).send().await.unwrap();
    if r.status().is_redirection() {
        // Already signed in at Microsoft, consent given: straight back.
        return location(&r);
    }
    let html = r.text().await.unwrap();
    if !html.contains("name=\"loginfmt\"") {
        // An account picker (signed in already): continue as that account.
        return press(app, c, &html, button.unwrap_or("pick")).await;
    }
    let (action, flow) = form_of(&html);
    let r = c
        .post(format!("{base}{action}"))
        .form(&[
            ("flow", flow.as_str()),
            ("action", "signin"),
            ("loginfmt", who.0),
            ("passwd", who.1),
        ])
        .send()
        .await
        .unwrap();
    if r.status().is_redirection() {
        return location(&r);
    }
    let html = r.text().await.unwrap();
    press(app, c, &html, button.unwrap_or("accept")).await
}

/// Presses a button of an emulator page, through any further pages
/// (picker → consent), until the redirect back.
pub async fn press(app: &TestApp, c: &reqwest::Client, html: &str, button: &str) -> String {
    let base = app.emulator().base_url().to_owned();
    let mut html = html.to_owned();
    let mut button = button.to_owned();
    for _ in 0..3 {
        let (action, flow) = form_of(&html);
        let r = c
            .post(format!("{base}{action}"))
            .form(&[("flow", flow.as_str()), ("action", button.as_str())])
            .send()
            .await
            .unwrap();
        if r.status().is_redirection() {
            return location(&r);
        }
        html = r.text().await.unwrap();
        button = "accept".into();
    }
    panic!("no redirect back: {html}")
}

/// Follows Microsoft's redirect to the callback on the test server (the
/// registered redirect URI may have no port).
pub async fn callback(app: &TestApp, c: &reqwest::Client, redirect: &str) -> reqwest::Response {
    let query = redirect.split_once('?').map(|(_, q)| q).unwrap_or("");
    c.get(app.url(&format!("/oauth/microsoft/callback?{query}")))
        .send()
        .await
        .unwrap()
}

/// A signed-in staff member's whole "Connect with Microsoft" as `who` at
/// Microsoft; asserts Calbridge took the connection.
pub async fn connect_staff(app: &TestApp, staff: &reqwest::Client, who: (&str, &str)) {
    let r = staff
        .post(app.url("/oauth/microsoft/connect"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER, "{:?}", r.text().await);
    let redirect = at_microsoft(app, &super::client(), &location(&r), who, None).await;
    let r = callback(app, staff, &redirect).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&r), "/staff/sync?connected=1");
}
