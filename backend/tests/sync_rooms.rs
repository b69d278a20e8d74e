//! Spaces ↔ Exchange rooms against the emulator (delegated mode): the
//! facilities manager (a delegate of the demo rooms) authorizes a space
//! through the real sign-in pages; picking a room checks access; bookings
//! land on the room and follow moves and cancels; an event placed on the
//! room "in Outlook" becomes a busy block after a poll, and frees the slot
//! when moved away or deleted, while Calbridge's own events are never
//! imported; revoke and the system-wide disconnect stop it all and leave
//! the events on the room.

mod support;
mod sync_support;

use backend::Backend;
use backend::bookings::{self, BookingError, BookingRequest};
use backend::entities::{calendar_connection, event_link, external_busy_block, room_link};
use backend::integration::AccountType;
use backend::microsoft::identity::ROOM_SCOPES;
use backend::rooms::{self, RoomCallbackOutcome, RoomError};
use backend::sync::{Subject, Worker};
use backend::vault::Vault;
use chrono::{DateTime, TimeDelta, Utc};
use emulator::state::SignInAudience;
use emulator::{DEMO, EmulatorHandle, NewApp};
use sea_orm::{ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter};
use secrecy::SecretString;
use serde_json::json;
use sync_support::{
    PUBLIC_URL, SAM, STAFF_PASSWORD, at_text, authorize_room, new_space, save_integration,
    settings, tomorrow,
};

on_both_databases!(
    bookings_land_on_the_room_and_follow_moves_and_cancels,
    room_events_become_busy_blocks_and_own_events_are_not_imported,
    a_room_the_account_cannot_write_or_that_does_not_exist_is_refused,
    revoke_stops_sync_erases_tokens_and_leaves_events,
    disconnect_everything_revokes_room_connections_and_leaves_events,
    a_create_whose_answer_was_lost_is_still_deleted_on_cancel,
    a_first_sync_shows_its_progress_until_done,
    the_dashboard_shows_each_subject_as_its_own_status_does,
);

const FRAN: &str = "fran.facilities@contoso-library.onmicrosoft.com";
const FRAN_PASSWORD: &str = "Rooms-Pass-2024!";
const SEMINAR: &str = "room.seminar@contoso-library.onmicrosoft.com";
const STUDY: &str = "room.study-a@contoso-library.onmicrosoft.com";

struct RoomEnv {
    backend: Backend,
    emu: EmulatorHandle,
    space_id: i64,
    _dir: tempfile::TempDir,
}

fn vault() -> Vault {
    use base64::Engine;
    let key = base64::engine::general_purpose::STANDARD.encode([9u8; 32]);
    Vault::parse(&SecretString::from(key), None).expect("vault")
}

async fn env(db: DatabaseConnection) -> RoomEnv {
    let emu = emulator::Emulator::start(emulator::EmulatorConfig::demo())
        .await
        .expect("emulator starts");
    let dir = tempfile::tempdir().unwrap();
    let settings = settings(dir.path(), &emu);
    let redirect = backend::integration::redirect_url(&settings);
    let backend = Backend::new(db, settings, vault());
    let mut app = NewApp::web(
        "Calbridge",
        DEMO.tenant_id,
        SignInAudience::AzureADMultipleOrgs,
        &redirect,
    );
    app.delegated_permissions = ROOM_SCOPES.iter().map(|s| s.to_string()).collect();
    let app = emu.register_app(app);
    save_integration(&backend, &app, AccountType::AnyOrganization).await;
    let space_id = new_space(&backend, "Seminar space").await;
    RoomEnv {
        backend,
        emu,
        space_id,
        _dir: dir,
    }
}

async fn connect_seminar(env: &RoomEnv) -> room_link::Model {
    let outcome = authorize_room(&env.backend, env.space_id, FRAN, FRAN_PASSWORD).await;
    assert!(
        matches!(outcome, RoomCallbackOutcome::Authorized { .. }),
        "{outcome:?}"
    );
    rooms::pick_room(&env.backend, env.space_id, SEMINAR, Utc::now())
        .await
        .expect("Fran is a delegate of the seminar room")
}

