//! "Connect with Microsoft": the authorization code flow with PKCE (S256)
//! and a `state` bound to the signed-in session, and the callback that
//! redeems the code, reads `/me` and stores the connection.

use chrono::{DateTime, Utc};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
use secrecy::SecretString;
use serde::{Deserialize, Serialize};
use tower_sessions::Session;

use super::{Owner, active_registration, store_connection};
use crate::Backend;
use crate::accounts::User;
use crate::entities::staff_profile;

/// Session key of the pending sign-in.
const PENDING_KEY: &str = "outlook_connect";
/// A sign-in not finished within this time is stale.
const PENDING_LIFETIME_MINUTES: i64 = 15;

#[derive(Serialize, Deserialize)]
struct Pending {
    state: String,
    verifier: String,
    user_id: i64,
    started_at: DateTime<Utc>,
}

#[derive(Debug, thiserror::Error)]
pub enum ConnectError {
    #[error(
        "Calendar sync with Microsoft is not active. An administrator turns it on under Admin › Integrations."
    )]
    IntegrationInactive,
    #[error(
        "Appointments are not activated for your account, so there is nothing to sync yet. Ask an administrator to activate them."
    )]
    AppointmentsNotEnabled,
    #[error("could not start the sign-in: {0}")]
    Start(String),
    #[error("the sign-in could not be remembered in your session: {0}")]
    Session(String),
    #[error(transparent)]
    Store(#[from] crate::integration::StoreError),
    #[error("database: {0}")]
    Db(#[from] sea_orm::DbErr),
}

/// May this user connect? Appointments must be activated for them.
pub async fn appointments_enabled(backend: &Backend, user: &User) -> Result<bool, sea_orm::DbErr> {
    Ok(staff_profile::Entity::find()
        .filter(staff_profile::Column::UserId.eq(user.id))
        .one(&backend.db)
        .await?
        .is_some_and(|p| p.appointments_enabled))
}

/// Starts the sign-in: remembers `state` and the PKCE verifier in the
/// session and returns Microsoft's authorize URL to send the browser to.
pub async fn begin_connect(
    backend: &Backend,
    session: &Session,
    user: &User,
) -> Result<String, ConnectError> {
    if !appointments_enabled(backend, user).await? {
        return Err(ConnectError::AppointmentsNotEnabled);
    }
    let registration = active_registration(&backend.db, &backend.vault, &backend.settings)
        .await?
        .ok_or(ConnectError::IntegrationInactive)?;
    let request = backend
        .identity
        .authorization_request(&registration.credentials(), None)
        .map_err(|e| ConnectError::Start(e.to_string()))?;
    let pending = Pending {
        state: request.state.clone(),
        verifier: secrecy::ExposeSecret::expose_secret(&request.verifier).to_owned(),
        user_id: user.id,
        started_at: Utc::now(),
    };
    session
        .insert(PENDING_KEY, pending)
        .await
        .map_err(|e| ConnectError::Session(e.to_string()))?;
    Ok(request.url)
}

/// The query Microsoft sends back to the redirect URI.
#[derive(Debug, Default, Clone, Deserialize)]
pub struct CallbackParams {
    pub code: Option<String>,
    pub state: Option<String>,
    pub error: Option<String>,
    pub error_description: Option<String>,
    /// Set when the callback ends an admin-consent flow.
    pub admin_consent: Option<String>,
    pub tenant: Option<String>,
}

/// What the callback page tells the person, each with a way forward.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CallbackOutcome {
    Connected {
        account: String,
    },
    /// Nobody is signed in to Calbridge in this browser.
    NotSignedIn,
    /// No sign-in is pending in this session, or `state` does not match:
    /// a replayed, stale or forged callback.
    Stale,
    /// The person cancelled at Microsoft.
    Cancelled,
    /// The tenant requires an administrator's consent (AADSTS65001).
    ConsentMissing {
        admin_consent_url: String,
    },
    /// The integration was turned off while the person was at Microsoft.
    IntegrationInactive,
    /// The end of an admin-consent flow.
    AdminConsentGranted,
    AdminConsentDeclined,
    /// Anything else Microsoft refused, with its reference.
    Refused {
        message: String,
    },
}

