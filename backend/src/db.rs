//! Connecting to the database and bringing its schema up to date.

use std::time::Duration;

use migrations::{Migrator, MigratorTrait};
use sea_orm::sqlx::sqlite::{SqliteJournalMode, SqliteSynchronous};
use sea_orm::{ConnectOptions, Database, DatabaseConnection, DbErr};

/// Opens a pool. SQLite runs in WAL mode with a busy timeout, so readers
/// never block the writer and a short write contention waits instead of
/// failing with "database is locked".
pub async fn connect(url: &str) -> Result<DatabaseConnection, DbErr> {
    if let Some(dir) = sqlite_file(url).and_then(|path| std::path::Path::new(path).parent())
        && !dir.as_os_str().is_empty()
    {
        std::fs::create_dir_all(dir)
            .map_err(|e| DbErr::Custom(format!("creating {}: {e}", dir.display())))?;
    }
    let mut options = ConnectOptions::new(url.to_owned());
    options
        .max_connections(if url.starts_with("sqlite:") { 8 } else { 16 })
        .acquire_timeout(Duration::from_secs(10))
        .sqlx_logging(false)
        .map_sqlx_sqlite_opts(|o| {
            o.journal_mode(SqliteJournalMode::Wal)
                // SQLite's advice for WAL: no fsync per commit (the WAL is
                // synced at checkpoints), still never corrupt; a power cut
                // may undo the last moments. Without it every commit waits
                // for the disk and the sync workers' writes queue up.
                .synchronous(SqliteSynchronous::Normal)
                .busy_timeout(Duration::from_secs(10))
                .foreign_keys(true)
        });
    Database::connect(options).await
}

pub async fn migrate(db: &DatabaseConnection) -> Result<(), DbErr> {
    Migrator::up(db, None).await
}

/// The file behind a `sqlite://path?...` URL, if it names one.
fn sqlite_file(url: &str) -> Option<&str> {
    let rest = url
        .strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))?;
    let path = rest.split('?').next()?;
    (!path.is_empty() && path != ":memory:").then_some(path)
}

/// On SQLite, takes the database's write lock at the start of `txn` with
/// a harmless write to `table`, so a transaction that reads before it
/// writes waits (busy timeout) for a racing writer instead of failing
/// with SQLITE_BUSY when it upgrades (see `bookings::begin_write`).
/// Nothing on PostgreSQL.
pub async fn lock_for_write(txn: &sea_orm::DatabaseTransaction, table: &str) -> Result<(), DbErr> {
    use sea_orm::{ConnectionTrait, DatabaseBackend, Statement};
    if txn.get_database_backend() == DatabaseBackend::Sqlite {
        txn.execute(Statement::from_string(
            DatabaseBackend::Sqlite,
            format!("UPDATE {table} SET id = id WHERE id = -1"),
        ))
        .await?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use sea_orm::{ConnectionTrait, Statement};

    #[test]
    fn finds_the_file_in_sqlite_urls() {
        assert_eq!(
            sqlite_file("sqlite://data/x.db?mode=rwc"),
            Some("data/x.db")
        );
        assert_eq!(sqlite_file("sqlite::memory:"), None);
        assert_eq!(sqlite_file("postgres://h/db"), None);
    }

    #[tokio::test]
    async fn sqlite_is_created_in_wal_mode_and_migrated() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}/sub/t.db?mode=rwc", dir.path().display());
        let db = connect(&url).await.unwrap();
        migrate(&db).await.unwrap();
        let row = db
            .query_one(Statement::from_string(
                db.get_database_backend(),
                "PRAGMA journal_mode",
            ))
            .await
            .unwrap()
            .unwrap();
        let mode: String = row.try_get_by_index(0).unwrap();
        assert_eq!(mode.to_lowercase(), "wal");
        // Migrating twice is harmless: every start does it.
        migrate(&db).await.unwrap();
    }
}
