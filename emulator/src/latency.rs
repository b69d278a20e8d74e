//! The latency the emulator adds to a request, kept to a fraction of a
//! millisecond.
//!
//! tokio's timer wheel ticks in whole milliseconds, rounds each deadline
//! up to a tick and wakes its thread a tick late at times: a 50 ms
//! `tokio::time::sleep_until` made one create, alone on an idle machine,
//! take 51.9–52.2 ms from send to answer (0.27 ms with no latency set).
//! The benchmarks judge Calbridge against the configured latency (the
//! bulk sync's bound is 2,000 / (20 × 4) × 50 ms), so an emulator 4 %
//! slower than it was told to be showed up as Calbridge's overhead.
//!
//! One thread keeps the pending deadlines in order and wakes each waiter
//! as its deadline passes, with the precision of the operating system's
//! own timed wait (tens of microseconds).

use std::cmp::{Ordering, Reverse};
use std::collections::BinaryHeap;
use std::sync::OnceLock;
use std::sync::mpsc::{self, RecvTimeoutError};
use std::time::Instant;

use tokio::sync::oneshot;

/// Waits until `deadline`, to within a fraction of a millisecond.
pub async fn sleep_until(deadline: tokio::time::Instant) {
    let at = deadline.into_std();
    if at <= Instant::now() {
        return;
    }
    let (wake, woken) = oneshot::channel();
    if timer().send(Waiter { at, wake }).is_err() {
        // The timer thread is gone (it never stops on its own): fall back
        // to tokio's coarser timer rather than not waiting at all.
        tokio::time::sleep_until(deadline).await;
        return;
    }
    let _ = woken.await;
}

struct Waiter {
    at: Instant,
    wake: oneshot::Sender<()>,
}

// Ordered by deadline only: two waiters due at the same instant may wake
// in either order.
impl PartialEq for Waiter {
    fn eq(&self, other: &Self) -> bool {
        self.at == other.at
    }
}

impl Eq for Waiter {}

impl PartialOrd for Waiter {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Waiter {
    fn cmp(&self, other: &Self) -> Ordering {
        self.at.cmp(&other.at)
    }
}

/// The one timer thread of this process, started on first use.
fn timer() -> &'static mpsc::Sender<Waiter> {
    static TIMER: OnceLock<mpsc::Sender<Waiter>> = OnceLock::new();
    TIMER.get_or_init(|| {
        let (send, receive) = mpsc::channel();
        std::thread::Builder::new()
            .name("emulator-timer".into())
            .spawn(move || run(receive))
            .expect("a thread for the emulator's timer");
        send
    })
}

fn run(new_waiters: mpsc::Receiver<Waiter>) {
    let mut pending: BinaryHeap<Reverse<Waiter>> = BinaryHeap::new();
    loop {
        let now = Instant::now();
        while pending.peek().is_some_and(|Reverse(w)| w.at <= now) {
            let Reverse(due) = pending.pop().expect("peeked");
            // The request may have been dropped meanwhile; nothing to wake.
            let _ = due.wake.send(());
        }
        let next = match pending.peek() {
            Some(Reverse(w)) => new_waiters.recv_timeout(w.at - now),
            None => new_waiters
                .recv()
                .map_err(|_| RecvTimeoutError::Disconnected),
        };
        match next {
            Ok(waiter) => pending.push(Reverse(waiter)),
            Err(RecvTimeoutError::Timeout) => {}
            Err(RecvTimeoutError::Disconnected) => return,
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[tokio::test]
    async fn wakes_each_waiter_at_its_deadline_in_order() {
        let start = tokio::time::Instant::now();
        // Out of order on purpose: the thread must sort them.
        let delays = [30u64, 10, 20];
        let waits = delays.map(|ms| {
            tokio::spawn(async move {
                sleep_until(start + Duration::from_millis(ms)).await;
                start.elapsed()
            })
        });
        for (ms, wait) in delays.into_iter().zip(waits) {
            let took = wait.await.unwrap();
            assert!(
                took >= Duration::from_millis(ms),
                "woke early: {took:?} for {ms} ms"
            );
            // Generous: the point is "not a whole tick late" on an idle
            // machine, not a timing benchmark under a loaded test run.
            assert!(
                took < Duration::from_millis(ms + 25),
                "woke far too late: {took:?} for {ms} ms"
            );
        }
    }

    #[tokio::test]
    async fn a_past_deadline_returns_at_once() {
        let past = tokio::time::Instant::now() - Duration::from_millis(5);
        tokio::time::timeout(Duration::from_millis(100), sleep_until(past))
            .await
            .expect("no wait for a deadline already passed");
    }
}
