//! Who is calling, and what may they touch.
//!
//! Microsoft Graph permissions reference (calendars): a delegated token
//! reaches the signed-in user's own calendar with `Calendars.Read` /
//! `Calendars.ReadWrite`, and another mailbox (a room, a colleague) only
//! with the `.Shared` variant *and* delegate rights on that mailbox.
//! App-only tokens reach any mailbox of their tenant with the application
//! permission, unless an Exchange application access policy limits them.

use std::collections::BTreeSet;

use chrono::{DateTime, Utc};
use http::{HeaderMap, StatusCode, header};
use uuid::Uuid;

use super::errors::GraphError;
use crate::state::{AccountKind, Subject, User, World};

#[derive(Debug, Clone)]
pub enum Caller {
    Delegated(User),
    App {
        tenant: Uuid,
        /// Exchange application access policy (None: all mailboxes).
        policy: Option<Vec<Uuid>>,
    },
}

#[derive(Debug, Clone)]
pub struct Principal {
    pub client_id: Uuid,
    pub caller: Caller,
    /// Delegated `scp` or application `roles`.
    pub scopes: BTreeSet<String>,
}

impl Principal {
    pub fn tenant(&self) -> Uuid {
        match &self.caller {
            Caller::Delegated(u) => u.tenant_id,
            Caller::App { tenant, .. } => *tenant,
        }
    }

    pub fn has_any(&self, scopes: &[&str]) -> bool {
        scopes.iter().any(|s| self.scopes.contains(*s))
    }

    pub fn is_personal(&self) -> bool {
        matches!(&self.caller, Caller::Delegated(u) if u.kind == AccountKind::Personal)
    }
}

/// Check the bearer token.
pub fn authenticate(
    world: &World,
    headers: &HeaderMap,
    now: DateTime<Utc>,
) -> Result<Principal, GraphError> {
    let raw = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let token = raw
        .strip_prefix("Bearer ")
        .or_else(|| raw.strip_prefix("bearer "))
        .map(str::trim)
        .unwrap_or("");
    if token.is_empty() {
        return Err(GraphError::unauthenticated("Access token is empty."));
    }
    let Some(at) = world.access_tokens.get(token) else {
        return Err(GraphError::unauthenticated(
            "IDX14100: JWT is not well formed, there are no dots (.).",
        ));
    };
    if at.expires_at <= now {
        return Err(GraphError::unauthenticated(
            "Lifetime validation failed, the token is expired.",
        ));
    }
    let caller = match &at.subject {
        Subject::User(u) => Caller::Delegated(
            world
                .users
                .get(u)
                .cloned()
                .ok_or_else(|| GraphError::unauthenticated("User not found."))?,
        ),
        Subject::App(t) => Caller::App {
            tenant: *t,
            policy: world
                .apps
                .get(&at.client_id)
                .and_then(|a| a.app_only_mailboxes.clone()),
        },
    };
    Ok(Principal {
        client_id: at.client_id,
        caller,
        scopes: at.scopes.clone(),
    })
}

/// Find the mailbox a path names: `/me` or `/users/{id|upn}`.
pub fn resolve_mailbox(
    world: &World,
    p: &Principal,
    key: Option<&str>,
) -> Result<User, GraphError> {
    let Some(key) = key else {
        return match &p.caller {
            Caller::Delegated(u) => Ok(u.clone()),
            Caller::App { .. } => Err(GraphError::bad_request(
                "BadRequest",
                "/me request is only valid with delegated authentication flow.",
            )),
        };
    };
    let invalid = || {
        GraphError::new(
            StatusCode::NOT_FOUND,
            "ErrorInvalidUser",
            format!("The requested user '{key}' is invalid."),
        )
    };
    let user = world.mailbox(key).ok_or_else(invalid)?;
    let visible = match &p.caller {
        // A personal account sees only itself.
        Caller::Delegated(me) if me.kind == AccountKind::Personal => me.id == user.id,
        _ => user.tenant_id == p.tenant() && user.kind != AccountKind::Personal,
    };
    if !visible {
        return Err(invalid());
    }
    Ok(user.clone())
}

/// May `p` read (or write) the calendar of `mailbox`?
pub fn check_calendar(p: &Principal, mailbox: &User, write: bool) -> Result<(), GraphError> {
    let own = if write {
        &["Calendars.ReadWrite"][..]
    } else {
        &["Calendars.Read", "Calendars.ReadWrite"][..]
    };
    match &p.caller {
        Caller::Delegated(me) if me.id == mailbox.id => {
            let shared_too = if write {
                &["Calendars.ReadWrite", "Calendars.ReadWrite.Shared"][..]
            } else {
                &[
                    "Calendars.Read",
                    "Calendars.ReadWrite",
                    "Calendars.Read.Shared",
                    "Calendars.ReadWrite.Shared",
                ][..]
            };
            if p.has_any(shared_too) {
                Ok(())
            } else {
                Err(GraphError::access_denied())
            }
        }
        Caller::Delegated(me) => {
            let shared = if write {
                &["Calendars.ReadWrite.Shared"][..]
            } else {
                &["Calendars.Read.Shared", "Calendars.ReadWrite.Shared"][..]
            };
            let delegate = mailbox
                .room
                .as_ref()
                .is_some_and(|r| r.delegates.contains(&me.id));
            if delegate && p.has_any(shared) {
                Ok(())
            } else {
                Err(GraphError::access_denied())
            }
        }
        Caller::App { policy, .. } => {
            if !p.has_any(own) {
                return Err(GraphError::access_denied());
            }
            if let Some(allowed) = policy
                && !allowed.contains(&mailbox.id)
            {
                return Err(GraphError::new(
                    StatusCode::FORBIDDEN,
                    "ErrorAccessDenied",
                    "Access to OData is disabled: [RAOP] : Blocked by tenant configured AppOnly AccessPolicy settings.",
                ));
            }
            Ok(())
        }
    }
}
