//! Azure's "Supported account types" and the authority each one signs in at.

use crate::microsoft::Authority;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AccountType {
    /// Accounts in this organizational directory only (single tenant).
    SingleTenant,
    /// Accounts in any organizational directory (multitenant).
    AnyOrganization,
    /// Any organizational directory and personal Microsoft accounts.
    OrganizationAndPersonal,
    /// Personal Microsoft accounts only.
    PersonalOnly,
}

impl AccountType {
    pub const ALL: [AccountType; 4] = [
        AccountType::SingleTenant,
        AccountType::AnyOrganization,
        AccountType::OrganizationAndPersonal,
        AccountType::PersonalOnly,
    ];

    /// The stored (and wire) name.
    pub fn as_str(self) -> &'static str {
        match self {
            AccountType::SingleTenant => "single_tenant",
            AccountType::AnyOrganization => "any_organization",
            AccountType::OrganizationAndPersonal => "organization_and_personal",
            AccountType::PersonalOnly => "personal_only",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|t| t.as_str() == s)
    }

    pub fn needs_tenant(self) -> bool {
        self == AccountType::SingleTenant
    }

    /// Single tenant → `/{tenant}`; any organization → `/organizations`;
    /// organizations and personal → `/common`; personal → `/consumers`.
    pub fn authority(self, tenant: Option<&str>) -> Authority {
        match self {
            AccountType::SingleTenant => Authority::Tenant(tenant.unwrap_or_default().to_owned()),
            AccountType::AnyOrganization => Authority::Organizations,
            AccountType::OrganizationAndPersonal => Authority::Common,
            AccountType::PersonalOnly => Authority::Consumers,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_account_type_has_its_authority() {
        let tenant = "6f1d3c2a-8b4e-4f7a-9c1d-2e3f4a5b6c7d";
        assert_eq!(
            AccountType::SingleTenant.authority(Some(tenant)).segment(),
            tenant
        );
        assert_eq!(
            AccountType::AnyOrganization.authority(None).segment(),
            "organizations"
        );
        assert_eq!(
            AccountType::OrganizationAndPersonal
                .authority(None)
                .segment(),
            "common"
        );
        assert_eq!(
            AccountType::PersonalOnly.authority(None).segment(),
            "consumers"
        );
    }

    #[test]
    fn names_round_trip() {
        for t in AccountType::ALL {
            assert_eq!(AccountType::parse(t.as_str()), Some(t));
        }
        assert_eq!(AccountType::parse("other"), None);
        assert!(AccountType::SingleTenant.needs_tenant());
        assert!(!AccountType::AnyOrganization.needs_tenant());
    }
}
