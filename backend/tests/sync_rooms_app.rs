//! Rooms in application mode against the emulator: the tenant granted the
//! app `Calendars.ReadWrite` (Application), limited by an application
//! access policy to the seminar and study rooms. No delegate signs in:
//! picking a room checks the app reaches it and subscribes to its
//! changes (the emulator's validation handshake reaches a stand-in for
//! the server's webhook route); bookings land on the room with an
//! app-only token that is cached; a notification makes the room due and
//! the delta read makes the slot unavailable; forged notifications are
//! ignored; subscriptions are renewed on the emulator's clock; each
//! lifecycle event is handled; an expired delta token starts over;
//! conflicts are flagged both ways; revoke and the system-wide
//! disconnect delete the subscriptions and leave the events.

mod support;
mod sync_support;

use std::net::SocketAddr;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use backend::Backend;
use backend::bookings::{self, BookingError, BookingRequest};
use backend::entities::{external_busy_block, room_link, space_booking};
use backend::integration::AccountType;
use backend::rooms::subscriptions::{self, LIFETIME};
use backend::rooms::{self, ConflictKept, RoomError};
use backend::sync::Worker;
use backend::vault::Vault;
use chrono::{DateTime, TimeDelta, Utc};
use emulator::graph::subscriptions::LifecycleEvent;
use emulator::state::SignInAudience;
use emulator::{DEMO, EmulatorHandle, NewApp};
use sea_orm::{ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter};
use secrecy::SecretString;
use serde_json::json;
use sync_support::{at_text, new_space, outlook_event, save_integration, tomorrow};

on_both_databases!(
    bookings_and_reads_go_through_the_app_token_and_a_notification_blocks_the_slot,
    a_room_outside_the_access_policy_is_refused,
    forged_or_unknown_notifications_are_ignored,
    subscriptions_are_renewed_before_they_expire,
    lifecycle_events_are_handled,
    an_expired_delta_token_starts_a_full_round,
    without_https_rooms_are_polled,
    picking_a_room_subscribes_once_while_the_poller_runs,
    the_migration_goes_down_and_up_again,
    conflicts_are_flagged_and_the_first_committed_keeps_the_slot,
    revoke_deletes_the_subscription_and_leaves_events,
    disconnect_everything_deletes_subscriptions_and_leaves_events,
);

const SEMINAR: &str = "room.seminar@contoso-library.onmicrosoft.com";
const STUDY: &str = "room.study-a@contoso-library.onmicrosoft.com";
const MEDIA_LAB: &str = "room.media-lab@contoso-library.onmicrosoft.com";

struct AppEnv {
    backend: Backend,
    emu: EmulatorHandle,
    space_id: i64,
    public_url: String,
    _receiver: tokio::task::JoinHandle<()>,
    _dir: tempfile::TempDir,
}

fn vault() -> Vault {
    use base64::Engine;
    let key = base64::engine::general_purpose::STANDARD.encode([11u8; 32]);
    Vault::parse(&SecretString::from(key), None).expect("vault")
}

/// The server's webhook route, in miniature: echo the validation token,
/// hand notifications to the backend (here before answering, so a test
/// that waits for a delivery finds it handled).
async fn webhook(
    State(backend): State<Backend>,
    Query(q): Query<std::collections::HashMap<String, String>>,
    body: Bytes,
) -> Response {
    if let Some(token) = q.get("validationToken") {
        return (
            StatusCode::OK,
            [("content-type", "text/plain; charset=utf-8")],
            token.clone(),
        )
            .into_response();
    }
    let Some(v) = subscriptions::parse(&body) else {
        return StatusCode::BAD_REQUEST.into_response();
    };
    subscriptions::receive(&backend, &v, Utc::now()).await;
    StatusCode::ACCEPTED.into_response()
}

async fn env(db: DatabaseConnection) -> AppEnv {
    env_with(db, true).await
}

