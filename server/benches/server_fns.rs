//! Prints p50/p99 of the settings and status server fns with 100
//! concurrent clients, each signed in as what the fn needs (admins read
//! the integration settings and the sync overview, staff their settings
//! and sync status, visitors a space's sync status), in two runs:
//!
//! - paced: each client calls every `CALBRIDGE_BENCH_PACE_MS` (200 ms:
//!   500 calls a second together, far above what people clicking make;
//!   the status pages themselves are pushed, not polled). Target:
//!   p99 ≤ 20 ms.
//! - saturation: each client calls again as soon as it has its answer.
//!   Latency is then the queue (clients ÷ throughput), so this run prints
//!   the throughput and is not judged.
//!
//! `cargo bench -p server --features app/ssr --bench server_fns`
//! (SQLite; `CALBRIDGE_BENCH_CLIENTS` and `CALBRIDGE_BENCH_CALLS` change
//! the 100 clients and 30 calls each). The load comes from the same
//! machine, so on a small one the figures include the clients' own time.

#[path = "../tests/support/mod.rs"]
mod support;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use support::{Db, TestApp, api_client, login, spawn_app};

const TARGET: Duration = Duration::from_millis(20);

/// (server fn, form, who calls it: None is a visitor).
type Call = (
    &'static str,
    &'static [(&'static str, &'static str)],
    Option<(&'static str, &'static str)>,
);

const ADMIN: Option<(&str, &str)> = Some(("admin@calbridge.test", "calbridge-admin"));
const STAFF: Option<(&str, &str)> = Some(("sam@calbridge.test", "calbridge-staff"));

const CALLS: &[Call] = &[
    ("integration_settings", &[], ADMIN),
    ("sync_overview", &[], ADMIN),
    ("my_staff_settings", &[], STAFF),
    ("my_sync_status", &[], STAFF),
    ("space_sync_status", &[("space_id", "1")], None),
];

/// A signed-in client and what it calls.
type Client = (
    &'static str,
    &'static [(&'static str, &'static str)],
    reqwest::Client,
);

#[tokio::main(flavor = "multi_thread")]
async fn main() {
    let clients = env_or("CALBRIDGE_BENCH_CLIENTS", 100);
    let calls = env_or("CALBRIDGE_BENCH_CALLS", 30);
    let pace = Duration::from_millis(env_or("CALBRIDGE_BENCH_PACE_MS", 200) as u64);
    let app = spawn_app(Db::Sqlite).await.expect("a server");
    let signed_in = sign_in(&app, clients).await;

    println!(
        "-- paced: {clients} clients, one call each every {} ms",
        pace.as_millis()
    );
    let (paced, _) = run(&app, &signed_in, calls, Some(pace)).await;
    let mut ok = true;
    for (name, times) in &paced {
        ok &= report(name, times.clone(), true);
    }
    let all: Vec<Duration> = paced.values().flatten().copied().collect();
    ok &= report(&format!("all, {clients} clients paced"), all, true);

    println!("-- saturation: {clients} clients, each calling again at once (not judged)");
    let (saturated, took) = run(&app, &signed_in, calls, None).await;
    let all: Vec<Duration> = saturated.values().flatten().copied().collect();
    let total = all.len();
    report(&format!("all, {clients} clients at saturation"), all, false);
    println!(
        "saturation throughput: {:.0} calls/s",
        total as f64 / took.as_secs_f64()
    );
    drop(app);
    if !ok {
        std::process::exit(1);
    }
}

/// Every client signs in before any call is timed.
async fn sign_in(app: &TestApp, clients: usize) -> Vec<Client> {
    let mut signed_in = Vec::new();
    for n in 0..clients {
        let (name, form, who) = CALLS[n % CALLS.len()];
        let client = api_client();
        if let Some((email, password)) = who {
            login(app, &client, email, password).await;
        }
        signed_in.push((name, form, client));
    }
    signed_in
}

/// `calls` calls by each client, all starting together (paced ones
/// spread over the first interval); the times by server fn, and how long
/// the whole run took.
async fn run(
    app: &TestApp,
    clients: &[Client],
    calls: usize,
    pace: Option<Duration>,
) -> (BTreeMap<&'static str, Vec<Duration>>, Duration) {
    let start = Arc::new(tokio::sync::Barrier::new(clients.len()));
    let mut tasks = Vec::new();
    for (n, (name, form, client)) in clients.iter().cloned().enumerate() {
        let url = app.url(&format!("/api/{name}"));
        let start = start.clone();
        let offset = pace.map(|p| p * n as u32 / clients.len() as u32);
        tasks.push(tokio::spawn(async move {
            start.wait().await;
            let mut ticks = pace.map(|p| {
                let mut i = tokio::time::interval_at(
                    tokio::time::Instant::now() + offset.unwrap_or_default(),
                    p,
                );
                i.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
                i
            });
            let mut times = Vec::with_capacity(calls);
            for _ in 0..calls {
                if let Some(ticks) = ticks.as_mut() {
                    ticks.tick().await;
                }
                let started = Instant::now();
                let r = client.post(&url).form(form).send().await.unwrap();
                assert!(r.status().is_success(), "{name}: {}", r.status());
                r.bytes().await.unwrap();
                times.push(started.elapsed());
            }
            (name, times)
        }));
    }
    let began = Instant::now();
    let mut by_fn: BTreeMap<&str, Vec<Duration>> = BTreeMap::new();
    for task in tasks {
        let (name, times) = task.await.unwrap();
        by_fn.entry(name).or_default().extend(times);
    }
    (by_fn, began.elapsed())
}

fn env_or(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn report(what: &str, mut samples: Vec<Duration>, judged: bool) -> bool {
    samples.sort();
    let p =
        |q: f64| samples[((samples.len() as f64 * q).ceil() as usize).clamp(1, samples.len()) - 1];
    let p99 = p(0.99);
    let ok = !judged || p99 <= TARGET;
    let target = if judged {
        format!(" (target p99 <= {} ms)", TARGET.as_millis())
    } else {
        String::new()
    };
    println!(
        "server fn {what}, {} calls: p50 {:.1} ms, p99 {:.1} ms{target}{}",
        samples.len(),
        p(0.5).as_secs_f64() * 1000.0,
        p99.as_secs_f64() * 1000.0,
        if ok { "" } else { " MISSED" }
    );
    ok
}
