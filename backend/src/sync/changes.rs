//! "The sync status of this space (or staff member) may have changed":
//! the signal behind every live status on open pages. Whoever changes
//! something a status is computed from calls [`SyncChanges::publish`]; the
//! event streams then compute the status again and push it.
//!
//! Within a process a broadcast channel carries the signal. With several
//! instances on one PostgreSQL, each publish is also sent with `NOTIFY`
//! and every instance `LISTEN`s, so a change made by one instance reaches
//! pages served by another. The subject is all a message carries: the
//! status itself is always read from the database.

use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use sea_orm::{ConnectionTrait, DatabaseConnection, DbBackend, Statement};
use tokio::sync::{Notify, broadcast};

use super::status::Subject;

/// The PostgreSQL channel the instances share.
const CHANNEL: &str = "calbridge_sync_changes";
/// A slow page may miss signals; it then reads every status it shows.
const CAPACITY: usize = 256;
/// Signals to other instances go out at most this often, several subjects
/// to a NOTIFY, so a bulk sync does not send one per job.
const NOTIFY_EVERY: Duration = Duration::from_millis(100);

#[derive(Clone)]
pub struct SyncChanges {
    sender: broadcast::Sender<Subject>,
    /// Subjects waiting to be sent to the other instances.
    outgoing: Arc<Mutex<HashSet<Subject>>>,
    outgoing_ready: Arc<Notify>,
    /// Whether the relay runs (PostgreSQL): otherwise nothing is queued
    /// for other instances.
    relaying: Arc<AtomicBool>,
    /// This instance's id, so it ignores its own NOTIFYs.
    instance: Arc<str>,
}

impl Default for SyncChanges {
    fn default() -> Self {
        Self {
            sender: broadcast::channel(CAPACITY).0,
            outgoing: Arc::default(),
            outgoing_ready: Arc::default(),
            relaying: Arc::default(),
            instance: uuid::Uuid::new_v4().simple().to_string().into(),
        }
    }
}

impl std::fmt::Debug for SyncChanges {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SyncChanges").finish_non_exhaustive()
    }
}

impl SyncChanges {
    pub fn subscribe(&self) -> broadcast::Receiver<Subject> {
        self.sender.subscribe()
    }

    /// Tells this instance's pages now and the other instances shortly.
    pub fn publish(&self, subject: Subject) {
        let _ = self.sender.send(subject);
        if !self.relaying.load(Ordering::Relaxed) {
            return;
        }
        let mut outgoing = self.outgoing.lock().unwrap_or_else(|e| e.into_inner());
        if outgoing.insert(subject) {
            self.outgoing_ready.notify_one();
        }
    }

    /// On PostgreSQL: relays this instance's signals to the others and
    /// theirs to this one's pages, until the process ends. Nothing to do
    /// on SQLite (one process).
    pub fn spawn_relay(&self, db: &DatabaseConnection) -> Vec<tokio::task::JoinHandle<()>> {
        if db.get_database_backend() != DbBackend::Postgres {
            return vec![];
        }
        self.relaying.store(true, Ordering::Relaxed);
        vec![
            tokio::spawn(self.clone().send_loop(db.clone())),
            tokio::spawn(self.clone().listen_loop(db.clone())),
        ]
    }

    async fn send_loop(self, db: DatabaseConnection) {
        loop {
            self.outgoing_ready.notified().await;
            tokio::time::sleep(NOTIFY_EVERY).await;
            let batch: Vec<Subject> = {
                let mut outgoing = self.outgoing.lock().unwrap_or_else(|e| e.into_inner());
                outgoing.drain().collect()
            };
            if batch.is_empty() {
                continue;
            }
            let payload = format!(
                "{} {}",
                self.instance,
                batch
                    .iter()
                    .map(|s| s.to_wire())
                    .collect::<Vec<_>>()
                    .join(",")
            );
            let sent = db
                .execute(Statement::from_sql_and_values(
                    DbBackend::Postgres,
                    "SELECT pg_notify($1, $2)",
                    [CHANNEL.into(), payload.into()],
                ))
                .await;
            if let Err(e) = sent {
                tracing::warn!(error = %e, "could not tell the other instances of a sync change");
            }
        }
    }

    async fn listen_loop(self, db: DatabaseConnection) {
        use sea_orm::sqlx::postgres::PgListener;
        loop {
            let pool = db.get_postgres_connection_pool().clone();
            let mut listener = match PgListener::connect_with(&pool).await {
                Ok(l) => l,
                Err(e) => {
                    tracing::warn!(error = %e, "cannot LISTEN for sync changes; retrying");
                    tokio::time::sleep(Duration::from_secs(5)).await;
                    continue;
                }
            };
            if let Err(e) = listener.listen(CHANNEL).await {
                tracing::warn!(error = %e, "cannot LISTEN for sync changes; retrying");
                tokio::time::sleep(Duration::from_secs(5)).await;
                continue;
            }
            loop {
                match listener.recv().await {
                    Ok(n) => self.relay_in(n.payload()),
                    Err(e) => {
                        // The listener reconnects by itself on the next
                        // recv; signals sent meanwhile are lost, so pages
                        // could miss one change until the next.
                        tracing::warn!(error = %e, "sync change listener lost its connection");
                        tokio::time::sleep(Duration::from_millis(500)).await;
                    }
                }
            }
        }
    }

    fn relay_in(&self, payload: &str) {
        let Some((from, subjects)) = payload.split_once(' ') else {
            return;
        };
        if from == &*self.instance {
            return;
        }
        for subject in subjects.split(',').filter_map(Subject::from_wire) {
            let _ = self.sender.send(subject);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn local_subscribers_hear_each_change_and_own_notifies_are_ignored() {
        let changes = SyncChanges::default();
        let mut rx = changes.subscribe();
        changes.publish(Subject::Space(1));
        assert_eq!(rx.recv().await.unwrap(), Subject::Space(1));

        // What another instance sent reaches this one's pages…
        changes.relay_in("other-instance space:4,staff:2");
        assert_eq!(rx.recv().await.unwrap(), Subject::Space(4));
        assert_eq!(rx.recv().await.unwrap(), Subject::Staff(2));
        // …and this instance's own NOTIFY coming back does not repeat.
        changes.relay_in(&format!("{} space:9", changes.instance));
        assert!(rx.try_recv().is_err());
    }
}
