//! Fault injection in the manner of Microsoft's Dev Proxy, Graph's
//! per-mailbox concurrency limit, and the bookkeeping of Retry-After
//! (Microsoft Graph: "Microsoft Graph throttling guidance" and "Outlook
//! service limits": 4 concurrent requests per app per mailbox).

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::Arc;

use chrono::{DateTime, Utc};
use parking_lot::Mutex;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::Shared;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum FaultKind {
    /// 429 TooManyRequests with `Retry-After` (fractional seconds).
    #[serde(rename = "429")]
    TooManyRequests,
    /// 503 ServiceNotAvailable with `Retry-After`.
    #[serde(rename = "503")]
    ServiceUnavailable,
    /// 504 GatewayTimeout.
    #[serde(rename = "504")]
    GatewayTimeout,
    /// Hold the request `timeout_ms`, then drop the connection.
    #[serde(rename = "timeout")]
    Timeout,
    /// Close the connection without an answer.
    #[serde(rename = "drop")]
    Drop,
    /// Apply the write, then answer 504 (writes only).
    #[serde(rename = "lost_answer_504")]
    LostAnswer504,
    /// Apply the write, then drop the connection (writes only).
    #[serde(rename = "lost_answer_drop")]
    LostAnswerDrop,
    /// 500: Graph `generalException`, the token endpoint `server_error`.
    #[serde(rename = "500")]
    InternalServerError,
    /// Token endpoint only: `invalid_grant` (AADSTS70000) whatever was sent,
    /// as when a grant dies between two requests.
    #[serde(rename = "invalid_grant")]
    InvalidGrant,
    /// Graph only: 429 `ApplicationThrottled` "over its MailboxConcurrency
    /// limit" with the settings' `concurrency_retry_after_secs`, whatever
    /// is in flight (as when another app instance holds the slots).
    #[serde(rename = "mailbox_concurrency")]
    MailboxConcurrency,
}

impl FaultKind {
    pub fn after_write(self) -> bool {
        matches!(self, Self::LostAnswer504 | Self::LostAnswerDrop)
    }

