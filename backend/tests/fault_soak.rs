//! Fault soak (issue #8): appointment create / move / cancel operations
//! for several staff members, and space booking create / move / cancel
//! operations for spaces connected to Exchange rooms (a third of the
//! operations), made while the sync workers run, against an
//! emulator that fails about 20 % of Graph requests (429 with a
//! fractional Retry-After, 503, MailboxConcurrency 429, 500, 504, held
//! then dropped requests, dropped connections, writes whose answer is
//! lost). When everything is drained it prints, and asserts to be 0:
//!
//! - lost: an active appointment without its event, an event left at an
//!   old time (a lost move), or a cancelled appointment's event still there;
//! - duplicated: events beyond the one an appointment should have (and
//!   events no appointment explains);
//! - early retries: requests the emulator saw for a mailbox before a
//!   Retry-After it had given for that mailbox had passed (those arriving
//!   within `CALBRIDGE_SOAK_GRACE_MS`, default 250, of the Retry-After
//!   being given crossed it on the wire and are printed apart);
//! - jobs not done (failed or paused).
//!
//! `CALBRIDGE_SOAK_OPS` (default 1,000) sets the number of operations,
//! `CALBRIDGE_SOAK_STAFF` (default 5) the staff members,
//! `CALBRIDGE_SOAK_SPACES` (default 3, at most the 3 demo rooms) the
//! spaces with a room,
//! `CALBRIDGE_SOAK_SEED` the fault draws, and `CALBRIDGE_SOAK_DB=postgres`
//! runs it on PostgreSQL (`CALBRIDGE_TEST_POSTGRES_URL`) instead of SQLite.
//! A second test runs the same soak with two instances on one PostgreSQL
//! database (`fault_soak_with_two_instances_on_postgresql`).

mod support;
mod sync_support;

use std::collections::HashMap;
use std::time::{Duration, Instant};

use backend::Backend;
use backend::bookings::{self, BookingRequest};
use backend::sync::Worker;
use chrono::{DateTime, DurationRound, TimeDelta, Utc};
use emulator::DEMO;
use emulator::faults::{FaultConfig, FaultKind};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use sea_orm::{ConnectionTrait, DbBackend, EntityTrait, PaginatorTrait};
use sync_support::*;

/// The faults drawn for ~20 % of Graph requests.
pub fn soak_faults(rate: f64, seed: u64) -> FaultConfig {
    FaultConfig {
        rate,
        kinds: vec![
            FaultKind::TooManyRequests,
            FaultKind::ServiceUnavailable,
            FaultKind::MailboxConcurrency,
            FaultKind::InternalServerError,
            FaultKind::GatewayTimeout,
            FaultKind::Timeout,
            FaultKind::Drop,
            FaultKind::LostAnswer504,
            FaultKind::LostAnswerDrop,
        ],
        // Fractional; long against the grace below, short enough for CI.
        retry_after_secs: 1.2,
        latency_ms: 0,
        // A "timeout" holds the request this long, then drops it.
        timeout_ms: 250,
        seed: Some(seed),
        // Requests that arrive this soon after a Retry-After was given
        // were sent before the client could read it (in flight, or sent
        // by another task in the same instant); on a loaded two-core
        // machine that took up to a few hundred milliseconds (10,000
        // operations with 100 ms: 6 of 1,363 arrived later). They are
        // counted as "crossed", the rest as early retries. The throttled
        // request itself sent again counts whenever it comes.
        retry_after_grace_ms: env_number("CALBRIDGE_SOAK_GRACE_MS", 250u64),
        ..FaultConfig::default()
    }
}

/// Each appointment (and each space's booking) gets a slot of its own
/// (moves take a fresh one), so no two ever overlap.
struct Slots {
    base: DateTime<Utc>,
    next: i64,
}

