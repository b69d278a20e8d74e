//! `cargo bench -p backend --bench availability`: the time to compute a
//! 30-day availability for a space and for a staff member, each with 2,000
//! bookings and 2,000 busy blocks. Target: 5 ms or less.
//!
//! The computation measured is the pure one the request handlers run
//! after loading rows (slots of every day, then taken marking); the rows
//! are built in memory so the figure is the arithmetic, not the database.

use std::time::{Duration, Instant};

use backend::availability::{self, Hours};
use chrono::{DateTime, NaiveDate, TimeDelta, Utc};
use chrono_tz::Tz;

const RUNS: usize = 200;
const DAYS: i64 = 30;

struct Owner {
    name: &'static str,
    tz: Tz,
    hours: Vec<Hours>,
    slot_minutes: u32,
    days_off: Vec<NaiveDate>,
}

/// 2,000 bookings and 2,000 busy blocks spread over the 30 days, from a
/// fixed pseudo-random sequence (no extra dependency, same every run).
fn taken(start: DateTime<Utc>) -> Vec<(DateTime<Utc>, DateTime<Utc>)> {
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut next = move || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    (0..4000)
        .map(|_| {
            let s = start + TimeDelta::minutes((next() % (DAYS as u64 * 1440)) as i64);
            (s, s + TimeDelta::minutes(15 + (next() % 120) as i64))
        })
        .collect()
}

fn measure(
    owner: &Owner,
    from: NaiveDate,
    taken: &[(DateTime<Utc>, DateTime<Utc>)],
) -> (Vec<Duration>, usize) {
    let to = from + TimeDelta::days(DAYS - 1);
    let mut times = Vec::with_capacity(RUNS);
    let mut free = 0;
    for _ in 0..RUNS {
        let started = Instant::now();
        let slots = availability::slots_between(
            owner.tz,
            &owner.hours,
            owner.slot_minutes,
            from,
            to,
            &owner.days_off,
        );
        let marked = availability::mark_taken(&slots, taken);
        free = std::hint::black_box(marked.iter().filter(|s| s.free).count());
        times.push(started.elapsed());
    }
    times.sort();
    (times, free)
}

fn main() {
    let from = NaiveDate::from_ymd_opt(2027, 3, 15).unwrap(); // spans the March DST change
    let start = from.and_hms_opt(0, 0, 0).unwrap().and_utc();
    let taken = taken(start);
    let owners = [
        Owner {
            name: "space (30-min slots, 07:00–23:00 daily)",
            tz: chrono_tz::Europe::Amsterdam,
            hours: (0..7)
                .map(|weekday| Hours {
                    weekday,
                    opens: 7 * 60,
                    closes: 23 * 60,
                })
                .collect(),
            slot_minutes: 30,
            days_off: Vec::new(),
        },
        Owner {
            name: "staff (15-min appointments, 09:00–12:00 and 13:00–18:00 weekdays, 2 days off)",
            tz: chrono_tz::America::New_York,
            hours: (0..5)
                .flat_map(|weekday| {
                    [
                        Hours {
                            weekday,
                            opens: 540,
                            closes: 720,
                        },
                        Hours {
                            weekday,
                            opens: 780,
                            closes: 1080,
                        },
                    ]
                })
                .collect(),
            slot_minutes: 15,
            days_off: vec![from + TimeDelta::days(3), from + TimeDelta::days(10)],
        },
    ];
    let mut worst = Duration::ZERO;
    for owner in &owners {
        let (times, free) = measure(owner, from, &taken);
        let (min, median, max) = (times[0], times[RUNS / 2], times[RUNS - 1]);
        worst = worst.max(median);
        println!(
            "30-day availability, {}, {} taken intervals: min {:.3} ms, median {:.3} ms, max {:.3} ms over {RUNS} runs ({free} free slots)",
            owner.name,
            taken.len(),
            min.as_secs_f64() * 1e3,
            median.as_secs_f64() * 1e3,
            max.as_secs_f64() * 1e3,
        );
    }
    let verdict = if worst <= Duration::from_millis(5) {
        "within"
    } else {
        "OVER"
    };
    println!("target 5 ms: median {verdict} target");
}
