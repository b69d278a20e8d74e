//! The Microsoft identity platform v2.0 endpoints:
//! `/{tenant}/oauth2/v2.0/authorize`, `/{tenant}/oauth2/v2.0/token` and
//! `/{tenant}/v2.0/adminconsent`, plus the sign-in pages they lead to.

pub mod authorize;
pub mod errors;
pub mod observe;
pub mod scopes;
pub mod token;

use axum::Router;
use axum::routing::{get, post};
use chrono::{DateTime, Utc};
use uuid::Uuid;

use crate::AppState;
use crate::state::{AccountKind, AppRegistration, CONSUMERS_TENANT, SignInAudience, User, World};
use errors::AadError;

/// The identity routes, each logged (and the token endpoint open to
/// injected faults) by [`observe::observe`].
pub fn routes(state: AppState) -> Router<AppState> {
    Router::new()
        .route("/{tenant}/oauth2/v2.0/authorize", get(authorize::authorize))
        .route("/{tenant}/v2.0/adminconsent", get(authorize::admin_consent))
        .route("/{tenant}/login", post(authorize::login_step))
        .route("/{tenant}/oauth2/v2.0/token", post(token::token))
        .route("/error", get(authorize::error_lookup))
        .route_layer(axum::middleware::from_fn_with_state(
            state,
            observe::observe,
        ))
}

/// The first path segment of a request: who may sign in.
/// Microsoft identity platform: "Microsoft identity platform and OAuth 2.0
/// authorization code flow", the `tenant` parameter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Authority {
    Common,
    Organizations,
    Consumers,
    Tenant(Uuid),
}

impl Authority {
    pub fn resolve(world: &World, segment: &str) -> Result<Self, AadError> {
        match segment.to_ascii_lowercase().as_str() {
            "common" => Ok(Self::Common),
            "organizations" => Ok(Self::Organizations),
            "consumers" => Ok(Self::Consumers),
            _ => {
                if Uuid::parse_str(segment).ok() == Some(CONSUMERS_TENANT) {
                    return Ok(Self::Consumers);
                }
                world
                    .tenant_by_name(segment)
                    .map(|t| Self::Tenant(t.id))
                    .ok_or_else(|| errors::tenant_not_found(segment))
            }
        }
    }

    fn directory_name(self, world: &World) -> String {
        match self {
            Self::Consumers => "Microsoft Accounts".into(),
            Self::Tenant(id) => world
                .tenant(id)
                .map(|t| t.display_name.clone())
                .unwrap_or_else(|| id.to_string()),
            Self::Common => "common".into(),
            Self::Organizations => "organizations".into(),
        }
    }
}

/// The app registration a request names, checked against the authority it
/// was sent to. Errors are those Microsoft shows for a wrong app id, an
/// app still propagating, or an authority its account types exclude.
pub fn find_app(
    world: &World,
    client_id: &str,
    authority: Authority,
    now: DateTime<Utc>,
    propagation_delay_secs: i64,
) -> Result<AppRegistration, AadError> {
    let directory = authority.directory_name(world);
    let not_found = || errors::app_not_found(client_id, &directory);
    let id = Uuid::parse_str(client_id.trim()).map_err(|_| not_found())?;
    let app = world.apps.get(&id).ok_or_else(not_found)?;
    // A fresh registration is not yet visible to the token service.
    if now < app.created_at + chrono::Duration::seconds(propagation_delay_secs) {
        return Err(not_found());
    }
    use SignInAudience::*;
    match (app.audience, authority) {
        (AzureADMyOrg, Authority::Common | Authority::Organizations) => {
            Err(errors::not_multi_tenant(app.client_id, &app.name))
        }
        (AzureADMyOrg, Authority::Tenant(t)) if t != app.home_tenant => Err(not_found()),
        (AzureADMyOrg | AzureADMultipleOrgs, Authority::Consumers) => Err(not_found()),
        (PersonalMicrosoftAccount, Authority::Organizations | Authority::Tenant(_)) => {
            Err(errors::msa_only(app.client_id, &app.name))
        }
        _ => Ok(app.clone()),
    }
}

/// May this account sign in to this app at this authority?
pub fn check_user_allowed(
    world: &World,
    user: &User,
    app: &AppRegistration,
    authority: Authority,
) -> Result<(), AadError> {
    let personal = user.kind == AccountKind::Personal;
    let ok = user.kind != AccountKind::Room
        && match authority {
            Authority::Consumers => personal,
            Authority::Organizations => !personal,
            Authority::Tenant(t) => !personal && user.tenant_id == t,
            Authority::Common => match app.audience {
                SignInAudience::AzureADMultipleOrgs => !personal,
                SignInAudience::PersonalMicrosoftAccount => personal,
                SignInAudience::AzureADandPersonalMicrosoftAccount => true,
                SignInAudience::AzureADMyOrg => user.tenant_id == app.home_tenant,
            },
        }
        && (app.audience != SignInAudience::AzureADMyOrg || user.tenant_id == app.home_tenant);
    if ok {
        return Ok(());
    }
    let idp = if personal {
        "live.com".to_string()
    } else {
        format!("https://sts.windows.net/{}/", user.tenant_id)
    };
    let tenant = match authority {
        Authority::Tenant(t) => world
            .tenant(t)
            .map(|t| t.domain.clone())
            .unwrap_or_default(),
        _ => world
            .tenant(app.home_tenant)
            .map(|t| t.domain.clone())
            .unwrap_or_else(|| authority.directory_name(world)),
    };
    Err(errors::user_not_in_tenant(
        &user.upn,
        &idp,
        &tenant,
        app.client_id,
        &app.name,
    ))
}
