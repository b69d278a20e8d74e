//! Staff appointments against a real database: settings and the admin's
//! switch, open slots, validation, the outbox written in the same
//! transaction, cancel/reschedule rules, and races for one slot.

mod support;

use std::sync::Arc;

use backend::accounts::{self, NewUser, Role};
use backend::appointments::{self, Actor, AppointmentError, AppointmentRequest};
use backend::availability::Hours;
use backend::entities::{appointment, external_busy_block, outbox};
use backend::staff::{self, SettingsInput, StaffError};
use chrono::{DateTime, NaiveDate, Utc};
use sea_orm::{ActiveModelTrait, DatabaseConnection, EntityTrait, PaginatorTrait, QueryOrder, Set};

on_both_databases!(
    only_enabled_staff_offer_appointments,
    staff_settings_are_validated_and_saved,
    bad_requests_are_refused_and_nothing_is_written,
    an_appointment_and_its_outbox_job_are_written_together,
    days_off_busy_blocks_and_appointments_close_slots,
    cancel_rules_follow_the_role,
    staff_reschedule_within_their_hours,
    racing_patrons_get_exactly_one_appointment,
);

fn utc(s: &str) -> DateTime<Utc> {
    s.parse().unwrap()
}

/// Tuesday 1 December 2026, 08:00 in London (UTC+0 in winter).
fn now() -> DateTime<Utc> {
    utc("2026-12-01T08:00:00Z")
}

fn day(s: &str) -> NaiveDate {
    s.parse().unwrap()
}

async fn user(db: &DatabaseConnection, email: &str, role: Role) -> i64 {
    accounts::create_user(
        db,
        NewUser {
            email,
            display_name: email.split('@').next().unwrap(),
            role,
            password: "a-long-enough-password",
        },
    )
    .await
    .unwrap()
    .id
}

fn settings_input() -> SettingsInput {
    SettingsInput {
        appointment_minutes: 30,
        location_kind: staff::IN_PERSON.into(),
        location: "Reference desk".into(),
        time_zone: "Europe/London".into(),
        booking_window_days: 14,
        // 10:00–12:00 local, Monday to Friday.
        hours: (0..5)
            .map(|weekday| Hours {
                weekday,
                opens: 600,
                closes: 720,
            })
            .collect(),
    }
}

/// A staff member with appointments switched on.
async fn offering_staff(db: &DatabaseConnection, email: &str) -> i64 {
    let id = user(db, email, Role::Staff).await;
    staff::update_settings(db, id, &settings_input(), now())
        .await
        .unwrap();
    staff::set_appointments_enabled(db, id, true, now())
        .await
        .unwrap();
    id
}

fn request(staff_id: i64, starts_at: &str) -> AppointmentRequest<'static> {
    AppointmentRequest {
        staff_id,
        starts_at: utc(starts_at),
        patron_name: "Pat Patron",
        patron_email: "Pat@Example.org",
        question: "Help with a literature search",
        created_by: None,
    }
}

async fn counts(db: &DatabaseConnection) -> (u64, u64) {
    (
        appointment::Entity::find().count(db).await.unwrap(),
        outbox::Entity::find().count(db).await.unwrap(),
    )
}

async fn outbox_kinds(db: &DatabaseConnection) -> Vec<(String, i64)> {
    outbox::Entity::find()
        .order_by_asc(outbox::Column::Id)
        .all(db)
        .await
        .unwrap()
        .into_iter()
        .map(|j| (j.kind, j.aggregate_id))
        .collect()
}

