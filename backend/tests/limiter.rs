//! The per-mailbox limiter against a real database: a Retry-After holds
//! back every request to that mailbox until it has passed, in this process
//! and, on PostgreSQL, in every other instance.

mod support;

use std::time::{Duration, Instant};

use backend::sync::limiter::Limiter;
use sea_orm::DatabaseConnection;

on_both_databases!(a_retry_after_holds_back_the_next_request_here);

const MAILBOX: &str = "Room.Seminar@contoso-library.onmicrosoft.com";
const RETRY_AFTER: Duration = Duration::from_millis(800);
/// Timers may end a little early by the clock read here, never by much.
const AT_LEAST: Duration = Duration::from_millis(700);

async fn a_retry_after_holds_back_the_next_request_here(db: DatabaseConnection) {
    let limiter = Limiter::default();
    let throttled = limiter.acquire(&db, MAILBOX, "job-1").await.unwrap();
    limiter.close_for(&db, MAILBOX, RETRY_AFTER).await.unwrap();
    throttled.release().await;
    let asked = Instant::now();
    let next = limiter.acquire(&db, MAILBOX, "job-2").await.unwrap();
    assert!(
        asked.elapsed() >= AT_LEAST,
        "sent {:?} after a {RETRY_AFTER:?} Retry-After",
        asked.elapsed()
    );
    next.release().await;
}

/// Found by the fault soak with two instances: a 429 closed only the
/// mailbox's free slots, so a slot another instance had in flight was free
/// again the moment it came back, and that instance sent at once.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_retry_after_one_instance_got_holds_back_the_others_slots_in_flight() {
    let Some(test_db) = support::postgres().await else {
        eprintln!("skipped: CALBRIDGE_TEST_POSTGRES_URL is not set");
        return;
    };
    let db = &test_db.db;
    let (throttled_here, elsewhere) = (Limiter::default(), Limiter::default());
    // The other instance has a request in flight when Graph answers this
    // one with a 429, and the mailbox's other slots are free.
    let in_flight = elsewhere.acquire(db, MAILBOX, "job-1").await.unwrap();
    let mine = throttled_here.acquire(db, MAILBOX, "job-2").await.unwrap();
    throttled_here
        .close_for(db, MAILBOX, RETRY_AFTER)
        .await
        .unwrap();
    mine.release().await;
    in_flight.release().await;
    let asked = Instant::now();
    let next = elsewhere.acquire(db, MAILBOX, "job-3").await.unwrap();
    assert!(
        asked.elapsed() >= AT_LEAST,
        "the other instance sent {:?} after a {RETRY_AFTER:?} Retry-After",
        asked.elapsed()
    );
    next.release().await;
    // Once the gate has passed, slots are taken at once again.
    let asked = Instant::now();
    let again = throttled_here.acquire(db, MAILBOX, "job-4").await.unwrap();
    assert!(
        asked.elapsed() < Duration::from_millis(500),
        "{:?}",
        asked.elapsed()
    );
    again.release().await;
}
