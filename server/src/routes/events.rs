//! `GET /events/integration`: server-sent events that keep every open page
//! in step with the integration's status. The first event is the current
//! status (a page may have been rendered before a change); then one event
//! per change. Signed-in users only: staff pages need it for their
//! "Connect with Microsoft" controls.

use std::convert::Infallible;
use std::time::Duration;

use app::models::{INTEGRATION_EVENT, IntegrationStatus};
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use backend::Backend;
use backend::accounts::Role;
use backend::auth::{self, AuthError};
use backend::integration::events::{Next, Subscription};
use futures::Stream;
use tower_sessions::Session;

pub async fn integration(State(backend): State<Backend>, session: Session) -> Response {
    // The one guard; the lowest role is enough to be "signed in".
    if let Err(e) = auth::require_role(&session, &backend.db, Role::Patron).await {
        return refusal(e);
    }
    let subscription = backend.integration_events.subscribe();
    let stream = statuses(backend, subscription);
    // Proxies drop idle connections; a comment every 15 s keeps it open.
    Sse::new(stream)
        .keep_alive(KeepAlive::new().interval(Duration::from_secs(15)))
        .into_response()
}

pub(crate) fn refusal(e: AuthError) -> Response {
    let status = match e {
        AuthError::SignInRequired => StatusCode::UNAUTHORIZED,
        AuthError::Forbidden => StatusCode::FORBIDDEN,
        AuthError::Internal(detail) => {
            tracing::error!(%detail, "integration events: guard failed");
            StatusCode::INTERNAL_SERVER_ERROR
        }
    };
    status.into_response()
}

/// The current status first, then each published one, until shutdown.
/// Subscribing before reading the current status means no change between
/// the two is lost.
fn statuses(
    backend: Backend,
    subscription: Subscription,
) -> impl Stream<Item = Result<Event, Infallible>> {
    futures::stream::unfold(
        (backend, subscription, true),
        |(backend, mut sub, first)| async move {
            let status = if first {
                current(&backend).await?
            } else {
                match sub.next().await {
                    Next::Status(s) => s,
                    Next::Missed => current(&backend).await?,
                    Next::Closed => return None,
                }
            };
            Some((Ok(event(status.into())), (backend, sub, false)))
        },
    )
}

/// `None` ends the stream; the browser reconnects and tries again.
async fn current(backend: &Backend) -> Option<backend::integration::IntegrationStatus> {
    backend::integration::IntegrationStatus::current(&backend.db)
        .await
        .inspect_err(|e| tracing::warn!(error = %e, "integration events: status unavailable"))
        .ok()
}

fn event(status: IntegrationStatus) -> Event {
    Event::default()
        .event(INTEGRATION_EVENT)
        .json_data(status)
        .unwrap_or_else(|_| Event::default().comment("unserialisable status"))
}
