//! Slows down password guessing: after a few failed sign-ins from one
//! address, further attempts from it are refused for a while that doubles
//! with each failure (up to a cap). A success clears the record.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Failures allowed before the address has to wait.
pub const FREE_ATTEMPTS: u32 = 5;
const FIRST_WAIT: Duration = Duration::from_secs(2);
const MAX_WAIT: Duration = Duration::from_secs(15 * 60);
/// A quiet address is forgotten after this long.
const FORGET_AFTER: Duration = Duration::from_secs(60 * 60);

#[derive(Debug, Default)]
pub struct LoginThrottle {
    by_address: Mutex<HashMap<IpAddr, Entry>>,
}

#[derive(Debug, Clone, Copy)]
struct Entry {
    failures: u32,
    last_failure: Instant,
    blocked_until: Option<Instant>,
}

impl LoginThrottle {
    /// `Err(wait)` when the address must wait before trying again.
    pub fn check(&self, addr: IpAddr) -> Result<(), Duration> {
        self.check_at(addr, Instant::now())
    }

    pub fn record_failure(&self, addr: IpAddr) {
        self.record_failure_at(addr, Instant::now())
    }

    pub fn record_success(&self, addr: IpAddr) {
        self.by_address.lock().unwrap().remove(&addr);
    }

    fn check_at(&self, addr: IpAddr, now: Instant) -> Result<(), Duration> {
        let map = self.by_address.lock().unwrap();
        match map.get(&addr).and_then(|e| e.blocked_until) {
            Some(until) if until > now => Err(until - now),
            _ => Ok(()),
        }
    }

    fn record_failure_at(&self, addr: IpAddr, now: Instant) {
        let mut map = self.by_address.lock().unwrap();
        // Bound memory: drop addresses that have been quiet for an hour.
        if map.len() > 10_000 {
            map.retain(|_, e| now.duration_since(e.last_failure) < FORGET_AFTER);
        }
        let entry = map.entry(addr).or_insert(Entry {
            failures: 0,
            last_failure: now,
            blocked_until: None,
        });
        if now.duration_since(entry.last_failure) >= FORGET_AFTER {
            entry.failures = 0;
        }
        entry.failures += 1;
        entry.last_failure = now;
        if entry.failures >= FREE_ATTEMPTS {
            let doublings = (entry.failures - FREE_ATTEMPTS).min(16);
            let wait = FIRST_WAIT.saturating_mul(1 << doublings).min(MAX_WAIT);
            entry.blocked_until = Some(now + wait);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: IpAddr = IpAddr::V4(std::net::Ipv4Addr::new(192, 0, 2, 1));
    const B: IpAddr = IpAddr::V4(std::net::Ipv4Addr::new(192, 0, 2, 2));

    #[test]
    fn allows_a_few_failures_then_makes_the_address_wait_longer_each_time() {
        let t = LoginThrottle::default();
        let start = Instant::now();
        for _ in 0..FREE_ATTEMPTS - 1 {
            t.record_failure_at(A, start);
            assert!(t.check_at(A, start).is_ok());
        }
        t.record_failure_at(A, start);
        assert_eq!(t.check_at(A, start), Err(FIRST_WAIT));
        assert!(t.check_at(A, start + FIRST_WAIT).is_ok());
        t.record_failure_at(A, start + FIRST_WAIT);
        assert_eq!(t.check_at(A, start + FIRST_WAIT), Err(FIRST_WAIT * 2));
        // Another address is unaffected.
        assert!(t.check_at(B, start).is_ok());
    }

    #[test]
    fn success_clears_and_the_wait_is_capped() {
        let t = LoginThrottle::default();
        let now = Instant::now();
        for _ in 0..40 {
            t.record_failure_at(A, now);
        }
        assert_eq!(t.check_at(A, now), Err(MAX_WAIT));
        t.record_success(A);
        assert!(t.check_at(A, now).is_ok());
    }
}
