//! Events: create (with `transactionId` idempotency), get, list, update,
//! delete. Microsoft Graph: "Create event", "Get event", "Update event",
//! "Delete event" and the "event resource type".
//!
//! The same functions serve the control API's "edit in Outlook" routes, so
//! a person's change and an app's change look alike to delta.

use axum::Json;
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use http::{Method, StatusCode};
use serde_json::{Map, Value, json};

use super::auth::{Principal, check_calendar};
use super::errors::GraphError;
use super::{GraphRequest, method_not_allowed, prefer};
use crate::AppState;
use crate::state::{Event, User, World, new_event_id, random_token};
use crate::timezones;

const SHOW_AS: [&str; 6] = [
    "free",
    "tentative",
    "busy",
    "oof",
    "workingElsewhere",
    "unknown",
];

/// Properties a client may write (event resource type, writable ones).
const WRITABLE: [&str; 18] = [
    "subject",
    "body",
    "start",
    "end",
    "location",
    "locations",
    "attendees",
    "showAs",
    "isAllDay",
    "transactionId",
    "categories",
    "recurrence",
    "isReminderOn",
    "reminderMinutesBeforeStart",
    "sensitivity",
    "importance",
    "isOnlineMeeting",
    "allowNewTimeProposals",
];

/// Read-only or harmless properties that are accepted and ignored.
const IGNORED: [&str; 21] = [
    "@odata.type",
    "@odata.etag",
    "id",
    "createdDateTime",
    "lastModifiedDateTime",
    "changeKey",
    "iCalUId",
    "organizer",
    "webLink",
    "type",
    "seriesMasterId",
    "bodyPreview",
    "originalStartTimeZone",
    "originalEndTimeZone",
    "responseStatus",
    "hasAttachments",
    "isOrganizer",
    "isDraft",
    "responseRequested",
    "hideAttendees",
    "onlineMeetingProvider",
];

/// Graph's timestamp format: `2024-05-01T10:00:00.1234567Z`.
pub fn ts(t: DateTime<Utc>) -> String {
    format!("{}Z", timezones::seven_digits(&t.naive_utc()))
}

/// The event resource as Graph returns it, times in `zone`.
pub fn render(ev: &Event, owner: &User, zone: &str) -> Value {
    let preview: String = ev.body.chars().take(255).collect();
    json!({
        "@odata.etag": format!("W/\"{}\"", ev.change_key),
        "id": ev.id,
        "createdDateTime": ts(ev.created_at),
        "lastModifiedDateTime": ts(ev.modified_at),
        "changeKey": ev.change_key,
        "categories": ev.categories,
        "transactionId": ev.transaction_id,
        "originalStartTimeZone": ev.original_start_tz,
        "originalEndTimeZone": ev.original_end_tz,
        "iCalUId": ev.ical_uid,
        "reminderMinutesBeforeStart": 15,
        "isReminderOn": true,
        "hasAttachments": false,
        "subject": ev.subject,
        "bodyPreview": preview,
        "importance": ev.importance,
        "sensitivity": ev.sensitivity,
        "isAllDay": ev.is_all_day,
        "isCancelled": ev.is_cancelled,
        "isOrganizer": true,
        "responseRequested": true,
        "seriesMasterId": null,
        "showAs": ev.show_as,
        "type": if ev.recurrence.is_some() { "seriesMaster" } else { "singleInstance" },
        "webLink": format!("https://outlook.office365.com/owa/?itemid={}&exvsurl=1&path=/calendar/item", urlencoding::encode(&ev.id)),
        "onlineMeetingUrl": null,
        "isOnlineMeeting": false,
        "allowNewTimeProposals": true,
        "isDraft": false,
        "hideAttendees": false,
        "responseStatus": {"response": "organizer", "time": "0001-01-01T00:00:00Z"},
        "body": {"contentType": ev.body_content_type, "content": ev.body},
        "start": {"dateTime": timezones::format_in(ev.start, zone), "timeZone": zone},
        "end": {"dateTime": timezones::format_in(ev.end, zone), "timeZone": zone},
        "location": {
            "displayName": ev.location.clone().unwrap_or_default(),
            "locationType": "default",
            "uniqueIdType": "unknown",
        },
        "locations": ev.location.iter().map(|l| json!({"displayName": l, "locationType": "default"})).collect::<Vec<_>>(),
        "recurrence": ev.recurrence,
        "attendees": ev.attendees,
        "organizer": {"emailAddress": {"name": owner.display_name, "address": owner.upn}},
    })
}

/// The zone to render times in: `Prefer: outlook.timezone` or UTC.
pub fn output_zone(req: &GraphRequest) -> Result<String, GraphError> {
    match prefer(&req.headers, "outlook.timezone") {
        Some(z) if timezones::resolve(&z).is_some() => Ok(z),
        Some(z) => Err(GraphError::bad_request(
            "TimeZoneNotSupportedException",
            timezones::unsupported(&z),
        )),
        None => Ok("UTC".into()),
    }
}

