//! The worker loop: while the integration is active, claim due
//! appointment jobs, run each (many at once, each mailbox limited to 4
//! requests in flight), and record how each ended on its outbox row.

use std::sync::Arc;
use std::time::Duration;

use chrono::{TimeDelta, Utc};
use tokio::sync::Semaphore;
use tokio::task::JoinSet;

use super::appointments::{self, Outcome};
use super::calls::{CallFailure, jittered};
use super::recorder::Record;
use crate::Backend;
use crate::entities::outbox as outbox_row;
use crate::integration::IntegrationStatus;
use crate::outbox::{self, APPOINTMENT_KINDS, Retry};

/// Jobs per claim, at most.
const MAX_CLAIM: usize = 32;
/// After a claim that found fewer jobs than it asked for, finishing jobs
/// do not trigger another claim for this long (see `Worker::run`).
const DRAINED_PAUSE: Duration = Duration::from_millis(20);

/// A claimed job's lease. A live process renews its jobs' leases every
/// [`LEASE_RENEWAL`], however long a job takes (a long Retry-After); a
/// killed process's jobs are taken over this long after its last
/// renewal. (On SQLite, one process, a restart releases them at once:
/// [`super::recover_after_restart`].)
const JOB_LEASE: Duration = Duration::from_secs(30);
/// How often a process renews its job and mailbox-slot leases: well
/// within a lease, so a busy moment never lets one run out.
pub(crate) const LEASE_RENEWAL: Duration = Duration::from_secs(10);

/// One worker of this process. Several processes (or several workers)
/// share the outbox safely.
#[derive(Clone)]
pub struct Worker {
    backend: Backend,
    name: String,
    slots: Arc<Semaphore>,
}

/// What one claim did.
struct Claim {
    /// Jobs claimed and started.
    spawned: usize,
    /// Fewer jobs were due than there were free slots (or the claim
    /// failed): nothing more to claim for now.
    drained: bool,
}

