//! Signing in and out, and asking who is signed in.

use leptos::prelude::*;

use crate::error::AppError;
use crate::models::{Role, UserView};

/// Where to go after signing in: only paths on this site, so the login
/// form cannot be used to send people elsewhere.
pub fn safe_next(next: &str) -> &str {
    let ok = next.starts_with('/') && !next.starts_with("//") && !next.contains('\\');
    if ok { next } else { "/" }
}

#[server(endpoint = "login")]
pub async fn login(email: String, password: String, next: String) -> Result<(), AppError> {
    use super::guard::{backend, fail, session};
    use axum::extract::ConnectInfo;
    use std::net::SocketAddr;

    let backend = backend()?;
    let addr = leptos_axum::extract::<ConnectInfo<SocketAddr>>()
        .await
        .map(|ConnectInfo(a)| a.ip())
        .map_err(|e| fail(AppError::internal(format!("peer address unavailable: {e}"))))?;

    if let Err(wait) = backend.login_throttle.check(addr) {
        metrics_login("throttled");
        return Err(fail(AppError::TooManyAttempts(wait.as_secs().max(1))));
    }
    if email.trim().is_empty() || password.is_empty() {
        return Err(fail(AppError::Invalid(
            "Enter your email and password.".into(),
        )));
    }
    let user = backend::accounts::authenticate(&backend.db, &email, &password)
        .await
        .map_err(|e| fail(AppError::internal(e)))?;
    let Some(user) = user else {
        backend.login_throttle.record_failure(addr);
        metrics_login("failure");
        tracing::info!(%addr, "failed sign-in");
        return Err(fail(AppError::InvalidCredentials));
    };
    backend.login_throttle.record_success(addr);
    let session = session().await?;
    backend::auth::sign_in(&session, &user)
        .await
        .map_err(|e| fail(e.into()))?;
    metrics_login("success");
    tracing::info!(user_id = user.id, role = %user.role, "signed in");
    leptos_axum::redirect(safe_next(&next));
    Ok(())
}

#[cfg(feature = "ssr")]
fn metrics_login(outcome: &'static str) {
    backend::telemetry::record_login(outcome);
}

#[server(endpoint = "logout")]
pub async fn logout() -> Result<(), AppError> {
    use super::guard::{fail, session};
    let session = session().await?;
    backend::auth::sign_out(&session)
        .await
        .map_err(|e| fail(e.into()))?;
    leptos_axum::redirect("/");
    Ok(())
}

/// Open to everyone: answers `None` for visitors who are not signed in.
#[server(endpoint = "current_user")]
pub async fn current_user() -> Result<Option<UserView>, AppError> {
    Ok(super::guard::optional_user().await?.map(UserView::from))
}

/// Used by guarded pages before they render anything.
#[server(endpoint = "authorize_page")]
pub async fn authorize_page(required: Role) -> Result<UserView, AppError> {
    Ok(super::guard::require_role(required).await?.into())
}

#[cfg(test)]
mod tests {
    use super::safe_next;

    #[test]
    fn next_stays_on_this_site() {
        assert_eq!(safe_next("/admin/integrations"), "/admin/integrations");
        assert_eq!(safe_next("https://evil.example"), "/");
        assert_eq!(safe_next("//evil.example"), "/");
        assert_eq!(safe_next("/\\evil.example"), "/");
        assert_eq!(safe_next(""), "/");
    }
}
