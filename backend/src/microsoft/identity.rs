//! The Microsoft identity platform client (v2.0 token endpoint), through
//! the `oauth2` crate with [`MicrosoftError`] as its error type.

use std::time::Duration;

use oauth2::basic::{
    BasicRevocationErrorResponse, BasicTokenIntrospectionResponse, BasicTokenResponse,
};
use oauth2::{
    AuthType, AuthorizationCode, ClientId, ClientSecret, EndpointNotSet, EndpointSet,
    HttpClientError, RedirectUrl, RequestTokenError, Scope, StandardRevocableToken, TokenUrl,
};
use secrecy::{ExposeSecret, SecretString};

use super::error::{CredentialProblem, MicrosoftError};

/// The first path segment of the v2.0 endpoints: who may sign in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Authority {
    /// One directory, by tenant id (GUID) or verified domain.
    Tenant(String),
    Organizations,
    Common,
    Consumers,
}

impl Authority {
    pub fn segment(&self) -> &str {
        match self {
            Authority::Tenant(t) => t,
            Authority::Organizations => "organizations",
            Authority::Common => "common",
            Authority::Consumers => "consumers",
        }
    }

    /// Where Microsoft looked, in words.
    pub fn describe(&self) -> String {
        match self {
            Authority::Tenant(t) => format!("in the directory {t}"),
            Authority::Organizations => "among organizational directories".into(),
            Authority::Common => "among organizational and personal accounts".into(),
            Authority::Consumers => "among personal Microsoft accounts".into(),
        }
    }
}

/// What a credential check sends. The secret is only lent.
pub struct AppCredentials<'a> {
    pub application_id: &'a str,
    pub secret: &'a SecretString,
    pub authority: &'a Authority,
    /// The Redirect URL registered for the app; sent with the code check.
    pub redirect_url: &'a str,
}

/// An `oauth2` client whose error responses keep Microsoft's fields.
type MicrosoftClient = oauth2::Client<
    MicrosoftError,
    BasicTokenResponse,
    BasicTokenIntrospectionResponse,
    StandardRevocableToken,
    BasicRevocationErrorResponse,
    EndpointNotSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointSet,
>;

type TokenError = RequestTokenError<HttpClientError<reqwest::Error>, MicrosoftError>;

/// A code no one was ever issued: redeeming it can only fail, and how it
/// fails tells whether the client authenticated.
const NEVER_ISSUED_CODE: &str = "calbridge-credential-check-not-a-real-code";
const GRAPH_DEFAULT_SCOPE: &str = "https://graph.microsoft.com/.default";

#[derive(Debug, Clone)]
pub struct IdentityClient {
    login_url: String,
    http: reqwest::Client,
}

impl IdentityClient {
    pub fn new(login_url: &str) -> Self {
        let http = reqwest::Client::builder()
            // Following redirects from a token endpoint invites SSRF.
            .redirect(reqwest::redirect::Policy::none())
            .connect_timeout(Duration::from_secs(5))
            .timeout(Duration::from_secs(15))
            .build()
            .expect("the HTTP client configuration is valid");
        Self {
            login_url: login_url.trim_end_matches('/').to_owned(),
            http,
        }
    }

    pub fn token_url(&self, authority: &Authority) -> String {
        format!(
            "{}/{}/oauth2/v2.0/token",
            self.login_url,
            authority.segment()
        )
    }