async fn book(env: &RoomEnv, at: DateTime<Utc>, patron: &str) -> Result<i64, BookingError> {
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

fn worker(env: &RoomEnv) -> Worker {
    Worker::new(env.backend.clone(), "rooms-test")
}

fn starts(e: &serde_json::Value) -> String {
    e["start"]["dateTime"]
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

async fn blocks(env: &RoomEnv) -> Vec<external_busy_block::Model> {
    external_busy_block::Entity::find()
        .filter(external_busy_block::Column::OwnerKind.eq("space"))
        .filter(external_busy_block::Column::OwnerId.eq(env.space_id))
        .all(&env.backend.db)
        .await
        .unwrap()
}

async fn poll(env: &RoomEnv) -> rooms::poll::PollReport {
    let link = rooms::link_of(&env.backend.db, env.space_id)
        .await
        .unwrap()
        .expect("linked");
    rooms::poll::poll_room(&env.backend, &link, Utc::now())
        .await
        .expect("poll")
}

async fn bookings_land_on_the_room_and_follow_moves_and_cancels(db: DatabaseConnection) {
    let env = env(db).await;
    connect_seminar(&env).await;
    let id = book(&env, tomorrow(10), "Ada Lovelace").await.unwrap();
    assert_eq!(worker(&env).run_once().await, 1);

    let events = env.emu.events(SEMINAR);
    assert_eq!(events.len(), 1, "{events:?}");
    let e = &events[0];
    assert!(
        e["subject"].as_str().unwrap().contains("Ada Lovelace"),
        "{e}"
    );
    assert!(starts(e).starts_with(&at_text(tomorrow(10))), "{e}");
    assert_eq!(
        e["transactionId"],
        rooms::outbound::transaction_id(PUBLIC_URL, id)
    );
    // Nothing went to the authorizing account's own calendar.
    assert!(env.emu.events(FRAN).is_empty());
    let link = event_link::Entity::find()
        .filter(event_link::Column::RecordKind.eq("space_booking"))
        .filter(event_link::Column::RecordId.eq(id))
        .one(&env.backend.db)
        .await
        .unwrap()
        .expect("link stored");
    assert_eq!(link.mailbox, SEMINAR);
    assert_eq!(link.graph_event_id, e["id"].as_str().unwrap());

    // The access token expires: the move refreshes it with the room
    // scopes and still reaches the room.
    let conn = backend::connections::find(&env.backend.db, rooms::space_owner(env.space_id))
        .await
        .unwrap()
        .unwrap();
    let version = conn.token_version;
    let mut expired: calendar_connection::ActiveModel = conn.into();
    expired.access_expires_at = sea_orm::Set(Some(Utc::now() - TimeDelta::minutes(1)));
    sea_orm::ActiveModelTrait::update(expired, &env.backend.db)
        .await
        .unwrap();
    bookings::move_booking(&env.backend.db, id, tomorrow(14), 2, Utc::now())
        .await
        .unwrap();
    assert_eq!(worker(&env).run_once().await, 1);
    let events = env.emu.events(SEMINAR);
    assert_eq!(events.len(), 1, "a move updates, never duplicates");
    assert_eq!(events[0]["id"], e["id"]);
    assert!(starts(&events[0]).starts_with(&at_text(tomorrow(14))));
    let refreshed = backend::connections::find(&env.backend.db, rooms::space_owner(env.space_id))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(refreshed.token_version, version + 1, "refreshed once");

    bookings::cancel(&env.backend.db, id, Utc::now())
        .await
        .unwrap();
    assert_eq!(worker(&env).run_once().await, 1);
    assert!(env.emu.events(SEMINAR).is_empty());
}

async fn room_events_become_busy_blocks_and_own_events_are_not_imported(db: DatabaseConnection) {
    let env = env(db).await;
    connect_seminar(&env).await;
    // Calbridge's own booking on the room.
    book(&env, tomorrow(9), "Grace Hopper").await.unwrap();
    worker(&env).run_once().await;
    let first = poll(&env).await;
    assert!(first.full);
    assert_eq!(first.own_events, 1);
    assert!(blocks(&env).await.is_empty(), "own events are not imported");

    // Someone books the room in Outlook: 13:00–14:00 tomorrow.
    let outlook = env
        .emu
        .outlook_create(
            SEMINAR,
            &json!({
                "subject": "Board meeting",
                "start": {"dateTime": at_text(tomorrow(13)), "timeZone": "UTC"},
                "end": {"dateTime": at_text(tomorrow(14)), "timeZone": "UTC"},
                "showAs": "busy",
            }),
        )
        .unwrap();
    let report = poll(&env).await;
    assert!(!report.full, "the second poll continues the delta round");
    let found = blocks(&env).await;
    assert_eq!(found.len(), 1, "{found:?}");
    assert_eq!(found[0].starts_at, tomorrow(13));
    assert_eq!(found[0].ends_at, tomorrow(14));
    assert_eq!(found[0].source_id, outlook["id"].as_str().unwrap());
    // The slot is no longer bookable in Calbridge.
    let taken = book(&env, tomorrow(13), "Alan Turing").await;
    assert!(matches!(taken, Err(BookingError::SlotTaken)), "{taken:?}");

    // Moved in Outlook: the block follows.
    let id = outlook["id"].as_str().unwrap();
    env.emu
        .outlook_update(
            SEMINAR,
            id,
            &json!({
                "start": {"dateTime": at_text(tomorrow(16)), "timeZone": "UTC"},
                "end": {"dateTime": at_text(tomorrow(17)), "timeZone": "UTC"},
            }),
        )
        .unwrap();
    poll(&env).await;
    let found = blocks(&env).await;
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].starts_at, tomorrow(16));
    book(&env, tomorrow(13), "Alan Turing")
        .await
        .expect("the old time is free again");

    // Deleted in Outlook: the slot is free.
    env.emu.outlook_delete(SEMINAR, id).unwrap();
    poll(&env).await;
    assert!(blocks(&env).await.is_empty());
    // The bookings' own events are still not imported after all that.
    worker(&env).run_once().await;
    poll(&env).await;
    assert!(blocks(&env).await.is_empty());

    // An expired delta token starts a full round that finds the same.
    env.emu.expire_delta_tokens();
    let report = poll(&env).await;
    assert!(report.full);
    assert!(blocks(&env).await.is_empty());
}

