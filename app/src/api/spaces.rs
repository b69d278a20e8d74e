//! Spaces: the public list and booking grid, and Admin › Spaces (create,
//! edit, retire). Reading is open to everyone; changes are admin only and
//! checked first, then handed to `backend::spaces`.

// `save_space` takes one argument per form field, so the form posts
// without JavaScript; the code `#[server]` generates for the browser
// carries no item attribute, hence the module-wide allow.
#![allow(clippy::too_many_arguments)]

use leptos::prelude::*;

use crate::error::AppError;
use crate::models::{SpaceGrid, SpaceView};

#[cfg(feature = "ssr")]
use {
    super::guard::{backend, fail, require_role},
    crate::models::Role,
};

/// Bookable (not retired) spaces, by name. Open to everyone.
#[server(endpoint = "list_spaces")]
pub async fn list_spaces() -> Result<Vec<SpaceView>, AppError> {
    let backend = backend()?;
    let spaces = backend::spaces::list(&backend.db, false)
        .await
        .map_err(|e| fail(space_error(e)))?;
    Ok(spaces.iter().map(imp::space_view).collect())
}

/// A space's free and unavailable slots for a day, or the week (Monday to
/// Sunday) around `date` (`YYYY-MM-DD`, today in the space's zone when
/// empty). Open to everyone: it never says who holds a slot.
#[server(endpoint = "space_slots")]
pub async fn space_slots(
    space_id: i64,
    #[server(default)] date: String,
    #[server(default)] view: String,
) -> Result<SpaceGrid, AppError> {
    let backend = backend()?;
    let space = imp::bookable(&backend, space_id).await?;
    imp::grid(&backend, &space, &date, &view).await
}

/// Every space, retired ones too, for Admin › Spaces.
#[server(endpoint = "admin_spaces")]
pub async fn admin_spaces() -> Result<Vec<SpaceView>, AppError> {
    require_role(Role::Admin).await?;
    let backend = backend()?;
    let spaces = backend::spaces::list(&backend.db, true)
        .await
        .map_err(|e| fail(space_error(e)))?;
    Ok(spaces.iter().map(imp::space_view).collect())
}

/// Creates a space (`space_id` 0) or changes one. Numbers arrive as text
/// so a typo gets a message next to its field. `hours_0` (Monday) to
/// `hours_6` (Sunday) are like `09:00-12:00, 13:00-17:00`, empty = closed.
#[server(endpoint = "save_space")]
pub async fn save_space(
    #[server(default)] space_id: i64,
    #[server(default)] name: String,
    #[server(default)] location: String,
    #[server(default)] capacity: String,
    #[server(default)] time_zone: String,
    #[server(default)] slot_minutes: String,
    #[server(default)] booking_window_days: String,
    #[server(default)] hours_0: String,
    #[server(default)] hours_1: String,
    #[server(default)] hours_2: String,
    #[server(default)] hours_3: String,
    #[server(default)] hours_4: String,
    #[server(default)] hours_5: String,
    #[server(default)] hours_6: String,
) -> Result<SpaceView, AppError> {
    require_role(Role::Admin).await?;
    let backend = backend()?;
    let week = [
        hours_0, hours_1, hours_2, hours_3, hours_4, hours_5, hours_6,
    ];
    let input = backend::spaces::SpaceInput {
        name,
        location,
        capacity: imp::number("capacity", &capacity).map_err(fail)?,
        time_zone,
        slot_minutes: imp::number("slot_minutes", &slot_minutes).map_err(fail)?,
        booking_window_days: imp::number("booking_window_days", &booking_window_days)
            .map_err(fail)?,
        hours: imp::parse_week(&week).map_err(fail)?,
    };
    let saved = match space_id {
        0 => backend::spaces::create(&backend.db, &input, chrono::Utc::now()).await,
        id => backend::spaces::update(&backend.db, id, &input).await,
    }
    .map_err(|e| fail(space_error(e)))?;
    leptos_axum::redirect(&format!("/admin/spaces?saved={}", saved.id));
    Ok(imp::space_view(&saved))
}

