//! Microsoft Graph v1.0, the calendar subset: `/me`, `/users/{id}`,
//! events, calendarView (+ delta), getSchedule, rooms and `$batch`.
//!
//! Every request goes through [`run`]: authenticate, route, find the
//! mailbox, then the throttling and fault checks (Retry-After gates,
//! injected faults, the per-mailbox concurrency limit), then the handler.
//! `$batch` feeds each sub-request through the same pipeline, so each one
//! counts against the mailbox limit as on Graph.

pub mod auth;
pub mod batch;
pub mod calendar_view;
pub mod errors;
pub mod events;
pub mod places;
pub mod profile;
pub mod query;
pub mod recurrence;
pub mod schedule;
pub mod subscriptions;

use std::collections::HashMap;

use axum::Router;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use http::{HeaderMap, Method, StatusCode};
use serde_json::Value;

use crate::AppState;
use crate::control::LogEntry;
use crate::faults::{FaultKind, Faults, Target};
use crate::server::DropConnection;
use auth::Principal;
use errors::{Ctx, GraphError};

pub fn routes() -> Router<AppState> {
    Router::new().route("/v1.0/{*rest}", axum::routing::any(entry))
}

/// One Graph request, from the wire or from a `$batch`.
#[derive(Debug, Clone)]
pub struct GraphRequest {
    pub method: Method,
    /// The path after `/v1.0`, starting with `/`.
    pub path: String,
    pub query: HashMap<String, String>,
    pub raw_query: String,
    pub headers: HeaderMap,
    pub body: Bytes,
}

impl GraphRequest {
    pub fn json_body(&self) -> Result<Value, GraphError> {
        serde_json::from_slice(&self.body).map_err(|e| {
            GraphError::bad_request("RequestBodyRead", format!("Invalid JSON body: {e}"))
        })
    }

    pub fn is_write(&self) -> bool {
        self.method != Method::GET
    }

    /// Identifies a request (method, path, query, body) so that the same
    /// request sent again is recognised, e.g. as an early retry.
    pub fn signature(&self) -> u64 {
        use std::hash::{Hash, Hasher};
        let mut h = std::collections::hash_map::DefaultHasher::new();
        self.method.as_str().hash(&mut h);
        self.path.to_lowercase().hash(&mut h);
        self.raw_query.hash(&mut h);
        self.body.hash(&mut h);
        h.finish()
    }
}

async fn entry(State(s): State<AppState>, req: Request) -> Response {
    let (parts, body) = req.into_parts();
    let Ok(body) = axum::body::to_bytes(body, 4 * 1024 * 1024).await else {
        return StatusCode::PAYLOAD_TOO_LARGE.into_response();
    };
    let path = parts
        .uri
        .path()
        .strip_prefix("/v1.0")
        .unwrap_or("/")
        .to_string();
    let raw_query = parts.uri.query().unwrap_or("").to_string();
    let req = GraphRequest {
        method: parts.method,
        query: serde_urlencoded::from_str(&raw_query).unwrap_or_default(),
        raw_query,
        path,
        headers: parts.headers,
        body,
    };
    if req.path.eq_ignore_ascii_case("/$batch") {
        return batch::handle(s, req).await;
    }
    run(s, req, false).await
}

/// The resource a path names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Resource {
    Profile,
    Events,
    Event(String),
    CalendarView,
    CalendarViewDelta,
    GetSchedule,
    Calendar,
    Rooms,
    Subscriptions,
    Subscription(String),
    SubscriptionReauthorize(String),
}

impl Resource {
    fn is_subscription(&self) -> bool {
        matches!(
            self,
            Self::Subscriptions | Self::Subscription(_) | Self::SubscriptionReauthorize(_)
        )
    }
}

#[derive(Debug, Clone)]
pub struct Route {
    /// `None`: no mailbox (rooms); `Some(None)`: /me; `Some(Some(k))`: /users/{k}.
    pub mailbox: Option<Option<String>>,
    pub resource: Resource,
}

