//! When the company works, for the report's "logins outside business hours": a daily span of
//! local time (`07:00-19:00`), the working days (`mon-fri`), and whose clock that is — the
//! machine's local time zone, or a fixed UTC offset (`+01:00`). A fixed offset ignores daylight
//! saving time; that is the price of stating the zone on the command line.

use chrono::{
    DateTime, Datelike, FixedOffset, Local, NaiveDate, NaiveDateTime, NaiveTime, Offset, Utc,
    Weekday,
};

/// Whose clock the report's days and hours are read on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Zone {
    /// The machine's time zone (`TZ`, else /etc/localtime), daylight saving time included.
    Local,
    Fixed(FixedOffset),
}

impl Zone {
    /// `local`, `UTC`/`Z`, or an offset such as `+01:00` or `-05:30`.
    pub fn parse(text: &str) -> Result<Zone, String> {
        match text {
            "local" => Ok(Zone::Local),
            "UTC" | "utc" | "Z" | "z" => Ok(Zone::Fixed(Utc.fix())),
            offset => offset.parse::<FixedOffset>().map(Zone::Fixed).map_err(|_| {
                format!("{text:?} is neither `local`, `UTC` nor an offset like +01:00")
            }),
        }
    }

    /// `time` on this zone's clock.
    pub fn local(self, time: DateTime<Utc>) -> NaiveDateTime {
        match self {
            Zone::Local => time.with_timezone(&Local).naive_local(),
            Zone::Fixed(offset) => time.with_timezone(&offset).naive_local(),
        }
    }

    /// The day `time` falls on, on this zone's clock.
    pub fn day(self, time: DateTime<Utc>) -> NaiveDate {
        self.local(time).date()
    }
}

/// The hours and days logins are expected in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BusinessHours {
    /// Start of the working day (inclusive).
    pub opens: NaiveTime,
    /// End of the working day (exclusive).
    pub closes: NaiveTime,
    /// Working days, indexed by `Weekday::num_days_from_monday`.
    pub days: [bool; 7],
    pub zone: Zone,
}

impl BusinessHours {
    /// From `--business-hours HH:MM-HH:MM`, `--business-days` (`mon-fri`, `mon,wed,fri`,
    /// `mon-fri,sat`) and `--tz`.
    pub fn parse(hours: &str, days: &str, zone: &str) -> Result<BusinessHours, String> {
        let (opens, closes) = hours
            .split_once('-')
            .ok_or_else(|| format!("business hours {hours:?}: expected HH:MM-HH:MM"))?;
        let time = |text: &str| {
            NaiveTime::parse_from_str(text.trim(), "%H:%M")
                .map_err(|_| format!("business hours {hours:?}: {text:?} is not HH:MM"))
        };
        let (opens, closes) = (time(opens)?, time(closes)?);
        if opens >= closes {
            return Err(format!(
                "business hours {hours:?}: the day must open before it closes"
            ));
        }
        Ok(BusinessHours {
            opens,
            closes,
            days: parse_days(days)?,
            zone: Zone::parse(zone)?,
        })
    }

    /// Whether `time` falls outside the working hours of a working day.
    pub fn is_outside(&self, time: DateTime<Utc>) -> bool {
        let local = self.zone.local(time);
        let working_day = self
            .days
            .get(local.weekday().num_days_from_monday() as usize)
            .copied()
            .unwrap_or(false);
        !(working_day && local.time() >= self.opens && local.time() < self.closes)
    }
}

/// `mon-fri`, `mon,wed,fri`, `sat-sun`, `mon-fri,sat`: the working days.
fn parse_days(text: &str) -> Result<[bool; 7], String> {
    let weekday = |name: &str| {
        name.trim()
            .parse::<Weekday>()
            .map(|day| day.num_days_from_monday() as usize)
            .map_err(|_| format!("business days {text:?}: {name:?} is not a day (mon, tue, …)"))
    };
    let mut days = [false; 7];
    for part in text.split(',') {
        let (first, last) = match part.split_once('-') {
            Some((first, last)) => (weekday(first)?, weekday(last)?),
            None => (weekday(part)?, weekday(part)?),
        };
        let mut day = first;
        loop {
            if let Some(working) = days.get_mut(day) {
                *working = true;
            }
            if day == last {
                break;
            }
            day = (day + 1) % 7;
        }
    }
    Ok(days)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(text)
            .unwrap()
            .with_timezone(&Utc)
    }

    #[test]
    fn hours_are_read_on_the_given_clock() {
        let hours = BusinessHours::parse("07:00-19:00", "mon-fri", "+01:00").unwrap();
        // Tuesday 2026-12-01.
        assert!(
            !hours.is_outside(at("2026-12-01T06:00:00Z")),
            "07:00 local opens"
        );
        assert!(hours.is_outside(at("2026-12-01T05:59:59Z")), "06:59 local");
        assert!(!hours.is_outside(at("2026-12-01T17:59:59Z")), "18:59 local");
        assert!(
            hours.is_outside(at("2026-12-01T18:00:00Z")),
            "19:00 local closes"
        );
        // Friday 23:30 UTC is Saturday 00:30 at +01:00.
        assert!(hours.is_outside(at("2026-12-04T23:30:00Z")));
    }

    #[test]
    fn days_wrap_around_the_week_and_combine() {
        assert_eq!(
            parse_days("fri-mon").unwrap(),
            [true, false, false, false, true, true, true]
        );
        assert_eq!(
            parse_days("mon-wed,sat").unwrap(),
            [true, true, true, false, false, true, false]
        );
        assert!(parse_days("monday-funday").is_err());
    }

    #[test]
    fn nonsense_is_refused_with_the_value_named() {
        for (hours, days, zone) in [
            ("19:00-07:00", "mon-fri", "local"),
            ("7-19", "mon-fri", "local"),
            ("07:00-19:00", "mon-fri", "CET"),
        ] {
            let error = BusinessHours::parse(hours, days, zone).unwrap_err();
            assert!(error.contains(hours) || error.contains(zone), "{error}");
        }
    }
}
