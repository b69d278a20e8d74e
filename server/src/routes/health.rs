use axum::extract::State;
use axum::http::StatusCode;
use backend::Backend;

/// `GET /healthz`: 200 when the database answers, 503 otherwise. Open to
/// everyone (load balancers); says nothing else.
pub async fn healthz(State(backend): State<Backend>) -> (StatusCode, &'static str) {
    match backend.db.ping().await {
        Ok(()) => (StatusCode::OK, "ok"),
        Err(e) => {
            tracing::warn!(error = %e, "health check: database unreachable");
            (StatusCode::SERVICE_UNAVAILABLE, "database unavailable")
        }
    }
}
