//! `calendarView` and `calendarView/delta`.
//!
//! Microsoft Graph: "List calendarView" (events overlapping
//! `startDateTime`..`endDateTime`, recurring series expanded into
//! occurrences, paged with `@odata.nextLink`), "event: delta" and "Get
//! incremental changes to events in a calendar view" (`$skiptoken` pages,
//! a final `@odata.deltaLink` with `$deltatoken`, deleted items as
//! `@removed`, `Prefer: odata.maxpagesize`), and "Use delta query" (an
//! expired token answers 410 Gone; start a full sync again).

use std::collections::BTreeSet;

use axum::Json;
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use http::{HeaderValue, Method, StatusCode};
use serde_json::{Value, json};

use super::auth::{Principal, check_calendar};
use super::errors::GraphError;
use super::events::{output_zone, render};
use super::recurrence::expand;
use super::{GraphRequest, method_not_allowed, prefer};
use crate::AppState;
use crate::state::{DeltaPages, DeltaState, Event, User, World, random_token};
use crate::timezones;

/// Graph's default page size for Outlook collections.
const DEFAULT_PAGE: usize = 10;

fn window_error() -> GraphError {
    GraphError::bad_request(
        "ErrorInvalidParameter",
        "This request requires a time window specified by the query string parameters StartDateTime and EndDateTime.",
    )
}

/// Parse `startDateTime`/`endDateTime` (ISO 8601; without offset = UTC).
fn window(req: &GraphRequest) -> Result<(DateTime<Utc>, DateTime<Utc>), GraphError> {
    let get = |k: &str| {
        req.query
            .iter()
            .find(|(q, _)| q.eq_ignore_ascii_case(k))
            .map(|(_, v)| v.clone())
    };
    let parse = |v: String| -> Result<DateTime<Utc>, GraphError> {
        if let Ok(t) = DateTime::parse_from_rfc3339(&v) {
            return Ok(t.with_timezone(&Utc));
        }
        timezones::parse_naive(&v)
            .map(|n| n.and_utc())
            .ok_or_else(window_error)
    };
    let start = parse(get("startDateTime").ok_or_else(window_error)?)?;
    let end = parse(get("endDateTime").ok_or_else(window_error)?)?;
    Ok((start, end))
}

/// Occurrence ids: the series id plus the occurrence's start.
fn occurrence_id(master: &str, start: DateTime<Utc>) -> String {
    format!("{master}OCC{}", start.format("%Y%m%dT%H%M%SZ"))
}

