//! The telework access policy: a pure function from [`Facts`] to a [`Decision`].
//!
//! The policy is a fixed, ordered list of [`Check`]s; the first one that fails names the
//! reason. The order puts what only an administrator can change before what heals by itself or
//! by the user, so the reason given is the one that would still block the person after
//! everything else was fixed:
//!
//! 1. [`Check::AccountEnabled`] — disabled accounts (`account_disabled`);
//! 2. [`Check::AccountNotExpired`] — `accountExpires` passed (`account_expired`);
//! 3. [`Check::DialinAllowed`] — Network Access Permission "Deny" (`dialin_denied`);
//! 4. [`Check::TeleworkMember`] — not in the telework group (`telework_off`);
//! 5. [`Check::WithinLogonHours`] — `logonHours` excludes this hour (`logon_restricted`);
//! 6. [`Check::AccountNotLocked`] — locked out, heals after the lockout duration
//!    (`account_locked`);
//! 7. [`Check::PasswordNotMustChange`] — the user must set a new password
//!    (`must_change_password`);
//! 8. [`Check::PasswordNotExpired`] — the password is too old (`password_expired`).
//!
//! A disabled account that is also locked is reported as disabled (unlocking would not help);
//! a locked account outside the telework group is reported as `telework_off` (waiting for the
//! lockout to end would not help either). Logon hours come after the administrator's yes/no
//! decisions (a person off telework stays off at any hour) and before what heals on its own or
//! by the user. The checks run before any password bind, so an account refused here never
//! burns a lockout count.
//!
//! A live session (a VPN tunnel that is up) is judged by the same checks, but only by those
//! that record an administrator's decision: [`Check::ends_live_session`] says which, and
//! [`revocation_reason`] applies them. A lockout does not end a tunnel (anyone who knows a user
//! name could lock the account with wrong passwords and so cut a colleague's session), nor does
//! a password that must be changed or expires while the tunnel is up.

use crate::facts::{COMPUTED_LOCKED_OUT, COMPUTED_PASSWORD_EXPIRED, UAC_ACCOUNT_DISABLED};
use crate::{Decision, Facts, FileTime, Reason};

/// One rule of the policy. Each check, when it fails, yields exactly one [`Reason`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Check {
    /// `userAccountControl` does not have ACCOUNTDISABLE (0x2).
    AccountEnabled,
    /// `accountExpires` is 0, `i64::MAX`, or later than now.
    AccountNotExpired,
    /// `msNPAllowDialin` is not FALSE.
    DialinAllowed,
    /// The account is a (nested) member of the telework group.
    TeleworkMember,
    /// `logonHours` is absent or allows the current hour (UTC).
    WithinLogonHours,
    /// `msDS-User-Account-Control-Computed` does not have LOCKOUT (0x10).
    AccountNotLocked,
    /// `pwdLastSet` is not 0.
    PasswordNotMustChange,
    /// `msDS-User-Account-Control-Computed` does not have PASSWORD_EXPIRED (0x800000).
    PasswordNotExpired,
}

