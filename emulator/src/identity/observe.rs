//! A layer over the identity routes: logs each request as the Graph
//! pipeline does (no bodies, no secrets, no tokens), and injects the
//! faults configured for the `token` target into `/oauth2/v2.0/token`.

use std::collections::HashMap;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use base64::Engine;
use bytes::Bytes;
use http::{StatusCode, header};
use serde_json::Value;

use super::errors::AadError;
use crate::AppState;
use crate::control::LogEntry;
use crate::faults::{FaultKind, Target};
use crate::graph::dropped;
use crate::graph::errors::{Ctx, format_retry_after};

type Form = HashMap<String, String>;

pub async fn observe(State(s): State<AppState>, req: Request, next: Next) -> Response {
    let ctx = Ctx::new(req.headers(), s.clock.now());
    let path = req.uri().path().to_string();
    let query = req.uri().query().unwrap_or("").to_string();
    let mut entry = LogEntry::new(&ctx, req.method(), &path, &query);
    let q: Form = serde_urlencoded::from_str(&query).unwrap_or_default();
    entry.client_id = q.get("client_id").cloned();
    let is_token = path.ends_with("/oauth2/v2.0/token");
    let resp = if is_token {
        let (parts, body) = req.into_parts();
        let bytes = axum::body::to_bytes(body, 1024 * 1024)
            .await
            .unwrap_or_default();
        let form: Form = serde_urlencoded::from_bytes(&bytes).unwrap_or_default();
        entry.client_id = form
            .get("client_id")
            .cloned()
            .or_else(|| basic_client_id(&parts.headers));
        entry.grant_type = form.get("grant_type").cloned();
        let req = Request::from_parts(parts, Body::from(bytes));
        token_with_faults(&s, req, next, &ctx, &mut entry).await
    } else {
        next.run(req).await
    };
    let resp = note_outcome(resp, &mut entry).await;
    s.log_request(entry);
    resp
}

/// The client id of an HTTP Basic header (the secret is not looked at).
fn basic_client_id(headers: &http::HeaderMap) -> Option<String> {
    let b64 = headers
        .get(header::AUTHORIZATION)?
        .to_str()
        .ok()?
        .strip_prefix("Basic ")?;
    let raw = base64::engine::general_purpose::STANDARD
        .decode(b64.trim())
        .ok()?;
    let text = String::from_utf8(raw).ok()?;
    let id = text.split_once(':')?.0;
    urlencoding::decode(id).ok().map(|c| c.into_owned())
}

async fn token_with_faults(
    s: &AppState,
    req: Request,
    next: Next,
    ctx: &Ctx,
    entry: &mut LogEntry,
) -> Response {
    let fault = s.faults.draw(Target::Token, true);
    if let Some(k) = fault {
        entry.fault = Some(format!("{k:?}"));
        if !k.after_write() {
            return injected(s, k, ctx).await;
        }
    }
    let latency = s.faults.latency(Target::Token);
    if !latency.is_zero() {
        crate::latency::sleep_until(tokio::time::Instant::now() + latency).await;
    }
    let resp = next.run(req).await;
    match fault {
        // The grant was redeemed (a code is now used up, a refresh token
        // maybe rotated) but the app never hears of it.
        Some(FaultKind::LostAnswerDrop) if resp.status().is_success() => dropped(),
        Some(FaultKind::LostAnswer504) if resp.status().is_success() => gateway_timeout(),
        Some(_) => {
            entry.fault = None;
            resp
        }
        None => resp,
    }
}

fn gateway_timeout() -> Response {
    (StatusCode::GATEWAY_TIMEOUT, "Gateway Timeout").into_response()
}

/// A fault answered instead of the token endpoint. The bodies keep the
/// token endpoint's error shape; the codes are from "Microsoft Entra
/// authentication and authorization error codes".
async fn injected(s: &AppState, k: FaultKind, ctx: &Ctx) -> Response {
    let ra = s.faults.retry_after();
    let aad = |status: StatusCode, e: AadError| {
        e.into_json_with_status(status, &s.base_url, ctx.now, None)
    };
    let with_retry_after = |mut r: Response| {
        if let Ok(v) = format_retry_after(ra).parse() {
            r.headers_mut().insert(header::RETRY_AFTER, v);
        }
        r
    };
    match k {
        FaultKind::TooManyRequests => with_retry_after(aad(
            StatusCode::TOO_MANY_REQUESTS,
            AadError::new(
                "temporarily_unavailable",
                90055,
                "The number of incoming requests has exceeded the throttling threshold for the tenant. Please try again later.",
            ),
        )),
        FaultKind::ServiceUnavailable => with_retry_after(aad(
            StatusCode::SERVICE_UNAVAILABLE,
            AadError::new(
                "temporarily_unavailable",
                90033,
                "A transient error has occurred. Please try again.",
            ),
        )),
        FaultKind::InternalServerError => aad(
            StatusCode::INTERNAL_SERVER_ERROR,
            AadError::new(
                "server_error",
                50000,
                "There was an error issuing a token or an issue with our sign-in service.",
            ),
        ),
        FaultKind::InvalidGrant => aad(
            StatusCode::BAD_REQUEST,
            AadError::new(
                "invalid_grant",
                70000,
                "The provided grant is invalid or malformed.",
            ),
        ),
        FaultKind::GatewayTimeout => gateway_timeout(),
        FaultKind::Timeout => {
            tokio::time::sleep(s.faults.timeout()).await;
            dropped()
        }
        _ => dropped(),
    }
}

/// Fill in the status and the OAuth error the client got.
async fn note_outcome(resp: Response, entry: &mut LogEntry) -> Response {
    entry.status = if resp
        .extensions()
        .get::<crate::server::DropConnection>()
        .is_some()
    {
        0
    } else {
        resp.status().as_u16()
    };
    if let Some(loc) = resp
        .headers()
        .get(header::LOCATION)
        .and_then(|v| v.to_str().ok())
    {
        let q: Form = serde_urlencoded::from_str(loc.split_once('?').map(|x| x.1).unwrap_or(""))
            .unwrap_or_default();
        entry.error = q.get("error").map(|e| {
            match q.get("error_description").and_then(|d| d.split(':').next()) {
                Some(code) if code.starts_with("AADSTS") => format!("{e} ({code})"),
                _ => e.clone(),
            }
        });
        return resp;
    }
    let is_json = resp
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    if resp.status().is_success() || !is_json {
        return resp;
    }
    let (parts, body) = resp.into_parts();
    let bytes: Bytes = axum::body::to_bytes(body, 1024 * 1024)
        .await
        .unwrap_or_default();
    if let Ok(v) = serde_json::from_slice::<Value>(&bytes)
        && let Some(e) = v["error"].as_str()
    {
        entry.error = Some(match v["error_codes"][0].as_u64() {
            Some(c) => format!("{e} (AADSTS{c})"),
            None => e.to_string(),
        });
    }
    Response::from_parts(parts, Body::from(bytes))
}
