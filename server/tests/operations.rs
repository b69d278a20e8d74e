//! Health, metrics and pages open to everyone.

mod support;

use reqwest::StatusCode;
use support::{Db, client, spawn_app};

#[tokio::test]
async fn healthz_and_metrics_answer() {
    let app = spawn_app(Db::Sqlite).await.unwrap();
    let c = client();
    let r = c.get(app.url("/healthz")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(r.text().await.unwrap(), "ok");

    let r = c.get(app.url("/metrics")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let text = r.text().await.unwrap();
    assert!(
        text.contains("calbridge_http_requests_total{method=\"GET\",status=\"200\"}"),
        "{text}"
    );
}

#[tokio::test]
async fn unknown_pages_are_404_and_public_pages_render() {
    let app = spawn_app(Db::Sqlite).await.unwrap();
    let c = client();
    let r = c.get(app.url("/no/such/page")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    assert!(r.text().await.unwrap().contains("Page not found"));

    for path in ["/", "/login", "/spaces", "/appointments"] {
        let r = c.get(app.url(path)).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::OK, "{path}");
    }
}

#[tokio::test]
async fn demo_accounts_are_seeded_once() {
    let app = spawn_app(Db::Sqlite).await.unwrap();
    assert_eq!(backend::accounts::count(&app.backend.db).await.unwrap(), 4);
    let app = app.restart().await;
    assert_eq!(backend::accounts::count(&app.backend.db).await.unwrap(), 4);
}
