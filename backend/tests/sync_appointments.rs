//! The appointment sync against the emulator: create/move/cancel land in
//! the staff member's mailbox, replays never duplicate, throttling and
//! Retry-After, 5xx and lost answers, token refresh (once, single-flight),
//! a revoked grant, the per-mailbox limit, and two workers sharing jobs.

mod support;
mod sync_support;

use std::collections::HashSet;
use std::time::{Duration, Instant};

use backend::connections::{self, Owner};
use backend::entities::{calendar_connection, event_link};
use backend::outbox;
use backend::sync::Worker;
use backend::sync::appointments::transaction_id;
use chrono::{TimeDelta, Utc};
use emulator::faults::{FaultConfig, FaultKind};
use sea_orm::{ActiveModelTrait, DatabaseConnection, EntityTrait, Set};
use serde_json::Value;
use sync_support::*;

on_both_databases!(
    create_move_cancel_reach_the_mailbox,
    without_a_connection_the_job_is_done_with_a_note,
    a_replay_after_a_crash_never_duplicates,
    retry_after_is_honoured_and_the_job_is_not_lost,
    server_errors_and_lost_answers_are_retried_without_duplicates,
    an_expired_token_is_refreshed_once_and_rotated,
    two_workers_refreshing_at_once_make_one_token_request,
    a_revoked_grant_pauses_until_the_staff_member_reconnects,
    never_more_than_four_requests_in_flight_per_mailbox,
    two_workers_never_run_one_job_twice,
    disconnect_erases_tokens_and_pauses_jobs_but_leaves_events,
    disconnect_everything_revokes_every_connection_and_stops_all_jobs,
);

fn subject(e: &Value) -> &str {
    e["subject"].as_str().unwrap_or("")
}

async fn link_of(env: &SyncEnv, id: i64) -> Option<event_link::Model> {
    use sea_orm::{ColumnTrait, QueryFilter};
    event_link::Entity::find()
        .filter(event_link::Column::RecordKind.eq("appointment"))
        .filter(event_link::Column::RecordId.eq(id))
        .one(&env.backend.db)
        .await
        .unwrap()
}

fn worker(env: &SyncEnv, name: &str) -> Worker {
    Worker::new(env.backend.clone(), name)
}

async fn create_move_cancel_reach_the_mailbox(db: DatabaseConnection) {
    let env = env(db).await;
    connect(&env.backend, env.staff_id, SAM).await;
    let start = t(26);
    let id = book(&env.backend, env.staff_id, "Ada Lovelace", start).await;
    assert_eq!(worker(&env, "w").run_once().await, 1);

    let events = env.emu.events(SAM);
    assert_eq!(events.len(), 1, "{events:?}");
    let e = &events[0];
    assert_eq!(subject(e), "Appointment: Ada Lovelace");
    let expected_start = start.format("%Y-%m-%dT%H:%M:%S").to_string();
    assert!(
        e["start"]["dateTime"]
            .as_str()
            .unwrap()
            .starts_with(&expected_start),
        "{e}"
    );
    assert_eq!(e["transactionId"], transaction_id(PUBLIC_URL, id));
    let body = e["bodyPreview"].as_str().unwrap_or_default();
    assert!(body.contains("ada.lovelace@example.org"), "{body}");
    assert!(body.contains("1850s newspapers"), "{body}");
    let link = link_of(&env, id).await.expect("link stored");
    assert_eq!(link.graph_event_id, e["id"].as_str().unwrap());
    let job = &jobs(&env.backend).await[0];
    assert_eq!(
        (job.status.as_str(), job.last_error.as_deref()),
        ("done", None)
    );

    // Moved: the same event, new times.
    let later = t(50);
    move_to(&env.backend, id, later).await;
    assert_eq!(worker(&env, "w").run_once().await, 1);
    let events = env.emu.events(SAM);
    assert_eq!(events.len(), 1);
    assert_eq!(events[0]["id"], e["id"]);
    let later_text = later.format("%Y-%m-%dT%H:%M:%S").to_string();
    assert!(
        events[0]["start"]["dateTime"]
            .as_str()
            .unwrap()
            .starts_with(&later_text)
    );

    // Cancelled: gone from Outlook, link removed.
    cancel(&env.backend, id).await;
    assert_eq!(worker(&env, "w").run_once().await, 1);
    assert!(env.emu.events(SAM).is_empty());
    assert!(link_of(&env, id).await.is_none());
    assert!(jobs(&env.backend).await.iter().all(|j| j.status == "done"));

    // The connection shows its last success.
    let c = connections::find(&env.backend.db, Owner::staff(env.staff_id))
        .await
        .unwrap()
        .unwrap();
    assert!(c.last_success_at.is_some());
}

