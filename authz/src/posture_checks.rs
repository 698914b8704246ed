//! The telework policy's demands on the domain itself, judged from what was read
//! ([`AdPosture`]) without I/O: one function per policy item, each giving one [`Finding`].
//!
//! The policy: passwords of 12 characters or more; a lockout after at most 10 failed logins,
//! lasting at least 30 minutes, failures counted over at least 30 minutes; the built-in
//! Administrator renamed; Guest off. A breach of these is `fail`. Telework members in a state
//! that keeps them out anyway (disabled, expired, locked) or that calls for a look (inactive,
//! password never expires, names a certificate login finds twice) are `warn`: housekeeping, not
//! a hole. Members that need no password or are privileged (`adminCount`) are `fail`: a VPN
//! login with them is what the policy exists to prevent. Account states are judged by the same
//! rules a login is ([`Check::passes`]), so `check-ad` and the login never disagree.

use std::collections::BTreeMap;

use crate::facts::UAC_ACCOUNT_DISABLED;
use crate::posture::{AdInterval, AdPosture, BuiltinAccount, PasswordPolicy, TeleworkMember};
use crate::{Check, Facts, FileTime};

/// The shortest password the policy allows.
pub const POLICY_MIN_PASSWORD_LENGTH: u32 = 12;
/// The most failed logins the policy allows before a lockout.
pub const POLICY_MAX_LOCKOUT_THRESHOLD: u32 = 10;
/// The shortest lockout, and the shortest window failures are counted over, in minutes.
pub const POLICY_MIN_LOCKOUT_MINUTES: u64 = 30;
/// How long a telework member may go without logging in, unless configured otherwise.
pub const DEFAULT_INACTIVE_AFTER_DAYS: u32 = 90;

/// The well-known RID of the built-in Administrator (MS-DTYP 2.4.2.4).
pub const ADMINISTRATOR_RID: u32 = 500;
/// The well-known RID of the built-in Guest.
pub const GUEST_RID: u32 = 501;

/// `userAccountControl` bit PASSWD_NOTREQD (MS-ADTS 2.2.16).
const UAC_PASSWORD_NOT_REQUIRED: u32 = 0x0000_0020;
/// `userAccountControl` bit DONT_EXPIRE_PASSWORD.
const UAC_DONT_EXPIRE_PASSWORD: u32 = 0x0001_0000;
/// FILETIME intervals in a day.
const TICKS_PER_DAY: i64 = 86_400 * 10_000_000;

/// How a policy item stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum FindingStatus {
    Pass,
    Warn,
    Fail,
}

impl FindingStatus {
    /// All statuses, for metric labels.
    pub const ALL: [FindingStatus; 3] = [
        FindingStatus::Pass,
        FindingStatus::Warn,
        FindingStatus::Fail,
    ];

    pub const fn as_str(self) -> &'static str {
        match self {
            FindingStatus::Pass => "pass",
            FindingStatus::Warn => "warn",
            FindingStatus::Fail => "fail",
        }
    }
}

/// The policy items `check-ad` judges, in the order it reports them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PostureCheck {
    MinPasswordLength,
    LockoutThreshold,
    LockoutDuration,
    LockoutObservationWindow,
    FineGrainedPasswordPolicies,
    AdministratorRenamed,
    GuestDisabled,
    TeleworkMembersDisabled,
    TeleworkMembersExpired,
    TeleworkMembersLocked,
    TeleworkMembersInactive,
    TeleworkMembersPasswordNotRequired,
    TeleworkMembersPasswordNeverExpires,
    TeleworkMembersPrivileged,
    AmbiguousCertificateNames,
}

impl PostureCheck {
    /// Every check, in report order.
    pub const ALL: [PostureCheck; 15] = [
        PostureCheck::MinPasswordLength,
        PostureCheck::LockoutThreshold,
        PostureCheck::LockoutDuration,
        PostureCheck::LockoutObservationWindow,
        PostureCheck::FineGrainedPasswordPolicies,
        PostureCheck::AdministratorRenamed,
        PostureCheck::GuestDisabled,
        PostureCheck::TeleworkMembersDisabled,
        PostureCheck::TeleworkMembersExpired,
        PostureCheck::TeleworkMembersLocked,
        PostureCheck::TeleworkMembersInactive,
        PostureCheck::TeleworkMembersPasswordNotRequired,
        PostureCheck::TeleworkMembersPasswordNeverExpires,
        PostureCheck::TeleworkMembersPrivileged,
        PostureCheck::AmbiguousCertificateNames,
    ];

