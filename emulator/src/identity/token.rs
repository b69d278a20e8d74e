//! `POST /{tenant}/oauth2/v2.0/token`.
//!
//! Microsoft identity platform: "OAuth 2.0 authorization code flow"
//! (redeem a code, refresh the access token), "OAuth 2.0 client credentials
//! flow", and RFC 6749 section 2.3.1 for HTTP Basic client authentication.

use std::collections::{BTreeSet, HashMap};

use axum::Json;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use bytes::Bytes;
use chrono::{DateTime, Duration, Utc};
use http::{HeaderMap, header};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use uuid::Uuid;

use super::errors::{self, AadError};
use super::{Authority, find_app, scopes};
use crate::state::{AccessToken, AppRegistration, RefreshToken, Subject, World, random_token};
use crate::{AppState, Settings};

type Params = HashMap<String, String>;

/// Refresh tokens die after 90 days unused (Microsoft identity platform:
/// "Refresh tokens", lifetime).
const REFRESH_INACTIVITY_DAYS: i64 = 90;

pub async fn token(
    State(s): State<AppState>,
    Path(tenant): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let now = s.clock.now();
    let settings = s.settings();
    let params: Params = serde_urlencoded::from_bytes(&body).unwrap_or_default();
    let correlation = headers
        .get("client-request-id")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| Uuid::parse_str(v).ok());
    let result = {
        let mut world = s.world.lock();
        handle(&mut world, &settings, &tenant, &headers, &params, now)
    };
    match result {
        Ok(v) => {
            let mut resp = Json(v).into_response();
            resp.headers_mut()
                .insert(header::CACHE_CONTROL, "no-store, no-cache".parse().unwrap());
            resp.headers_mut()
                .insert(header::PRAGMA, "no-cache".parse().unwrap());
            resp
        }
        Err(e) => e.into_json(&s.base_url, now, correlation),
    }
}

fn handle(
    world: &mut World,
    settings: &Settings,
    tenant: &str,
    headers: &HeaderMap,
    p: &Params,
    now: DateTime<Utc>,
) -> Result<Value, AadError> {
    let authority = Authority::resolve(world, tenant)?;
    let grant_type = p
        .get("grant_type")
        .ok_or_else(|| errors::missing_param("grant_type"))?
        .clone();
    let (client_id, secret) = client_credentials_of(headers, p)?;
    let app = find_app(
        world,
        &client_id,
        authority,
        now,
        settings.propagation_delay_secs,
    )?;
    if !matches!(
        grant_type.as_str(),
        "authorization_code" | "refresh_token" | "client_credentials"
    ) {
        return Err(errors::unsupported_grant(&grant_type));
    }
    // Web apps are confidential clients: a secret is always required.
    check_secret(&app, secret.as_deref(), now)?;
    match grant_type.as_str() {
        "authorization_code" => redeem_code(world, settings, &app, p, now),
        "refresh_token" => redeem_refresh(world, settings, &app, authority, p, now),
        _ => client_credentials(world, settings, &app, authority, p, now),
    }
}

/// The client id and secret, from HTTP Basic or from the body.
fn client_credentials_of(
    headers: &HeaderMap,
    p: &Params,
) -> Result<(String, Option<String>), AadError> {
    let basic = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Basic "))
        .and_then(|b| {
            base64::engine::general_purpose::STANDARD
                .decode(b.trim())
                .ok()
        })
        .and_then(|b| String::from_utf8(b).ok())
        .and_then(|s| {
            let (id, secret) = s.split_once(':')?;
            // RFC 6749 2.3.1: both parts are form-urlencoded first.
            Some((
                urlencoding::decode(id).ok()?.into_owned(),
                urlencoding::decode(secret).ok()?.into_owned(),
            ))
        });
    if let Some((id, secret)) = basic {
        if p.get("client_id").is_some_and(|b| b != &id) {
            return Err(AadError::new(
                "invalid_request",
                900023,
                "The client_id in the request body does not match the one in the Authorization header.",
            ));
        }
        return Ok((id, Some(secret)));
    }
    let id = p
        .get("client_id")
        .ok_or_else(|| errors::missing_param("client_id"))?
        .clone();
    Ok((id, p.get("client_secret").cloned()))
}

