//! Group commit of finished sync jobs. A job that wrote to Graph records
//! its event link and its "done" mark together; many jobs finish at once
//! in a bulk sync, so their records are written in one transaction (a few
//! statements for the whole group) instead of one each. On SQLite every
//! statement is a hand-off to the connection's thread, and that hand-off,
//! not the work, was most of a job's cost.
//!
//! The guarantee is unchanged: a job's link and its "done" are committed
//! together, and `record` returns only after the commit. If a group's
//! transaction fails, each record is retried in a transaction of its own,
//! so one bad record does not fail the others.

use std::collections::HashSet;
use std::sync::{Arc, OnceLock};

use chrono::Utc;
use sea_orm::{
    ConnectionTrait, DatabaseConnection, DbBackend, DbErr, EntityTrait, QueryFilter, Statement,
    TransactionTrait, Value,
};
use tokio::sync::{mpsc, oneshot};

use crate::entities::event_link;
use crate::outbox::db_time;

/// Up to this many records share a transaction.
const GROUP: usize = 256;

/// How a job's Graph work is recorded with its "done".
#[derive(Debug, Clone)]
pub enum Record {
    /// Nothing else to write (an update went through).
    Done,
    /// The event exists: save its link, replacing any the record had
    /// (e.g. the "create sent" marker).
    Linked(NewLink),
    /// The event is gone: drop its link.
    Unlinked { link_id: i64 },
}

#[derive(Debug, Clone)]
pub struct NewLink {
    pub record_kind: &'static str,
    pub record_id: i64,
    pub connection_id: i64,
    pub mailbox: String,
    pub graph_event_id: String,
    pub transaction_id: String,
}

struct Entry {
    job_id: i64,
    worker: String,
    record: Record,
    reply: oneshot::Sender<Result<bool, DbErr>>,
}

#[derive(Clone, Default)]
pub struct Recorder {
    queue: Arc<OnceLock<mpsc::UnboundedSender<Entry>>>,
    /// SQLite's one writer: see [`super::SyncState::write_gate`].
    pub(crate) gate: Arc<tokio::sync::Mutex<()>>,
}

impl std::fmt::Debug for Recorder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Recorder").finish_non_exhaustive()
    }
}

impl Recorder {
    /// Writes `record` and marks job `job_id` done, if `worker` still holds
    /// it; returns whether it did (`false`: the lease was taken over; the
    /// link is written all the same, as the event exists).
    pub async fn record(
        &self,
        db: &DatabaseConnection,
        job_id: i64,
        worker: &str,
        record: Record,
    ) -> Result<bool, DbErr> {
        let queue = self.queue.get_or_init(|| {
            let (tx, rx) = mpsc::unbounded_channel();
            tokio::spawn(write_groups(db.clone(), self.gate.clone(), rx));
            tx
        });
        let (reply, answer) = oneshot::channel();
        let entry = Entry {
            job_id,
            worker: worker.to_owned(),
            record,
            reply,
        };
        if queue.send(entry).is_err() {
            return Err(DbErr::Custom("the sync recorder stopped".into()));
        }
        answer
            .await
            .unwrap_or_else(|_| Err(DbErr::Custom("the sync recorder stopped".into())))
    }
}

async fn write_groups(
    db: DatabaseConnection,
    gate: Arc<tokio::sync::Mutex<()>>,
    mut rx: mpsc::UnboundedReceiver<Entry>,
) {
    let mut group = Vec::with_capacity(GROUP);
    while rx.recv_many(&mut group, GROUP).await > 0 {
        let _gate = if db.get_database_backend() == DbBackend::Sqlite {
            Some(gate.lock().await)
        } else {
            None
        };
        match write(&db, &group).await {
            Ok(held) => {
                for e in group.drain(..) {
                    let _ = e.reply.send(Ok(held.contains(&e.job_id)));
                }
            }
            Err(e) if group.len() == 1 => {
                for entry in group.drain(..) {
                    let _ = entry.reply.send(Err(DbErr::Custom(e.to_string())));
                }
            }
            Err(e) => {
                tracing::warn!(error = %e, records = group.len(), "group commit failed; writing one by one");
                for entry in group.drain(..) {
                    let result = write(&db, std::slice::from_ref(&entry))
                        .await
                        .map(|held| held.contains(&entry.job_id));
                    let _ = entry.reply.send(result);
                }
            }
        }
    }
}

