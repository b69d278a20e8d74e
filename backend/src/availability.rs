//! Slot arithmetic: turning a space's local opening hours into UTC slots
//! for one day, and marking which of them are taken. Pure functions, so
//! the time-zone and daylight-saving rules are tested without a database.

use chrono::{DateTime, Datelike, NaiveDate, NaiveDateTime, NaiveTime, TimeDelta, TimeZone, Utc};
pub use chrono_tz::Tz;

pub const MINUTES_PER_DAY: u32 = 24 * 60;

/// One opening period on a weekday, in the space's local wall-clock time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Hours {
    /// 0 = Monday … 6 = Sunday.
    pub weekday: u8,
    /// Minutes from local midnight; `closes` may be 1440 (end of day).
    pub opens: u32,
    pub closes: u32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Slot {
    pub starts_at: DateTime<Utc>,
    pub ends_at: DateTime<Utc>,
}

impl Slot {
    pub fn overlaps(&self, starts_at: DateTime<Utc>, ends_at: DateTime<Utc>) -> bool {
        self.starts_at < ends_at && starts_at < self.ends_at
    }
}

/// A slot as the booking grid shows it: free or not, never by whom.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SlotAvailability {
    pub slot: Slot,
    pub free: bool,
}

/// The bookable slots of `date` (a local date in `tz`), in time order.
///
/// Slots start at each period's opening time and repeat every
/// `slot_minutes`; a local start time that does not exist (skipped by a
/// daylight-saving jump) has no slot, and an ambiguous one (repeated when
/// clocks go back) takes its first occurrence. A slot always lasts
/// `slot_minutes` of real time and ends by the period's closing instant.
/// When clocks jump forward inside a slot, the next slot can start before
/// it ends: the slot that crosses the jump gives way, so slots never
/// overlap.
pub fn day_slots(tz: Tz, hours: &[Hours], slot_minutes: u32, date: NaiveDate) -> Vec<Slot> {
    if slot_minutes == 0 {
        return Vec::new();
    }
    let weekday = date.weekday().num_days_from_monday() as u8;
    let midnight = date.and_time(NaiveTime::MIN);
    let length = TimeDelta::minutes(i64::from(slot_minutes));
    let mut periods: Vec<&Hours> = hours.iter().filter(|h| h.weekday == weekday).collect();
    periods.sort_by_key(|h| h.opens);
    let mut slots: Vec<Slot> = Vec::new();
    for h in periods {
        let Some(closing) = closing_instant(tz, midnight, h.closes) else {
            continue;
        };
        let starts = (h.opens..h.closes)
            .step_by(slot_minutes as usize)
            .take_while(|m| m + slot_minutes <= h.closes);
        for minute in starts {
            let local = midnight + TimeDelta::minutes(i64::from(minute));
            let Some(starts_at) = tz.from_local_datetime(&local).earliest() else {
                continue;
            };
            let slot = Slot {
                starts_at: starts_at.to_utc(),
                ends_at: starts_at.to_utc() + length,
            };
            if slot.ends_at > closing {
                continue;
            }
            // Local start times only grow, and so do their instants; only
            // the previous slot can overlap this one.
            if slots
                .last()
                .is_some_and(|last| last.ends_at > slot.starts_at)
            {
                slots.pop();
            }
            slots.push(slot);
        }
    }
    slots
}

/// The instant a period closing `minutes` after local midnight ends. A
/// closing time inside a daylight-saving gap closes when the gap ends.
fn closing_instant(tz: Tz, midnight: NaiveDateTime, minutes: u32) -> Option<DateTime<Utc>> {
    let local = midnight + TimeDelta::minutes(i64::from(minutes));
    // Gaps last at most a few hours; look for the first wall-clock time after.
    (0..=6 * 60).find_map(|shift| {
        tz.from_local_datetime(&(local + TimeDelta::minutes(shift)))
            .earliest()
            .map(|at| at.to_utc())
    })
}

/// The slots of every local date from `from` to `to` (inclusive) except
/// `days_off`, in time order.
pub fn slots_between(
    tz: Tz,
    hours: &[Hours],
    slot_minutes: u32,
    from: NaiveDate,
    to: NaiveDate,
    days_off: &[NaiveDate],
) -> Vec<Slot> {
    from.iter_days()
        .take_while(|d| *d <= to)
        .filter(|d| !days_off.contains(d))
        .flat_map(|d| day_slots(tz, hours, slot_minutes, d))
        .collect()
}

/// Marks every slot that overlaps one of `taken` (bookings, busy blocks).
///
/// The taken intervals are sorted and merged once, then each slot is one
/// binary search: O((n + m) log n) for n taken intervals and m slots, so a
/// month of a busy calendar stays well under a millisecond.
pub fn mark_taken(
    slots: &[Slot],
    taken: &[(DateTime<Utc>, DateTime<Utc>)],
) -> Vec<SlotAvailability> {
    let merged = merge(taken);
    slots
        .iter()
        .map(|slot| {
            // The first merged interval ending after the slot starts is the
            // only one that can overlap it.
            let i = merged.partition_point(|(_, e)| *e <= slot.starts_at);
            let free = merged.get(i).is_none_or(|(s, _)| *s >= slot.ends_at);
            SlotAvailability { slot: *slot, free }
        })
        .collect()
}

/// Sorted, disjoint intervals that overlap the same slots as `taken`.
/// A zero-length interval (an instant) still takes the slot it falls
/// strictly inside, as the database's overlap check does; a reversed one
/// is ignored.
fn merge(taken: &[(DateTime<Utc>, DateTime<Utc>)]) -> Vec<(DateTime<Utc>, DateTime<Utc>)> {
    let mut sorted: Vec<_> = taken.iter().copied().filter(|(s, e)| s <= e).collect();
    sorted.sort_unstable();
    let mut merged: Vec<(DateTime<Utc>, DateTime<Utc>)> = Vec::with_capacity(sorted.len());
    for (s, e) in sorted {
        match merged.last_mut() {
            Some(last) if s <= last.1 => last.1 = last.1.max(e),
            _ => merged.push((s, e)),
        }
    }
    merged
}