    /// Asks Microsoft whether this Application ID and secret work at this
    /// authority, without any user.
    ///
    /// Microsoft refuses the client-credentials grant at `/common`,
    /// `/organizations` and `/consumers` (it needs one tenant), so:
    /// - single tenant: request an app-only token at `/{tenant}`; a token
    ///   means the credentials work.
    /// - otherwise: redeem a deliberately invalid authorization code at the
    ///   chosen authority. Microsoft authenticates the client before it
    ///   looks at the code, so `invalid_grant` (the code is bad) means the
    ///   app id and secret were accepted, while `invalid_client` /
    ///   `unauthorized_client` (or any other error) means they were not.
    pub async fn check_credentials(
        &self,
        creds: &AppCredentials<'_>,
    ) -> Result<(), CredentialProblem> {
        let url = self.token_url(creds.authority);
        let client = self.client(creds, &url)?;
        let answer = match creds.authority {
            Authority::Tenant(_) => client
                .exchange_client_credentials()
                .add_scope(Scope::new(GRAPH_DEFAULT_SCOPE.into()))
                .request_async(&self.http)
                .await
                .map(drop),
            _ => client
                .exchange_code(AuthorizationCode::new(NEVER_ISSUED_CODE.into()))
                .request_async(&self.http)
                .await
                .map(drop),
        };
        match answer {
            Ok(()) => Ok(()),
            Err(RequestTokenError::ServerResponse(e))
                if e.error == "invalid_grant"
                    && !matches!(creds.authority, Authority::Tenant(_)) =>
            {
                Ok(())
            }
            Err(e) => Err(self.problem(e, creds.authority, url)),
        }
    }

    /// An app-only token (client credentials grant) for Graph's
    /// `.default` scope: whatever application permissions an admin
    /// granted the app in `creds.authority`, which must be one tenant.
    pub async fn app_token(&self, creds: &AppCredentials<'_>) -> Result<TokenSet, TokenProblem> {
        let url = self.token_url(creds.authority);
        let client = self
            .client(creds, &url)
            .map_err(|p| TokenProblem::Unexpected {
                url: url.clone(),
                detail: p.to_string(),
            })?;
        let answer = client
            .exchange_client_credentials()
            .add_scope(Scope::new(GRAPH_DEFAULT_SCOPE.into()))
            .request_async(&self.http)
            .await;
        self.tokens(answer, creds.authority)
    }

    fn client(
        &self,
        creds: &AppCredentials<'_>,
        url: &str,
    ) -> Result<MicrosoftClient, CredentialProblem> {
        let invalid = |what: &str, e: &dyn std::fmt::Display| CredentialProblem::Unexpected {
            url: url.to_owned(),
            detail: format!("{what}: {e}"),
        };
        let token_url = TokenUrl::new(url.to_owned()).map_err(|e| invalid("token URL", &e))?;
        let redirect = RedirectUrl::new(creds.redirect_url.to_owned())
            .map_err(|e| invalid("redirect URL", &e))?;
        Ok(
            oauth2::Client::new(ClientId::new(creds.application_id.to_owned()))
                .set_client_secret(ClientSecret::new(creds.secret.expose_secret().to_owned()))
                // Microsoft documents the secret in the form body.
                .set_auth_type(AuthType::RequestBody)
                .set_token_uri(token_url)
                .set_redirect_uri(redirect),
        )
    }

    fn problem(&self, error: TokenError, authority: &Authority, url: String) -> CredentialProblem {
        match error {
            RequestTokenError::ServerResponse(e) => {
                tracing::info!(error = %e, %url, "Microsoft refused a credential check");
                CredentialProblem::from_microsoft(e, authority)
            }
            RequestTokenError::Request(e) => CredentialProblem::Unreachable {
                url,
                detail: error_chain(&e),
            },
            RequestTokenError::Parse(e, _) => CredentialProblem::Unexpected {
                url,
                detail: e.to_string(),
            },
            RequestTokenError::Other(detail) => CredentialProblem::Unexpected { url, detail },
        }
    }
}

/// "error sending request: connection refused", not just the outer layer.
fn error_chain(error: &dyn std::error::Error) -> String {
    let mut parts = vec![error.to_string()];
    let mut source = error.source();
    while let Some(e) = source {
        let text = e.to_string();
        if !parts.iter().any(|p| p.contains(&text)) {
            parts.push(text);
        }
        source = e.source();
    }
    parts.join(": ")
}

// ----- the user flow: authorization code with PKCE, and refresh -----------

/// An `oauth2` client for signing people in: the authorize endpoint too.
type UserFlowClient = oauth2::Client<
    MicrosoftError,
    BasicTokenResponse,
    BasicTokenIntrospectionResponse,
    StandardRevocableToken,
    BasicRevocationErrorResponse,
    EndpointSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointSet,
>;

