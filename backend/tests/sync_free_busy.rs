//! Free/busy from the staff member's Outlook calendar: the first window,
//! incremental deltas, an expired delta token, the daily roll, and which
//! events block (busy/oof/tentative; all-day, multi-day, recurring; times
//! in other zones) and which do not (free, workingElsewhere, outside).

mod support;
mod sync_support;

use backend::entities::{external_busy_block, staff_profile};
use backend::sync::free_busy;
use chrono::{DateTime, Duration, DurationRound, TimeDelta, Utc};
use sea_orm::{ActiveModelTrait, ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter, Set};
use serde_json::{Value, json};
use sync_support::*;

on_both_databases!(busy_times_block_and_follow_changes_in_outlook);

fn at(t: DateTime<Utc>, zone: &str) -> Value {
    json!({"dateTime": t.format("%Y-%m-%dT%H:%M:%S").to_string(), "timeZone": zone})
}

fn event(subject: &str, start: DateTime<Utc>, end: DateTime<Utc>, show_as: &str) -> Value {
    json!({"subject": subject, "start": at(start, "UTC"), "end": at(end, "UTC"), "showAs": show_as})
}

async fn blocks(env: &SyncEnv) -> Vec<external_busy_block::Model> {
    let mut rows = external_busy_block::Entity::find()
        .filter(external_busy_block::Column::OwnerKind.eq("staff"))
        .filter(external_busy_block::Column::OwnerId.eq(env.staff_id))
        .all(&env.backend.db)
        .await
        .unwrap();
    rows.sort_by_key(|b| b.starts_at);
    rows
}

async fn busy_times_block_and_follow_changes_in_outlook(db: DatabaseConnection) {
    let env = env(db).await;
    let profile = staff_profile::Entity::find()
        .filter(staff_profile::Column::UserId.eq(env.staff_id))
        .one(&env.backend.db)
        .await
        .unwrap()
        .unwrap();
    let mut p: staff_profile::ActiveModel = profile.clone().into();
    p.free_busy_enabled = Set(true);
    let profile = p.update(&env.backend.db).await.unwrap();
    connect(&env.backend, env.staff_id, SAM).await;

    let day = Utc::now().duration_trunc(TimeDelta::days(1)).unwrap() + Duration::days(2);
    let h = |n: i64| day + Duration::hours(n);
    let emu = &env.emu;
    let busy = emu
        .outlook_create(SAM, &event("Team meeting", h(9), h(10), "busy"))
        .unwrap();
    emu.outlook_create(SAM, &event("Lunch (free)", h(12), h(13), "free"))
        .unwrap();
    emu.outlook_create(
        SAM,
        &event("At the branch", h(13), h(14), "workingElsewhere"),
    )
    .unwrap();
    // 10:00–11:00 in Amsterdam (winter) is 09:00–10:00 UTC on day + 1.
    let amsterdam = h(24 + 10);
    emu.outlook_create(
        SAM,
        &json!({"subject": "Zone test", "showAs": "busy",
            "start": at(amsterdam, "Europe/Amsterdam"), "end": at(amsterdam + Duration::hours(1), "Europe/Amsterdam")}),
    )
    .unwrap();
    let oof = emu
        .outlook_create(
            SAM,
            &json!({"subject": "Day off", "showAs": "oof", "isAllDay": true,
                "start": at(day + Duration::days(2), "UTC"), "end": at(day + Duration::days(3), "UTC")}),
        )
        .unwrap();
    emu.outlook_create(
        SAM,
        &event("Conference", h(24 * 4 + 8), h(24 * 5 + 17), "tentative"),
    )
    .unwrap();
    emu.outlook_create(
        SAM,
        &json!({"subject": "Daily stand-up", "showAs": "busy",
            "start": at(h(24 * 6 + 8), "UTC"), "end": at(h(24 * 6 + 8) + Duration::minutes(15), "UTC"),
            "recurrence": {"pattern": {"type": "daily", "interval": 1},
                "range": {"type": "numbered", "startDate": (day + Duration::days(6)).format("%Y-%m-%d").to_string(), "numberOfOccurrences": 3}}}),
    )
    .unwrap();
    emu.outlook_create(SAM, &event("Far away", h(24 * 40), h(24 * 40 + 1), "busy"))
        .unwrap();

    let now = Utc::now();
    let report = free_busy::sync_staff(&env.backend, &profile, &conn(&env).await, now)
        .await
        .unwrap();
    assert!(report.full);
    let rows = blocks(&env).await;
    let spans: Vec<_> = rows.iter().map(|b| (b.starts_at, b.ends_at)).collect();
    assert_eq!(rows.len(), 7, "{spans:?}");
    assert_eq!(spans[0], (h(9), h(10)));
    assert_eq!(
        spans[1],
        (h(24 + 9), h(24 + 10)),
        "Amsterdam time converted"
    );
    assert_eq!(
        spans[2],
        (day + Duration::days(2), day + Duration::days(3)),
        "all-day"
    );
    assert_eq!(spans[3], (h(24 * 4 + 8), h(24 * 5 + 17)), "multi-day");
    assert_eq!(spans[4].0, h(24 * 6 + 8), "recurring, first");
    assert_eq!(spans[6].0, h(24 * 8 + 8), "recurring, third");

    // Changes in Outlook arrive by delta.
    emu.outlook_update(
        SAM,
        busy["id"].as_str().unwrap(),
        &json!({"showAs": "free"}),
    )
    .unwrap();
    emu.outlook_delete(SAM, oof["id"].as_str().unwrap())
        .unwrap();
    emu.outlook_create(SAM, &event("New", h(15), h(16), "busy"))
        .unwrap();
    let report = free_busy::sync_staff(&env.backend, &profile, &conn(&env).await, now)
        .await
        .unwrap();
    assert!(!report.full, "{report:?}");
    let spans: Vec<_> = blocks(&env)
        .await
        .iter()
        .map(|b| (b.starts_at, b.ends_at))
        .collect();
    assert_eq!(spans.len(), 6, "{spans:?}");
    assert_eq!(spans[0], (h(15), h(16)));
    assert!(!spans.contains(&(h(9), h(10))));
    assert!(!spans.contains(&(day + Duration::days(2), day + Duration::days(3))));

    // An expired delta token: a full read, same result.
    emu.expire_delta_tokens();
    let report = free_busy::sync_staff(&env.backend, &profile, &conn(&env).await, now)
        .await
        .unwrap();
    assert!(report.full);
    assert_eq!(blocks(&env).await.len(), 6);

    // The next day the window moves: a new round.
    let report = free_busy::sync_staff(
        &env.backend,
        &profile,
        &conn(&env).await,
        now + Duration::days(1),
    )
    .await
    .unwrap();
    assert!(report.full);
    assert_eq!(blocks(&env).await.len(), 6);

    // sync_all picks up opted-in staff only.
    assert_eq!(free_busy::sync_all(&env.backend, now).await.unwrap(), 1);
}

async fn conn(env: &SyncEnv) -> backend::entities::calendar_connection::Model {
    backend::connections::find(
        &env.backend.db,
        backend::connections::Owner::staff(env.staff_id),
    )
    .await
    .unwrap()
    .unwrap()
}
