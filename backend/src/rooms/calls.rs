//! One Graph call on a room mailbox, with the same rules as the
//! appointment sync ([`crate::sync::calls::call_with`]): a slot of the
//! *room's* mailbox (Graph counts the 4-in-flight limit per mailbox), a
//! token refreshed once after a 401, quick jittered retries for 5xx and
//! lost answers, and Retry-After closing the mailbox for everyone. What
//! is the room's own: its tokens come from the space's delegate or from
//! the app, and a 403 means the rights on the room are gone.

use reqwest::Method;
use secrecy::SecretString;
use serde_json::Value;

use super::app::{self, AppTokenError, RoomAuth};
use crate::Backend;
use crate::connections::{self, AccessToken, TokenFailure};
use crate::microsoft::GraphError;
use crate::sync::calls::{CallFailure, Caller, call_with};

/// A request on the room: `path` is under the Graph base URL or a full
/// URL Graph handed out (delta links).
pub struct RoomRequest<'a> {
    pub method: Method,
    pub path: &'a str,
    pub body: Option<&'a Value>,
}

pub async fn call(
    backend: &Backend,
    auth: &RoomAuth,
    room: &str,
    request: RoomRequest<'_>,
    holder: &str,
) -> Result<Value, CallFailure> {
    call_with(
        backend,
        &RoomCall {
            auth,
            room,
            request,
        },
        holder,
    )
    .await
}

struct RoomCall<'a> {
    auth: &'a RoomAuth,
    room: &'a str,
    request: RoomRequest<'a>,
}

impl Caller for RoomCall<'_> {
    fn mailbox(&self) -> &str {
        self.room
    }

    async fn token(
        &self,
        backend: &Backend,
        refused: Option<i64>,
        holder: &str,
    ) -> Result<AccessToken, CallFailure> {
        match self.auth {
            RoomAuth::Delegated(c) => get_token(backend, c.id, refused, holder).await,
            RoomAuth::Application => {
                let t = app::app_token(backend, refused.map(|v| v as u64))
                    .await
                    // Nothing to retry until an admin acts (consent,
                    // secret, tenant), or Microsoft was unreachable: the
                    // outbox backs off (up to an hour), so it heals once
                    // that is fixed.
                    .map_err(|e: AppTokenError| CallFailure::Backoff(e.to_string()))?;
                Ok(AccessToken {
                    token: t.token,
                    version: t.version as i64,
                })
            }
        }
    }

    async fn send(&self, backend: &Backend, token: &SecretString) -> Result<Value, GraphError> {
        let r = &self.request;
        if r.path.starts_with("http") {
            backend.graph.get(token, r.path).await
        } else {
            backend
                .graph
                .request(r.method.clone(), r.path, token, r.body)
                .await
        }
    }

    fn connection_id(&self) -> Option<i64> {
        match self.auth {
            RoomAuth::Delegated(c) => Some(c.id),
            RoomAuth::Application => None,
        }
    }

    // The account lost its delegate rights on the room (or, in
    // application mode, the access policy leaves the room out); the
    // admin has to act, so the job waits for them.
    fn forbidden(&self, error: GraphError) -> CallFailure {
        let message = match error {
            GraphError::Rejected { message, .. } => message,
            e => e.to_string(),
        };
        CallFailure::Paused(format!(
            "{} may no longer write to {}: {message}",
            self.auth.account(),
            self.room
        ))
    }
}

async fn get_token(
    backend: &Backend,
    connection_id: i64,
    refused: Option<i64>,
    holder: &str,
) -> Result<AccessToken, CallFailure> {
    connections::access_token(backend, connection_id, refused, holder)
        .await
        .map_err(|e| match e {
            TokenFailure::NotActive(s) => {
                CallFailure::Paused(format!("the room connection is {s}"))
            }
            TokenFailure::DeadGrant(m) => CallFailure::Paused(m),
            TokenFailure::Transient(m) => CallFailure::Backoff(m),
            e => CallFailure::Backoff(e.to_string()),
        })
}
