//! Expansion of recurring series into occurrences, for calendarView.
//! Microsoft Graph: "patternedRecurrence resource type",
//! "recurrencePattern" (daily, weekly, absoluteMonthly, absoluteYearly)
//! and "recurrenceRange" (endDate, numbered, noEnd). Occurrences keep the
//! series' local wall-clock time across DST changes.

use chrono::{DateTime, Datelike, NaiveDate, TimeZone, Utc, Weekday};
use serde_json::Value;

use crate::timezones;

/// Upper bound on generated dates, so `noEnd` series stay finite.
const MAX_STEPS: usize = 20_000;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Occurrence {
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
}

fn weekday(s: &str) -> Option<Weekday> {
    Some(match s.to_ascii_lowercase().as_str() {
        "sunday" => Weekday::Sun,
        "monday" => Weekday::Mon,
        "tuesday" => Weekday::Tue,
        "wednesday" => Weekday::Wed,
        "thursday" => Weekday::Thu,
        "friday" => Weekday::Fri,
        "saturday" => Weekday::Sat,
        _ => return None,
    })
}

/// Occurrences of a series (first at `start`..`end` in zone `zone`) that
/// overlap `[from, to)`.
pub fn expand(
    start: DateTime<Utc>,
    end: DateTime<Utc>,
    zone: &str,
    recurrence: &Value,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> Vec<Occurrence> {
    let pattern = &recurrence["pattern"];
    let range = &recurrence["range"];
    let zone = range["recurrenceTimeZone"].as_str().unwrap_or(zone);
    let tz = timezones::resolve(zone).unwrap_or(chrono_tz::Tz::UTC);
    let local_start = start.with_timezone(&tz).naive_local();
    let duration = end - start;
    let first = range["startDate"]
        .as_str()
        .and_then(|d| NaiveDate::parse_from_str(d, "%Y-%m-%d").ok())
        .unwrap_or(local_start.date());
    let last = match range["type"].as_str() {
        Some("endDate") => range["endDate"]
            .as_str()
            .and_then(|d| NaiveDate::parse_from_str(d, "%Y-%m-%d").ok()),
        _ => None,
    };
    let count = match range["type"].as_str() {
        Some("numbered") => range["numberOfOccurrences"].as_u64().map(|n| n as usize),
        _ => None,
    };
    let interval = pattern["interval"].as_u64().unwrap_or(1).max(1) as i64;
    let days: Vec<Weekday> = pattern["daysOfWeek"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|d| d.as_str().and_then(weekday))
                .collect()
        })
        .unwrap_or_default();
    let kind = pattern["type"].as_str().unwrap_or("daily");
    let matches = |d: NaiveDate| -> bool {
        let since = (d - first).num_days();
        match kind {
            "daily" => since % interval == 0,
            "weekly" => {
                let week0 =
                    first - chrono::Duration::days(first.weekday().num_days_from_sunday() as i64);
                let week = (d - week0).num_days() / 7;
                week % interval == 0
                    && (days.contains(&d.weekday())
                        || (days.is_empty() && d.weekday() == first.weekday()))
            }
            "absoluteMonthly" => {
                let dom = pattern["dayOfMonth"].as_u64().unwrap_or(first.day() as u64) as u32;
                let months =
                    (d.year() - first.year()) as i64 * 12 + d.month() as i64 - first.month() as i64;
                d.day() == dom && months % interval == 0
            }
            "absoluteYearly" => {
                let dom = pattern["dayOfMonth"].as_u64().unwrap_or(first.day() as u64) as u32;
                let month = pattern["month"].as_u64().unwrap_or(first.month() as u64) as u32;
                d.day() == dom
                    && d.month() == month
                    && ((d.year() - first.year()) as i64) % interval == 0
            }
            _ => false,
        }
    };
    let horizon = to.with_timezone(&tz).date_naive() + chrono::Duration::days(1);
    let mut out = Vec::new();
    let mut seen = 0usize;
    let mut d = first;
    for _ in 0..MAX_STEPS {
        if d > horizon || last.is_some_and(|l| d > l) || count.is_some_and(|c| seen >= c) {
            break;
        }
        if matches(d) {
            seen += 1;
            if let Some(s) = tz
                .from_local_datetime(&d.and_time(local_start.time()))
                .earliest()
            {
                let s = s.with_timezone(&Utc);
                let e = s + duration;
                if s < to && e > from {
                    out.push(Occurrence { start: s, end: e });
                }
            }
        }
        d = d.succ_opt().unwrap_or(d);
    }
    out
}
