//! The interactive part of the identity platform: `/authorize`,
//! `/adminconsent` and the sign-in, account-picker and consent pages.
//!
//! Microsoft identity platform: "OAuth 2.0 authorization code flow"
//! (request an authorization code; successful and error responses) and
//! "Admin consent on the Microsoft identity platform". Errors that mean the
//! app itself is misconfigured (unknown app, redirect URI mismatch, a
//! single-tenant app at /common) are shown on the sign-in page and never
//! sent to the redirect URI: Microsoft cannot trust that URI yet.

use std::collections::{BTreeSet, HashMap};

use axum::Form;
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Response};
use http::{HeaderMap, StatusCode, header};
use uuid::Uuid;

use super::errors::{self, AadError};
use super::{Authority, check_user_allowed, find_app, scopes};
use crate::AppState;
use crate::html::{esc, hidden, page};
use crate::state::{AccountKind, AuthCode, Flow, FlowKind, Session, World, random_token};

const SESSION_COOKIE: &str = "ESTSAUTH";

type Params = HashMap<String, String>;

/// `GET /{tenant}/oauth2/v2.0/authorize`
pub async fn authorize(
    State(s): State<AppState>,
    Path(tenant): Path<String>,
    Query(q): Query<Params>,
    headers: HeaderMap,
) -> Response {
    let now = s.clock.now();
    let settings = s.settings();
    let mut world = s.world.lock();
    let (flow, authority) = match validate_app_and_redirect(
        &world,
        &tenant,
        &q,
        now,
        settings.propagation_delay_secs,
    ) {
        Ok(v) => v,
        Err(e) => return error_page(&e),
    };
    let state = q.get("state").cloned();
    let back = |e: AadError| redirect_error(&flow.redirect_uri, &e, state.as_deref());
    let response_type = q.get("response_type").map(String::as_str).unwrap_or("");
    if response_type != "code" {
        return back(AadError::new(
            "unsupported_response_type",
            700054,
            format!("response_type '{response_type}' is not enabled for the application."),
        ));
    }
    let app = &world.apps[&flow.client_id];
    let requested = match scopes::parse(
        q.get("scope").map(String::as_str).unwrap_or(""),
        &app.delegated_permissions,
    ) {
        Ok(s) => s,
        Err(detail) => return back(errors::invalid_scope(&detail)),
    };
    if let Err(e) = check_pkce_request(&q, settings.require_pkce) {
        return back(e);
    }
    let _ = authority;
    let flow = Flow {
        kind: FlowKind::Authorize,
        scopes: requested,
        state,
        code_challenge: q.get("code_challenge").cloned(),
        code_challenge_method: q.get("code_challenge").map(|_| {
            q.get("code_challenge_method")
                .cloned()
                .unwrap_or("plain".into())
        }),
        nonce: q.get("nonce").cloned(),
        prompt: q.get("prompt").cloned(),
        login_hint: q.get("login_hint").cloned(),
        ..flow
    };
    let id = random_token(24);
    world.flows.insert(id.clone(), flow);
    let session_user = session_user(&world, &headers);
    advance(&s, &mut world, &id, session_user, None)
}

/// `GET /{tenant}/v2.0/adminconsent` (Microsoft identity platform: "Admin
/// consent on the Microsoft identity platform").
pub async fn admin_consent(
    State(s): State<AppState>,
    Path(tenant): Path<String>,
    Query(q): Query<Params>,
    headers: HeaderMap,
) -> Response {
    let now = s.clock.now();
    let settings = s.settings();
    let mut world = s.world.lock();
    let (flow, _) = match validate_app_and_redirect(
        &world,
        &tenant,
        &q,
        now,
        settings.propagation_delay_secs,
    ) {
        Ok(v) => v,
        Err(e) => return error_page(&e),
    };
    let app = &world.apps[&flow.client_id];
    let requested = scopes::parse(
        q.get("scope")
            .map(String::as_str)
            .unwrap_or("https://graph.microsoft.com/.default"),
        &app.delegated_permissions,
    )
    .unwrap_or_else(|_| app.delegated_permissions.clone());
    let flow = Flow {
        kind: FlowKind::AdminConsent,
        scopes: requested,
        state: q.get("state").cloned(),
        prompt: Some("select_account".into()),
        ..flow
    };
    let id = random_token(24);
    world.flows.insert(id.clone(), flow);
    let session_user = session_user(&world, &headers);
    advance(&s, &mut world, &id, session_user, None)
}

