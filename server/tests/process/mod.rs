//! The real `calbridge` binary as a child process, on a SQLite file and
//! pointed at an in-process emulator: what the crash test kills and the
//! memory benchmark measures. Needs `sync_support` (its vault key and
//! public URL) beside it.

#![allow(dead_code)]

use std::process::{Child, Command};

use base64::Engine;

use super::sync_support::PUBLIC_URL;

pub struct Server {
    child: Child,
}

impl Server {
    /// Starts `calbridge serve` on `database_url` with `settings` (extra
    /// `CALBRIDGE_*` variables); its log goes to `calbridge-{run}.log` in
    /// `dir`.
    pub fn start(
        dir: &std::path::Path,
        database_url: &str,
        emu: &emulator::EmulatorHandle,
        run: &str,
        settings: &[(&str, &str)],
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
            .envs(settings.iter().copied())
            .env_remove("DATABASE_URL")
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .expect("calbridge starts");
        Self { child }
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// SIGKILL: no shutdown, no flushing, mid-whatever it was doing.
    pub fn kill(mut self) {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
    }
}