impl Worker {
    pub fn new(backend: Backend, name: impl Into<String>) -> Self {
        let concurrency = backend.settings.sync.concurrency.max(1);
        Self {
            backend,
            name: name.into(),
            slots: Arc::new(Semaphore::new(concurrency)),
        }
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// Claims what is due now and runs it to the end; returns how many
    /// jobs it ran. Tests and the loop call this.
    pub async fn run_once(&self) -> usize {
        let mut tasks = JoinSet::new();
        let claim = self.claim_and_spawn(&mut tasks).await;
        while tasks.join_next().await.is_some() {}
        claim.spawned
    }

    /// Until the process stops: claim, run, and sleep while nothing is due.
    pub async fn run(self) {
        let poll = Duration::from_millis(self.backend.settings.sync.poll_interval_ms.max(10));
        let mut tasks = JoinSet::new();
        // Set when a claim found fewer jobs than it asked for: nothing more
        // is due, so a job finishing is no reason to ask again at once.
        // At the end of a bulk sync every finishing job asked, and those
        // empty claims held SQLite's writer while the last jobs waited to
        // record their ends (~25 ms of a 1.4 s drain). A new job still
        // wakes the worker at once (`woken`).
        let mut drained_until: Option<tokio::time::Instant> = None;
        loop {
            while tasks.try_join_next().is_some() {}
            let drained = drained_until.is_some_and(|t| tokio::time::Instant::now() < t);
            // Claim in batches: a claim per finished job would cost a
            // query per job. The integration's status is read only then,
            // for the same reason.
            let worth_claiming =
                !drained && (tasks.is_empty() || self.slots.available_permits() >= self.batch());
            let claimed = if worth_claiming && self.integration_active().await {
                let claim = self.claim_and_spawn(&mut tasks).await;
                drained_until = claim
                    .drained
                    .then(|| tokio::time::Instant::now() + DRAINED_PAUSE);
                claim.spawned
            } else {
                0
            };
            if claimed == 0 || self.slots.available_permits() < self.batch() {
                tokio::select! {
                    _ = tokio::time::sleep(poll) => drained_until = None,
                    _ = self.backend.sync.woken() => drained_until = None,
                    Some(_) = tasks.join_next(), if !tasks.is_empty() => {},
                }
            }
        }
    }

    async fn integration_active(&self) -> bool {
        IntegrationStatus::current(&self.backend.db)
            .await
            .map(|s| s.connections_allowed)
            .unwrap_or(false)
    }

    /// Free job slots worth a claim while others still run.
    fn batch(&self) -> usize {
        (self.backend.settings.sync.concurrency / 4).clamp(1, 16)
    }

    async fn claim_and_spawn(&self, tasks: &mut JoinSet<()>) -> Claim {
        // A claim's jobs start only when all of them are read ahead: with
        // a large backlog, claiming every free slot at once (128 jobs)
        // kept the first request waiting ~25 ms for the reading. Smaller
        // claims, one after another (see `run`), start sooner and fill the
        // rest while the first requests are out.
        let free = self.slots.available_permits().min(MAX_CLAIM);
        if free == 0 {
            return Claim {
                spawned: 0,
                drained: false,
            };
        }
        let gate = self.backend.sync.write_gate(&self.backend.db).await;
        let claimed = outbox::claim(
            &self.backend.db,
            &self.name,
            &APPOINTMENT_KINDS,
            free as u64,
            JOB_LEASE,
            Utc::now(),
        )
        .await;
        drop(gate);
        let mut jobs = match claimed {
            Ok(jobs) => jobs,
            Err(e) => {
                tracing::warn!(error = %e, worker = %self.name, "could not claim sync jobs");
                return Claim {
                    spawned: 0,
                    drained: true,
                };
            }
        };
        // Room sync hook: space booking jobs are claimed on their own (the
        // outbox orders jobs per aggregate within one claim's kinds).
        jobs.extend(
            crate::rooms::claim_jobs(&self.backend, &self.name, free - jobs.len(), JOB_LEASE).await,
        );
        let n = jobs.len();
        let gate = self.backend.sync.write_gate(&self.backend.db).await;
        let known = appointments::Prefetched::prepare(
            &self.backend.db,
            &self.backend.settings.public_base_url,
            &jobs,
        )
        .await;
        drop(gate);
        let known = match known {
            Ok(known) => Arc::new(known),
            Err(e) => {
                // Each job reads what it needs itself.
                tracing::debug!(error = %e, "could not read ahead for claimed jobs");
                Arc::default()
            }
        };
        for job in jobs {
            let known = known.clone();
            let permit = self
                .slots
                .clone()
                .acquire_owned()
                .await
                .expect("never closed");
            let me = self.clone();
            tasks.spawn(async move {
                me.run_job(job, &known).await;
                drop(permit);
            });
        }
        Claim {
            spawned: n,
            drained: n < free,
        }
    }

    async fn run_job(&self, job: outbox_row::Model, known: &appointments::Prefetched) {
        let holder = format!("{}/job-{}", self.name, job.id);
        let outcome = if crate::rooms::is_room_job(&job) {
            crate::rooms::outbound::handle(&self.backend, &job, &holder).await
        } else {
            appointments::handle(&self.backend, &job, &self.name, &holder, known).await
        };
        let db = &self.backend.db;
        let now = Utc::now();
        let gate = match &outcome {
            Outcome::Recorded(_) | Outcome::Done => None,
            _ => self.backend.sync.write_gate(db).await,
        };
        let recorded = match &outcome {
            Outcome::Done => {
                self.backend
                    .sync
                    .recorder
                    .record(db, job.id, &self.name, Record::Done)
                    .await
            }
            Outcome::Recorded(held) => Ok(*held),
            Outcome::Skipped(note) => {
                outbox::mark_done_with_note(db, job.id, &self.name, note).await
            }
            Outcome::Failed(CallFailure::Paused(note)) => {
                outbox::mark_paused(db, job.id, &self.name, note).await
            }
            Outcome::Failed(CallFailure::RetryAfter(wait, msg)) => {
                outbox::mark_failed(db, job.id, &self.name, msg, Retry::After(*wait), now).await
            }
            Outcome::Failed(CallFailure::Backoff(msg)) => {
                // Jittered exponential backoff: spread retries of many
                // jobs that failed together.
                let wait = jittered(Duration::from_secs(2), job.attempts.max(1) as u32)
                    .min(Duration::from_secs(3600));
                outbox::mark_failed(db, job.id, &self.name, msg, Retry::After(wait), now).await
            }
            Outcome::Failed(CallFailure::Permanent(msg)) => {
                outbox::mark_failed(db, job.id, &self.name, msg, Retry::Never, now).await
            }
            Outcome::Failed(CallFailure::NotFound | CallFailure::Gone) => {
                outbox::mark_failed(
                    db,
                    job.id,
                    &self.name,
                    "Graph answered 404",
                    Retry::Never,
                    now,
                )
                .await
            }
        };
        drop(gate);
        if let Some(subject) = super::Subject::of_job_payload(&job.payload) {
            self.backend.sync.changes.publish(subject);
        }
        match recorded {
            Ok(true) => tracing::debug!(job = job.id, ?outcome, "sync job finished"),
            Ok(false) => tracing::warn!(
                job = job.id,
                worker = %self.name,
                "sync job finished after its lease was taken over"
            ),
            Err(e) => tracing::warn!(job = job.id, error = %e, "could not record a sync job's end"),
        }
    }
}

/// Starts `count` workers and the free/busy poller in the background, when
/// `settings.sync.enabled`. The handles stop them when aborted.
pub fn spawn_workers(backend: &Backend, count: usize) -> Vec<tokio::task::JoinHandle<()>> {
    if !backend.settings.sync.enabled {
        return vec![];
    }
    // Workers are named after the process, so one statement renews the
    // leases of all their jobs.
    let base = backend.sync.limiter.instance().to_owned();
    let mut handles: Vec<_> = (0..count.max(1))
        .map(|i| tokio::spawn(Worker::new(backend.clone(), format!("{base}-{i}")).run()))
        .collect();
    handles.push(tokio::spawn(renew_leases(backend.clone(), base)));
    handles.push(tokio::spawn(super::free_busy::run(backend.clone())));
    handles.push(tokio::spawn(crate::rooms::poll::run(backend.clone())));
    handles
}

/// While the process runs: renews the leases of the jobs its workers
/// (named `{instance}-…`) hold and of the mailbox slots it holds.
async fn renew_leases(backend: Backend, instance: String) {
    let mut every = tokio::time::interval(LEASE_RENEWAL);
    loop {
        every.tick().await;
        let until = Utc::now() + TimeDelta::from_std(JOB_LEASE).unwrap_or_default();
        if let Err(e) = outbox::renew_leases(&backend.db, &instance, until).await {
            tracing::warn!(error = %e, "could not renew the sync jobs' leases");
        }
        if let Err(e) = backend.sync.limiter.renew(&backend.db).await {
            tracing::warn!(error = %e, "could not renew the mailbox slots' leases");
        }
    }
}
