//! `POST /…/calendar/getSchedule`. Microsoft Graph: "calendar:
//! getSchedule": free/busy of users and rooms in the caller's organisation
//! as `availabilityView` digits (0 free, 1 tentative, 2 busy, 3 oof,
//! 4 working elsewhere) per `availabilityViewInterval` minutes.

use axum::Json;
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Duration, Utc};
use http::Method;
use serde_json::{Value, json};

use super::auth::Principal;
use super::errors::GraphError;
use super::recurrence::expand;
use super::{GraphRequest, method_not_allowed};
use crate::AppState;
use crate::state::{AccountKind, Event, User};
use crate::timezones;

fn digit(show_as: &str) -> u8 {
    match show_as {
        "tentative" => 1,
        "busy" => 2,
        "oof" => 3,
        "workingElsewhere" => 4,
        _ => 0,
    }
}

/// Which status wins when events overlap a slot.
fn rank(d: u8) -> u8 {
    match d {
        3 => 4,
        2 => 3,
        1 => 2,
        4 => 1,
        _ => 0,
    }
}

fn spans(e: &Event, from: DateTime<Utc>, to: DateTime<Utc>) -> Vec<(DateTime<Utc>, DateTime<Utc>)> {
    match &e.recurrence {
        Some(r) => expand(e.start, e.end, &e.original_start_tz, r, from, to)
            .into_iter()
            .map(|o| (o.start, o.end))
            .collect(),
        None if e.start < to && e.end > from => vec![(e.start, e.end)],
        None => vec![],
    }
}

pub fn get_schedule(
    s: &AppState,
    req: &GraphRequest,
    p: &Principal,
    _m: &User,
) -> Result<Response, GraphError> {
    if req.method != Method::POST {
        return Err(method_not_allowed());
    }
    if !p.has_any(&[
        "Calendars.Read",
        "Calendars.ReadWrite",
        "Calendars.ReadBasic",
        "Calendars.Read.Shared",
        "Calendars.ReadWrite.Shared",
    ]) {
        return Err(GraphError::access_denied());
    }
    let body = req.json_body()?;
    let bad = |m: &str| GraphError::bad_request("ErrorInvalidRequest", m.to_string());
    let schedules: Vec<String> = body["schedules"]
        .as_array()
        .ok_or_else(|| bad("schedules is required."))?
        .iter()
        .filter_map(|v| v.as_str().map(str::to_string))
        .collect();
    let zone = body["startTime"]["timeZone"]
        .as_str()
        .unwrap_or("UTC")
        .to_string();
    let parse = |v: &Value| -> Result<DateTime<Utc>, GraphError> {
        let dt = v["dateTime"]
            .as_str()
            .ok_or_else(|| bad("startTime and endTime are required."))?;
        timezones::to_utc(dt, v["timeZone"].as_str().unwrap_or("UTC"))
            .map_err(|m| GraphError::bad_request("TimeZoneNotSupportedException", m))
    };
    let from = parse(&body["startTime"])?;
    let to = parse(&body["endTime"])?;
    let interval = body["availabilityViewInterval"]
        .as_i64()
        .unwrap_or(30)
        .clamp(5, 1440);
    let world = s.world.lock();
    let value: Vec<Value> =
        schedules
            .iter()
            .map(|addr| {
                let Some(u) = world
                    .user_by_upn(addr)
                    .filter(|u| u.tenant_id == p.tenant() && u.kind != AccountKind::Personal)
                else {
                    return json!({"scheduleId": addr, "availabilityView": "", "error": {
                    "message": format!("The specified user {addr} could not be found."),
                    "responseCode": "ErrorMailRecipientNotFound"}});
                };
                let items: Vec<(DateTime<Utc>, DateTime<Utc>, &Event)> = world
                    .mailbox_events(u.id)
                    .into_iter()
                    .filter(|e| !e.is_cancelled)
                    .flat_map(|e| spans(e, from, to).into_iter().map(move |(a, b)| (a, b, e)))
                    .collect();
                let mut view = String::new();
                let mut t = from;
                while t < to {
                    let end = t + Duration::minutes(interval);
                    let d = items
                        .iter()
                        .filter(|(a, b, _)| *a < end && *b > t)
                        .map(|(_, _, e)| digit(&e.show_as))
                        .max_by_key(|d| rank(*d))
                        .unwrap_or(0);
                    view.push(char::from(b'0' + d));
                    t = end;
                }
                let schedule_items: Vec<Value> = items
                .iter()
                .map(|(a, b, e)| json!({
                    "isPrivate": e.sensitivity == "private",
                    "status": e.show_as,
                    "subject": e.subject,
                    "location": e.location.clone().unwrap_or_default(),
                    "start": {"dateTime": timezones::format_in(*a, &zone), "timeZone": zone},
                    "end": {"dateTime": timezones::format_in(*b, &zone), "timeZone": zone},
                }))
                .collect();
                json!({
                    "scheduleId": u.upn,
                    "availabilityView": view,
                    "scheduleItems": schedule_items,
                    "workingHours": {
                        "daysOfWeek": ["monday", "tuesday", "wednesday", "thursday", "friday"],
                        "startTime": "08:00:00.0000000",
                        "endTime": "17:00:00.0000000",
                        "timeZone": {"name": "UTC"},
                    },
                })
            })
            .collect();
    Ok(Json(json!({
        "@odata.context": format!("{}/v1.0/$metadata#Collection(microsoft.graph.scheduleInformation)", s.base_url),
        "value": value,
    }))
    .into_response())
}
