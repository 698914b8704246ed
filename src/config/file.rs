//! The configuration file as the admin writes it: one struct per TOML section, and the default
//! of every key that may be left out. Nothing here judges a value: each section's checks live
//! in the file of `config/` named after it, which turns the section into the settings type of
//! the module that uses them.

use std::net::SocketAddr;
use std::path::PathBuf;

use ipnet::IpNet;
use serde::Deserialize;
use toml::Spanned;

/// The whole file, as written by the admin.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct ConfigFile {
    pub(super) server: ServerSection,
    #[serde(default)]
    pub(super) clients: Vec<ClientSection>,
    pub(super) directory: Spanned<DirectorySection>,
    pub(super) policy: PolicySection,
    pub(super) audit: AuditSection,
    pub(super) syslog: Option<SyslogSection>,
    #[serde(default)]
    pub(super) throttle: ThrottleSection,
    pub(super) eap_tls: Option<EapTlsSection>,
    pub(super) eap: Option<EapSection>,
    pub(super) mschapv2: Option<MsChapV2Section>,
    pub(super) metrics: Option<MetricsSection>,
    pub(super) radsec: Option<RadsecSection>,
    pub(super) sessions: Option<SessionsSection>,
    pub(super) oversight: Option<OversightSection>,
}

/// `[oversight]`: the AD checks `serve` runs, and the configuration file watch. Absent: the
/// defaults.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct OversightSection {
    pub(super) ad_check_interval_s: Option<Spanned<u64>>,
    pub(super) inactive_days: Option<Spanned<u32>>,
    pub(super) config_check_interval_s: Option<Spanned<u64>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct MetricsSection {
    pub(super) listen: SocketAddr,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct ServerSection {
    pub(super) auth_listen: Spanned<Vec<SocketAddr>>,
    #[serde(default)]
    pub(super) acct_listen: Vec<SocketAddr>,
    #[serde(default = "default_max_in_flight")]
    pub(super) max_in_flight: Spanned<usize>,
    #[serde(default = "default_reject_delay_ms")]
    pub(super) reject_delay_ms: Spanned<u64>,
    #[serde(default = "default_queue_per_client")]
    pub(super) queue_per_client: Spanned<usize>,
    #[serde(default = "default_queue_total")]
    pub(super) queue_total: Spanned<usize>,
    #[serde(default = "default_queue_max_wait_ms")]
    pub(super) queue_max_wait_ms: Spanned<u64>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct ClientSection {
    pub(super) name: Spanned<String>,
    pub(super) address: IpNet,
    pub(super) secret: Option<Spanned<String>>,
    pub(super) secret_file: Option<Spanned<PathBuf>>,
    #[serde(default)]
    pub(super) require_message_authenticator: Option<Spanned<RequireMessageAuthenticator>>,
    #[serde(default = "default_true")]
    pub(super) limit_proxy_state: bool,
    pub(super) max_in_flight: Option<Spanned<usize>>,
    pub(super) radsec_certificate_name: Option<Spanned<String>>,
    pub(super) disconnect: Option<DisconnectSection>,
}

/// `require_message_authenticator`: `true`, `false` or `"auto"` (FreeRADIUS 3.2.5's values).
#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub(super) enum RequireMessageAuthenticator {
    Flag(bool),
    Word(String),
}

/// `[clients.disconnect]`: where and how this NAS is asked to end a session. Absent: its live
/// sessions cannot be cut.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct DisconnectSection {
    pub(super) kind: Option<Spanned<String>>,
    pub(super) address: Option<Spanned<String>>,
    pub(super) secret_file: Option<Spanned<PathBuf>>,
    pub(super) profile: Option<Spanned<String>>,
    pub(super) password_file: Option<Spanned<PathBuf>>,
    pub(super) program: Option<Spanned<PathBuf>>,
    pub(super) socket: Option<Spanned<PathBuf>>,
    pub(super) hub: Option<Spanned<String>>,
    pub(super) server_certificate_sha256: Option<Spanned<String>>,
}

/// `[sessions]`: live-session oversight. Absent: the defaults.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct SessionsSection {
    pub(super) recheck_interval_s: Option<Spanned<u64>>,
    pub(super) accept_grace_s: Option<Spanned<u64>>,
    pub(super) stale_after_s: Option<Spanned<u64>>,
    pub(super) max_sessions: Option<Spanned<usize>>,
    pub(super) control_socket: Option<PathBuf>,
    pub(super) control_group: Option<Spanned<String>>,
}

