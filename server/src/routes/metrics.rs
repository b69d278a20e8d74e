use axum::extract::Request;
use axum::http::header;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

/// `GET /metrics`: Prometheus text. Counts only, no personal data; bind
/// it away from the public network or filter it at the proxy.
pub async fn metrics() -> impl IntoResponse {
    (
        [(
            header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        backend::telemetry::render(),
    )
}

/// Counts every answered request by method and status.
pub async fn count_requests(request: Request, next: Next) -> Response {
    let method = request.method().clone();
    let response = next.run(request).await;
    backend::telemetry::record_http(method.as_str(), response.status().as_u16());
    response
}
