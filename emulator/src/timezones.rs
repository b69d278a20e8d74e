//! Time zones as Graph accepts them in `dateTimeTimeZone.timeZone` and in
//! `Prefer: outlook.timezone`: "UTC", IANA names, and Windows names.
//! Windows names are mapped through the table below (from CLDR's
//! windowsZones.xml, "001" territory); anything else is refused the way
//! Graph refuses it (400 TimeZoneNotSupportedException).

use chrono::{DateTime, LocalResult, NaiveDateTime, TimeZone, Utc};
use chrono_tz::Tz;

/// Windows zone id → IANA zone (CLDR windowsZones.xml, territory 001).
const WINDOWS: &[(&str, &str)] = &[
    ("UTC", "Etc/UTC"),
    ("GMT Standard Time", "Europe/London"),
    ("Greenwich Standard Time", "Atlantic/Reykjavik"),
    ("W. Europe Standard Time", "Europe/Berlin"),
    ("Romance Standard Time", "Europe/Paris"),
    ("Central Europe Standard Time", "Europe/Budapest"),
    ("Central European Standard Time", "Europe/Warsaw"),
    ("E. Europe Standard Time", "Europe/Chisinau"),
    ("FLE Standard Time", "Europe/Kiev"),
    ("GTB Standard Time", "Europe/Bucharest"),
    ("Russian Standard Time", "Europe/Moscow"),
    ("Eastern Standard Time", "America/New_York"),
    ("Central Standard Time", "America/Chicago"),
    ("Mountain Standard Time", "America/Denver"),
    ("US Mountain Standard Time", "America/Phoenix"),
    ("Pacific Standard Time", "America/Los_Angeles"),
    ("Alaskan Standard Time", "America/Anchorage"),
    ("Hawaiian Standard Time", "Pacific/Honolulu"),
    ("Atlantic Standard Time", "America/Halifax"),
    ("E. South America Standard Time", "America/Sao_Paulo"),
    ("India Standard Time", "Asia/Calcutta"),
    ("China Standard Time", "Asia/Shanghai"),
    ("Tokyo Standard Time", "Asia/Tokyo"),
    ("Korea Standard Time", "Asia/Seoul"),
    ("Singapore Standard Time", "Asia/Singapore"),
    ("Arabian Standard Time", "Asia/Dubai"),
    ("South Africa Standard Time", "Africa/Johannesburg"),
    ("AUS Eastern Standard Time", "Australia/Sydney"),
    ("E. Australia Standard Time", "Australia/Brisbane"),
    ("W. Australia Standard Time", "Australia/Perth"),
    ("New Zealand Standard Time", "Pacific/Auckland"),
];

/// The zone a Graph time zone name stands for.
pub fn resolve(name: &str) -> Option<Tz> {
    let name = name.trim();
    if name.eq_ignore_ascii_case("utc") || name.is_empty() {
        return Some(Tz::UTC);
    }
    if let Some((_, iana)) = WINDOWS.iter().find(|(w, _)| w.eq_ignore_ascii_case(name)) {
        return iana.parse().ok();
    }
    name.parse().ok()
}

/// Parse Graph's `dateTime` (ISO 8601, usually without offset, up to 7
/// fractional digits) in `zone`. An explicit offset in the string wins.
pub fn to_utc(date_time: &str, zone: &str) -> Result<DateTime<Utc>, String> {
    let tz = resolve(zone).ok_or_else(|| unsupported(zone))?;
    if let Ok(dt) = DateTime::parse_from_rfc3339(date_time) {
        return Ok(dt.with_timezone(&Utc));
    }
    let naive = parse_naive(date_time).ok_or_else(|| {
        format!("Cannot convert the literal '{date_time}' to the expected type 'Edm.DateTime'.")
    })?;
    match tz.from_local_datetime(&naive) {
        LocalResult::Single(t) => Ok(t.with_timezone(&Utc)),
        LocalResult::Ambiguous(a, _) => Ok(a.with_timezone(&Utc)),
        // A time in a spring-forward gap: Exchange moves it forward an hour.
        LocalResult::None => tz
            .from_local_datetime(&(naive + chrono::Duration::hours(1)))
            .earliest()
            .map(|t| t.with_timezone(&Utc))
            .ok_or_else(|| unsupported(zone)),
    }
}

pub fn parse_naive(s: &str) -> Option<NaiveDateTime> {
    let s = s.trim().trim_end_matches('Z');
    NaiveDateTime::parse_from_str(s, "%Y-%m-%dT%H:%M:%S%.f")
        .or_else(|_| NaiveDateTime::parse_from_str(s, "%Y-%m-%dT%H:%M"))
        .or_else(|_| {
            chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d")
                .map(|d| d.and_time(chrono::NaiveTime::MIN))
        })
        .ok()
}

/// Graph's rendering: `2024-05-01T10:00:00.0000000` in the given zone.
pub fn format_in(t: DateTime<Utc>, zone: &str) -> String {
    let tz = resolve(zone).unwrap_or(Tz::UTC);
    seven_digits(&t.with_timezone(&tz).naive_local())
}

/// `2024-05-01T10:00:00.1234567`: Graph's 7 fractional digits (chrono's
/// `%.7f` does not exist).
pub fn seven_digits(t: &NaiveDateTime) -> String {
    use chrono::Timelike;
    format!(
        "{}.{:07}",
        t.format("%Y-%m-%dT%H:%M:%S"),
        t.nanosecond() % 1_000_000_000 / 100
    )
}

pub fn unsupported(zone: &str) -> String {
    format!(
        "A valid TimeZone value must be specified. The following TimeZone value is not supported: '{zone}'."
    )
}