/// `[radsec]`: RADIUS over TLS (RFC 6614). Absent: no RadSec listener.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RadsecSection {
    pub(super) listen: SocketAddr,
    pub(super) certificate_file: PathBuf,
    pub(super) private_key_file: PathBuf,
    pub(super) client_ca_file: PathBuf,
    #[serde(default)]
    pub(super) crl_files: Vec<PathBuf>,
    #[serde(default = "default_radsec_max_connections")]
    pub(super) max_connections: Spanned<usize>,
    #[serde(default = "default_radsec_idle_timeout_s")]
    pub(super) idle_timeout_s: Spanned<u64>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct DirectorySection {
    pub(super) urls: Option<Spanned<Vec<String>>>,
    pub(super) domain: Option<Spanned<String>>,
    pub(super) ca_file: PathBuf,
    pub(super) bind_dn: Spanned<String>,
    pub(super) bind_password_file: Spanned<PathBuf>,
    pub(super) base_dn: Spanned<String>,
    pub(super) netbios_domain: Option<String>,
    #[serde(default = "default_timeout_ms")]
    pub(super) timeout_ms: Spanned<u64>,
    #[serde(default)]
    pub(super) starttls: bool,
    #[serde(default)]
    pub(super) allow_plain_ldap: bool,
    #[serde(default = "default_user_bind_connections")]
    pub(super) user_bind_connections: Spanned<usize>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct PolicySection {
    pub(super) telework_group: Spanned<String>,
    #[serde(default)]
    pub(super) reply: Vec<ReplySection>,
}

/// `[[policy.reply]]`: attributes an accept carries when the user is in `group` (nested too).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct ReplySection {
    pub(super) group: Spanned<String>,
    pub(super) filter_id: Option<Spanned<String>>,
    pub(super) class_suffix: Option<Spanned<String>>,
    pub(super) session_timeout: Option<Spanned<u64>>,
    pub(super) framed_pool: Option<Spanned<String>>,
}

/// `[eap]`: the EAP methods allowed, in the order offered. Absent: EAP-TLS alone.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct EapSection {
    pub(super) methods: Spanned<Vec<String>>,
}

/// `[eap_tls]`: certificate logins. Absent: EAP requests are refused as unsupported.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct EapTlsSection {
    pub(super) certificate_file: PathBuf,
    pub(super) private_key_file: PathBuf,
    pub(super) ca_file: PathBuf,
    #[serde(default)]
    pub(super) crl_files: Vec<PathBuf>,
    #[serde(default = "default_fragment_size")]
    pub(super) fragment_size: Spanned<usize>,
    #[serde(default)]
    pub(super) subject_email_identity: bool,
    #[serde(default)]
    pub(super) allow_anonymous_identity: bool,
    #[serde(default = "default_true")]
    pub(super) tls12_require_extended_master_secret: bool,
    #[serde(default = "default_max_conversations")]
    pub(super) max_conversations: Spanned<usize>,
    #[serde(default = "default_conversation_timeout_s")]
    pub(super) conversation_timeout_s: Spanned<u64>,
}

/// `[mschapv2]`: MS-CHAPv2 logins through winbind. Absent: MS-CHAPv2 requests are refused as
/// unsupported.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct MsChapV2Section {
    #[serde(default = "default_smb_conf")]
    pub(super) smb_conf: PathBuf,
    #[serde(default = "default_ntlm_auth")]
    pub(super) ntlm_auth: Spanned<Vec<String>>,
    #[serde(default = "default_winbind_helpers")]
    pub(super) helpers: Spanned<usize>,
    #[serde(default = "default_winbind_timeout_ms")]
    pub(super) timeout_ms: Spanned<u64>,
}

fn default_smb_conf() -> PathBuf {
    PathBuf::from(adgate_authz::DEFAULT_SMB_CONF)
}

fn default_ntlm_auth() -> Spanned<Vec<String>> {
    Spanned::new(0..0, vec![adgate_authz::DEFAULT_NTLM_AUTH.to_owned()])
}

fn default_winbind_helpers() -> Spanned<usize> {
    Spanned::new(0..0, adgate_authz::DEFAULT_WINBIND_HELPERS)
}

