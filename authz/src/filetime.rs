//! AD's timestamps: Windows FILETIME, 100-nanosecond intervals since 1601-01-01 UTC.
//!
//! `accountExpires` and `pwdLastSet` are FILETIMEs; comparing them with "now" is the only
//! arithmetic the policy needs, so "now" is turned into a FILETIME rather than the other way.

use std::time::{SystemTime, UNIX_EPOCH};

/// FILETIME intervals between 1601-01-01 and 1970-01-01 (the Unix epoch).
const UNIX_EPOCH_AS_FILETIME: i64 = 116_444_736_000_000_000;

/// A Windows FILETIME as AD stores it (signed 64-bit, as in the LDAP integer syntax).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct FileTime(pub i64);

impl FileTime {
    /// The value AD uses for "never" in `accountExpires`, besides 0.
    pub const NEVER: FileTime = FileTime(i64::MAX);

    /// The FILETIME of `time`. Times before 1601 become 0; times past year 30828 saturate.
    pub fn from_system_time(time: SystemTime) -> FileTime {
        let ticks = match time.duration_since(UNIX_EPOCH) {
            Ok(after) => i64::try_from(after.as_nanos() / 100)
                .unwrap_or(i64::MAX)
                .saturating_add(UNIX_EPOCH_AS_FILETIME),
            Err(before) => UNIX_EPOCH_AS_FILETIME.saturating_sub(
                i64::try_from(before.duration().as_nanos() / 100).unwrap_or(i64::MAX),
            ),
        };
        FileTime(ticks.max(0))
    }

    /// The current time.
    pub fn now() -> FileTime {
        FileTime::from_system_time(SystemTime::now())
    }

    /// A GeneralizedTime as AD writes it (`whenCreated`: `YYYYMMDDHHMMSS.0Z`, RFC 4517 §3.3.13,
    /// always UTC with whole seconds); `None` for anything else.
    pub(crate) fn from_generalized_time(text: &str) -> Option<FileTime> {
        let digits = text
            .strip_suffix(".0Z")
            .or_else(|| text.strip_suffix('Z'))?;
        if digits.len() != 14 || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        let field = |range: std::ops::Range<usize>| digits.get(range)?.parse::<i64>().ok();
        let (year, month, day) = (field(0..4)?, field(4..6)?, field(6..8)?);
        let (hour, minute, second) = (field(8..10)?, field(10..12)?, field(12..14)?);
        if !(1..=12).contains(&month) || !(1..=31).contains(&day) || hour > 23 || minute > 59 {
            return None;
        }
        let seconds = days_from_civil(year, month, day) * 86_400 + hour * 3600 + minute * 60;
        Some(FileTime(
            (seconds + second.min(60)) * 10_000_000 + UNIX_EPOCH_AS_FILETIME,
        ))
    }
}

/// Days from 1970-01-01 to a proleptic Gregorian date (H. Hinnant's `days_from_civil`).
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let year = if month <= 2 { year - 1 } else { year };
    let era = year.div_euclid(400);
    let year_of_era = year - era * 400;
    let day_of_year = (153 * ((month + 9) % 12) + 2) / 5 + day - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    era * 146_097 + day_of_era - 719_468
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn unix_epoch_maps_to_the_known_offset() {
        assert_eq!(
            FileTime::from_system_time(UNIX_EPOCH).0,
            116_444_736_000_000_000
        );
    }

    #[test]
    fn a_known_date_matches_ad() {
        // 2024-01-01T00:00:00Z as AD shows it in accountExpires (w32tm /ntte).
        let time = UNIX_EPOCH + Duration::from_secs(1_704_067_200);
        assert_eq!(FileTime::from_system_time(time).0, 133_485_408_000_000_000);
    }

    #[test]
    fn sub_second_precision_is_kept() {
        let time = UNIX_EPOCH + Duration::from_nanos(1_500);
        assert_eq!(FileTime::from_system_time(time).0, 116_444_736_000_000_015);
    }

    #[test]
    fn before_1601_clamps_to_zero() {
        let time = UNIX_EPOCH - Duration::from_secs(400 * 366 * 86_400);
        assert_eq!(FileTime::from_system_time(time), FileTime(0));
    }

    #[test]
    fn generalized_time_as_ad_writes_it() {
        assert_eq!(
            FileTime::from_generalized_time("20240101000000.0Z"),
            Some(FileTime(133_485_408_000_000_000))
        );
        assert_eq!(
            FileTime::from_generalized_time("19700101000001Z"),
            Some(FileTime(UNIX_EPOCH_AS_FILETIME + 10_000_000))
        );
        let leap_day = FileTime::from_generalized_time("20240229120000.0Z").unwrap();
        let march = FileTime::from_generalized_time("20240301120000.0Z").unwrap();
        assert_eq!(march.0 - leap_day.0, 86_400 * 10_000_000);
        for bad in [
            "",
            "2024",
            "20241301000000.0Z",
            "2024010100000x.0Z",
            "20240101000000",
        ] {
            assert_eq!(FileTime::from_generalized_time(bad), None, "{bad}");
        }
    }

    #[test]
    fn now_is_after_2024() {
        assert!(FileTime::now() > FileTime(133_485_408_000_000_000));
    }
}
