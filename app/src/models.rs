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
/// (event `integration`, JSON data) to the Integrations page's island.
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

/// Weekday names, Monday first (the backend's 0 = Monday … 6 = Sunday).
pub const WEEKDAYS: [&str; 7] = [
    "Monday",
    "Tuesday",
    "Wednesday",
    "Thursday",
    "Friday",
    "Saturday",
    "Sunday",
];

/// One opening period of a space, local wall-clock minutes from midnight.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct HoursView {
    pub weekday: u8,
    pub opens: u32,
    pub closes: u32,
}

/// `HH:MM` for minutes from midnight (1440 is `24:00`).
pub fn clock(minutes: u32) -> String {
    format!("{:02}:{:02}", minutes / 60, minutes % 60)
}

/// The admin form's text for one weekday's periods, e.g.
/// `09:00-12:00, 13:00-17:00`; empty when closed.
pub fn hours_text(hours: &[HoursView], weekday: u8) -> String {
    hours
        .iter()
        .filter(|h| h.weekday == weekday)
        .map(|h| format!("{}-{}", clock(h.opens), clock(h.closes)))
        .collect::<Vec<_>>()
        .join(", ")
}

/// A space as pages show it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SpaceView {
    pub id: i64,
    pub name: String,
    pub location: String,
    pub capacity: i32,
    /// IANA name.
    pub time_zone: String,
    pub slot_minutes: u32,
    pub booking_window_days: u32,
    pub retired: bool,
    pub hours: Vec<HoursView>,
}

/// Day or week grid on a space's page (`?view=day|week`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum GridView {
    Day,
    Week,
}

impl GridView {
    pub fn from_query(s: Option<&str>) -> Self {
        match s {
            Some("week") => GridView::Week,
            _ => GridView::Day,
        }
    }

    pub fn value(self) -> &'static str {
        match self {
            GridView::Day => "day",
            GridView::Week => "week",
        }
    }
}

/// One slot of the grid: free or unavailable, never who holds it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GridSlot {
    /// RFC 3339, UTC: the value the booking form posts.
    pub starts_at: String,
    /// Local `HH:MM` in the space's zone.
    pub starts: String,
    pub ends: String,
    /// Bookable now: not taken, not past, within the booking window.
    pub free: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GridDay {
    /// `YYYY-MM-DD`, local to the space.
    pub date: String,
    /// e.g. `Mon 30 Nov`.
    pub label: String,
    pub slots: Vec<GridSlot>,
}

/// What a space's page shows for a day or a week.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SpaceGrid {
    pub space: SpaceView,
    pub view: GridView,
    /// The date asked for (`YYYY-MM-DD`).
    pub date: String,
    pub previous: String,
    pub next: String,
    /// Today in the space's zone.
    pub today: String,
    pub days: Vec<GridDay>,
}

/// How many adjacent slots the booking form offers at most.
pub const MAX_SLOTS_OFFERED: u32 = 8;

/// A space booking as its patron, or staff, see it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BookingView {
    pub id: i64,
    pub space_id: i64,
    pub space_name: String,
    /// e.g. `Tue 1 Dec 2026, 09:00–10:00 (Europe/London)`.
    pub when: String,
    pub starts_at: String,
    pub patron_name: String,
    pub patron_email: String,
    pub active: bool,
}

/// One outbox record on the admin's outbox page.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OutboxRecordView {
    pub id: i64,
    pub kind: String,
    /// The booking (or appointment) the record is about.
    pub aggregate_id: i64,
    pub status: String,
    pub attempts: i32,
    /// RFC 3339, UTC.
    pub run_after: String,
    pub last_error: Option<String>,
    pub created_at: String,
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

/// A secret typed into a form (the client secret, a legacy password) on
/// its one trip from the browser to the server. It is never sent back; its
/// `Debug` is redacted so that a trace of a server fn's arguments (the
/// generated argument structs derive `Debug`) cannot leak it.
#[derive(Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct SecretInput(String);

impl SecretInput {
    /// The value exactly as typed (a password may begin or end with a
    /// space), or `None` when the field was left empty.
    pub fn into_exact(self) -> Option<String> {
        (!self.0.is_empty()).then_some(self.0)
    }