/// The checks whose failure is shown on our own page.
fn validate_app_and_redirect(
    world: &World,
    tenant: &str,
    q: &Params,
    now: chrono::DateTime<chrono::Utc>,
    delay: i64,
) -> Result<(Flow, Authority), AadError> {
    let authority = Authority::resolve(world, tenant)?;
    let client_id = q
        .get("client_id")
        .ok_or_else(|| errors::missing_param("client_id"))?;
    let app = find_app(world, client_id, authority, now, delay)?;
    let redirect_uri = q
        .get("redirect_uri")
        .ok_or_else(|| errors::missing_param("redirect_uri"))?;
    // Exact match, as Microsoft requires (no prefix, no trailing-slash tolerance).
    if !app.redirect_uris.iter().any(|u| u == redirect_uri) {
        return Err(errors::redirect_mismatch(redirect_uri, app.client_id));
    }
    let flow = Flow {
        kind: FlowKind::Authorize,
        authority: tenant.to_string(),
        client_id: app.client_id,
        redirect_uri: redirect_uri.clone(),
        scopes: BTreeSet::new(),
        state: None,
        code_challenge: None,
        code_challenge_method: None,
        nonce: None,
        prompt: None,
        login_hint: None,
        user_id: None,
    };
    Ok((flow, authority))
}

/// RFC 7636 as Microsoft applies it: S256 or plain; S256 challenges are
/// 43 base64url characters.
fn check_pkce_request(q: &Params, required: bool) -> Result<(), AadError> {
    let Some(challenge) = q.get("code_challenge") else {
        return if required {
            Err(errors::pkce_required())
        } else {
            Ok(())
        };
    };
    match q
        .get("code_challenge_method")
        .map(String::as_str)
        .unwrap_or("plain")
    {
        "S256" if challenge.len() != 43 => Err(AadError::new(
            "invalid_request",
            501491,
            "Invalid size of Code_Challenge parameter.",
        )),
        "S256" | "plain" => Ok(()),
        other => Err(AadError::new(
            "invalid_request",
            501492,
            format!("Invalid code_challenge_method '{other}'."),
        )),
    }
}

fn session_user(world: &World, headers: &HeaderMap) -> Option<Uuid> {
    let cookies = headers.get(header::COOKIE)?.to_str().ok()?;
    cookies
        .split(';')
        .filter_map(|c| c.trim().split_once('='))
        .filter(|(k, _)| *k == SESSION_COOKIE)
        .find_map(|(_, v)| world.sessions.get(v).map(|s| s.user_id))
}

/// Move a flow to its next page, or back to the app.
fn advance(
    s: &AppState,
    world: &mut World,
    flow_id: &str,
    session: Option<Uuid>,
    signin_error: Option<String>,
) -> Response {
    let Some(mut flow) = world.flows.get(flow_id).cloned() else {
        return expired_flow_page();
    };
    if flow.user_id.is_none() {
        let prompt = flow.prompt.as_deref().unwrap_or("");
        match session {
            Some(u) if prompt == "select_account" => {
                return picker_page(world, flow_id, &flow, u);
            }
            Some(u) if prompt != "login" => flow.user_id = Some(u),
            _ if prompt == "none" => {
                let e = AadError::new(
                    "login_required",
                    50058,
                    "A silent sign-in request was sent but no user is signed in.",
                );
                world.flows.remove(flow_id);
                return redirect_error(&flow.redirect_uri, &e, flow.state.as_deref());
            }
            _ => return signin_page(world, flow_id, &flow, signin_error),
        }
    }
    let user = world.users[&flow.user_id.expect("user set")].clone();
    let app = world.apps[&flow.client_id].clone();
    let authority = Authority::resolve(world, &flow.authority).unwrap_or(Authority::Common);
    if let Err(e) = check_user_allowed(world, &user, &app, authority) {
        flow.user_id = None;
        world.flows.insert(flow_id.to_string(), flow.clone());
        return signin_page(world, flow_id, &flow, Some(e.short_description()));
    }
    world.flows.insert(flow_id.to_string(), flow.clone());
    match flow.kind {
        FlowKind::Authorize => consent_step(s, world, flow_id, &flow, &user, &app),
        FlowKind::AdminConsent => {
            if !user.is_admin || user.kind != AccountKind::Work {
                world.flows.remove(flow_id);
                return error_page(&AadError::new(
                    "access_denied",
                    90094,
                    "The grant requires admin permission.",
                ));
            }
            consent_page(world, flow_id, &flow, &app.name, true, true)
        }
    }
}