async fn only_enabled_staff_offer_appointments(db: DatabaseConnection) {
    let sam = offering_staff(&db, "sam@example.org").await;
    let riley = user(&db, "riley@example.org", Role::Staff).await;
    let pat = user(&db, "pat@example.org", Role::Patron).await;
    let admin = user(&db, "admin@example.org", Role::Admin).await;
    let names: Vec<i64> = staff::list_offering(&db)
        .await
        .unwrap()
        .iter()
        .map(|o| o.user_id)
        .collect();
    assert_eq!(names, [sam]);
    assert!(matches!(
        staff::set_appointments_enabled(&db, pat, true, now()).await,
        Err(StaffError::NotStaff)
    ));
    assert!(matches!(
        staff::set_appointments_enabled(&db, 9999, true, now()).await,
        Err(StaffError::NotFound)
    ));
    // The admin list: staff and admins, with their switch; no patrons.
    let listed: Vec<(i64, bool)> = staff::list_staff_accounts(&db)
        .await
        .unwrap()
        .iter()
        .map(|a| (a.user.id, a.appointments_enabled))
        .collect();
    assert_eq!(listed.len(), 3);
    assert!(listed.contains(&(sam, true)));
    assert!(listed.contains(&(riley, false)));
    assert!(listed.contains(&(admin, false)));
    // A disabled staff member has no slots and cannot be booked.
    staff::set_appointments_enabled(&db, sam, false, now())
        .await
        .unwrap();
    assert!(staff::list_offering(&db).await.unwrap().is_empty());
    let slots = appointments::open_slots(&db, sam, day("2026-12-02"), day("2026-12-02"), now())
        .await
        .unwrap();
    assert!(slots.is_empty());
    let refused = appointments::book(&db, &request(sam, "2026-12-02T10:00:00Z"), now()).await;
    assert!(matches!(refused, Err(AppointmentError::StaffUnavailable)));
    assert_eq!(counts(&db).await, (0, 0));
}

async fn staff_settings_are_validated_and_saved(db: DatabaseConnection) {
    let sam = user(&db, "sam@example.org", Role::Staff).await;
    // Defaults before anything is set.
    let fresh = staff::settings(&db, sam).await.unwrap();
    assert!(!fresh.appointments_enabled);
    assert!(fresh.hours.is_empty());
    let bad = SettingsInput {
        time_zone: "Europe/Nowhere".into(),
        ..settings_input()
    };
    let err = staff::update_settings(&db, sam, &bad, now())
        .await
        .unwrap_err();
    assert!(matches!(
        err,
        StaffError::Invalid {
            field: "time_zone",
            ..
        }
    ));
    assert!(staff::settings(&db, sam).await.unwrap().hours.is_empty());

    let changed = SettingsInput {
        appointment_minutes: 45,
        location_kind: staff::ONLINE.into(),
        location: " https://meet.example.org/sam ".into(),
        ..settings_input()
    };
    let saved = staff::update_settings(&db, sam, &changed, now())
        .await
        .unwrap();
    assert_eq!(saved.appointment_minutes, 45);
    assert_eq!(saved.location, "https://meet.example.org/sam");
    assert_eq!(saved.time_zone, chrono_tz::Europe::London);
    assert_eq!(saved.hours, changed.hours);

    let today = day("2026-12-01");
    staff::add_day_off(&db, sam, day("2026-12-24"), "Holiday", today)
        .await
        .unwrap();
    let again = staff::add_day_off(&db, sam, day("2026-12-24"), "", today).await;
    assert!(matches!(
        again,
        Err(StaffError::Invalid { field: "day", .. })
    ));
    let past = staff::add_day_off(&db, sam, day("2026-11-30"), "", today).await;
    assert!(matches!(
        past,
        Err(StaffError::Invalid { field: "day", .. })
    ));
    let s = staff::settings(&db, sam).await.unwrap();
    assert_eq!(s.days_off.len(), 1);
    assert_eq!(s.days_off[0].note, "Holiday");
    let s = staff::remove_day_off(&db, sam, day("2026-12-24"))
        .await
        .unwrap();
    assert!(s.days_off.is_empty());
}