pub fn parse_route(path: &str) -> Result<Route, GraphError> {
    let segs: Vec<String> = path
        .split('/')
        .filter(|s| !s.is_empty())
        .map(|s| {
            urlencoding::decode(s)
                .map(|c| c.into_owned())
                .unwrap_or(s.to_string())
        })
        .collect();
    let unknown = || {
        GraphError::bad_request(
            "BadRequest",
            format!(
                "Resource not found for the segment '{}'.",
                segs.last().cloned().unwrap_or_default()
            ),
        )
    };
    let seg = |i: usize| segs.get(i).map(|s| s.to_ascii_lowercase());
    if seg(0).as_deref() == Some("subscriptions") {
        let resource = match (segs.len(), seg(2).as_deref()) {
            (1, _) => Resource::Subscriptions,
            (2, _) => Resource::Subscription(segs[1].clone()),
            (3, Some("reauthorize")) => Resource::SubscriptionReauthorize(segs[1].clone()),
            _ => return Err(unknown()),
        };
        return Ok(Route {
            mailbox: None,
            resource,
        });
    }
    let (mailbox, rest) = match seg(0).as_deref() {
        Some("me") => (Some(None), &segs[1..]),
        Some("users") if segs.len() >= 2 => (Some(Some(segs[1].clone())), &segs[2..]),
        Some("places") if seg(1).as_deref() == Some("microsoft.graph.room") && segs.len() == 2 => {
            return Ok(Route {
                mailbox: None,
                resource: Resource::Rooms,
            });
        }
        _ => return Err(unknown()),
    };
    let mut rest: Vec<String> = rest.to_vec();
    // `/calendar/events` and `/events` are the same collection (the
    // primary calendar); likewise calendarView.
    if rest
        .first()
        .is_some_and(|s| s.eq_ignore_ascii_case("calendar"))
        && rest.len() > 1
    {
        rest.remove(0);
    }
    let lower: Vec<String> = rest.iter().map(|s| s.to_ascii_lowercase()).collect();
    let lower: Vec<&str> = lower.iter().map(String::as_str).collect();
    let resource = match lower.as_slice() {
        [] => Resource::Profile,
        ["calendar"] => Resource::Calendar,
        ["events"] => Resource::Events,
        ["events", _] => Resource::Event(rest[1].clone()),
        ["calendarview"] => Resource::CalendarView,
        ["calendarview", "delta"] | ["calendarview", "microsoft.graph.delta"] => {
            Resource::CalendarViewDelta
        }
        ["getschedule"] => Resource::GetSchedule,
        _ => return Err(unknown()),
    };
    Ok(Route { mailbox, resource })
}

/// The full pipeline for one request.
pub async fn run(s: AppState, req: GraphRequest, in_batch: bool) -> Response {
    let arrived = tokio::time::Instant::now();
    let ctx = Ctx::new(&req.headers, s.clock.now());
    let mut entry = LogEntry::new(
        &ctx,
        &req.method,
        &format!("/v1.0{}", req.path),
        &req.raw_query,
    );
    entry.batch = in_batch;
    let resp = pipeline(&s, &req, &ctx, &mut entry, arrived).await;
    entry.status = resp.status().as_u16();
    if resp.extensions().get::<DropConnection>().is_some() {
        entry.status = 0;
    }
    s.log_request(entry);
    resp
}

async fn pipeline(
    s: &AppState,
    req: &GraphRequest,
    ctx: &Ctx,
    log: &mut LogEntry,
    arrived: tokio::time::Instant,
) -> Response {
    let now = ctx.now;
    let prepared = {
        let world = s.world.lock();
        prepare(&world, req, now)
    };
    let (principal, route, mailbox) = match prepared {
        Ok(v) => v,
        Err(e) => return e.render(ctx),
    };
    log.client_id = Some(principal.client_id.to_string());
    log.mailbox = mailbox.as_ref().map(|m| m.upn.clone());
    let key = format!(
        "{}:{}",
        principal.client_id,
        mailbox
            .as_ref()
            .map(|m| m.id.to_string())
            .unwrap_or_default()
    );
    let signature = req.signature();
    if let Some(wait) = s.faults.early_retry(&key, signature, now) {
        log.fault = Some("early_retry".into());
        return GraphError::throttled("TooManyRequests", "Please retry again later.", wait)
            .render(ctx);
    }
    if let Some(m) = &mailbox {
        let settings = s.settings();
        if let Some(wait) = s.faults.count_request(
            (principal.client_id, m.id),
            now,
            settings.mailbox_request_limit,
            chrono::Duration::seconds(settings.mailbox_request_window_secs),
        ) {
            log.fault = Some("MailboxRequests".into());
            s.faults.throttled(&key, signature, now, wait);
            return GraphError::throttled(
                "ApplicationThrottled",
                "Application is over its MailboxRequests limit.",
                wait,
            )
            .render(ctx);
        }
    }
    let fault = s.faults.draw(Target::Graph, req.is_write());
    if let Some(k) = fault
        && !k.after_write()
    {
        log.fault = Some(format!("{k:?}"));
        return injected(s, k, &key, signature, ctx).await;
    }
    let settings = s.settings();
    let _slot = match &mailbox {
        Some(m) => match Faults::acquire(
            s,
            (principal.client_id, m.id),
            settings.mailbox_concurrency_limit,
        ) {
            Some(g) => Some(g),
            None => {
                log.fault = Some("MailboxConcurrency".into());
                let secs = settings.concurrency_retry_after_secs;
                s.faults.count_throttled(&key, signature, now, secs);
                return GraphError::throttled(
                    "ApplicationThrottled",
                    "Application is over its MailboxConcurrency limit.",
                    secs,
                )
                .render(ctx);
            }
        },
        None => None,
    };
    let latency = s.faults.latency(Target::Graph);
    if !latency.is_zero() {
        // Counted from the request's arrival, not from here: the latency
        // setting is what a request costs in all, so the checks above are
        // part of it (benchmarks compare against exactly that figure),
        // and kept to the fraction of a millisecond (`crate::latency`).
        crate::latency::sleep_until(arrived + latency).await;
    }
    let resp = if route.resource.is_subscription() {
        match subscriptions::handle(s, req, &principal, &route.resource).await {
            Ok(r) => ctx.stamp(r),
            Err(e) => e.render(ctx),
        }
    } else {
        dispatch(s, req, ctx, &principal, &route, mailbox.as_ref())
    };
    if req.is_write() {
        s.kick_outbox();
    }
    match fault {
        Some(k) if resp.status().is_success() => {
            log.fault = Some(format!("{k:?}"));
            match k {
                FaultKind::LostAnswerDrop => dropped(),
                _ => GraphError::new(
                    StatusCode::GATEWAY_TIMEOUT,
                    "GatewayTimeout",
                    "Gateway Timeout",
                )
                .render(ctx),
            }
        }
        _ => resp,
    }
}

