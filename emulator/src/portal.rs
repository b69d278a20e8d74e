//! "App registrations", in the manner of the Azure portal (Microsoft Entra
//! admin center): sign in as a tenant admin, register an app (name,
//! supported account types, Web redirect URI), read its Application
//! (client) ID and Directory (tenant) ID, add a client secret (its Value is
//! shown once, next to a separate Secret ID), and configure API permissions.
//! Plain HTML forms with stable ids for browser tests.

use std::collections::HashMap;

use axum::extract::{Path, State};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Form, Router};
use chrono::Duration;
use http::{HeaderMap, StatusCode, header};
use uuid::Uuid;

use crate::AppState;
use crate::control::{NewApp, add_secret, grant_admin_consent, register_app};
use crate::html::{esc, wide_page};
use crate::identity::scopes;
use crate::state::{AccountKind, AppRegistration, SignInAudience, User, World, random_token};

const COOKIE: &str = "portal_session";

type Params = HashMap<String, String>;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/portal", get(|| async { Redirect::to("/portal/apps") }))
        .route("/portal/signin", get(signin_form).post(signin))
        .route("/portal/signout", post(signout))
        .route("/portal/apps", get(list).post(create))
        .route("/portal/apps/new", get(new_form))
        .route("/portal/apps/{id}", get(overview))
        .route(
            "/portal/apps/{id}/authentication",
            get(authentication).post(add_redirect),
        )
        .route("/portal/apps/{id}/secrets", get(secrets).post(new_secret))
        .route(
            "/portal/apps/{id}/permissions",
            get(permissions).post(add_permissions),
        )
        .route("/portal/apps/{id}/permissions/consent", post(consent))
        .route("/portal/tenant", get(tenant_form).post(tenant_save))
}

fn admin(world: &World, headers: &HeaderMap) -> Option<User> {
    let cookies = headers.get(header::COOKIE)?.to_str().ok()?;
    let sid = cookies
        .split(';')
        .filter_map(|c| c.trim().split_once('='))
        .find(|(k, _)| *k == COOKIE)?
        .1;
    let user = world.users.get(&world.sessions.get(sid)?.user_id)?;
    (user.is_admin && user.kind == AccountKind::Work).then(|| user.clone())
}

fn to_signin() -> Response {
    Redirect::to("/portal/signin").into_response()
}

/// The app, if it belongs to the admin's tenant.
fn app_of(world: &World, user: &User, id: &str) -> Option<AppRegistration> {
    let id = Uuid::parse_str(id).ok()?;
    world
        .apps
        .get(&id)
        .filter(|a| a.home_tenant == user.tenant_id)
        .cloned()
}

fn chrome(user: &User, title: &str, body: &str) -> Response {
    let head = format!(
        "<header><span id=\"portal-user\">{}</span> \
         <form method=\"post\" action=\"/portal/signout\" style=\"display:inline\"><button class=\"secondary\" id=\"signout\">Sign out</button></form></header>\
         <nav><a href=\"/portal/apps\" id=\"nav-app-registrations\">App registrations</a><a href=\"/portal/tenant\" id=\"nav-tenant\">Enterprise applications: consent settings</a></nav>",
        esc(&user.upn)
    );
    wide_page(title, &format!("{head}{body}")).into_response()
}

fn app_nav(app: &AppRegistration) -> String {
    let id = app.client_id;
    format!(
        "<h1 id=\"app-title\">{}</h1><nav id=\"manage\">\
         <a href=\"/portal/apps/{id}\" id=\"nav-overview\">Overview</a>\
         <a href=\"/portal/apps/{id}/authentication\" id=\"nav-authentication\">Authentication</a>\
         <a href=\"/portal/apps/{id}/secrets\" id=\"nav-certificates-secrets\">Certificates &amp; secrets</a>\
         <a href=\"/portal/apps/{id}/permissions\" id=\"nav-api-permissions\">API permissions</a></nav>",
        esc(&app.name)
    )
}

async fn signin_form() -> Response {
    signin_page(None)
}

fn signin_page(error: Option<&str>) -> Response {
    let error = error
        .map(|e| {
            format!(
                "<div class=\"error\" role=\"alert\" id=\"portal-error\">{}</div>",
                esc(e)
            )
        })
        .unwrap_or_default();
    wide_page(
        "Sign in - Microsoft Azure",
        &format!(
            "<h1>Sign in to Microsoft Azure</h1>{error}<form method=\"post\" action=\"/portal/signin\">\
             <label for=\"i0116\">Email, phone, or Skype</label><input type=\"email\" id=\"i0116\" name=\"loginfmt\" required>\
             <label for=\"i0118\">Password</label><input type=\"password\" id=\"i0118\" name=\"passwd\">\
             <button type=\"submit\" id=\"idSIButton9\">Sign in</button></form>"
        ),
    )
    .into_response()
}