async fn without_a_connection_the_job_is_done_with_a_note(db: DatabaseConnection) {
    let env = env(db).await;
    book(&env.backend, env.staff_id, "Grace Hopper", t(30)).await;
    assert_eq!(worker(&env, "w").run_once().await, 1);
    let job = &jobs(&env.backend).await[0];
    assert_eq!(job.status, "done");
    assert!(
        job.last_error
            .as_deref()
            .unwrap()
            .contains("no Outlook calendar connected")
    );
    assert!(env.emu.all_events().values().all(|v| v.is_empty()));
}

async fn a_replay_after_a_crash_never_duplicates(db: DatabaseConnection) {
    let env = env(db).await;
    let c = connect(&env.backend, env.staff_id, SAM).await;
    let id = book(&env.backend, env.staff_id, "Alan Turing", t(28)).await;

    // A worker claimed the job, created the event, and died before
    // storing the link: its lease has run out.
    let claimed = outbox::claim(
        &env.backend.db,
        "dead-worker",
        &outbox::APPOINTMENT_KINDS,
        10,
        Duration::from_secs(60),
        Utc::now(),
    )
    .await
    .unwrap();
    assert_eq!(claimed.len(), 1);
    assert_eq!(
        worker(&env, "w").run_once().await,
        0,
        "the lease still holds"
    );
    let mut lease: backend::entities::outbox::ActiveModel = claimed[0].clone().into();
    lease.claimed_until = Set(Some(Utc::now() - TimeDelta::minutes(1)));
    lease.update(&env.backend.db).await.unwrap();
    let token = connections::access_token(&env.backend, c.id, None, "test")
        .await
        .unwrap();
    let appt = backend::entities::appointment::Entity::find_by_id(id)
        .one(&env.backend.db)
        .await
        .unwrap()
        .unwrap();
    let mut body = backend::sync::appointments::event_body(&appt);
    body["transactionId"] = transaction_id(PUBLIC_URL, id).into();
    env.backend
        .graph
        .create_event(&token.token, &body)
        .await
        .unwrap();
    assert_eq!(env.emu.events(SAM).len(), 1);

    assert_eq!(worker(&env, "w").run_once().await, 1);
    let events = env.emu.events(SAM);
    assert_eq!(
        events.len(),
        1,
        "the replay made a second event: {events:?}"
    );
    let link = link_of(&env, id).await.expect("link stored by the replay");
    assert_eq!(link.graph_event_id, events[0]["id"].as_str().unwrap());

    // A crash after the link was stored but before "done": the replay
    // updates the same event.
    let job = jobs(&env.backend).await.remove(0);
    let mut a: backend::entities::outbox::ActiveModel = job.into();
    a.status = Set("pending".into());
    a.update(&env.backend.db).await.unwrap();
    assert_eq!(worker(&env, "w").run_once().await, 1);
    assert_eq!(env.emu.events(SAM).len(), 1);
    assert_eq!(jobs(&env.backend).await[0].status, "done");
}