fn check_secret(
    app: &AppRegistration,
    given: Option<&str>,
    now: DateTime<Utc>,
) -> Result<(), AadError> {
    let given = given.ok_or_else(errors::secret_missing)?;
    let found = app
        .secrets
        .iter()
        .find(|s| constant_time_eq(s.value.as_bytes(), given.as_bytes()));
    match found {
        None => Err(errors::invalid_secret(app.client_id)),
        Some(s) if s.expires_at <= now => Err(errors::expired_secret(app.client_id)),
        Some(_) => Ok(()),
    }
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

fn redeem_code(
    world: &mut World,
    settings: &Settings,
    app: &AppRegistration,
    p: &Params,
    now: DateTime<Utc>,
) -> Result<Value, AadError> {
    let code_str = p.get("code").ok_or_else(|| errors::missing_param("code"))?;
    let redirect_uri = p
        .get("redirect_uri")
        .ok_or_else(|| errors::missing_param("redirect_uri"))?;
    let code = world
        .codes
        .get(code_str)
        .filter(|c| c.client_id == app.client_id)
        .cloned()
        .ok_or_else(errors::bad_code)?;
    if code.redeemed {
        return Err(errors::code_redeemed());
    }
    if code.expires_at <= now {
        return Err(errors::grant_expired());
    }
    if &code.redirect_uri != redirect_uri {
        return Err(errors::reply_address_mismatch(
            redirect_uri,
            &code.redirect_uri,
        ));
    }
    verify_pkce(&code, p.get("code_verifier"))?;
    world.codes.get_mut(code_str).expect("present").redeemed = true;
    let user = world.users[&code.user_id].clone();
    // The token carries every Graph permission consented so far
    // (incremental consent), not only the ones asked for this time.
    let mut granted = world.consented_scopes(app.client_id, &user);
    granted.retain(|s| code.scopes.contains(s) || !scopes::OIDC.contains(&s.as_str()));
    granted.extend(code.scopes.iter().cloned());
    let mut out = issue_user_tokens(world, settings, app, user.id, &granted, now);
    if code.scopes.contains("openid") {
        out["id_token"] = Value::String(id_token(world, app, user.id, code.nonce.as_deref(), now));
    }
    Ok(out)
}

/// RFC 7636 section 4.6.
fn verify_pkce(code: &crate::state::AuthCode, verifier: Option<&String>) -> Result<(), AadError> {
    let Some(challenge) = &code.code_challenge else {
        return Ok(());
    };
    let verifier = verifier.ok_or_else(|| errors::missing_param("code_verifier"))?;
    let computed = match code.code_challenge_method.as_deref() {
        Some("S256") => base64::engine::general_purpose::URL_SAFE_NO_PAD
            .encode(Sha256::digest(verifier.as_bytes())),
        _ => verifier.clone(),
    };
    if &computed == challenge {
        Ok(())
    } else {
        Err(errors::pkce_mismatch())
    }
}

fn redeem_refresh(
    world: &mut World,
    settings: &Settings,
    app: &AppRegistration,
    authority: Authority,
    p: &Params,
    now: DateTime<Utc>,
) -> Result<Value, AadError> {
    let rt_str = p
        .get("refresh_token")
        .ok_or_else(|| errors::missing_param("refresh_token"))?;
    let rt = world
        .refresh_tokens
        .get(rt_str)
        .filter(|r| r.client_id == app.client_id)
        .cloned()
        .ok_or_else(errors::bad_refresh_token)?;
    let user = world.users[&rt.user_id].clone();
    if rt.issued_at < user.tokens_valid_from {
        return Err(errors::grant_revoked(rt.issued_at, user.tokens_valid_from));
    }
    if rt.revoked {
        return Err(errors::refresh_token_revoked());
    }
    if now - rt.last_used > Duration::days(REFRESH_INACTIVITY_DAYS) {
        return Err(errors::refresh_inactive(rt.issued_at));
    }
    if let Authority::Tenant(t) = authority
        && t != rt.tenant_id
    {
        return Err(errors::bad_refresh_token());
    }
    let consented = world.consented_scopes(app.client_id, &user);
    if !scopes::graph_only(&rt.scopes).is_subset(&consented) {
        // The grant behind this token was withdrawn.
        return Err(errors::refresh_token_revoked());
    }
    let mut wanted = rt.scopes.clone();
    if let Some(raw) = p.get("scope") {
        let asked = scopes::parse(raw, &app.delegated_permissions)
            .map_err(|d| errors::invalid_scope(&d))?;
        let missing: BTreeSet<_> = scopes::graph_only(&asked)
            .difference(&consented)
            .cloned()
            .collect();
        if !missing.is_empty() {
            return Err(errors::consent_missing(app.client_id, &app.name));
        }
        wanted.extend(asked);
    }
    if settings.strict_refresh_rotation {
        world
            .refresh_tokens
            .get_mut(rt_str)
            .expect("present")
            .revoked = true;
    } else {
        world
            .refresh_tokens
            .get_mut(rt_str)
            .expect("present")
            .last_used = now;
    }
    let mut out = issue_user_tokens(world, settings, app, user.id, &wanted, now);
    if wanted.contains("openid") {
        out["id_token"] = Value::String(id_token(world, app, user.id, None, now));
    }
    Ok(out)
}

fn client_credentials(
    world: &mut World,
    settings: &Settings,
    app: &AppRegistration,
    authority: Authority,
    p: &Params,
    now: DateTime<Utc>,
) -> Result<Value, AadError> {
    let tenant = match authority {
        Authority::Tenant(t) => t,
        Authority::Consumers => {
            return Err(AadError::new(
                "unauthorized_client",
                700016,
                "The client credentials flow is not supported for personal Microsoft accounts (/consumers).",
            ));
        }
        _ => return Err(errors::no_tenant_for_client_credentials()),
    };
    let scope = p
        .get("scope")
        .ok_or_else(|| errors::missing_param("scope"))?;
    if scope.trim() != "https://graph.microsoft.com/.default" {
        return Err(errors::client_credentials_scope(scope));
    }
    // App roles exist in a tenant only once an admin granted them there.
    let roles = if world.admin_grants.contains_key(&(app.client_id, tenant)) {
        app.application_permissions.clone()
    } else {
        BTreeSet::new()
    };
    let token = new_access_token(
        world,
        settings,
        app.client_id,
        Subject::App(tenant),
        roles,
        now,
    );
    let lifetime = settings.access_token_lifetime_secs;
    Ok(json!({
        "token_type": "Bearer",
        "expires_in": lifetime,
        "ext_expires_in": lifetime,
        "access_token": token,
    }))
}

fn new_access_token(
    world: &mut World,
    settings: &Settings,
    client_id: Uuid,
    subject: Subject,
    scopes: BTreeSet<String>,
    now: DateTime<Utc>,
) -> String {
    let token = format!("EwB{}", random_token(96));
    world.access_tokens.insert(
        token.clone(),
        AccessToken {
            client_id,
            subject,
            scopes,
            issued_at: now,
            expires_at: now + Duration::seconds(settings.access_token_lifetime_secs),
        },
    );
    token
}

/// The token response of the authorization code and refresh grants:
/// `token_type`, `scope`, `expires_in`, `ext_expires_in`, `access_token`
/// and, with `offline_access`, `refresh_token`.
fn issue_user_tokens(
    world: &mut World,
    settings: &Settings,
    app: &AppRegistration,
    user_id: Uuid,
    granted: &BTreeSet<String>,
    now: DateTime<Utc>,
) -> Value {
    let graph = scopes::graph_only(granted);
    let access = new_access_token(
        world,
        settings,
        app.client_id,
        Subject::User(user_id),
        graph.clone(),
        now,
    );
    let mut shown: BTreeSet<String> = graph;
    for oidc in ["openid", "profile", "email"] {
        if granted.contains(oidc) {
            shown.insert(oidc.to_string());
        }
    }
    let lifetime = settings.access_token_lifetime_secs;
    let mut out = json!({
        "token_type": "Bearer",
        "scope": scopes::join(&shown),
        "expires_in": lifetime,
        "ext_expires_in": lifetime,
        "access_token": access,
    });
    if granted.contains("offline_access") {
        let rt = format!("M.C5{}", random_token(128));
        let tenant_id = world.users[&user_id].tenant_id;
        world.refresh_tokens.insert(
            rt.clone(),
            RefreshToken {
                client_id: app.client_id,
                user_id,
                scopes: granted.clone(),
                issued_at: now,
                last_used: now,
                revoked: false,
                tenant_id,
            },
        );
        out["refresh_token"] = Value::String(rt);
    }
    out
}

/// An ID token with the v2.0 claims. It is signed with nothing (the
/// signature part is a placeholder): clients that must validate ID tokens
/// should use /me instead against the emulator.
fn id_token(
    world: &World,
    app: &AppRegistration,
    user_id: Uuid,
    nonce: Option<&str>,
    now: DateTime<Utc>,
) -> String {
    let user = &world.users[&user_id];
    let b64 = |v: &Value| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string());
    let header = json!({"typ": "JWT", "alg": "none", "kid": "emulator"});
    let mut claims = json!({
        "aud": app.client_id,
        "iss": format!("https://login.microsoftonline.com/{}/v2.0", user.tenant_id),
        "iat": now.timestamp(),
        "nbf": now.timestamp(),
        "exp": now.timestamp() + 3600,
        "name": user.display_name,
        "oid": user.id,
        "preferred_username": user.upn,
        "sub": format!("{:x}", Sha256::digest(format!("{}{}", user.id, app.client_id))),
        "tid": user.tenant_id,
        "ver": "2.0",
    });
    if let Some(n) = nonce {
        claims["nonce"] = Value::String(n.to_string());
    }
    format!("{}.{}.", b64(&header), b64(&claims))
}