    /// The check's name in reports, JSON, metric labels and the trail.
    pub const fn as_str(self) -> &'static str {
        match self {
            PostureCheck::MinPasswordLength => "min_password_length",
            PostureCheck::LockoutThreshold => "lockout_threshold",
            PostureCheck::LockoutDuration => "lockout_duration",
            PostureCheck::LockoutObservationWindow => "lockout_observation_window",
            PostureCheck::FineGrainedPasswordPolicies => "fine_grained_password_policies",
            PostureCheck::AdministratorRenamed => "administrator_renamed",
            PostureCheck::GuestDisabled => "guest_disabled",
            PostureCheck::TeleworkMembersDisabled => "telework_members_disabled",
            PostureCheck::TeleworkMembersExpired => "telework_members_expired",
            PostureCheck::TeleworkMembersLocked => "telework_members_locked",
            PostureCheck::TeleworkMembersInactive => "telework_members_inactive",
            PostureCheck::TeleworkMembersPasswordNotRequired => {
                "telework_members_password_not_required"
            }
            PostureCheck::TeleworkMembersPasswordNeverExpires => {
                "telework_members_password_never_expires"
            }
            PostureCheck::TeleworkMembersPrivileged => "telework_members_privileged",
            PostureCheck::AmbiguousCertificateNames => "ambiguous_certificate_names",
        }
    }
}

/// How one policy item stands, what was found, and the accounts (or policies) it names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    pub check: PostureCheck,
    pub status: FindingStatus,
    pub detail: String,
    pub accounts: Vec<String>,
}

impl Finding {
    fn new(check: PostureCheck, status: FindingStatus, detail: String) -> Finding {
        Finding {
            check,
            status,
            detail,
            accounts: Vec::new(),
        }
    }
}

/// What the judgement may be told.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PostureSettings {
    /// A telework member whose last logon is older is inactive.
    pub inactive_after_days: u32,
}

impl Default for PostureSettings {
    fn default() -> Self {
        PostureSettings {
            inactive_after_days: DEFAULT_INACTIVE_AFTER_DAYS,
        }
    }
}

/// Judges `posture` at `now`: one [`Finding`] per [`PostureCheck`], in [`PostureCheck::ALL`]'s
/// order.
pub fn judge_posture(
    posture: &AdPosture,
    settings: &PostureSettings,
    now: FileTime,
) -> Vec<Finding> {
    let domain = &posture.domain_policy;
    let members = &posture.telework_members;
    vec![
        domain_rule(PostureCheck::MinPasswordLength, min_length_problem(domain)),
        domain_rule(PostureCheck::LockoutThreshold, threshold_problem(domain)),
        domain_rule(PostureCheck::LockoutDuration, duration_problem(domain)),
        domain_rule(
            PostureCheck::LockoutObservationWindow,
            window_problem(domain),
        ),
        fine_grained(posture),
        administrator_renamed(posture.administrator.as_ref()),
        guest_disabled(posture.guest.as_ref()),
        members_where(
            PostureCheck::TeleworkMembersDisabled,
            FindingStatus::Warn,
            members,
            "disabled (cannot log in; still in the telework group)",
            |member| !passes(Check::AccountEnabled, member, now),
        ),
        members_where(
            PostureCheck::TeleworkMembersExpired,
            FindingStatus::Warn,
            members,
            "expired (accountExpires is past; still in the telework group)",
            |member| !passes(Check::AccountNotExpired, member, now),
        ),
        members_where(
            PostureCheck::TeleworkMembersLocked,
            FindingStatus::Warn,
            members,
            "locked out now (failed logins; AD unlocks them after lockoutDuration)",
            |member| !passes(Check::AccountNotLocked, member, now),
        ),
        members_where(
            PostureCheck::TeleworkMembersInactive,
            FindingStatus::Warn,
            members,
            &format!(
                "no logon for more than {} days (lastLogonTimestamp, up to 14 days behind)",
                settings.inactive_after_days
            ),
            |member| inactive(member, settings.inactive_after_days, now),
        ),
        members_where(
            PostureCheck::TeleworkMembersPasswordNotRequired,
            FindingStatus::Fail,
            members,
            "PASSWD_NOTREQD set (AD lets them have an empty password)",
            |member| member.state.user_account_control & UAC_PASSWORD_NOT_REQUIRED != 0,
        ),
        members_where(
            PostureCheck::TeleworkMembersPasswordNeverExpires,
            FindingStatus::Warn,
            members,
            "password never expires (DONT_EXPIRE_PASSWORD set)",
            |member| member.state.user_account_control & UAC_DONT_EXPIRE_PASSWORD != 0,
        ),
        members_where(
            PostureCheck::TeleworkMembersPrivileged,
            FindingStatus::Fail,
            members,
            "privileged (adminCount = 1: in, or once in, a protected admin group); use a \
             separate unprivileged account for telework",
            |member| member.admin_count,
        ),
        ambiguous_certificate_names(posture),
    ]
}

