//! The one guard: who is signed in, and whether they may do a thing.
//! Server functions (through `app`) and plain axum routes both call
//! [`require_role`], so the rule lives in one place.

use sea_orm::DatabaseConnection;
use tower_sessions::Session;

use crate::accounts::{self, Role, User};

const USER_ID_KEY: &str = "user_id";

#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    /// Nobody is signed in (or the session points at a deleted account).
    #[error("sign in to continue")]
    SignInRequired,
    /// Signed in, but the role is not enough.
    #[error("you do not have access to this page")]
    Forbidden,
    #[error("internal error: {0}")]
    Internal(String),
}

pub async fn current_user(
    session: &Session,
    db: &DatabaseConnection,
) -> Result<Option<User>, AuthError> {
    let id: Option<i64> = session
        .get(USER_ID_KEY)
        .await
        .map_err(|e| AuthError::Internal(e.to_string()))?;
    let Some(id) = id else { return Ok(None) };
    accounts::find_by_id(db, id)
        .await
        .map_err(|e| AuthError::Internal(e.to_string()))
}

pub async fn require_role(
    session: &Session,
    db: &DatabaseConnection,
    required: Role,
) -> Result<User, AuthError> {
    let user = current_user(session, db)
        .await?
        .ok_or(AuthError::SignInRequired)?;
    if user.role.satisfies(required) {
        Ok(user)
    } else {
        Err(AuthError::Forbidden)
    }
}

/// Binds the session to `user`. The session id is cycled first, so an id
/// planted before sign-in (session fixation) is worthless afterwards.
pub async fn sign_in(session: &Session, user: &User) -> Result<(), AuthError> {
    session
        .cycle_id()
        .await
        .map_err(|e| AuthError::Internal(e.to_string()))?;
    session
        .insert(USER_ID_KEY, user.id)
        .await
        .map_err(|e| AuthError::Internal(e.to_string()))
}

pub async fn sign_out(session: &Session) -> Result<(), AuthError> {
    session
        .flush()
        .await
        .map_err(|e| AuthError::Internal(e.to_string()))
}
