//! Space bookings against a real database: validation, the outbox written
//! in the same transaction, races for one slot, and busy blocks.

mod support;

use std::sync::Arc;

use backend::availability::Hours;
use backend::bookings::{self, BookingError, BookingRequest};
use backend::entities::{external_busy_block, outbox, space_booking};
use backend::spaces::{self, SpaceInput};
use chrono::{DateTime, NaiveDate, Utc};
use sea_orm::{ActiveModelTrait, DatabaseConnection, EntityTrait, PaginatorTrait, Set};

on_both_databases!(
    bad_input_is_refused_and_nothing_is_written,
    a_booking_and_its_outbox_job_are_written_together,
    cancelling_frees_the_slot_and_enqueues_the_removal,
    racing_bookers_get_exactly_one_slot,
    busy_blocks_and_bookings_make_slots_unavailable,
    spaces_are_created_updated_and_retired,
);

fn utc(s: &str) -> DateTime<Utc> {
    s.parse().unwrap()
}

/// Tuesday 1 December 2026, 09:00 in Amsterdam (UTC+1).
fn now() -> DateTime<Utc> {
    utc("2026-12-01T08:00:00Z")
}

fn space_input() -> SpaceInput {
    SpaceInput {
        name: "Study room".into(),
        location: "Floor 2".into(),
        capacity: 4,
        time_zone: "Europe/Amsterdam".into(),
        slot_minutes: 30,
        booking_window_days: 14,
        // 09:00–17:00 local, every day.
        hours: (0..7)
            .map(|weekday| Hours {
                weekday,
                opens: 9 * 60,
                closes: 17 * 60,
            })
            .collect(),
    }
}

async fn new_space(db: &DatabaseConnection) -> i64 {
    spaces::create(db, &space_input(), now()).await.unwrap().id
}

fn request(space_id: i64, starts_at: &str, slots: u32) -> BookingRequest<'static> {
    BookingRequest {
        space_id,
        starts_at: utc(starts_at),
        slots,
        patron_name: "Ada Patron",
        patron_email: "Ada@Example.org",
        created_by: None,
    }
}

async fn counts(db: &DatabaseConnection) -> (u64, u64) {
    (
        space_booking::Entity::find().count(db).await.unwrap(),
        outbox::Entity::find().count(db).await.unwrap(),
    )
}

fn field(result: Result<space_booking::Model, BookingError>) -> &'static str {
    match result {
        Err(BookingError::Invalid { field, .. }) => field,
        other => panic!("expected a validation error, got {other:?}"),
    }
}

async fn bad_input_is_refused_and_nothing_is_written(db: DatabaseConnection) {
    let id = new_space(&db).await;
    let cases = [
        ("2026-12-01T07:00:00Z", 1, "starts_at"), // in the past
        ("2026-12-20T09:00:00Z", 1, "starts_at"), // beyond the 14-day window
        ("2026-12-02T06:00:00Z", 1, "starts_at"), // 07:00 local: closed
        ("2026-12-02T09:10:00Z", 1, "starts_at"), // not on a slot boundary
        ("2026-12-02T15:00:00Z", 3, "slots"),     // runs past 17:00 local
        ("2026-12-02T09:00:00Z", 0, "slots"),
        ("2026-12-02T09:00:00Z", 17, "slots"),
    ];
    for (starts_at, slots, expected) in cases {
        let result = bookings::book(&db, &request(id, starts_at, slots), now()).await;
        assert_eq!(field(result), expected, "{starts_at} × {slots}");
    }
    let good = request(id, "2026-12-02T09:00:00Z", 1);
    let bad_email = BookingRequest {
        patron_email: "ada at example",
        ..good.clone()
    };
    assert_eq!(
        field(bookings::book(&db, &bad_email, now()).await),
        "patron_email"
    );
    let no_name = BookingRequest {
        patron_name: "  ",
        ..good.clone()
    };
    assert_eq!(
        field(bookings::book(&db, &no_name, now()).await),
        "patron_name"
    );
    let long_name = "x".repeat(201);
    let overlong = BookingRequest {
        patron_name: &long_name,
        ..good.clone()
    };
    assert_eq!(
        field(bookings::book(&db, &overlong, now()).await),
        "patron_name"
    );
    let missing = BookingRequest {
        space_id: id + 100,
        ..good.clone()
    };
    assert!(matches!(
        bookings::book(&db, &missing, now()).await,
        Err(BookingError::SpaceNotFound)
    ));
    spaces::retire(&db, id).await.unwrap();
    assert!(matches!(
        bookings::book(&db, &good, now()).await,
        Err(BookingError::SpaceRetired)
    ));
    assert_eq!(counts(&db).await, (0, 0));
}

