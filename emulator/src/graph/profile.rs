//! `GET /me`, `GET /users/{id|upn}` and `GET /…/calendar`.
//! Microsoft Graph: "Get user" (delegated `User.Read` for /me; reading
//! another user needs `User.ReadBasic.All` or more; app-only `User.Read.All`).

use axum::Json;
use axum::response::{IntoResponse, Response};
use http::{Method, StatusCode};
use serde_json::json;

use super::auth::{Caller, Principal, check_calendar};
use super::errors::GraphError;
use super::{GraphRequest, method_not_allowed};
use crate::AppState;
use crate::state::User;

fn insufficient() -> GraphError {
    GraphError::new(
        StatusCode::FORBIDDEN,
        "Authorization_RequestDenied",
        "Insufficient privileges to complete the operation.",
    )
}

pub fn get(
    s: &AppState,
    req: &GraphRequest,
    p: &Principal,
    m: &User,
    is_me: bool,
) -> Result<Response, GraphError> {
    if req.method != Method::GET {
        return Err(method_not_allowed());
    }
    let allowed = match &p.caller {
        Caller::Delegated(me) if me.id == m.id => p.has_any(&["User.Read", "User.ReadBasic.All"]),
        Caller::Delegated(_) => p.has_any(&["User.ReadBasic.All"]),
        Caller::App { .. } => p.has_any(&["User.Read.All"]),
    };
    if !allowed {
        return Err(insufficient());
    }
    let (given, surname) = m
        .display_name
        .split_once(' ')
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .unwrap_or((m.display_name.clone(), String::new()));
    // Graph answers /me with the users entity set's context.
    let _ = is_me;
    let context = format!("{}/v1.0/$metadata#users/$entity", s.base_url);
    Ok(Json(json!({
        "@odata.context": context,
        "businessPhones": [],
        "displayName": m.display_name,
        "givenName": given,
        "surname": surname,
        "jobTitle": null,
        "mail": m.upn,
        "mobilePhone": null,
        "officeLocation": null,
        "preferredLanguage": "en-US",
        "userPrincipalName": m.upn,
        "id": m.graph_id(),
    }))
    .into_response())
}

pub fn calendar(
    s: &AppState,
    req: &GraphRequest,
    p: &Principal,
    m: &User,
) -> Result<Response, GraphError> {
    if req.method != Method::GET {
        return Err(method_not_allowed());
    }
    check_calendar(p, m, false)?;
    let write = check_calendar(p, m, true).is_ok();
    Ok(Json(json!({
        "@odata.context": format!("{}/v1.0/$metadata#users('{}')/calendar/$entity", s.base_url, m.upn),
        "id": format!("AAMkCal{}", m.id.simple()),
        "name": "Calendar",
        "color": "auto",
        "isDefaultCalendar": true,
        "canShare": write,
        "canViewPrivateItems": write,
        "canEdit": write,
        "owner": {"name": m.display_name, "address": m.upn},
    }))
    .into_response())
}