/// The instant of a local wall-clock time in `tz`: the first one when
/// clocks go back, `None` when clocks skip it.
pub fn local_to_utc(tz: Tz, local: NaiveDateTime) -> Option<DateTime<Utc>> {
    tz.from_local_datetime(&local)
        .earliest()
        .map(|t| t.to_utc())
}

/// The local date an instant falls on in `tz`.
pub fn local_date(tz: Tz, at: DateTime<Utc>) -> NaiveDate {
    at.with_timezone(&tz).date_naive()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn utc(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    fn weekdays(opens: u32, closes: u32) -> Vec<Hours> {
        (0..7)
            .map(|weekday| Hours {
                weekday,
                opens,
                closes,
            })
            .collect()
    }

    #[test]
    fn slots_follow_local_hours_in_the_spaces_zone() {
        let tz: Tz = "Europe/Amsterdam".parse().unwrap();
        // Monday 2026-11-30, CET = UTC+1.
        let date = NaiveDate::from_ymd_opt(2026, 11, 30).unwrap();
        let slots = day_slots(tz, &weekdays(9 * 60, 11 * 60), 30, date);
        assert_eq!(slots.len(), 4);
        assert_eq!(slots[0].starts_at, utc("2026-11-30T08:00:00Z"));
        assert_eq!(slots[3].ends_at, utc("2026-11-30T10:00:00Z"));
    }

    #[test]
    fn a_partial_last_slot_is_not_offered_and_other_days_are_closed() {
        let tz: Tz = "UTC".parse().unwrap();
        let monday_only = [Hours {
            weekday: 0,
            opens: 600,
            closes: 700,
        }];
        let monday = NaiveDate::from_ymd_opt(2026, 11, 30).unwrap();
        assert_eq!(day_slots(tz, &monday_only, 45, monday).len(), 2);
        assert!(day_slots(tz, &monday_only, 45, monday.succ_opt().unwrap()).is_empty());
    }

    #[test]
    fn the_spring_forward_gap_has_no_slots() {
        let tz: Tz = "Europe/Amsterdam".parse().unwrap();
        // 2027-03-28: 02:00 local jumps to 03:00.
        let date = NaiveDate::from_ymd_opt(2027, 3, 28).unwrap();
        let slots = day_slots(tz, &weekdays(60, 4 * 60), 60, date);
        let starts: Vec<_> = slots.iter().map(|s| s.starts_at).collect();
        assert_eq!(
            starts,
            [utc("2027-03-28T00:00:00Z"), utc("2027-03-28T01:00:00Z")]
        );
    }

    #[test]
    fn the_fall_back_hour_is_offered_once_and_lasts_real_time() {
        let tz: Tz = "America/New_York".parse().unwrap();
        // 2026-11-01: 02:00 EDT goes back to 01:00 EST.
        let date = NaiveDate::from_ymd_opt(2026, 11, 1).unwrap();
        let slots = day_slots(tz, &weekdays(60, 3 * 60), 60, date);
        assert_eq!(slots.len(), 2);
        assert_eq!(slots[0].starts_at, utc("2026-11-01T05:00:00Z"));
        assert_eq!(slots[1].starts_at, utc("2026-11-01T07:00:00Z"));
        assert!(
            slots
                .iter()
                .all(|s| s.ends_at - s.starts_at == TimeDelta::hours(1))
        );
    }

    #[test]
    fn a_slot_crossing_the_spring_jump_gives_way_to_the_next() {
        let tz: Tz = "Europe/Amsterdam".parse().unwrap();
        // 2027-03-28: 01:30 CET + 90 min = 04:00 CEST, past the 03:00 slot.
        let date = NaiveDate::from_ymd_opt(2027, 3, 28).unwrap();
        let slots = day_slots(tz, &weekdays(0, 6 * 60), 90, date);
        let starts: Vec<_> = slots.iter().map(|s| s.starts_at).collect();
        assert_eq!(
            starts,
            [
                utc("2027-03-27T23:00:00Z"),
                utc("2027-03-28T01:00:00Z"),
                utc("2027-03-28T02:30:00Z"),
            ]
        );
    }

    #[test]
    fn an_instant_inside_a_slot_takes_it_but_one_on_its_edge_does_not() {
        let tz: Tz = "UTC".parse().unwrap();
        let date = NaiveDate::from_ymd_opt(2026, 11, 30).unwrap();
        let slots = day_slots(tz, &weekdays(9 * 60, 11 * 60), 60, date);
        let at = |s| (utc(s), utc(s));
        let free: Vec<bool> = mark_taken(
            &slots,
            &[at("2026-11-30T09:30:00Z"), at("2026-11-30T10:00:00Z")],
        )
        .iter()
        .map(|s| s.free)
        .collect();
        assert_eq!(free, [false, true]);
    }

    #[test]
    fn taken_time_marks_every_overlapping_slot() {
        let tz: Tz = "UTC".parse().unwrap();
        let date = NaiveDate::from_ymd_opt(2026, 11, 30).unwrap();
        let slots = day_slots(tz, &weekdays(9 * 60, 12 * 60), 60, date);
        let marked = mark_taken(
            &slots,
            &[(utc("2026-11-30T09:30:00Z"), utc("2026-11-30T10:15:00Z"))],
        );
        let free: Vec<bool> = marked.iter().map(|s| s.free).collect();
        assert_eq!(free, [false, false, true]);
    }
}