fn bad_body(msg: impl Into<String>) -> GraphError {
    GraphError::bad_request("RequestBodyRead", msg)
}

/// Read a `dateTimeTimeZone`.
fn date_time_tz(v: &Value, field: &str) -> Result<(DateTime<Utc>, String), GraphError> {
    let dt = v
        .get("dateTime")
        .and_then(Value::as_str)
        .ok_or_else(|| bad_body(format!("Property '{field}' must have a 'dateTime'.")))?;
    let zone = v
        .get("timeZone")
        .and_then(Value::as_str)
        .unwrap_or("UTC")
        .to_string();
    let t = timezones::to_utc(dt, &zone).map_err(|m| {
        if timezones::resolve(&zone).is_none() {
            GraphError::bad_request("TimeZoneNotSupportedException", m)
        } else {
            bad_body(m)
        }
    })?;
    Ok((t, zone))
}

fn string_field(obj: &Map<String, Value>, key: &str) -> Result<Option<String>, GraphError> {
    match obj.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(_) => Err(bad_body(format!(
            "Cannot convert a value to target type 'Edm.String' for property '{key}'."
        ))),
    }
}

/// Apply a JSON body to an event (all fields for create, given ones for PATCH).
fn apply(ev: &mut Event, body: &Value) -> Result<(), GraphError> {
    let obj = body
        .as_object()
        .ok_or_else(|| bad_body("The request body must be a JSON object."))?;
    for key in obj.keys() {
        if !WRITABLE.contains(&key.as_str()) && !IGNORED.contains(&key.as_str()) {
            return Err(bad_body(format!(
                "The property '{key}' does not exist on type 'microsoft.graph.event'. Make sure to only use property names that are defined by the type or mark the type as open type."
            )));
        }
    }
    if let Some(s) = string_field(obj, "subject")? {
        ev.subject = s;
    }
    if let Some(b) = obj.get("body").filter(|b| !b.is_null()) {
        ev.body_content_type = b
            .get("contentType")
            .and_then(Value::as_str)
            .unwrap_or("text")
            .to_string();
        ev.body = b
            .get("content")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string();
    }
    if let Some(v) = obj.get("start") {
        (ev.start, ev.original_start_tz) = date_time_tz(v, "start")?;
    }
    if let Some(v) = obj.get("end") {
        (ev.end, ev.original_end_tz) = date_time_tz(v, "end")?;
    }
    if let Some(l) = obj.get("location") {
        ev.location = l
            .get("displayName")
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
            .map(str::to_string);
    }
    if let Some(s) = string_field(obj, "showAs")? {
        if !SHOW_AS.contains(&s.as_str()) {
            return Err(bad_body(format!(
                "Cannot convert the literal '{s}' to the expected type 'microsoft.graph.freeBusyStatus'."
            )));
        }
        ev.show_as = s;
    }
    if let Some(v) = obj.get("isAllDay") {
        ev.is_all_day = v.as_bool().unwrap_or(false);
    }
    if let Some(a) = obj.get("attendees") {
        ev.attendees = a.clone();
    }
    if let Some(c) = obj.get("categories").and_then(Value::as_array) {
        ev.categories = c
            .iter()
            .filter_map(|x| x.as_str().map(str::to_string))
            .collect();
    }
    if let Some(r) = obj.get("recurrence") {
        ev.recurrence = (!r.is_null()).then(|| r.clone());
    }
    if let Some(s) = string_field(obj, "sensitivity")? {
        ev.sensitivity = s;
    }
    if let Some(s) = string_field(obj, "importance")? {
        ev.importance = s;
    }
    if ev.end < ev.start {
        return Err(GraphError::bad_request(
            "ErrorInvalidRequest",
            "The end time of the event must be later than its start time.",
        ));
    }
    Ok(())
}

