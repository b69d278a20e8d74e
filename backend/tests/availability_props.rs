//! Property tests of the slot arithmetic over random zones, dates (many on
//! daylight-saving transitions), opening hours and slot lengths.

use backend::availability::{self, Hours, Slot};
use chrono::{DateTime, Datelike, NaiveDate, NaiveTime, TimeDelta, TimeZone, Utc};
use chrono_tz::Tz;
use proptest::prelude::*;

/// Zones with and without daylight saving, including a 30-minute shift
/// (Lord Howe), southern-hemisphere rules and a midnight transition (Santiago).
const ZONES: [&str; 10] = [
    "UTC",
    "Europe/London",
    "Europe/Amsterdam",
    "America/New_York",
    "America/Santiago",
    "Australia/Sydney",
    "Australia/Lord_Howe",
    "Asia/Kolkata",
    "Pacific/Auckland",
    "America/St_Johns",
];

/// Local dates on which some zone above changes its clocks, plus ordinary ones.
const DATES: [(i32, u32, u32); 12] = [
    (2026, 3, 8),
    (2026, 3, 29),
    (2026, 4, 5),
    (2026, 4, 4),
    (2026, 9, 6),
    (2026, 9, 27),
    (2026, 10, 4),
    (2026, 10, 25),
    (2026, 11, 1),
    (2027, 3, 28),
    (2026, 6, 15),
    (2026, 12, 2),
];

fn zone() -> impl Strategy<Value = Tz> {
    prop::sample::select(ZONES.to_vec()).prop_map(|z| z.parse().unwrap())
}

fn date() -> impl Strategy<Value = NaiveDate> {
    prop_oneof![
        prop::sample::select(DATES.to_vec())
            .prop_map(|(y, m, d)| NaiveDate::from_ymd_opt(y, m, d).unwrap()),
        (0i64..800).prop_map(|n| NaiveDate::from_ymd_opt(2026, 1, 1).unwrap() + TimeDelta::days(n)),
    ]
}

/// One to three non-overlapping periods on the date's weekday (and noise
/// on another weekday), in 15-minute steps.
fn hours(weekday: u8) -> impl Strategy<Value = Vec<Hours>> {
    prop::collection::vec((0u32..96, 1u32..40), 1..4).prop_map(move |spans| {
        let mut out = Vec::new();
        let mut at = 0;
        for (gap, len) in spans {
            let opens = (at + gap * 15).min(1440);
            let closes = (opens + len * 15).min(1440);
            if opens < closes {
                out.push(Hours {
                    weekday,
                    opens,
                    closes,
                });
            }
            at = closes;
        }
        out.push(Hours {
            weekday: (weekday + 1) % 7,
            opens: 0,
            closes: 1440,
        });
        out
    })
}

fn case() -> impl Strategy<Value = (Tz, NaiveDate, Vec<Hours>, u32)> {
    (
        zone(),
        date(),
        prop::sample::select(vec![15u32, 20, 30, 45, 60, 90, 120, 240]),
    )
        .prop_flat_map(|(tz, date, minutes)| {
            let weekday = date.weekday().num_days_from_monday() as u8;
            (Just(tz), Just(date), hours(weekday), Just(minutes))
        })
}

fn local_minute(tz: Tz, date: NaiveDate, at: DateTime<Utc>) -> Option<u32> {
    let local = at.with_timezone(&tz).naive_local();
    (local.date() == date).then(|| {
        let t = local.time() - NaiveTime::MIN;
        t.num_minutes() as u32
    })
}

fn naive_mark(slots: &[Slot], taken: &[(DateTime<Utc>, DateTime<Utc>)]) -> Vec<bool> {
    slots
        .iter()
        .map(|s| {
            !taken
                .iter()
                .any(|(a, b)| s.starts_at < *b && *a < s.ends_at)
        })
        .collect()
}