/// Hides a space from patrons and refuses new bookings; its bookings stay.
#[server(endpoint = "retire_space")]
pub async fn retire_space(space_id: i64) -> Result<(), AppError> {
    require_role(Role::Admin).await?;
    let backend = backend()?;
    backend::spaces::retire(&backend.db, space_id)
        .await
        .map_err(|e| fail(space_error(e)))
}

#[cfg(feature = "ssr")]
pub(crate) fn space_error(e: backend::spaces::SpaceError) -> AppError {
    use backend::spaces::SpaceError;
    match e {
        SpaceError::Invalid { field, message } => AppError::field(field, message),
        SpaceError::NotFound => AppError::Invalid("This space does not exist.".into()),
        SpaceError::Db(e) => AppError::internal(e),
    }
}

#[cfg(feature = "ssr")]
pub(crate) mod imp {
    use backend::Backend;
    use backend::availability::{self, Hours};
    use backend::spaces::Space;
    use chrono::{DateTime, Datelike, NaiveDate, TimeDelta, Utc};

    use super::space_error;
    use crate::api::guard::fail;
    use crate::error::AppError;
    use crate::models::{GridDay, GridSlot, GridView, HoursView, SpaceGrid, SpaceView, WEEKDAYS};

    pub fn space_view(s: &Space) -> SpaceView {
        SpaceView {
            id: s.id,
            name: s.name.clone(),
            location: s.location.clone(),
            capacity: s.capacity,
            time_zone: s.time_zone.name().to_owned(),
            slot_minutes: s.slot_minutes,
            booking_window_days: s.booking_window_days,
            retired: s.retired,
            hours: s
                .hours
                .iter()
                .map(|h| HoursView {
                    weekday: h.weekday,
                    opens: h.opens,
                    closes: h.closes,
                })
                .collect(),
        }
    }

    /// The space, unless it does not exist or is retired.
    pub async fn bookable(backend: &Backend, space_id: i64) -> Result<Space, AppError> {
        backend::spaces::get(&backend.db, space_id)
            .await
            .map_err(|e| fail(space_error(e)))?
            .filter(|s| !s.retired)
            .ok_or_else(|| {
                fail(AppError::Invalid(
                    "This space does not exist or can no longer be booked.".into(),
                ))
            })
    }

    /// The local dates a grid shows: the day, or Monday to Sunday.
    pub fn grid_dates(
        space: &Space,
        date: &str,
        view: GridView,
        now: DateTime<Utc>,
    ) -> Result<Vec<NaiveDate>, AppError> {
        let date = match date.trim() {
            "" => availability::local_date(space.time_zone, now),
            d => d
                .parse::<NaiveDate>()
                .map_err(|_| fail(AppError::field("date", "give the date as YYYY-MM-DD")))?,
        };
        Ok(match view {
            GridView::Day => vec![date],
            GridView::Week => {
                let monday =
                    date - TimeDelta::days(i64::from(date.weekday().num_days_from_monday()));
                monday.iter_days().take(7).collect()
            }
        })
    }

    pub async fn grid(
        backend: &Backend,
        space: &Space,
        date: &str,
        view: &str,
    ) -> Result<SpaceGrid, AppError> {
        let now = Utc::now();
        let view = GridView::from_query(Some(view));
        let dates = grid_dates(space, date, view, now)?;
        let step = TimeDelta::days(dates.len() as i64);
        let shown = match view {
            GridView::Day => dates[0],
            GridView::Week => date.trim().parse().unwrap_or(dates[0]),
        };
        let mut days = Vec::with_capacity(dates.len());
        for day in &dates {
            days.push(grid_day(backend, space, *day, now).await?);
        }
        Ok(SpaceGrid {
            space: space_view(space),
            view,
            date: shown.to_string(),
            previous: (shown - step).to_string(),
            next: (shown + step).to_string(),
            today: availability::local_date(space.time_zone, now).to_string(),
            days,
        })
    }

