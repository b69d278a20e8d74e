//! Token lifecycle under load (issue #8), on SQLite and PostgreSQL:
//!
//! - an access token that expires under 10 concurrent workers is
//!   refreshed exactly once, whether our clock sees the expiry coming or
//!   Graph's 401 is the first to say so (on PostgreSQL the workers are
//!   split over two Backends, as over two processes);
//! - with strict rotation (the emulator revokes a refresh token once it is
//!   redeemed) several expiries in a row keep working: the stored refresh
//!   token is always the newest one, and the old one is never presented;
//! - a dead grant marks the connection "needs reauthorization" after at
//!   most one token request, pauses every job, and sends nothing more.
//!
//! Single expiries, the two-process refresh and the revoked-grant resume
//! are in `sync_appointments.rs`; bulk draining with expiries over two
//! instances is `two_instances.rs`.

mod support;
mod sync_support;

use backend::Backend;
use backend::entities::calendar_connection;
use backend::sync::Worker;
use backend::vault::{Purpose, Sealed};
use chrono::{TimeDelta, Utc};
use emulator::EmulatorHandle;
use sea_orm::{ActiveModelTrait, ConnectionTrait, DatabaseConnection, DbBackend, Set};
use secrecy::ExposeSecret;
use sync_support::*;

on_both_databases!(
    an_expiry_seen_by_our_clock_under_ten_workers_is_refreshed_once,
    an_expiry_seen_first_by_graph_under_ten_workers_is_refreshed_once,
    strict_rotation_always_presents_the_newest_refresh_token,
    a_dead_grant_needs_reauthorization_after_at_most_one_call,
);

const WORKERS: usize = 10;

/// Ten workers; on PostgreSQL half of them in a second Backend (its own
/// limiter and sync state), as in a second process. SQLite is one
/// process by design.
fn ten_workers(env: &SyncEnv) -> Vec<Worker> {
    let other = Backend::new(
        env.backend.db.clone(),
        (*env.backend.settings).clone(),
        test_vault(),
    );
    let two = env.backend.db.get_database_backend() == DbBackend::Postgres;
    (0..WORKERS)
        .map(|i| {
            let b = if two && i % 2 == 1 {
                &other
            } else {
                &env.backend
            };
            Worker::new(b.clone(), format!("w{i}"))
        })
        .collect()
}

/// Runs every worker at once until nothing is due; returns jobs run.
async fn run_all(workers: &[Worker]) -> usize {
    let mut total = 0;
    loop {
        let mut set = tokio::task::JoinSet::new();
        for w in workers {
            let w = w.clone();
            set.spawn(async move { w.run_once().await });
        }
        let mut n = 0;
        while let Some(ran) = set.join_next().await {
            n += ran.unwrap();
        }
        if n == 0 {
            return total;
        }
        total += n;
    }
}

/// Token requests with `grant_type=refresh_token` the emulator received.
fn refresh_requests(emu: &EmulatorHandle) -> usize {
    emu.requests()
        .iter()
        .filter(|r| r.path.ends_with("/token") && r.grant_type.as_deref() == Some("refresh_token"))
        .count()
}

fn graph_requests(emu: &EmulatorHandle) -> usize {
    emu.requests()
        .iter()
        .filter(|r| r.path.starts_with("/v1.0/"))
        .count()
}

async fn book_many(env: &SyncEnv, n: i64, from: i64) {
    for i in 0..n {
        book(
            &env.backend,
            env.staff_id,
            &format!("Patron {}", from + i),
            t(24 + from + i),
        )
        .await;
    }
}

async fn expire_in_our_clock(env: &SyncEnv, id: i64) {
    let mut row: calendar_connection::ActiveModel = connection(&env.backend, id).await.into();
    row.access_expires_at = Set(Some(Utc::now() - TimeDelta::minutes(1)));
    row.update(&env.backend.db).await.unwrap();
}

async fn an_expiry_seen_by_our_clock_under_ten_workers_is_refreshed_once(db: DatabaseConnection) {
    let env = env(db).await;
    let c = connect(&env.backend, env.staff_id, SAM).await;
    book_many(&env, 20, 0).await;
    expire_in_our_clock(&env, c.id).await;
    env.emu.advance_clock(chrono::Duration::hours(2));
    let issued = tokens_issued(&env.emu, SAM);
    env.emu.clear_requests();
    assert_eq!(run_all(&ten_workers(&env)).await, 20);
    let refreshes = tokens_issued(&env.emu, SAM) - issued;
    println!("10 workers, expiry seen by our clock: {refreshes} refresh(es)");
    assert_eq!(refreshes, 1);
    assert_eq!(refresh_requests(&env.emu), 1);
    assert_eq!(env.emu.events(SAM).len(), 20);
    let after = connection(&env.backend, c.id).await;
    assert_eq!(
        (after.status.as_str(), after.token_version),
        ("active", c.token_version + 1)
    );
    assert!(jobs(&env.backend).await.iter().all(|j| j.status == "done"));
}

