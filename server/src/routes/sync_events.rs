//! Live calendar sync status as server-sent events:
//! - `GET /events/spaces/{id}/sync`: one space, for its page (anyone; the
//!   detail only for admins);
//! - `GET /events/staff/sync`: the signed-in staff member's own sync;
//! - `GET /events/sync`: every space and staff connection (admins).
//!
//! Each stream first sends the current status of what it shows, then the
//! new status whenever [`backend::sync::changes`] says it may have changed
//! (from this instance or, through PostgreSQL NOTIFY, another one) and
//! whenever the integration's status changes. Statuses are read from the
//! database, so what a page sees is what every instance would say.

use std::collections::HashSet;
use std::convert::Infallible;
use std::time::Duration;

use app::api::sync_status::status_view;
use app::models::{SYNC_STATUS_EVENT, SyncStatusView};
use axum::extract::{Path, State};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use backend::Backend;
use backend::accounts::Role;
use backend::auth;
use backend::integration::events::Next;
use backend::sync::Subject;
use backend::sync::status;
use futures::{Stream, StreamExt};
use tokio::sync::broadcast::error::RecvError;
use tower_sessions::Session;

/// Changes arriving this close together go out as one status: a bulk
/// sync finishes many jobs a second.
const COALESCE: Duration = Duration::from_millis(150);

/// Which statuses a stream shows, and how much of them.
#[derive(Clone)]
enum Scope {
    One { subject: Subject, detail: bool },
    Everything,
}

impl Scope {
    fn covers(&self, subject: Subject) -> bool {
        match self {
            Scope::One { subject: s, .. } => *s == subject,
            Scope::Everything => true,
        }
    }
}

pub async fn space(
    State(backend): State<Backend>,
    session: Session,
    Path(space_id): Path<i64>,
) -> Response {
    let viewer = match auth::current_user(&session, &backend.db).await {
        Ok(v) => v,
        Err(e) => return super::events::refusal(e),
    };
    let detail = viewer.is_some_and(|u| u.role.satisfies(Role::Admin));
    let subject = Subject::Space(space_id);
    stream(backend, Scope::One { subject, detail })
}

pub async fn mine(State(backend): State<Backend>, session: Session) -> Response {
    match auth::require_role(&session, &backend.db, Role::Staff).await {
        Ok(user) => {
            let subject = Subject::Staff(user.id);
            stream(
                backend,
                Scope::One {
                    subject,
                    detail: true,
                },
            )
        }
        Err(e) => super::events::refusal(e),
    }
}

pub async fn everything(State(backend): State<Backend>, session: Session) -> Response {
    match auth::require_role(&session, &backend.db, Role::Admin).await {
        Ok(_) => stream(backend, Scope::Everything),
        Err(e) => super::events::refusal(e),
    }
}

fn stream(backend: Backend, scope: Scope) -> Response {
    // Subscribe before the first read, so no change between the two is lost.
    let changes = backend.sync.changes.subscribe();
    let integration = backend.integration_events.subscribe();
    let state = StreamState {
        backend,
        scope,
        changes,
        integration,
        last_sent: Default::default(),
    };
    Sse::new(statuses(state))
        .keep_alive(KeepAlive::new().interval(Duration::from_secs(15)))
        .into_response()
}

struct StreamState {
    backend: Backend,
    scope: Scope,
    changes: tokio::sync::broadcast::Receiver<Subject>,
    integration: backend::integration::events::Subscription,
    /// What each subject last looked like on this stream: unchanged
    /// statuses are not sent again.
    last_sent: std::collections::HashMap<Subject, SyncStatusView>,
}

/// What woke the stream up.
enum Wake {
    Some(Subject),
    All,
    Closed,
}

fn statuses(state: StreamState) -> impl Stream<Item = Result<Event, Infallible>> {
    futures::stream::unfold((state, true), |(mut st, first)| async move {
        let views = next_views(&mut st, first).await?;
        let events: Vec<Result<Event, Infallible>> = views.iter().map(|v| Ok(event(v))).collect();
        Some((futures::stream::iter(events), (st, false)))
    })
    .flatten()
}

