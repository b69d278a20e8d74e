//! A settable clock. Every expiry in the emulator (codes, tokens, secrets,
//! delta tokens, Retry-After) reads this clock, so a test can jump ahead
//! ten minutes instead of waiting for them.

use chrono::{DateTime, Duration, Utc};
use parking_lot::Mutex;

#[derive(Debug, Default)]
pub struct Clock {
    offset: Mutex<Duration>,
}

impl Clock {
    pub fn now(&self) -> DateTime<Utc> {
        Utc::now() + *self.offset.lock()
    }

    /// Jump to `at` (the clock keeps running from there).
    pub fn set(&self, at: DateTime<Utc>) {
        *self.offset.lock() = at - Utc::now();
    }

    pub fn advance(&self, by: Duration) {
        *self.offset.lock() += by;
    }

    pub fn reset(&self) {
        *self.offset.lock() = Duration::zero();
    }
}