    async fn grid_day(
        backend: &Backend,
        space: &Space,
        date: NaiveDate,
        now: DateTime<Utc>,
    ) -> Result<GridDay, AppError> {
        let slots = backend::bookings::day_availability(&backend.db, space.id, date)
            .await
            .map_err(|e| fail(crate::api::bookings::booking_error(e)))?;
        let window_end = now + TimeDelta::days(i64::from(space.booking_window_days));
        Ok(GridDay {
            date: date.to_string(),
            label: date.format("%a %-d %b").to_string(),
            slots: slots
                .iter()
                .map(|s| GridSlot {
                    starts_at: rfc3339(s.slot.starts_at),
                    starts: local_clock(space, s.slot.starts_at),
                    ends: local_clock(space, s.slot.ends_at),
                    free: s.free && s.slot.starts_at > now && s.slot.starts_at <= window_end,
                })
                .collect(),
        })
    }

    pub fn rfc3339(at: DateTime<Utc>) -> String {
        at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
    }

    pub fn local_clock(space: &Space, at: DateTime<Utc>) -> String {
        at.with_timezone(&space.time_zone)
            .format("%H:%M")
            .to_string()
    }

    /// e.g. `Tue 1 Dec 2026, 09:00–10:00 (Europe/London)`.
    pub fn local_span(space: &Space, starts_at: DateTime<Utc>, ends_at: DateTime<Utc>) -> String {
        let local = starts_at.with_timezone(&space.time_zone);
        format!(
            "{}, {}–{} ({})",
            local.format("%a %-d %b %Y"),
            local_clock(space, starts_at),
            local_clock(space, ends_at),
            space.time_zone.name()
        )
    }

    pub fn number(field: &str, text: &str) -> Result<i32, AppError> {
        text.trim()
            .parse()
            .map_err(|_| AppError::field(field, "enter a whole number"))
    }

    /// The seven weekday fields of the admin form into opening periods.
    pub fn parse_week(week: &[String; 7]) -> Result<Vec<Hours>, AppError> {
        let mut hours = Vec::new();
        for (weekday, text) in (0u8..).zip(week) {
            for period in text.split([',', ';']).map(str::trim) {
                if period.is_empty() {
                    continue;
                }
                hours.push(parse_period(weekday, period).ok_or_else(|| {
                    AppError::field(
                        &format!("hours_{weekday}"),
                        format!(
                            "{}: write the hours like 09:00-17:00 (several: 09:00-12:00, 13:00-17:00), or leave empty when closed",
                            WEEKDAYS[weekday as usize]
                        ),
                    )
                })?);
            }
        }
        Ok(hours)
    }

    fn parse_period(weekday: u8, period: &str) -> Option<Hours> {
        let (opens, closes) = period.split_once(['-', '–'])?;
        Some(Hours {
            weekday,
            opens: parse_clock(opens)?,
            closes: parse_clock(closes)?,
        })
    }

    fn parse_clock(text: &str) -> Option<u32> {
        let (h, m) = text.trim().split_once([':', '.'])?;
        let (h, m): (u32, u32) = (h.parse().ok()?, m.parse().ok()?);
        (m < 60 && (h < 24 || (h == 24 && m == 0))).then_some(h * 60 + m)
    }

    #[cfg(test)]
    mod tests {
        use super::*;

        fn week(monday: &str) -> [String; 7] {
            let mut w: [String; 7] = Default::default();
            w[0] = monday.to_owned();
            w
        }

        #[test]
        fn weekday_hours_are_read_and_typos_named() {
            let hours = parse_week(&week("09:00-12:00, 13:00–24:00")).unwrap();
            assert_eq!(
                hours,
                [
                    Hours {
                        weekday: 0,
                        opens: 540,
                        closes: 720
                    },
                    Hours {
                        weekday: 0,
                        opens: 780,
                        closes: 1440
                    }
                ]
            );
            assert!(parse_week(&week("")).unwrap().is_empty());
            let err = parse_week(&week("9 to 5")).unwrap_err();
            assert!(err.field_message("hours_0").is_some(), "{err:?}");
            assert!(parse_week(&week("09:60-10:00")).is_err());
            assert!(parse_week(&week("25:00-26:00")).is_err());
        }
    }
}
