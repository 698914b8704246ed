//! What one login check hands back to the binary: the decision and, when the name resolved to
//! exactly one AD account, which account that was (for the audit trail) and, on an accept, the
//! per-group reply attributes; and what `explain` hands back: the account and the facts,
//! undecided.

use crate::{Decision, Facts, ReplyAttributes};

/// The result of [`Authorizer::check_password`](crate::Authorizer::check_password).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    /// Accept or reject, and why.
    pub decision: Decision,
    /// The AD object the user name resolved to, when it resolved to exactly one.
    pub account: Option<AccountSummary>,
    /// What an accept carries by the user's groups (`[[policy.reply]]`); empty on a reject.
    pub reply: ReplyAttributes,
}

/// The identity of one AD user object, as the audit trail records it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccountSummary {
    /// `distinguishedName`.
    pub dn: String,
    /// `objectGUID` in AD's canonical text form (`8-4-4-4-12`, first three groups
    /// little-endian), lowercase, as PowerShell's `ObjectGUID` prints it.
    pub object_guid: String,
    /// `objectSid` in SDDL form, e.g. `S-1-5-21-…-1104`.
    pub object_sid: String,
    /// `userPrincipalName`, when the account has one.
    pub user_principal_name: Option<String>,
    /// `sAMAccountName` (the pre-Windows 2000 logon name).
    pub sam_account_name: String,
}

/// What [`Authorizer::explain`](crate::Authorizer::explain) found for one user name: the
/// account and the facts the policy judges, before any password.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Explanation {
    pub account: AccountSummary,
    pub facts: Facts,
}