/// Why `policy` allows passwords shorter than the policy's minimum, if it does.
fn min_length_problem(policy: &PasswordPolicy) -> Result<String, String> {
    let text = format!(
        "minimum password length {} (policy: at least {POLICY_MIN_PASSWORD_LENGTH})",
        policy.min_length
    );
    if policy.min_length >= POLICY_MIN_PASSWORD_LENGTH {
        Ok(text)
    } else {
        Err(text)
    }
}

/// 0 never locks an account out; more than the maximum gives a guesser too many tries.
fn threshold_problem(policy: &PasswordPolicy) -> Result<String, String> {
    let threshold = policy.lockout_threshold;
    let text = if threshold == 0 {
        format!(
            "lockout threshold 0: accounts are never locked out (policy: 1 to \
             {POLICY_MAX_LOCKOUT_THRESHOLD} failed logins)"
        )
    } else {
        format!(
            "lockout after {threshold} failed logins (policy: 1 to \
             {POLICY_MAX_LOCKOUT_THRESHOLD})"
        )
    };
    if (1..=POLICY_MAX_LOCKOUT_THRESHOLD).contains(&threshold) {
        Ok(text)
    } else {
        Err(text)
    }
}

fn duration_problem(policy: &PasswordPolicy) -> Result<String, String> {
    long_enough("lockout duration", policy.lockout_duration)
}

fn window_problem(policy: &PasswordPolicy) -> Result<String, String> {
    long_enough("lockout observation window", policy.observation_window)
}

fn long_enough(what: &str, interval: AdInterval) -> Result<String, String> {
    let text = format!(
        "{what} {} (policy: at least {POLICY_MIN_LOCKOUT_MINUTES} min)",
        interval.describe()
    );
    if interval
        .minutes()
        .is_none_or(|minutes| minutes >= POLICY_MIN_LOCKOUT_MINUTES)
    {
        Ok(text)
    } else {
        Err(text)
    }
}

/// One rule a password policy is held to: `Ok(what it says)` or `Err(why it is weaker)`.
type PasswordRule = fn(&PasswordPolicy) -> Result<String, String>;

/// The rules a password policy is held to.
const PASSWORD_RULES: [PasswordRule; 4] = [
    min_length_problem,
    threshold_problem,
    duration_problem,
    window_problem,
];

fn domain_rule(check: PostureCheck, judged: Result<String, String>) -> Finding {
    match judged {
        Ok(text) => Finding::new(check, FindingStatus::Pass, format!("domain: {text}")),
        Err(text) => Finding::new(check, FindingStatus::Fail, format!("domain: {text}")),
    }
}