proptest! {
    // Failures print their minimal input; no regression files are written.
    #![proptest_config(ProptestConfig { cases: 2000, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn slots_are_ordered_disjoint_whole_and_inside_hours((tz, date, hours, minutes) in case()) {
        let slots = availability::day_slots(tz, &hours, minutes, date);
        for pair in slots.windows(2) {
            prop_assert!(pair[0].ends_at <= pair[1].starts_at, "overlap: {pair:?}");
        }
        for s in &slots {
            // Every slot lasts exactly the slot length of real time.
            prop_assert_eq!(s.ends_at - s.starts_at, TimeDelta::minutes(i64::from(minutes)));
            // It starts on the date, at opening + k × length of a period,
            // with room for a whole slot before that period closes.
            let m = local_minute(tz, date, s.starts_at);
            prop_assert!(m.is_some(), "{s:?} starts on another date");
            let m = m.unwrap();
            let period = hours.iter().find(|h| {
                h.weekday == date.weekday().num_days_from_monday() as u8
                    && h.opens <= m
                    && m + minutes <= h.closes
                    && (m - h.opens).is_multiple_of(minutes)
            });
            prop_assert!(period.is_some(), "{s:?} (local minute {m}) is outside the hours");
            // And it ends by the period's closing instant.
            let close = date.and_time(NaiveTime::MIN)
                + TimeDelta::minutes(i64::from(period.unwrap().closes));
            let closing = (0..=360)
                .find_map(|k| tz.from_local_datetime(&(close + TimeDelta::minutes(k))).earliest())
                .unwrap()
                .to_utc();
            prop_assert!(s.ends_at <= closing, "{s:?} ends after closing {closing}");
        }
    }

    /// Away from a clock change nothing is lost: a start time that exists
    /// once, in a slot with no clock change inside, is always offered.
    #[test]
    fn no_slot_is_lost_away_from_clock_changes((tz, date, hours, minutes) in case()) {
        let slots = availability::day_slots(tz, &hours, minutes, date);
        let midnight = date.and_time(NaiveTime::MIN);
        let weekday = date.weekday().num_days_from_monday() as u8;
        for h in hours.iter().filter(|h| h.weekday == weekday) {
            let mut m = h.opens;
            while m + minutes <= h.closes {
                let local = midnight + TimeDelta::minutes(i64::from(m));
                if let chrono::LocalResult::Single(start) = tz.from_local_datetime(&local) {
                    let end = start.to_utc() + TimeDelta::minutes(i64::from(minutes));
                    let end_local = end.with_timezone(&tz).naive_local();
                    if end_local == local + TimeDelta::minutes(i64::from(minutes)) {
                        prop_assert!(
                            slots.iter().any(|s| s.starts_at == start.to_utc()),
                            "missing slot at local {local}"
                        );
                    }
                }
                m += minutes;
            }
        }
    }

    /// A start time skipped by a clock change never has a slot.
    #[test]
    fn skipped_local_times_have_no_slot((tz, date, hours, minutes) in case()) {
        for s in availability::day_slots(tz, &hours, minutes, date) {
            let local = s.starts_at.with_timezone(&tz).naive_local();
            prop_assert_eq!(
                tz.from_local_datetime(&local).earliest().map(|t| t.to_utc()),
                Some(s.starts_at)
            );
        }
    }

    /// Marking taken time agrees exactly with checking every pair.
    #[test]
    fn taken_marking_is_exact(
        (tz, date, hours, minutes) in case(),
        taken in prop::collection::vec((-120i64..1800, 0i64..300), 0..40),
    ) {
        let day = availability::slots_between(tz, &hours, minutes, date, date + TimeDelta::days(1), &[]);
        let base = date.and_time(NaiveTime::MIN).and_utc();
        let taken: Vec<_> = taken
            .into_iter()
            .map(|(start, len)| {
                let s = base + TimeDelta::minutes(start);
                (s, s + TimeDelta::minutes(len))
            })
            .collect();
        let fast: Vec<bool> = availability::mark_taken(&day, &taken).iter().map(|s| s.free).collect();
        prop_assert_eq!(fast, naive_mark(&day, &taken));
    }

    /// Days off are skipped and consecutive days never overlap.
    #[test]
    fn ranges_skip_days_off_and_stay_disjoint((tz, date, hours, minutes) in case(), off in 0i64..3) {
        let weekday = date.weekday().num_days_from_monday() as u8;
        let all_days: Vec<Hours> = (0..7)
            .flat_map(|w| {
                hours
                    .iter()
                    .filter(move |h| h.weekday == weekday)
                    .map(move |h| Hours { weekday: w, ..*h })
            })
            .collect();
        let day_off = date + TimeDelta::days(off);
        let slots = availability::slots_between(tz, &all_days, minutes, date, date + TimeDelta::days(3), &[day_off]);
        for pair in slots.windows(2) {
            prop_assert!(pair[0].ends_at <= pair[1].starts_at);
        }
        prop_assert!(slots.iter().all(|s| availability::local_date(tz, s.starts_at) != day_off));
    }
}