async fn a_booking_and_its_outbox_job_are_written_together(db: DatabaseConnection) {
    let id = new_space(&db).await;
    // 10:00–11:00 local.
    let booking = bookings::book(&db, &request(id, "2026-12-02T09:00:00Z", 2), now())
        .await
        .unwrap();
    assert_eq!(booking.ends_at, utc("2026-12-02T10:00:00Z"));
    assert_eq!(booking.patron_email, "ada@example.org");
    let jobs = outbox::Entity::find().all(&db).await.unwrap();
    assert_eq!(jobs.len(), 1);
    assert_eq!(jobs[0].kind, "space_booking.created");
    assert_eq!(jobs[0].aggregate_id, booking.id);
    assert_eq!(jobs[0].status, "pending");
    let payload: serde_json::Value = serde_json::from_str(&jobs[0].payload).unwrap();
    assert_eq!(payload["space_id"], id);

    // Overlapping the second half: refused, and no job for it either.
    let overlapping = bookings::book(&db, &request(id, "2026-12-02T09:30:00Z", 2), now()).await;
    assert!(
        matches!(overlapping, Err(BookingError::SlotTaken)),
        "{overlapping:?}"
    );
    assert_eq!(counts(&db).await, (1, 1));

    // Right after it is fine.
    bookings::book(&db, &request(id, "2026-12-02T10:00:00Z", 1), now())
        .await
        .unwrap();
    assert_eq!(counts(&db).await, (2, 2));
}

async fn cancelling_frees_the_slot_and_enqueues_the_removal(db: DatabaseConnection) {
    let id = new_space(&db).await;
    let slot = request(id, "2026-12-02T09:00:00Z", 1);
    let booking = bookings::book(&db, &slot, now()).await.unwrap();
    let cancelled = bookings::cancel(&db, booking.id, now()).await.unwrap();
    assert_eq!(cancelled.status, "cancelled");
    assert!(matches!(
        bookings::cancel(&db, booking.id, now()).await,
        Err(BookingError::AlreadyCancelled)
    ));
    assert!(matches!(
        bookings::cancel(&db, booking.id + 100, now()).await,
        Err(BookingError::NotFound)
    ));
    let kinds: Vec<String> = outbox::Entity::find()
        .all(&db)
        .await
        .unwrap()
        .into_iter()
        .map(|j| j.kind)
        .collect();
    assert_eq!(kinds, ["space_booking.created", "space_booking.cancelled"]);
    // A cancelled booking no longer holds its time (on PostgreSQL the
    // exclusion constraint only looks at active bookings).
    bookings::book(&db, &slot, now()).await.unwrap();
}

async fn racing_bookers_get_exactly_one_slot(db: DatabaseConnection) {
    let id = new_space(&db).await;
    for (round, starts_at) in ["2026-12-03T09:00:00Z", "2026-12-03T12:00:00Z"]
        .into_iter()
        .enumerate()
    {
        let gate = Arc::new(tokio::sync::Barrier::new(8));
        let mut tasks = tokio::task::JoinSet::new();
        for _ in 0..8 {
            let (db, gate) = (db.clone(), gate.clone());
            tasks.spawn(async move {
                gate.wait().await;
                bookings::book(&db, &request(id, starts_at, 2), now()).await
            });
        }
        let (mut won, mut taken) = (0, 0);
        while let Some(result) = tasks.join_next().await {
            match result.unwrap() {
                Ok(_) => won += 1,
                Err(BookingError::SlotTaken) => taken += 1,
                Err(other) => panic!("a racing booker got {other:?}, not SlotTaken"),
            }
        }
        assert_eq!((won, taken), (1, 7));
        let n = round as u64 + 1;
        assert_eq!(
            counts(&db).await,
            (n, n),
            "one booking and one job per round"
        );
    }
}