fn consent_step(
    s: &AppState,
    world: &mut World,
    flow_id: &str,
    flow: &Flow,
    user: &crate::state::User,
    app: &crate::state::AppRegistration,
) -> Response {
    let state = flow.state.as_deref();
    if user.kind == AccountKind::Personal
        && let Some(bad) = flow
            .scopes
            .iter()
            .find(|sc| scopes::WORK_ONLY.contains(&sc.as_str()))
    {
        world.flows.remove(flow_id);
        let e = errors::invalid_scope(&format!(
            "The scope '{bad}' is not supported for personal Microsoft accounts."
        ));
        return redirect_error(&flow.redirect_uri, &e, state);
    }
    let consented = world.consented_scopes(app.client_id, user);
    let missing: BTreeSet<_> = flow.scopes.difference(&consented).cloned().collect();
    let prompt = flow.prompt.as_deref().unwrap_or("");
    if missing.is_empty() && prompt != "consent" {
        return issue_code(s, world, flow_id);
    }
    let tenant_locked = user.kind == AccountKind::Work
        && world
            .tenant(user.tenant_id)
            .is_some_and(|t| t.require_admin_consent);
    if prompt == "none" || (tenant_locked && !user.is_admin) {
        if prompt == "none" {
            world.flows.remove(flow_id);
            let e = AadError::new(
                "consent_required",
                65001,
                errors::consent_missing(app.client_id, &app.name).message,
            );
            return redirect_error(&flow.redirect_uri, &e, state);
        }
        return admin_approval_page(flow_id, flow, &app.name);
    }
    consent_page(
        world,
        flow_id,
        flow,
        &app.name,
        user.is_admin && user.kind == AccountKind::Work,
        false,
    )
}

/// Create the authorization code and send the browser back to the app.
fn issue_code(s: &AppState, world: &mut World, flow_id: &str) -> Response {
    let flow = world.flows.remove(flow_id).expect("flow exists");
    let code = format!("0.A{}", random_token(96));
    // Microsoft identity platform: codes are short lived (about 10 minutes).
    world.codes.insert(
        code.clone(),
        AuthCode {
            client_id: flow.client_id,
            user_id: flow.user_id.expect("signed in"),
            redirect_uri: flow.redirect_uri.clone(),
            scopes: flow.scopes.clone(),
            code_challenge: flow.code_challenge.clone(),
            code_challenge_method: flow.code_challenge_method.clone(),
            nonce: flow.nonce.clone(),
            expires_at: s.clock.now() + chrono::Duration::minutes(10),
            redeemed: false,
        },
    );
    let mut params = vec![("code", code.as_str())];
    if let Some(st) = flow.state.as_deref() {
        params.push(("state", st));
    }
    let session_state = Uuid::new_v4().to_string();
    params.push(("session_state", &session_state));
    redirect(&flow.redirect_uri, &params)
}

