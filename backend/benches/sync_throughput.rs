//! Prints (1) booking-commit → event-created latency, p50 and p99, on
//! loopback against the emulator, and (2) the time to sync 2,000
//! appointments for 20 staff while the emulator enforces 4 requests in
//! flight per mailbox and answers each in 50 ms, as a ratio to the bound
//! 2000 / (20 × 4) × 50 ms (the median of three drains, each printed).
//! Targets: p99 ≤ 300 ms; ratio ≤ 1.1.
//!
//! `cargo bench -p backend --bench sync_throughput` (SQLite; set
//! `CALBRIDGE_BENCH_POSTGRES_URL` to an admin URL, as for the tests, to
//! run on scratch PostgreSQL databases instead).

#[path = "../tests/sync_support/mod.rs"]
mod sync_support;

use std::time::{Duration, Instant};

use backend::sync::spawn_workers;
use chrono::{Duration as ChronoDuration, Utc};
use emulator::faults::FaultConfig;
use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter};
use sync_support::*;

const LATENCY_SAMPLES: usize = 200;
const STAFF: usize = 20;
const PER_STAFF: usize = 100;
const GRAPH_MS: u64 = 50;

#[tokio::main(flavor = "multi_thread")]
async fn main() {
    if std::env::var_os("CALBRIDGE_BENCH_RAW").is_some() {
        raw().await;
        return;
    }
    let mut ok = true;
    if std::env::var_os("CALBRIDGE_BENCH_SKIP_LATENCY").is_none() {
        ok &= latency().await;
    }
    calibrate().await;
    ok &= throughput().await;
    if !ok {
        std::process::exit(1);
    }
}

/// The throttle bound: 2,000 creates / (20 mailboxes × 4 in flight) ×
/// the emulator's time per request.
fn bound(graph_ms: u64) -> Duration {
    Duration::from_millis(graph_ms.max(1)) * (STAFF * PER_STAFF) as u32 / (STAFF as u32 * 4)
}

fn missed(ok: bool) -> &'static str {
    if ok { "" } else { " MISSED" }
}

/// The emulator stands for Microsoft, a service on other machines: it
/// runs on a runtime with threads of its own, as it would in its own
/// process. On the runtime the engine (and the load) uses, the timers that
/// play Graph's 50 ms per request fired late whenever the workers were
/// busy, and the figure measured the emulator's lateness, not Calbridge.
/// Four threads, not two: the mailboxes' requests arrive in bursts (all
/// 80 slots finish within moments of each other), and with two threads
/// the emulator's own work queued each burst for ~3 ms, which the raw
/// floor below showed as 1.12-1.14 with one thread, 1.07-1.08 with two
/// or four; the engine's figure fell from ~1.12 to ~1.10 with four.
/// Microsoft does not share our two cores; the fewer of its delays the
/// figure holds, the more it says about Calbridge.
fn emulator_apart() -> emulator::EmulatorHandle {
    std::thread::spawn(|| {
        let runtime: &'static tokio::runtime::Runtime = Box::leak(Box::new(
            tokio::runtime::Builder::new_multi_thread()
                .worker_threads(env_number("CALBRIDGE_BENCH_EMULATOR_THREADS", 4usize))
                .thread_name("emulator")
                .enable_all()
                .build()
                .expect("a runtime for the emulator"),
        ));
        runtime
            .block_on(emulator::Emulator::start(emulator::EmulatorConfig::demo()))
            .expect("emulator starts")
    })
    .join()
    .expect("the emulator's thread")
}

async fn database() -> (sea_orm::DatabaseConnection, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let url = match std::env::var("CALBRIDGE_BENCH_POSTGRES_URL") {
        Ok(admin_url) => sync_support::scratch::create_database(&admin_url).await,
        Err(_) => format!("sqlite://{}/bench.db?mode=rwc", dir.path().display()),
    };
    let db = backend::db::connect(&url).await.expect("connect");
    backend::db::migrate(&db).await.expect("migrate");
    (db, dir)
}

