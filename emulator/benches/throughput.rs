//! How many Graph requests per second the emulator serves on loopback.
//!
//! `cargo bench -p emulator` (release build). Starts the emulator
//! in-process on 127.0.0.1:0, gives each worker its own room mailbox (so
//! Graph's 4-per-mailbox concurrency limit never answers 429), and drives
//! it with reqwest for `BENCH_SECS` seconds per scenario (default 3) with
//! `BENCH_WORKERS` workers (default 16). Prints requests/s, p50 and p99.
//! The 10,000-requests-per-10-minutes limit is lifted for the run: it
//! would otherwise be what is measured.

// The integration tests' helpers (token requests against the demo tenant).
#[path = "../tests/common/mod.rs"]
mod common;

use std::time::{Duration, Instant};

use emulator::state::SignInAudience;
use emulator::{DEMO, Emulator, EmulatorConfig, EmulatorHandle, NewApp};
use serde_json::{Value, json};

#[derive(Clone, Copy, Debug)]
enum Scenario {
    /// `GET /users/{room}/events/{id}`
    GetEvent,
    /// `GET /users/{room}/calendarView` over a week with 20 events.
    CalendarView,
    /// `POST /users/{room}/events` with a fresh transactionId.
    CreateEvent,
}

fn env_or(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

#[tokio::main]
async fn main() {
    let secs = env_or("BENCH_SECS", 3);
    let workers = env_or("BENCH_WORKERS", 16) as usize;
    let emu = Emulator::start(EmulatorConfig::demo())
        .await
        .expect("start");
    emu.update_settings(|s| s.mailbox_request_limit = usize::MAX);
    let token = app_token(&emu).await;
    let rooms: Vec<(String, String)> = (0..workers).map(|i| room_with_events(&emu, i)).collect();
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(workers)
        .build()
        .unwrap();
    println!(
        "emulator throughput on {} ({workers} workers, {secs} s per scenario)",
        emu.base_url()
    );
    for scenario in [
        Scenario::GetEvent,
        Scenario::CalendarView,
        Scenario::CreateEvent,
    ] {
        run(
            &emu,
            &client,
            &token,
            &rooms,
            scenario,
            Duration::from_secs(secs),
        )
        .await;
    }
}

/// An app-only token with Calendars.ReadWrite (client credentials).
async fn app_token(emu: &EmulatorHandle) -> String {
    let mut app = NewApp::web(
        "bench",
        DEMO.tenant_id,
        SignInAudience::AzureADMyOrg,
        "http://localhost/cb",
    );
    app.application_permissions = vec!["Calendars.ReadWrite".into()];
    app.admin_consent = true;
    let app = emu.register_app(app);
    let resp = common::client_credentials(emu, &app).await.unwrap();
    let status = resp.status();
    let body: Value = resp.json().await.unwrap();
    assert!(status.is_success(), "{body}");
    body["access_token"].as_str().unwrap().to_string()
}

/// A room for one worker, with 20 events in the week of 2030-06-03;
/// returns (address, id of one event).
fn room_with_events(emu: &EmulatorHandle, i: usize) -> (String, String) {
    let address = format!("bench.room{i}@{}", DEMO.tenant_domain);
    emu.add_room(DEMO.tenant_id, &address, &format!("Bench room {i}"), 6, &[]);
    let mut last = String::new();
    for n in 0..20 {
        let day = 3 + n % 5;
        let hour = 8 + n / 5 * 2;
        let ev = emu
            .outlook_create(
                &address,
                &json!({
                    "subject": format!("Booking {n}"),
                    "start": {"dateTime": format!("2030-06-{day:02}T{hour:02}:00:00"), "timeZone": "UTC"},
                    "end": {"dateTime": format!("2030-06-{day:02}T{:02}:00:00", hour + 1), "timeZone": "UTC"},
                }),
            )
            .unwrap();
        last = ev["id"].as_str().unwrap().to_string();
    }
    (address, last)
}

async fn run(
    emu: &EmulatorHandle,
    client: &reqwest::Client,
    token: &str,
    rooms: &[(String, String)],
    scenario: Scenario,
    length: Duration,
) {
    let graph = emu.graph_url();
    let deadline = Instant::now() + length;
    let started = Instant::now();
    let mut set = tokio::task::JoinSet::new();
    for (w, (room, event_id)) in rooms.iter().cloned().enumerate() {
        let client = client.clone();
        let token = token.to_string();
        let graph = graph.clone();
        set.spawn(async move {
            let mut latencies = Vec::new();
            let mut errors = 0u64;
            let mut n = 0u64;
            while Instant::now() < deadline {
                n += 1;
                let req = match scenario {
                    Scenario::GetEvent => client.get(format!("{graph}/users/{room}/events/{event_id}")),
                    Scenario::CalendarView => client.get(format!(
                        "{graph}/users/{room}/calendarView?startDateTime=2030-06-03T00:00:00Z&endDateTime=2030-06-10T00:00:00Z&$top=50"
                    )),
                    Scenario::CreateEvent => client
                        .post(format!("{graph}/users/{room}/events"))
                        .json(&json!({
                            "subject": "bench",
                            "transactionId": format!("bench-{w}-{n}"),
                            "start": {"dateTime": "2031-01-01T09:00:00", "timeZone": "UTC"},
                            "end": {"dateTime": "2031-01-01T10:00:00", "timeZone": "UTC"},
                        })),
                };
                let t = Instant::now();
                match req.bearer_auth(&token).send().await {
                    Ok(r) if r.status().is_success() => {
                        let _ = r.bytes().await;
                        latencies.push(t.elapsed());
                    }
                    _ => errors += 1,
                }
            }
            (latencies, errors)
        });
    }
    let mut all = Vec::new();
    let mut errors = 0;
    for (l, e) in set.join_all().await {
        all.extend(l);
        errors += e;
    }
    let elapsed = started.elapsed().as_secs_f64();
    all.sort();
    let pct = |p: f64| {
        all.get(((all.len() as f64 * p) as usize).min(all.len().saturating_sub(1)))
            .map(|d| d.as_secs_f64() * 1000.0)
            .unwrap_or(0.0)
    };
    println!(
        "{:<13} {:>8} ok {:>4} errors {:>9.0} req/s   p50 {:>6.2} ms   p99 {:>6.2} ms",
        format!("{scenario:?}"),
        all.len(),
        errors,
        all.len() as f64 / elapsed,
        pct(0.50),
        pct(0.99),
    );
}