async fn signin(State(s): State<AppState>, Form(f): Form<Params>) -> Response {
    let mut world = s.world.lock();
    let login = f.get("loginfmt").map(|x| x.trim()).unwrap_or("");
    let pw = f.get("passwd").map(String::as_str).unwrap_or("");
    let Some(user) = world
        .user_by_upn(login)
        .filter(|u| u.kind != AccountKind::Room && u.password == pw)
        .cloned()
    else {
        return signin_page(Some(
            "AADSTS50126: Error validating credentials due to invalid username or password.",
        ));
    };
    if !user.is_admin || user.kind != AccountKind::Work {
        return signin_page(Some(
            "You do not have access: only an administrator of the directory can register applications here.",
        ));
    }
    let sid = random_token(32);
    world
        .sessions
        .insert(sid.clone(), crate::state::Session { user_id: user.id });
    let mut resp = Redirect::to("/portal/apps").into_response();
    resp.headers_mut().append(
        header::SET_COOKIE,
        format!("{COOKIE}={sid}; Path=/portal; HttpOnly; SameSite=Lax")
            .parse()
            .expect("cookie"),
    );
    resp
}

async fn signout() -> Response {
    let mut resp = Redirect::to("/portal/signin").into_response();
    resp.headers_mut().append(
        header::SET_COOKIE,
        format!("{COOKIE}=; Path=/portal; Max-Age=0")
            .parse()
            .expect("cookie"),
    );
    resp
}

async fn list(State(s): State<AppState>, headers: HeaderMap) -> Response {
    let world = s.world.lock();
    let Some(user) = admin(&world, &headers) else {
        return to_signin();
    };
    let mut apps: Vec<&AppRegistration> = world
        .apps
        .values()
        .filter(|a| a.home_tenant == user.tenant_id)
        .collect();
    apps.sort_by_key(|a| a.created_at);
    let rows: String = apps
        .iter()
        .map(|a| {
            format!(
                "<tr data-client-id=\"{id}\"><td><a href=\"/portal/apps/{id}\">{}</a></td><td>{id}</td><td>{}</td></tr>",
                esc(&a.name),
                a.created_at.format("%Y-%m-%d"),
                id = a.client_id
            )
        })
        .collect();
    chrome(
        &user,
        "App registrations",
        &format!(
            "<h1>App registrations</h1><a class=\"button\" href=\"/portal/apps/new\" id=\"new-registration\">+ New registration</a>\
             <table id=\"apps\"><tr><th>Display name</th><th>Application (client) ID</th><th>Created on</th></tr>{rows}</table>"
        ),
    )
}

async fn new_form(State(s): State<AppState>, headers: HeaderMap) -> Response {
    let world = s.world.lock();
    let Some(user) = admin(&world, &headers) else {
        return to_signin();
    };
    let tenant = world
        .tenant(user.tenant_id)
        .map(|t| t.display_name.clone())
        .unwrap_or_default();
    let radios: String = SignInAudience::ALL
        .iter()
        .enumerate()
        .map(|(i, a)| {
            let label = a.portal_label().replace(
                "this organizational directory only",
                &format!("this organizational directory only ({tenant} only"),
            );
            let label = if *a == SignInAudience::AzureADMyOrg {
                format!("Accounts in this organizational directory only ({} only - Single tenant)", esc(&tenant))
            } else {
                esc(&label)
            };
            format!(
                "<div><input type=\"radio\" name=\"audience\" id=\"audience-{v:?}\" value=\"{v:?}\"{checked}>\
                 <label for=\"audience-{v:?}\" style=\"display:inline\">{label}</label></div>",
                v = a,
                checked = if i == 0 { " checked" } else { "" },
            )
        })
        .collect();
    chrome(
        &user,
        "Register an application",
        &format!(
            "<h1>Register an application</h1><form method=\"post\" action=\"/portal/apps\">\
             <label for=\"app-name\">Name</label><input type=\"text\" id=\"app-name\" name=\"name\" required>\
             <fieldset id=\"supported-account-types\"><legend>Supported account types</legend>{radios}</fieldset>\
             <label for=\"redirect-platform\">Redirect URI (optional)</label>\
             <select id=\"redirect-platform\" name=\"platform\"><option value=\"web\" selected>Web</option></select>\
             <input type=\"url\" id=\"redirect-uri\" name=\"redirect_uri\" placeholder=\"e.g. https://example.com/auth\">\
             <button type=\"submit\" id=\"register\">Register</button></form>"
        ),
    )
}

