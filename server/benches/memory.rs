//! Prints the resident memory of the real `calbridge` process (release
//! build, SQLite): idle with the integration active and nothing connected,
//! then with 1,000 staff calendars connected to the emulator, each with
//! its free/busy loop on and two appointments to write, while they sync. Targets: ≤ 40 MB idle, ≤ 150 MB with the calendars.
//! (The 500 connected rooms of the figure are not set up here yet.)
//!
//! `cargo bench -p server --features app/ssr --bench memory`
//! (`CALBRIDGE_BENCH_CALENDARS` changes the 1,000).

#[path = "../../backend/tests/sync_support/mod.rs"]
mod sync_support;

use std::process::{Child, Command};
use std::time::Duration;

use base64::Engine;
use sync_support::*;

const IDLE_TARGET_MB: u64 = 40;
const LOADED_TARGET_MB: u64 = 150;

#[tokio::main(flavor = "multi_thread")]
async fn main() {
    let calendars: usize = std::env::var("CALBRIDGE_BENCH_CALENDARS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1000);
    let dir = tempfile::tempdir().unwrap();
    let database_url = format!(
        "sqlite://{}?mode=rwc",
        dir.path().join("calbridge.db").display()
    );
    let db = backend::db::connect(&database_url).await.unwrap();
    backend::db::migrate(&db).await.unwrap();
    let env = env(db).await;

    let server = Server::start(dir.path(), &database_url, &env.emu, "idle");
    tokio::time::sleep(Duration::from_secs(5)).await;
    let idle = server.resident_mb();
    server.stop();

    // Each calendar blocks its staff member's hours (a free/busy loop per
    // calendar) and has two appointments waiting to be written.
    let now = chrono::Utc::now();
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
    let server = Server::start(dir.path(), &database_url, &env.emu, "loaded");
    // Long enough for every calendar's free/busy loop to run once.
    tokio::time::sleep(Duration::from_secs(15)).await;
    let loaded = server.resident_mb();
    let peak = server.peak_mb();
    server.stop();
    let all = jobs(&env.backend).await;
    let done = all.iter().filter(|j| j.status == "done").count();
    let graph_requests = env.emu.requests().len();
    println!(
        "while measured: {done} of {} sync jobs done, {graph_requests} requests to Microsoft",
        all.len()
    );

    let ok_idle = report("idle", idle, None, IDLE_TARGET_MB);
    let ok_loaded = report(
        &format!("{calendars} staff calendars connected"),
        loaded,
        Some(peak),
        LOADED_TARGET_MB,
    );
    if !(ok_idle && ok_loaded) {
        std::process::exit(1);
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

struct Server {
    child: Child,
}

impl Server {
    fn start(
        dir: &std::path::Path,
        database_url: &str,
        emu: &emulator::EmulatorHandle,
        run: &str,
    ) -> Self {
        // The key `sync_support`'s vault sealed the tokens with.
        let key = base64::engine::general_purpose::STANDARD.encode([7u8; 32]);
        let log = std::fs::File::create(dir.join(format!("calbridge-{run}.log"))).unwrap();
        let child = Command::new(env!("CARGO_BIN_EXE_calbridge"))
            .arg("serve")
            .env("CALBRIDGE_CONFIG", dir.join("none.toml"))
            .env("CALBRIDGE_DATABASE_URL", database_url)
            .env("CALBRIDGE_DATA_DIR", dir)
            .env("CALBRIDGE_BIND_ADDRESS", "127.0.0.1:0")
            .env("CALBRIDGE_PUBLIC_BASE_URL", PUBLIC_URL)
            .env("CALBRIDGE_MICROSOFT_LOGIN_URL", emu.base_url())
            .env("CALBRIDGE_MICROSOFT_GRAPH_URL", emu.graph_url())
            .env("CALBRIDGE_MASTER_KEY", key)
            .env("CALBRIDGE_SITE_ROOT", dir)
            .env("CALBRIDGE_SYNC__FREE_BUSY_INTERVAL_SECS", "10")
            .env("RUST_LOG", "warn")
            .env_remove("DATABASE_URL")
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .expect("calbridge starts");
        Self { child }
    }

    fn status_kb(&self, field: &str) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id()))
            .expect("the process runs (Linux)");
        status
            .lines()
            .find_map(|l| l.strip_prefix(field))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .unwrap_or_else(|| panic!("{field} in /proc/…/status"))
    }

    fn resident_mb(&self) -> u64 {
        self.status_kb("VmRSS:") / 1024
    }

    fn peak_mb(&self) -> u64 {
        self.status_kb("VmHWM:") / 1024
    }

    fn stop(mut self) {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
    }
}