/// One transaction for the whole group; the ids of the jobs marked done.
async fn write(db: &DatabaseConnection, group: &[Entry]) -> Result<HashSet<i64>, DbErr> {
    let txn = db.begin().await?;
    let backend = txn.get_database_backend();
    let now = db_time(Utc::now());
    let mut gone: Vec<i64> = Vec::new();
    let mut fresh: Vec<&NewLink> = Vec::new();
    for e in group {
        match &e.record {
            Record::Done => {}
            Record::Unlinked { link_id } => gone.push(*link_id),
            Record::Linked(link) => fresh.push(link),
        }
    }
    if !gone.is_empty() {
        event_link::Entity::delete_many()
            .filter(sea_orm::ColumnTrait::is_in(&event_link::Column::Id, gone))
            .exec(&txn)
            .await?;
    }
    // A record has one link: the new one replaces what was there.
    for kind in fresh.iter().map(|l| l.record_kind).collect::<HashSet<_>>() {
        let ids = fresh
            .iter()
            .filter(|l| l.record_kind == kind)
            .map(|l| l.record_id);
        event_link::Entity::delete_many()
            .filter(sea_orm::ColumnTrait::eq(
                &event_link::Column::RecordKind,
                kind,
            ))
            .filter(sea_orm::ColumnTrait::is_in(
                &event_link::Column::RecordId,
                ids,
            ))
            .exec(&txn)
            .await?;
    }
    if !fresh.is_empty() {
        let mut sql = String::from(
            "INSERT INTO event_links (record_kind, record_id, connection_id, mailbox, \
             graph_event_id, transaction_id, created_at, updated_at) VALUES ",
        );
        let mut values: Vec<Value> = Vec::with_capacity(fresh.len() * 8);
        for (i, l) in fresh.iter().enumerate() {
            let p = i * 8;
            if i > 0 {
                sql.push_str(", ");
            }
            sql.push_str(&format!(
                "(${}, ${}, ${}, ${}, ${}, ${}, ${}, ${})",
                p + 1,
                p + 2,
                p + 3,
                p + 4,
                p + 5,
                p + 6,
                p + 7,
                p + 8
            ));
            values.extend([
                l.record_kind.into(),
                l.record_id.into(),
                l.connection_id.into(),
                l.mailbox.clone().into(),
                l.graph_event_id.clone().into(),
                l.transaction_id.clone().into(),
                now.into(),
                now.into(),
            ]);
        }
        txn.execute(Statement::from_sql_and_values(backend, sql, values))
            .await?;
    }
    let held = mark_done(&txn, group).await?;
    txn.commit().await?;
    Ok(held)
}

/// `UPDATE … WHERE (id, claimed_by) IN (…)`: each job only if its worker
/// still holds it.
async fn mark_done(txn: &impl ConnectionTrait, group: &[Entry]) -> Result<HashSet<i64>, DbErr> {
    let mut pairs = String::new();
    let mut values: Vec<Value> = Vec::with_capacity(group.len() * 2);
    for (i, e) in group.iter().enumerate() {
        if i > 0 {
            pairs.push_str(", ");
        }
        pairs.push_str(&format!("(${}, ${})", i * 2 + 1, i * 2 + 2));
        values.extend([e.job_id.into(), e.worker.clone().into()]);
    }
    let sql = format!(
        "UPDATE outbox SET status = 'done', claimed_by = NULL, claimed_until = NULL, \
         last_error = NULL WHERE (id, claimed_by) IN (VALUES {pairs}) RETURNING id"
    );
    let rows = txn
        .query_all(Statement::from_sql_and_values(
            txn.get_database_backend(),
            sql,
            values,
        ))
        .await?;
    rows.iter()
        .map(|r| r.try_get::<i64>("", "id"))
        .collect::<Result<HashSet<_>, _>>()
}
