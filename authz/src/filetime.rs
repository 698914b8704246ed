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
    fn now_is_after_2024() {
        assert!(FileTime::now() > FileTime(133_485_408_000_000_000));
    }
}
