//! Admin › Outbox: "Retry" puts a job that failed for good back in the
//! queue; nothing else can be retried, and only admins may.

mod support;

use backend::entities::outbox as outbox_row;
use backend::outbox::{self, Retry};
use chrono::Utc;
use reqwest::StatusCode;
use sea_orm::EntityTrait;
use support::{TestApp, json, post, signed_in};

const ADMIN: (&str, &str) = ("admin@calbridge.test", "calbridge-admin");
const STAFF: (&str, &str) = ("sam@calbridge.test", "calbridge-staff");

/// A job claimed by a worker that gave up on it (Graph answered with a
/// permanent error).
async fn failed_job(app: &TestApp, record: i64) -> i64 {
    let db = &app.backend.db;
    let now = Utc::now();
    let job = outbox::enqueue(
        db,
        outbox::APPOINTMENT_CREATED,
        record,
        &serde_json::json!({}),
        now,
    )
    .await
    .unwrap();
    let claimed = outbox::claim(
        db,
        "test-worker",
        &[outbox::APPOINTMENT_CREATED],
        10,
        std::time::Duration::from_secs(60),
        now + chrono::TimeDelta::seconds(1),
    )
    .await
    .unwrap();
    assert!(claimed.iter().any(|j| j.id == job.id));
    let failed = outbox::mark_failed(
        db,
        job.id,
        "test-worker",
        "Graph answered 400",
        Retry::Never,
        now,
    )
    .await
    .unwrap();
    assert!(failed);
    job.id
}

async fn status_of(app: &TestApp, id: i64) -> String {
    outbox_row::Entity::find_by_id(id)
        .one(&app.backend.db)
        .await
        .unwrap()
        .unwrap()
        .status
}

async fn retry_is_for_admins_and_only_for_stopped_jobs(app: TestApp) {
    let id = failed_job(&app, 1).await;

    let staff = signed_in(&app, STAFF).await;
    let (status, _) = post(
        &staff,
        &app,
        "retry_outbox_job",
        &[("job_id", id.to_string())],
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(
        status_of(&app, id).await,
        "failed",
        "a refusal changes nothing"
    );

    let admin = signed_in(&app, ADMIN).await;
    let (status, body) = post(
        &admin,
        &app,
        "retry_outbox_job",
        &[("job_id", id.to_string())],
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(status_of(&app, id).await, "pending");

    // Now pending: a second Retry is refused with a reason.
    let (status, body) = post(
        &admin,
        &app,
        "retry_outbox_job",
        &[("job_id", id.to_string())],
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert!(
        json(&body).to_string().contains("nothing to retry"),
        "{body}"
    );

    // The page offers Retry only on stopped jobs.
    // Another record: jobs of one record run in order, so a job behind
    // the pending one would wait.
    let other = failed_job(&app, 2).await;
    let page = admin
        .get(app.url("/admin/outbox"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(page.contains(&format!("Retry job {other}")), "{page}");
    assert!(!page.contains(&format!("Retry job {id}")), "{page}");
}

on_both_databases!(retry_is_for_admins_and_only_for_stopped_jobs);