/// Prints the latency; whether it meets its target.
async fn latency() -> bool {
    let (db, _dir) = database().await;
    let env = env_with(db, emulator_apart()).await;
    connect(&env.backend, env.staff_id, SAM).await;
    let workers = spawn_workers(&env.backend, 2);
    let mut samples = Vec::with_capacity(LATENCY_SAMPLES);
    for i in 0..LATENCY_SAMPLES {
        let start = Utc::now() + ChronoDuration::hours(24 + i as i64);
        let before = env.emu.events(SAM).len();
        book(&env.backend, env.staff_id, &format!("Patron {i}"), start).await;
        let committed = Instant::now();
        env.backend.sync.wake();
        while env.emu.events(SAM).len() == before {
            assert!(committed.elapsed() < Duration::from_secs(10), "no event");
            tokio::time::sleep(Duration::from_micros(500)).await;
        }
        samples.push(committed.elapsed());
    }
    for w in workers {
        w.abort();
    }
    samples.sort();
    let p = |q: f64| samples[((samples.len() as f64 * q).ceil() as usize).min(samples.len()) - 1];
    let ok = p(0.99) <= Duration::from_millis(300);
    println!(
        "booking-commit -> event-created latency over {LATENCY_SAMPLES} bookings: p50 {:.1} ms, p99 {:.1} ms (target p99 <= 300 ms){}",
        p(0.50).as_secs_f64() * 1000.0,
        p(0.99).as_secs_f64() * 1000.0,
        missed(ok)
    );
    ok
}

/// Prints what one create costs against the emulator when nothing else
/// runs: the instrument's own error, apart from Calbridge. The bound below
/// assumes exactly `GRAPH_MS` per request.
async fn calibrate() {
    let (db, _dir) = database().await;
    let env = env_with(db, emulator_apart()).await;
    let connection = connect(&env.backend, env.staff_id, SAM).await;
    let token = backend::connections::access_token(&env.backend, connection.id, None, "bench")
        .await
        .expect("a token");
    let graph_ms = env_number("CALBRIDGE_BENCH_GRAPH_MS", GRAPH_MS);
    env.emu.set_faults(FaultConfig {
        latency_ms: graph_ms,
        ..FaultConfig::default()
    });
    let mut taken = Vec::new();
    for i in 0..20 {
        let body = serde_json::json!({"subject": format!("calibration {i}"),
            "start": {"dateTime": "2026-12-01T10:00:00", "timeZone": "UTC"},
            "end": {"dateTime": "2026-12-01T10:30:00", "timeZone": "UTC"}});
        let sent = Instant::now();
        env.backend
            .graph
            .create_event(&token.token, &body)
            .await
            .expect("a create");
        taken.push(sent.elapsed());
    }
    taken.sort();
    println!(
        "emulator alone: one create takes min {:.2} / median {:.2} / max {:.2} ms from send to answer (latency set to {graph_ms} ms)",
        taken[0].as_secs_f64() * 1000.0,
        taken[taken.len() / 2].as_secs_f64() * 1000.0,
        taken[taken.len() - 1].as_secs_f64() * 1000.0,
    );
}

/// Syncs the 2,000 appointments `CALBRIDGE_BENCH_DRAINS` times (3), each
/// on a fresh database and emulator, prints each drain, and judges the
/// median. One drain's ratio moves by ±0.02 from run to run on these
/// 2-core machines (the emulator, the engine and SQLite share the cores
/// with whatever else runs), which is the size of the margin being judged;
/// the median of three says what a single run only suggests.
async fn throughput() -> bool {
    let drains = env_number("CALBRIDGE_BENCH_DRAINS", 3usize).max(1);
    let mut ratios = Vec::with_capacity(drains);
    for n in 1..=drains {
        ratios.push(drain_once(n, drains).await);
    }
    let each: Vec<String> = ratios.iter().map(|r| format!("{r:.3}")).collect();
    ratios.sort_by(f64::total_cmp);
    let median = ratios[ratios.len() / 2];
    let ok = median <= 1.1;
    println!(
        "bulk sync, {} appointments for {STAFF} staff: ratio {median:.3}, the median of {drains} drains ({}) (target <= 1.1){}",
        STAFF * PER_STAFF,
        each.join(", "),
        missed(ok)
    );
    ok
}

