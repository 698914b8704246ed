//! The facts the access policy judges, exactly as AD stores them.
//!
//! These are gathered by the directory code (one user search and one membership search for a
//! login, one search by objectGUID to re-check a live session) and judged by
//! [`decide`](crate::decide) or [`revocation_reason`](crate::revocation_reason) without any
//! I/O. They hold raw AD values rather than interpretations so that `adgate explain` can print
//! what AD said next to what adgate made of it, and so that certificate logins (no password)
//! can be judged by the same rules.

use crate::{FileTime, LogonHours};

/// `userAccountControl` bit: ACCOUNTDISABLE.
pub(crate) const UAC_ACCOUNT_DISABLED: u32 = 0x0000_0002;
/// `msDS-User-Account-Control-Computed` bit: LOCKOUT (the stored userAccountControl bit is not
/// maintained by AD; only the computed attribute is reliable).
pub(crate) const COMPUTED_LOCKED_OUT: u32 = 0x0000_0010;
/// `msDS-User-Account-Control-Computed` bit: PASSWORD_EXPIRED (also set while pwdLastSet = 0).
pub(crate) const COMPUTED_PASSWORD_EXPIRED: u32 = 0x0080_0000;

/// Account state attributes read from one AD user object.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AccountState {
    /// `userAccountControl`.
    pub user_account_control: u32,
    /// `msDS-User-Account-Control-Computed` (constructed; lockout and password expiry).
    pub computed_account_control: u32,
    /// `accountExpires`; 0 and `i64::MAX` mean the account never expires.
    pub account_expires: FileTime,
    /// `pwdLastSet`; 0 means "user must change password at next logon".
    pub pwd_last_set: FileTime,
    /// `msNPAllowDialin`: `Some(true)` allow, `Some(false)` deny, `None` (absent) means
    /// "control access through NPS network policy", which adgate treats as allowed.
    pub allow_dialin: Option<bool>,
    /// `logonHours`: `None` (absent) means every hour is allowed.
    pub logon_hours: Option<LogonHours>,
}

/// Everything [`decide`](crate::decide) looks at for one login.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Facts {
    /// The account's state attributes.
    pub account: AccountState,
    /// Whether the account is a member of the telework group, directly or through nested
    /// groups (LDAP_MATCHING_RULE_IN_CHAIN).
    pub telework_member: bool,
    /// The moment of the decision.
    pub now: FileTime,
}
