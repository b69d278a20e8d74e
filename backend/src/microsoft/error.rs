//! Microsoft's token-endpoint error body, and what a failed credential
//! check means for the admin.

use serde::{Deserialize, Serialize};

use super::identity::Authority;

/// The JSON error body of the identity platform's token endpoint. The
/// `oauth2` crate's standard error type keeps only `error`,
/// `error_description` and `error_uri`; this one keeps the AADSTS codes
/// and the ids Microsoft support asks for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MicrosoftError {
    pub error: String,
    #[serde(default)]
    pub error_description: Option<String>,
    #[serde(default)]
    pub error_codes: Vec<u64>,
    #[serde(default)]
    pub timestamp: Option<String>,
    #[serde(default)]
    pub trace_id: Option<String>,
    #[serde(default)]
    pub correlation_id: Option<String>,
    #[serde(default)]
    pub error_uri: Option<String>,
}

impl MicrosoftError {
    /// The AADSTS number.
    pub fn code(&self) -> Option<u64> {
        self.error_codes.first().copied()
    }

    /// "AADSTS700016; trace ID …; correlation ID …", for messages and logs.
    pub fn reference(&self) -> String {
        let mut parts = vec![match self.code() {
            Some(code) => format!("AADSTS{code}"),
            None => self.error.clone(),
        }];
        if let Some(t) = &self.trace_id {
            parts.push(format!("trace ID {t}"));
        }
        if let Some(c) = &self.correlation_id {
            parts.push(format!("correlation ID {c}"));
        }
        parts.join("; ")
    }

    /// The first line of the description, without the trace lines.
    pub fn summary(&self) -> &str {
        self.error_description
            .as_deref()
            .and_then(|d| d.lines().next())
            .unwrap_or(&self.error)
    }
}

impl std::fmt::Display for MicrosoftError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} ({})", self.error, self.reference())
    }
}

impl oauth2::ErrorResponse for MicrosoftError {}

/// Why a credential check failed, one case per thing the admin can fix.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CredentialProblem {
    /// AADSTS700016 at a tenant, /organizations or /common.
    #[error(
        "Microsoft does not know an app with this Application ID {place}. Check the Application (client) ID{tenant_hint}. If the app was registered only minutes ago, wait a few minutes and try again: a new registration takes a while to reach Microsoft's sign-in service. ({})",
        .error.reference()
    )]
    AppNotFound {
        place: String,
        tenant_hint: &'static str,
        error: Box<MicrosoftError>,
    },
    /// AADSTS700016 at /consumers: no app with this id accepts personal
    /// accounts, so either the id is wrong or the app is narrower.
    #[error(
        "No app with this Application ID accepts personal Microsoft accounts. Either the Application ID is wrong, or the app was registered for organizational accounts only: then choose \"Accounts in any organizational directory\" (or \"Accounts in this organizational directory only\" with its Tenant ID), as chosen when the app was registered. ({})",
        .error.reference()
    )]
    NotForPersonalAccounts { error: Box<MicrosoftError> },
    /// AADSTS7000215.
    #[error(
        "The client secret is not valid for this app. Did you paste the Secret ID instead of the Value? Under Certificates & secrets, copy the Value column, which Azure shows only right after the secret is created. ({})",
        .error.reference()
    )]
    WrongSecret { error: Box<MicrosoftError> },
    /// AADSTS7000222.
    #[error(
        "This client secret has expired. Create a new client secret under Certificates & secrets, then enter its Value here with its new expiry date. ({})",
        .error.reference()
    )]
    SecretExpired { error: Box<MicrosoftError> },
    /// AADSTS50194: a single-tenant app at /organizations or /common.
    #[error(
        "This app accepts only accounts in its own directory (it was registered as \"Accounts in this organizational directory only\"), so it cannot be used with the account type chosen here. Choose \"Accounts in this organizational directory only\" and enter the Directory (tenant) ID from the app's Overview page. ({})",
        .error.reference()
    )]
    SingleTenantApp { error: Box<MicrosoftError> },
    /// AADSTS9002331: the app is for personal accounts only.
    #[error(
        "This app accepts personal Microsoft accounts only, which is narrower than the account type chosen here. Choose \"Personal Microsoft accounts only\", or register the app again with the account types you need. ({})",
        .error.reference()
    )]
    PersonalAccountsOnlyApp { error: Box<MicrosoftError> },
    /// AADSTS90002.
    #[error(
        "Microsoft does not know the tenant \"{tenant}\". Enter the Directory (tenant) ID from the app's Overview page, or a verified domain of your organization. ({})",
        .error.reference()
    )]
    TenantNotFound {
        tenant: String,
        error: Box<MicrosoftError>,
    },
    /// Any other refusal.
    #[error("Microsoft refused the credentials: {} ({})", .error.summary(), .error.reference())]
    Refused { error: Box<MicrosoftError> },
    /// Nothing (usable) came back: DNS, connection, TLS, timeout.
    #[error(
        "Could not reach Microsoft to check the credentials: tried {url} and got {detail}. Check this server's network access, then try again, or choose \"Save anyway\" to store the settings without the check."
    )]
    Unreachable { url: String, detail: String },
    /// An answer that is not Microsoft's token-endpoint JSON.
    #[error("Microsoft's answer from {url} could not be understood ({detail}). Try again later.")]
    Unexpected { url: String, detail: String },
}