/// The next statuses to send: at first everything the stream shows, then
/// what changed. `None` when the server shuts down.
async fn next_views(st: &mut StreamState, first: bool) -> Option<Vec<SyncStatusView>> {
    let mut read_everything = first;
    loop {
        let due = if read_everything {
            None
        } else {
            Some(gather(st).await?)
        };
        read_everything = false;
        let views = read(st, due).await;
        if !views.is_empty() {
            return Some(views);
        }
    }
}

/// Waits for a change, then collects those right behind it. An empty set
/// back means "everything" (a missed signal or an integration change).
async fn gather(st: &mut StreamState) -> Option<HashSet<Subject>> {
    let mut due = HashSet::new();
    let mut everything = false;
    let mut note = |wake: Wake, due: &mut HashSet<Subject>| match wake {
        Wake::Closed => false,
        Wake::All => {
            everything = true;
            true
        }
        Wake::Some(s) => {
            due.insert(s);
            true
        }
    };
    if !note(next_wake(st).await, &mut due) {
        return None;
    }
    let until = tokio::time::Instant::now() + COALESCE;
    while let Ok(wake) = tokio::time::timeout_at(until, next_wake(st)).await {
        if !note(wake, &mut due) {
            return None;
        }
    }
    if everything {
        due.clear();
    }
    Some(due)
}

async fn next_wake(st: &mut StreamState) -> Wake {
    loop {
        tokio::select! {
            changed = st.changes.recv() => match changed {
                Ok(subject) if st.scope.covers(subject) => return Wake::Some(subject),
                Ok(_) => continue,
                // Missed some: read everything this stream shows.
                Err(RecvError::Lagged(_)) => return Wake::All,
                Err(RecvError::Closed) => return Wake::Closed,
            },
            next = st.integration.next() => return match next {
                Next::Closed => Wake::Closed,
                // The integration turned on or off: every state may change.
                Next::Status(_) | Next::Missed => Wake::All,
            },
        }
    }
}

/// Reads the statuses `due` names (all the scope covers when `None`) and
/// keeps those that changed since last sent.
async fn read(st: &mut StreamState, due: Option<HashSet<Subject>>) -> Vec<SyncStatusView> {
    let due = due.filter(|d| !d.is_empty());
    let views = match (&st.scope, due) {
        (Scope::One { subject, detail }, _) => {
            match status::status_of(&st.backend.db, *subject).await {
                Ok(s) => vec![(*subject, status_view(&s, None, *detail))],
                Err(e) => {
                    tracing::warn!(error = %e, "sync events: status unavailable");
                    vec![]
                }
            }
        }
        (Scope::Everything, None) => match status::overview(&st.backend.db).await {
            Ok(rows) => rows
                .iter()
                .map(|r| {
                    (
                        r.status.subject,
                        status_view(&r.status, Some(r.name.clone()), true),
                    )
                })
                .collect(),
            Err(e) => {
                tracing::warn!(error = %e, "sync events: overview unavailable");
                vec![]
            }
        },
        (Scope::Everything, Some(subjects)) => {
            let mut views = Vec::new();
            for subject in subjects {
                if let Ok(s) = status::status_of(&st.backend.db, subject).await {
                    // The name is already on the dashboard's row.
                    views.push((subject, status_view(&s, None, true)));
                }
            }
            views
        }
    };
    // One subject's page is told of every change, even when its status
    // reads the same: the change may be in its slots (a room event).
    if matches!(st.scope, Scope::One { .. }) {
        return views.into_iter().map(|(_, view)| view).collect();
    }
    views
        .into_iter()
        .filter(|(subject, view)| {
            let unchanged = st.last_sent.get(subject) == Some(view);
            if !unchanged {
                st.last_sent.insert(*subject, view.clone());
            }
            !unchanged
        })
        .map(|(_, view)| view)
        .collect()
}

fn event(view: &SyncStatusView) -> Event {
    Event::default()
        .event(SYNC_STATUS_EVENT)
        .json_data(view)
        .unwrap_or_else(|_| Event::default().comment("unserialisable status"))
}