/// One drain: prints its time against the bound; returns the ratio.
async fn drain_once(n: usize, drains: usize) -> f64 {
    let (db, _dir) = database().await;
    let env = env_with(db, emulator_apart()).await;
    // One process with room for every mailbox's 4 slots (20 × 4).
    let mut settings = (*env.backend.settings).clone();
    settings.sync.concurrency = env_number("CALBRIDGE_BENCH_CONCURRENCY", 128usize);
    let env = SyncEnv {
        backend: backend::Backend::new(env.backend.db.clone(), settings, test_vault()),
        ..env
    };
    let mut staff = vec![(env.staff_id, SAM.to_owned())];
    connect(&env.backend, env.staff_id, SAM).await;
    for n in 1..STAFF {
        let upn = format!("bench.staff{n}@contoso-library.onmicrosoft.com");
        env.emu.add_user(
            emulator::DEMO.tenant_id,
            &upn,
            &format!("Bench {n}"),
            STAFF_PASSWORD,
            false,
        );
        let id = staff_member(&env.backend, &format!("bench{n}@calbridge.test")).await;
        connect(&env.backend, id, &upn).await;
        staff.push((id, upn));
    }
    // Book everything first (the jobs wait while sync is inactive), then
    // switch sync on and time the drain.
    let mut settings = backend::integration::load(&env.backend.db).await.unwrap();
    settings.active = false;
    backend::integration::store::write(&env.backend.db, &settings)
        .await
        .unwrap();
    for i in 0..PER_STAFF {
        for (id, _) in &staff {
            let start = Utc::now() + ChronoDuration::hours(24 + i as i64);
            book(&env.backend, *id, &format!("Patron {i}"), start).await;
        }
    }
    let graph_ms = env_number("CALBRIDGE_BENCH_GRAPH_MS", GRAPH_MS);
    env.emu.set_faults(FaultConfig {
        latency_ms: graph_ms,
        ..FaultConfig::default()
    });
    let workers = spawn_workers(&env.backend, env_number("CALBRIDGE_BENCH_WORKERS", 2usize));
    env.emu.clear_requests();
    // Subscribed before activation, so no job's end is missed.
    let mut ends = env.backend.sync.changes.subscribe();
    let cpu_before = thread_cpu();
    let started = Instant::now();
    let started_at = Utc::now();
    settings.active = true;
    backend::integration::store::write(&env.backend.db, &settings)
        .await
        .unwrap();
    env.backend.sync.wake();
    let total = STAFF * PER_STAFF;
    let took = wait_for_drain(&env.backend, &mut ends, total, started).await;
    for w in workers {
        w.abort();
    }
    if std::env::var_os("CALBRIDGE_BENCH_TRACE").is_some() {
        trace(&env.emu.requests(), started_at, took, graph_ms);
        print_cpu(&cpu_before, &thread_cpu(), took);
    }
    let created: usize = staff.iter().map(|(_, upn)| env.emu.events(upn).len()).sum();
    assert_eq!(created, total, "every appointment is in its mailbox, once");
    let bound = bound(graph_ms);
    let stats = env.emu.stats();
    let ratio = took.as_secs_f64() / bound.as_secs_f64();
    println!(
        "drain {n} of {drains}: synced {total} appointments for {STAFF} staff in {:.3} s; bound {:.3} s; ratio {ratio:.3}; max in flight per mailbox {}, concurrency rejections {}",
        took.as_secs_f64(),
        bound.as_secs_f64(),
        stats.max_in_flight,
        stats.concurrency_rejections
    );
    ratio
}

/// Waits until every job is done; returns the time from `started` to the
/// last job's end.
///
/// Each job publishes one change when its end is committed, so the ends
/// are counted from those signals (a lagging receiver is told how many it
/// missed), and the outbox is read only to confirm. Counting the outbox's
/// done rows every few milliseconds instead, as this bench did before,
/// ran ~700 queries during a 1.4 s drain on SQLite's one connection
/// thread, in the way of the very claims and records being timed.
async fn wait_for_drain(
    backend: &backend::Backend,
    ends: &mut tokio::sync::broadcast::Receiver<backend::sync::Subject>,
    total: usize,
    started: Instant,
) -> Duration {
    use tokio::sync::broadcast::error::RecvError;
    let mut ended = 0usize;
    loop {
        match tokio::time::timeout(Duration::from_millis(500), ends.recv()).await {
            Ok(Ok(_)) => ended += 1,
            Ok(Err(RecvError::Lagged(missed))) => ended += missed as usize,
            Ok(Err(RecvError::Closed)) => panic!("the change signals stopped"),
            // Quiet for a while: look at the outbox whatever the count.
            Err(_) => ended = ended.max(total),
        }
        if ended < total {
            continue;
        }
        let at = started.elapsed();
        let done = backend::entities::outbox::Entity::find()
            .filter(backend::entities::outbox::Column::Status.eq("done"))
            .count(&backend.db)
            .await
            .unwrap() as usize;
        if done >= total {
            return at;
        }
        assert!(
            started.elapsed() < Duration::from_secs(300),
            "stalled at {done}"
        );
        ended = done;
    }
}