    /// The typed value without surrounding blanks (a pasted client secret
    /// often carries some), or `None` when nothing but blanks was typed.
    pub fn into_non_empty(self) -> Option<String> {
        let trimmed = self.0.trim();
        (!trimmed.is_empty()).then(|| trimmed.to_owned())
    }
}

impl From<String> for SecretInput {
    fn from(value: String) -> Self {
        Self(value)
    }
}

impl std::fmt::Debug for SecretInput {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(if self.0.is_empty() {
            "SecretInput(empty)"
        } else {
            "SecretInput([redacted])"
        })
    }
}

#[cfg(test)]
mod secret_input_tests {
    use super::SecretInput;

    #[test]
    fn debug_never_shows_the_value() {
        let typed = SecretInput::from("kP8Q~not-for-logs".to_owned());
        let shown = format!("{typed:?}");
        assert!(!shown.contains("kP8Q"), "{shown}");
        assert_eq!(typed.into_non_empty().as_deref(), Some("kP8Q~not-for-logs"));
    }

    #[test]
    fn blank_means_keep_the_saved_one() {
        assert_eq!(SecretInput::from("   ".to_owned()).into_non_empty(), None);
    }
}

/// Weekday names for the appointment pages, Monday first (the backend's
/// 0 = Monday … 6 = Sunday).
pub const APPOINTMENT_WEEKDAYS: [&str; 7] = [
    "Monday",
    "Tuesday",
    "Wednesday",
    "Thursday",
    "Friday",
    "Saturday",
    "Sunday",
];

/// A staff member patrons can book.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StaffOfferingView {
    pub user_id: i64,
    pub name: String,
    pub appointment_minutes: u32,
    /// "In person at …" or "Online".
    pub location: String,
    /// IANA name.
    pub time_zone: String,
}

/// One open appointment time.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OpenSlotView {
    /// RFC 3339, UTC: the value the booking form posts.
    pub starts_at: String,
    /// Local `HH:MM` in the staff member's zone.
    pub starts: String,
    pub ends: String,
}

/// A staff member's open times on one local date, with day navigation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AppointmentDay {
    pub staff: StaffOfferingView,
    /// `YYYY-MM-DD`, and the neighbouring dates for the links.
    pub date: String,
    pub label: String,
    pub previous: String,
    pub next: String,
    pub today: String,
    pub slots: Vec<OpenSlotView>,
}

/// An appointment as patrons and staff see it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AppointmentView {
    pub id: i64,
    pub staff_id: i64,
    pub staff_name: String,
    /// e.g. "Wed 2 Dec 2026, 10:00–10:30 (Europe/London)".
    pub when: String,
    /// RFC 3339, UTC.
    pub starts_at: String,
    /// Local `YYYY-MM-DDTHH:MM` in the staff member's zone (the
    /// reschedule form's starting value).
    pub local_start: String,
    pub patron_name: String,
    pub patron_email: String,
    pub question: String,
    pub location: String,
    pub active: bool,
}

/// A day off on the staff settings page.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DayOffView {
    /// `YYYY-MM-DD`.
    pub day: String,
    pub note: String,
}

/// A staff member's own appointment settings.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StaffSettingsView {
    pub appointments_enabled: bool,
    pub appointment_minutes: u32,
    /// "in_person" or "online".
    pub location_kind: String,
    pub location: String,
    pub time_zone: String,
    pub booking_window_days: u32,
    /// Per weekday (Monday first) the periods as text, e.g.
    /// `09:00-12:00, 13:00-17:00`; empty when not available.
    pub hours: Vec<String>,
    pub days_off: Vec<DayOffView>,
}

/// A staff or admin account on Admin › Staff.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StaffAccountView {
    pub user_id: i64,
    pub name: String,
    pub email: String,
    pub role: Role,
    pub appointments_enabled: bool,
}

