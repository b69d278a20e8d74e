//! An appointment job: bring the staff member's Outlook calendar in line
//! with the appointment row as it is now (the job kind only says what
//! changed; the row is the truth). Active → the event exists with the
//! current details; cancelled → the event is gone.

use chrono::{DateTime, Utc};
use std::collections::{HashMap, HashSet};

use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, Set};
use serde_json::{Value, json};

use super::calls::{self, CallFailure, Op};
use super::recorder::{NewLink, Record};
use crate::Backend;
use crate::connections::{self, NEEDS_REAUTHORIZATION, Owner};
use crate::entities::{appointment, calendar_connection, event_link, outbox};
use crate::outbox::db_time;

pub const RECORD_KIND: &str = "appointment";

/// How a job ended.
#[derive(Debug)]
pub enum Outcome {
    Done,
    /// The link was written and the job marked done in one transaction;
    /// `false` when the job's lease had been taken over meanwhile.
    Recorded(bool),
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

/// Runs `job` for `worker` (the outbox claimer); `holder` names this run
/// in leases.
pub async fn handle(
    backend: &Backend,
    job: &outbox::Model,
    worker: &str,
    holder: &str,
    known: &Prefetched,
) -> Outcome {
    let ctx = Ctx {
        backend,
        job_id: job.id,
        worker,
        holder,
    };
    match run(&ctx, job, known).await {
        Ok(o) => o,
        Err(e) => Outcome::Failed(CallFailure::Backoff(format!("database: {e}"))),
    }
}

struct Ctx<'a> {
    backend: &'a Backend,
    job_id: i64,
    worker: &'a str,
    holder: &'a str,
}

/// What a batch of claimed jobs needs, read with three queries for the
/// whole batch instead of three per job. Read after the claim: a job's
/// appointment and link cannot change under it unseen, as any change
/// queues a job that waits for this one (jobs of one record run in order).
#[derive(Debug, Default)]
pub struct Prefetched {
    appointments: HashMap<i64, appointment::Model>,
    /// By staff member.
    connections: HashMap<i64, calendar_connection::Model>,
    /// By appointment.
    links: HashMap<i64, event_link::Model>,
    /// The appointments that were looked up (found or not).
    covered: HashSet<i64>,
}

impl Prefetched {
    /// Reads what `jobs` need and writes the "create sent" markers of the
    /// creates among them (one statement for the batch).
    pub async fn prepare(
        db: &impl sea_orm::ConnectionTrait,
        public_base_url: &str,
        jobs: &[outbox::Model],
    ) -> Result<Self, sea_orm::DbErr> {
        let ids: HashSet<i64> = jobs
            .iter()
            .filter(|j| j.kind.starts_with("appointment."))
            .map(|j| j.aggregate_id)
            .collect();
        if ids.is_empty() {
            return Ok(Self::default());
        }
        let appointments: HashMap<i64, appointment::Model> = appointment::Entity::find()
            .filter(appointment::Column::Id.is_in(ids.iter().copied()))
            .all(db)
            .await?
            .into_iter()
            .map(|a| (a.id, a))
            .collect();
        let staff: HashSet<i64> = appointments.values().map(|a| a.staff_id).collect();
        let connections: HashMap<i64, calendar_connection::Model> =
            calendar_connection::Entity::find()
                .filter(calendar_connection::Column::OwnerKind.eq(connections::STAFF))
                .filter(calendar_connection::Column::OwnerId.is_in(staff))
                .all(db)
                .await?
                .into_iter()
                .map(|c| (c.owner_id, c))
                .collect();
        let mut links: HashMap<i64, event_link::Model> = event_link::Entity::find()
            .filter(event_link::Column::RecordKind.eq(RECORD_KIND))
            .filter(event_link::Column::RecordId.is_in(ids.iter().copied()))
            .all(db)
            .await?
            .into_iter()
            .map(|l| (l.record_id, l))
            .collect();
        // The "create sent" markers (see `CREATE_SENT`) of the creates this
        // batch will send, in one statement instead of one per job.
        let to_mark: Vec<(&appointment::Model, &calendar_connection::Model)> = appointments
            .values()
            .filter(|a| a.status == "active" && !links.contains_key(&a.id))
            .filter_map(|a| {
                connections
                    .get(&a.staff_id)
                    .filter(|c: &&calendar_connection::Model| c.status == connections::ACTIVE)
                    .map(|c| (a, c))
            })
            .collect();
        if !to_mark.is_empty() {
            mark_creates_sent(db, public_base_url, &to_mark).await?;
            let marked = event_link::Entity::find()
                .filter(event_link::Column::RecordKind.eq(RECORD_KIND))
                .filter(event_link::Column::RecordId.is_in(to_mark.iter().map(|(a, _)| a.id)))
                .all(db)
                .await?;
            links.extend(marked.into_iter().map(|l| (l.record_id, l)));
        }
        Ok(Self {
            appointments,
            connections,
            links,
            covered: ids,
        })
    }
}

