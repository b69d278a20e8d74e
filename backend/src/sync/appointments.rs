//! An appointment job: bring the staff member's Outlook calendar in line
//! with the appointment row as it is now (the job kind only says what
//! changed; the row is the truth). Active → the event exists with the
//! current details; cancelled → the event is gone.

use chrono::{DateTime, Utc};
use sea_orm::{ActiveModelTrait, ColumnTrait, EntityTrait, QueryFilter, Set};
use serde_json::{Value, json};

use super::calls::{self, CallFailure, Op};
use crate::Backend;
use crate::connections::{self, NEEDS_REAUTHORIZATION, Owner};
use crate::entities::{appointment, calendar_connection, event_link, outbox};
use crate::outbox::db_time;

pub const RECORD_KIND: &str = "appointment";

/// How a job ended.
#[derive(Debug)]
pub enum Outcome {
    Done,
    /// Nothing to send, and why.
    Skipped(String),
    Failed(CallFailure),
}

/// Graph's `transactionId` for an appointment: the same for every retry
/// of its create, different for every installation and appointment.
pub fn transaction_id(public_base_url: &str, appointment_id: i64) -> String {
    let name = format!("{public_base_url}/appointments/{appointment_id}");
    uuid::Uuid::new_v5(&uuid::Uuid::NAMESPACE_URL, name.as_bytes()).to_string()
}

/// The event as Outlook shows it. Times are written in UTC, named so.
pub fn event_body(a: &appointment::Model) -> Value {
    let location = if a.location_kind == "online" {
        format!("Online: {}", a.location)
    } else {
        a.location.clone()
    };
    let body = format!(
        "Appointment booked through Calbridge.\n\nPatron: {} <{}>\n\nQuestion:\n{}\n\nLocation: {}",
        a.patron_name, a.patron_email, a.question, location
    );
    json!({
        "subject": format!("Appointment: {}", a.patron_name),
        "body": {"contentType": "text", "content": body},
        "start": graph_time(a.starts_at),
        "end": graph_time(a.ends_at),
        "location": {"displayName": location},
        "showAs": "busy",
        "isReminderOn": true,
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
    let Some(appt) = appointment::Entity::find_by_id(job.aggregate_id)
        .one(&backend.db)
        .await?
    else {
        return Ok(Outcome::Skipped("the appointment no longer exists".into()));
    };
    let connection = connections::find(&backend.db, Owner::staff(appt.staff_id)).await?;
    let connection = match connection {
        Some(c) if c.status == connections::ACTIVE => c,
        Some(c) if c.status == NEEDS_REAUTHORIZATION => {
            return Ok(Outcome::Failed(CallFailure::Paused(
                "the staff member's Outlook connection needs reauthorization".into(),
            )));
        }
        _ => {
            return Ok(Outcome::Skipped(
                "the staff member has no Outlook calendar connected: nothing sent".into(),
            ));
        }
    };
    let link = event_link::Entity::find()
        .filter(event_link::Column::RecordKind.eq(RECORD_KIND))
        .filter(event_link::Column::RecordId.eq(appt.id))
        .one(&backend.db)
        .await?;
    if appt.status != "active" {
        return remove(backend, &connection, link, holder).await;
    }
    let body = event_body(&appt);
    if let Some(link) = link.filter(|l| l.connection_id == connection.id) {
        match calls::call(
            backend,
            &connection,
            Op::Update(&link.graph_event_id, &body),
            holder,
        )
        .await
        {
            Ok(_) => return Ok(Outcome::Done),
            // Deleted in Outlook meanwhile: write it again.
            Err(CallFailure::NotFound) => {}
            Err(f) => return Ok(Outcome::Failed(f)),
        }
    }
    create(backend, &connection, &appt, body, holder).await
}

async fn create(
    backend: &Backend,
    connection: &calendar_connection::Model,
    appt: &appointment::Model,
    mut body: Value,
    holder: &str,
) -> Result<Outcome, sea_orm::DbErr> {
    let txn_id = transaction_id(&backend.settings.public_base_url, appt.id);
    body["transactionId"] = json!(txn_id);
    let created = match calls::call(backend, connection, Op::Create(&body), holder).await {
        Ok(v) => v,
        Err(CallFailure::NotFound) => {
            return Ok(Outcome::Failed(CallFailure::Permanent(
                "Graph answered 404 to creating the event: the calendar was not found".into(),
            )));
        }
        Err(f) => return Ok(Outcome::Failed(f)),
    };
    let Some(event_id) = created.get("id").and_then(Value::as_str) else {
        return Ok(Outcome::Failed(CallFailure::Permanent(
            "Graph created the event but returned no id".into(),
        )));
    };
    // Written before the job is marked done: a crash after this line
    // replays as an update, never as a second event.
    save_link(backend, connection, appt.id, event_id, &txn_id).await?;
    Ok(Outcome::Done)
}

async fn save_link(
    backend: &Backend,
    connection: &calendar_connection::Model,
    record_id: i64,
    event_id: &str,
    txn_id: &str,
) -> Result<(), sea_orm::DbErr> {
    let now = db_time(Utc::now());
    let existing = event_link::Entity::find()
        .filter(event_link::Column::RecordKind.eq(RECORD_KIND))
        .filter(event_link::Column::RecordId.eq(record_id))
        .one(&backend.db)
        .await?;
    match existing {
        Some(row) => {
            let mut a: event_link::ActiveModel = row.into();
            a.connection_id = Set(connection.id);
            a.mailbox = Set(connection.account.clone());
            a.graph_event_id = Set(event_id.to_owned());
            a.transaction_id = Set(txn_id.to_owned());
            a.updated_at = Set(now);
            a.update(&backend.db).await?;
        }
        None => {
            event_link::ActiveModel {
                record_kind: Set(RECORD_KIND.to_owned()),
                record_id: Set(record_id),
                connection_id: Set(connection.id),
                mailbox: Set(connection.account.clone()),
                graph_event_id: Set(event_id.to_owned()),
                transaction_id: Set(txn_id.to_owned()),
                created_at: Set(now),
                updated_at: Set(now),
                ..Default::default()
            }
            .insert(&backend.db)
            .await?;
        }
    }
    Ok(())
}

async fn remove(
    backend: &Backend,
    connection: &calendar_connection::Model,
    link: Option<event_link::Model>,
    holder: &str,
) -> Result<Outcome, sea_orm::DbErr> {
    let Some(link) = link else {
        return Ok(Outcome::Skipped(
            "cancelled before an event was written: nothing to delete".into(),
        ));
    };
    if link.connection_id == connection.id {
        match calls::call(
            backend,
            connection,
            Op::Delete(&link.graph_event_id),
            holder,
        )
        .await
        {
            // 404: already gone (deleted in Outlook) — the goal is reached.
            Ok(_) | Err(CallFailure::NotFound) => {}
            Err(f) => return Ok(Outcome::Failed(f)),
        }
    }
    event_link::Entity::delete_by_id(link.id)
        .exec(&backend.db)
        .await?;
    Ok(Outcome::Done)
}
