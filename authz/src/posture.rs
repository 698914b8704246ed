//! What `adgate check-ad` reads from AD to hold the domain against the telework policy, as AD
//! stores it: the domain's password and lockout policy, the fine-grained password policies, the
//! two built-in accounts, the telework group's members and every name a certificate login could
//! look an account up by. Read by `posture_reading.rs`, judged without I/O by
//! [`judge_posture`](crate::judge_posture), so the judgement is tested without a DC.

use crate::{AccountState, FileTime};

/// A time span as AD stores `lockoutDuration` and friends: a negative count of 100-nanosecond
/// intervals (MS-ADTS 6.1.1.2.6); `i64::MIN` means "forever" (an account stays locked until an
/// administrator unlocks it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AdInterval(pub i64);

impl AdInterval {
    /// 100-nanosecond intervals in a minute.
    const TICKS_PER_MINUTE: i64 = 60 * 10_000_000;

    /// Whole minutes, or `None` for "forever".
    pub fn minutes(self) -> Option<u64> {
        if self.0 == i64::MIN {
            return None;
        }
        Some(self.0.unsigned_abs() / Self::TICKS_PER_MINUTE.unsigned_abs())
    }

    /// `minutes` as text: "30 min" or "forever".
    pub fn describe(self) -> String {
        self.minutes()
            .map_or_else(|| "forever".to_owned(), |minutes| format!("{minutes} min"))
    }
}

/// The settings a password policy (the domain's, or a fine-grained one) sets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PasswordPolicy {
    /// `minPwdLength` / `msDS-MinimumPasswordLength`.
    pub min_length: u32,
    /// `lockoutThreshold` / `msDS-LockoutThreshold`: failed logins before a lockout; 0 never.
    pub lockout_threshold: u32,
    /// `lockoutDuration` / `msDS-LockoutDuration`.
    pub lockout_duration: AdInterval,
    /// `lockOutObservationWindow` / `msDS-LockoutObservationWindow`: how long failures count.
    pub observation_window: AdInterval,
}

/// A fine-grained password policy (`msDS-PasswordSettings`, a PSO) that is the resultant policy
/// (`msDS-ResultantPSO`, AD's own choice by precedence) of some telework members: for them it
/// replaces the domain's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FineGrainedPolicy {
    /// The PSO's DN.
    pub dn: String,
    /// Its settings; `None` when the service account may not read them (AD lets only
    /// administrators read PSOs unless delegated).
    pub policy: Option<PasswordPolicy>,
    /// sAMAccountNames of the telework members it applies to.
    pub telework_members: Vec<String>,
}

/// A built-in account found by its well-known RID.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BuiltinAccount {
    pub sam_account_name: String,
    pub user_account_control: u32,
}

/// One (nested) member of the telework group.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TeleworkMember {
    pub sam_account_name: String,
    /// The state attributes a login reads, judged by the same rules.
    pub state: AccountState,
    /// `lastLogonTimestamp` (replicated, up to ~14 days behind); `None` when never set.
    pub last_logon: Option<FileTime>,
    /// `whenCreated`; an account that never logged in is inactive only once it is old enough.
    pub created: Option<FileTime>,
    /// `adminCount` = 1: AD's SDProp protects it as a member of a privileged group (or it was
    /// one).
    pub admin_count: bool,
    /// `msDS-ResultantPSO`: the DN of the fine-grained password policy in force for it, if any.
    pub resultant_pso: Option<String>,
}

/// An account and the names a certificate login could find it by.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertificateNames {
    pub sam_account_name: String,
    /// `userPrincipalName`, matched by a certificate's UPN.
    pub user_principal_name: Option<String>,
    /// `mail` and the `smtp:` entries of `proxyAddresses`, matched by a certificate's e-mail.
    pub emails: Vec<String>,
}

/// Everything `check-ad` reads, in one go.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AdPosture {
    /// The domain's DN (rootDSE `defaultNamingContext`).
    pub domain_dn: String,
    pub domain_policy: PasswordPolicy,
    /// The fine-grained policies in force for telework members.
    pub fine_grained: Vec<FineGrainedPolicy>,
    /// RID 500; `None` if not found (not readable).
    pub administrator: Option<BuiltinAccount>,
    /// RID 501.
    pub guest: Option<BuiltinAccount>,
    pub telework_members: Vec<TeleworkMember>,
    /// Every user account under the base DN with a UPN or an e-mail address.
    pub certificate_names: Vec<CertificateNames>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn intervals_read_as_ad_writes_them() {
        assert_eq!(AdInterval(-18_000_000_000).minutes(), Some(30));
        assert_eq!(AdInterval(0).minutes(), Some(0));
        assert_eq!(AdInterval(i64::MIN).minutes(), None);
        assert_eq!(AdInterval(i64::MIN).describe(), "forever");
        assert_eq!(AdInterval(-6_000_000_000).describe(), "10 min");
    }
}
