//! Scratch PostgreSQL databases, for `support` and `sync_support` (and
//! the tests and benches that include them): one place that knows how.

use sea_orm::{ConnectionTrait, Database, Statement};

/// `CALBRIDGE_TEST_POSTGRES_URL`; `None` when PostgreSQL is not set up on
/// this machine. Never `None` in CI: the PostgreSQL tests may not be
/// skipped there.
pub fn admin_url() -> Option<String> {
    match std::env::var("CALBRIDGE_TEST_POSTGRES_URL") {
        Ok(url) if !url.is_empty() => Some(url),
        _ if std::env::var_os("CI").is_some() => {
            panic!(
                "CALBRIDGE_TEST_POSTGRES_URL must be set in CI: the PostgreSQL tests may not be skipped"
            )
        }
        _ => None,
    }
}

/// Creates an empty database through `admin_url`; returns its URL.
pub async fn create_database(admin_url: &str) -> String {
    let name = format!("cb_test_{}", uuid::Uuid::new_v4().simple());
    let admin = Database::connect(admin_url)
        .await
        .expect("connect to PostgreSQL");
    admin
        .execute(Statement::from_string(
            admin.get_database_backend(),
            format!("CREATE DATABASE {name}"),
        ))
        .await
        .expect("create scratch database");
    let _ = admin.close().await;
    let base = admin_url.rsplit_once('/').expect("URL has a database").0;
    format!("{base}/{name}")
}
