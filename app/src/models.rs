//! Types that cross the wire between browser and server. Nothing here
//! may hold a secret: these are serialised into every page.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Role {
    Patron,
    Staff,
    Admin,
}

impl Role {
    pub fn label(self) -> &'static str {
        match self {
            Role::Patron => "Patron",
            Role::Staff => "Staff",
            Role::Admin => "Admin",
        }
    }

    pub fn satisfies(self, required: Role) -> bool {
        self >= required
    }
}

/// The signed-in account, as pages show it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserView {
    pub id: i64,
    pub email: String,
    pub display_name: String,
    pub role: Role,
}

/// Azure's "Supported account types", in Azure's words.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AccountType {
    SingleTenant,
    AnyOrganization,
    OrganizationAndPersonal,
    PersonalOnly,
}

impl AccountType {
    pub const ALL: [AccountType; 4] = [
        AccountType::SingleTenant,
        AccountType::AnyOrganization,
        AccountType::OrganizationAndPersonal,
        AccountType::PersonalOnly,
    ];

    /// The form value (same as the serde name).
    pub fn value(self) -> &'static str {
        match self {
            AccountType::SingleTenant => "single_tenant",
            AccountType::AnyOrganization => "any_organization",
            AccountType::OrganizationAndPersonal => "organization_and_personal",
            AccountType::PersonalOnly => "personal_only",
        }
    }

    pub fn from_value(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|t| t.value() == s)
    }

    pub fn label(self) -> &'static str {
        match self {
            AccountType::SingleTenant => {
                "Accounts in this organizational directory only (Single tenant)"
            }
            AccountType::AnyOrganization => {
                "Accounts in any organizational directory (Any Microsoft Entra ID tenant - Multitenant)"
            }
            AccountType::OrganizationAndPersonal => {
                "Accounts in any organizational directory (Any Microsoft Entra ID tenant - Multitenant) and personal Microsoft accounts (e.g. Skype, Xbox)"
            }
            AccountType::PersonalOnly => "Personal Microsoft accounts only",
        }
    }

    pub fn needs_tenant(self) -> bool {
        self == AccountType::SingleTenant
    }
}

/// `xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx`. The browser checks it as the
/// admin types; the server checks again (backend::integration::validate).
pub fn is_guid(s: &str) -> bool {
    let groups: Vec<&str> = s.trim().split('-').collect();
    groups.len() == 5
        && groups
            .iter()
            .zip([8, 4, 4, 4, 12])
            .all(|(g, len)| g.len() == len && g.chars().all(|c| c.is_ascii_hexdigit()))
}

/// The Outlook integration settings as the admin page shows them. The
/// client secret is represented by `secret_saved` and a hint only.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IntegrationSettingsView {
    /// The exact Redirect URL to register in Azure.
    pub redirect_url: String,
    pub application_id: String,
    pub account_type: AccountType,
    pub tenant_id: String,
    pub secret_saved: bool,
    /// First three characters of the saved secret.
    pub secret_hint: Option<String>,
    /// `YYYY-MM-DD`.
    pub secret_expires_on: Option<String>,
    pub active: bool,
    /// Disconnected for all users and spaces, until saved again.
    pub disconnected: bool,
    /// Microsoft accepted the saved credentials (false after "save anyway").
    pub checked: bool,
    pub updated_at: Option<String>,
}

/// The integration's live status, as `GET /events/integration` streams it
/// to every signed-in page (event `integration`, JSON data).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct IntegrationStatus {
    pub active: bool,
    /// Whether "Connect with Microsoft" may be offered: active, set up with
    /// a secret, and not disconnected.
    pub connections_allowed: bool,
    pub disconnected: bool,
}

/// The SSE endpoint and its event name, shared by server and browser.
pub const INTEGRATION_EVENTS_PATH: &str = "/events/integration";
pub const INTEGRATION_EVENT: &str = "integration";

/// The answer to Save Settings.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SaveConfirmation {
    pub message: String,
    pub checked: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditEntryView {
    /// RFC 3339, UTC.
    pub at: String,
    pub actor: String,
    pub action: String,
    pub detail: String,
}

/// The client-secret expiry banner on admin pages.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExpiryBanner {
    pub expires_on: String,
    pub days_left: i64,
    pub expired: bool,
}