    /// Whether this fault means anything for requests of `target`.
    pub fn applies_to(self, target: Target) -> bool {
        match self {
            Self::InvalidGrant => target == Target::Token,
            Self::MailboxConcurrency => target == Target::Graph,
            _ => true,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Target {
    /// `/v1.0/...`
    Graph,
    /// `/{tenant}/oauth2/v2.0/token`
    Token,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct FaultConfig {
    /// Probability (0..=1) that a request gets a fault.
    pub rate: f64,
    /// The faults to draw from, uniformly.
    pub kinds: Vec<FaultKind>,
    /// `Retry-After` for 429/503, in seconds; fractional values are sent
    /// as such (`2.128`), as Graph sometimes does.
    pub retry_after_secs: f64,
    /// Added to every request of the targets.
    pub latency_ms: u64,
    /// How long a `timeout` fault holds the request before dropping it.
    pub timeout_ms: u64,
    pub targets: Vec<Target>,
    /// Seed for the draws (reproducible runs).
    pub seed: Option<u64>,
    /// A request arriving this soon after a Retry-After was given for its
    /// app and mailbox was sent before the client could read it: counted
    /// as `crossed_retry_after`, not as an early retry (it is still
    /// refused when the Retry-After came with a 429).
    pub retry_after_grace_ms: u64,
}

impl Default for FaultConfig {
    fn default() -> Self {
        Self {
            rate: 0.0,
            kinds: vec![],
            retry_after_secs: 2.128,
            latency_ms: 0,
            timeout_ms: 30_000,
            targets: vec![Target::Graph],
            seed: None,
            retry_after_grace_ms: 0,
        }
    }
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Stats {
    pub faults_injected: u64,
    /// 429s of any cause.
    pub throttled: u64,
    /// Requests that came back before a Retry-After (of a 429 or a 503)
    /// given for their app and mailbox had passed, counted from the moment
    /// it was given plus `retry_after_grace_ms`.
    pub early_retries: u64,
    /// Requests that arrived before such a Retry-After had passed but
    /// within `retry_after_grace_ms` of it being given: sent before the
    /// client can have read the answer (they crossed it on the wire).
    #[serde(default)]
    pub crossed_retry_after: u64,
    /// Of `early_retries`: the throttled request itself sent again (same
    /// method, path, query and body) before its Retry-After had passed —
    /// a retry that cannot have crossed its answer.
    #[serde(default)]
    pub early_repeats: u64,
    pub concurrency_rejections: u64,
    /// 429s for the 10,000-requests-in-10-minutes limit.
    #[serde(default)]
    pub mailbox_request_rejections: u64,
    /// Highest number of requests seen in flight for one app and mailbox.
    pub max_in_flight: usize,
}

struct Inner {
    config: FaultConfig,
    /// Scripted faults per target, used before any random draw.
    scripts: HashMap<Target, VecDeque<FaultKind>>,
    /// Admitted requests per (app, mailbox), for the 10-minute limit.
    recent: HashMap<(Uuid, Uuid), VecDeque<DateTime<Utc>>>,
    rng: StdRng,
    /// Retry-After deadlines by (client, mailbox) key.
    gates: HashMap<String, Gate>,
    in_flight: HashMap<(Uuid, Uuid), usize>,
    stats: Stats,
}

/// A Retry-After given to a (client, mailbox).
#[derive(Debug, Clone)]
struct Gate {
    /// The requests that were answered with it (method, path, query and
    /// body, hashed): the same request again before `until` is an early
    /// retry whenever it arrives, as only its answer can have prompted it.
    requests: HashSet<u64>,
    /// When it was (last) given.
    given: DateTime<Utc>,
    until: DateTime<Utc>,
    /// A 429's wait is enforced (an early request is throttled again);
    /// a 503's or a MailboxConcurrency 429's is only counted, as Graph
    /// answers those by what happens to be going on at the time.
    enforced: bool,
}

pub struct Faults {
    inner: Mutex<Inner>,
}

impl Default for Faults {
    fn default() -> Self {
        Self {
            inner: Mutex::new(Inner {
                config: FaultConfig::default(),
                scripts: HashMap::new(),
                recent: HashMap::new(),
                rng: StdRng::from_entropy(),
                gates: HashMap::new(),
                in_flight: HashMap::new(),
                stats: Stats::default(),
            }),
        }
    }
}

impl Faults {
    pub fn configure(&self, config: FaultConfig) {
        let mut i = self.inner.lock();
        if let Some(seed) = config.seed {
            i.rng = StdRng::seed_from_u64(seed);
        }
        i.config = config;
    }

    pub fn config(&self) -> FaultConfig {
        self.inner.lock().config.clone()
    }

    /// Faults for the next Graph requests, in order, before any random draw.
    pub fn push_script(&self, kinds: impl IntoIterator<Item = FaultKind>) {
        self.push_script_for(Target::Graph, kinds);
    }

    /// Faults for the next requests of `target`, in order. A scripted
    /// fault applies whatever `targets` the random config names.
    pub fn push_script_for(&self, target: Target, kinds: impl IntoIterator<Item = FaultKind>) {
        self.inner
            .lock()
            .scripts
            .entry(target)
            .or_default()
            .extend(kinds.into_iter().filter(|k| k.applies_to(target)));
    }

    /// Back to no faults (stats are kept).
    pub fn clear(&self) {
        let mut i = self.inner.lock();
        i.config = FaultConfig::default();
        i.scripts.clear();
        i.gates.clear();
        i.recent.clear();
    }

    pub fn stats(&self) -> Stats {
        self.inner.lock().stats.clone()
    }

    pub fn reset_stats(&self) {
        self.inner.lock().stats = Stats::default();
    }

    /// Does this request get a fault, and which?
    pub fn draw(&self, target: Target, is_write: bool) -> Option<FaultKind> {
        let mut i = self.inner.lock();
        let script = i.scripts.entry(target).or_default();
        if let Some(&k) = script.front() {
            if k.after_write() && !is_write {
                return None;
            }
            script.pop_front();
            i.stats.faults_injected += 1;
            return Some(k);
        }
        if !i.config.targets.contains(&target) {
            return None;
        }
        if i.config.kinds.is_empty() || i.config.rate <= 0.0 {
            return None;
        }
        let rate = i.config.rate;
        if !i.rng.gen_bool(rate.clamp(0.0, 1.0)) {
            return None;
        }
        let n = i.config.kinds.len();
        let pick = i.rng.gen_range(0..n);
        let k = i.config.kinds[pick];
        if (k.after_write() && !is_write) || !k.applies_to(target) {
            return None;
        }
        i.stats.faults_injected += 1;
        Some(k)
    }

    pub fn latency(&self, target: Target) -> std::time::Duration {
        let i = self.inner.lock();
        if i.config.targets.contains(&target) {
            std::time::Duration::from_millis(i.config.latency_ms)
        } else {
            std::time::Duration::ZERO
        }
    }

    pub fn timeout(&self) -> std::time::Duration {
        std::time::Duration::from_millis(self.inner.lock().config.timeout_ms)
    }

    pub fn retry_after(&self) -> f64 {
        self.inner.lock().config.retry_after_secs
    }

    /// A client must not come back before the Retry-After it was given:
    /// one that does is counted, and after a 429 gets 429 again (the
    /// remaining wait is returned). `request` identifies the request (see
    /// `GraphRequest::signature`).
    pub fn early_retry(&self, key: &str, request: u64, now: DateTime<Utc>) -> Option<f64> {
        let mut i = self.inner.lock();
        let gate = i.gates.get(key)?.clone();
        if now >= gate.until {
            i.gates.remove(key);
            return None;
        }
        let grace = chrono::Duration::milliseconds(i.config.retry_after_grace_ms as i64);
        let repeat = gate.requests.contains(&request);
        if now < gate.given + grace && !repeat {
            i.stats.crossed_retry_after += 1;
        } else {
            i.stats.early_retries += 1;
            i.stats.early_repeats += u64::from(repeat);
        }
        if !gate.enforced {
            return None;
        }
        i.stats.throttled += 1;
        Some((gate.until - now).num_milliseconds() as f64 / 1000.0)
    }

    /// Remember that `key` was told by a 429 to wait `secs` (answering
    /// `request`).
    pub fn throttled(&self, key: &str, request: u64, now: DateTime<Utc>, secs: f64) {
        self.inner.lock().stats.throttled += 1;
        self.gate(key, request, now, secs, true);
    }

    /// Remember that `key` was given a Retry-After of `secs` that Graph
    /// does not enforce (503, MailboxConcurrency): an early comeback is
    /// counted, not refused.
    pub fn advised(&self, key: &str, request: u64, now: DateTime<Utc>, secs: f64) {
        self.gate(key, request, now, secs, false);
    }

    fn gate(&self, key: &str, request: u64, now: DateTime<Utc>, secs: f64, enforced: bool) {
        let mut i = self.inner.lock();
        let until = now + chrono::Duration::milliseconds((secs * 1000.0) as i64);
        let fresh = Gate {
            requests: HashSet::from([request]),
            given: now,
            until,
            enforced,
        };
        let gate = i.gates.entry(key.to_string()).or_insert(fresh.clone());
        if gate.until <= now {
            *gate = fresh;
        } else {
            gate.requests.insert(request);
            gate.given = gate.given.max(now);
            gate.until = gate.until.max(until);
            gate.enforced |= enforced;
        }
    }

    /// Graph's 10,000 requests per app per mailbox in 10 minutes: admit
    /// and count this request, or say how long until the oldest counted
    /// request leaves the window (the Retry-After).
    pub fn count_request(
        &self,
        key: (Uuid, Uuid),
        now: DateTime<Utc>,
        limit: usize,
        window: chrono::Duration,
    ) -> Option<f64> {
        let mut i = self.inner.lock();
        let q = i.recent.entry(key).or_default();
        while q.front().is_some_and(|t| *t <= now - window) {
            q.pop_front();
        }
        if q.len() >= limit {
            let oldest = *q.front()?;
            let wait = (oldest + window - now).num_milliseconds().max(1000) as f64 / 1000.0;
            i.stats.mailbox_request_rejections += 1;
            return Some(wait.ceil());
        }
        q.push_back(now);
        None
    }

    /// Count a MailboxConcurrency 429: its Retry-After is advice (the
    /// rejection depends on what is in flight, not on time), so an early
    /// comeback is counted but not refused.
    pub fn count_throttled(&self, key: &str, request: u64, now: DateTime<Utc>, secs: f64) {
        self.inner.lock().stats.throttled += 1;
        self.advised(key, request, now, secs);
    }

    /// Take one of the `limit` concurrent slots of (app, mailbox).
    pub fn acquire(shared: &Arc<Shared>, key: (Uuid, Uuid), limit: usize) -> Option<SlotGuard> {
        let mut i = shared.faults.inner.lock();
        let n = i.in_flight.entry(key).or_default();
        if *n >= limit {
            i.stats.concurrency_rejections += 1;
            return None;
        }
        *n += 1;
        let now_in = *n;
        i.stats.max_in_flight = i.stats.max_in_flight.max(now_in);
        Some(SlotGuard {
            shared: shared.clone(),
            key,
        })
    }
}

/// Frees a concurrency slot when the request is done (or abandoned).
pub struct SlotGuard {
    shared: Arc<Shared>,
    key: (Uuid, Uuid),
}

impl Drop for SlotGuard {
    fn drop(&mut self) {
        let mut i = self.shared.faults.inner.lock();
        if let Some(n) = i.in_flight.get_mut(&self.key) {
            *n = n.saturating_sub(1);
        }
    }
}