async fn create(State(s): State<AppState>, headers: HeaderMap, Form(f): Form<Params>) -> Response {
    let now = s.clock.now();
    let mut world = s.world.lock();
    let Some(user) = admin(&world, &headers) else {
        return to_signin();
    };
    let name = f
        .get("name")
        .map(|n| n.trim().to_string())
        .unwrap_or_default();
    let audience = f
        .get("audience")
        .and_then(|a| SignInAudience::parse(a))
        .unwrap_or(SignInAudience::AzureADMyOrg);
    if name.is_empty() {
        return (StatusCode::BAD_REQUEST, "name required").into_response();
    }
    let redirect = f
        .get("redirect_uri")
        .map(|r| r.trim().to_string())
        .filter(|r| !r.is_empty());
    let reg = register_app(
        &mut world,
        NewApp {
            name,
            tenant: user.tenant_id,
            audience,
            redirect_uris: redirect.into_iter().collect(),
            delegated_permissions: vec!["User.Read".into()],
            application_permissions: vec![],
            admin_consent: false,
            // A portal registration propagates like a real one.
            propagated: false,
        },
        now,
        0,
    );
    // The portal creates no secret by itself; drop the one register_app made.
    if let Some(app) = world.apps.get_mut(&reg.client_id) {
        app.secrets.clear();
    }
    Redirect::to(&format!("/portal/apps/{}", reg.client_id)).into_response()
}