/// `notifications`: whether Calbridge may subscribe although its public
/// URL is http:// (`sync.http_notifications`).
async fn env_with(db: DatabaseConnection, notifications: bool) -> AppEnv {
    let emu =
        emulator::Emulator::start(emulator::EmulatorConfig::demo().allow_http_notifications())
            .await
            .expect("emulator starts");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr: SocketAddr = listener.local_addr().unwrap();
    let public_url = format!("http://{addr}");
    let dir = tempfile::tempdir().unwrap();
    let figment = backend::config::Settings::figment(Some(&dir.path().join("none.toml")))
        .merge(("microsoft_login_url", emu.base_url()))
        .merge(("microsoft_graph_url", format!("{}/v1.0", emu.base_url())))
        .merge(("public_base_url", public_url.as_str()))
        .merge(("data_dir", dir.path().to_string_lossy().as_ref()))
        .merge(("sync.poll_interval_ms", 50))
        .merge(("sync.room_mode", "application"))
        .merge(("sync.http_notifications", notifications));
    let settings = backend::config::Settings::from_figment(figment).expect("settings");
    let redirect = backend::integration::redirect_url(&settings);
    let backend = Backend::new(db, settings, vault());
    let mut new = NewApp::web(
        "Calbridge",
        DEMO.tenant_id,
        SignInAudience::AzureADMultipleOrgs,
        &redirect,
    );
    new.application_permissions = vec!["Calendars.ReadWrite".into(), "Place.Read.All".into()];
    new.admin_consent = true;
    let app = emu.register_app(new);
    // The Exchange application access policy: the seminar and study
    // rooms only.
    let allowed = [SEMINAR, STUDY]
        .iter()
        .map(|r| emu.user_id(r).expect("demo room"))
        .collect();
    emu.set_app_only_mailboxes(app.client_id, Some(allowed));
    save_integration(&backend, &app, AccountType::AnyOrganization).await;
    let router = Router::new()
        .route(subscriptions::WEBHOOK_PATH, post(webhook))
        .route(subscriptions::LIFECYCLE_PATH, post(webhook))
        .with_state(backend.clone());
    let receiver = tokio::spawn(async move {
        axum::serve(listener, router).await.unwrap();
    });
    let space_id = new_space(&backend, "Seminar space").await;
    AppEnv {
        backend,
        emu,
        space_id,
        public_url,
        _receiver: receiver,
        _dir: dir,
    }
}

async fn book(env: &AppEnv, at: DateTime<Utc>, patron: &str) -> Result<i64, BookingError> {
    bookings::book(
        &env.backend.db,
        &BookingRequest {
            space_id: env.space_id,
            starts_at: at,
            slots: 2,
            patron_name: patron,
            patron_email: "patron@example.org",
            created_by: None,
        },
        Utc::now(),
    )
    .await
    .map(|b| b.id)
}

async fn link(env: &AppEnv) -> room_link::Model {
    rooms::link_of(&env.backend.db, env.space_id)
        .await
        .unwrap()
        .expect("linked")
}

async fn blocks(env: &AppEnv) -> Vec<external_busy_block::Model> {
    external_busy_block::Entity::find()
        .filter(external_busy_block::Column::OwnerKind.eq("space"))
        .filter(external_busy_block::Column::OwnerId.eq(env.space_id))
        .all(&env.backend.db)
        .await
        .unwrap()
}

async fn pick_seminar(env: &AppEnv) -> room_link::Model {
    rooms::pick_room(&env.backend, env.space_id, SEMINAR, Utc::now())
        .await
        .expect("the access policy includes the seminar room")
}

fn client_credential_grants(emu: &EmulatorHandle) -> usize {
    emu.requests()
        .iter()
        .filter(|r| r.grant_type.as_deref() == Some("client_credentials") && r.status == 200)
        .count()
}

/// Is the room due for a delta read at `now`?
async fn due(env: &AppEnv, now: DateTime<Utc>) -> bool {
    link(env).await.next_poll_at <= now
}

/// Waits until the emulator has delivered `n` notifications in all.
async fn delivered(env: &AppEnv, n: usize) -> Vec<emulator::graph::subscriptions::DeliveryRecord> {
    let got = env
        .emu
        .wait_for_notifications(n, std::time::Duration::from_secs(10))
        .await;
    assert!(got.len() >= n, "{got:?}");
    got
}