type Prepared = (Principal, Route, Option<crate::state::User>);

fn prepare(
    world: &crate::state::World,
    req: &GraphRequest,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<Prepared, GraphError> {
    let principal = auth::authenticate(world, &req.headers, now)?;
    let route = parse_route(&req.path)?;
    let mailbox = match &route.mailbox {
        Some(key) => Some(auth::resolve_mailbox(world, &principal, key.as_deref()).map_err(|e| {
            if route.resource == Resource::Profile && e.code == "ErrorInvalidUser" {
                GraphError::new(
                    StatusCode::NOT_FOUND,
                    "Request_ResourceNotFound",
                    format!("Resource '{}' does not exist or one of its queried reference-property objects are not present.", key.clone().unwrap_or_default()),
                )
            } else {
                e
            }
        })?),
        None => None,
    };
    Ok((principal, route, mailbox))
}

/// A fault decided before the handler runs.
async fn injected(s: &AppState, k: FaultKind, key: &str, request: u64, ctx: &Ctx) -> Response {
    let ra = s.faults.retry_after();
    match k {
        FaultKind::TooManyRequests => {
            s.faults.throttled(key, request, ctx.now, ra);
            GraphError::throttled("TooManyRequests", "Please retry again later.", ra).render(ctx)
        }
        FaultKind::MailboxConcurrency => {
            let secs = s.settings().concurrency_retry_after_secs;
            s.faults.count_throttled(key, request, ctx.now, secs);
            GraphError::throttled(
                "ApplicationThrottled",
                "Application is over its MailboxConcurrency limit.",
                secs,
            )
            .render(ctx)
        }
        FaultKind::ServiceUnavailable => {
            s.faults.advised(key, request, ctx.now, ra);
            GraphError {
                retry_after: Some(ra),
                ..GraphError::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "ServiceNotAvailable",
                    "Service Unavailable",
                )
            }
            .render(ctx)
        }
        FaultKind::GatewayTimeout => GraphError::new(
            StatusCode::GATEWAY_TIMEOUT,
            "GatewayTimeout",
            "Gateway Timeout",
        )
        .render(ctx),
        FaultKind::Timeout => {
            tokio::time::sleep(s.faults.timeout()).await;
            dropped()
        }
        _ => dropped(),
    }
}

pub fn dropped() -> Response {
    let mut r = Response::new(Body::empty());
    *r.status_mut() = StatusCode::GATEWAY_TIMEOUT;
    r.extensions_mut().insert(DropConnection);
    r
}

fn dispatch(
    s: &AppState,
    req: &GraphRequest,
    ctx: &Ctx,
    p: &Principal,
    route: &Route,
    mailbox: Option<&crate::state::User>,
) -> Response {
    let result = match (&route.resource, mailbox) {
        (Resource::Rooms, _) => places::rooms(s, req, p),
        (Resource::Profile, Some(m)) => profile::get(s, req, p, m, route.mailbox == Some(None)),
        (Resource::Calendar, Some(m)) => profile::calendar(s, req, p, m),
        (Resource::Events, Some(m)) => events::collection(s, req, p, m),
        (Resource::Event(id), Some(m)) => events::item(s, req, p, m, id),
        (Resource::CalendarView, Some(m)) => calendar_view::view(s, req, p, m),
        (Resource::CalendarViewDelta, Some(m)) => calendar_view::delta(s, req, p, m),
        (Resource::GetSchedule, Some(m)) => schedule::get_schedule(s, req, p, m),
        _ => Err(GraphError::bad_request(
            "BadRequest",
            "Unsupported request.",
        )),
    };
    match result {
        Ok(r) => ctx.stamp(r),
        Err(e) => e.render(ctx),
    }
}

/// 405 for a method a resource does not support.
pub fn method_not_allowed() -> GraphError {
    GraphError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "Request_BadRequest",
        "The specified HTTP method is not allowed for the request target.",
    )
}

/// `Prefer` header values, e.g. `odata.maxpagesize=5`, `outlook.timezone="X"`.
pub fn prefer(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all("prefer")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| k.trim().eq_ignore_ascii_case(name))
        .map(|(_, v)| v.trim().trim_matches('"').to_string())
}