/// Where to send someone to connect, and what to keep in their session
/// until they come back. The verifier must never leave the server.
pub struct AuthorizationRequest {
    pub url: String,
    pub state: String,
    pub verifier: SecretString,
}

impl std::fmt::Debug for AuthorizationRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuthorizationRequest")
            .field("url", &self.url)
            .finish_non_exhaustive()
    }
}

/// Tokens as Microsoft returned them. Debug shows neither token.
pub struct TokenSet {
    pub access_token: SecretString,
    /// Microsoft returns a new one with every refresh: store it each time.
    pub refresh_token: Option<SecretString>,
    pub expires_in: Option<Duration>,
}

impl std::fmt::Debug for TokenSet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenSet")
            .field("refresh_token", &self.refresh_token.is_some())
            .field("expires_in", &self.expires_in)
            .finish_non_exhaustive()
    }
}

/// Why redeeming a code or refreshing failed.
#[derive(Debug, thiserror::Error)]
pub enum TokenProblem {
    /// Microsoft answered with its error JSON.
    #[error("Microsoft refused: {} ({})", .0.summary(), .0.reference())]
    Refused(Box<MicrosoftError>),
    #[error("could not reach Microsoft at {url}: {detail}")]
    Unreachable { url: String, detail: String },
    #[error("Microsoft's answer from {url} could not be understood: {detail}")]
    Unexpected { url: String, detail: String },
}

impl TokenProblem {
    /// The grant is gone (revoked, expired, consent withdrawn): only the
    /// person signing in again helps, so retrying is pointless.
    pub fn is_dead_grant(&self) -> bool {
        match self {
            TokenProblem::Refused(e) => {
                e.error == "invalid_grant"
                    || e.error == "interaction_required"
                    || matches!(e.code(), Some(50173 | 700082 | 70000 | 65001 | 70008))
            }
            _ => false,
        }
    }
}

/// Calbridge's delegated scopes for calendar sync.
pub const CALENDAR_SCOPES: [&str; 3] = ["offline_access", "Calendars.ReadWrite", "User.Read"];

/// Scopes of a room connection: the rooms' calendars through delegate
/// rights (`.Shared`) and the room directory (`Place.Read.All`).
pub const ROOM_SCOPES: [&str; 5] = [
    "offline_access",
    "User.Read",
    "Calendars.ReadWrite",
    "Calendars.ReadWrite.Shared",
    "Place.Read.All",
];

impl IdentityClient {
    pub fn authorize_url(&self, authority: &Authority) -> String {
        format!(
            "{}/{}/oauth2/v2.0/authorize",
            self.login_url,
            authority.segment()
        )
    }

    /// The tenant admin's consent link (AADSTS65001 "consent missing").
    pub fn admin_consent_url(&self, tenant: &str, application_id: &str, redirect: &str) -> String {
        format!(
            "{}/{}/v2.0/adminconsent?client_id={}&redirect_uri={}",
            self.login_url,
            tenant,
            urlencode(application_id),
            urlencode(redirect)
        )
    }

    fn user_flow_client(&self, creds: &AppCredentials<'_>) -> Result<UserFlowClient, TokenProblem> {
        let url = self.token_url(creds.authority);
        let bad = |what: &str, e: &dyn std::fmt::Display| TokenProblem::Unexpected {
            url: url.clone(),
            detail: format!("{what}: {e}"),
        };
        let token_url = TokenUrl::new(url.clone()).map_err(|e| bad("token URL", &e))?;
        let auth_url = oauth2::AuthUrl::new(self.authorize_url(creds.authority))
            .map_err(|e| bad("authorize URL", &e))?;
        let redirect =
            RedirectUrl::new(creds.redirect_url.to_owned()).map_err(|e| bad("redirect URL", &e))?;
        Ok(
            oauth2::Client::new(ClientId::new(creds.application_id.to_owned()))
                .set_client_secret(ClientSecret::new(creds.secret.expose_secret().to_owned()))
                .set_auth_type(AuthType::RequestBody)
                .set_auth_uri(auth_url)
                .set_token_uri(token_url)
                .set_redirect_uri(redirect),
        )
    }