impl ExpiryBanner {
    pub fn message(&self) -> String {
        match (self.expired, self.days_left) {
            (true, _) => format!(
                "The Outlook sync client secret expired on {}. Sync stops working until a new secret Value is saved on Admin › Integrations.",
                self.expires_on
            ),
            (false, 0) => "The Outlook sync client secret expires today. Create a new one in Azure and save its Value on Admin › Integrations.".to_owned(),
            (false, days) => format!(
                "The Outlook sync client secret expires on {} (in {days} day{}). Create a new one in Azure and save its Value on Admin › Integrations.",
                self.expires_on,
                if days == 1 { "" } else { "s" }
            ),
        }
    }
}

#[cfg(feature = "ssr")]
mod conversions {
    use super::*;
    use backend::{accounts, integration};

    impl From<accounts::Role> for Role {
        fn from(r: accounts::Role) -> Self {
            match r {
                accounts::Role::Patron => Role::Patron,
                accounts::Role::Staff => Role::Staff,
                accounts::Role::Admin => Role::Admin,
            }
        }
    }

    impl From<Role> for accounts::Role {
        fn from(r: Role) -> Self {
            match r {
                Role::Patron => accounts::Role::Patron,
                Role::Staff => accounts::Role::Staff,
                Role::Admin => accounts::Role::Admin,
            }
        }
    }

    impl From<AccountType> for integration::AccountType {
        fn from(t: AccountType) -> Self {
            match t {
                AccountType::SingleTenant => Self::SingleTenant,
                AccountType::AnyOrganization => Self::AnyOrganization,
                AccountType::OrganizationAndPersonal => Self::OrganizationAndPersonal,
                AccountType::PersonalOnly => Self::PersonalOnly,
            }
        }
    }

    impl From<integration::AccountType> for AccountType {
        fn from(t: integration::AccountType) -> Self {
            match t {
                integration::AccountType::SingleTenant => Self::SingleTenant,
                integration::AccountType::AnyOrganization => Self::AnyOrganization,
                integration::AccountType::OrganizationAndPersonal => Self::OrganizationAndPersonal,
                integration::AccountType::PersonalOnly => Self::PersonalOnly,
            }
        }
    }

    impl From<integration::IntegrationStatus> for IntegrationStatus {
        fn from(s: integration::IntegrationStatus) -> Self {
            IntegrationStatus {
                active: s.active,
                connections_allowed: s.connections_allowed,
                disconnected: s.disconnected,
            }
        }
    }

    impl IntegrationSettingsView {
        pub fn new(s: integration::IntegrationSettings, redirect_url: String) -> Self {
            IntegrationSettingsView {
                redirect_url,
                application_id: s.application_id.clone().unwrap_or_default(),
                account_type: s.account_type.into(),
                tenant_id: s.tenant_id.clone().unwrap_or_default(),
                secret_saved: s.secret_saved(),
                secret_hint: s.secret_hint.clone(),
                secret_expires_on: s.secret_expires_on.map(|d| d.to_string()),
                active: s.active,
                disconnected: s.disconnected_at.is_some(),
                checked: s.checked_at.is_some(),
                updated_at: s.updated_at.map(|t| t.to_rfc3339()),
            }
        }
    }

    impl From<integration::audit::AuditEntry> for AuditEntryView {
        fn from(e: integration::audit::AuditEntry) -> Self {
            AuditEntryView {
                at: e.at.to_rfc3339(),
                actor: e.actor_email,
                action: e.action,
                detail: e.detail,
            }
        }
    }

    impl From<integration::ExpiryNotice> for ExpiryBanner {
        fn from(n: integration::ExpiryNotice) -> Self {
            ExpiryBanner {
                expired: n.expired(),
                expires_on: n.expires_on.to_string(),
                days_left: n.days_left,
            }
        }
    }

    impl From<accounts::User> for UserView {
        fn from(u: accounts::User) -> Self {
            UserView {
                id: u.id,
                email: u.email,
                display_name: u.display_name,
                role: u.role.into(),
            }
        }
    }
}

/// Where "Connect with Microsoft" posts to (a plain route: it answers with
/// a redirect to Microsoft).
pub const OUTLOOK_CONNECT_PATH: &str = "/oauth/microsoft/connect";

/// A staff member's Outlook connection as their sync page shows it. No
/// token ever appears here.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OutlookConnectionView {
    /// "Connect with Microsoft" may be offered.
    pub can_connect: bool,
    /// Why not, when it may not.
    pub unavailable_reason: Option<String>,
    /// The connected Microsoft account's address.
    pub account: Option<String>,
    /// "active", "needs_reauthorization" or "revoked"; `None` if never
    /// connected.
    pub status: Option<String>,
    pub last_error: Option<String>,
    /// RFC 3339.
    pub last_success_at: Option<String>,
    pub pending_jobs: u64,
    pub failed_jobs: u64,
}
