//! `POST /$batch`. Microsoft Graph: "Combine multiple HTTP requests using
//! JSON batching": at most 20 requests; each runs through the normal
//! pipeline (so each counts against the per-mailbox concurrency limit and
//! may be throttled on its own); without `dependsOn` they run in parallel.

use axum::Json;
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode, header};
use serde_json::{Value, json};

use super::errors::{Ctx, GraphError};
use super::{GraphRequest, run};
use crate::AppState;
use crate::server::DropConnection;

const MAX_REQUESTS: usize = 20;

pub async fn handle(s: AppState, req: GraphRequest) -> Response {
    let ctx = Ctx::new(&req.headers, s.clock.now());
    if req.method != Method::POST {
        return super::method_not_allowed().render(&ctx);
    }
    let body: Value = match serde_json::from_slice(&req.body) {
        Ok(v) => v,
        Err(_) => {
            return GraphError::bad_request("BadRequest", "Invalid batch payload format.")
                .render(&ctx);
        }
    };
    let Some(requests) = body["requests"].as_array().cloned() else {
        return GraphError::bad_request("BadRequest", "Invalid batch payload format.").render(&ctx);
    };
    if requests.len() > MAX_REQUESTS {
        return GraphError::bad_request(
            "BadRequest",
            format!(
                "The number of batch requests in the payload exceeds the limit of {MAX_REQUESTS}."
            ),
        )
        .render(&ctx);
    }
    let sequential = requests.iter().any(|r| r.get("dependsOn").is_some());
    let mut subs = Vec::new();
    for r in &requests {
        match sub_request(r, &req.headers) {
            Ok(sr) => subs.push((r["id"].clone(), Some(sr))),
            Err(_) => subs.push((r["id"].clone(), None)),
        }
    }
    let mut responses = Vec::new();
    if sequential {
        for (id, sr) in subs {
            responses.push(answer(&s, id, sr).await);
        }
    } else {
        let mut set = tokio::task::JoinSet::new();
        for (i, (id, sr)) in subs.into_iter().enumerate() {
            let s = s.clone();
            set.spawn(async move { (i, answer(&s, id, sr).await) });
        }
        let mut done: Vec<(usize, Value)> = set.join_all().await;
        done.sort_by_key(|(i, _)| *i);
        responses = done.into_iter().map(|(_, v)| v).collect();
    }
    ctx.stamp(Json(json!({"responses": responses})).into_response())
}

fn sub_request(r: &Value, outer: &HeaderMap) -> Result<GraphRequest, ()> {
    let method: Method = r["method"].as_str().ok_or(())?.parse().map_err(|_| ())?;
    let url = r["url"].as_str().ok_or(())?;
    let url = url.strip_prefix("/v1.0").unwrap_or(url);
    let url = if url.starts_with('/') {
        url.to_string()
    } else {
        format!("/{url}")
    };
    let (path, raw_query) = url.split_once('?').unwrap_or((&url, ""));
    let mut headers = HeaderMap::new();
    if let Some(a) = outer.get(header::AUTHORIZATION) {
        headers.insert(header::AUTHORIZATION, a.clone());
    }
    if let Some(h) = r["headers"].as_object() {
        for (k, v) in h {
            if let (Ok(k), Some(Ok(v))) = (
                HeaderName::try_from(k.as_str()),
                v.as_str().map(HeaderValue::from_str),
            ) {
                headers.insert(k, v);
            }
        }
    }
    let body = match &r["body"] {
        Value::Null => Bytes::new(),
        v => Bytes::from(v.to_string()),
    };
    Ok(GraphRequest {
        method,
        path: path.to_string(),
        query: serde_urlencoded::from_str(raw_query).unwrap_or_default(),
        raw_query: raw_query.to_string(),
        headers,
        body,
    })
}

async fn answer(s: &AppState, id: Value, sr: Option<GraphRequest>) -> Value {
    let Some(sr) = sr else {
        return json!({"id": id, "status": 400, "body": {"error": {"code": "BadRequest", "message": "Invalid request in batch."}}});
    };
    let resp = run(s.clone(), sr, true).await;
    let dropped = resp.extensions().get::<DropConnection>().is_some();
    let status = if dropped {
        StatusCode::GATEWAY_TIMEOUT
    } else {
        resp.status()
    };
    let mut headers = serde_json::Map::new();
    for (k, v) in resp.headers() {
        if let Ok(v) = v.to_str() {
            headers.insert(k.as_str().to_string(), json!(v));
        }
    }
    let bytes = axum::body::to_bytes(resp.into_body(), 4 * 1024 * 1024)
        .await
        .unwrap_or_default();
    let body: Value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
    let mut out = json!({"id": id, "status": status.as_u16(), "headers": headers});
    if !body.is_null() {
        out["body"] = body;
    }
    out
}