/// Legacy Exchange (password authentication) settings of a staff member
/// or a space, without the password.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LegacyExchangeView {
    /// "staff" or "space".
    pub owner_kind: String,
    pub owner_id: i64,
    /// The staff member's or space's name.
    pub owner_name: String,
    /// `None` when there are no legacy settings.
    pub settings: Option<LegacySettingsView>,
    /// Whether the viewer may enter, replace or clear them (admins).
    pub editable: bool,
    /// Why these settings are legacy.
    pub note: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LegacySettingsView {
    pub server_url: String,
    pub account: String,
    pub password_saved: bool,
    pub updated_at: String,
}

/// `HH:MM` periods of one weekday as the staff form shows them.
pub fn periods_text(periods: &[(u32, u32)]) -> String {
    periods
        .iter()
        .map(|(o, c)| format!("{:02}:{:02}-{:02}:{:02}", o / 60, o % 60, c / 60, c % 60))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Parses `09:00-12:00, 13:00-17:00` into minutes from midnight; empty
/// text is no periods. `24:00` is the end of the day.
pub fn parse_periods(text: &str) -> Result<Vec<(u32, u32)>, String> {
    let minute = |t: &str| -> Option<u32> {
        let (h, m) = t.trim().split_once(':')?;
        let (h, m): (u32, u32) = (h.parse().ok()?, m.parse().ok()?);
        (m < 60 && (h < 24 || (h == 24 && m == 0))).then_some(h * 60 + m)
    };
    text.split([',', ';'])
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .map(|p| {
            p.split_once(['-', '–'])
                .and_then(|(a, b)| Some((minute(a)?, minute(b)?)))
                .ok_or_else(|| format!("{p:?} is not a period like 09:00-12:00"))
        })
        .collect()
}

#[cfg(test)]
mod appointment_tests {
    use super::*;

    #[test]
    fn periods_round_trip_and_bad_text_is_named() {
        let parsed = parse_periods(" 09:00-12:00, 13:30–24:00 ").unwrap();
        assert_eq!(parsed, [(540, 720), (810, 1440)]);
        assert_eq!(periods_text(&parsed), "09:00-12:00, 13:30-24:00");
        assert_eq!(parse_periods("").unwrap(), []);
        assert!(parse_periods("9-12").unwrap_err().contains("\"9-12\""));
        assert!(parse_periods("09:00-25:00").is_err());
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

/// Where "Authorize with Microsoft" for a space posts to (a plain route:
/// it answers with a redirect to Microsoft). Form field: `space_id`.
pub const ROOM_CONNECT_PATH: &str = "/oauth/microsoft/connect-room";

/// A space's room connection as its sync settings show it. No token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RoomConnectionView {
    pub space_id: i64,
    /// "Authorize with Microsoft" may be offered.
    pub can_authorize: bool,
    /// Why not, when it may not.
    pub unavailable_reason: Option<String>,
    /// The authorized Microsoft account (a delegate of the room).
    pub account: Option<String>,
    /// "active", "needs_reauthorization" or "revoked"; `None` if never
    /// authorized.
    pub status: Option<String>,
    pub room_address: Option<String>,
    pub room_name: Option<String>,
    pub last_error: Option<String>,
    /// RFC 3339.
    pub last_success_at: Option<String>,
    pub last_polled_at: Option<String>,
    pub pending_jobs: u64,
}

/// A room in the picker.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RoomChoice {
    pub address: String,
    pub name: String,
    pub capacity: Option<i64>,
}

/// Live sync status streams (server-sent events), shared by server and
/// browser. Each sends [`SYNC_STATUS_EVENT`] events whose data is a
/// [`SyncStatusView`] as JSON.
pub const SYNC_STATUS_EVENT: &str = "sync-status";
/// A staff member's own appointment sync.
pub const MY_SYNC_EVENTS_PATH: &str = "/events/staff/sync";
/// Every space and staff connection (admins): the dashboard.
pub const ALL_SYNC_EVENTS_PATH: &str = "/events/sync";

/// One space's stream: anyone who may see the space's page.
pub fn space_sync_events_path(space_id: i64) -> String {
    format!("/events/spaces/{space_id}/sync")
}

/// Where a space's or staff member's calendar sync stands. Patrons and
/// visitors get the state only; admins (and staff, for their own) the
/// detail. No token, ever.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SyncStatusView {
    /// "space" or "staff".
    pub subject_kind: String,
    pub subject_id: i64,
    /// The space's or staff member's name (dashboard rows).
    pub name: Option<String>,
    /// "active", "syncing", "needs_reauthorization", "error", "revoked",
    /// "disabled", "legacy_password" or "not_connected".
    pub state: String,
    /// The state in words, for the badge.
    pub label: String,
    /// Needs a person (the dashboard's filter).
    pub in_trouble: bool,
    /// "Resync now" applies (connected, not paused).
    pub can_resync: bool,
    pub detail: Option<SyncStatusDetail>,
}