fn default_winbind_timeout_ms() -> Spanned<u64> {
    let millis = adgate_authz::DEFAULT_WINBIND_TIMEOUT.as_millis();
    Spanned::new(0..0, u64::try_from(millis).unwrap_or(u64::MAX))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct AuditSection {
    pub(super) dir: PathBuf,
    #[serde(default = "default_segment_max_bytes")]
    pub(super) segment_max_bytes: Spanned<u64>,
    #[serde(default = "default_retention_days")]
    pub(super) retention_days: Spanned<u32>,
    /// Must be set to keep segments less than the policy's year.
    #[serde(default)]
    pub(super) allow_short_retention: bool,
    #[serde(default)]
    pub(super) delete_expired_segments: bool,
    pub(super) signing_key_file: Option<PathBuf>,
    #[serde(default = "default_checkpoint_every_records")]
    pub(super) checkpoint_every_records: Spanned<u64>,
    #[serde(default = "default_checkpoint_every_s")]
    pub(super) checkpoint_every_s: Spanned<u64>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct SyslogSection {
    pub(super) url: Spanned<String>,
    pub(super) ca_file: Option<PathBuf>,
    pub(super) certificate_file: Option<PathBuf>,
    pub(super) private_key_file: Option<PathBuf>,
    pub(super) spool_dir: PathBuf,
    pub(super) hostname: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct ThrottleSection {
    #[serde(default = "default_max_failures")]
    pub(super) max_failures: Spanned<u32>,
    #[serde(default = "default_window_s")]
    pub(super) window_s: Spanned<u64>,
    #[serde(default = "default_familiar_days")]
    pub(super) familiar_days: Spanned<u32>,
}

impl Default for ThrottleSection {
    fn default() -> Self {
        ThrottleSection {
            max_failures: default_max_failures(),
            window_s: default_window_s(),
            familiar_days: default_familiar_days(),
        }
    }
}

fn default_true() -> bool {
    true
}
fn default_timeout_ms() -> Spanned<u64> {
    Spanned::new(0..0, 3000)
}
fn default_max_in_flight() -> Spanned<usize> {
    Spanned::new(0..0, 256)
}
/// As FreeRADIUS' `security.reject_delay = 1`: slower than any directory answer, faster than
/// any NAS's retransmission timeout.
fn default_reject_delay_ms() -> Spanned<u64> {
    Spanned::new(0..0, 1000)
}
/// The queue limits' defaults are [`adgate_radius::QueueLimits::default`]'s (why: there).
fn default_queue_per_client() -> Spanned<usize> {
    Spanned::new(0..0, adgate_radius::QueueLimits::default().per_client)
}
fn default_queue_total() -> Spanned<usize> {
    Spanned::new(0..0, adgate_radius::QueueLimits::default().total)
}
fn default_queue_max_wait_ms() -> Spanned<u64> {
    let max_wait = adgate_radius::QueueLimits::default().max_wait;
    Spanned::new(
        0..0,
        u64::try_from(max_wait.as_millis()).unwrap_or(u64::MAX),
    )
}
fn default_user_bind_connections() -> Spanned<usize> {
    Spanned::new(0..0, 4)
}
fn default_segment_max_bytes() -> Spanned<u64> {
    Spanned::new(0..0, 64 * 1024 * 1024)
}
fn default_retention_days() -> Spanned<u32> {
    Spanned::new(0..0, 400)
}
fn default_checkpoint_every_records() -> Spanned<u64> {
    Spanned::new(0..0, 1000)
}
fn default_checkpoint_every_s() -> Spanned<u64> {
    Spanned::new(0..0, 60)
}

/// Half of the lab domain's (and a common) lockout threshold of 10, so a guesser cannot lock a
/// user out through adgate within one window.
fn default_max_failures() -> Spanned<u32> {
    Spanned::new(0..0, 5)
}
/// AD's default lockout observation window is 30 minutes.
fn default_window_s() -> Spanned<u64> {
    Spanned::new(0..0, 1800)
}
/// A month: a user who works from home at least monthly keeps home familiar.
fn default_familiar_days() -> Spanned<u32> {
    Spanned::new(0..0, 30)
}
pub(super) fn default_fragment_size() -> Spanned<usize> {
    Spanned::new(0..0, 1024)
}
pub(super) fn default_max_conversations() -> Spanned<usize> {
    Spanned::new(0..0, 256)
}
pub(super) fn default_conversation_timeout_s() -> Spanned<u64> {
    Spanned::new(0..0, 30)
}
fn default_radsec_max_connections() -> Spanned<usize> {
    Spanned::new(0..0, 64)
}
fn default_radsec_idle_timeout_s() -> Spanned<u64> {
    Spanned::new(0..0, 300)
}