async fn a_room_the_account_cannot_write_or_that_does_not_exist_is_refused(db: DatabaseConnection) {
    let env = env(db).await;
    // Picking before anyone authorized.
    let early = rooms::pick_room(&env.backend, env.space_id, SEMINAR, Utc::now()).await;
    assert!(matches!(early, Err(RoomError::NotAuthorized)), "{early:?}");

    // Sam is not a delegate of any room.
    let outcome = authorize_room(&env.backend, env.space_id, SAM, STAFF_PASSWORD).await;
    assert!(
        matches!(outcome, RoomCallbackOutcome::Authorized { .. }),
        "{outcome:?}"
    );
    let refused = rooms::pick_room(&env.backend, env.space_id, SEMINAR, Utc::now()).await;
    match refused {
        Err(e @ RoomError::NotADelegate { .. }) => {
            let text = e.to_string();
            assert!(text.contains(SAM) && text.contains("delegate"), "{text}");
        }
        other => panic!("expected NotADelegate, got {other:?}"),
    }
    assert!(
        rooms::link_of(&env.backend.db, env.space_id)
            .await
            .unwrap()
            .is_none()
    );

    // Fran is, but there is no such room.
    authorize_room(&env.backend, env.space_id, FRAN, FRAN_PASSWORD).await;
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
    let bad = rooms::pick_room(&env.backend, env.space_id, "not an address", Utc::now()).await;
    assert!(matches!(bad, Err(RoomError::BadAddress)), "{bad:?}");

    // The directory lists the three demo rooms, by name.
    let listed = rooms::list_rooms(&env.backend, env.space_id).await.unwrap();
    let names: Vec<_> = listed.iter().map(|r| r.name.as_str()).collect();
    assert_eq!(names, ["Media Lab", "Seminar Room", "Study Room A"]);
    assert_eq!(listed[1].capacity, Some(20));
    let link = rooms::pick_room(&env.backend, env.space_id, &listed[1].address, Utc::now())
        .await
        .unwrap();
    assert_eq!(link.room_name, "Seminar Room");
}