async fn bad_requests_are_refused_and_nothing_is_written(db: DatabaseConnection) {
    let sam = offering_staff(&db, "sam@example.org").await;
    staff::add_day_off(&db, sam, day("2026-12-03"), "", day("2026-12-01"))
        .await
        .unwrap();
    let long_question = "?".repeat(2001);
    let cases: Vec<(AppointmentRequest<'_>, &str)> = vec![
        (
            AppointmentRequest {
                patron_name: " ",
                ..request(sam, "2026-12-02T10:00:00Z")
            },
            "patron_name",
        ),
        (
            AppointmentRequest {
                patron_email: "not-an-email",
                ..request(sam, "2026-12-02T10:00:00Z")
            },
            "patron_email",
        ),
        (
            AppointmentRequest {
                question: &long_question,
                ..request(sam, "2026-12-02T10:00:00Z")
            },
            "question",
        ),
        // In the past, outside hours, not a slot start, a day off, a
        // Saturday, beyond the 14-day window.
        (request(sam, "2026-11-30T10:00:00Z"), "starts_at"),
        (request(sam, "2026-12-02T13:00:00Z"), "starts_at"),
        (request(sam, "2026-12-02T10:10:00Z"), "starts_at"),
        (request(sam, "2026-12-03T10:00:00Z"), "starts_at"),
        (request(sam, "2026-12-05T10:00:00Z"), "starts_at"),
        (request(sam, "2026-12-21T10:00:00Z"), "starts_at"),
    ];
    for (req, expected) in cases {
        match appointments::book(&db, &req, now()).await {
            Err(AppointmentError::Invalid { field, message }) => {
                assert_eq!(field, expected, "{message}")
            }
            other => panic!("expected {expected} to be refused, got {other:?}"),
        }
    }
    assert_eq!(counts(&db).await, (0, 0));
}

async fn an_appointment_and_its_outbox_job_are_written_together(db: DatabaseConnection) {
    let sam = offering_staff(&db, "sam@example.org").await;
    let booked = appointments::book(&db, &request(sam, "2026-12-02T10:30:00Z"), now())
        .await
        .unwrap();
    assert_eq!(booked.ends_at, utc("2026-12-02T11:00:00Z"));
    assert_eq!(booked.patron_email, "pat@example.org");
    assert_eq!(booked.location, "Reference desk");
    assert_eq!(booked.status, appointments::ACTIVE);
    assert_eq!(
        outbox_kinds(&db).await,
        [("appointment.created".to_owned(), booked.id)]
    );
    let job = outbox::Entity::find().one(&db).await.unwrap().unwrap();
    let payload: serde_json::Value = serde_json::from_str(&job.payload).unwrap();
    assert_eq!(payload["staff_id"], sam);
    let again = appointments::book(&db, &request(sam, "2026-12-02T10:30:00Z"), now()).await;
    assert!(
        matches!(again, Err(AppointmentError::SlotTaken)),
        "{again:?}"
    );
    assert_eq!(counts(&db).await, (1, 1));
}

async fn days_off_busy_blocks_and_appointments_close_slots(db: DatabaseConnection) {
    let sam = offering_staff(&db, "sam@example.org").await;
    let other = offering_staff(&db, "riley@example.org").await;
    let starts = |slots: Vec<backend::availability::Slot>| -> Vec<DateTime<Utc>> {
        slots.iter().map(|s| s.starts_at).collect()
    };
    let wed = day("2026-12-02");
    let all = appointments::open_slots(&db, sam, wed, wed, now())
        .await
        .unwrap();
    assert_eq!(all.len(), 4);
    // An Outlook busy block 10:15–10:45 of Sam's (and one of someone else's).
    for (owner_kind, owner_id) in [("staff", sam), ("space", sam), ("staff", other)] {
        external_busy_block::ActiveModel {
            owner_kind: Set(owner_kind.into()),
            owner_id: Set(owner_id),
            starts_at: Set(utc("2026-12-02T10:15:00Z")),
            ends_at: Set(utc("2026-12-02T10:45:00Z")),
            source_id: Set(format!("evt-{owner_kind}-{owner_id}")),
            ..Default::default()
        }
        .insert(&db)
        .await
        .unwrap();
    }
    appointments::book(&db, &request(sam, "2026-12-02T11:30:00Z"), now())
        .await
        .unwrap();
    assert_eq!(
        starts(
            appointments::open_slots(&db, sam, wed, wed, now())
                .await
                .unwrap()
        ),
        [utc("2026-12-02T11:00:00Z")]
    );
    let blocked = appointments::book(&db, &request(sam, "2026-12-02T10:30:00Z"), now()).await;
    assert!(matches!(blocked, Err(AppointmentError::SlotTaken)));
    // A day off removes the whole day; the rest of the week stays.
    staff::add_day_off(&db, sam, day("2026-12-04"), "Training", day("2026-12-01"))
        .await
        .unwrap();
    let week = appointments::open_slots(&db, sam, day("2026-12-01"), day("2026-12-07"), now())
        .await
        .unwrap();
    let days: std::collections::BTreeSet<NaiveDate> =
        week.iter().map(|s| s.starts_at.date_naive()).collect();
    assert_eq!(
        days.into_iter().collect::<Vec<_>>(),
        [
            day("2026-12-01"),
            day("2026-12-02"),
            day("2026-12-03"),
            day("2026-12-07")
        ]
    );
    // Today's slots after 08:00 remain (10:00 onwards).
    assert_eq!(week[0].starts_at, utc("2026-12-01T10:00:00Z"));
    let too_long =
        appointments::open_slots(&db, sam, day("2026-12-01"), day("2027-03-01"), now()).await;
    assert!(matches!(too_long, Err(AppointmentError::Invalid { .. })));
}