async fn retry_after_is_honoured_and_the_job_is_not_lost(db: DatabaseConnection) {
    let env = env(db).await;
    connect(&env.backend, env.staff_id, SAM).await;
    env.emu.set_faults(FaultConfig {
        retry_after_secs: 2.128,
        ..FaultConfig::default()
    });
    env.emu.push_faults([FaultKind::TooManyRequests]);
    book(&env.backend, env.staff_id, "Katherine Johnson", t(27)).await;
    let started = Instant::now();
    let running = tokio::spawn(worker(&env, "w").run());
    while env.emu.events(SAM).is_empty() {
        assert!(started.elapsed() < Duration::from_secs(20), "never created");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let waited = started.elapsed();
    while jobs(&env.backend).await[0].status != "done" {
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "never marked done"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    running.abort();
    assert!(
        waited >= Duration::from_millis(2128),
        "retried after {waited:?}"
    );
    let stats = env.emu.stats();
    assert_eq!(stats.throttled, 1);
    assert_eq!(
        stats.early_retries, 0,
        "a request came back before Retry-After"
    );
    assert_eq!(env.emu.events(SAM).len(), 1);
    let job = &jobs(&env.backend).await[0];
    assert_eq!((job.status.as_str(), job.attempts), ("done", 2));
}

async fn server_errors_and_lost_answers_are_retried_without_duplicates(db: DatabaseConnection) {
    let env = env(db).await;
    connect(&env.backend, env.staff_id, SAM).await;
    // 504 twice, then the create is applied but its answer lost.
    env.emu.push_faults([
        FaultKind::GatewayTimeout,
        FaultKind::GatewayTimeout,
        FaultKind::LostAnswer504,
    ]);
    let id = book(&env.backend, env.staff_id, "Mary Somerville", t(29)).await;
    assert_eq!(worker(&env, "w").run_once().await, 1);
    let events = env.emu.events(SAM);
    assert_eq!(events.len(), 1, "{events:?}");
    assert!(link_of(&env, id).await.is_some());
    assert_eq!(jobs(&env.backend).await[0].status, "done");

    // A dropped connection on the next write is retried too.
    env.emu.push_faults([FaultKind::LostAnswerDrop]);
    move_to(&env.backend, id, t(40)).await;
    assert_eq!(worker(&env, "w").run_once().await, 1);
    assert_eq!(env.emu.events(SAM).len(), 1);
    assert!(jobs(&env.backend).await.iter().all(|j| j.status == "done"));
}

async fn an_expired_token_is_refreshed_once_and_rotated(db: DatabaseConnection) {
    let env = env(db).await;
    let c = connect(&env.backend, env.staff_id, SAM).await;
    // Graph's clock moves past the token's lifetime, ours does not know:
    // the request gets a 401, the worker refreshes once and goes on.
    env.emu.advance_clock(chrono::Duration::hours(2));
    let issued = tokens_issued(&env.emu, SAM);
    book(&env.backend, env.staff_id, "Rosalind Franklin", t(31)).await;
    assert_eq!(worker(&env, "w").run_once().await, 1);
    assert_eq!(env.emu.events(SAM).len(), 1);
    assert_eq!(tokens_issued(&env.emu, SAM), issued + 1);
    let after = connection(&env.backend, c.id).await;
    assert_eq!(after.token_version, c.token_version + 1);
    assert_ne!(
        after.refresh_token_sealed, c.refresh_token_sealed,
        "rotated token not stored"
    );
    assert!(after.refresh_lease_by.is_none());
}

async fn two_workers_refreshing_at_once_make_one_token_request(db: DatabaseConnection) {
    let env = env(db).await;
    let c = connect(&env.backend, env.staff_id, SAM).await;
    let mut row: calendar_connection::ActiveModel = connection(&env.backend, c.id).await.into();
    row.access_expires_at = Set(Some(Utc::now() - TimeDelta::minutes(1)));
    row.update(&env.backend.db).await.unwrap();
    // Strict rotation: a second refresh with the same (now revoked)
    // refresh token would fail, so two refreshes could not both succeed.
    env.emu
        .update_settings(|s| s.strict_refresh_rotation = true);
    let issued = tokens_issued(&env.emu, SAM);
    // Two "processes": separate Backends on the same database.
    let other = backend::Backend::new(
        env.backend.db.clone(),
        (*env.backend.settings).clone(),
        backend::vault::Vault::parse(
            &secrecy::SecretString::from({
                use base64::Engine;
                base64::engine::general_purpose::STANDARD.encode([7u8; 32])
            }),
            None,
        )
        .unwrap(),
    );
    let (a, b) = tokio::join!(
        connections::access_token(&env.backend, c.id, None, "process-a"),
        connections::access_token(&other, c.id, None, "process-b"),
    );
    let (a, b) = (a.unwrap(), b.unwrap());
    assert_eq!(a.version, b.version);
    assert_eq!(
        secrecy::ExposeSecret::expose_secret(&a.token),
        secrecy::ExposeSecret::expose_secret(&b.token)
    );
    assert_eq!(
        tokens_issued(&env.emu, SAM),
        issued + 1,
        "more than one refresh"
    );
    let after = connection(&env.backend, c.id).await;
    assert_eq!(
        (after.status.as_str(), after.token_version),
        ("active", c.token_version + 1)
    );
}

async fn a_revoked_grant_pauses_until_the_staff_member_reconnects(db: DatabaseConnection) {
    let env = env(db).await;
    let c = connect(&env.backend, env.staff_id, SAM).await;
    let user = env.emu.user_id(SAM).unwrap();
    env.emu.revoke_grant(user, Some(env.app.client_id));
    // Graph's clock passes the access token's lifetime: the worker must
    // refresh, and Microsoft refuses the revoked grant.
    env.emu.advance_clock(chrono::Duration::hours(2));
    book(&env.backend, env.staff_id, "Lise Meitner", t(32)).await;
    book(&env.backend, env.staff_id, "Emmy Noether", t(33)).await;
    env.emu.clear_requests();
    worker(&env, "w").run_once().await;
    let after = connection(&env.backend, c.id).await;
    assert_eq!(after.status, "needs_reauthorization");
    assert!(
        after.last_error.as_deref().unwrap().contains("AADSTS50173"),
        "{:?}",
        after.last_error
    );
    assert!(
        jobs(&env.backend)
            .await
            .iter()
            .all(|j| j.status == "paused")
    );
    assert!(env.emu.events(SAM).is_empty());
    // Nothing retries in a loop.
    let requests = env.emu.requests().len();
    assert_eq!(worker(&env, "w").run_once().await, 0);
    assert_eq!(env.emu.requests().len(), requests);
    let summary = connections::summary(&env.backend.db, Owner::staff(env.staff_id))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (summary.status.as_str(), summary.pending_jobs),
        ("needs_reauthorization", 2)
    );

    // Connecting again resumes the paused jobs.
    connect(&env.backend, env.staff_id, SAM).await;
    assert_eq!(worker(&env, "w").run_once().await, 2);
    assert_eq!(env.emu.events(SAM).len(), 2);
}

async fn never_more_than_four_requests_in_flight_per_mailbox(db: DatabaseConnection) {
    let env = env(db).await;
    connect(&env.backend, env.staff_id, SAM).await;
    env.emu.set_faults(FaultConfig {
        latency_ms: 150,
        ..FaultConfig::default()
    });
    for i in 0..12 {
        book(
            &env.backend,
            env.staff_id,
            &format!("Patron {i}"),
            t(24 + i),
        )
        .await;
    }
    // Two "instances" at once.
    let (wa, wb) = (worker(&env, "a"), worker(&env, "b"));
    let (a, b) = tokio::join!(wa.run_once(), wb.run_once());
    assert_eq!(a + b, 12);
    let stats = env.emu.stats();
    assert_eq!(stats.concurrency_rejections, 0, "{stats:?}");
    assert!(
        stats.max_in_flight <= 4 && stats.max_in_flight >= 2,
        "{stats:?}"
    );
    assert_eq!(env.emu.events(SAM).len(), 12);
}

async fn two_workers_never_run_one_job_twice(db: DatabaseConnection) {
    let env = env(db).await;
    connect(&env.backend, env.staff_id, SAM).await;
    let alex = staff_member(&env.backend, "alex@calbridge.test").await;
    connect(&env.backend, alex, ALEX).await;
    for i in 0..15 {
        book(
            &env.backend,
            env.staff_id,
            &format!("Sam's patron {i}"),
            t(24 + i),
        )
        .await;
        book(&env.backend, alex, &format!("Alex's patron {i}"), t(24 + i)).await;
    }
    let mut tasks = tokio::task::JoinSet::new();
    for n in 0..3 {
        let w = worker(&env, &format!("instance-{n}"));
        tasks.spawn(async move {
            let mut total = 0;
            loop {
                let ran = w.run_once().await;
                if ran == 0 {
                    return total;
                }
                total += ran;
            }
        });
    }
    let mut total = 0;
    while let Some(n) = tasks.join_next().await {
        total += n.unwrap();
    }
    assert_eq!(total, 30);
    let all = jobs(&env.backend).await;
    assert!(
        all.iter().all(|j| j.status == "done" && j.attempts == 1),
        "{all:?}"
    );
    let sam: HashSet<_> = env
        .emu
        .events(SAM)
        .iter()
        .map(|e| subject(e).to_owned())
        .collect();
    assert_eq!((sam.len(), env.emu.events(SAM).len()), (15, 15));
    assert_eq!(env.emu.events(ALEX).len(), 15);
}

async fn disconnect_erases_tokens_and_pauses_jobs_but_leaves_events(db: DatabaseConnection) {
    let env = env(db).await;
    let c = connect(&env.backend, env.staff_id, SAM).await;
    book(&env.backend, env.staff_id, "Hedy Lamarr", t(30)).await;
    worker(&env, "w").run_once().await;
    assert_eq!(env.emu.events(SAM).len(), 1);
    book(&env.backend, env.staff_id, "Barbara McClintock", t(34)).await;

    assert!(
        connections::disconnect(&env.backend.db, Owner::staff(env.staff_id), Utc::now())
            .await
            .unwrap()
    );
    let after = connection(&env.backend, c.id).await;
    assert_eq!(after.status, "revoked");
    assert!(after.access_token_sealed.is_none() && after.refresh_token_sealed.is_none());
    assert_eq!(worker(&env, "w").run_once().await, 0);
    let waiting: Vec<_> = jobs(&env.backend)
        .await
        .into_iter()
        .filter(|j| j.status != "done")
        .collect();
    assert_eq!(waiting.len(), 1);
    assert_eq!(waiting[0].status, "paused");
    assert_eq!(env.emu.events(SAM).len(), 1, "events in Outlook must stay");
    assert!(format!("{after:?}").contains("has_tokens: false"));
}

async fn disconnect_everything_revokes_every_connection_and_stops_all_jobs(db: DatabaseConnection) {
    let env = env(db).await;
    connect(&env.backend, env.staff_id, SAM).await;
    let alex = staff_member(&env.backend, "alex@calbridge.test").await;
    connect(&env.backend, alex, ALEX).await;
    book(&env.backend, env.staff_id, "Ada", t(30)).await;
    book(&env.backend, alex, "Alan", t(30)).await;
    worker(&env, "w").run_once().await;
    book(&env.backend, env.staff_id, "Grace", t(31)).await;
    book(&env.backend, alex, "Edsger", t(31)).await;

    let admin = backend::accounts::create_user(
        &env.backend.db,
        backend::accounts::NewUser {
            email: "admin@calbridge.test",
            display_name: "Admin",
            role: backend::accounts::Role::Admin,
            password: "calbridge-admin-pass",
        },
    )
    .await
    .unwrap();
    let report = backend::integration::disconnect_everything(&env.backend, &admin)
        .await
        .unwrap();
    assert_eq!(report.connections_revoked, 2);
    let rows = calendar_connection::Entity::find()
        .all(&env.backend.db)
        .await
        .unwrap();
    assert!(rows.iter().all(|r| r.status == "revoked"
        && r.access_token_sealed.is_none()
        && r.refresh_token_sealed.is_none()));
    let waiting: Vec<_> = jobs(&env.backend)
        .await
        .into_iter()
        .filter(|j| j.status != "done")
        .collect();
    assert_eq!(waiting.len(), 2);
    assert!(waiting.iter().all(|j| j.status == "paused"));
    assert_eq!(worker(&env, "w").run_once().await, 0);
    // Events already written stay in Outlook.
    assert_eq!(env.emu.events(SAM).len(), 1);
    assert_eq!(env.emu.events(ALEX).len(), 1);
    // And nobody can connect until the settings are saved again.
    assert!(
        connections::active_registration(
            &env.backend.db,
            &env.backend.vault,
            &env.backend.settings
        )
        .await
        .unwrap()
        .is_none()
    );
}
