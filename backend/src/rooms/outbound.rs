//! A space booking job: bring the room's calendar in line with the
//! booking row as it is now (the job kind only says what changed; the row
//! is the truth). Active → the event exists on the room with the current
//! times; cancelled → the event is gone. Same idempotency as appointments:
//! the create carries a `transactionId` derived from the booking, and the
//! booking ↔ event link is written before the job is marked done.

use chrono::{DateTime, Utc};
use reqwest::Method;
use sea_orm::{ActiveModelTrait, ColumnTrait, EntityTrait, QueryFilter, Set};
use serde_json::{Value, json};

use super::app::{self, RoomAuth};
use super::calls::{self, RoomRequest};
use super::{link_of, space_owner};
use crate::Backend;
use crate::connections::{self, NEEDS_REAUTHORIZATION};
use crate::entities::{event_link, outbox, room_link, space, space_booking};
use crate::outbox::db_time;
use crate::sync::appointments::CREATE_SENT;
use crate::sync::appointments::Outcome;
use crate::sync::calls::CallFailure;

pub const RECORD_KIND: &str = "space_booking";

/// Graph's `transactionId` for a booking: the same for every retry of its
/// create, different for every installation and booking. The poller also
/// uses it to recognise events Calbridge wrote.
pub fn transaction_id(public_base_url: &str, booking_id: i64) -> String {
    let name = format!("{public_base_url}/space_bookings/{booking_id}");
    uuid::Uuid::new_v5(&uuid::Uuid::NAMESPACE_URL, name.as_bytes()).to_string()
}

/// The event as the room's calendar shows it (times in UTC, named so).
pub fn event_body(b: &space_booking::Model, space_name: &str) -> Value {
    json!({
        "subject": format!("{space_name}: booked by {}", b.patron_name),
        "body": {"contentType": "text", "content": format!(
            "Booked through Calbridge.\n\nPatron: {} <{}>", b.patron_name, b.patron_email
        )},
        "start": graph_time(b.starts_at),
        "end": graph_time(b.ends_at),
        "showAs": "busy",
        "isReminderOn": false,
    })
}

fn graph_time(at: DateTime<Utc>) -> Value {
    json!({"dateTime": at.format("%Y-%m-%dT%H:%M:%S").to_string(), "timeZone": "UTC"})
}

pub async fn handle(backend: &Backend, job: &outbox::Model, holder: &str) -> Outcome {
    match run(backend, job, holder).await {
        Ok(o) => o,
        Err(e) => Outcome::Failed(CallFailure::Backoff(format!("database: {e}"))),
    }
}

async fn run(
    backend: &Backend,
    job: &outbox::Model,
    holder: &str,
) -> Result<Outcome, sea_orm::DbErr> {
    let Some(booking) = space_booking::Entity::find_by_id(job.aggregate_id)
        .one(&backend.db)
        .await?
    else {
        return Ok(Outcome::Skipped("the booking no longer exists".into()));
    };
    let connection = connections::find(&backend.db, space_owner(booking.space_id)).await?;
    let link = link_of(&backend.db, booking.space_id).await?;
    let (auth, room) = match (connection, link) {
        (_, Some(l)) if app::is_application(&l) => (RoomAuth::Application, l),
        (Some(c), Some(l)) if c.status == connections::ACTIVE && l.connection_id == c.id => {
            (RoomAuth::Delegated(Box::new(c)), l)
        }
        (Some(c), _) if c.status == NEEDS_REAUTHORIZATION => {
            return Ok(Outcome::Failed(CallFailure::Paused(
                "the space's room connection needs reauthorization".into(),
            )));
        }
        _ => {
            return Ok(Outcome::Skipped(
                "the space is not connected to a room: nothing sent".into(),
            ));
        }
    };
    let event = event_link::Entity::find()
        .filter(event_link::Column::RecordKind.eq(RECORD_KIND))
        .filter(event_link::Column::RecordId.eq(booking.id))
        .one(&backend.db)
        .await?;
    let space_name = space::Entity::find_by_id(booking.space_id)
        .one(&backend.db)
        .await?
        .map(|s| s.name)
        .unwrap_or_else(|| "Space".into());
    let body = event_body(&booking, &space_name);
    if booking.status != crate::bookings::ACTIVE {
        return remove(backend, &auth, &room, event, body, holder).await;
    }
    let this_room = |e: &event_link::Model| {
        e.connection_id == room.connection_id && e.mailbox == room.room_address
    };
    if let Some(event) = event
        .as_ref()
        .filter(|e| this_room(e) && e.graph_event_id != CREATE_SENT)
    {
        let path = event_path(&room.room_address, &event.graph_event_id);
        let request = RoomRequest {
            method: Method::PATCH,
            path: &path,
            body: Some(&body),
        };
        match calls::call(backend, &auth, &room.room_address, request, holder).await {
            Ok(_) => return Ok(Outcome::Done),
            // Deleted in Outlook meanwhile: write it again.
            Err(CallFailure::NotFound) => {}
            Err(f) => return Ok(Outcome::Failed(f)),
        }
    }
    let marked = event
        .as_ref()
        .is_some_and(|e| this_room(e) && e.graph_event_id == CREATE_SENT);
    create(backend, &auth, &room, &booking, body, marked, holder).await
}

fn event_path(room: &str, event_id: &str) -> String {
    format!(
        "/users/{room}/events/{}",
        event_id.replace('/', "%2F").replace('+', "%2B")
    )
}

