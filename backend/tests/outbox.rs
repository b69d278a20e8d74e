//! The outbox's claim protocol against a real database.

mod support;

use std::collections::HashSet;
use std::time::Duration;

use backend::outbox::{self, Retry};
use chrono::{DateTime, TimeDelta, Utc};
use sea_orm::{DatabaseConnection, EntityTrait};
use serde_json::json;

on_both_databases!(
    concurrent_claimers_never_share_a_job,
    leases_run_after_and_failures_are_honoured,
    a_running_process_renews_its_leases_and_a_dead_ones_run_out,
);

fn t0() -> DateTime<Utc> {
    "2026-12-01T08:00:00Z".parse().unwrap()
}

const LEASE: Duration = Duration::from_secs(60);

async fn enqueue(db: &DatabaseConnection, n: i64) {
    for i in 0..n {
        outbox::enqueue(
            db,
            outbox::SPACE_BOOKING_CREATED,
            i,
            &json!({ "i": i }),
            t0(),
        )
        .await
        .unwrap();
    }
}

async fn concurrent_claimers_never_share_a_job(db: DatabaseConnection) {
    enqueue(&db, 40).await;
    let mut tasks = tokio::task::JoinSet::new();
    for worker in 0..6 {
        let db = db.clone();
        tasks.spawn(async move {
            let name = format!("worker-{worker}");
            let mut mine = Vec::new();
            loop {
                let batch = outbox::claim_batch(&db, &name, 3, LEASE, t0())
                    .await
                    .unwrap();
                if batch.is_empty() {
                    return mine;
                }
                for job in batch {
                    assert_eq!(job.claimed_by.as_deref(), Some(name.as_str()));
                    assert!(outbox::mark_done(&db, job.id, &name).await.unwrap());
                    mine.push(job.id);
                }
            }
        });
    }
    let mut seen = HashSet::new();
    while let Some(ids) = tasks.join_next().await {
        for id in ids.unwrap() {
            assert!(seen.insert(id), "job {id} was handed out twice");
        }
    }
    assert_eq!(seen.len(), 40);
    let jobs = backend::entities::outbox::Entity::find()
        .all(&db)
        .await
        .unwrap();
    assert!(jobs.iter().all(|j| j.status == "done" && j.attempts == 1));
    assert!(outbox::list_pending(&db, 100).await.unwrap().is_empty());
}

async fn leases_run_after_and_failures_are_honoured(db: DatabaseConnection) {
    enqueue(&db, 1).await;
    let before = t0() - TimeDelta::seconds(1);
    assert!(
        outbox::claim_batch(&db, "a", 10, LEASE, before)
            .await
            .unwrap()
            .is_empty()
    );

    let job = outbox::claim_batch(&db, "a", 10, LEASE, t0())
        .await
        .unwrap();
    assert_eq!(job.len(), 1);
    let id = job[0].id;
    // Leased to "a": nobody else gets it until the lease runs out.
    assert!(
        outbox::claim_batch(&db, "b", 10, LEASE, t0())
            .await
            .unwrap()
            .is_empty()
    );
    let expired = t0() + TimeDelta::seconds(61);
    let retaken = outbox::claim_batch(&db, "b", 10, LEASE, expired)
        .await
        .unwrap();
    assert_eq!((retaken.len(), retaken[0].attempts), (1, 2));
    // "a" lost it and cannot finish it any more.
    assert!(!outbox::mark_done(&db, id, "a").await.unwrap());

    assert!(
        outbox::mark_failed(&db, id, "b", "Graph said 503", Retry::Backoff, expired)
            .await
            .unwrap()
    );
    let pending = outbox::list_pending(&db, 10).await.unwrap();
    assert_eq!(pending[0].last_error.as_deref(), Some("Graph said 503"));
    assert_eq!(pending[0].run_after, expired + outbox::backoff(2));
    assert_eq!(pending[0].claimed_by, None);
    let early = expired + TimeDelta::seconds(59);
    assert!(
        outbox::claim_batch(&db, "c", 10, LEASE, early)
            .await
            .unwrap()
            .is_empty()
    );
    let due = expired + TimeDelta::seconds(60);
    assert_eq!(
        outbox::claim_batch(&db, "c", 10, LEASE, due)
            .await
            .unwrap()
            .len(),
        1
    );

    assert!(
        outbox::mark_failed(&db, id, "c", "gone for good", Retry::Never, due)
            .await
            .unwrap()
    );
    let later = due + TimeDelta::days(1);
    assert!(
        outbox::claim_batch(&db, "d", 10, LEASE, later)
            .await
            .unwrap()
            .is_empty()
    );
    let listed = outbox::list_pending(&db, 10).await.unwrap();
    assert_eq!(
        listed[0].status, "failed",
        "failed jobs stay visible to admins"
    );
}

/// Each process renews the leases of its own workers' jobs
/// (`{instance}-{n}`); a killed process stops renewing, and its jobs go
/// to another once the lease has run out.
async fn a_running_process_renews_its_leases_and_a_dead_ones_run_out(db: DatabaseConnection) {
    enqueue(&db, 2).await;
    let live = outbox::claim_batch(&db, "111-aaaa-0", 1, LEASE, t0())
        .await
        .unwrap();
    let dead = outbox::claim_batch(&db, "222-bbbb-0", 1, LEASE, t0())
        .await
        .unwrap();
    assert_eq!((live.len(), dead.len()), (1, 1));
    let renewed = outbox::renew_leases(&db, "111-aaaa", t0() + TimeDelta::seconds(120))
        .await
        .unwrap();
    assert_eq!(renewed, 1, "only the live process's job");
    let later = t0() + TimeDelta::seconds(90);
    let taken = outbox::claim_batch(&db, "333-cccc-0", 10, LEASE, later)
        .await
        .unwrap();
    let ids: Vec<i64> = taken.iter().map(|j| j.id).collect();
    assert_eq!(
        ids,
        vec![dead[0].id],
        "the dead process's job, not the live one's"
    );
    assert!(
        outbox::mark_done(&db, live[0].id, "111-aaaa-0")
            .await
            .unwrap()
    );
    // A finished job is not renewed.
    assert_eq!(
        outbox::renew_leases(&db, "111-aaaa", later).await.unwrap(),
        0
    );
}
