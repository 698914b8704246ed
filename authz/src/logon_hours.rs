//! AD's `logonHours`: the hours of the week an account may log on, as one bit per hour.
//!
//! AD itself enforces it only when the account authenticates to a DC (a password bind fails
//! with code 530); a certificate login never binds, so adgate judges it in the policy.
//!
//! Layout (MS-ADA1 `Logon-Hours`; MS-SAMR 2.2.7.5 `SAMPR_LOGON_HOURS` with `UnitsPerWeek` =
//! 168): 21 octets, 168 bits, one per hour of the week, **in UTC**, starting Sunday 00:00.
//! Hour `h` of the week is bit `h % 8` (least significant bit first) of octet `h / 8`: octet 0
//! bit 0 is Sunday 00:00–00:59 UTC, octet 0 bit 7 Sunday 07:00–07:59, octet 20 bit 7 Saturday
//! 23:00–23:59. A set bit allows the hour. Windows' "Logon Hours" dialog shows the grid in the
//! local time zone and shifts it to UTC when it writes. Samba's check (`logon_hours_ok`:
//! `bitpos = wday * 24 + hour` of `gmtime`, `hours[bitpos / 8] & (1 << (bitpos % 8))`) reads it
//! the same way; the lab test `logon_hours_bit_order_matches_the_dc` checks it against the DC.

use crate::FileTime;

/// Octets in a `logonHours` value: 168 hours, one bit each.
pub const LOGON_HOURS_OCTETS: usize = 21;

const TICKS_PER_HOUR: i64 = 3_600 * 10_000_000;
const HOURS_PER_WEEK: i64 = 7 * 24;
/// FILETIME 0 (1601-01-01 00:00 UTC) was a Monday: hour 24 of a week that starts on Sunday.
const FILETIME_ZERO_HOUR_OF_WEEK: i64 = 24;

/// An account's `logonHours`, as AD stores it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct LogonHours([u8; LOGON_HOURS_OCTETS]);

impl LogonHours {
    /// Every hour of the week allowed (what an absent `logonHours` means too).
    pub const ALWAYS: LogonHours = LogonHours([0xff; LOGON_HOURS_OCTETS]);

    /// The value as stored in AD.
    pub const fn new(octets: [u8; LOGON_HOURS_OCTETS]) -> LogonHours {
        LogonHours(octets)
    }

    /// The value as AD returned it; `None` unless it is exactly 21 octets.
    pub fn from_octets(octets: &[u8]) -> Option<LogonHours> {
        octets.try_into().ok().map(LogonHours)
    }

    /// The 21 octets as stored in AD.
    pub const fn octets(&self) -> &[u8; LOGON_HOURS_OCTETS] {
        &self.0
    }

    /// Whether the hour of the week that contains `now` (UTC) is allowed.
    pub fn allows(&self, now: FileTime) -> bool {
        let hour = hour_of_week(now);
        let (octet, bit) = (hour / 8, hour % 8);
        self.0
            .get(octet)
            .is_some_and(|octets| octets & (1 << bit) != 0)
    }
}