/// `POST /{tenant}/login`: every button of every page lands here.
pub async fn login_step(
    State(s): State<AppState>,
    Path(_tenant): Path<String>,
    headers: HeaderMap,
    Form(f): Form<Params>,
) -> Response {
    let mut world = s.world.lock();
    let flow_id = f.get("flow").cloned().unwrap_or_default();
    let Some(flow) = world.flows.get(&flow_id).cloned() else {
        return expired_flow_page();
    };
    let action = f.get("action").map(String::as_str).unwrap_or("");
    match action {
        "signin" => sign_in(&s, &mut world, &flow_id, &flow, &f),
        "pick" => {
            let session = session_user(&world, &headers);
            if let Some(u) = session
                && let Some(fl) = world.flows.get_mut(&flow_id)
            {
                fl.user_id = Some(u);
            }
            advance(&s, &mut world, &flow_id, session, None)
        }
        "other" => signin_page(&world, &flow_id, &flow, None),
        "accept" => accept(
            &s,
            &mut world,
            &flow_id,
            &flow,
            f.contains_key("consent_org"),
        ),
        "cancel" => {
            world.flows.remove(&flow_id);
            let mut resp = redirect_error(
                &flow.redirect_uri,
                &errors::user_declined(),
                flow.state.as_deref(),
            );
            if flow.kind == FlowKind::AdminConsent {
                resp = redirect(
                    &flow.redirect_uri,
                    &[
                        ("error", "access_denied"),
                        (
                            "error_description",
                            &errors::user_declined().short_description(),
                        ),
                        ("admin_consent", "False"),
                        ("state", flow.state.as_deref().unwrap_or("")),
                    ],
                );
            }
            resp
        }
        "back" => {
            // The user could not consent (the tenant requires an admin):
            // the app learns consent is missing, AADSTS65001.
            world.flows.remove(&flow_id);
            let app = &world.apps[&flow.client_id];
            let e = AadError::new(
                "consent_required",
                65001,
                errors::consent_missing(app.client_id, &app.name).message,
            );
            redirect_error(&flow.redirect_uri, &e, flow.state.as_deref())
        }
        _ => (StatusCode::BAD_REQUEST, "unknown action").into_response(),
    }
}

fn sign_in(s: &AppState, world: &mut World, flow_id: &str, flow: &Flow, f: &Params) -> Response {
    let login = f.get("loginfmt").map(|x| x.trim()).unwrap_or("");
    let password = f.get("passwd").map(String::as_str).unwrap_or("");
    let user = world.user_by_upn(login).cloned();
    let err = match &user {
        None => Some(format!(
            "AADSTS50034: The user account {login} does not exist in the directory. To sign into this application, the account must be added to the directory."
        )),
        Some(u) if u.kind == AccountKind::Room => {
            Some("AADSTS50057: The user account is disabled.".to_string())
        }
        Some(u) if u.password != password => Some(
            "AADSTS50126: Error validating credentials due to invalid username or password."
                .to_string(),
        ),
        _ => None,
    };
    if let Some(e) = err {
        return signin_page(world, flow_id, flow, Some(e));
    }
    let user = user.expect("checked");
    let sid = random_token(32);
    world
        .sessions
        .insert(sid.clone(), Session { user_id: user.id });
    if let Some(fl) = world.flows.get_mut(flow_id) {
        fl.user_id = Some(user.id);
    }
    let mut resp = advance(s, world, flow_id, Some(user.id), None);
    let cookie = format!("{SESSION_COOKIE}={sid}; Path=/; HttpOnly; SameSite=Lax");
    resp.headers_mut()
        .append(header::SET_COOKIE, cookie.parse().expect("cookie"));
    resp
}