/// What an event contributes to a window: (id, start, end, occurrence?).
fn instances(
    ev: &Event,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> Vec<(String, DateTime<Utc>, DateTime<Utc>, bool)> {
    instances_of(
        &ev.id,
        ev.start,
        ev.end,
        &ev.original_start_tz,
        ev.recurrence.as_ref(),
        from,
        to,
    )
}

fn instances_of(
    id: &str,
    start: DateTime<Utc>,
    end: DateTime<Utc>,
    zone: &str,
    recurrence: Option<&Value>,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> Vec<(String, DateTime<Utc>, DateTime<Utc>, bool)> {
    match recurrence {
        Some(r) => expand(start, end, zone, r, from, to)
            .into_iter()
            .map(|o| (occurrence_id(id, o.start), o.start, o.end, true))
            .collect(),
        None if start < to && end > from => vec![(id.to_string(), start, end, false)],
        None => vec![],
    }
}

/// Render the instances of one event in a window.
fn render_instances(
    ev: &Event,
    owner: &User,
    zone: &str,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> Vec<Value> {
    instances(ev, from, to)
        .into_iter()
        .map(|(id, s, e, occ)| {
            let mut v = render(ev, owner, zone);
            if occ {
                v["id"] = json!(id);
                v["type"] = json!("occurrence");
                v["seriesMasterId"] = json!(ev.id);
                v["recurrence"] = Value::Null;
                v["start"] = json!({"dateTime": timezones::format_in(s, zone), "timeZone": zone});
                v["end"] = json!({"dateTime": timezones::format_in(e, zone), "timeZone": zone});
            }
            v
        })
        .collect()
}

/// Everything in a mailbox's calendar overlapping the window, by start.
pub fn view_items<'a>(
    events: impl IntoIterator<Item = &'a Event>,
    owner: &User,
    zone: &str,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> Vec<Value> {
    let mut items: Vec<Value> = events
        .into_iter()
        .flat_map(|e| render_instances(e, owner, zone, from, to))
        .collect();
    items.sort_by_key(|v| v["start"]["dateTime"].as_str().unwrap_or("").to_string());
    items
}

fn page_size(req: &GraphRequest, default: usize) -> (usize, bool) {
    let top = req.query.get("$top").and_then(|t| t.parse::<usize>().ok());
    let max = prefer(&req.headers, "odata.maxpagesize").and_then(|m| m.parse::<usize>().ok());
    match (top, max) {
        (Some(t), _) => (t.max(1), false),
        (None, Some(m)) => (m.max(1), true),
        (None, None) => (default, false),
    }
}

fn link(s: &AppState, req: &GraphRequest, params: &[(&str, String)]) -> String {
    let q = params
        .iter()
        .map(|(k, v)| format!("{k}={}", urlencoding::encode(v)))
        .collect::<Vec<_>>()
        .join("&");
    format!("{}/v1.0{}?{q}", s.base_url, req.path)
}

/// A `$top`/`$skip` page of a collection, with `@odata.nextLink`.
pub fn page_of(s: &AppState, req: &GraphRequest, items: Vec<Value>, what: &str) -> Response {
    let (size, from_prefer) = page_size(req, DEFAULT_PAGE);
    let skip = req
        .query
        .get("$skip")
        .and_then(|t| t.parse::<usize>().ok())
        .unwrap_or(0);
    let total = items.len();
    let page: Vec<Value> = items.into_iter().skip(skip).take(size).collect();
    let mut body = json!({
        "@odata.context": format!("{}/v1.0/$metadata#{what}", s.base_url),
        "value": page,
    });
    if skip + size < total {
        let mut params: Vec<(&str, String)> = req
            .query
            .iter()
            .filter(|(k, _)| k.as_str() != "$skip")
            .map(|(k, v)| (k.as_str(), v.clone()))
            .collect();
        params.sort();
        params.push(("$skip", (skip + size).to_string()));
        body["@odata.nextLink"] = json!(link(s, req, &params));
    }
    let mut resp = Json(body).into_response();
    if from_prefer {
        resp.headers_mut().insert(
            "preference-applied",
            HeaderValue::from_str(&format!("odata.maxpagesize={size}")).expect("header"),
        );
    }
    resp
}

/// `GET /…/calendarView?startDateTime=…&endDateTime=…`
pub fn view(
    s: &AppState,
    req: &GraphRequest,
    p: &Principal,
    m: &User,
) -> Result<Response, GraphError> {
    if req.method != Method::GET {
        return Err(method_not_allowed());
    }
    check_calendar(p, m, false)?;
    let (from, to) = window(req)?;
    let zone = output_zone(req)?;
    let events = s.world.lock().mailbox_events_owned(m.id);
    let items = view_items(&events, m, &zone, from, to);
    let items = super::query::apply(req, items)?;
    Ok(page_of(s, req, items, "Collection(event)"))
}

/// `GET /…/calendarView/delta`
pub fn delta(
    s: &AppState,
    req: &GraphRequest,
    p: &Principal,
    m: &User,
) -> Result<Response, GraphError> {
    if req.method != Method::GET {
        return Err(method_not_allowed());
    }
    check_calendar(p, m, false)?;
    let zone = output_zone(req)?;
    let settings = s.settings();
    let now = s.clock.now();
    let (size, from_prefer) = page_size(req, settings.delta_page_size);
    let mut world = s.world.lock();
    let gone = || {
        GraphError::new(
            StatusCode::GONE,
            "syncStateNotFound",
            "The sync state generation is not found or has expired. Start a new full synchronization.",
        )
    };
    let pages = if let Some(skip) = req.query.get("$skiptoken") {
        world.skip_tokens.remove(skip).ok_or_else(gone)?
    } else if let Some(token) = req.query.get("$deltatoken") {
        let st = world.delta_tokens.get(token).cloned().ok_or_else(gone)?;
        if st.mailbox != m.id {
            return Err(gone());
        }
        if now - st.issued_at > chrono::Duration::seconds(settings.delta_token_ttl_secs) {
            world.delta_tokens.remove(token);
            return Err(gone());
        }
        let items = changes_since(&world, m, &zone, &st);
        next_round(&world, items, st, now)
    } else {
        let (from, to) = window(req)?;
        let items = view_items(world.mailbox_events(m.id), m, &zone, from, to);
        let st = DeltaState {
            mailbox: m.id,
            window_start: from,
            window_end: to,
            seq: 0,
            issued_at: now,
        };
        next_round(&world, items, st, now)
    };
    let body = delta_page(s, req, &mut world, pages, size, now);
    let mut resp = Json(body).into_response();
    if from_prefer {
        resp.headers_mut().insert(
            "preference-applied",
            HeaderValue::from_str(&format!("odata.maxpagesize={size}")).expect("header"),
        );
    }
    Ok(resp)
}

/// The pages of a round; the round ends at the current change number.
fn next_round(world: &World, items: Vec<Value>, st: DeltaState, now: DateTime<Utc>) -> DeltaPages {
    DeltaPages {
        remaining: items,
        next: DeltaState {
            seq: world.seq,
            issued_at: now,
            ..st
        },
        issued_at: now,
    }
}

fn delta_page(
    s: &AppState,
    req: &GraphRequest,
    world: &mut World,
    mut pages: DeltaPages,
    size: usize,
    now: DateTime<Utc>,
) -> Value {
    let rest = if pages.remaining.len() > size {
        pages.remaining.split_off(size)
    } else {
        vec![]
    };
    let page = std::mem::take(&mut pages.remaining);
    let mut body = json!({
        "@odata.context": format!("{}/v1.0/$metadata#Collection(event)", s.base_url),
        "value": page,
    });
    if rest.is_empty() {
        let token = random_token(32);
        let mut st = pages.next;
        st.issued_at = now;
        world.delta_tokens.insert(token.clone(), st);
        body["@odata.deltaLink"] = json!(link(s, req, &[("$deltatoken", token)]));
    } else {
        let token = random_token(32);
        world.skip_tokens.insert(
            token.clone(),
            DeltaPages {
                remaining: rest,
                ..pages
            },
        );
        body["@odata.nextLink"] = json!(link(s, req, &[("$skiptoken", token)]));
    }
    body
}

fn removed(id: &str) -> Value {
    json!({"@odata.type": "#microsoft.graph.event", "id": id, "@removed": {"reason": "deleted"}})
}

/// What changed in the window since `st`: new or changed instances in
/// full, instances that left the window (moved, deleted) as `@removed`.
fn changes_since(world: &World, m: &User, zone: &str, st: &DeltaState) -> Vec<Value> {
    let (from, to) = (st.window_start, st.window_end);
    let mut out = Vec::new();
    for ev in world
        .mailbox_events(m.id)
        .into_iter()
        .filter(|e| e.seq > st.seq)
    {
        let now_items = render_instances(ev, m, zone, from, to);
        let now_ids: BTreeSet<String> = now_items
            .iter()
            .filter_map(|v| v["id"].as_str().map(str::to_string))
            .collect();
        out.extend(now_items);
        if let (Some(ps), Some(pe)) = (ev.prev_start, ev.prev_end) {
            let before = instances_of(
                &ev.id,
                ps,
                pe,
                &ev.original_start_tz,
                ev.prev_recurrence.as_ref(),
                from,
                to,
            );
            out.extend(
                before
                    .into_iter()
                    .filter(|(id, ..)| !now_ids.contains(id))
                    .map(|(id, ..)| removed(&id)),
            );
        }
    }
    for t in world
        .tombstones
        .iter()
        .filter(|t| t.seq > st.seq && t.event.mailbox == m.id)
    {
        out.extend(
            instances(&t.event, from, to)
                .into_iter()
                .map(|(id, ..)| removed(&id)),
        );
    }
    out
}
