//! "Authorize" for a space: the authorization code flow with PKCE and a
//! session-bound `state`, asking for the room scopes. It shares the one
//! Redirect URL with the staff flow; the callback route hands the request
//! here when the `state` is the one this flow left in the session.

use chrono::{DateTime, Utc};
use sea_orm::EntityTrait;
use secrecy::SecretString;
use serde::{Deserialize, Serialize};
use tower_sessions::Session;

use super::{RoomError, store_authorization};
use crate::Backend;
use crate::accounts::{Role, User};
use crate::connections::{CallbackParams, active_registration};
use crate::entities::space;
use crate::microsoft::identity::ROOM_SCOPES;

const PENDING_KEY: &str = "room_connect";
const PENDING_LIFETIME_MINUTES: i64 = 15;

#[derive(Serialize, Deserialize)]
struct Pending {
    state: String,
    verifier: String,
    user_id: i64,
    space_id: i64,
    started_at: DateTime<Utc>,
}

/// The space's sync settings page.
pub fn settings_page(space_id: i64) -> String {
    format!("/admin/spaces/{space_id}/sync")
}

/// Starts the sign-in for `space_id` and returns Microsoft's authorize URL.
pub async fn begin_room_connect(
    backend: &Backend,
    session: &Session,
    admin: &User,
    space_id: i64,
) -> Result<String, RoomError> {
    if space::Entity::find_by_id(space_id)
        .one(&backend.db)
        .await?
        .is_none()
    {
        return Err(RoomError::NoSuchSpace);
    }
    let registration = active_registration(&backend.db, &backend.vault, &backend.settings)
        .await?
        .ok_or(RoomError::IntegrationInactive)?;
    let request = backend
        .identity
        .authorization_request_for(&registration.credentials(), None, &ROOM_SCOPES)
        .map_err(|e| RoomError::Graph(e.to_string()))?;
    let pending = Pending {
        state: request.state.clone(),
        verifier: secrecy::ExposeSecret::expose_secret(&request.verifier).to_owned(),
        user_id: admin.id,
        space_id,
        started_at: Utc::now(),
    };
    session
        .insert(PENDING_KEY, pending)
        .await
        .map_err(|e| RoomError::Graph(format!("session: {e}")))?;
    Ok(request.url)
}