async fn bookings_and_reads_go_through_the_app_token_and_a_notification_blocks_the_slot(
    db: DatabaseConnection,
) {
    let env = env(db).await;
    // Nothing to authorize: the space shows as ready to pick a room.
    let status = rooms::status_for(&env.backend, env.space_id)
        .await
        .unwrap()
        .expect("a status in application mode");
    assert_eq!(status.mode, "application");
    assert_eq!(status.status, "active");
    assert!(status.room_address.is_none());
    let listed = rooms::list_rooms(&env.backend, env.space_id).await.unwrap();
    assert_eq!(listed.len(), 3, "the directory through Place.Read.All");

    let l = pick_seminar(&env).await;
    assert_eq!(l.mode, "application");
    assert!(
        backend::connections::find(&env.backend.db, rooms::space_owner(env.space_id))
            .await
            .unwrap()
            .is_none(),
        "no delegate, no tokens stored for the space"
    );
    // One subscription on the room's events, to our webhook; its
    // clientState is stored sealed, never in clear.
    let subs = env.emu.subscriptions();
    assert_eq!(subs.len(), 1, "{subs:?}");
    let sub = &subs[0];
    assert_eq!(sub.resource, format!("users/{SEMINAR}/events"));
    assert_eq!(sub.change_types, ["created", "updated", "deleted"]);
    assert_eq!(
        sub.notification_url,
        format!("{}/webhooks/graph", env.public_url)
    );
    assert_eq!(
        sub.lifecycle_url.as_deref(),
        Some(format!("{}/webhooks/graph/lifecycle", env.public_url).as_str())
    );
    let state = sub.client_state.clone().expect("a clientState");
    assert!(state.len() >= 40 && state.len() <= 128);
    assert_eq!(l.subscription_id, Some(sub.id.to_string()));
    let sealed = l.client_state_sealed.clone().unwrap();
    assert!(sealed.starts_with("v1:") && !sealed.contains(&state));
    assert!(l.subscription_expires_at.unwrap() > Utc::now() + TimeDelta::hours(60));

    // A booking lands on the room with the app's token.
    let id = book(&env, tomorrow(10), "Ada Lovelace").await.unwrap();
    let worker = Worker::new(env.backend.clone(), "app-rooms-test");
    assert_eq!(worker.run_once().await, 1);
    let events = env.emu.events(SEMINAR);
    assert_eq!(events.len(), 1, "{events:?}");
    assert_eq!(
        events[0]["transactionId"],
        rooms::outbound::transaction_id(&env.public_url, id)
    );
    // The first poll reads it all and does not import our own event.
    let report = rooms::poll::poll_room(&env.backend, &link(&env).await, Utc::now())
        .await
        .unwrap();
    assert!(report.full);
    assert_eq!(report.own_events, 1);
    assert!(blocks(&env).await.is_empty());
    // One app-only token for all of that: it is cached.
    assert_eq!(client_credential_grants(&env.emu), 1);

    // Subscribed, the room is only reconciled now and then…
    let soon = Utc::now() + TimeDelta::minutes(5);
    rooms::poll::poll_due(&env.backend, Utc::now())
        .await
        .unwrap();
    assert!(!due(&env, soon).await, "a subscribed room is not polled");
    // …until a notification says it changed.
    env.emu.clear_notifications();
    let outlook = env
        .emu
        .outlook_create(
            SEMINAR,
            &outlook_event("Board meeting", tomorrow(13), tomorrow(14)),
        )
        .unwrap();
    let got = delivered(&env, 1).await;
    assert_eq!(got[0].status, 202);
    assert_eq!(got[0].kind, "created");
    assert!(due(&env, Utc::now()).await, "the notification made it due");
    assert_eq!(
        rooms::poll::poll_due(&env.backend, Utc::now())
            .await
            .unwrap(),
        1
    );
    let found = blocks(&env).await;
    assert_eq!(found.len(), 1, "{found:?}");
    assert_eq!(found[0].source_id, outlook["id"].as_str().unwrap());
    let taken = book(&env, tomorrow(13), "Alan Turing").await;
    assert!(matches!(taken, Err(BookingError::SlotTaken)), "{taken:?}");

    // Deleted in Outlook: notified, read, free again.
    env.emu
        .outlook_delete(SEMINAR, outlook["id"].as_str().unwrap())
        .unwrap();
    delivered(&env, 2).await;
    // Read until the block is gone: another reader of the room (a poll
    // already under way) may hold it for a moment (a CI run once read the
    // blocks before that read had finished).
    let mut freed = false;
    for _ in 0..100 {
        rooms::poll::poll_due(&env.backend, Utc::now())
            .await
            .unwrap();
        if blocks(&env).await.is_empty() {
            freed = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert!(freed, "the event deleted in Outlook frees the slot");
    book(&env, tomorrow(13), "Alan Turing")
        .await
        .expect("free again");
    assert_eq!(client_credential_grants(&env.emu), 1, "still the one token");
}

async fn a_room_outside_the_access_policy_is_refused(db: DatabaseConnection) {
    let env = env(db).await;
    let refused = rooms::pick_room(&env.backend, env.space_id, MEDIA_LAB, Utc::now()).await;
    match refused {
        Err(e @ RoomError::NotInAccessPolicy(_)) => {
            let text = e.to_string();
            assert!(
                text.contains(MEDIA_LAB) && text.contains("access policy"),
                "{text}"
            );
        }
        other => panic!("expected NotInAccessPolicy, got {other:?}"),
    }
    let missing = rooms::pick_room(
        &env.backend,
        env.space_id,
        "room.nowhere@contoso-library.onmicrosoft.com",
        Utc::now(),
    )
    .await;
    assert!(
        matches!(missing, Err(RoomError::NoSuchRoom(_))),
        "{missing:?}"
    );
    assert!(env.emu.subscriptions().is_empty());
    assert!(
        rooms::link_of(&env.backend.db, env.space_id)
            .await
            .unwrap()
            .is_none()
    );
}

async fn forged_or_unknown_notifications_are_ignored(db: DatabaseConnection) {
    let env = env(db).await;
    let l = pick_seminar(&env).await;
    rooms::poll::poll_due(&env.backend, Utc::now())
        .await
        .unwrap();
    let sub = l.subscription_id.clone().unwrap();
    let forged = |state: &str, id: &str| {
        json!({"value": [{
            "subscriptionId": id,
            "clientState": state,
            "changeType": "created",
            "resource": format!("Users/{SEMINAR}/Events/AAMkForged"),
        }]})
    };
    // Wrong clientState (same length, one character off), none at all,
    // an unknown subscription: nothing happens.
    let real = env.emu.subscriptions()[0].client_state.clone().unwrap();
    let mut wrong = real.clone().into_bytes();
    wrong[0] = if wrong[0] == b'A' { b'B' } else { b'A' };
    let wrong = String::from_utf8(wrong).unwrap();
    let later = Utc::now() + TimeDelta::minutes(1);
    for body in [
        forged(&wrong, &sub),
        forged("", &sub),
        json!({"value": [{"subscriptionId": sub, "changeType": "created"}]}),
        forged(&real, "00000000-0000-0000-0000-000000000000"),
    ] {
        let report = subscriptions::receive(&env.backend, &body, Utc::now()).await;
        assert_eq!(report.ignored, 1, "{body}");
        assert_eq!(report.changes, 0);
        assert!(!due(&env, later).await, "{body}");
    }
    // Not even a forged lifecycle event does anything.
    let report = subscriptions::receive(
        &env.backend,
        &json!({"value": [{"subscriptionId": sub, "clientState": wrong, "lifecycleEvent": "subscriptionRemoved"}]}),
        Utc::now(),
    )
    .await;
    assert_eq!(report.ignored, 1);
    assert_eq!(env.emu.subscriptions().len(), 1);
    assert_eq!(link(&env).await.subscription_id, Some(sub.clone()));
    // The right one does.
    let report = subscriptions::receive(&env.backend, &forged(&real, &sub), Utc::now()).await;
    assert_eq!(report.changes, 1);
    assert!(due(&env, later).await);
    assert!(subscriptions::parse(b"not json").is_none());
    assert!(subscriptions::parse(b"{\"value\": 3}").is_none());
}

async fn subscriptions_are_renewed_before_they_expire(db: DatabaseConnection) {
    let env = env(db).await;
    let l = pick_seminar(&env).await;
    let first = l.subscription_expires_at.unwrap();
    let id = l.subscription_id.clone().unwrap();
    // A day later nothing needs renewing.
    env.emu.advance_clock(TimeDelta::days(1));
    let now = Utc::now() + TimeDelta::days(1);
    rooms::poll::poll_due(&env.backend, now).await.unwrap();
    assert_eq!(link(&env).await.subscription_expires_at.unwrap(), first);
    // The cached app token had expired on Microsoft's clock: a 401, then
    // one new token.
    assert_eq!(client_credential_grants(&env.emu), 2);
    // Six hours before it expires (Microsoft's clock and ours both
    // jumped), the next pass renews it: same subscription, new expiry.
    let jump = LIFETIME - TimeDelta::hours(6) - TimeDelta::days(1);
    env.emu.advance_clock(jump);
    let now = now + jump;
    rooms::poll::poll_due(&env.backend, now).await.unwrap();
    let renewed = link(&env).await;
    assert_eq!(renewed.subscription_id, Some(id.clone()));
    let until = renewed.subscription_expires_at.unwrap();
    assert!(until > now + TimeDelta::hours(60), "{until} vs {now}");
    let subs = env.emu.subscriptions();
    assert_eq!(subs.len(), 1);
    assert_eq!(subs[0].id.to_string(), id);
    assert!(subs[0].expires_at > env.emu.now() + TimeDelta::hours(60));
    assert_eq!(client_credential_grants(&env.emu), 3);

    // Missed altogether (Calbridge was down past the expiry): Graph has
    // dropped it; the next pass subscribes again.
    let past = LIFETIME + TimeDelta::hours(1);
    env.emu.advance_clock(past);
    let now = now + past;
    assert!(env.emu.subscriptions().is_empty());
    rooms::poll::poll_due(&env.backend, now).await.unwrap();
    let again = link(&env).await;
    let subs = env.emu.subscriptions();
    assert_eq!(subs.len(), 1);
    assert_ne!(again.subscription_id, Some(id));
    assert_eq!(again.subscription_id, Some(subs[0].id.to_string()));
}

async fn lifecycle_events_are_handled(db: DatabaseConnection) {
    let env = env(db).await;
    pick_seminar(&env).await;
    rooms::poll::poll_due(&env.backend, Utc::now())
        .await
        .unwrap();
    let later = Utc::now() + TimeDelta::minutes(1);
    let sub = env.emu.subscriptions()[0].clone();

    // missed: catch up by delta.
    env.emu.clear_notifications();
    assert!(
        env.emu
            .lifecycle_event(sub.id, LifecycleEvent::Missed)
            .unwrap()
    );
    let got = delivered(&env, 1).await;
    assert_eq!(got[0].kind, "missed");
    assert_eq!(got[0].status, 202);
    assert!(due(&env, later).await);
    rooms::poll::poll_due(&env.backend, later).await.unwrap();
    assert!(!due(&env, later).await);

    // reauthorizationRequired: renewed (which reauthorizes), then delta.
    assert!(
        env.emu
            .lifecycle_event(sub.id, LifecycleEvent::ReauthorizationRequired)
            .unwrap()
    );
    delivered(&env, 2).await;
    let now = env.emu.subscriptions();
    assert_eq!(now.len(), 1);
    assert_eq!(now[0].id, sub.id, "the same subscription");
    assert!(!now[0].needs_reauthorization, "reauthorized");
    assert!(due(&env, later).await);
    rooms::poll::poll_due(&env.backend, later).await.unwrap();

    // subscriptionRemoved: a new subscription, then delta (which finds
    // what happened while there was none).
    env.emu
        .outlook_create(
            SEMINAR,
            &outlook_event("Meanwhile", tomorrow(8), tomorrow(9)),
        )
        .unwrap();
    delivered(&env, 3).await;
    assert!(
        env.emu
            .lifecycle_event(sub.id, LifecycleEvent::SubscriptionRemoved)
            .unwrap()
    );
    let got = delivered(&env, 4).await;
    assert_eq!(got[3].kind, "subscriptionRemoved");
    let subs = env.emu.subscriptions();
    assert_eq!(subs.len(), 1, "{subs:?}");
    assert_ne!(subs[0].id, sub.id);
    let l = link(&env).await;
    assert_eq!(l.subscription_id, Some(subs[0].id.to_string()));
    assert!(due(&env, later).await);
    rooms::poll::poll_due(&env.backend, later).await.unwrap();
    assert_eq!(blocks(&env).await.len(), 1);
    // The old subscription's clientState no longer opens anything.
    let report = subscriptions::receive(
        &env.backend,
        &json!({"value": [{"subscriptionId": sub.id.to_string(), "clientState": sub.client_state, "changeType": "updated"}]}),
        Utc::now(),
    )
    .await;
    assert_eq!(report.ignored, 1);
}

async fn an_expired_delta_token_starts_a_full_round(db: DatabaseConnection) {
    let env = env(db).await;
    pick_seminar(&env).await;
    env.emu
        .outlook_create(
            SEMINAR,
            &outlook_event("Lecture", tomorrow(15), tomorrow(16)),
        )
        .unwrap();
    let first = rooms::poll::poll_room(&env.backend, &link(&env).await, Utc::now())
        .await
        .unwrap();
    assert!(first.full);
    let next = rooms::poll::poll_room(&env.backend, &link(&env).await, Utc::now())
        .await
        .unwrap();
    assert!(!next.full);
    // The delta token expires (410 syncStateNotFound): read it all again.
    env.emu.expire_delta_tokens();
    let again = rooms::poll::poll_room(&env.backend, &link(&env).await, Utc::now())
        .await
        .unwrap();
    assert!(again.full, "{again:?}");
    assert_eq!(blocks(&env).await.len(), 1);
}

async fn booking_row(env: &AppEnv, id: i64) -> space_booking::Model {
    space_booking::Entity::find_by_id(id)
        .one(&env.backend.db)
        .await
        .unwrap()
        .unwrap()
}

async fn conflicts_are_flagged_and_the_first_committed_keeps_the_slot(db: DatabaseConnection) {
    let env = env(db).await;
    pick_seminar(&env).await;
    let poll = || async {
        rooms::poll::poll_room(&env.backend, &link(&env).await, Utc::now())
            .await
            .unwrap()
    };
    poll().await;

    // 1. Calbridge first: the booking is committed, then someone books
    // the room in Outlook for the same time before the event got there.
    let first = book(&env, tomorrow(10), "Ada Lovelace").await.unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    let late = env
        .emu
        .outlook_create(
            SEMINAR,
            &outlook_event("Late meeting", tomorrow(10), tomorrow(11)),
        )
        .unwrap();
    let report = poll().await;
    assert_eq!(report.conflicts, 1);
    let found = blocks(&env).await;
    assert_eq!(found.len(), 1);
    assert_eq!(
        found[0].conflict_booking_id,
        Some(first),
        "the block is flagged"
    );
    assert!(booking_row(&env, first).await.conflict_event_id.is_none());
    let open = rooms::conflicts(&env.backend.db, env.space_id)
        .await
        .unwrap();
    assert_eq!(open.len(), 1, "{open:?}");
    assert_eq!(open[0].booking_id, first);
    assert_eq!(open[0].event_id, late["id"].as_str().unwrap());
    assert_eq!(open[0].kept, ConflictKept::Booking);
    assert_eq!(open[0].patron_name, "Ada Lovelace");
    // Editing the Outlook event's subject later does not flip it.
    env.emu
        .outlook_update(
            SEMINAR,
            late["id"].as_str().unwrap(),
            &json!({"subject": "Renamed"}),
        )
        .unwrap();
    poll().await;
    let open = rooms::conflicts(&env.backend.db, env.space_id)
        .await
        .unwrap();
    assert_eq!(open.len(), 1);
    assert_eq!(open[0].kept, ConflictKept::Booking);

    // 2. Outlook first: an event is on the room, Calbridge has not read
    // it yet, and a patron books the same time.
    let early = env
        .emu
        .outlook_create(
            SEMINAR,
            &outlook_event("Early meeting", tomorrow(14), tomorrow(15)),
        )
        .unwrap();
    // Calbridge keeps its times to the second (and calls a tie for the
    // booking): the patron books a moment later.
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    let second = book(&env, tomorrow(14), "Grace Hopper").await.unwrap();
    poll().await;
    assert_eq!(
        booking_row(&env, second).await.conflict_event_id.as_deref(),
        early["id"].as_str(),
        "the booking is flagged"
    );
    let open = rooms::conflicts(&env.backend.db, env.space_id)
        .await
        .unwrap();
    assert_eq!(open.len(), 2, "{open:?}");
    assert_eq!(open[1].booking_id, second);
    assert_eq!(open[1].kept, ConflictKept::OutlookEvent);
    // Both records are kept: the booking is still active, the slot still
    // unavailable.
    assert_eq!(booking_row(&env, second).await.status, "active");

    // Resolved: the admin cancels the second booking, Outlook moves the
    // late meeting away. No conflicts are left.
    bookings::cancel(&env.backend.db, second, Utc::now())
        .await
        .unwrap();
    env.emu
        .outlook_update(
            SEMINAR,
            late["id"].as_str().unwrap(),
            &json!({
                "start": {"dateTime": at_text(tomorrow(18)), "timeZone": "UTC"},
                "end": {"dateTime": at_text(tomorrow(19)), "timeZone": "UTC"},
            }),
        )
        .unwrap();
    let report = poll().await;
    assert_eq!(report.conflicts, 0);
    assert!(
        rooms::conflicts(&env.backend.db, env.space_id)
            .await
            .unwrap()
            .is_empty()
    );
    assert!(booking_row(&env, second).await.conflict_event_id.is_none());
    assert!(
        blocks(&env)
            .await
            .iter()
            .all(|b| b.conflict_booking_id.is_none())
    );
}

async fn revoke_deletes_the_subscription_and_leaves_events(db: DatabaseConnection) {
    let env = env(db).await;
    pick_seminar(&env).await;
    let other = new_space(&env.backend, "Study space").await;
    rooms::pick_room(&env.backend, other, STUDY, Utc::now())
        .await
        .unwrap();
    assert_eq!(env.emu.subscriptions().len(), 2);
    book(&env, tomorrow(10), "Ada").await.unwrap();
    Worker::new(env.backend.clone(), "t").run_once().await;
    assert_eq!(env.emu.events(SEMINAR).len(), 1);

    assert!(
        rooms::revoke(&env.backend, env.space_id, Utc::now())
            .await
            .unwrap()
    );
    let subs = env.emu.subscriptions();
    assert_eq!(subs.len(), 1, "only the other room's is left");
    assert_eq!(subs[0].resource, format!("users/{STUDY}/events"));
    assert!(
        rooms::link_of(&env.backend.db, env.space_id)
            .await
            .unwrap()
            .is_none()
    );
    assert_eq!(env.emu.events(SEMINAR).len(), 1, "events stay on the room");
    // New bookings are no longer written.
    book(&env, tomorrow(12), "Alan").await.unwrap();
    Worker::new(env.backend.clone(), "t").run_once().await;
    assert_eq!(env.emu.events(SEMINAR).len(), 1);
    // Back to "pick a room".
    let status = rooms::status_for(&env.backend, env.space_id)
        .await
        .unwrap()
        .unwrap();
    assert!(status.room_address.is_none());
}

async fn disconnect_everything_deletes_subscriptions_and_leaves_events(db: DatabaseConnection) {
    let env = env(db).await;
    pick_seminar(&env).await;
    let other = new_space(&env.backend, "Study space").await;
    rooms::pick_room(&env.backend, other, STUDY, Utc::now())
        .await
        .unwrap();
    book(&env, tomorrow(10), "Ada").await.unwrap();
    Worker::new(env.backend.clone(), "t").run_once().await;
    book(&env, tomorrow(12), "Grace").await.unwrap();
    assert_eq!(env.emu.subscriptions().len(), 2);

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
    assert_eq!(report.subscriptions_deleted, 2);
    assert!(env.emu.subscriptions().is_empty());
    assert!(
        room_link::Entity::find()
            .all(&env.backend.db)
            .await
            .unwrap()
            .is_empty()
    );
    let waiting: Vec<_> = backend::entities::outbox::Entity::find()
        .all(&env.backend.db)
        .await
        .unwrap()
        .into_iter()
        .filter(|j| j.status != "done")
        .collect();
    assert_eq!(waiting.len(), 1);
    assert_eq!(waiting[0].status, "paused");
    assert_eq!(Worker::new(env.backend.clone(), "t").run_once().await, 0);
    assert_eq!(env.emu.events(SEMINAR).len(), 1, "events stay on the room");
    // A notification that still comes in finds nothing to do.
    let report = subscriptions::receive(
        &env.backend,
        &json!({"value": [{"subscriptionId": "gone", "clientState": "x", "changeType": "created"}]}),
        Utc::now(),
    )
    .await;
    assert_eq!(report.ignored, 1);
}

async fn without_https_rooms_are_polled(db: DatabaseConnection) {
    // http:// public URL and no sync.http_notifications: Microsoft could
    // not deliver, so nothing is subscribed and the room is polled.
    let env = env_with(db, false).await;
    let l = pick_seminar(&env).await;
    assert!(l.subscription_id.is_none());
    assert!(env.emu.subscriptions().is_empty());
    assert_eq!(
        rooms::poll::poll_due(&env.backend, Utc::now())
            .await
            .unwrap(),
        1
    );
    assert!(env.emu.subscriptions().is_empty(), "still not subscribed");
    env.emu
        .outlook_create(
            SEMINAR,
            &outlook_event("Walk-in", tomorrow(11), tomorrow(12)),
        )
        .unwrap();
    // Due again after the poll interval (60 s, spread by up to 10 %), not
    // the reconcile interval.
    let next = link(&env).await.next_poll_at;
    assert!(next <= Utc::now() + TimeDelta::seconds(67), "{next}");
    assert_eq!(
        rooms::poll::poll_due(&env.backend, Utc::now() + TimeDelta::seconds(70))
            .await
            .unwrap(),
        1
    );
    assert_eq!(blocks(&env).await.len(), 1);
    let status = rooms::status_for(&env.backend, env.space_id)
        .await
        .unwrap()
        .unwrap();
    assert!(status.subscribed_until.is_none());
}

async fn picking_a_room_subscribes_once_while_the_poller_runs(db: DatabaseConnection) {
    // The poller subscribes rooms that have no subscription. A room just
    // picked has none until `pick_room` has subscribed it; were it due
    // meanwhile, Graph would hold two subscriptions and notify twice.
    let env = env(db).await;
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let poller = {
        let (backend, stop) = (env.backend.clone(), stop.clone());
        tokio::spawn(async move {
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                rooms::poll::poll_due(&backend, Utc::now()).await.unwrap();
                tokio::time::sleep(std::time::Duration::from_millis(1)).await;
            }
        })
    };
    let picked = pick_seminar(&env).await;
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    poller.await.unwrap();
    let creates = env
        .emu
        .requests()
        .iter()
        .filter(|r| r.method == "POST" && r.path.ends_with("/subscriptions"))
        .count();
    assert_eq!(creates, 1, "one subscription asked for");
    assert_eq!(env.emu.subscriptions().len(), 1);
    assert!(picked.subscription_id.is_some());
    // Subscribed: the room is read at once, to catch up.
    assert!(due(&env, Utc::now()).await || link(&env).await.delta_link.is_some());

    env.emu.clear_notifications();
    env.emu
        .outlook_create(
            SEMINAR,
            &outlook_event("Walk-in", tomorrow(9), tomorrow(10)),
        )
        .unwrap();
    delivered(&env, 1).await;
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    assert_eq!(env.emu.notifications().len(), 1, "notified once");
}

async fn the_migration_goes_down_and_up_again(db: DatabaseConnection) {
    use migrations::MigratorTrait;
    migrations::Migrator::down(&db, Some(1))
        .await
        .expect("down");
    migrations::Migrator::up(&db, None).await.expect("up again");
    let env = env(db).await;
    let l = pick_seminar(&env).await;
    assert_eq!(l.mode, "application");
}
