//! Shape checks on what the admin typed, before anything is sent to
//! Microsoft. The browser runs the same GUID rule as the admin types.

/// `xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx`, hex digits, any case.
pub fn is_guid(s: &str) -> bool {
    let groups: Vec<&str> = s.split('-').collect();
    groups.len() == 5
        && groups
            .iter()
            .zip([8, 4, 4, 4, 12])
            .all(|(g, len)| g.len() == len && g.chars().all(|c| c.is_ascii_hexdigit()))
}

/// A Directory (tenant) ID or a verified domain such as
/// `contoso.onmicrosoft.com`.
pub fn is_tenant(s: &str) -> bool {
    is_guid(s) || is_domain(s)
}

fn is_domain(s: &str) -> bool {
    let labels: Vec<&str> = s.split('.').collect();
    s.len() <= 253
        && labels.len() >= 2
        && labels.iter().all(|l| {
            !l.is_empty()
                && l.len() <= 63
                && !l.starts_with('-')
                && !l.ends_with('-')
                && l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
        })
        && labels
            .last()
            .is_some_and(|tld| tld.chars().all(|c| c.is_ascii_alphabetic()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn guids() {
        assert!(is_guid("6f1d3c2a-8b4e-4f7a-9c1d-2e3f4a5b6c7d"));
        assert!(is_guid("6F1D3C2A-8B4E-4F7A-9C1D-2E3F4A5B6C7D"));
        assert!(!is_guid("6f1d3c2a8b4e4f7a9c1d2e3f4a5b6c7d"));
        assert!(!is_guid("6f1d3c2a-8b4e-4f7a-9c1d-2e3f4a5b6c7g"));
        assert!(!is_guid(""));
    }

    #[test]
    fn tenants() {
        assert!(is_tenant("contoso-library.onmicrosoft.com"));
        assert!(is_tenant("6f1d3c2a-8b4e-4f7a-9c1d-2e3f4a5b6c7d"));
        assert!(!is_tenant("common/../x"));
        assert!(!is_tenant("localhost"));
        assert!(!is_tenant("a..b.com"));
    }
}
