//! Prints room-event → space-unavailable latency as a browser sees it:
//! a page holds the space's status stream open and, on each push, reads
//! the slots again (what the space page does). Measured from the moment an
//! event is placed on the room "in Outlook" (the emulator's control API)
//! to the moment the slot reads unavailable, p50 and p99, in both modes:
//! - delegated: the room is polled every `POLL_SECS`; target p99 ≤ poll
//!   interval + 1 s. Each event is placed at a random moment of the poll
//!   cycle, as changes in Outlook come: placed at once after the previous
//!   sample was seen (just after a poll), every sample waited a whole
//!   interval, and the p50 read like the worst case;
//! - application: Graph notifies the webhook; target p99 ≤ 2 s.
//!
//! `cargo bench -p server --features app/ssr --bench room_latency`
//! (SQLite; `CALBRIDGE_BENCH_SAMPLES` changes the 20 samples per mode).

#[path = "../tests/support/mod.rs"]
mod support;

use std::time::{Duration, Instant};

use chrono::{NaiveTime, TimeDelta, TimeZone, Utc};
use chrono_tz::Europe::London;
use serde_json::json;
use support::live::{EventStream, free_at};
use support::rooms::{ADMIN, SEMINAR, connected_space, set_up_application};
use support::{Db, TestApp, client, post, signed_in, spawn_reachable_app};

const POLL_SECS: u64 = 2;

#[tokio::main(flavor = "multi_thread")]
async fn main() {
    let samples: usize = std::env::var("CALBRIDGE_BENCH_SAMPLES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(20);
    let delegated = spawn_reachable_app(Db::Sqlite, |f| {
        f.merge(("sync.room_poll_interval_secs", POLL_SECS))
    })
    .await
    .expect("a server");
    let space_id = connected_space(&delegated).await;
    let target = Duration::from_secs(POLL_SECS + 1);
    let ok_delegated = report(
        &format!("delegated (poll every {POLL_SECS} s)"),
        measure(
            &delegated,
            space_id,
            samples,
            Some(Duration::from_secs(POLL_SECS)),
        )
        .await,
        target,
    );

    let application = spawn_reachable_app(Db::Sqlite, |f| {
        f.merge(("sync.room_mode", "application"))
            .merge(("sync.http_notifications", true))
            // Slow polling: what arrives in time came by notification.
            .merge(("sync.room_poll_interval_secs", 60))
    })
    .await
    .expect("a server");
    let space_id = set_up_application(&application).await;
    let admin = signed_in(&application, ADMIN).await;
    let (status, body) = post(
        &admin,
        &application,
        "pick_room",
        &[
            ("space_id", space_id.to_string()),
            ("address", SEMINAR.to_owned()),
        ],
    )
    .await;
    assert!(status.is_success(), "{body}");
    let ok_application = report(
        "application (change notifications)",
        measure(&application, space_id, samples, None).await,
        Duration::from_secs(2),
    );
    if !(ok_delegated && ok_application) {
        std::process::exit(1);
    }
}

/// `samples` room events, each on its own slot of the coming days; with a
/// `poll` interval, each placed after a random part of it.
async fn measure(
    app: &TestApp,
    space_id: i64,
    samples: usize,
    poll: Option<Duration>,
) -> Vec<Duration> {
    let path = format!("/events/spaces/{space_id}/sync");
    let mut page = EventStream::open(&client(), app, &path).await;
    page.next(Duration::from_secs(10))
        .await
        .expect("a first status");
    // Let the first read of the room settle.
    while page
        .next(Duration::from_secs(POLL_SECS + 1))
        .await
        .is_some()
    {}
    let mut taken = Vec::with_capacity(samples);
    for i in 0..samples {
        let day =
            Utc::now().with_timezone(&London).date_naive() + TimeDelta::days(1 + (i / 8) as i64);
        let local = day.and_time(NaiveTime::from_hms_opt(9 + (i % 8) as u32, 0, 0).unwrap());
        let start = London
            .from_local_datetime(&local)
            .earliest()
            .unwrap()
            .with_timezone(&Utc);
        let date = day.format("%Y-%m-%d").to_string();
        let fmt = |t: chrono::DateTime<Utc>| t.format("%Y-%m-%dT%H:%M:%S").to_string();
        assert!(
            free_at(app, space_id, &date, start).await,
            "sample {i} starts free"
        );
        if let Some(poll) = poll {
            tokio::time::sleep(poll.mul_f64(rand::random::<f64>())).await;
        }
        let placed = Instant::now();
        app.emulator()
            .outlook_create(
                SEMINAR,
                &json!({
                    "subject": format!("Bench {i}"),
                    "start": {"dateTime": fmt(start), "timeZone": "UTC"},
                    "end": {"dateTime": fmt(start + TimeDelta::minutes(30)), "timeZone": "UTC"},
                    "showAs": "busy",
                }),
            )
            .unwrap();
        loop {
            page.next(Duration::from_secs(POLL_SECS * 10))
                .await
                .expect("a push after the room changed");
            if !free_at(app, space_id, &date, start).await {
                break;
            }
        }
        taken.push(placed.elapsed());
    }
    taken
}

fn report(mode: &str, mut samples: Vec<Duration>, target: Duration) -> bool {
    samples.sort();
    let p =
        |q: f64| samples[((samples.len() as f64 * q).ceil() as usize).clamp(1, samples.len()) - 1];
    let p99 = p(0.99);
    let ok = p99 <= target;
    println!(
        "room event -> space unavailable in an open page, {mode}, {} samples: p50 {:.0} ms, p99 {:.0} ms (target p99 <= {} ms){}",
        samples.len(),
        p(0.5).as_secs_f64() * 1000.0,
        p99.as_secs_f64() * 1000.0,
        target.as_millis(),
        if ok { "" } else { " MISSED" }
    );
    ok
}
