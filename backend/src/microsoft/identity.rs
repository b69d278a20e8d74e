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