async fn overview(
    State(s): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Response {
    let world = s.world.lock();
    let Some(user) = admin(&world, &headers) else {
        return to_signin();
    };
    let Some(app) = app_of(&world, &user, &id) else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let redirects: String = app
        .redirect_uris
        .iter()
        .map(|r| format!("<li>{}</li>", esc(r)))
        .collect();
    chrome(
        &user,
        &app.name,
        &format!(
            "{nav}<h2>Essentials</h2><table id=\"essentials\">\
             <tr><th>Display name</th><td id=\"display-name\">{name}</td></tr>\
             <tr><th>Application (client) ID</th><td id=\"application-client-id\" data-testid=\"application-client-id\">{cid}</td></tr>\
             <tr><th>Directory (tenant) ID</th><td id=\"directory-tenant-id\" data-testid=\"directory-tenant-id\">{tid}</td></tr>\
             <tr><th>Supported account types</th><td id=\"supported-account-types\" data-value=\"{aud:?}\">{aud_label}</td></tr>\
             <tr><th>Redirect URIs</th><td><ul id=\"redirect-uris\">{redirects}</ul></td></tr>\
             <tr><th>Client credentials</th><td id=\"client-credentials\">{n} secret(s)</td></tr></table>",
            nav = app_nav(&app),
            name = esc(&app.name),
            cid = app.client_id,
            tid = app.home_tenant,
            aud = app.audience,
            aud_label = esc(app.audience.portal_label()),
            n = app.secrets.len(),
        ),
    )
}

async fn authentication(
    State(s): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Response {
    let world = s.world.lock();
    let Some(user) = admin(&world, &headers) else {
        return to_signin();
    };
    let Some(app) = app_of(&world, &user, &id) else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let list: String = app
        .redirect_uris
        .iter()
        .map(|r| format!("<li>{}</li>", esc(r)))
        .collect();
    chrome(
        &user,
        "Authentication",
        &format!(
            "{}<h2>Web: Redirect URIs</h2><ul id=\"redirect-uris\">{list}</ul>\
             <form method=\"post\"><label for=\"new-redirect-uri\">Add URI</label>\
             <input type=\"url\" id=\"new-redirect-uri\" name=\"redirect_uri\" required>\
             <button type=\"submit\" id=\"save-redirect\">Save</button></form>",
            app_nav(&app)
        ),
    )
}

async fn add_redirect(
    State(s): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
    Form(f): Form<Params>,
) -> Response {
    let mut world = s.world.lock();
    let Some(user) = admin(&world, &headers) else {
        return to_signin();
    };
    let Some(app) = app_of(&world, &user, &id) else {
        return StatusCode::NOT_FOUND.into_response();
    };
    if let Some(uri) = f
        .get("redirect_uri")
        .map(|u| u.trim().to_string())
        .filter(|u| !u.is_empty())
        && let Some(a) = world.apps.get_mut(&app.client_id)
        && !a.redirect_uris.contains(&uri)
    {
        a.redirect_uris.push(uri);
    }
    Redirect::to(&format!("/portal/apps/{}/authentication", app.client_id)).into_response()
}

fn secrets_page(user: &User, app: &AppRegistration, fresh: Option<(Uuid, &str)>) -> Response {
    let rows: String = app
        .secrets
        .iter()
        .map(|s| {
            let value = match fresh {
                Some((id, v)) if id == s.id => format!(
                    "<td class=\"secret-value\" data-testid=\"secret-value\" id=\"secret-value\">{}</td>",
                    esc(v)
                ),
                _ => format!("<td class=\"secret-value\">{}{}</td>", esc(&s.hint), "*".repeat(37)),
            };
            format!(
                "<tr data-secret-id=\"{id}\"><td>{}</td><td>{}</td>{value}<td class=\"secret-id\" data-testid=\"secret-id\">{id}</td></tr>",
                esc(&s.description),
                s.expires_at.format("%m/%d/%Y"),
                id = s.id
            )
        })
        .collect();
    let notice = if fresh.is_some() {
        "<p id=\"copy-notice\" role=\"status\">Copy the new client secret value. You won't be able to retrieve it after you leave this page.</p>"
    } else {
        ""
    };
    chrome(
        user,
        "Certificates & secrets",
        &format!(
            "{nav}<h2>Client secrets</h2>{notice}<table id=\"client-secrets\"><tr><th>Description</th><th>Expires</th><th>Value</th><th>Secret ID</th></tr>{rows}</table>\
             <h3>Add a client secret</h3><form method=\"post\" id=\"new-client-secret\">\
             <label for=\"secret-description\">Description</label><input type=\"text\" id=\"secret-description\" name=\"description\">\
             <label for=\"secret-expires\">Expires</label><select id=\"secret-expires\" name=\"expires\">\
             <option value=\"180\" selected>Recommended: 180 days (6 months)</option><option value=\"90\">90 days (3 months)</option>\
             <option value=\"365\">365 days (12 months)</option><option value=\"545\">545 days (18 months)</option>\
             <option value=\"730\">730 days (24 months)</option><option value=\"custom\">Custom</option></select>\
             <label for=\"secret-custom-end\">End (custom)</label><input type=\"date\" id=\"secret-custom-end\" name=\"end\">\
             <button type=\"submit\" id=\"add-secret\">Add</button></form>",
            nav = app_nav(app),
        ),
    )
}

async fn secrets(
    State(s): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Response {
    let world = s.world.lock();
    let Some(user) = admin(&world, &headers) else {
        return to_signin();
    };
    match app_of(&world, &user, &id) {
        Some(app) => secrets_page(&user, &app, None),
        None => StatusCode::NOT_FOUND.into_response(),
    }
}

async fn new_secret(
    State(s): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
    Form(f): Form<Params>,
) -> Response {
    let now = s.clock.now();
    let mut world = s.world.lock();
    let Some(user) = admin(&world, &headers) else {
        return to_signin();
    };
    let Some(app) = app_of(&world, &user, &id) else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let expires = match f.get("expires").map(String::as_str) {
        Some("custom") => f
            .get("end")
            .and_then(|d| chrono::NaiveDate::parse_from_str(d, "%Y-%m-%d").ok())
            .map(|d| d.and_time(chrono::NaiveTime::MIN).and_utc())
            .unwrap_or(now + Duration::days(180)),
        Some(days) => now + Duration::days(days.parse().unwrap_or(180)),
        None => now + Duration::days(180),
    };
    let desc = f.get("description").cloned().unwrap_or_default();
    let (secret_id, value) =
        add_secret(&mut world, app.client_id, &desc, now, expires).expect("app exists");
    let app = world.apps[&app.client_id].clone();
    // The Value appears in this response only.
    secrets_page(&user, &app, Some((secret_id, &value)))
}

async fn permissions(
    State(s): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Response {
    let world = s.world.lock();
    let Some(user) = admin(&world, &headers) else {
        return to_signin();
    };
    let Some(app) = app_of(&world, &user, &id) else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let granted = world
        .admin_grants
        .get(&(app.client_id, user.tenant_id))
        .cloned()
        .unwrap_or_default();
    let row = |p: &String, kind: &str| {
        let status = if granted.contains(p) {
            "Granted for your organization"
        } else {
            "Not granted"
        };
        format!(
            "<tr data-permission=\"{p}\" data-type=\"{kind}\"><td>{p}</td><td>{kind}</td><td>{}</td><td class=\"status\">{status}</td></tr>",
            esc(scopes::describe(p)),
            p = esc(p)
        )
    };
    let rows: String = app
        .delegated_permissions
        .iter()
        .map(|p| row(p, "Delegated"))
        .chain(
            app.application_permissions
                .iter()
                .map(|p| row(p, "Application")),
        )
        .collect();
    let checkbox = |kind: &str, p: &str| {
        format!(
            "<div><input type=\"checkbox\" name=\"{kind}:{p}\" id=\"perm-{kind}-{id}\"><label for=\"perm-{kind}-{id}\" style=\"display:inline\">{p}</label></div>",
            id = p.replace('.', "-"),
        )
    };
    let delegated: String = scopes::OIDC
        .iter()
        .chain(scopes::DELEGATED.iter())
        .map(|p| checkbox("delegated", p))
        .collect();
    let application: String = scopes::APPLICATION
        .iter()
        .map(|p| checkbox("application", p))
        .collect();
    chrome(
        &user,
        "API permissions",
        &format!(
            "{nav}<h2>Configured permissions</h2><table id=\"configured-permissions\"><tr><th>API / Permissions name</th><th>Type</th><th>Description</th><th>Status</th></tr>{rows}</table>\
             <form method=\"post\" action=\"/portal/apps/{id}/permissions/consent\"><button type=\"submit\" id=\"grant-admin-consent\">Grant admin consent for {tenant}</button></form>\
             <h3>Add a permission: Microsoft Graph</h3><form method=\"post\" id=\"add-permission\">\
             <fieldset id=\"delegated-permissions\"><legend>Delegated permissions</legend>{delegated}</fieldset>\
             <fieldset id=\"application-permissions\"><legend>Application permissions</legend>{application}</fieldset>\
             <button type=\"submit\" id=\"add-permissions\">Add permissions</button></form>",
            nav = app_nav(&app),
            id = app.client_id,
            tenant = esc(&world
                .tenant(user.tenant_id)
                .map(|t| t.display_name.clone())
                .unwrap_or_default()),
        ),
    )
}

async fn add_permissions(
    State(s): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
    Form(f): Form<Params>,
) -> Response {
    let mut world = s.world.lock();
    let Some(user) = admin(&world, &headers) else {
        return to_signin();
    };
    let Some(app) = app_of(&world, &user, &id) else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let a = world.apps.get_mut(&app.client_id).expect("exists");
    for key in f.keys() {
        if let Some(p) = key.strip_prefix("delegated:") {
            a.delegated_permissions.insert(p.to_string());
        } else if let Some(p) = key.strip_prefix("application:") {
            a.application_permissions.insert(p.to_string());
        }
    }
    Redirect::to(&format!("/portal/apps/{}/permissions", app.client_id)).into_response()
}

async fn consent(
    State(s): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Response {
    let mut world = s.world.lock();
    let Some(user) = admin(&world, &headers) else {
        return to_signin();
    };
    let Some(app) = app_of(&world, &user, &id) else {
        return StatusCode::NOT_FOUND.into_response();
    };
    grant_admin_consent(&mut world, app.client_id, user.tenant_id);
    Redirect::to(&format!("/portal/apps/{}/permissions", app.client_id)).into_response()
}

async fn tenant_form(State(s): State<AppState>, headers: HeaderMap) -> Response {
    let world = s.world.lock();
    let Some(user) = admin(&world, &headers) else {
        return to_signin();
    };
    let locked = world
        .tenant(user.tenant_id)
        .is_some_and(|t| t.require_admin_consent);
    chrome(
        &user,
        "Consent and permissions",
        &format!(
            "<h1>User consent settings</h1><form method=\"post\">\
             <div><input type=\"radio\" name=\"user_consent\" id=\"allow-user-consent\" value=\"allow\"{a}><label for=\"allow-user-consent\" style=\"display:inline\">Allow user consent for apps</label></div>\
             <div><input type=\"radio\" name=\"user_consent\" id=\"do-not-allow-user-consent\" value=\"deny\"{d}><label for=\"do-not-allow-user-consent\" style=\"display:inline\">Do not allow user consent (an administrator will be required for all apps)</label></div>\
             <button type=\"submit\" id=\"save-consent-settings\">Save</button></form>",
            a = if locked { "" } else { " checked" },
            d = if locked { " checked" } else { "" },
        ),
    )
}

async fn tenant_save(
    State(s): State<AppState>,
    headers: HeaderMap,
    Form(f): Form<Params>,
) -> Response {
    let mut world = s.world.lock();
    let Some(user) = admin(&world, &headers) else {
        return to_signin();
    };
    let deny = f.get("user_consent").map(String::as_str) == Some("deny");
    if let Some(t) = world.tenants.iter_mut().find(|t| t.id == user.tenant_id) {
        t.require_admin_consent = deny;
    }
    Redirect::to("/portal/tenant").into_response()
}