fn accept(s: &AppState, world: &mut World, flow_id: &str, flow: &Flow, for_org: bool) -> Response {
    let Some(user_id) = flow.user_id else {
        return expired_flow_page();
    };
    let user = world.users[&user_id].clone();
    match flow.kind {
        FlowKind::Authorize => {
            world
                .user_grants
                .entry((flow.client_id, user_id))
                .or_default()
                .extend(flow.scopes.iter().cloned());
            if for_org && user.is_admin {
                world
                    .admin_grants
                    .entry((flow.client_id, user.tenant_id))
                    .or_default()
                    .extend(flow.scopes.iter().cloned());
            }
            issue_code(s, world, flow_id)
        }
        FlowKind::AdminConsent => {
            world.flows.remove(flow_id);
            let app = world.apps[&flow.client_id].clone();
            let mut granted = flow.scopes.clone();
            granted.extend(app.delegated_permissions.iter().cloned());
            world
                .admin_grants
                .entry((flow.client_id, user.tenant_id))
                .or_default()
                .extend(granted.iter().cloned());
            let tenant = user.tenant_id.to_string();
            let scope = granted
                .iter()
                .map(|s| format!("https://graph.microsoft.com/{s}"))
                .collect::<Vec<_>>()
                .join(" ");
            redirect(
                &flow.redirect_uri,
                &[
                    ("admin_consent", "True"),
                    ("tenant", &tenant),
                    ("state", flow.state.as_deref().unwrap_or("")),
                    ("scope", &scope),
                ],
            )
        }
    }
}

// ----- responses ---------------------------------------------------------

/// A 302 to `uri` with query parameters appended.
pub fn redirect(uri: &str, params: &[(&str, &str)]) -> Response {
    let query = params
        .iter()
        .map(|(k, v)| format!("{k}={}", urlencoding::encode(v)))
        .collect::<Vec<_>>()
        .join("&");
    let sep = if uri.contains('?') { '&' } else { '?' };
    let location = format!("{uri}{sep}{query}");
    (StatusCode::FOUND, [(header::LOCATION, location)]).into_response()
}

/// Microsoft identity platform: "OAuth 2.0 authorization code flow",
/// "Error response": `error`, `error_description`, `state` on the redirect.
fn redirect_error(uri: &str, e: &AadError, state: Option<&str>) -> Response {
    let desc = e.short_description();
    let mut params = vec![("error", e.error), ("error_description", desc.as_str())];
    if e.code == 65004 {
        params.push(("error_subcode", "cancel"));
    }
    if let Some(st) = state {
        params.push(("state", st));
    }
    redirect(uri, &params)
}

/// Microsoft's own "Sorry, but we're having trouble signing you in" page.
pub fn error_page(e: &AadError) -> Response {
    let body = format!(
        "<h1>Sorry, but we’re having trouble signing you in.</h1>\
         <p id=\"error-code\" data-testid=\"aadsts-error\" data-code=\"{}\">{}</p>",
        e.code,
        esc(&e.short_description())
    );
    (
        StatusCode::BAD_REQUEST,
        page("Sign in to your account", &body),
    )
        .into_response()
}

/// `GET /error?code=n`: the lookup page error_uri points to.
pub async fn error_lookup(Query(q): Query<Params>) -> Response {
    let code = q.get("code").cloned().unwrap_or_default();
    page(
        "Error lookup",
        &format!(
            "<h1>Error code lookup</h1><p>AADSTS{}: see Microsoft Entra authentication and authorization error codes.</p>",
            esc(&code)
        ),
    )
    .into_response()
}

fn expired_flow_page() -> Response {
    let body = "<h1>Sorry, but we’re having trouble signing you in.</h1>\
                <p data-testid=\"aadsts-error\">Your sign-in session has expired. Go back to the application and start again.</p>";
    (StatusCode::BAD_REQUEST, page("Sign in", body)).into_response()
}

fn app_name(world: &World, flow: &Flow) -> String {
    world
        .apps
        .get(&flow.client_id)
        .map(|a| a.name.clone())
        .unwrap_or_default()
}