/// A fine-grained policy in force for a telework member replaces the domain's for them: weaker
/// than the policy on any rule is a fail naming the PSO and the members; one the service account
/// may not read cannot be judged, a warning.
fn fine_grained(posture: &AdPosture) -> Finding {
    let check = PostureCheck::FineGrainedPasswordPolicies;
    let mut weak = Vec::new();
    let mut unreadable = Vec::new();
    let mut accounts = Vec::new();
    for pso in &posture.fine_grained {
        let applies_to = pso.telework_members.join(", ");
        let Some(policy) = &pso.policy else {
            unreadable.push(format!("{} (applies to {applies_to})", pso.dn));
            accounts.extend(pso.telework_members.iter().cloned());
            continue;
        };
        let problems: Vec<String> = PASSWORD_RULES
            .iter()
            .filter_map(|rule| rule(policy).err())
            .collect();
        if !problems.is_empty() {
            weak.push(format!(
                "{}: {}; applies to {applies_to}",
                pso.dn,
                problems.join("; ")
            ));
            accounts.extend(pso.telework_members.iter().cloned());
        }
    }
    accounts.sort();
    accounts.dedup();
    let (status, detail) = match (weak.is_empty(), unreadable.is_empty()) {
        (false, _) => (
            FindingStatus::Fail,
            format!("weaker than the policy: {}", weak.join(" | ")),
        ),
        (true, false) => (
            FindingStatus::Warn,
            format!(
                "in force for telework members but not readable by the service account \
                 (grant it read access to the Password Settings Container): {}",
                unreadable.join(" | ")
            ),
        ),
        (true, true) => (
            FindingStatus::Pass,
            match posture.fine_grained.len() {
                0 => "no fine-grained password policy is in force for a telework member".into(),
                count => format!(
                    "{count} fine-grained password policies in force for telework members, \
                     none weaker than the policy"
                ),
            },
        ),
    };
    Finding {
        check,
        status,
        detail,
        accounts,
    }
}

fn administrator_renamed(administrator: Option<&BuiltinAccount>) -> Finding {
    let check = PostureCheck::AdministratorRenamed;
    match administrator {
        None => Finding::new(
            check,
            FindingStatus::Warn,
            format!("the built-in Administrator (RID {ADMINISTRATOR_RID}) was not found"),
        ),
        Some(account)
            if account
                .sam_account_name
                .eq_ignore_ascii_case("Administrator") =>
        {
            Finding {
                check,
                status: FindingStatus::Fail,
                detail: format!(
                    "the built-in Administrator (RID {ADMINISTRATOR_RID}) is still named \
                     Administrator: rename it"
                ),
                accounts: vec![account.sam_account_name.clone()],
            }
        }
        Some(account) => Finding::new(
            check,
            FindingStatus::Pass,
            format!(
                "the built-in Administrator (RID {ADMINISTRATOR_RID}) is named {}",
                account.sam_account_name
            ),
        ),
    }
}

fn guest_disabled(guest: Option<&BuiltinAccount>) -> Finding {
    let check = PostureCheck::GuestDisabled;
    match guest {
        None => Finding::new(
            check,
            FindingStatus::Pass,
            format!("no built-in Guest (RID {GUEST_RID}) found"),
        ),
        Some(account) if account.user_account_control & UAC_ACCOUNT_DISABLED == 0 => Finding {
            check,
            status: FindingStatus::Fail,
            detail: format!("the built-in Guest (RID {GUEST_RID}) is enabled: disable it"),
            accounts: vec![account.sam_account_name.clone()],
        },
        Some(account) => Finding::new(
            check,
            FindingStatus::Pass,
            format!(
                "the built-in Guest (RID {GUEST_RID}, {}) is disabled",
                account.sam_account_name
            ),
        ),
    }
}

/// The state rule `check` of a login, applied to `member`.
fn passes(check: Check, member: &TeleworkMember, now: FileTime) -> bool {
    check.passes(&Facts {
        account: member.state,
        telework_member: true,
        now,
    })
}

/// No logon for longer than `days`; an account that never logged in counts from its creation
/// (a new hire is not inactive), or as inactive when its creation time is unknown.
fn inactive(member: &TeleworkMember, days: u32, now: FileTime) -> bool {
    let limit = FileTime(
        now.0
            .saturating_sub(i64::from(days).saturating_mul(TICKS_PER_DAY)),
    );
    match (member.last_logon, member.created) {
        (Some(last), _) => last < limit,
        (None, Some(created)) => created < limit,
        (None, None) => true,
    }
}

fn members_where(
    check: PostureCheck,
    status: FindingStatus,
    members: &[TeleworkMember],
    what: &str,
    matches: impl Fn(&TeleworkMember) -> bool,
) -> Finding {
    let mut accounts: Vec<String> = members
        .iter()
        .filter(|member| matches(member))
        .map(|member| member.sam_account_name.clone())
        .collect();
    accounts.sort();
    if accounts.is_empty() {
        return Finding::new(
            check,
            FindingStatus::Pass,
            format!("none of the {} telework members", members.len()),
        );
    }
    Finding {
        check,
        status,
        detail: format!(
            "{} of the {} telework members: {what}",
            accounts.len(),
            members.len()
        ),
        accounts,
    }
}