/// What only those who may act on a sync see.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SyncStatusDetail {
    pub account: Option<String>,
    pub room: Option<String>,
    /// RFC 3339, UTC.
    pub last_success_at: Option<String>,
    pub pending: u64,
    pub failed: u64,
    pub last_error: Option<String>,
    /// RFC 3339, UTC.
    pub next_retry_at: Option<String>,
    /// RFC 3339, UTC.
    pub subscription_expires_at: Option<String>,
    /// A first sync (or resync) under way: (done, total).
    pub progress: Option<(u64, u64)>,
    /// Bookings and room events that took the same time, in words.
    pub conflicts: Vec<String>,
}

impl SyncStatusView {
    /// The dashboard's "Resync now" form fields.
    pub fn is_space(&self) -> bool {
        self.subject_kind == "space"
    }
}

/// What a plain form post did, carried back to its page in the URL
/// (`?done=…`, see `api::guard::back_with`): a form outside an island,
/// or any form without JavaScript, has no other way to hear a server
/// function's answer through the redirect. The page shows a fixed
/// message per outcome, so nothing typed into a URL is shown as ours.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Done {
    OutlookDisconnected,
    OutlookWasNotConnected,
    RoomConnected,
    RoomRevoked,
    RoomWasNotAuthorized,
    StaffSettingsSaved,
    JobRetried,
}

impl Done {
    pub const ALL: [Done; 7] = [
        Done::OutlookDisconnected,
        Done::OutlookWasNotConnected,
        Done::RoomConnected,
        Done::RoomRevoked,
        Done::RoomWasNotAuthorized,
        Done::StaffSettingsSaved,
        Done::JobRetried,
    ];

    /// The value of `done` in the URL.
    pub fn key(self) -> &'static str {
        match self {
            Done::OutlookDisconnected => "outlook-disconnected",
            Done::OutlookWasNotConnected => "outlook-not-connected",
            Done::RoomConnected => "room-connected",
            Done::RoomRevoked => "room-revoked",
            Done::RoomWasNotAuthorized => "room-not-authorized",
            Done::StaffSettingsSaved => "settings-saved",
            Done::JobRetried => "job-retried",
        }
    }

    pub fn from_key(key: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|d| d.key() == key)
    }

    pub fn message(self) -> &'static str {
        match self {
            Done::OutlookDisconnected => {
                "Disconnected. Calbridge no longer writes to your Outlook calendar; events already there stay."
            }
            Done::OutlookWasNotConnected => "No Outlook calendar was connected.",
            Done::RoomConnected => {
                "Room connected. Bookings are written to the room; its Outlook events make the space unavailable."
            }
            Done::RoomRevoked => {
                "Authorization revoked. Calbridge no longer syncs this space with its room; events already on the room stay."
            }
            Done::RoomWasNotAuthorized => "This space had no room authorization.",
            Done::StaffSettingsSaved => "Settings saved.",
            Done::JobRetried => "The job is queued again.",
        }
    }
}

#[cfg(test)]
mod done_tests {
    use super::Done;

    #[test]
    fn every_outcome_reads_back_from_its_key_and_no_other() {
        for done in Done::ALL {
            assert_eq!(Done::from_key(done.key()), Some(done));
        }
        assert_eq!(Done::from_key("Settings saved."), None);
        assert_eq!(Done::from_key(""), None);
    }
}