fn signin_page(world: &World, flow_id: &str, flow: &Flow, error: Option<String>) -> Response {
    let hint = flow.login_hint.clone().unwrap_or_default();
    let error = error
        .map(|e| {
            format!(
                "<div class=\"error\" role=\"alert\" id=\"usernameError\">{}</div>",
                esc(&e)
            )
        })
        .unwrap_or_default();
    let body = format!(
        "<h1>Sign in</h1><p>to continue to <b id=\"app-name\">{app}</b></p>{error}\
         <form method=\"post\" action=\"/{tenant}/login\">{flow}{action}\
         <label for=\"i0116\">Email, phone, or Skype</label>\
         <input type=\"email\" id=\"i0116\" name=\"loginfmt\" autocomplete=\"username\" value=\"{hint}\" required>\
         <label for=\"i0118\">Password</label>\
         <input type=\"password\" id=\"i0118\" name=\"passwd\" autocomplete=\"current-password\">\
         <button type=\"submit\" id=\"idSIButton9\">Sign in</button></form>",
        app = esc(&app_name(world, flow)),
        tenant = esc(&flow.authority),
        flow = hidden("flow", flow_id),
        action = hidden("action", "signin"),
        hint = esc(&hint),
    );
    page("Sign in to your account", &body).into_response()
}

fn picker_page(world: &World, flow_id: &str, flow: &Flow, user: Uuid) -> Response {
    let upn = world
        .users
        .get(&user)
        .map(|u| u.upn.clone())
        .unwrap_or_default();
    let body = format!(
        "<h1>Pick an account</h1><form method=\"post\" action=\"/{tenant}/login\">{flow}\
         <button type=\"submit\" name=\"action\" value=\"pick\" id=\"pick-account\">Continue as {upn}</button>\
         <button type=\"submit\" name=\"action\" value=\"other\" id=\"otherTile\" class=\"secondary\">Use another account</button></form>",
        tenant = esc(&flow.authority),
        flow = hidden("flow", flow_id),
        upn = esc(&upn),
    );
    page("Pick an account", &body).into_response()
}

fn consent_page(
    world: &World,
    flow_id: &str,
    flow: &Flow,
    app: &str,
    offer_org: bool,
    admin_flow: bool,
) -> Response {
    let items: String = flow
        .scopes
        .iter()
        .map(|s| {
            format!(
                "<li data-scope=\"{s}\">{} <code>{s}</code></li>",
                esc(scopes::describe(s)),
                s = esc(s)
            )
        })
        .collect();
    let org = if admin_flow {
        "<p id=\"org-consent\">Accepting grants these permissions for every user in your organization.</p>".to_string()
    } else if offer_org {
        "<label><input type=\"checkbox\" name=\"consent_org\" id=\"consent_org\"> Consent on behalf of your organization</label>".to_string()
    } else {
        String::new()
    };
    let user = flow
        .user_id
        .and_then(|u| world.users.get(&u))
        .map(|u| u.upn.clone())
        .unwrap_or_default();
    let body = format!(
        "<h1>Permissions requested</h1><p id=\"signed-in-as\">{user}</p>\
         <p><b id=\"app-name\">{app}</b> unverified</p><p>This app would like to:</p>\
         <ul id=\"scopes\">{items}</ul>\
         <form method=\"post\" action=\"/{tenant}/login\">{flow}{org}<br>\
         <button type=\"submit\" name=\"action\" value=\"accept\" id=\"idBtn_Accept\">Accept</button>\
         <button type=\"submit\" name=\"action\" value=\"cancel\" id=\"idBtn_Back\" class=\"secondary\">Cancel</button></form>",
        user = esc(&user),
        app = esc(app),
        tenant = esc(&flow.authority),
        flow = hidden("flow", flow_id),
    );
    page("Permissions requested", &body).into_response()
}

fn admin_approval_page(flow_id: &str, flow: &Flow, app: &str) -> Response {
    let body = format!(
        "<h1>Need admin approval</h1><p id=\"need-admin\"><b>{app}</b> needs permission to access resources in your organization that only an admin can grant. Please ask an admin to grant permission to this app before you can use it.</p>\
         <form method=\"post\" action=\"/{tenant}/login\">{flow}\
         <button type=\"submit\" name=\"action\" value=\"back\" id=\"back-to-app\">Return to the application without granting consent</button></form>",
        app = esc(app),
        tenant = esc(&flow.authority),
        flow = hidden("flow", flow_id),
    );
    page("Need admin approval", &body).into_response()
}
