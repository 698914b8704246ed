//! Why a login was refused, or a live session ended: the closed set of codes that the audit
//! trail, metrics and `adgate explain` share.
//!
//! Every refusal in adgate names exactly one of these. The code (`as_str`, also the serde form)
//! is stable: dashboards and log searches key on it, so a variant is never renamed.

use std::fmt;

use serde::{Serialize, Serializer};

/// The reason a login was refused or a live session ended. Each variant's documentation says
/// what an administrator should do about it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Reason {
    /// No user account matches the name, or the name is malformed (not UTF-8, empty, too long,
    /// control characters, a `DOMAIN\` prefix other than the domain's NetBIOS name, configured
    /// or read from AD). Check the spelling the VPN client sends and the `netbios_domain`
    /// setting.
    UnknownUser,
    /// More than one account matches the name (e.g. a duplicate userPrincipalName). Make the
    /// attribute unique in AD; adgate never guesses which account is meant.
    AmbiguousUser,
    /// The directory refused the password (AD bind code 52e). Usually a typo; repeated failures
    /// count toward the account lockout threshold.
    BadPassword,
    /// The request carried an empty password. It is refused before any bind because AD treats
    /// an empty-password simple bind as an anonymous bind that succeeds. Fix the client.
    EmptyPassword,
    /// The account is disabled (userAccountControl 0x2, or bind code 533). Enable it in AD if
    /// the person should have access.
    AccountDisabled,
    /// The account is locked out after too many bad passwords (bind code 775). Wait for the
    /// lockout duration or unlock it in AD; look for a client retrying an old password.
    AccountLocked,
    /// The account's `accountExpires` date has passed (bind code 701). Extend or clear the
    /// expiry date in AD if the person is still entitled.
    AccountExpired,
    /// The password has passed the domain's maximum password age (bind code 532). The user must
    /// change it (e.g. at a domain-joined PC); the VPN cannot change passwords.
    PasswordExpired,
    /// The account is flagged "user must change password at next logon" (pwdLastSet = 0, bind
    /// code 773). The user must set a new password first; the VPN cannot change passwords.
    MustChangePassword,
    /// The account's Network Access Permission is "Deny access" (msNPAllowDialin = FALSE). Set
    /// it to "Control access through NPS Network Policy" or "Allow access" on the Dial-in tab.
    DialinDenied,
    /// The account is not a member, directly or through nested groups, of the telework group.
    /// Add it (or a group containing it) if the person may work from home.
    TeleworkOff,
    /// The directory could not be asked: no domain controller reachable, TLS failure, the
    /// service account refused, a timeout, or an answer adgate could not trust. The log names
    /// the cause; the login is refused (fail closed).
    DirectoryUnavailable,
    /// The account's `logonHours` exclude the current hour (UTC), judged by adgate for every
    /// login and live session; or AD refuses the bind for logon hours or workstation
    /// restrictions (bind codes 530, 531), or another account restriction (52f, 534). Review
    /// the account's "Log On To"/"Logon Hours" settings.
    LogonRestricted,
    /// The request carried no credential adgate can check against AD (CHAP, MS-CHAP, EAP
    /// methods other than EAP-TLS, or none), or a password that is not valid UTF-8 and so
    /// cannot be any AD password. Configure the VPN client/NAS for PAP (or EAP-TLS) and UTF-8.
    UnsupportedCredential,
    /// The account of a live session no longer exists: deleted, or moved out of the configured
    /// `base_dn`. Only a live session ends for this reason; a login with the name is
    /// `unknown_user`. Restore the account from the AD Recycle Bin if the deletion was a
    /// mistake.
    AccountDeleted,
}

impl Reason {
    /// Every reason, in declaration order.
    pub const ALL: &'static [Reason] = &[
        Reason::UnknownUser,
        Reason::AmbiguousUser,
        Reason::BadPassword,
        Reason::EmptyPassword,
        Reason::AccountDisabled,
        Reason::AccountLocked,
        Reason::AccountExpired,
        Reason::PasswordExpired,
        Reason::MustChangePassword,
        Reason::DialinDenied,
        Reason::TeleworkOff,
        Reason::DirectoryUnavailable,
        Reason::LogonRestricted,
        Reason::UnsupportedCredential,
        Reason::AccountDeleted,
    ];

    /// The stable snake_case code, e.g. `"telework_off"`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Reason::UnknownUser => "unknown_user",
            Reason::AmbiguousUser => "ambiguous_user",
            Reason::BadPassword => "bad_password",
            Reason::EmptyPassword => "empty_password",
            Reason::AccountDisabled => "account_disabled",
            Reason::AccountLocked => "account_locked",
            Reason::AccountExpired => "account_expired",
            Reason::PasswordExpired => "password_expired",
            Reason::MustChangePassword => "must_change_password",
            Reason::DialinDenied => "dialin_denied",
            Reason::TeleworkOff => "telework_off",
            Reason::DirectoryUnavailable => "directory_unavailable",
            Reason::LogonRestricted => "logon_restricted",
            Reason::UnsupportedCredential => "unsupported_credential",
            Reason::AccountDeleted => "account_deleted",
        }
    }
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for Reason {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use super::*;

    #[test]
    fn codes_are_unique_snake_case_and_all_is_complete() {
        let codes: HashSet<&str> = Reason::ALL.iter().map(|r| r.as_str()).collect();
        assert_eq!(codes.len(), Reason::ALL.len());
        for code in codes {
            assert!(code.bytes().all(|b| b.is_ascii_lowercase() || b == b'_'));
        }
        assert_eq!(Reason::ALL.len(), 15);
    }

    #[test]
    fn display_and_serde_give_the_code() {
        assert_eq!(Reason::TeleworkOff.to_string(), "telework_off");
        for reason in Reason::ALL {
            let json = serde_json::to_string(reason).unwrap();
            assert_eq!(json, format!("\"{}\"", reason.as_str()));
        }
    }
}