/// Inserts a "create sent" link for each pair, in one statement.
async fn mark_creates_sent(
    db: &impl sea_orm::ConnectionTrait,
    public_base_url: &str,
    pairs: &[(&appointment::Model, &calendar_connection::Model)],
) -> Result<(), sea_orm::DbErr> {
    let now = db_time(Utc::now());
    let rows = pairs.iter().map(|(a, c)| event_link::ActiveModel {
        record_kind: Set(RECORD_KIND.to_owned()),
        record_id: Set(a.id),
        connection_id: Set(c.id),
        mailbox: Set(c.account.clone()),
        graph_event_id: Set(CREATE_SENT.to_owned()),
        transaction_id: Set(transaction_id(public_base_url, a.id)),
        created_at: Set(now),
        updated_at: Set(now),
        ..Default::default()
    });
    event_link::Entity::insert_many(rows)
        .exec_without_returning(db)
        .await?;
    Ok(())
}

/// The appointment, its staff member's connection and its event link:
/// from `known` when it covers the job, else read now.
async fn load(
    db: &impl sea_orm::ConnectionTrait,
    appointment_id: i64,
    known: &Prefetched,
) -> Result<Loaded, sea_orm::DbErr> {
    if known.covered.contains(&appointment_id) {
        let appt = known.appointments.get(&appointment_id).cloned();
        let connection = appt
            .as_ref()
            .and_then(|a| known.connections.get(&a.staff_id).cloned());
        let link = known.links.get(&appointment_id).cloned();
        return Ok((appt, connection, link));
    }
    let Some(appt) = appointment::Entity::find_by_id(appointment_id)
        .one(db)
        .await?
    else {
        return Ok((None, None, None));
    };
    let connection = connections::find(db, Owner::staff(appt.staff_id)).await?;
    let link = event_link::Entity::find()
        .filter(event_link::Column::RecordKind.eq(RECORD_KIND))
        .filter(event_link::Column::RecordId.eq(appt.id))
        .one(db)
        .await?;
    Ok((Some(appt), connection, link))
}

type Loaded = (
    Option<appointment::Model>,
    Option<calendar_connection::Model>,
    Option<event_link::Model>,
);