async fn revoke_stops_sync_erases_tokens_and_leaves_events(db: DatabaseConnection) {
    let env = env(db).await;
    connect_seminar(&env).await;
    // A second space on another room, authorized by the same person.
    let other = new_space(&env.backend, "Study space").await;
    authorize_room(&env.backend, other, FRAN, FRAN_PASSWORD).await;
    rooms::pick_room(&env.backend, other, STUDY, Utc::now())
        .await
        .unwrap();

    book(&env, tomorrow(10), "Ada").await.unwrap();
    worker(&env).run_once().await;
    env.emu
        .outlook_create(
            SEMINAR,
            &json!({
                "subject": "Outlook-only",
                "start": {"dateTime": at_text(tomorrow(15)), "timeZone": "UTC"},
                "end": {"dateTime": at_text(tomorrow(16)), "timeZone": "UTC"},
            }),
        )
        .unwrap();
    poll(&env).await;
    assert_eq!(blocks(&env).await.len(), 1);

    assert!(
        rooms::revoke(&env.backend, env.space_id, Utc::now())
            .await
            .unwrap()
    );
    let row = backend::connections::find(&env.backend.db, rooms::space_owner(env.space_id))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(row.status, "revoked");
    assert!(row.access_token_sealed.is_none() && row.refresh_token_sealed.is_none());
    assert!(
        rooms::link_of(&env.backend.db, env.space_id)
            .await
            .unwrap()
            .is_none()
    );
    assert!(
        blocks(&env).await.is_empty(),
        "blocks read from the room go"
    );
    // The other space keeps its tokens and its room.
    let kept = backend::connections::find(&env.backend.db, rooms::space_owner(other))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(kept.status, "active");
    assert!(kept.refresh_token_sealed.is_some());

    // New bookings are no longer written; the room's events stay.
    book(&env, tomorrow(12), "Alan").await.unwrap();
    worker(&env).run_once().await;
    assert_eq!(env.emu.events(SEMINAR).len(), 2);
    assert_eq!(
        rooms::poll::poll_due(&env.backend, Utc::now() + TimeDelta::hours(1))
            .await
            .unwrap(),
        1,
        "only the other space's room is polled"
    );
}

async fn disconnect_everything_revokes_room_connections_and_leaves_events(db: DatabaseConnection) {
    let env = env(db).await;
    connect_seminar(&env).await;
    book(&env, tomorrow(10), "Ada").await.unwrap();
    worker(&env).run_once().await;
    book(&env, tomorrow(12), "Grace").await.unwrap();

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
    assert_eq!(report.connections_revoked, 1);
    let rows = calendar_connection::Entity::find()
        .all(&env.backend.db)
        .await
        .unwrap();
    assert!(
        rows.iter()
            .all(|r| r.status == "revoked" && r.refresh_token_sealed.is_none())
    );
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
    assert_eq!(worker(&env).run_once().await, 0);
    assert_eq!(env.emu.events(SEMINAR).len(), 1, "events stay on the room");
}

/// The create reaches the room but its answer is lost, and the quick
/// retry is refused (503); the booking is then cancelled. The job's next run
/// finds the "create sent" link, finds the event by its transactionId and
/// deletes it: nothing is left on the room.
async fn a_create_whose_answer_was_lost_is_still_deleted_on_cancel(db: DatabaseConnection) {
    use sea_orm::ConnectionTrait;
    let env = env(db).await;
    connect_seminar(&env).await;
    let id = book(&env, tomorrow(13), "Lost Answer").await.unwrap();
    env.emu.push_faults([
        emulator::faults::FaultKind::LostAnswerDrop,
        emulator::faults::FaultKind::ServiceUnavailable,
    ]);
    worker(&env).run_once().await;
    let on_room = |events: Vec<serde_json::Value>| {
        events
            .iter()
            .filter(|e| {
                e["subject"]
                    .as_str()
                    .unwrap_or_default()
                    .contains("Lost Answer")
            })
            .count()
    };
    assert_eq!(
        on_room(env.emu.events(SEMINAR)),
        1,
        "the create was applied"
    );

    bookings::cancel(&env.backend.db, id, Utc::now())
        .await
        .unwrap();
    // Make the backed-off job due now.
    env.backend
        .db
        .execute_unprepared("UPDATE outbox SET run_after = '2000-01-01 00:00:00'")
        .await
        .unwrap();
    for _ in 0..5 {
        if worker(&env).run_once().await == 0 {
            break;
        }
    }
    assert_eq!(
        on_room(env.emu.events(SEMINAR)),
        0,
        "nothing is left on the room"
    );
}