async fn create(
    backend: &Backend,
    auth: &RoomAuth,
    room: &room_link::Model,
    booking: &space_booking::Model,
    mut body: Value,
    marked: bool,
    holder: &str,
) -> Result<Outcome, sea_orm::DbErr> {
    let txn_id = transaction_id(&backend.settings.public_base_url, booking.id);
    body["transactionId"] = json!(txn_id);
    // As for appointments: say a create is on its way before sending it,
    // so a cancel after a lost answer still finds the event (by its
    // transactionId) and deletes it.
    if !marked {
        save_link(
            backend,
            room.connection_id,
            &room.room_address,
            booking.id,
            CREATE_SENT,
            &txn_id,
        )
        .await?;
    }
    let created = match create_or_find(backend, auth, room, &body, holder).await {
        Ok(v) => v,
        Err(f) => return Ok(Outcome::Failed(f)),
    };
    let Some(event_id) = created.get("id").and_then(Value::as_str) else {
        return Ok(Outcome::Failed(CallFailure::Permanent(
            "Graph created the event but returned no id".into(),
        )));
    };
    // A replayed create returns the event as first made: bring a booking
    // moved since up to date.
    if !crate::sync::appointments::same_times(&created, &body) {
        let path = event_path(&room.room_address, event_id);
        let request = RoomRequest {
            method: Method::PATCH,
            path: &path,
            body: Some(&body),
        };
        if let Err(f) = calls::call(backend, auth, &room.room_address, request, holder).await {
            return Ok(Outcome::Failed(f));
        }
    }
    // Written before the job is marked done: a crash after this line
    // replays as an update, never as a second event.
    save_link(
        backend,
        room.connection_id,
        &room.room_address,
        booking.id,
        event_id,
        &txn_id,
    )
    .await?;
    Ok(Outcome::Done)
}

/// `POST` with the body's `transactionId`: a repeat answers with the
/// event the first one made.
async fn create_or_find(
    backend: &Backend,
    auth: &RoomAuth,
    room: &room_link::Model,
    body: &Value,
    holder: &str,
) -> Result<Value, CallFailure> {
    let path = format!("/users/{}/events", room.room_address);
    let request = RoomRequest {
        method: Method::POST,
        path: &path,
        body: Some(body),
    };
    match calls::call(backend, auth, &room.room_address, request, holder).await {
        Err(CallFailure::NotFound) => Err(CallFailure::Permanent(format!(
            "Graph answered 404 to creating the event: the room {} was not found",
            room.room_address
        ))),
        other => other,
    }
}

async fn save_link(
    backend: &Backend,
    connection_id: i64,
    room: &str,
    booking_id: i64,
    event_id: &str,
    txn_id: &str,
) -> Result<(), sea_orm::DbErr> {
    let now = db_time(Utc::now());
    let existing = event_link::Entity::find()
        .filter(event_link::Column::RecordKind.eq(RECORD_KIND))
        .filter(event_link::Column::RecordId.eq(booking_id))
        .one(&backend.db)
        .await?;
    let mut a: event_link::ActiveModel = match existing {
        Some(row) => row.into(),
        None => event_link::ActiveModel {
            record_kind: Set(RECORD_KIND.to_owned()),
            record_id: Set(booking_id),
            created_at: Set(now),
            ..Default::default()
        },
    };
    a.connection_id = Set(connection_id);
    a.mailbox = Set(room.to_owned());
    a.graph_event_id = Set(event_id.to_owned());
    a.transaction_id = Set(txn_id.to_owned());
    a.updated_at = Set(now);
    a.save(&backend.db).await?;
    Ok(())
}

async fn remove(
    backend: &Backend,
    auth: &RoomAuth,
    room: &room_link::Model,
    event: Option<event_link::Model>,
    mut body: Value,
    holder: &str,
) -> Result<Outcome, sea_orm::DbErr> {
    let Some(event) = event else {
        return Ok(Outcome::Skipped(
            "cancelled before an event was written: nothing to delete".into(),
        ));
    };
    if event.connection_id == room.connection_id && event.mailbox == room.room_address {
        let mut event_id = event.graph_event_id.clone();
        if event_id == CREATE_SENT {
            // A create was sent and its answer never stored: find the
            // event by its transactionId (or make it), then delete it.
            body["transactionId"] = json!(event.transaction_id);
            match create_or_find(backend, auth, room, &body, holder).await {
                Ok(v) => match v.get("id").and_then(Value::as_str) {
                    Some(id) => event_id = id.to_owned(),
                    None => {
                        return Ok(Outcome::Failed(CallFailure::Permanent(
                            "Graph created the event but returned no id".into(),
                        )));
                    }
                },
                Err(f) => return Ok(Outcome::Failed(f)),
            }
        }
        let path = event_path(&room.room_address, &event_id);
        let request = RoomRequest {
            method: Method::DELETE,
            path: &path,
            body: None,
        };
        match calls::call(backend, auth, &room.room_address, request, holder).await {
            // 404: already gone (deleted in Outlook) — the goal is reached.
            Ok(_) | Err(CallFailure::NotFound) => {}
            Err(f) => return Ok(Outcome::Failed(f)),
        }
    }
    event_link::Entity::delete_by_id(event.id)
        .exec(&backend.db)
        .await?;
    Ok(Outcome::Done)
}