async fn run(
    ctx: &Ctx<'_>,
    job: &outbox::Model,
    known: &Prefetched,
) -> Result<Outcome, sea_orm::DbErr> {
    let (backend, holder) = (ctx.backend, ctx.holder);
    let (appt, connection, link) = load(&backend.db, job.aggregate_id, known).await?;
    let Some(appt) = appt else {
        return Ok(Outcome::Skipped("the appointment no longer exists".into()));
    };
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
    if appt.status != "active" {
        return remove(ctx, &connection, &appt, link).await;
    }
    let body = event_body(&appt);
    if let Some(link) = link
        .as_ref()
        .filter(|l| l.connection_id == connection.id && l.graph_event_id != CREATE_SENT)
    {
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
    create(ctx, &connection, &appt, link, body).await
}

/// The `graph_event_id` of a link written just before a create is sent.
/// From then on an event may exist in Outlook that Calbridge has no id
/// for: the answer can be lost (a timeout, a dropped connection, a 5xx
/// after the write) or the process can die before the id is stored. Only
/// the `transactionId` is known, and it finds the event again.
pub const CREATE_SENT: &str = "";

async fn create(
    ctx: &Ctx<'_>,
    connection: &calendar_connection::Model,
    appt: &appointment::Model,
    existing: Option<event_link::Model>,
    mut body: Value,
) -> Result<Outcome, sea_orm::DbErr> {
    let (backend, holder) = (ctx.backend, ctx.holder);
    let txn_id = transaction_id(&backend.settings.public_base_url, appt.id);
    body["transactionId"] = json!(txn_id);
    // Say a create is on its way before sending it. Without this, an
    // appointment cancelled after a create whose answer was lost had no
    // link, its cancel deleted nothing, and the event stayed in Outlook
    // for good (found by the fault soak: a lost answer, then a 503 on the
    // quick retry, then the cancel). A claimed batch's markers are
    // usually written together when it is read ahead (`Prefetched`).
    let marked = matches!(&existing, Some(l) if l.connection_id == connection.id
        && l.graph_event_id == CREATE_SENT);
    if !marked {
        let _gate = backend.sync.write_gate(&backend.db).await;
        save_link(
            &backend.db,
            existing,
            connection,
            appt.id,
            CREATE_SENT,
            &txn_id,
        )
        .await?;
    }
    let created = match create_or_find(backend, connection, &body, holder).await {
        Ok(v) => v,
        Err(f) => return Ok(Outcome::Failed(f)),
    };
    let Some(event_id) = created.get("id").and_then(Value::as_str) else {
        return Ok(Outcome::Failed(CallFailure::Permanent(
            "Graph created the event but returned no id".into(),
        )));
    };
    // A replayed create returns the event as the first attempt made it:
    // if the appointment moved since (the first answer was lost, then the
    // appointment was rescheduled), bring it up to date, or Outlook keeps
    // the old time (found by the fault soak).
    if !same_times(&created, &body)
        && let Err(f) = calls::call(backend, connection, Op::Update(event_id, &body), holder).await
    {
        return Ok(Outcome::Failed(f));
    }
    // The link is written with (never after) "done", in one transaction:
    // a crash before the commit replays the create with the same
    // transactionId, which Graph answers with the event it already made;
    // after it, a replay updates.
    let record = Record::Linked(NewLink {
        record_kind: RECORD_KIND,
        record_id: appt.id,
        connection_id: connection.id,
        mailbox: connection.account.clone(),
        graph_event_id: event_id.to_owned(),
        transaction_id: txn_id,
    });
    let held = backend
        .sync
        .recorder
        .record(&backend.db, ctx.job_id, ctx.worker, record)
        .await?;
    Ok(Outcome::Recorded(held))
}

/// `POST` with the body's `transactionId`: Graph answers a repeat with the
/// event the first one made.
async fn create_or_find(
    backend: &Backend,
    connection: &calendar_connection::Model,
    body: &Value,
    holder: &str,
) -> Result<Value, CallFailure> {
    match calls::call(backend, connection, Op::Create(body), holder).await {
        Err(CallFailure::NotFound) => Err(CallFailure::Permanent(
            "Graph answered 404 to creating the event: the calendar was not found".into(),
        )),
        other => other,
    }
}

/// Whether Graph's event has the start and end of `body` (Graph writes
/// `2030-05-01T10:00:00.0000000` for our `2030-05-01T10:00:00`).
pub(crate) fn same_times(event: &Value, body: &Value) -> bool {
    ["start", "end"].iter().all(|k| {
        let ours = body[k]["dateTime"].as_str().unwrap_or_default();
        let theirs = event[k]["dateTime"].as_str().unwrap_or_default();
        let zone = event[k]["timeZone"].as_str().unwrap_or("UTC");
        zone == "UTC" && !ours.is_empty() && theirs.starts_with(ours)
    })
}

/// Writes (or rewrites) the record's link on its own: the path for a job
/// that was not read ahead.
async fn save_link(
    db: &impl sea_orm::ConnectionTrait,
    existing: Option<event_link::Model>,
    connection: &calendar_connection::Model,
    record_id: i64,
    event_id: &str,
    txn_id: &str,
) -> Result<(), sea_orm::DbErr> {
    let now = db_time(Utc::now());
    match existing {
        Some(row) => {
            event_link::Entity::update_many()
                .col_expr(event_link::Column::ConnectionId, connection.id.into())
                .col_expr(
                    event_link::Column::Mailbox,
                    connection.account.clone().into(),
                )
                .col_expr(event_link::Column::GraphEventId, event_id.into())
                .col_expr(event_link::Column::TransactionId, txn_id.into())
                .col_expr(event_link::Column::UpdatedAt, now.into())
                .filter(event_link::Column::Id.eq(row.id))
                .exec(db)
                .await?;
        }
        None => {
            event_link::Entity::insert(event_link::ActiveModel {
                record_kind: Set(RECORD_KIND.to_owned()),
                record_id: Set(record_id),
                connection_id: Set(connection.id),
                mailbox: Set(connection.account.clone()),
                graph_event_id: Set(event_id.to_owned()),
                transaction_id: Set(txn_id.to_owned()),
                created_at: Set(now),
                updated_at: Set(now),
                ..Default::default()
            })
            .exec_without_returning(db)
            .await?;
        }
    }
    Ok(())
}

async fn remove(
    ctx: &Ctx<'_>,
    connection: &calendar_connection::Model,
    appt: &appointment::Model,
    link: Option<event_link::Model>,
) -> Result<Outcome, sea_orm::DbErr> {
    let (backend, holder) = (ctx.backend, ctx.holder);
    let Some(link) = link else {
        return Ok(Outcome::Skipped(
            "cancelled before an event was written: nothing to delete".into(),
        ));
    };
    if link.connection_id == connection.id {
        let mut event_id = link.graph_event_id.clone();
        if event_id == CREATE_SENT {
            // A create was sent and its answer never stored: the event may
            // exist. The same transactionId finds it (or makes it, when
            // the create never arrived), and then it is deleted.
            let mut body = event_body(appt);
            body["transactionId"] = json!(link.transaction_id);
            match create_or_find(backend, connection, &body, holder).await {
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
        match calls::call(backend, connection, Op::Delete(&event_id), holder).await {
            // 404: already gone (deleted in Outlook) — the goal is reached.
            Ok(_) | Err(CallFailure::NotFound) => {}
            Err(f) => return Ok(Outcome::Failed(f)),
        }
    }
    let held = backend
        .sync
        .recorder
        .record(
            &backend.db,
            ctx.job_id,
            ctx.worker,
            Record::Unlinked { link_id: link.id },
        )
        .await?;
    Ok(Outcome::Recorded(held))
}