/// Is this callback the end of a space authorization started in this
/// session? (Decided by `state`, so a staff sign-in pending in the same
/// session is not disturbed.)
pub async fn is_room_callback(session: &Session, params: &CallbackParams) -> bool {
    let pending: Option<Pending> = session.get(PENDING_KEY).await.ok().flatten();
    match (pending, &params.state) {
        (Some(p), Some(state)) => p.state == *state,
        _ => false,
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RoomCallbackOutcome {
    /// Authorized; the admin now picks the room.
    Authorized {
        space_id: i64,
        account: String,
    },
    NotSignedIn,
    Stale,
    Cancelled {
        space_id: i64,
    },
    ConsentMissing {
        space_id: i64,
        admin_consent_url: String,
    },
    IntegrationInactive {
        space_id: i64,
    },
    PersonalAccount {
        space_id: i64,
    },
    Refused {
        space_id: Option<i64>,
        message: String,
    },
}

impl RoomCallbackOutcome {
    pub fn message(&self) -> String {
        match self {
            Self::Authorized { account, .. } => format!(
                "{account} is authorized for this space. Now pick the room it is a delegate of."
            ),
            Self::NotSignedIn => "You are not signed in to Calbridge in this browser. Sign in as an administrator and authorize again.".into(),
            Self::Stale => "This sign-in link has already been used or has expired, so nothing was authorized. Start again from the space's sync settings.".into(),
            Self::Cancelled { .. } => "You cancelled the sign-in at Microsoft, so nothing was authorized.".into(),
            Self::ConsentMissing { .. } => "Your organization requires an administrator to approve Calbridge's room permissions (Place.Read.All, Calendars.ReadWrite.Shared). Send your Microsoft 365 administrator the admin-consent link below, then authorize again.".into(),
            Self::IntegrationInactive { .. } => "Calendar sync was turned off while you were signing in, so nothing was authorized.".into(),
            Self::PersonalAccount { .. } => "Personal Microsoft accounts cannot hold room mailboxes. Sign in with the work or school account that is a delegate of the room.".into(),
            Self::Refused { message, .. } => format!("Microsoft did not let the authorization through: {message}."),
        }
    }

    pub fn space_id(&self) -> Option<i64> {
        match self {
            Self::Authorized { space_id, .. }
            | Self::Cancelled { space_id }
            | Self::ConsentMissing { space_id, .. }
            | Self::IntegrationInactive { space_id }
            | Self::PersonalAccount { space_id } => Some(*space_id),
            Self::Refused { space_id, .. } => *space_id,
            Self::NotSignedIn | Self::Stale => None,
        }
    }
}

/// Personal Microsoft accounts sign in through the consumers tenant.
const CONSUMERS_TENANT: &str = "9188040d-6c67-4c5b-b112-36a304b66dad";

/// Handles Microsoft's redirect for a space authorization. The pending
/// sign-in leaves the session first: a callback is used once only.
pub async fn finish_room_connect(
    backend: &Backend,
    session: &Session,
    user: Option<&User>,
    params: CallbackParams,
) -> RoomCallbackOutcome {
    let Some(user) = user else {
        return RoomCallbackOutcome::NotSignedIn;
    };
    let pending: Option<Pending> = session.remove(PENDING_KEY).await.ok().flatten();
    let Some(pending) = pending else {
        return RoomCallbackOutcome::Stale;
    };
    let space_id = pending.space_id;
    let fresh =
        Utc::now() - pending.started_at < chrono::TimeDelta::minutes(PENDING_LIFETIME_MINUTES);
    if params.state.as_deref() != Some(pending.state.as_str())
        || pending.user_id != user.id
        || user.role != Role::Admin
        || !fresh
    {
        return RoomCallbackOutcome::Stale;
    }
    let registration =
        match active_registration(&backend.db, &backend.vault, &backend.settings).await {
            Ok(Some(r)) => r,
            Ok(None) => return RoomCallbackOutcome::IntegrationInactive { space_id },
            Err(e) => {
                tracing::error!(error = %e, "reading the integration at the room callback");
                return RoomCallbackOutcome::Refused {
                    space_id: Some(space_id),
                    message: "the integration settings could not be read".into(),
                };
            }
        };
    let consent_missing = || RoomCallbackOutcome::ConsentMissing {
        space_id,
        admin_consent_url: backend.identity.admin_consent_url(
            &registration.consent_tenant,
            &registration.application_id,
            &registration.redirect_url,
        ),
    };
    if let Some(error) = &params.error {
        let description = params.error_description.clone().unwrap_or_default();
        return match error.as_str() {
            _ if description.contains("AADSTS65001") || error == "consent_required" => {
                consent_missing()
            }
            "access_denied" => RoomCallbackOutcome::Cancelled { space_id },
            _ => RoomCallbackOutcome::Refused {
                space_id: Some(space_id),
                message: format!("{error}: {}", description.lines().next().unwrap_or("")),
            },
        };
    }
    if params.tenant.as_deref() == Some(CONSUMERS_TENANT) {
        return RoomCallbackOutcome::PersonalAccount { space_id };
    }
    let Some(code) = params.code else {
        return RoomCallbackOutcome::Stale;
    };
    let verifier = SecretString::from(pending.verifier);
    let tokens = match backend
        .identity
        .redeem_code(&registration.credentials(), &code, &verifier)
        .await
    {
        Ok(t) => t,
        Err(crate::microsoft::TokenProblem::Refused(e)) if e.code() == Some(65001) => {
            return consent_missing();
        }
        Err(e) => {
            return RoomCallbackOutcome::Refused {
                space_id: Some(space_id),
                message: e.to_string(),
            };
        }
    };
    authorize_with_tokens(backend, space_id, tokens).await
}

/// Reads who signed in, refuses personal accounts, stores the tokens as
/// the space's connection. Tests call this after their own sign-in.
pub async fn authorize_with_tokens(
    backend: &Backend,
    space_id: i64,
    tokens: crate::microsoft::TokenSet,
) -> RoomCallbackOutcome {
    let me = match backend.graph.me(&tokens.access_token).await {
        Ok(me) => me,
        Err(e) => {
            return RoomCallbackOutcome::Refused {
                space_id: Some(space_id),
                message: format!("reading the Microsoft profile failed: {e}"),
            };
        }
    };
    if is_personal(&me) {
        return RoomCallbackOutcome::PersonalAccount { space_id };
    }
    let account = me.address();
    match store_authorization(backend, space_id, &account, &tokens, Utc::now()).await {
        Ok(_) => {
            tracing::info!(space = space_id, %account, "space authorized for room sync");
            RoomCallbackOutcome::Authorized { space_id, account }
        }
        Err(e) => {
            tracing::error!(error = %e, "storing a space's authorization");
            RoomCallbackOutcome::Refused {
                space_id: Some(space_id),
                message: "the authorization could not be saved".into(),
            }
        }
    }
}

/// Graph gives personal accounts a 16-hex-digit id, work or school
/// accounts a GUID.
fn is_personal(me: &crate::microsoft::graph::Me) -> bool {
    me.id.len() == 16 && me.id.chars().all(|c| c.is_ascii_hexdigit())
}