/// The hour of the week (0 = Sunday 00:00–00:59 UTC … 167 = Saturday 23:00–23:59 UTC).
fn hour_of_week(now: FileTime) -> usize {
    let hours = now.0.div_euclid(TICKS_PER_HOUR);
    let hour = (hours + FILETIME_ZERO_HOUR_OF_WEEK).rem_euclid(HOURS_PER_WEEK);
    // In 0..168 by rem_euclid.
    usize::try_from(hour).unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    const MINUTE: i64 = 60 * 10_000_000;
    /// 2024-06-01T00:00:00Z, a Saturday.
    const SATURDAY_MIDNIGHT: FileTime = FileTime(133_616_736_000_000_000);
    /// 2024-06-02T00:00:00Z, a Sunday.
    const SUNDAY_MIDNIGHT: FileTime = FileTime(SATURDAY_MIDNIGHT.0 + 24 * 60 * MINUTE);

    fn only(hour: usize) -> LogonHours {
        let mut octets = [0; LOGON_HOURS_OCTETS];
        octets[hour / 8] |= 1 << (hour % 8);
        LogonHours::new(octets)
    }

    #[test]
    fn hours_of_the_week_start_on_sunday_utc() {
        assert_eq!(hour_of_week(FileTime(0)), 24, "1601-01-01 was a Monday");
        assert_eq!(hour_of_week(SUNDAY_MIDNIGHT), 0);
        assert_eq!(hour_of_week(FileTime(SUNDAY_MIDNIGHT.0 - 1)), 167);
        assert_eq!(hour_of_week(SATURDAY_MIDNIGHT), 144);
        // 2026-12-02T04:27Z, a Wednesday (the lab check's time): 3 * 24 + 4.
        assert_eq!(hour_of_week(FileTime(134_406_592_200_000_000)), 76);
        assert_eq!(
            hour_of_week(FileTime(-1)),
            23,
            "before 1601: still in range"
        );
        assert!(hour_of_week(FileTime(i64::MIN)) < 168);
        assert!(hour_of_week(FileTime::NEVER) < 168);
    }

    #[test]
    fn octet_zero_bit_zero_is_sunday_midnight() {
        let sunday_first_hour = LogonHours::new({
            let mut octets = [0; LOGON_HOURS_OCTETS];
            octets[0] = 0x01;
            octets
        });
        assert!(sunday_first_hour.allows(SUNDAY_MIDNIGHT));
        assert!(sunday_first_hour.allows(FileTime(SUNDAY_MIDNIGHT.0 + 59 * MINUTE)));
        assert!(!sunday_first_hour.allows(FileTime(SUNDAY_MIDNIGHT.0 + 60 * MINUTE)));
        assert!(!sunday_first_hour.allows(FileTime(SUNDAY_MIDNIGHT.0 - 1)));
        // The most significant bit of octet 0 is Sunday 07:00, not 00:00.
        let msb = LogonHours::new({
            let mut octets = [0; LOGON_HOURS_OCTETS];
            octets[0] = 0x80;
            octets
        });
        assert!(!msb.allows(SUNDAY_MIDNIGHT));
        assert!(msb.allows(FileTime(SUNDAY_MIDNIGHT.0 + 7 * 60 * MINUTE)));
        // The last bit is Saturday 23:00.
        assert!(only(167).allows(FileTime(SUNDAY_MIDNIGHT.0 - 1)));
        assert_eq!(only(167).octets()[20], 0x80);
    }

    #[test]
    fn each_hour_is_its_own_bit() {
        for hour in 0..168 {
            let at = FileTime(SUNDAY_MIDNIGHT.0 + i64::try_from(hour).unwrap() * 60 * MINUTE);
            assert!(only(hour).allows(at), "{hour}");
            assert!(!only((hour + 1) % 168).allows(at), "{hour}");
            assert!(!only((hour + 167) % 168).allows(at), "{hour}");
        }
    }

    #[test]
    fn always_and_never() {
        for minutes in [0, 1, 59, 60, 24 * 60 * 3 + 7] {
            let at = FileTime(SATURDAY_MIDNIGHT.0 + minutes * MINUTE);
            assert!(LogonHours::ALWAYS.allows(at));
            assert!(!LogonHours::new([0; LOGON_HOURS_OCTETS]).allows(at));
        }
    }

    #[test]
    fn only_21_octets_are_a_value() {
        assert_eq!(
            LogonHours::from_octets(&[0xff; 21]),
            Some(LogonHours::ALWAYS)
        );
        for length in [0, 1, 20, 22, 168] {
            assert_eq!(
                LogonHours::from_octets(&vec![0xff; length]),
                None,
                "{length}"
            );
        }
    }
}
