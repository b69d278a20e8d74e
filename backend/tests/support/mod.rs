//! A fresh, migrated database per test: a SQLite file in a temporary
//! directory, or a scratch PostgreSQL database.

#![allow(dead_code)]

pub mod scratch;

use sea_orm::DatabaseConnection;

pub struct TestDb {
    pub db: DatabaseConnection,
    _dir: Option<tempfile::TempDir>,
}

pub async fn sqlite() -> TestDb {
    let dir = tempfile::tempdir().expect("temp dir");
    let url = format!("sqlite://{}/calbridge.db?mode=rwc", dir.path().display());
    TestDb {
        db: connect(&url).await,
        _dir: Some(dir),
    }
}

/// `None` when PostgreSQL is not set up on this machine (never in CI).
pub async fn postgres() -> Option<TestDb> {
    let url = scratch::create_database(&scratch::admin_url()?).await;
    Some(TestDb {
        db: connect(&url).await,
        _dir: None,
    })
}

async fn connect(url: &str) -> DatabaseConnection {
    let db = backend::db::connect(url).await.expect("connect");
    backend::db::migrate(&db).await.expect("migrate");
    db
}

/// A hung test fails with its name instead of stalling the run.
pub async fn within_time_limit(body: impl std::future::Future<Output = ()>) {
    tokio::time::timeout(std::time::Duration::from_secs(90), body)
        .await
        .expect("test did not finish within 90 s");
}

/// Runs each test body (an `async fn(DatabaseConnection)`) once on SQLite
/// and once on PostgreSQL.
#[macro_export]
macro_rules! on_both_databases {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn $name() {
                let t = $crate::support::sqlite().await;
                $crate::support::within_time_limit(super::$name(t.db.clone())).await;
            })*
        }
        mod postgres {
            $(#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn $name() {
                match $crate::support::postgres().await {
                    Some(t) => $crate::support::within_time_limit(super::$name(t.db.clone())).await,
                    None => eprintln!("skipped: CALBRIDGE_TEST_POSTGRES_URL is not set"),
                }
            })*
        }
    };
}