    /// Authorization code request with PKCE (S256) and a random `state`.
    pub fn authorization_request(
        &self,
        creds: &AppCredentials<'_>,
        login_hint: Option<&str>,
    ) -> Result<AuthorizationRequest, TokenProblem> {
        self.authorization_request_for(creds, login_hint, &CALENDAR_SCOPES)
    }

    /// The same, asking for `scopes` (the room connection asks for more).
    pub fn authorization_request_for(
        &self,
        creds: &AppCredentials<'_>,
        login_hint: Option<&str>,
        scopes: &[&str],
    ) -> Result<AuthorizationRequest, TokenProblem> {
        let client = self.user_flow_client(creds)?;
        let (challenge, verifier) = oauth2::PkceCodeChallenge::new_random_sha256();
        let mut request = client
            .authorize_url(oauth2::CsrfToken::new_random)
            .add_scopes(scopes.iter().map(|s| Scope::new((*s).to_owned())))
            .set_pkce_challenge(challenge)
            .add_extra_param("response_mode", "query");
        if let Some(hint) = login_hint {
            request = request.add_extra_param("login_hint", hint);
        }
        let (url, state) = request.url();
        Ok(AuthorizationRequest {
            url: url.to_string(),
            state: state.secret().clone(),
            verifier: SecretString::from(verifier.secret().clone()),
        })
    }

    /// Redeems an authorization code (single use) with its PKCE verifier.
    pub async fn redeem_code(
        &self,
        creds: &AppCredentials<'_>,
        code: &str,
        verifier: &SecretString,
    ) -> Result<TokenSet, TokenProblem> {
        let client = self.user_flow_client(creds)?;
        let answer = client
            .exchange_code(AuthorizationCode::new(code.to_owned()))
            .set_pkce_verifier(oauth2::PkceCodeVerifier::new(
                verifier.expose_secret().to_owned(),
            ))
            .request_async(&self.http)
            .await;
        self.tokens(answer, creds.authority)
    }

    /// Trades a refresh token for new tokens (and a new refresh token).
    pub async fn refresh(
        &self,
        creds: &AppCredentials<'_>,
        refresh_token: &SecretString,
    ) -> Result<TokenSet, TokenProblem> {
        self.refresh_for(creds, refresh_token, &CALENDAR_SCOPES)
            .await
    }

    /// The same, asking for `scopes`: Microsoft issues the new access
    /// token for the scopes asked, so a room connection asks for its own.
    pub async fn refresh_for(
        &self,
        creds: &AppCredentials<'_>,
        refresh_token: &SecretString,
        scopes: &[&str],
    ) -> Result<TokenSet, TokenProblem> {
        let client = self.user_flow_client(creds)?;
        let token = oauth2::RefreshToken::new(refresh_token.expose_secret().to_owned());
        let answer = client
            .exchange_refresh_token(&token)
            .add_scopes(scopes.iter().map(|s| Scope::new((*s).to_owned())))
            .request_async(&self.http)
            .await;
        self.tokens(answer, creds.authority)
    }

    fn tokens(
        &self,
        answer: Result<BasicTokenResponse, TokenError>,
        authority: &Authority,
    ) -> Result<TokenSet, TokenProblem> {
        use oauth2::TokenResponse;
        let url = self.token_url(authority);
        match answer {
            Ok(t) => Ok(TokenSet {
                access_token: SecretString::from(t.access_token().secret().clone()),
                refresh_token: t
                    .refresh_token()
                    .map(|r| SecretString::from(r.secret().clone())),
                expires_in: t.expires_in(),
            }),
            Err(RequestTokenError::ServerResponse(e)) => {
                tracing::info!(error = %e, %url, "Microsoft refused a token request");
                Err(TokenProblem::Refused(Box::new(e)))
            }
            Err(RequestTokenError::Request(e)) => Err(TokenProblem::Unreachable {
                url,
                detail: error_chain(&e),
            }),
            Err(RequestTokenError::Parse(e, _)) => Err(TokenProblem::Unexpected {
                url,
                detail: e.to_string(),
            }),
            Err(RequestTokenError::Other(detail)) => Err(TokenProblem::Unexpected { url, detail }),
        }
    }
}

fn urlencode(s: &str) -> String {
    oauth2::url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}