/// Diagnostics: where the drain's time went, from the emulator's request
/// log (arrival times): the start-up before the first create, the span of
/// each mailbox's creates, and the end after the last answer.
fn trace(
    log: &[emulator::control::LogEntry],
    started: chrono::DateTime<Utc>,
    took: Duration,
    graph_ms: u64,
) {
    let creates: Vec<_> = log.iter().filter(|e| e.method == "POST").collect();
    let ms = |d: chrono::TimeDelta| d.num_microseconds().unwrap_or(0) as f64 / 1000.0;
    let (Some(first), Some(last)) = (
        creates.iter().map(|e| e.at).min(),
        creates.iter().map(|e| e.at).max(),
    ) else {
        return;
    };
    let mut spans = Vec::new();
    for mailbox in creates
        .iter()
        .filter_map(|e| e.mailbox.clone())
        .collect::<std::collections::HashSet<_>>()
    {
        let at: Vec<_> = creates
            .iter()
            .filter(|e| e.mailbox.as_ref() == Some(&mailbox))
            .map(|e| e.at)
            .collect();
        let span = *at.iter().max().unwrap() - *at.iter().min().unwrap();
        spans.push(ms(span) + graph_ms as f64);
    }
    spans.sort_by(f64::total_cmp);
    println!(
        "trace: {} creates; first {:.1} ms after activation; last sent at {:.1} ms; drain seen at {:.1} ms; per-mailbox span min {:.1} / median {:.1} / max {:.1} ms",
        creates.len(),
        ms(first - started),
        ms(last - started),
        took.as_secs_f64() * 1000.0,
        spans[0],
        spans[spans.len() / 2],
        spans[spans.len() - 1],
    );
}

/// Diagnostics for `$batch`: the same creates, four to a `$batch` per
/// mailbox (the four sub-requests count against its 4 in flight, so one
/// batch at a time). Measured here: ratio 1.17-1.20, against 1.07-1.08 for
/// single requests; the emulator runs a batch's parts as separate tasks
/// and the whole batch waits for its slowest part. The engine therefore
/// sends single requests.
async fn raw_batches(
    graph: &backend::microsoft::GraphClient,
    tokens: Vec<secrecy::SecretString>,
    graph_ms: u64,
) {
    let started = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for token in tokens {
        let graph = graph.clone();
        tasks.spawn(async move {
            for round in 0..PER_STAFF / 4 {
                let requests: Vec<_> = (0..4)
                    .map(|k| {
                        serde_json::json!({"id": k.to_string(), "method": "POST", "url": "/me/events",
                        "headers": {"Content-Type": "application/json"},
                        "body": {"subject": format!("raw {round}/{k}"),
                            "start": {"dateTime": "2026-12-01T10:00:00", "timeZone": "UTC"},
                            "end": {"dateTime": "2026-12-01T10:30:00", "timeZone": "UTC"}}})
                    })
                    .collect();
                let body = serde_json::json!({ "requests": requests });
                let answer = graph
                    .request(reqwest::Method::POST, "/$batch", &token, Some(&body))
                    .await
                    .expect("the batch is answered");
                let created = answer["responses"]
                    .as_array()
                    .map(|r| r.iter().filter(|r| r["status"] == 201).count());
                assert_eq!(created, Some(4), "{answer}");
            }
        });
    }
    while tasks.join_next().await.is_some() {}
    let took = started.elapsed();
    let bound = bound(graph_ms);
    println!(
        "raw $batch: {} creates, 4 per batch per mailbox: {:.3} s (bound {:.3} s, ratio {:.3})",
        STAFF * PER_STAFF,
        took.as_secs_f64(),
        bound.as_secs_f64(),
        took.as_secs_f64() / bound.as_secs_f64()
    );
}

/// CPU time (clock ticks) per thread name, from /proc (Linux only).
fn thread_cpu() -> std::collections::BTreeMap<String, u64> {
    let mut by_name = std::collections::BTreeMap::new();
    let Ok(tasks) = std::fs::read_dir("/proc/self/task") else {
        return by_name;
    };
    for task in tasks.flatten() {
        let Ok(stat) = std::fs::read_to_string(task.path().join("stat")) else {
            continue;
        };
        // "pid (comm) state ... utime stime": comm may hold spaces.
        let (Some(open), Some(close)) = (stat.find('('), stat.rfind(')')) else {
            continue;
        };
        let name: String = stat[open + 1..close]
            .trim_end_matches(|c: char| c.is_ascii_digit() || c == '-')
            .to_owned();
        let fields: Vec<&str> = stat[close + 2..].split(' ').collect();
        let ticks: u64 = fields.get(11).and_then(|v| v.parse().ok()).unwrap_or(0)
            + fields.get(12).and_then(|v| v.parse().ok()).unwrap_or(0);
        *by_name.entry(name).or_default() += ticks;
    }
    by_name
}

