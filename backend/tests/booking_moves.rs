//! Moving a space booking: the same checks as booking, no overlap except
//! with its own old time, and the move enqueued in the same transaction.

mod support;

use backend::availability::Hours;
use backend::bookings::{self, BookingError, BookingRequest};
use backend::entities::{external_busy_block, outbox, space_booking};
use backend::spaces::{self, SpaceInput};
use chrono::{DateTime, Utc};
use sea_orm::{ActiveModelTrait, DatabaseConnection, EntityTrait, QueryOrder, Set};

on_both_databases!(
    a_move_keeps_the_rules_and_enqueues_the_move,
    a_move_onto_a_busy_block_or_cancelled_booking_is_refused,
);

fn utc(s: &str) -> DateTime<Utc> {
    s.parse().unwrap()
}

fn now() -> DateTime<Utc> {
    utc("2026-12-01T08:00:00Z")
}

async fn new_space(db: &DatabaseConnection) -> i64 {
    let input = SpaceInput {
        name: "Study room".into(),
        location: "Floor 2".into(),
        capacity: 4,
        time_zone: "Europe/Amsterdam".into(),
        slot_minutes: 30,
        booking_window_days: 14,
        hours: (0..7)
            .map(|weekday| Hours {
                weekday,
                opens: 9 * 60,
                closes: 17 * 60,
            })
            .collect(),
    };
    spaces::create(db, &input, now()).await.unwrap().id
}

async fn book(db: &DatabaseConnection, space_id: i64, starts_at: &str, slots: u32) -> i64 {
    let request = BookingRequest {
        space_id,
        starts_at: utc(starts_at),
        slots,
        patron_name: "Ada Patron",
        patron_email: "ada@example.org",
        created_by: None,
    };
    bookings::book(db, &request, now()).await.unwrap().id
}

async fn jobs(db: &DatabaseConnection) -> Vec<(String, i64)> {
    outbox::Entity::find()
        .order_by_asc(outbox::Column::Id)
        .all(db)
        .await
        .unwrap()
        .into_iter()
        .map(|j| (j.kind, j.aggregate_id))
        .collect()
}

async fn a_move_keeps_the_rules_and_enqueues_the_move(db: DatabaseConnection) {
    let space = new_space(&db).await;
    // 10:00–11:00 and 12:00–12:30 local (UTC+1).
    let a = book(&db, space, "2026-12-02T09:00:00Z", 2).await;
    let b = book(&db, space, "2026-12-02T11:00:00Z", 1).await;
    let before = jobs(&db).await;

    // Onto b, outside hours, in the past, too many slots: refused, nothing written.
    let onto_b = bookings::move_booking(&db, a, utc("2026-12-02T10:30:00Z"), 2, now()).await;
    assert!(matches!(onto_b, Err(BookingError::SlotTaken)), "{onto_b:?}");
    for (starts_at, slots, field) in [
        ("2026-12-02T17:00:00Z", 1, "starts_at"),
        ("2026-11-30T09:00:00Z", 1, "starts_at"),
        ("2026-12-02T09:00:00Z", 0, "slots"),
    ] {
        match bookings::move_booking(&db, a, utc(starts_at), slots, now()).await {
            Err(BookingError::Invalid { field: f, .. }) => assert_eq!(f, field),
            other => panic!("expected {field} refused, got {other:?}"),
        }
    }
    assert_eq!(jobs(&db).await, before);

    // Half an hour later: overlaps only its own old time.
    let moved = bookings::move_booking(&db, a, utc("2026-12-02T09:30:00Z"), 3, now())
        .await
        .unwrap();
    assert_eq!(
        (moved.starts_at, moved.ends_at),
        (utc("2026-12-02T09:30:00Z"), utc("2026-12-02T11:00:00Z"))
    );
    assert_eq!(
        jobs(&db).await.last().unwrap(),
        &("space_booking.moved".to_owned(), a)
    );
    let stored = space_booking::Entity::find_by_id(a)
        .one(&db)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(stored.ends_at, utc("2026-12-02T11:00:00Z"));
    assert!(matches!(
        bookings::move_booking(&db, 9999, utc("2026-12-02T13:00:00Z"), 1, now()).await,
        Err(BookingError::NotFound)
    ));
    let _ = b;
}

async fn a_move_onto_a_busy_block_or_cancelled_booking_is_refused(db: DatabaseConnection) {
    let space = new_space(&db).await;
    let a = book(&db, space, "2026-12-02T09:00:00Z", 1).await;
    external_busy_block::ActiveModel {
        owner_kind: Set("space".into()),
        owner_id: Set(space),
        starts_at: Set(utc("2026-12-02T13:00:00Z")),
        ends_at: Set(utc("2026-12-02T14:00:00Z")),
        source_id: Set("evt".into()),
        ..Default::default()
    }
    .insert(&db)
    .await
    .unwrap();
    let blocked = bookings::move_booking(&db, a, utc("2026-12-02T13:30:00Z"), 1, now()).await;
    assert!(matches!(blocked, Err(BookingError::SlotTaken)));
    bookings::cancel(&db, a, now()).await.unwrap();
    let cancelled = bookings::move_booking(&db, a, utc("2026-12-02T10:00:00Z"), 1, now()).await;
    assert!(matches!(cancelled, Err(BookingError::AlreadyCancelled)));
    let kinds: Vec<String> = jobs(&db).await.into_iter().map(|j| j.0).collect();
    assert_eq!(kinds, ["space_booking.created", "space_booking.cancelled"]);
}