/// A UPN, or an e-mail address, that more than one account carries: a certificate naming it
/// is refused as ambiguous (the login never guesses which account is meant).
fn ambiguous_certificate_names(posture: &AdPosture) -> Finding {
    let check = PostureCheck::AmbiguousCertificateNames;
    let mut holders: BTreeMap<(&str, String), Vec<&str>> = BTreeMap::new();
    for account in &posture.certificate_names {
        let mut names: Vec<(&str, String)> = account
            .user_principal_name
            .iter()
            .map(|upn| ("UPN", upn.to_lowercase()))
            .chain(
                account
                    .emails
                    .iter()
                    .map(|email| ("e-mail", email.to_lowercase())),
            )
            .collect();
        names.sort();
        names.dedup();
        for name in names {
            holders
                .entry(name)
                .or_default()
                .push(&account.sam_account_name);
        }
    }
    let mut shared = Vec::new();
    let mut accounts = Vec::new();
    for ((kind, name), mut owners) in holders {
        if owners.len() < 2 {
            continue;
        }
        owners.sort_unstable();
        shared.push(format!("{kind} {name}: {}", owners.join(", ")));
        accounts.extend(owners.into_iter().map(str::to_owned));
    }
    accounts.sort();
    accounts.dedup();
    if shared.is_empty() {
        return Finding::new(
            check,
            FindingStatus::Pass,
            format!(
                "every UPN and e-mail address of the {} accounts that have one is unique",
                posture.certificate_names.len()
            ),
        );
    }
    Finding {
        check,
        status: FindingStatus::Warn,
        detail: format!(
            "shared by several accounts, so a certificate naming it is refused as ambiguous: {}",
            shared.join("; ")
        ),
        accounts,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::posture::{CertificateNames, FineGrainedPolicy};
    use crate::AccountState;

    const NOW: FileTime = FileTime(133_616_736_000_000_000);
    const DAY: i64 = TICKS_PER_DAY;
    const THIRTY_MIN: AdInterval = AdInterval(-18_000_000_000);

    fn telework_policy() -> PasswordPolicy {
        PasswordPolicy {
            min_length: 12,
            lockout_threshold: 10,
            lockout_duration: THIRTY_MIN,
            observation_window: THIRTY_MIN,
        }
    }

    fn member(name: &str) -> TeleworkMember {
        TeleworkMember {
            sam_account_name: name.into(),
            state: AccountState {
                user_account_control: 512,
                computed_account_control: 0,
                account_expires: FileTime::NEVER,
                pwd_last_set: FileTime(NOW.0 - DAY),
                allow_dialin: None,
                logon_hours: None,
            },
            last_logon: Some(FileTime(NOW.0 - DAY)),
            created: Some(FileTime(NOW.0 - 400 * DAY)),
            admin_count: false,
            resultant_pso: None,
        }
    }

    fn builtin(name: &str, uac: u32) -> Option<BuiltinAccount> {
        Some(BuiltinAccount {
            sam_account_name: name.into(),
            user_account_control: uac,
        })
    }

    /// A domain that keeps every item of the policy.
    fn compliant() -> AdPosture {
        AdPosture {
            domain_dn: "DC=corp,DC=example,DC=test".into(),
            domain_policy: telework_policy(),
            fine_grained: vec![],
            administrator: builtin("it-root", 512),
            guest: builtin("Guest", 514),
            telework_members: vec![member("alice"), member("bob")],
            certificate_names: vec![
                CertificateNames {
                    sam_account_name: "alice".into(),
                    user_principal_name: Some("alice@corp".into()),
                    emails: vec!["alice@corp".into()],
                },
                CertificateNames {
                    sam_account_name: "bob".into(),
                    user_principal_name: Some("bob@corp".into()),
                    emails: vec![],
                },
            ],
        }
    }

    fn judge(posture: &AdPosture) -> Vec<Finding> {
        judge_posture(posture, &PostureSettings::default(), NOW)
    }

    fn finding(posture: &AdPosture, check: PostureCheck) -> Finding {
        judge(posture)
            .into_iter()
            .find(|finding| finding.check == check)
            .unwrap()
    }

    fn with(change: impl FnOnce(&mut AdPosture)) -> AdPosture {
        let mut posture = compliant();
        change(&mut posture);
        posture
    }

    #[test]
    fn a_compliant_domain_passes_every_check_in_report_order() {
        let findings = judge(&compliant());
        let checks: Vec<PostureCheck> = findings.iter().map(|f| f.check).collect();
        assert_eq!(checks, PostureCheck::ALL);
        for finding in &findings {
            assert_eq!(finding.status, FindingStatus::Pass, "{finding:?}");
            assert!(finding.accounts.is_empty(), "{finding:?}");
        }
    }

    #[test]
    fn each_domain_password_rule_has_its_edge() {
        let status = |change: fn(&mut PasswordPolicy), check| {
            finding(&with(|p| change(&mut p.domain_policy)), check).status
        };
        use FindingStatus::{Fail, Pass};
        use PostureCheck::*;
        assert_eq!(status(|p| p.min_length = 11, MinPasswordLength), Fail);
        assert_eq!(status(|p| p.min_length = 14, MinPasswordLength), Pass);
        assert_eq!(status(|p| p.lockout_threshold = 0, LockoutThreshold), Fail);
        assert_eq!(status(|p| p.lockout_threshold = 1, LockoutThreshold), Pass);
        assert_eq!(status(|p| p.lockout_threshold = 11, LockoutThreshold), Fail);
        assert_eq!(
            status(
                |p| p.lockout_duration = AdInterval(-29 * 600_000_000),
                LockoutDuration
            ),
            Fail
        );
        assert_eq!(
            status(
                |p| p.lockout_duration = AdInterval(i64::MIN),
                LockoutDuration
            ),
            Pass
        );
        assert_eq!(
            status(
                |p| p.observation_window = AdInterval(-29 * 600_000_000),
                LockoutObservationWindow
            ),
            Fail
        );
        assert_eq!(
            status(
                |p| p.observation_window = AdInterval(-60 * 600_000_000),
                LockoutObservationWindow
            ),
            Pass
        );
        let weak = finding(&with(|p| p.domain_policy.min_length = 7), MinPasswordLength);
        assert_eq!(
            weak.detail,
            "domain: minimum password length 7 (policy: at least 12)"
        );
    }

    #[test]
    fn a_fine_grained_policy_in_force_for_members_is_held_to_the_policy() {
        let pso = |policy| FineGrainedPolicy {
            dn: "CN=Short-Passwords,CN=Password Settings Container".into(),
            policy,
            telework_members: vec!["bob".into(), "grace".into()],
        };
        let judged = |policy| {
            finding(
                &with(|p| p.fine_grained = vec![pso(policy)]),
                PostureCheck::FineGrainedPasswordPolicies,
            )
        };
        let weak = judged(Some(PasswordPolicy {
            min_length: 8,
            ..telework_policy()
        }));
        assert_eq!(weak.status, FindingStatus::Fail);
        assert_eq!(weak.accounts, ["bob", "grace"]);
        assert!(
            weak.detail.contains("CN=Short-Passwords")
                && weak.detail.contains("minimum password length 8")
                && weak.detail.contains("applies to bob, grace"),
            "{}",
            weak.detail
        );
        let stronger = judged(Some(PasswordPolicy {
            min_length: 16,
            ..telework_policy()
        }));
        assert_eq!(stronger.status, FindingStatus::Pass);
        assert!(stronger.accounts.is_empty());
        let unreadable = judged(None);
        assert_eq!(unreadable.status, FindingStatus::Warn);
        assert_eq!(unreadable.accounts, ["bob", "grace"]);
        assert!(unreadable.detail.contains("Password Settings Container"));
    }

    #[test]
    fn the_builtin_accounts() {
        let admin = |name: &str| {
            finding(
                &with(|p| p.administrator = builtin(name, 512)),
                PostureCheck::AdministratorRenamed,
            )
        };
        let unrenamed = admin("administrator");
        assert_eq!(unrenamed.status, FindingStatus::Fail);
        assert_eq!(unrenamed.accounts, ["administrator"]);
        assert_eq!(admin("it-root").status, FindingStatus::Pass);
        let guest = |uac| {
            finding(
                &with(|p| p.guest = builtin("Guest", uac)),
                PostureCheck::GuestDisabled,
            )
        };
        assert_eq!(guest(512).status, FindingStatus::Fail);
        assert_eq!(guest(512).accounts, ["Guest"]);
        assert_eq!(guest(514).status, FindingStatus::Pass);
    }

    #[test]
    fn members_are_named_by_what_is_wrong_with_them() {
        let posture = with(|p| {
            let mut disabled = member("bob");
            disabled.state.user_account_control |= UAC_ACCOUNT_DISABLED;
            let mut expired = member("carol");
            expired.state.account_expires = FileTime(NOW.0 - DAY);
            let mut locked = member("dave");
            locked.state.computed_account_control = 0x10;
            let mut no_password = member("erin");
            no_password.state.user_account_control |= UAC_PASSWORD_NOT_REQUIRED;
            let mut forever = member("frank");
            forever.state.user_account_control |= UAC_DONT_EXPIRE_PASSWORD;
            let mut admin = member("grace");
            admin.admin_count = true;
            p.telework_members = vec![
                member("alice"),
                disabled,
                expired,
                locked,
                no_password,
                forever,
                admin,
            ];
        });
        let named = |check| {
            let finding = finding(&posture, check);
            (finding.status, finding.accounts)
        };
        use FindingStatus::{Fail, Warn};
        use PostureCheck::*;
        let names = |n: &str| vec![n.to_owned()];
        assert_eq!(named(TeleworkMembersDisabled), (Warn, names("bob")));
        assert_eq!(named(TeleworkMembersExpired), (Warn, names("carol")));
        assert_eq!(named(TeleworkMembersLocked), (Warn, names("dave")));
        assert_eq!(
            named(TeleworkMembersPasswordNotRequired),
            (Fail, names("erin"))
        );
        assert_eq!(
            named(TeleworkMembersPasswordNeverExpires),
            (Warn, names("frank"))
        );
        assert_eq!(named(TeleworkMembersPrivileged), (Fail, names("grace")));
        let disabled = finding(&posture, TeleworkMembersDisabled);
        assert!(disabled.detail.starts_with("1 of the 7 telework members"));
    }

    #[test]
    fn inactivity_counts_from_the_last_logon_or_else_from_creation() {
        let inactive_names = |members: Vec<TeleworkMember>, days| {
            let posture = with(|p| p.telework_members = members);
            let settings = PostureSettings {
                inactive_after_days: days,
            };
            judge_posture(&posture, &settings, NOW)
                .into_iter()
                .find(|f| f.check == PostureCheck::TeleworkMembersInactive)
                .unwrap()
                .accounts
        };
        let mut stale = member("stale");
        stale.last_logon = Some(FileTime(NOW.0 - 91 * DAY));
        let mut recent = member("recent");
        recent.last_logon = Some(FileTime(NOW.0 - 89 * DAY));
        let mut new_hire = member("new-hire");
        new_hire.last_logon = None;
        new_hire.created = Some(FileTime(NOW.0 - 3 * DAY));
        let mut never = member("never");
        never.last_logon = None;
        let mut unknown = member("unknown");
        unknown.last_logon = None;
        unknown.created = None;
        let all = vec![stale, recent, new_hire, never, unknown];
        assert_eq!(
            inactive_names(all.clone(), 90),
            ["never", "stale", "unknown"]
        );
        assert_eq!(
            inactive_names(all, 2),
            ["never", "new-hire", "recent", "stale", "unknown"]
        );
    }

    #[test]
    fn a_shared_upn_or_email_names_every_holder() {
        let names = |sam: &str, upn: Option<&str>, emails: &[&str]| CertificateNames {
            sam_account_name: sam.into(),
            user_principal_name: upn.map(Into::into),
            emails: emails.iter().map(|e| e.to_string()).collect(),
        };
        let posture = with(|p| {
            p.certificate_names = vec![
                names("alice", Some("alice@corp"), &["alice@corp", "Alice@Corp"]),
                names("mallory1", Some("mallory1@corp"), &["shared@corp"]),
                names("mallory2", Some("mallory2@corp"), &["SHARED@corp"]),
                names("twin", Some("ALICE@corp"), &[]),
            ];
        });
        let finding = finding(&posture, PostureCheck::AmbiguousCertificateNames);
        assert_eq!(finding.status, FindingStatus::Warn);
        assert_eq!(finding.accounts, ["alice", "mallory1", "mallory2", "twin"]);
        assert!(
            finding
                .detail
                .contains("e-mail shared@corp: mallory1, mallory2")
                && finding.detail.contains("UPN alice@corp: alice, twin"),
            "{}",
            finding.detail
        );
        // One account carrying the same address in mail and proxyAddresses is not ambiguous.
        assert!(!finding.detail.contains("e-mail alice@corp"));
    }
}