impl Check {
    /// All checks, in the order they are applied.
    pub const ORDER: &'static [Check] = &[
        Check::AccountEnabled,
        Check::AccountNotExpired,
        Check::DialinAllowed,
        Check::TeleworkMember,
        Check::WithinLogonHours,
        Check::AccountNotLocked,
        Check::PasswordNotMustChange,
        Check::PasswordNotExpired,
    ];

    /// Whether `facts` satisfy this check.
    pub fn passes(self, facts: &Facts) -> bool {
        let account = &facts.account;
        match self {
            Check::AccountEnabled => account.user_account_control & UAC_ACCOUNT_DISABLED == 0,
            Check::AccountNotExpired => !expired(account.account_expires, facts.now),
            Check::DialinAllowed => account.allow_dialin != Some(false),
            Check::TeleworkMember => facts.telework_member,
            Check::WithinLogonHours => account
                .logon_hours
                .is_none_or(|hours| hours.allows(facts.now)),
            Check::AccountNotLocked => account.computed_account_control & COMPUTED_LOCKED_OUT == 0,
            Check::PasswordNotMustChange => account.pwd_last_set != FileTime(0),
            // AD also sets PASSWORD_EXPIRED while pwdLastSet = 0; that case is the previous
            // check's, and this one only ever sees pwdLastSet != 0.
            Check::PasswordNotExpired => {
                account.computed_account_control & COMPUTED_PASSWORD_EXPIRED == 0
            }
        }
    }

    /// The check's name as `adgate explain` prints it.
    pub const fn name(self) -> &'static str {
        match self {
            Check::AccountEnabled => "account_enabled",
            Check::AccountNotExpired => "account_not_expired",
            Check::DialinAllowed => "dialin_allowed",
            Check::TeleworkMember => "telework_member",
            Check::WithinLogonHours => "within_logon_hours",
            Check::AccountNotLocked => "account_not_locked",
            Check::PasswordNotMustChange => "password_not_must_change",
            Check::PasswordNotExpired => "password_not_expired",
        }
    }

    /// The reason a login is refused when this check fails.
    pub const fn reason(self) -> Reason {
        match self {
            Check::AccountEnabled => Reason::AccountDisabled,
            Check::AccountNotExpired => Reason::AccountExpired,
            Check::DialinAllowed => Reason::DialinDenied,
            Check::TeleworkMember => Reason::TeleworkOff,
            Check::WithinLogonHours => Reason::LogonRestricted,
            Check::AccountNotLocked => Reason::AccountLocked,
            Check::PasswordNotMustChange => Reason::MustChangePassword,
            Check::PasswordNotExpired => Reason::PasswordExpired,
        }
    }

    /// Whether failing this check ends a live session, not only a new login: true for the
    /// administrator's decisions (disabled, expired, dial-in denied, off telework, outside the
    /// logon hours); false for a lockout (a guesser could otherwise cut anyone's tunnel) and
    /// for password age (a password that must change or expires mid-session does not end it).
    pub const fn ends_live_session(self) -> bool {
        match self {
            Check::AccountEnabled
            | Check::AccountNotExpired
            | Check::DialinAllowed
            | Check::TeleworkMember
            | Check::WithinLogonHours => true,
            Check::AccountNotLocked | Check::PasswordNotMustChange | Check::PasswordNotExpired => {
                false
            }
        }
    }
}

/// `accountExpires` semantics: 0 and `i64::MAX` are "never"; otherwise the account is expired
/// from that instant on. Negative values (never written by AD) count as long past: fail closed.
fn expired(account_expires: FileTime, now: FileTime) -> bool {
    account_expires != FileTime(0) && account_expires != FileTime::NEVER && account_expires <= now
}

/// Judge an account against the policy: [`Decision::Accept`] when every [`Check`] passes,
/// otherwise a rejection for the first one (in [`Check::ORDER`]) that fails.
///
/// For a password login, `Accept` here means "may proceed to the password check"; the bind
/// result has the last word.
pub fn decide(facts: &Facts) -> Decision {
    match first_failure(facts, |_| true) {
        Some(reason) => Decision::Reject(reason),
        None => Decision::Accept,
    }
}

/// Why a live session of this account must end, if it must: the reason of the first check (in
/// [`Check::ORDER`]) that [ends live sessions](Check::ends_live_session) and fails; `None`
/// when the session may go on. A locked account, or one whose password must change or has
/// expired, keeps its session.
pub fn revocation_reason(facts: &Facts) -> Option<Reason> {
    first_failure(facts, Check::ends_live_session)
}

