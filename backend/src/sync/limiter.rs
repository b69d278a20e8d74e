//! At most 4 Graph requests in flight per mailbox, across every instance:
//! Graph counts them per app per mailbox, so the count lives in the
//! database (the mailbox's 4 slot rows). A local semaphore per mailbox
//! keeps this process from asking the database for slots it cannot have.
//!
//! A 429 closes the mailbox until its `Retry-After` has passed: locally to
//! the millisecond, and in the database (`mailbox_gates`) so the other
//! instances wait too. No instance takes a slot of a closed mailbox; one
//! that finds it closed waits out the gate locally instead of asking again.
//!
//! On SQLite (one process by design) the local count is the whole count
//! and the slot rows are not used.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use chrono::{DateTime, TimeDelta, Utc};
use sea_orm::{ConnectionTrait, DatabaseConnection, DbBackend, DbErr, Statement};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::outbox::db_time;

/// Graph: "4 concurrent requests per app per mailbox".
pub const SLOTS_PER_MAILBOX: usize = 4;
/// A slot's lease. A live process renews its slots' leases
/// ([`Limiter::renew`], every [`super::worker::LEASE_RENEWAL`]); a killed
/// one's slots free themselves this long after its last renewal.
const SLOT_LEASE: TimeDelta = TimeDelta::seconds(30);
const POLL: Duration = Duration::from_millis(15);

/// A poisoned lock only means another task panicked mid-update of a map
/// that stays valid; carry on.
trait LockNow<T> {
    fn lock_now(&self) -> MutexGuard<'_, T>;
}

impl<T> LockNow<T> for Mutex<T> {
    fn lock_now(&self) -> MutexGuard<'_, T> {
        self.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// This process's side of the limiter; shared through `Backend`.
pub struct Limiter {
    semaphores: Mutex<HashMap<String, Arc<Semaphore>>>,
    gates: Mutex<HashMap<String, Instant>>,
    known: Mutex<HashSet<String>>,
    /// This process among the instances: its pid and a random tag. Every
    /// slot it holds is held in this name, and so is every job its
    /// workers claim, so it can renew their leases in one statement.
    instance: String,
}

impl Default for Limiter {
    fn default() -> Self {
        let tag = uuid::Uuid::new_v4().simple().to_string();
        Self {
            semaphores: Mutex::default(),
            gates: Mutex::default(),
            known: Mutex::default(),
            instance: format!("{}-{}", std::process::id(), &tag[..8]),
        }
    }
}

impl std::fmt::Debug for Limiter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Limiter").finish_non_exhaustive()
    }
}

/// One request's right to talk to a mailbox. Give it back with
/// [`Permit::release`]; dropped unreleased (a panic), it frees its slot
/// in the background.
pub struct Permit {
    db: DatabaseConnection,
    slot_id: Option<i64>,
    holder: String,
    _local: OwnedSemaphorePermit,
}

impl Permit {
    pub async fn release(mut self) {
        if let Some(id) = self.slot_id.take() {
            let _ = free_slot(&self.db, id, &self.holder).await;
        }
    }
}

impl Drop for Permit {
    fn drop(&mut self) {
        if let Some(id) = self.slot_id.take() {
            let db = self.db.clone();
            let holder = std::mem::take(&mut self.holder);
            if let Ok(handle) = tokio::runtime::Handle::try_current() {
                handle.spawn(async move {
                    let _ = free_slot(&db, id, &holder).await;
                });
            }
        }
    }
}

impl Limiter {
    fn semaphore(&self, mailbox: &str) -> Arc<Semaphore> {
        self.semaphores
            .lock_now()
            .entry(mailbox.to_lowercase())
            .or_insert_with(|| Arc::new(Semaphore::new(SLOTS_PER_MAILBOX)))
            .clone()
    }

    fn gate(&self, mailbox: &str) -> Option<Instant> {
        let gates = self.gates.lock_now();
        gates
            .get(&mailbox.to_lowercase())
            .copied()
            .filter(|g| *g > Instant::now())
    }

    /// This process's name among the instances.
    pub fn instance(&self) -> &str {
        &self.instance
    }

    /// Extends the leases of the slots this process holds (PostgreSQL).
    pub async fn renew(&self, db: &DatabaseConnection) -> Result<u64, DbErr> {
        if db.get_database_backend() != DbBackend::Postgres {
            return Ok(0);
        }
        let renewed = db
            .execute(Statement::from_sql_and_values(
                DbBackend::Postgres,
                "UPDATE mailbox_slots SET held_until = $1 WHERE held_by LIKE $2",
                [
                    (Utc::now() + SLOT_LEASE).into(),
                    format!("{}/%", self.instance).into(),
                ],
            ))
            .await?;
        Ok(renewed.rows_affected())
    }

    /// Waits for a slot of `mailbox` (local first, then the database).
    pub async fn acquire(
        &self,
        db: &DatabaseConnection,
        mailbox: &str,
        holder: &str,
    ) -> Result<Permit, DbErr> {
        let mailbox = mailbox.to_lowercase();
        let local = self
            .semaphore(&mailbox)
            .acquire_owned()
            .await
            .expect("the semaphore is never closed");
        // SQLite means one process (it is the embedded setup): the count
        // in this process is the whole count, and two writes per request
        // would only slow the single writer down.
        if db.get_database_backend() != DbBackend::Postgres {
            while let Some(until) = self.gate(&mailbox) {
                tokio::time::sleep_until(until.into()).await;
            }
            return Ok(Permit {
                db: db.clone(),
                slot_id: None,
                holder: holder.to_owned(),
                _local: local,
            });
        }
        self.ensure_slots(db, &mailbox).await?;
        let holder = format!("{}/{holder}", self.instance);
        let holder = holder.as_str();
        loop {
            if let Some(until) = self.gate(&mailbox) {
                tokio::time::sleep_until(until.into()).await;
                continue;
            }
            if let Some(id) = take_slot(db, &mailbox, holder).await? {
                return Ok(Permit {
                    db: db.clone(),
                    slot_id: Some(id),
                    holder: holder.to_owned(),
                    _local: local,
                });
            }
            // No slot: all four in flight, or another instance closed the
            // mailbox. Closed, wait out the gate here like a local one.
            match closed_until(db, &mailbox).await? {
                Some(wait) => self.close_locally(&mailbox, wait),
                None => tokio::time::sleep(POLL).await,
            }
        }
    }