impl Slots {
    fn new() -> Self {
        Self {
            base: (Utc::now() + TimeDelta::days(1))
                .duration_trunc(TimeDelta::hours(1))
                .unwrap(),
            next: 0,
        }
    }
    fn take(&mut self) -> DateTime<Utc> {
        self.next += 1;
        self.base + TimeDelta::minutes(30 * self.next)
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn fault_soak() {
    let on_postgres = std::env::var("CALBRIDGE_SOAK_DB").as_deref() == Ok("postgres");
    let test_db = if on_postgres {
        match support::postgres().await {
            Some(db) => db,
            None => {
                eprintln!("skipped: CALBRIDGE_SOAK_DB=postgres needs CALBRIDGE_TEST_POSTGRES_URL");
                return;
            }
        }
    } else {
        support::sqlite().await
    };
    soak(test_db, 1).await;
}

/// The same soak with two instances on one PostgreSQL database, as two
/// server processes would run: each its own limiter, sync state and two
/// workers; the operations are made through the first, the second finds
/// them by polling the outbox. On top of the single-instance figures, this
/// checks under faults what the two-instance test checks without them: no
/// job's work done twice (counted in the mailboxes, so a create retried
/// after a lost answer is not mistaken for one), the 4-in-flight limit and
/// every Retry-After held across both instances.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn fault_soak_with_two_instances_on_postgresql() {
    let Some(test_db) = support::postgres().await else {
        println!("two instances under faults: skipped, CALBRIDGE_TEST_POSTGRES_URL is not set");
        return;
    };
    soak(test_db, 2).await;
}

async fn soak(test_db: support::TestDb, instances: usize) {
    let ops = env_number("CALBRIDGE_SOAK_OPS", 1_000usize);
    let staff_count = env_number("CALBRIDGE_SOAK_STAFF", 5usize).max(1);
    let space_count = env_number("CALBRIDGE_SOAK_SPACES", 3usize).min(DEMO.rooms.len());
    let seed = env_number("CALBRIDGE_SOAK_SEED", 8u64);
    let engine = match test_db.db.get_database_backend() {
        DbBackend::Postgres => "PostgreSQL",
        _ => "SQLite",
    };
    let env = env_for_staff_and_rooms(test_db.db.clone()).await;
    let backend = &env.backend;

    // Staff members, each with an Outlook mailbox of their own.
    let mailboxes: HashMap<i64, String> = staff_with_mailboxes(&env, staff_count, "soak")
        .await
        .into_iter()
        .collect();
    let staff: Vec<i64> = mailboxes.keys().copied().collect();
    // Spaces, each on a demo room of its own (Fran is a delegate of all).
    let rooms = spaces_on_rooms(backend, space_count).await;
    let spaces: Vec<i64> = rooms.keys().copied().collect();

    env.emu
        .update_settings(|s| s.concurrency_retry_after_secs = 0.8);
    env.emu.set_faults(soak_faults(0.2, seed));
    env.emu.clear_requests();

    // Two workers per instance, as a server process runs. Another
    // instance is another Backend on the same database: its own limiter,
    // sync state and HTTP clients.
    let mut workers = vec![];
    for instance in 0..instances {
        let backend = if instance == 0 {
            backend.clone()
        } else {
            Backend::new(
                backend.db.clone(),
                (*backend.settings).clone(),
                test_vault(),
            )
        };
        for i in 0..2 {
            let worker = Worker::new(backend.clone(), format!("soak-{instance}-{i}"));
            workers.push(tokio::spawn(worker.run()));
        }
    }

    let started = Instant::now();
    let mut rng = StdRng::seed_from_u64(seed);
    let mut slots = Slots::new();
    let mut space_slots: HashMap<i64, Slots> =
        spaces.iter().map(|&id| (id, Slots::new())).collect();
    let mut active: Vec<Record> = vec![];
    let (mut created, mut moved, mut cancelled) = (0, 0, 0);
    for n in 0..ops {
        let roll: f64 = rng.r#gen();
        let patron = format!("Soak patron {n}");
        if active.len() < 5 || roll < 0.5 {
            let record = if !spaces.is_empty() && rng.gen_bool(1.0 / 3.0) {
                let space = spaces[rng.gen_range(0..spaces.len())];
                let at = space_slots.get_mut(&space).unwrap().take();
                Record::Booking(book_space(backend, space, &patron, at).await, space)
            } else {
                let who = staff[rng.gen_range(0..staff.len())];
                Record::Appointment(book(backend, who, &patron, slots.take()).await)
            };
            active.push(record);
            created += 1;
        } else if roll < 0.8 {
            match active[rng.gen_range(0..active.len())] {
                Record::Appointment(id) => move_to(backend, id, slots.take()).await,
                Record::Booking(id, space) => {
                    let at = space_slots.get_mut(&space).unwrap().take();
                    bookings::move_booking(&backend.db, id, at, 1, Utc::now())
                        .await
                        .expect("a free slot");
                }
            }
            moved += 1;
        } else {
            match active.swap_remove(rng.gen_range(0..active.len())) {
                Record::Appointment(id) => cancel(backend, id).await,
                Record::Booking(id, _) => {
                    bookings::cancel(&backend.db, id, Utc::now())
                        .await
                        .expect("an active booking");
                }
            }
            cancelled += 1;
        }
        backend.sync.wake();
        // The operations arrive over time, while the workers run.
        if n % 20 == 0 {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }
    let enqueued = started.elapsed();
    let limit = Duration::from_secs(120).max(Duration::from_millis(40 * ops as u64));
    let not_done = drain(backend, limit).await;
    let drained = started.elapsed();
    for w in &workers {
        w.abort();
    }
    let stats = env.emu.stats();
    let requests = env.emu.requests().len();
    if std::env::var_os("SOAK_DEBUG").is_some() {
        let log = env.emu.requests();
        let mut shown = 0;
        for (i, e) in log.iter().enumerate() {
            let ra = match (e.status, e.fault.as_deref()) {
                (429, Some("MailboxConcurrency")) => 800,
                (429, _) | (503, _) => 1200,
                _ => continue,
            };
            for f in &log[i + 1..] {
                if f.mailbox == e.mailbox
                    && f.at > e.at
                    && f.at < e.at + TimeDelta::milliseconds(ra)
                {
                    if shown < 30 {
                        println!(
                            "after {} {:?} {} {} at {}: {} {} {} {:?} +{}ms",
                            e.status,
                            e.fault,
                            e.method,
                            e.path,
                            e.at.format("%H:%M:%S%.3f"),
                            f.method,
                            f.path,
                            f.status,
                            f.fault,
                            (f.at - e.at).num_milliseconds()
                        );
                    }
                    shown += 1;
                }
            }
        }
        println!("{shown} requests inside a Retry-After");
    }
    env.emu.clear_faults();
    let staff_tally = tally(backend, &env.emu, &mailboxes).await;
    let room_tally = room_tally(backend, &env.emu, &rooms).await;
    let bookings_made = backend::entities::space_booking::Entity::find()
        .count(&backend.db)
        .await
        .unwrap();
    let all_jobs = jobs(backend).await;
    let attempts: i64 = all_jobs.iter().map(|j| j.attempts as i64).sum();

    println!(
        "fault soak: {ops} operations ({created} created, {moved} moved, {cancelled} cancelled) \
         for {} staff and {} spaces on rooms ({bookings_made} space bookings) on {engine}, \
         {instances} instance(s) x 2 workers, fault rate 20 %, seed {seed}",
        staff.len(),
        spaces.len(),
    );
    println!(
        "  enqueued in {:.1} s, drained in {:.1} s; {} jobs, {attempts} attempts; \
         {requests} Graph requests, {} faults injected, {} throttled (429), max {} in flight",
        enqueued.as_secs_f64(),
        drained.as_secs_f64(),
        all_jobs.len(),
        stats.faults_injected,
        stats.throttled,
        stats.max_in_flight,
    );
    for (what, tally) in [("staff", &staff_tally), ("rooms", &room_tally)] {
        println!("  {what}: {tally}");
    }
    println!(
        "  early retries {} (of them repeats of the throttled request {}; crossed on the wire {}), \
         jobs not done {}",
        stats.early_retries,
        stats.early_repeats,
        stats.crossed_retry_after,
        not_done.len(),
    );
    for j in not_done.iter().take(5) {
        println!(
            "  not done: job {} {} ({}): {:?}",
            j.id, j.kind, j.status, j.last_error
        );
    }
    assert_eq!(
        (
            staff_tally.lost() + room_tally.lost(),
            staff_tally.duplicated() + room_tally.duplicated(),
            stats.early_retries
        ),
        (0, 0, 0),
        "lost, duplicated, early retries: {staff_tally:?} {room_tally:?}; {stats:?}"
    );
    assert!(
        spaces.is_empty() || bookings_made > 0,
        "the soak booked spaces"
    );
    assert!(not_done.is_empty(), "jobs not done: {}", not_done.len());
    assert_eq!(stats.concurrency_rejections, 0, "{stats:?}");
}

/// What an operation can change: an appointment, or a space booking
/// (with its space).
#[derive(Clone, Copy)]
enum Record {
    Appointment(i64),
    Booking(i64, i64),
}

/// `n` spaces, each connected to a demo room of its own through Fran's
/// delegate authorization: space id → (space name, room address).
async fn spaces_on_rooms(backend: &backend::Backend, n: usize) -> HashMap<i64, (String, String)> {
    let mut rooms = HashMap::new();
    for room in DEMO.rooms.iter().take(n) {
        let name = format!("Soak {}", room.display_name);
        // A year ahead: the long soak moves bookings to fresh slots often.
        let space = new_space_for_days(backend, &name, 366).await;
        let outcome = authorize_room(
            backend,
            space,
            DEMO.facilities.upn,
            DEMO.facilities.password,
        )
        .await;
        assert!(
            matches!(
                outcome,
                backend::rooms::RoomCallbackOutcome::Authorized { .. }
            ),
            "{outcome:?}"
        );
        backend::rooms::pick_room(backend, space, room.address, Utc::now())
            .await
            .expect("Fran is a delegate of every demo room");
        rooms.insert(space, (name, room.address.to_owned()));
    }
    rooms
}

async fn book_space(
    backend: &backend::Backend,
    space: i64,
    patron: &str,
    at: DateTime<Utc>,
) -> i64 {
    bookings::book(
        &backend.db,
        &BookingRequest {
            space_id: space,
            starts_at: at,
            slots: 1,
            patron_name: patron,
            patron_email: "patron@example.org",
            created_by: None,
        },
        Utc::now(),
    )
    .await
    .expect("a free slot")
    .id
}
