//! Active Directory access and the telework access policy for adgate.
//!
//! This crate knows AD and the policy, nothing of RADIUS packets. [`Authorizer::check_password`]
//! is the whole PAP login: the [`Directory`] gathers [`Facts`] about the account over LDAPS,
//! the pure function [`decide`] judges them (in the fixed order of [`Check::ORDER`]), and only an
//! account that passes is bound as to check its password. Every failure to ask AD refuses the
//! login as [`Reason::DirectoryUnavailable`].
//!
//! For live sessions (VPN tunnels that are up), [`Authorizer::recheck`] judges one account,
//! named by its objectGUID, by the checks that end a session ([`revocation_reason`]); a
//! failure to ask AD is an error there, and the session is kept. [`Directory::watch_changes`]
//! reports AD's change notifications from every configured DC, so that re-checks can follow
//! changes within seconds.
//!
//! For `adgate check-ad`, [`Authorizer::read_posture`] reads how the domain stands against the
//! telework policy (password and lockout policy, built-in accounts, the telework members'
//! states) and the pure [`judge_posture`] turns that into one [`Finding`] per policy item.
//!
//! The decision code asks AD through the sealed [`AccountDirectory`] trait: [`Directory`] over
//! LDAP, and with the `testing` feature `MemoryDirectory`, accounts held in memory, so the
//! code above this crate can be tested without a domain controller.

#![forbid(unsafe_code)]

mod account;
mod account_directory;
mod authorizer;
mod bind_pool;
mod bind_result;
mod certificate_login;
mod change_outbox;
mod change_watch;
mod config;
mod connector;
mod dc_discovery;
mod dc_health;
mod dc_list;
mod decision;
mod directory;
mod dn;
mod entry;
mod error;
mod facts;
mod filetime;
mod filter;
mod group_path;
mod logon_hours;
#[cfg(feature = "testing")]
mod memory_directory;
mod netbios_domain;
mod nt_response_login;
mod object_ids;
mod outcome;
mod policy;
mod posture;
mod posture_checks;
mod posture_reading;
mod reason;
mod recheck;
mod reply;
mod reply_hints;
mod reply_membership;
mod server;
mod service_account;
mod service_connection;
mod tls;
mod user_name;
mod winbind;

#[cfg(test)]
mod test_support;

pub use account_directory::AccountDirectory;
pub use authorizer::Authorizer;
pub use certificate_login::CertificateName;
pub use change_watch::{DirectoryChange, WatchSettings, WatchState, WatchStates, WatchStatus};
pub use config::{ConfigError, DirectoryConfig, PolicyConfig, DEFAULT_USER_BIND_CONNECTIONS};
pub use connector::READINESS_PROBE;
pub use dc_health::{DcErrorKind, DcHealth, DcStatus};
pub use decision::Decision;
pub use directory::Directory;
pub use error::{PostureReadError, RecheckError};
pub use facts::{AccountState, Facts};
pub use filetime::FileTime;
pub use group_path::MAX_GROUP_PATH_DEPTH;
pub use logon_hours::{LogonHours, LOGON_HOURS_OCTETS};
#[cfg(feature = "testing")]
pub use memory_directory::{MemoryDirectory, MemoryUser};
pub use nt_response_login::NtResponseOutcome;
pub use outcome::{AccountSummary, Explanation, Outcome};
pub use policy::{decide, revocation_reason, Check};
pub use posture::{
    AdInterval, AdPosture, BuiltinAccount, CertificateNames, FineGrainedPolicy, PasswordPolicy,
    TeleworkMember,
};
pub use posture_checks::{
    judge_posture, Finding, FindingStatus, PostureCheck, PostureSettings,
    DEFAULT_INACTIVE_AFTER_DAYS,
};
pub use reason::Reason;
pub use recheck::Recheck;
pub use reply::{reply_groups, select_reply, ReplyAttributes, ReplyRule};
pub use winbind::{
    NtResponseCheck, NtResponseError, NtResponseRefusal, Winbind, WinbindSettings,
    DEFAULT_NTLM_AUTH, DEFAULT_SMB_CONF, DEFAULT_WINBIND_HELPERS, DEFAULT_WINBIND_TIMEOUT,
};