impl CredentialProblem {
    pub fn is_unreachable(&self) -> bool {
        matches!(self, CredentialProblem::Unreachable { .. })
    }

    /// Names the failure from Microsoft's answer: branch on the AADSTS
    /// number where it says what to fix, otherwise refuse generically.
    pub fn from_microsoft(error: MicrosoftError, authority: &Authority) -> Self {
        let error = Box::new(error);
        match (error.code(), authority) {
            (Some(700016), Authority::Consumers) => Self::NotForPersonalAccounts { error },
            (Some(700016), _) => Self::AppNotFound {
                place: authority.describe(),
                tenant_hint: if matches!(authority, Authority::Tenant(_)) {
                    " and the Tenant ID"
                } else {
                    ""
                },
                error,
            },
            (Some(7000215), _) => Self::WrongSecret { error },
            (Some(7000222), _) => Self::SecretExpired { error },
            (Some(50194), _) => Self::SingleTenantApp { error },
            (Some(9002331), _) => Self::PersonalAccountsOnlyApp { error },
            (Some(90002), Authority::Tenant(tenant)) => Self::TenantNotFound {
                tenant: tenant.clone(),
                error,
            },
            _ => Self::Refused { error },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(code: u64) -> MicrosoftError {
        MicrosoftError {
            error: "invalid_client".into(),
            error_description: Some(format!("AADSTS{code}: text\r\nTrace ID: t")),
            error_codes: vec![code],
            timestamp: None,
            trace_id: Some("trace-1".into()),
            correlation_id: Some("corr-1".into()),
            error_uri: None,
        }
    }

    #[test]
    fn each_code_names_what_to_fix_and_keeps_the_ids() {
        let tenant = Authority::Tenant("contoso.example".into());
        let m = CredentialProblem::from_microsoft(ms(7000215), &tenant).to_string();
        assert!(m.contains("Secret ID instead of the Value"), "{m}");
        assert!(m.contains("AADSTS7000215; trace ID trace-1; correlation ID corr-1"));
        let m = CredentialProblem::from_microsoft(ms(700016), &tenant).to_string();
        assert!(
            m.contains("wait a few minutes") && m.contains("Tenant ID"),
            "{m}"
        );
        let m = CredentialProblem::from_microsoft(ms(700016), &Authority::Consumers).to_string();
        assert!(m.contains("organizational accounts only"), "{m}");
        assert!(matches!(
            CredentialProblem::from_microsoft(ms(7000222), &tenant),
            CredentialProblem::SecretExpired { .. }
        ));
        assert!(matches!(
            CredentialProblem::from_microsoft(ms(50194), &Authority::Common),
            CredentialProblem::SingleTenantApp { .. }
        ));
        assert!(matches!(
            CredentialProblem::from_microsoft(ms(1), &Authority::Common),
            CredentialProblem::Refused { .. }
        ));
    }
}