/// Three bookings made before the space is connected to the seminar room,
/// so connecting it starts a first sync of three jobs.
async fn booked_then_connected(env: &RoomEnv) {
    for hour in [8, 10, 12] {
        book(env, tomorrow(hour), "Before Connecting")
            .await
            .unwrap();
    }
    // Nothing connected yet: those bookings' jobs found no room.
    while worker(env).run_once().await > 0 {}
    connect_seminar(env).await;
}

/// Bookings made before the space was connected go to the room as its
/// first sync, and the status counts them until they are written.
async fn a_first_sync_shows_its_progress_until_done(db: DatabaseConnection) {
    use backend::sync::status::{Progress, SyncState, status_of};
    let env = env(db).await;
    booked_then_connected(&env).await;
    let status = status_of(&env.backend.db, Subject::Space(env.space_id))
        .await
        .unwrap();
    assert_eq!(status.state, SyncState::Syncing);
    assert_eq!(status.progress, Some(Progress { done: 0, total: 3 }));
    assert_eq!(status.pending, 3);

    while worker(&env).run_once().await > 0 {}
    let status = status_of(&env.backend.db, Subject::Space(env.space_id))
        .await
        .unwrap();
    assert_eq!(status.state, SyncState::Active, "{status:?}");
    assert_eq!(status.progress, None);
    let written = env
        .emu
        .events(SEMINAR)
        .iter()
        .filter(|e| {
            e["subject"]
                .as_str()
                .unwrap_or_default()
                .contains("Before Connecting")
        })
        .count();
    assert_eq!(written, 3, "each booking is on the room once");
}

/// The dashboard reads every subject at once; each of its rows must be
/// what the subject's own status says: a space syncing its first
/// bookings to the room, one not connected, a staff member with only
/// legacy password settings, and a failed job with its error.
async fn the_dashboard_shows_each_subject_as_its_own_status_does(db: DatabaseConnection) {
    use backend::entities::outbox;
    use backend::legacy::{self, LegacyInput, OwnerKind};
    use backend::sync::status::{SyncState, overview, status_of};
    use sea_orm::{ActiveModelTrait, Set};
    let env = env(db).await;
    booked_then_connected(&env).await;
    let other_space = new_space(&env.backend, "A space not connected").await;
    let legacy_only = sync_support::staff_member(&env.backend, "legacy@calbridge.test").await;
    legacy::set(
        &env.backend.db,
        &env.backend.vault,
        OwnerKind::Staff,
        legacy_only,
        &LegacyInput {
            server_url: "https://mail.example.org/EWS/Exchange.asmx".into(),
            account: "legacy@example.org".into(),
            password: Some(SecretString::from("old-password".to_owned())),
        },
        Utc::now(),
    )
    .await
    .unwrap();
    // One of the room's jobs failed for good.
    let job = outbox::Entity::find()
        .filter(outbox::Column::Kind.like("space_booking.%"))
        .filter(outbox::Column::Status.eq("pending"))
        .one(&env.backend.db)
        .await
        .unwrap()
        .expect("a room job");
    let mut failed: outbox::ActiveModel = job.into();
    failed.status = Set("failed".into());
    failed.last_error = Set(Some("Graph said no".into()));
    failed.update(&env.backend.db).await.unwrap();

    let rows = overview(&env.backend.db).await.unwrap();
    for row in &rows {
        let own = status_of(&env.backend.db, row.status.subject)
            .await
            .unwrap();
        assert_eq!(row.status, own, "{}", row.name);
    }
    let state_of = |subject| {
        rows.iter()
            .find(|r| r.status.subject == subject)
            .map(|r| r.status.clone())
            .unwrap_or_else(|| panic!("{subject:?} is on the dashboard"))
    };
    let space = state_of(Subject::Space(env.space_id));
    assert_eq!(space.state, SyncState::Error);
    assert_eq!((space.pending, space.failed), (2, 1));
    assert_eq!(space.last_error.as_deref(), Some("Graph said no"));
    assert!(space.room.is_some());
    assert_eq!(
        state_of(Subject::Space(other_space)).state,
        SyncState::NotConnected
    );
    assert_eq!(
        state_of(Subject::Staff(legacy_only)).state,
        SyncState::LegacyPassword
    );
}