async fn cancel_rules_follow_the_role(db: DatabaseConnection) {
    let sam = offering_staff(&db, "sam@example.org").await;
    let riley = offering_staff(&db, "riley@example.org").await;
    let pat = user(&db, "pat@example.org", Role::Patron).await;
    let kim = user(&db, "kim@example.org", Role::Patron).await;
    let admin = user(&db, "admin@example.org", Role::Admin).await;
    let actor = |user_id, role| Actor { user_id, role };
    let book = |starts_at: &'static str| {
        let db = db.clone();
        async move {
            appointments::book(
                &db,
                &AppointmentRequest {
                    created_by: Some(pat),
                    ..request(sam, starts_at)
                },
                now(),
            )
            .await
            .unwrap()
            .id
        }
    };
    let a = book("2026-12-02T10:00:00Z").await;
    for who in [actor(kim, Role::Patron), actor(riley, Role::Staff)] {
        let refused = appointments::cancel(&db, a, who, now()).await;
        assert!(
            matches!(refused, Err(AppointmentError::Forbidden)),
            "{who:?}"
        );
    }
    appointments::cancel(&db, a, actor(pat, Role::Patron), now())
        .await
        .unwrap();
    let twice = appointments::cancel(&db, a, actor(pat, Role::Patron), now()).await;
    assert!(matches!(twice, Err(AppointmentError::AlreadyCancelled)));
    let b = book("2026-12-02T10:30:00Z").await;
    appointments::cancel(&db, b, actor(sam, Role::Staff), now())
        .await
        .unwrap();
    let c = book("2026-12-02T11:00:00Z").await;
    appointments::cancel(&db, c, actor(admin, Role::Admin), now())
        .await
        .unwrap();
    let kinds: Vec<String> = outbox_kinds(&db).await.into_iter().map(|k| k.0).collect();
    assert_eq!(
        kinds,
        [
            "appointment.created",
            "appointment.cancelled",
            "appointment.created",
            "appointment.cancelled",
            "appointment.created",
            "appointment.cancelled",
        ]
    );
    // The patron's list shows all three; the staff member has none upcoming;
    // a cancelled time can be booked again.
    assert_eq!(appointments::booked_by(&db, pat).await.unwrap().len(), 3);
    assert!(
        appointments::upcoming_for_staff(&db, sam, now())
            .await
            .unwrap()
            .is_empty()
    );
    book("2026-12-02T10:00:00Z").await;
}

