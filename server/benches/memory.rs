//! Prints the resident memory of the real `calbridge` process (release
//! build, SQLite): idle with the integration active and nothing connected,
//! then with 1,000 staff calendars connected to the emulator, each with
//! its free/busy loop on and two appointments to write, while they sync. Targets: ≤ 40 MB idle, ≤ 150 MB with the calendars.
//! (The 500 connected rooms of the figure are not set up here yet.)
//!
//! `cargo bench -p server --features app/ssr --bench memory`
//! (`CALBRIDGE_BENCH_CALENDARS` and `CALBRIDGE_BENCH_ROOMS` change the
//! 1,000 and 500).

#[path = "../tests/process/mod.rs"]
mod process;
#[path = "../../backend/tests/sync_support/mod.rs"]
mod sync_support;

use std::time::Duration;

use backend::rooms::{self, RoomCallbackOutcome};
use chrono::Utc;
use emulator::DEMO;
use process::Server;
use sync_support::*;

const FRAN: (&str, &str) = (
    "fran.facilities@contoso-library.onmicrosoft.com",
    "Rooms-Pass-2024!",
);

/// Every calendar's free/busy and every room read within the measuring.
const SETTINGS: &[(&str, &str)] = &[
    ("CALBRIDGE_SYNC__FREE_BUSY_INTERVAL_SECS", "10"),
    ("CALBRIDGE_SYNC__ROOM_POLL_INTERVAL_SECS", "10"),
    ("RUST_LOG", "warn"),
];

const IDLE_TARGET_MB: u64 = 40;
const LOADED_TARGET_MB: u64 = 150;

#[tokio::main(flavor = "multi_thread")]
async fn main() {
    let calendars = env_number("CALBRIDGE_BENCH_CALENDARS", 1000usize);
    let rooms = env_number("CALBRIDGE_BENCH_ROOMS", 500usize);
    let ServerDb {
        dir,
        url: database_url,
        db,
        ..
    } = sqlite_file().await;
    // One app registration for staff calendars and rooms, as the README
    // tells admins to set up.
    let env = env_for_staff_and_rooms(db).await;

    let server = Server::start(dir.path(), &database_url, &env.emu, "idle", SETTINGS);
    tokio::time::sleep(Duration::from_secs(5)).await;
    let idle = resident_mb(&server);
    server.kill();

    // Each calendar blocks its staff member's hours (a free/busy loop per
    // calendar) and has two appointments waiting to be written.
    let now = Utc::now();
    for (n, (staff_id, _)) in staff_with_mailboxes(&env, calendars, "mem")
        .await
        .into_iter()
        .enumerate()
    {
        backend::staff::set_free_busy(&env.backend.db, staff_id, true, now)
            .await
            .unwrap();
        for hours in [24, 48] {
            let at = now + chrono::TimeDelta::hours(hours + (n % 8) as i64);
            book(&env.backend, staff_id, &format!("Patron {n}"), at).await;
        }
    }
    connect_rooms(&env, rooms).await;
    let server = Server::start(dir.path(), &database_url, &env.emu, "loaded", SETTINGS);
    // Long enough for every calendar's free/busy loop to run once.
    tokio::time::sleep(Duration::from_secs(15)).await;
    let loaded = resident_mb(&server);
    let peak = peak_mb(&server);
    server.kill();
    let all = jobs(&env.backend).await;
    let done = all.iter().filter(|j| j.status == "done").count();
    let requests = env.emu.requests();
    let room_reads = requests
        .iter()
        .filter(|r| r.method == "GET" && r.path.contains("room.mem"))
        .count();
    println!(
        "while measured: {done} of {} sync jobs done, {} requests to Microsoft, {room_reads} of them room calendar reads",
        all.len(),
        requests.len()
    );

    let ok_idle = report("idle", idle, None, IDLE_TARGET_MB);
    let ok_loaded = report(
        &format!("{calendars} staff calendars and {rooms} rooms connected"),
        loaded,
        Some(peak),
        LOADED_TARGET_MB,
    );
    if !(ok_idle && ok_loaded) {
        std::process::exit(1);
    }
}

/// `count` rooms with Fran as their delegate, each connected to a space
/// of its own as an admin does it: authorize as Fran, pick the room.
async fn connect_rooms(env: &SyncEnv, count: usize) {
    let b = &env.backend;
    let fran = env.emu.user_id(FRAN.0).expect("Fran is in the demo tenant");
    for i in 0..count {
        let address = format!("room.mem{i}@contoso-library.onmicrosoft.com");
        env.emu.add_room(
            DEMO.tenant_id,
            &address,
            &format!("Memory room {i}"),
            10,
            &[fran],
        );
        let space_id = new_space(b, &format!("Memory space {i}")).await;
        let outcome = authorize_room(b, space_id, FRAN.0, FRAN.1).await;
        assert!(
            matches!(outcome, RoomCallbackOutcome::Authorized { .. }),
            "{outcome:?}"
        );
        rooms::pick_room(b, space_id, &address, Utc::now())
            .await
            .expect("Fran is the room's delegate");
    }
}

fn report(what: &str, mb: u64, peak: Option<u64>, target: u64) -> bool {
    let ok = peak.unwrap_or(mb) <= target;
    let peak = peak.map(|p| format!(", peak {p} MB")).unwrap_or_default();
    println!(
        "calbridge resident memory, {what}: {mb} MB{peak} (target <= {target} MB){}",
        if ok { "" } else { " MISSED" }
    );
    ok
}

/// What the server reads of `/proc/<pid>/status`, in kB.
fn status_kb(server: &Server, field: &str) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{}/status", server.pid()))
        .expect("the process runs (Linux)");
    status
        .lines()
        .find_map(|l| l.strip_prefix(field))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or_else(|| panic!("{field} in /proc/…/status"))
}

fn resident_mb(server: &Server) -> u64 {
    status_kb(server, "VmRSS:") / 1024
}

fn peak_mb(server: &Server) -> u64 {
    status_kb(server, "VmHWM:") / 1024
}