async fn an_expiry_seen_first_by_graph_under_ten_workers_is_refreshed_once(db: DatabaseConnection) {
    let env = env(db).await;
    let c = connect(&env.backend, env.staff_id, SAM).await;
    book_many(&env, 20, 0).await;
    // Our clock thinks the token is good for an hour; Graph's 401s say
    // otherwise, to up to four requests in flight at once.
    env.emu.advance_clock(chrono::Duration::hours(2));
    let issued = tokens_issued(&env.emu, SAM);
    env.emu.clear_requests();
    assert_eq!(run_all(&ten_workers(&env)).await, 20);
    let refreshes = tokens_issued(&env.emu, SAM) - issued;
    let unauthorized = env
        .emu
        .requests()
        .iter()
        .filter(|r| r.status == 401)
        .count();
    println!(
        "10 workers, expiry seen by Graph: {refreshes} refresh(es) after {unauthorized} 401(s)"
    );
    // Only what was in flight when a process heard its first 401: a
    // mailbox's 4 slots, per process. Jobs that had read the old token
    // wait for the new one instead of sending it (they used to: 17-20).
    let processes = if env.backend.db.get_database_backend() == DbBackend::Postgres {
        2
    } else {
        1
    };
    assert!(
        (1..=4 * processes).contains(&unauthorized),
        "{unauthorized} 401s"
    );
    assert_eq!(refreshes, 1);
    assert_eq!(refresh_requests(&env.emu), 1);
    assert_eq!(env.emu.events(SAM).len(), 20);
    assert_eq!(
        connection(&env.backend, c.id).await.token_version,
        c.token_version + 1
    );
    let all = jobs(&env.backend).await;
    assert!(
        all.iter().all(|j| j.status == "done" && j.attempts == 1),
        "{all:?}"
    );
}

async fn strict_rotation_always_presents_the_newest_refresh_token(db: DatabaseConnection) {
    let env = env(db).await;
    let c = connect(&env.backend, env.staff_id, SAM).await;
    env.emu
        .update_settings(|s| s.strict_refresh_rotation = true);
    let workers = ten_workers(&env);
    let mut seen = std::collections::HashSet::new();
    const ROUNDS: i64 = 5;
    for round in 0..ROUNDS {
        book_many(&env, 8, round * 8).await;
        if round % 2 == 0 {
            expire_in_our_clock(&env, c.id).await;
        }
        env.emu.advance_clock(chrono::Duration::hours(2));
        let issued = tokens_issued(&env.emu, SAM);
        assert_eq!(run_all(&workers).await, 8, "round {round}");
        assert_eq!(tokens_issued(&env.emu, SAM), issued + 1, "round {round}");
        // The stored refresh token is the newest the emulator issued and
        // still valid; every earlier one is revoked, and none was
        // presented after its revocation (that would have killed the
        // connection).
        let row = connection(&env.backend, c.id).await;
        assert_eq!(row.status, "active", "round {round}: {:?}", row.last_error);
        let stored = env
            .backend
            .vault
            .open(
                Purpose::RefreshToken,
                &Sealed::from_stored(row.refresh_token_sealed.clone().unwrap()),
            )
            .unwrap();
        let stored = stored.expose_secret().to_owned();
        assert!(seen.insert(stored.clone()), "round {round}: token reused");
        let user = env.emu.user_id(SAM);
        let world = env.emu.shared().world.lock();
        let newest = world
            .refresh_tokens
            .iter()
            .filter(|(_, t)| Some(t.user_id) == user)
            .max_by_key(|(_, t)| t.issued_at)
            .map(|(k, _)| k.clone())
            .unwrap();
        assert_eq!(stored, newest, "round {round}: not the newest token");
        assert!(!world.refresh_tokens[&stored].revoked);
    }
    let invalid_grants = env
        .emu
        .requests()
        .iter()
        .filter(|r| r.path.ends_with("/token") && r.status >= 400)
        .count();
    println!(
        "strict rotation: {ROUNDS} expiries under {WORKERS} workers, {} refresh tokens used in turn, {invalid_grants} refused token requests",
        seen.len()
    );
    assert_eq!(invalid_grants, 0);
    assert_eq!(env.emu.events(SAM).len(), (ROUNDS * 8) as usize);
}

async fn a_dead_grant_needs_reauthorization_after_at_most_one_call(db: DatabaseConnection) {
    let env = env(db).await;
    let c = connect(&env.backend, env.staff_id, SAM).await;
    let user = env.emu.user_id(SAM).unwrap();
    env.emu.revoke_grant(user, Some(env.app.client_id));
    book_many(&env, 12, 0).await;

    // Our clock sees the expiry: the refresh is the one call, and no
    // Graph request is sent at all.
    expire_in_our_clock(&env, c.id).await;
    env.emu.clear_requests();
    run_all(&ten_workers(&env)).await;
    let (token_calls, graph_calls) = (refresh_requests(&env.emu), graph_requests(&env.emu));
    println!(
        "dead grant, expiry seen by our clock: {token_calls} token request(s), {graph_calls} Graph request(s)"
    );
    let row = connection(&env.backend, c.id).await;
    assert_eq!(row.status, "needs_reauthorization");
    assert_eq!((token_calls, graph_calls), (1, 0));
    let all = jobs(&env.backend).await;
    assert!(all.iter().all(|j| j.status == "paused"), "{all:?}");

    // Nothing more is sent, however often the workers look.
    env.emu.clear_requests();
    assert_eq!(run_all(&ten_workers(&env)).await, 0);
    assert!(env.emu.requests().is_empty());
    assert!(env.emu.events(SAM).is_empty());
}