async fn staff_reschedule_within_their_hours(db: DatabaseConnection) {
    let sam = offering_staff(&db, "sam@example.org").await;
    let riley = offering_staff(&db, "riley@example.org").await;
    let pat = user(&db, "pat@example.org", Role::Patron).await;
    let me = Actor {
        user_id: sam,
        role: Role::Staff,
    };
    let a = appointments::book(&db, &request(sam, "2026-12-02T10:00:00Z"), now())
        .await
        .unwrap();
    let b = appointments::book(&db, &request(sam, "2026-12-02T11:00:00Z"), now())
        .await
        .unwrap();
    for who in [
        Actor {
            user_id: pat,
            role: Role::Patron,
        },
        Actor {
            user_id: riley,
            role: Role::Staff,
        },
    ] {
        let refused =
            appointments::reschedule(&db, a.id, utc("2026-12-02T10:30:00Z"), who, now()).await;
        assert!(matches!(refused, Err(AppointmentError::Forbidden)));
    }
    let onto_b = appointments::reschedule(&db, a.id, utc("2026-12-02T11:00:00Z"), me, now()).await;
    assert!(matches!(onto_b, Err(AppointmentError::SlotTaken)));
    let outside = appointments::reschedule(&db, a.id, utc("2026-12-02T15:00:00Z"), me, now()).await;
    assert!(matches!(
        outside,
        Err(AppointmentError::Invalid {
            field: "starts_at",
            ..
        })
    ));
    assert_eq!(counts(&db).await, (2, 2));

    // With 60-minute appointments, 10:00–11:00 overlaps only its own old
    // time (10:00–10:30) and is allowed.
    staff::update_settings(
        &db,
        sam,
        &SettingsInput {
            appointment_minutes: 60,
            ..settings_input()
        },
        now(),
    )
    .await
    .unwrap();
    let moved = appointments::reschedule(&db, a.id, utc("2026-12-02T10:00:00Z"), me, now())
        .await
        .unwrap();
    assert_eq!(moved.ends_at, utc("2026-12-02T11:00:00Z"));
    let kinds = outbox_kinds(&db).await;
    assert_eq!(
        kinds.last().unwrap(),
        &("appointment.moved".to_owned(), a.id)
    );
    appointments::cancel(&db, b.id, me, now()).await.unwrap();
    let admin = user(&db, "admin@example.org", Role::Admin).await;
    let moved = appointments::reschedule(
        &db,
        a.id,
        utc("2026-12-07T11:00:00Z"),
        Actor {
            user_id: admin,
            role: Role::Admin,
        },
        now(),
    )
    .await
    .unwrap();
    assert_eq!(moved.starts_at, utc("2026-12-07T11:00:00Z"));
}

async fn racing_patrons_get_exactly_one_appointment(db: DatabaseConnection) {
    let sam = offering_staff(&db, "sam@example.org").await;
    for (round, starts_at) in ["2026-12-02T10:00:00Z", "2026-12-02T11:30:00Z"]
        .into_iter()
        .enumerate()
    {
        let gate = Arc::new(tokio::sync::Barrier::new(8));
        let mut tasks = tokio::task::JoinSet::new();
        for _ in 0..8 {
            let (db, gate) = (db.clone(), gate.clone());
            tasks.spawn(async move {
                gate.wait().await;
                appointments::book(&db, &request(sam, starts_at), now()).await
            });
        }
        let (mut won, mut taken) = (0, 0);
        while let Some(result) = tasks.join_next().await {
            match result.unwrap() {
                Ok(_) => won += 1,
                Err(AppointmentError::SlotTaken) => taken += 1,
                Err(other) => panic!("a racing patron got {other:?}, not SlotTaken"),
            }
        }
        assert_eq!((won, taken), (1, 7));
        let n = round as u64 + 1;
        assert_eq!(counts(&db).await, (n, n));
    }
}

/// On PostgreSQL the database itself refuses overlapping active
/// appointments of one staff member.
#[tokio::test]
async fn postgres_refuses_overlapping_active_appointments_by_constraint() {
    let Some(t) = support::postgres().await else {
        eprintln!("skipped: CALBRIDGE_TEST_POSTGRES_URL is not set");
        return;
    };
    let db = t.db.clone();
    let sam = offering_staff(&db, "sam@example.org").await;
    let row = |starts_at: &str, ends_at: &str, status: &str| appointment::ActiveModel {
        staff_id: Set(sam),
        starts_at: Set(utc(starts_at)),
        ends_at: Set(utc(ends_at)),
        patron_name: Set("P".into()),
        patron_email: Set("p@example.org".into()),
        question: Set(String::new()),
        location_kind: Set("in_person".into()),
        location: Set(String::new()),
        status: Set(status.into()),
        created_by: Set(None),
        created_at: Set(now()),
        updated_at: Set(now()),
        ..Default::default()
    };
    row("2026-12-02T10:00:00Z", "2026-12-02T11:00:00Z", "active")
        .insert(&db)
        .await
        .unwrap();
    let err = row("2026-12-02T10:30:00Z", "2026-12-02T11:30:00Z", "active")
        .insert(&db)
        .await
        .unwrap_err();
    assert!(err.to_string().contains("appointments_no_overlap"), "{err}");
    row("2026-12-02T10:30:00Z", "2026-12-02T11:30:00Z", "cancelled")
        .insert(&db)
        .await
        .unwrap();
}