async fn busy_blocks_and_bookings_make_slots_unavailable(db: DatabaseConnection) {
    let id = new_space(&db).await;
    let other = new_space(&db).await;
    // 10:15–11:00 local in Exchange; a block on another space is irrelevant.
    for (owner_id, source) in [(id, "evt-1"), (other, "evt-2")] {
        external_busy_block::ActiveModel {
            owner_kind: Set("space".into()),
            owner_id: Set(owner_id),
            starts_at: Set(utc("2026-12-02T09:15:00Z")),
            ends_at: Set(utc("2026-12-02T10:00:00Z")),
            source_id: Set(source.into()),
            ..Default::default()
        }
        .insert(&db)
        .await
        .unwrap();
    }
    bookings::book(&db, &request(id, "2026-12-02T11:00:00Z", 1), now())
        .await
        .unwrap();

    let date = NaiveDate::from_ymd_opt(2026, 12, 2).unwrap();
    let grid = bookings::day_availability(&db, id, date).await.unwrap();
    assert_eq!(grid.len(), 16);
    let taken: Vec<DateTime<Utc>> = grid
        .iter()
        .filter(|s| !s.free)
        .map(|s| s.slot.starts_at)
        .collect();
    assert_eq!(
        taken,
        [
            utc("2026-12-02T09:00:00Z"),
            utc("2026-12-02T09:30:00Z"),
            utc("2026-12-02T11:00:00Z"),
        ]
    );
    let blocked = bookings::book(&db, &request(id, "2026-12-02T09:30:00Z", 1), now()).await;
    assert!(
        matches!(blocked, Err(BookingError::SlotTaken)),
        "{blocked:?}"
    );
    bookings::book(&db, &request(other, "2026-12-02T08:00:00Z", 1), now())
        .await
        .unwrap();
}

async fn spaces_are_created_updated_and_retired(db: DatabaseConnection) {
    let space = spaces::create(&db, &space_input(), now()).await.unwrap();
    assert_eq!(space.hours.len(), 7);
    assert_eq!(space.time_zone, chrono_tz::Europe::Amsterdam);
    let changed = SpaceInput {
        name: "Quiet room".into(),
        time_zone: "America/New_York".into(),
        hours: vec![Hours {
            weekday: 2,
            opens: 480,
            closes: 720,
        }],
        ..space_input()
    };
    let updated = spaces::update(&db, space.id, &changed).await.unwrap();
    assert_eq!(updated.name, "Quiet room");
    assert_eq!(updated.hours, changed.hours);
    let bad = SpaceInput {
        time_zone: "Nowhere/Special".into(),
        ..space_input()
    };
    let err = spaces::update(&db, space.id, &bad).await.unwrap_err();
    assert!(matches!(
        err,
        spaces::SpaceError::Invalid {
            field: "time_zone",
            ..
        }
    ));
    assert!(err.to_string().contains("IANA"));
    assert!(matches!(
        spaces::update(&db, space.id + 100, &space_input()).await,
        Err(spaces::SpaceError::NotFound)
    ));
    spaces::retire(&db, space.id).await.unwrap();
    assert!(spaces::list(&db, false).await.unwrap().is_empty());
    assert_eq!(spaces::list(&db, true).await.unwrap().len(), 1);
}

/// The database itself refuses overlaps on PostgreSQL, whatever the code
/// above it checks: a raw insert past `bookings::book` fails.
#[tokio::test]
async fn postgres_refuses_overlapping_active_bookings_by_constraint() {
    let Some(t) = support::postgres().await else {
        eprintln!("skipped: CALBRIDGE_TEST_POSTGRES_URL is not set");
        return;
    };
    let db = t.db.clone();
    let id = new_space(&db).await;
    let row = |starts_at: &str, ends_at: &str, status: &str| space_booking::ActiveModel {
        space_id: Set(id),
        starts_at: Set(utc(starts_at)),
        ends_at: Set(utc(ends_at)),
        patron_name: Set("P".into()),
        patron_email: Set("p@example.org".into()),
        status: Set(status.into()),
        created_by: Set(None),
        created_at: Set(now()),
        updated_at: Set(now()),
        ..Default::default()
    };
    row("2026-12-02T09:00:00Z", "2026-12-02T10:00:00Z", "active")
        .insert(&db)
        .await
        .unwrap();
    let err = row("2026-12-02T09:30:00Z", "2026-12-02T10:30:00Z", "active")
        .insert(&db)
        .await
        .unwrap_err();
    assert!(
        err.to_string().contains("space_bookings_no_overlap"),
        "{err}"
    );
    // Cancelled rows and touching intervals are allowed.
    row("2026-12-02T09:30:00Z", "2026-12-02T10:30:00Z", "cancelled")
        .insert(&db)
        .await
        .unwrap();
    row("2026-12-02T10:00:00Z", "2026-12-02T10:30:00Z", "active")
        .insert(&db)
        .await
        .unwrap();
}