    /// Graph said "wait `retry_after`" for this mailbox: nobody (here or
    /// in another instance) sends to it before then.
    pub async fn close_for(
        &self,
        db: &DatabaseConnection,
        mailbox: &str,
        retry_after: Duration,
    ) -> Result<(), DbErr> {
        let mailbox = mailbox.to_lowercase();
        self.close_locally(&mailbox, retry_after);
        if db.get_database_backend() != DbBackend::Postgres {
            return Ok(());
        }
        // Kept to the microsecond, unlike the slots' leases (whole
        // seconds): this table is PostgreSQL's alone, so no text
        // comparison of timestamps, and a gate a second too long would
        // hold every instance back for nothing.
        let until = Utc::now() + TimeDelta::from_std(retry_after).unwrap_or_default();
        // A later gate already there stays (two 429s, the longer wins).
        let sql = "INSERT INTO mailbox_gates (mailbox, closed_until) VALUES ($1, $2) \
                   ON CONFLICT (mailbox) DO UPDATE SET closed_until = \
                   CASE WHEN mailbox_gates.closed_until > excluded.closed_until \
                        THEN mailbox_gates.closed_until ELSE excluded.closed_until END";
        db.execute(Statement::from_sql_and_values(
            db.get_database_backend(),
            sql,
            [mailbox.into(), until.into()],
        ))
        .await?;
        Ok(())
    }

    /// Closes `mailbox` in this process for `wait` (a later close stays).
    fn close_locally(&self, mailbox: &str, wait: Duration) {
        let until = Instant::now() + wait;
        let mut gates = self.gates.lock_now();
        let gate = gates.entry(mailbox.to_owned()).or_insert(until);
        if *gate < until {
            *gate = until;
        }
    }

    async fn ensure_slots(&self, db: &DatabaseConnection, mailbox: &str) -> Result<(), DbErr> {
        if self.known.lock_now().contains(mailbox) {
            return Ok(());
        }
        for slot in 0..SLOTS_PER_MAILBOX as i32 {
            db.execute(Statement::from_sql_and_values(
                db.get_database_backend(),
                "INSERT INTO mailbox_slots (mailbox, slot) VALUES ($1, $2) \
                 ON CONFLICT (mailbox, slot) DO NOTHING",
                [mailbox.into(), slot.into()],
            ))
            .await?;
        }
        self.known.lock_now().insert(mailbox.to_owned());
        Ok(())
    }
}

/// Takes a free slot row (or one whose holder's lease ran out), unless
/// the mailbox is closed.
async fn take_slot(
    db: &DatabaseConnection,
    mailbox: &str,
    holder: &str,
) -> Result<Option<i64>, DbErr> {
    let now = db_time(Utc::now());
    let backend = db.get_database_backend();
    let lock = if backend == DbBackend::Postgres {
        "FOR UPDATE SKIP LOCKED"
    } else {
        ""
    };
    let sql = format!(
        "UPDATE mailbox_slots SET held_by = $1, held_until = $2 \
         WHERE id = (SELECT id FROM mailbox_slots WHERE mailbox = $3 \
             AND (held_until IS NULL OR held_until <= $4) ORDER BY slot LIMIT 1 {lock}) \
           AND (held_until IS NULL OR held_until <= $4) \
           AND NOT EXISTS (SELECT 1 FROM mailbox_gates \
               WHERE mailbox_gates.mailbox = $3 AND mailbox_gates.closed_until > $5) \
         RETURNING id"
    );
    let row = db
        .query_one(Statement::from_sql_and_values(
            backend,
            sql,
            [
                holder.into(),
                (now + SLOT_LEASE).into(),
                mailbox.into(),
                now.into(),
                Utc::now().into(),
            ],
        ))
        .await?;
    Ok(row.and_then(|r| r.try_get::<i64>("", "id").ok()))
}

/// How long `mailbox` stays closed by a Retry-After, if it is.
async fn closed_until(db: &DatabaseConnection, mailbox: &str) -> Result<Option<Duration>, DbErr> {
    let row = db
        .query_one(Statement::from_sql_and_values(
            db.get_database_backend(),
            "SELECT closed_until FROM mailbox_gates WHERE mailbox = $1",
            [mailbox.into()],
        ))
        .await?;
    let until = row.and_then(|r| r.try_get::<DateTime<Utc>>("", "closed_until").ok());
    Ok(until.and_then(|until| (until - Utc::now()).to_std().ok()))
}

async fn free_slot(db: &DatabaseConnection, id: i64, holder: &str) -> Result<(), DbErr> {
    db.execute(Statement::from_sql_and_values(
        db.get_database_backend(),
        "UPDATE mailbox_slots SET held_by = NULL, held_until = NULL WHERE id = $1 AND held_by = $2",
        [id.into(), holder.into()],
    ))
    .await?;
    Ok(())
}