fn print_cpu(
    before: &std::collections::BTreeMap<String, u64>,
    after: &std::collections::BTreeMap<String, u64>,
    took: Duration,
) {
    let parts: Vec<String> = after
        .iter()
        .map(|(name, t)| (name, t - before.get(name).copied().unwrap_or(0).min(*t)))
        .filter(|(_, t)| *t > 0)
        .map(|(name, t)| format!("{name} {:.0} ms", t as f64 * 10.0))
        .collect();
    let total: u64 =
        after.values().sum::<u64>() - before.values().sum::<u64>().min(after.values().sum());
    println!(
        "cpu during the drain: {:.0} ms of {:.0} ms wall ({:.2} cores): {}",
        total as f64 * 10.0,
        took.as_secs_f64() * 1000.0,
        total as f64 * 10.0 / (took.as_secs_f64() * 1000.0),
        parts.join(", ")
    );
}

/// Diagnostics: the floor this machine allows. The same 2,000 creates
/// for 20 mailboxes, 4 at a time each, at the same emulator latency,
/// straight through the Graph client: no outbox, no database.
async fn raw() {
    let (db, _dir) = database().await;
    let env = env_with(db, emulator_apart()).await;
    let mut tokens = Vec::new();
    for n in 0..STAFF {
        let upn = if n == 0 {
            SAM.to_owned()
        } else {
            let upn = format!("bench.staff{n}@contoso-library.onmicrosoft.com");
            env.emu.add_user(
                emulator::DEMO.tenant_id,
                &upn,
                &format!("Bench {n}"),
                STAFF_PASSWORD,
                false,
            );
            upn
        };
        let id = if n == 0 {
            env.staff_id
        } else {
            staff_member(&env.backend, &format!("bench{n}@calbridge.test")).await
        };
        let c = connect(&env.backend, id, &upn).await;
        let token = backend::connections::access_token(&env.backend, c.id, None, "raw")
            .await
            .unwrap();
        tokens.push(token.token);
    }
    let graph_ms = env_number("CALBRIDGE_BENCH_GRAPH_MS", GRAPH_MS);
    env.emu.set_faults(FaultConfig {
        latency_ms: graph_ms,
        ..FaultConfig::default()
    });
    if std::env::var("CALBRIDGE_BENCH_RAW").as_deref() == Ok("batch") {
        raw_batches(&env.backend.graph, tokens, graph_ms).await;
        return;
    }
    let cpu_before = thread_cpu();
    let started = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    let spent = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    for token in tokens {
        let sem = std::sync::Arc::new(tokio::sync::Semaphore::new(4));
        for i in 0..PER_STAFF {
            let graph = env.backend.graph.clone();
            let token = token.clone();
            let sem = sem.clone();
            let spent = spent.clone();
            tasks.spawn(async move {
                let _p = sem.acquire().await.unwrap();
                let sent = Instant::now();
                let body = serde_json::json!({"subject": format!("raw {i}"),
                    "start": {"dateTime": "2026-12-01T10:00:00", "timeZone": "UTC"},
                    "end": {"dateTime": "2026-12-01T10:30:00", "timeZone": "UTC"}});
                graph.create_event(&token, &body).await.unwrap();
                spent.lock().unwrap().push(sent.elapsed());
            });
        }
    }
    while tasks.join_next().await.is_some() {}
    let took = started.elapsed();
    print_cpu(&cpu_before, &thread_cpu(), took);
    let spent = spent.lock().unwrap();
    let mean = spent.iter().sum::<Duration>() / spent.len() as u32;
    println!(
        "raw: one create takes {:.1} ms on average from send to answer (the emulator waits {graph_ms} ms)",
        mean.as_secs_f64() * 1000.0
    );
    let bound = bound(graph_ms);
    println!(
        "raw: {} creates for {STAFF} mailboxes, 4 at a time each, straight through the Graph client: {:.3} s (bound {:.3} s, ratio {:.2})",
        STAFF * PER_STAFF,
        took.as_secs_f64(),
        bound.as_secs_f64(),
        took.as_secs_f64() / bound.as_secs_f64()
    );
}