/// Create an event in `mailbox`. A `transactionId` already used in this
/// mailbox returns the existing event instead of a duplicate (Graph:
/// "transactionId ... to avoid redundant POST operations in case of client
/// retries"). Returns (created?, event).
pub fn create_event(
    world: &mut World,
    now: DateTime<Utc>,
    mailbox: &User,
    body: &Value,
    created_by: &str,
) -> Result<(bool, Event), GraphError> {
    let txn = body.get("transactionId").and_then(Value::as_str);
    if let Some(txn) = txn
        && let Some(existing) = world
            .events
            .values()
            .find(|e| e.mailbox == mailbox.id && e.transaction_id.as_deref() == Some(txn))
    {
        return Ok((false, existing.clone()));
    }
    if body.get("start").is_none() || body.get("end").is_none() {
        return Err(GraphError::bad_request(
            "ErrorInvalidRequest",
            "Your request can't be completed. The event must have a start and an end.",
        ));
    }
    let mut ev = Event {
        id: new_event_id(),
        mailbox: mailbox.id,
        subject: String::new(),
        body_content_type: "text".into(),
        body: String::new(),
        start: now,
        end: now,
        original_start_tz: "UTC".into(),
        original_end_tz: "UTC".into(),
        is_all_day: false,
        show_as: "busy".into(),
        location: None,
        attendees: Value::Array(vec![]),
        categories: vec![],
        transaction_id: txn.map(str::to_string),
        created_at: now,
        modified_at: now,
        change_key: random_token(12),
        ical_uid: format!("040000008200E00074C5B7101A82E008{}", hex_id()),
        seq: 0,
        recurrence: None,
        is_cancelled: false,
        sensitivity: "normal".into(),
        importance: "normal".into(),
        created_by: created_by.to_string(),
        prev_start: None,
        prev_end: None,
        prev_recurrence: None,
    };
    apply(&mut ev, body)?;
    ev.seq = world.next_seq();
    world.events.insert(ev.id.clone(), ev.clone());
    super::subscriptions::changed(world, now, &ev, "created");
    Ok((true, ev))
}

fn hex_id() -> String {
    uuid::Uuid::new_v4().simple().to_string().to_uppercase()
}

pub fn find<'w>(world: &'w World, mailbox: &User, id: &str) -> Result<&'w Event, GraphError> {
    world
        .events
        .get(id)
        .filter(|e| e.mailbox == mailbox.id)
        .ok_or_else(GraphError::not_found)
}

pub fn update_event(
    world: &mut World,
    now: DateTime<Utc>,
    mailbox: &User,
    id: &str,
    body: &Value,
) -> Result<Event, GraphError> {
    let mut ev = find(world, mailbox, id)?.clone();
    let old = ev.clone();
    apply(&mut ev, body)?;
    ev.prev_start = Some(old.start);
    ev.prev_end = Some(old.end);
    ev.prev_recurrence = old.recurrence;
    ev.modified_at = now;
    ev.change_key = random_token(12);
    ev.seq = world.next_seq();
    world.events.insert(ev.id.clone(), ev.clone());
    super::subscriptions::changed(world, now, &ev, "updated");
    Ok(ev)
}

pub fn delete_event(
    world: &mut World,
    now: DateTime<Utc>,
    mailbox: &User,
    id: &str,
) -> Result<(), GraphError> {
    let ev = find(world, mailbox, id)?.clone();
    world.events.remove(id);
    super::subscriptions::changed(world, now, &ev, "deleted");
    let seq = world.next_seq();
    world
        .tombstones
        .push(crate::state::Tombstone { seq, event: ev });
    Ok(())
}

/// `/…/events`: list (GET) or create (POST).
pub fn collection(
    s: &AppState,
    req: &GraphRequest,
    p: &Principal,
    m: &User,
) -> Result<Response, GraphError> {
    let zone = output_zone(req)?;
    match req.method {
        Method::GET => {
            check_calendar(p, m, false)?;
            let events = s.world.lock().mailbox_events_owned(m.id);
            let items: Vec<Value> = events.iter().map(|e| render(e, m, &zone)).collect();
            let items = super::query::apply(req, items)?;
            Ok(super::calendar_view::page_of(s, req, items, "events"))
        }
        Method::POST => {
            check_calendar(p, m, true)?;
            let body = req.json_body()?;
            let mut world = s.world.lock();
            let now = s.clock.now();
            let (_, ev) =
                create_event(&mut world, now, m, &body, &format!("graph:{}", p.client_id))?;
            let mut v = render(&ev, m, &zone);
            v["@odata.context"] = json!(format!(
                "{}/v1.0/$metadata#users('{}')/events/$entity",
                s.base_url, m.upn
            ));
            Ok((StatusCode::CREATED, Json(v)).into_response())
        }
        _ => Err(method_not_allowed()),
    }
}

/// `/…/events/{id}`: GET, PATCH, DELETE.
pub fn item(
    s: &AppState,
    req: &GraphRequest,
    p: &Principal,
    m: &User,
    id: &str,
) -> Result<Response, GraphError> {
    let zone = output_zone(req)?;
    let write = req.method != Method::GET;
    check_calendar(p, m, write)?;
    let mut world = s.world.lock();
    let now = s.clock.now();
    match req.method {
        Method::GET => {
            let ev = find(&world, m, id)?;
            let v = super::query::select_one(req, render(ev, m, &zone))?;
            Ok(Json(v).into_response())
        }
        Method::PATCH => {
            let body = req.json_body()?;
            let ev = update_event(&mut world, now, m, id, &body)?;
            Ok(Json(render(&ev, m, &zone)).into_response())
        }
        Method::DELETE => {
            delete_event(&mut world, now, m, id)?;
            Ok(StatusCode::NO_CONTENT.into_response())
        }
        _ => Err(method_not_allowed()),
    }
}