impl CallbackOutcome {
    /// A plain sentence for the page.
    pub fn message(&self) -> String {
        match self {
            CallbackOutcome::Connected { account } => {
                format!("Your Outlook calendar {account} is connected.")
            }
            CallbackOutcome::NotSignedIn => {
                "You are not signed in to Calbridge in this browser. Sign in, then choose \"Connect with Microsoft\" again.".into()
            }
            CallbackOutcome::Stale => {
                "This sign-in link has already been used or has expired, so nothing was connected. Start again from your sync settings.".into()
            }
            CallbackOutcome::Cancelled => {
                "You cancelled the sign-in at Microsoft, so nothing was connected. You can connect whenever you like.".into()
            }
            CallbackOutcome::ConsentMissing { .. } => {
                "Your organization requires an administrator to approve Calbridge before you can connect. Send your Microsoft 365 administrator the admin-consent link below; once they have approved it, connect again.".into()
            }
            CallbackOutcome::IntegrationInactive => {
                "Calendar sync was turned off while you were signing in, so nothing was connected. An administrator can turn it on again under Admin › Integrations.".into()
            }
            CallbackOutcome::AdminConsentGranted => {
                "Consent granted for your organization: staff members can now connect their Outlook calendars.".into()
            }
            CallbackOutcome::AdminConsentDeclined => {
                "Consent was not granted, so staff members of this organization still cannot connect.".into()
            }
            CallbackOutcome::Refused { message } => format!(
                "Microsoft did not let the connection through: {message}. Try again; if it keeps failing, give this message to an administrator."
            ),
        }
    }
}

/// Handles Microsoft's redirect back. The pending sign-in is taken out of
/// the session first, so a callback can be used once only.
pub async fn finish_connect(
    backend: &Backend,
    session: &Session,
    user: Option<&User>,
    params: CallbackParams,
) -> CallbackOutcome {
    if let Some(flag) = &params.admin_consent {
        return if flag.eq_ignore_ascii_case("true") {
            CallbackOutcome::AdminConsentGranted
        } else {
            CallbackOutcome::AdminConsentDeclined
        };
    }
    let Some(user) = user else {
        return CallbackOutcome::NotSignedIn;
    };
    let pending: Option<Pending> = session.remove(PENDING_KEY).await.ok().flatten();
    let Some(pending) = pending else {
        return CallbackOutcome::Stale;
    };
    let fresh =
        Utc::now() - pending.started_at < chrono::TimeDelta::minutes(PENDING_LIFETIME_MINUTES);
    if params.state.as_deref() != Some(pending.state.as_str())
        || pending.user_id != user.id
        || !fresh
    {
        return CallbackOutcome::Stale;
    }
    let registration =
        match active_registration(&backend.db, &backend.vault, &backend.settings).await {
            Ok(Some(r)) => r,
            Ok(None) => return CallbackOutcome::IntegrationInactive,
            Err(e) => {
                tracing::error!(error = %e, "reading the integration at the OAuth callback");
                return CallbackOutcome::Refused {
                    message: "the integration settings could not be read".into(),
                };
            }
        };
    let consent_missing = || CallbackOutcome::ConsentMissing {
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
            "access_denied" => CallbackOutcome::Cancelled,
            _ => CallbackOutcome::Refused {
                message: format!("{error}: {}", description.lines().next().unwrap_or("")),
            },
        };
    }
    let Some(code) = params.code else {
        return CallbackOutcome::Stale;
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
            return CallbackOutcome::Refused {
                message: e.to_string(),
            };
        }
    };
    let me = match backend.graph.me(&tokens.access_token).await {
        Ok(me) => me,
        Err(e) => {
            return CallbackOutcome::Refused {
                message: format!("reading your Microsoft profile failed: {e}"),
            };
        }
    };
    let account = me.address();
    match store_connection(
        &backend.db,
        &backend.vault,
        Owner::staff(user.id),
        &account,
        &tokens,
        Utc::now(),
    )
    .await
    {
        Ok(_) => {
            tracing::info!(user = user.id, %account, "Outlook calendar connected");
            // The first sync: appointments already booked go to the
            // newly connected calendar too.
            let staff = crate::sync::Subject::Staff(user.id);
            if let Err(e) =
                crate::sync::resync::first_sync(backend, staff, chrono::Utc::now()).await
            {
                tracing::warn!(error = %e, user = user.id, "could not queue the first sync");
            }
            CallbackOutcome::Connected { account }
        }
        Err(e) => {
            tracing::error!(error = %e, "storing a calendar connection");
            CallbackOutcome::Refused {
                message: "the connection could not be saved".into(),
            }
        }
    }
}