/// The reason of the first check in [`Check::ORDER`] that `applies` and fails.
fn first_failure(facts: &Facts, applies: impl Fn(Check) -> bool) -> Option<Reason> {
    Check::ORDER
        .iter()
        .find(|check| applies(**check) && !check.passes(facts))
        .map(|check| check.reason())
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use super::*;
    use crate::{AccountState, LogonHours};

    /// 2024-06-01T00:00:00Z, a Saturday: hour 144 of the week.
    const NOW: FileTime = FileTime(133_616_736_000_000_000);
    const DAY: i64 = 86_400 * 10_000_000;
    const HOUR: i64 = 3_600 * 10_000_000;
    const MINUTE: i64 = 60 * 10_000_000;

    /// `logonHours` allowing only the given hours of the week (0 = Sunday 00:00 UTC).
    fn hours(allowed: &[usize]) -> Option<LogonHours> {
        let mut octets = [0u8; 21];
        for hour in allowed {
            octets[hour / 8] |= 1 << (hour % 8);
        }
        Some(LogonHours::new(octets))
    }

    /// Every hour but `now`'s (Saturday 00:00–00:59 UTC).
    fn all_but_now() -> Option<LogonHours> {
        let every_other: Vec<usize> = (0..168).filter(|&h| h != 144).collect();
        hours(&every_other)
    }

    /// An account that passes every check; tests break one thing at a time.
    fn good() -> Facts {
        Facts {
            account: AccountState {
                user_account_control: 0x200, // NORMAL_ACCOUNT
                computed_account_control: 0,
                account_expires: FileTime::NEVER,
                pwd_last_set: FileTime(NOW.0 - 10 * DAY),
                allow_dialin: None,
                logon_hours: None,
            },
            telework_member: true,
            now: NOW,
        }
    }

    fn with(change: impl FnOnce(&mut Facts)) -> Facts {
        let mut facts = good();
        change(&mut facts);
        facts
    }

    #[test]
    fn a_good_account_is_accepted() {
        assert_eq!(decide(&good()), Decision::Accept);
        assert_eq!(
            decide(&with(|f| f.account.allow_dialin = Some(true))),
            Decision::Accept
        );
        assert_eq!(
            decide(&with(|f| f.account.logon_hours = Some(LogonHours::ALWAYS))),
            Decision::Accept
        );
        assert_eq!(
            decide(&with(|f| f.account.logon_hours = hours(&[144]))),
            Decision::Accept
        );
    }

    #[test]
    fn each_reason_on_its_own() {
        let cases = [
            (
                with(|f| f.account.user_account_control |= 0x2),
                Reason::AccountDisabled,
            ),
            (
                with(|f| f.account.account_expires = FileTime(NOW.0 - DAY)),
                Reason::AccountExpired,
            ),
            (
                with(|f| f.account.allow_dialin = Some(false)),
                Reason::DialinDenied,
            ),
            (with(|f| f.telework_member = false), Reason::TeleworkOff),
            (
                with(|f| f.account.logon_hours = all_but_now()),
                Reason::LogonRestricted,
            ),
            (
                with(|f| f.account.logon_hours = hours(&[])),
                Reason::LogonRestricted,
            ),
            (
                with(|f| f.account.computed_account_control = 0x10),
                Reason::AccountLocked,
            ),
            (
                // AD sets PASSWORD_EXPIRED in the computed attribute while pwdLastSet = 0.
                with(|f| {
                    f.account.pwd_last_set = FileTime(0);
                    f.account.computed_account_control = 0x80_0000;
                }),
                Reason::MustChangePassword,
            ),
            (
                with(|f| f.account.pwd_last_set = FileTime(0)),
                Reason::MustChangePassword,
            ),
            (
                with(|f| f.account.computed_account_control = 0x80_0000),
                Reason::PasswordExpired,
            ),
        ];
        for (facts, reason) in cases {
            assert_eq!(decide(&facts), Decision::Reject(reason), "{facts:?}");
        }
    }

    #[test]
    fn other_account_control_bits_do_not_matter() {
        // DONT_EXPIRE_PASSWORD, PASSWORD_NOTREQD, the stored LOCKOUT bit (unmaintained by AD).
        let facts = with(|f| f.account.user_account_control = 0x200 | 0x1_0000 | 0x20 | 0x10);
        assert_eq!(decide(&facts), Decision::Accept);
    }

    #[test]
    fn account_expires_edge_cases() {
        let at = |expires: i64| with(|f| f.account.account_expires = FileTime(expires));
        assert_eq!(decide(&at(0)), Decision::Accept, "0 means never");
        assert_eq!(
            decide(&at(i64::MAX)),
            Decision::Accept,
            "i64::MAX means never"
        );
        assert_eq!(decide(&at(NOW.0 + 1)), Decision::Accept, "future");
        assert_eq!(
            decide(&at(NOW.0 + 365 * DAY)),
            Decision::Accept,
            "far future"
        );
        let expired = Decision::Reject(Reason::AccountExpired);
        assert_eq!(decide(&at(NOW.0)), expired, "expires at this very instant");
        assert_eq!(decide(&at(NOW.0 - 1)), expired, "just past");
        assert_eq!(decide(&at(1)), expired, "1601");
        assert_eq!(decide(&at(-1)), expired, "negative: malformed, fail closed");
        assert_eq!(
            decide(&at(i64::MIN)),
            expired,
            "negative: malformed, fail closed"
        );
        assert_eq!(decide(&at(i64::MAX - 1)), Decision::Accept, "year 30828");
    }

    #[test]
    fn order_reports_the_most_lasting_problem() {
        let everything_wrong = Facts {
            account: AccountState {
                user_account_control: 0x202,
                computed_account_control: 0x80_0010,
                account_expires: FileTime(NOW.0 - DAY),
                pwd_last_set: FileTime(0),
                allow_dialin: Some(false),
                logon_hours: hours(&[]),
            },
            telework_member: false,
            now: NOW,
        };
        // Fix problems one at a time, in the documented order, and watch the reason move on.
        let mut facts = everything_wrong;
        let mut reasons = vec![];
        while let Decision::Reject(reason) = decide(&facts) {
            reasons.push(reason);
            match reason {
                Reason::AccountDisabled => facts.account.user_account_control = 0x200,
                Reason::AccountExpired => facts.account.account_expires = FileTime(0),
                Reason::DialinDenied => facts.account.allow_dialin = None,
                Reason::TeleworkOff => facts.telework_member = true,
                Reason::LogonRestricted => facts.account.logon_hours = None,
                Reason::AccountLocked => facts.account.computed_account_control &= !0x10,
                Reason::MustChangePassword => facts.account.pwd_last_set = FileTime(NOW.0 - DAY),
                Reason::PasswordExpired => facts.account.computed_account_control = 0,
                other => panic!("policy produced {other}"),
            }
        }
        assert_eq!(
            reasons,
            [
                Reason::AccountDisabled,
                Reason::AccountExpired,
                Reason::DialinDenied,
                Reason::TeleworkOff,
                Reason::LogonRestricted,
                Reason::AccountLocked,
                Reason::MustChangePassword,
                Reason::PasswordExpired,
            ]
        );
        let from_order: Vec<Reason> = Check::ORDER.iter().map(|c| c.reason()).collect();
        assert_eq!(reasons, from_order);
    }

    #[test]
    fn pairwise_order() {
        // For every pair of checks, breaking both reports the earlier one.
        let breakers: [fn(&mut Facts); 8] = [
            |f| f.account.user_account_control |= 0x2,
            |f| f.account.account_expires = FileTime(1),
            |f| f.account.allow_dialin = Some(false),
            |f| f.telework_member = false,
            |f| f.account.logon_hours = all_but_now(),
            |f| f.account.computed_account_control |= 0x10,
            |f| f.account.pwd_last_set = FileTime(0),
            |f| f.account.computed_account_control |= 0x80_0000,
        ];
        assert_eq!(breakers.len(), Check::ORDER.len());
        for (i, first) in breakers.iter().enumerate() {
            assert_eq!(
                decide(&with(first)),
                Decision::Reject(Check::ORDER[i].reason())
            );
            for second in &breakers[i + 1..] {
                let facts = with(|f| {
                    first(f);
                    second(f);
                });
                assert_eq!(decide(&facts), Decision::Reject(Check::ORDER[i].reason()));
            }
        }
    }

    #[test]
    fn logon_hours_edges() {
        let at = |now: i64, allowed: &[usize]| {
            decide(&with(|f| {
                f.now = FileTime(now);
                f.account.logon_hours = hours(allowed);
            }))
        };
        let refused = Decision::Reject(Reason::LogonRestricted);
        // Saturday 00:00-00:59 allowed: its last minute and last tick are in, the next hour not.
        assert_eq!(at(NOW.0 + 59 * MINUTE, &[144]), Decision::Accept);
        assert_eq!(at(NOW.0 + HOUR - 1, &[144]), Decision::Accept);
        assert_eq!(at(NOW.0 + HOUR, &[144]), refused);
        assert_eq!(at(NOW.0 - 1, &[144]), refused);
        // The week wraps: Saturday 23:xx is the last bit, Sunday 00:xx the first.
        let saturday_late = NOW.0 + 23 * HOUR + 30 * MINUTE;
        let sunday_early = NOW.0 + DAY + 30 * MINUTE;
        assert_eq!(at(saturday_late, &[167]), Decision::Accept);
        assert_eq!(at(saturday_late, &[0]), refused);
        assert_eq!(at(sunday_early, &[0]), Decision::Accept);
        assert_eq!(at(sunday_early, &[167]), refused);
        assert_eq!(at(NOW.0 + DAY - 1, &[167]), Decision::Accept);
        assert_eq!(at(NOW.0 + DAY, &[167]), refused);
        // A week later the same bits apply.
        assert_eq!(at(sunday_early + 7 * DAY, &[0]), Decision::Accept);
    }

    #[test]
    fn the_administrators_decisions_end_live_sessions() {
        let ending: Vec<Check> = Check::ORDER
            .iter()
            .copied()
            .filter(|check| check.ends_live_session())
            .collect();
        assert_eq!(
            ending,
            [
                Check::AccountEnabled,
                Check::AccountNotExpired,
                Check::DialinAllowed,
                Check::TeleworkMember,
                Check::WithinLogonHours,
            ]
        );
        assert_eq!(revocation_reason(&good()), None);
        for (facts, reason) in [
            (
                with(|f| f.account.user_account_control |= 0x2),
                Reason::AccountDisabled,
            ),
            (
                with(|f| f.account.account_expires = FileTime(NOW.0 - 1)),
                Reason::AccountExpired,
            ),
            (
                with(|f| f.account.allow_dialin = Some(false)),
                Reason::DialinDenied,
            ),
            (with(|f| f.telework_member = false), Reason::TeleworkOff),
            (
                with(|f| f.account.logon_hours = all_but_now()),
                Reason::LogonRestricted,
            ),
        ] {
            assert_eq!(revocation_reason(&facts), Some(reason), "{facts:?}");
            assert_eq!(decide(&facts), Decision::Reject(reason), "{facts:?}");
        }
    }

    #[test]
    fn a_lockout_or_the_password_age_does_not_end_a_live_session() {
        for facts in [
            with(|f| f.account.computed_account_control = 0x10),
            with(|f| f.account.pwd_last_set = FileTime(0)),
            with(|f| {
                f.account.pwd_last_set = FileTime(0);
                f.account.computed_account_control = 0x80_0000;
            }),
            with(|f| f.account.computed_account_control = 0x80_0000),
            with(|f| f.account.computed_account_control = 0x80_0010),
        ] {
            assert!(matches!(decide(&facts), Decision::Reject(_)), "{facts:?}");
            assert_eq!(revocation_reason(&facts), None, "{facts:?}");
        }
    }

    #[test]
    fn a_revocation_names_the_same_reason_as_a_login_would() {
        // With an administrator's decision among the failures, the first one is the reason
        // for both: the checks that do not end sessions come after all of those that do.
        for facts in [
            with(|f| {
                f.account.computed_account_control = 0x80_0010;
                f.telework_member = false;
            }),
            with(|f| {
                f.account.pwd_last_set = FileTime(0);
                f.account.logon_hours = all_but_now();
            }),
            with(|f| {
                f.account.user_account_control |= 0x2;
                f.telework_member = false;
                f.account.computed_account_control = 0x10;
            }),
        ] {
            let Decision::Reject(reason) = decide(&facts) else {
                panic!("{facts:?} accepted");
            };
            assert_eq!(revocation_reason(&facts), Some(reason), "{facts:?}");
        }
        let last_ending = Check::ORDER
            .iter()
            .rposition(|check| check.ends_live_session())
            .unwrap();
        assert!(Check::ORDER[..=last_ending]
            .iter()
            .all(|check| check.ends_live_session()));
    }

    #[test]
    fn every_check_has_its_own_reason_and_none_is_a_bind_reason() {
        let reasons: HashSet<Reason> = Check::ORDER.iter().map(|c| c.reason()).collect();
        assert_eq!(reasons.len(), Check::ORDER.len());
        for reason in [
            Reason::BadPassword,
            Reason::EmptyPassword,
            Reason::UnknownUser,
            Reason::DirectoryUnavailable,
        ] {
            assert!(!reasons.contains(&reason));
        }
    }
}
