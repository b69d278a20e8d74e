//! The secret-expiry banner on admin pages: from 30 days before the date
//! the admin entered, and "expired" after it.

use chrono::NaiveDate;

pub const WARN_DAYS: i64 = 30;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExpiryNotice {
    pub expires_on: NaiveDate,
    /// Negative once expired.
    pub days_left: i64,
}

impl ExpiryNotice {
    pub fn expired(&self) -> bool {
        self.days_left < 0
    }
}

/// `None` when nothing needs saying yet (or no date was given). The
/// secret works through its expiry day, so "expired" starts the day after.
pub fn expiry_notice(expires_on: Option<NaiveDate>, today: NaiveDate) -> Option<ExpiryNotice> {
    let expires_on = expires_on?;
    let days_left = (expires_on - today).num_days();
    (days_left <= WARN_DAYS).then_some(ExpiryNotice {
        expires_on,
        days_left,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    #[test]
    fn warns_from_thirty_days_before_and_says_expired_after() {
        let exp = Some(d("2027-03-31"));
        assert_eq!(expiry_notice(exp, d("2027-02-28")), None);
        let n = expiry_notice(exp, d("2027-03-01")).unwrap();
        assert_eq!(n.days_left, 30);
        assert!(!n.expired());
        assert!(!expiry_notice(exp, d("2027-03-31")).unwrap().expired());
        assert!(expiry_notice(exp, d("2027-04-01")).unwrap().expired());
        assert_eq!(expiry_notice(None, d("2027-04-01")), None);
    }
}
