//! Legacy Exchange (password authentication) settings on a staff member's
//! or a space's sync settings. Staff see their own; admins see and change
//! anyone's and any space's. The password is write-only: it never comes
//! back, only whether one is saved.

use leptos::prelude::*;

use crate::error::AppError;
use crate::models::{LegacyExchangeView, SecretInput};

#[cfg(feature = "ssr")]
use {
    super::guard::{backend, fail, require_role},
    crate::models::{LegacySettingsView, Role},
    backend::accounts::User,
    backend::legacy::{LegacyError, OwnerKind},
};

/// The settings of `owner_kind` ("staff" or "space") `owner_id`; for
/// "staff", 0 means the signed-in staff member.
#[server(endpoint = "legacy_exchange")]
pub async fn legacy_exchange(
    owner_kind: String,
    #[server(default)] owner_id: i64,
) -> Result<LegacyExchangeView, AppError> {
    let (user, kind, owner_id) = authorize(&owner_kind, owner_id, false).await?;
    let backend = backend()?;
    view(&backend, &user, kind, owner_id).await
}

/// Admins: enter or replace the settings. An empty password keeps the
/// saved one.
#[server(endpoint = "save_legacy_exchange")]
pub async fn save_legacy_exchange(
    owner_kind: String,
    #[server(default)] owner_id: i64,
    #[server(default)] server_url: String,
    #[server(default)] account: String,
    #[server(default)] password: SecretInput,
) -> Result<LegacyExchangeView, AppError> {
    let (user, kind, owner_id) = authorize(&owner_kind, owner_id, true).await?;
    let backend = backend()?;
    let input = backend::legacy::LegacyInput {
        server_url,
        account,
        password: password.into_exact().map(secrecy::SecretString::from),
    };
    backend::legacy::set(
        &backend.db,
        &backend.vault,
        kind,
        owner_id,
        &input,
        chrono::Utc::now(),
    )
    .await
    .map_err(|e| fail(legacy_error(e)))?;
    tracing::info!(
        owner_kind = kind.as_str(),
        owner_id,
        by = user.id,
        "legacy Exchange settings saved"
    );
    view(&backend, &user, kind, owner_id).await
}

/// Admins: remove the settings.
#[server(endpoint = "clear_legacy_exchange")]
pub async fn clear_legacy_exchange(
    owner_kind: String,
    #[server(default)] owner_id: i64,
) -> Result<LegacyExchangeView, AppError> {
    let (user, kind, owner_id) = authorize(&owner_kind, owner_id, true).await?;
    let backend = backend()?;
    backend::legacy::clear(&backend.db, kind, owner_id)
        .await
        .map_err(|e| fail(AppError::internal(e)))?;
    tracing::info!(
        owner_kind = kind.as_str(),
        owner_id,
        by = user.id,
        "legacy Exchange settings cleared"
    );
    view(&backend, &user, kind, owner_id).await
}

/// Staff may read their own settings; everything else needs an admin.
#[cfg(feature = "ssr")]
async fn authorize(
    owner_kind: &str,
    owner_id: i64,
    change: bool,
) -> Result<(User, OwnerKind, i64), AppError> {
    let user = require_role(Role::Staff).await?;
    let kind = OwnerKind::parse(owner_kind)
        .ok_or_else(|| fail(AppError::Invalid("Unknown kind of sync settings.".into())))?;
    let owner_id = match (kind, owner_id) {
        (OwnerKind::Staff, 0) => user.id,
        (_, id) => id,
    };
    let own = kind == OwnerKind::Staff && owner_id == user.id;
    let admin = Role::from(user.role).satisfies(Role::Admin);
    if !admin && (change || !own) {
        return Err(fail(AppError::Forbidden));
    }
    Ok((user, kind, owner_id))
}

#[cfg(feature = "ssr")]
async fn view(
    backend: &backend::Backend,
    user: &User,
    kind: OwnerKind,
    owner_id: i64,
) -> Result<LegacyExchangeView, AppError> {
    let owner_name = match kind {
        OwnerKind::Staff => backend::accounts::find_by_id(&backend.db, owner_id)
            .await
            .map_err(|e| fail(AppError::internal(e)))?
            .map(|u| u.display_name),
        OwnerKind::Space => backend::spaces::get(&backend.db, owner_id)
            .await
            .map_err(|e| fail(AppError::internal(e)))?
            .map(|s| s.name),
    }
    .ok_or_else(|| fail(AppError::Invalid("No such staff member or space.".into())))?;
    let settings = backend::legacy::get(&backend.db, kind, owner_id)
        .await
        .map_err(|e| fail(AppError::internal(e)))?;
    Ok(LegacyExchangeView {
        owner_kind: kind.as_str().to_owned(),
        owner_id,
        owner_name,
        settings: settings.map(|s| LegacySettingsView {
            server_url: s.server_url,
            account: s.account,
            password_saved: s.password_saved,
            updated_at: s.updated_at.format("%Y-%m-%d %H:%M UTC").to_string(),
        }),
        editable: Role::from(user.role).satisfies(Role::Admin),
        note: backend::legacy::NOTE.to_owned(),
    })
}

#[cfg(feature = "ssr")]
fn legacy_error(e: LegacyError) -> AppError {
    match e {
        LegacyError::Invalid { field, message } => AppError::field(field, message),
        LegacyError::OwnerNotFound => AppError::Invalid(
            "Sync settings belong to a staff account or a space; this is neither.".into(),
        ),
        LegacyError::Vault(e) => AppError::internal(e),
        LegacyError::Db(e) => AppError::internal(e),
    }
}
