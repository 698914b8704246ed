//! The configuration file: its TOML shape, its defaults, and the checks that run before adgate
//! serves a single request. Every error names the offending key and the line it is on, so an
//! admin can fix the file without reading code. Secrets referenced by file are read here, once,
//! so that a missing secret stops the start instead of rejecting logins later.

use std::net::SocketAddr;
use std::ops::{Range, RangeInclusive};
use std::path::{Path, PathBuf};
use std::time::Duration;

use adgate_radius::SharedSecret;
use ipnet::IpNet;
use serde::Deserialize;
use toml::Spanned;
use zeroize::Zeroizing;

use crate::secret_file;

/// Shortest RADIUS shared secret accepted. RFC 2865 §3 asks for secrets "at least 16 octets";
/// after BlastRADIUS (CVE-2024-3596) short secrets are the easiest way in.
const MIN_SHARED_SECRET_LEN: usize = 16;

/// The whole file, as written by the admin.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ConfigFile {
    server: ServerSection,
    #[serde(default)]
    clients: Vec<ClientSection>,
    directory: DirectorySection,
    policy: PolicySection,
    audit: AuditSection,
    syslog: Option<SyslogSection>,
    #[serde(default)]
    throttle: ThrottleSection,
    eap_tls: Option<EapTlsSection>,
    metrics: Option<MetricsSection>,
    radsec: Option<RadsecSection>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct MetricsSection {
    listen: SocketAddr,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ServerSection {
    auth_listen: Spanned<Vec<SocketAddr>>,
    #[serde(default)]
    acct_listen: Vec<SocketAddr>,
    #[serde(default = "default_max_in_flight")]
    max_in_flight: Spanned<usize>,
    #[serde(default = "default_reject_delay_ms")]
    reject_delay_ms: Spanned<u64>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ClientSection {
    name: Spanned<String>,
    address: IpNet,
    secret: Option<Spanned<String>>,
    secret_file: Option<Spanned<PathBuf>>,
    #[serde(default = "default_true")]
    require_message_authenticator: bool,
    #[serde(default = "default_true")]
    limit_proxy_state: bool,
    max_in_flight: Option<Spanned<usize>>,
    radsec_certificate_name: Option<Spanned<String>>,
}

/// `[radsec]`: RADIUS over TLS (RFC 6614). Absent: no RadSec listener.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RadsecSection {
    listen: SocketAddr,
    certificate_file: PathBuf,
    private_key_file: PathBuf,
    client_ca_file: PathBuf,
    #[serde(default)]
    crl_files: Vec<PathBuf>,
    #[serde(default = "default_radsec_max_connections")]
    max_connections: Spanned<usize>,
    #[serde(default = "default_radsec_idle_timeout_s")]
    idle_timeout_s: Spanned<u64>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct DirectorySection {
    urls: Spanned<Vec<String>>,
    ca_file: PathBuf,
    bind_dn: Spanned<String>,
    bind_password_file: Spanned<PathBuf>,
    base_dn: Spanned<String>,
    netbios_domain: Option<String>,
    #[serde(default = "default_timeout_ms")]
    timeout_ms: Spanned<u64>,
    #[serde(default)]
    starttls: bool,
    #[serde(default)]
    allow_plain_ldap: bool,
    #[serde(default = "default_user_bind_connections")]
    user_bind_connections: Spanned<usize>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct PolicySection {
    telework_group: Spanned<String>,
    #[serde(default)]
    reply: Vec<ReplySection>,
}

/// `[[policy.reply]]`: attributes an accept carries when the user is in `group` (nested too).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ReplySection {
    group: Spanned<String>,
    filter_id: Option<Spanned<String>>,
    class_suffix: Option<Spanned<String>>,
    session_timeout: Option<Spanned<u64>>,
    framed_pool: Option<Spanned<String>>,
}

/// `[eap_tls]`: certificate logins. Absent: EAP requests are refused as unsupported.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct EapTlsSection {
    certificate_file: PathBuf,
    private_key_file: PathBuf,
    ca_file: PathBuf,
    #[serde(default)]
    crl_files: Vec<PathBuf>,
    #[serde(default = "default_fragment_size")]
    fragment_size: Spanned<usize>,
    #[serde(default)]
    subject_email_identity: bool,
    #[serde(default)]
    allow_anonymous_identity: bool,
    #[serde(default = "default_true")]
    tls12_require_extended_master_secret: bool,
    #[serde(default = "default_max_conversations")]
    max_conversations: Spanned<usize>,
    #[serde(default = "default_conversation_timeout_s")]
    conversation_timeout_s: Spanned<u64>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct AuditSection {
    dir: PathBuf,
    #[serde(default = "default_segment_max_bytes")]
    segment_max_bytes: Spanned<u64>,
    #[serde(default = "default_retention_days")]
    retention_days: Spanned<u32>,
    /// Must be set to keep segments less than the policy's year.
    #[serde(default)]
    allow_short_retention: bool,
    #[serde(default)]
    delete_expired_segments: bool,
    signing_key_file: Option<PathBuf>,
    #[serde(default = "default_checkpoint_every_records")]
    checkpoint_every_records: Spanned<u64>,
    #[serde(default = "default_checkpoint_every_s")]
    checkpoint_every_s: Spanned<u64>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct SyslogSection {
    url: Spanned<String>,
    ca_file: Option<PathBuf>,
    certificate_file: Option<PathBuf>,
    private_key_file: Option<PathBuf>,
    spool_dir: PathBuf,
    hostname: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ThrottleSection {
    #[serde(default = "default_max_failures")]
    max_failures: Spanned<u32>,
    #[serde(default = "default_window_s")]
    window_s: Spanned<u64>,
}

impl Default for ThrottleSection {
    fn default() -> Self {
        ThrottleSection {
            max_failures: default_max_failures(),
            window_s: default_window_s(),
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
/// A longer delay would outlast the retransmission timeout of common NASes (3–5 s), which would
/// then retransmit for nothing or fail over to another server (FreeRADIUS caps it at 5 s too).
const MAX_REJECT_DELAY_MS: u64 = 5000;
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

/// Smallest segment size accepted (tests use small segments to see rotation).
const MIN_SEGMENT_BYTES: u64 = 1024;
/// The telework policy keeps VPN logs at least a year.
const POLICY_RETENTION_DAYS: u32 = 365;
/// Half of the lab domain's (and a common) lockout threshold of 10, so a guesser cannot lock a
/// user out through adgate within one window.
fn default_max_failures() -> Spanned<u32> {
    Spanned::new(0..0, 5)
}
/// AD's default lockout observation window is 30 minutes.
fn default_window_s() -> Spanned<u64> {
    Spanned::new(0..0, 1800)
}
/// RADIUS text and string values hold at most 253 octets (RFC 2865 §5).
const MAX_REPLY_TEXT_LEN: usize = 253;
/// Keeps `adgate:<request_id>:<suffix>` far below the 253 octets a Class holds (RFC 2865 §5.25).
const MAX_CLASS_SUFFIX_LEN: usize = 64;
/// The longest Session-Timeout: 30 days.
const MAX_SESSION_TIMEOUT_S: u64 = 30 * 86_400;
/// A client's share of `server.max_in_flight` unless it sets its own.
const DEFAULT_CLIENT_MAX_IN_FLIGHT: usize = 32;
fn default_fragment_size() -> Spanned<usize> {
    Spanned::new(0..0, 1024)
}
fn default_max_conversations() -> Spanned<usize> {
    Spanned::new(0..0, 256)
}
fn default_conversation_timeout_s() -> Spanned<u64> {
    Spanned::new(0..0, 30)
}
fn default_radsec_max_connections() -> Spanned<usize> {
    Spanned::new(0..0, 64)
}
fn default_radsec_idle_timeout_s() -> Spanned<u64> {
    Spanned::new(0..0, 300)
}

/// A validated configuration with every referenced secret loaded.
#[derive(Debug)]
pub struct Config {
    pub auth_listen: Vec<SocketAddr>,
    pub acct_listen: Vec<SocketAddr>,
    pub max_in_flight: usize,
    /// How long after its request an Access-Reject leaves, at the earliest (zero: at once).
    pub reject_delay: Duration,
    pub clients: Vec<ClientConfig>,
    pub directory: adgate_authz::DirectoryConfig,
    pub policy: adgate_authz::PolicyConfig,
    pub audit: crate::audit::TrailSettings,
    /// Where records are forwarded, if anywhere.
    pub syslog: Option<crate::syslog::SyslogSettings>,
    pub throttle: ThrottleConfig,
    pub eap_tls: Option<EapTlsConfig>,
    /// Where `/metrics`, `/healthz` and `/readyz` are served (HTTP), if anywhere.
    pub metrics_listen: Option<SocketAddr>,
    pub radsec: Option<crate::radsec::RadsecSettings>,
}

/// Brute-force throttling: after `max_failures` bad passwords within `window`, by user or by
/// Calling-Station-Id, logins are rejected without asking AD until the window has passed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ThrottleConfig {
    pub max_failures: u32,
    pub window: Duration,
}

/// Certificate logins (`[eap_tls]`).
#[derive(Debug)]
pub struct EapTlsConfig {
    pub files: adgate_certs::EapTlsSettings,
    /// TLS data per EAP-TLS fragment; a smaller Framed-MTU from the NAS wins.
    pub fragment_size: usize,
    pub identity_policy: adgate_certs::IdentityPolicy,
    /// Accept an anonymous EAP identity (RFC 7542 §2.4) instead of the certificate's name.
    pub allow_anonymous_identity: bool,
    /// Conversations in progress at once; beyond, the least recently active is dropped.
    pub max_conversations: usize,
    /// A conversation silent for this long is forgotten.
    pub conversation_timeout: Duration,
}

/// One NAS (VPN appliance) allowed to send requests.
#[derive(Debug)]
pub struct ClientConfig {
    pub name: String,
    pub address: IpNet,
    pub secret: SharedSecret,
    pub require_message_authenticator: bool,
    pub limit_proxy_state: bool,
    pub max_in_flight: usize,
    /// The DNS name in the subjectAltName of the certificate this client presents over RadSec.
    pub radsec_certificate_name: Option<pki_types::DnsName<'static>>,
}

/// Why the configuration cannot be used, with the file and line to look at.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    // The causes are part of the message, not `#[source]`s, so a report prints them once.
    #[error("cannot read config file {path}: {error}")]
    Unreadable {
        path: PathBuf,
        error: std::io::Error,
    },
    #[error("{path}: {error}")]
    Syntax {
        path: PathBuf,
        error: Box<toml::de::Error>,
    },
    #[error("{path}, line {line}: `{key}` {problem}")]
    Invalid {
        path: PathBuf,
        line: usize,
        key: String,
        problem: String,
    },
}

impl Config {
    /// Reads, parses and validates the file at `path`, and loads every secret it names.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|error| ConfigError::Unreadable {
            path: path.to_owned(),
            error,
        })?;
        let file: ConfigFile = toml::from_str(&text).map_err(|error| ConfigError::Syntax {
            path: path.to_owned(),
            error: Box::new(error),
        })?;
        Validator { path, text: &text }.validate(file)
    }
}

/// Turns the parsed file into a `Config`, reporting problems at their line.
struct Validator<'a> {
    path: &'a Path,
    text: &'a str,
}

impl Validator<'_> {
    fn invalid(&self, span: Range<usize>, key: &str, problem: impl Into<String>) -> ConfigError {
        let line = self.text[..span.start.min(self.text.len())]
            .bytes()
            .filter(|&b| b == b'\n')
            .count()
            + 1;
        ConfigError::Invalid {
            path: self.path.to_owned(),
            line,
            key: key.to_owned(),
            problem: problem.into(),
        }
    }

    fn validate(&self, file: ConfigFile) -> Result<Config, ConfigError> {
        let server = file.server;
        if server.auth_listen.get_ref().is_empty() {
            return Err(self.invalid(
                server.auth_listen.span(),
                "server.auth_listen",
                "must list at least one address",
            ));
        }
        if *server.max_in_flight.get_ref() == 0 {
            return Err(self.invalid(
                server.max_in_flight.span(),
                "server.max_in_flight",
                "must be at least 1",
            ));
        }
        let max_in_flight = *server.max_in_flight.get_ref();
        let reject_delay_ms = self.within(
            &server.reject_delay_ms,
            0..=MAX_REJECT_DELAY_MS,
            "server.reject_delay_ms",
        )?;
        let clients = self.clients(file.clients, max_in_flight)?;
        let throttle = self.throttle(file.throttle)?;
        let directory = self.directory(file.directory)?;
        let telework_group = file.policy.telework_group;
        if telework_group.get_ref().trim().is_empty() {
            return Err(self.invalid(
                telework_group.span(),
                "policy.telework_group",
                "must be the distinguished name of the AD group that allows telework",
            ));
        }
        Ok(Config {
            auth_listen: server.auth_listen.into_inner(),
            acct_listen: server.acct_listen,
            max_in_flight,
            reject_delay: Duration::from_millis(reject_delay_ms),
            clients,
            directory,
            policy: adgate_authz::PolicyConfig {
                telework_group: telework_group.into_inner(),
                reply: self.reply_rules(file.policy.reply)?,
            },
            audit: self.audit(file.audit)?,
            syslog: file
                .syslog
                .map(|section| self.syslog(section))
                .transpose()?,
            throttle,
            eap_tls: file
                .eap_tls
                .map(|section| self.eap_tls(section))
                .transpose()?,
            metrics_listen: file.metrics.map(|section| section.listen),
            radsec: file
                .radsec
                .map(|section| self.radsec(section))
                .transpose()?,
        })
    }

    fn reply_rules(
        &self,
        sections: Vec<ReplySection>,
    ) -> Result<Vec<adgate_authz::ReplyRule>, ConfigError> {
        let mut rules = Vec::with_capacity(sections.len());
        for (index, section) in sections.into_iter().enumerate() {
            let key = |field: &str| format!("policy.reply[{index}].{field}");
            let group = section.group;
            if !group.get_ref().contains('=') {
                return Err(self.invalid(
                    group.span(),
                    &key("group"),
                    "must be the distinguished name of an AD group, such as \
                     CN=VPN-Engineering,CN=Users,DC=corp,DC=example,DC=com",
                ));
            }
            let text = |value: Option<Spanned<String>>, field: &str| {
                value
                    .map(|value| {
                        let ok = (1..=MAX_REPLY_TEXT_LEN).contains(&value.get_ref().len())
                            && !value.get_ref().chars().any(char::is_control);
                        if ok {
                            Ok(value.into_inner())
                        } else {
                            Err(self.invalid(
                                value.span(),
                                &key(field),
                                format!(
                                    "must be 1 to {MAX_REPLY_TEXT_LEN} octets of text without \
                                     control characters"
                                ),
                            ))
                        }
                    })
                    .transpose()
            };
            let class_suffix = section
                .class_suffix
                .map(|suffix| {
                    let value = suffix.get_ref();
                    let ok = (1..=MAX_CLASS_SUFFIX_LEN).contains(&value.len())
                        && value
                            .bytes()
                            .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b));
                    if ok {
                        Ok(suffix.into_inner())
                    } else {
                        Err(self.invalid(
                            suffix.span(),
                            &key("class_suffix"),
                            format!(
                                "must be 1 to {MAX_CLASS_SUFFIX_LEN} characters from A-Z a-z \
                                 0-9 . _ -"
                            ),
                        ))
                    }
                })
                .transpose()?;
            let session_timeout = section
                .session_timeout
                .map(|seconds| match u32::try_from(*seconds.get_ref()) {
                    Ok(value) if (1..=MAX_SESSION_TIMEOUT_S).contains(seconds.get_ref()) => {
                        Ok(value)
                    }
                    _ => Err(self.invalid(
                        seconds.span(),
                        &key("session_timeout"),
                        format!("must be between 1 and {MAX_SESSION_TIMEOUT_S} seconds (30 days)"),
                    )),
                })
                .transpose()?;
            let attributes = adgate_authz::ReplyAttributes {
                filter_id: text(section.filter_id, "filter_id")?,
                class_suffix,
                session_timeout,
                framed_pool: text(section.framed_pool, "framed_pool")?,
            };
            if attributes.is_empty() {
                return Err(self.invalid(
                    group.span(),
                    &format!("policy.reply[{index}]"),
                    "sets no attribute: give filter_id, class_suffix, session_timeout or \
                     framed_pool",
                ));
            }
            rules.push(adgate_authz::ReplyRule {
                group: group.into_inner(),
                attributes,
            });
        }
        Ok(rules)
    }

    fn audit(&self, section: AuditSection) -> Result<crate::audit::TrailSettings, ConfigError> {
        let segment_max_bytes = *section.segment_max_bytes.get_ref();
        if segment_max_bytes < MIN_SEGMENT_BYTES {
            return Err(self.invalid(
                section.segment_max_bytes.span(),
                "audit.segment_max_bytes",
                format!("must be at least {MIN_SEGMENT_BYTES} (the policy suggests 50-100 MB)"),
            ));
        }
        let retention_days = *section.retention_days.get_ref();
        if retention_days < POLICY_RETENTION_DAYS && !section.allow_short_retention {
            return Err(self.invalid(
                section.retention_days.span(),
                "audit.retention_days",
                format!(
                    "is below the policy's {POLICY_RETENTION_DAYS} days; set \
                     audit.allow_short_retention = true if that is really intended"
                ),
            ));
        }
        if retention_days == 0 {
            return Err(self.invalid(
                section.retention_days.span(),
                "audit.retention_days",
                "must be at least 1",
            ));
        }
        for (value, key) in [
            (
                &section.checkpoint_every_records,
                "audit.checkpoint_every_records",
            ),
            (&section.checkpoint_every_s, "audit.checkpoint_every_s"),
        ] {
            if *value.get_ref() == 0 {
                return Err(self.invalid(value.span(), key, "must be at least 1"));
            }
        }
        let mut settings = crate::audit::TrailSettings::new(section.dir);
        settings.segment_max_bytes = segment_max_bytes;
        settings.retention = crate::audit::Retention {
            days: retention_days,
            delete_expired: section.delete_expired_segments,
        };
        settings.signing_key_file = section.signing_key_file;
        settings.checkpoint_every_records = section.checkpoint_every_records.into_inner();
        settings.checkpoint_every = Duration::from_secs(section.checkpoint_every_s.into_inner());
        Ok(settings)
    }

    fn syslog(&self, section: SyslogSection) -> Result<crate::syslog::SyslogSettings, ConfigError> {
        let span = section.url.span();
        let target = crate::syslog::Target::parse(section.url.get_ref())
            .map_err(|problem| self.invalid(span.clone(), "syslog.url", problem))?;
        if target.tls && section.ca_file.is_none() {
            return Err(self.invalid(
                span,
                "syslog.url",
                "is tls:// but syslog.ca_file is not set (the collector's CA is pinned)",
            ));
        }
        let client_certificate = match (section.certificate_file, section.private_key_file) {
            (Some(certificate_file), Some(private_key_file)) if target.tls => {
                Some(crate::syslog::ClientCertificate {
                    certificate_file,
                    private_key_file,
                })
            }
            (None, None) => None,
            _ => {
                return Err(self.invalid(
                    span,
                    "syslog.certificate_file",
                    "and syslog.private_key_file go together, and only with a tls:// url",
                ))
            }
        };
        Ok(crate::syslog::SyslogSettings {
            target,
            ca_file: section.ca_file,
            client_certificate,
            spool_dir: section.spool_dir,
            hostname: section.hostname,
        })
    }

    fn throttle(&self, section: ThrottleSection) -> Result<ThrottleConfig, ConfigError> {
        let max_failures = *section.max_failures.get_ref();
        if !(1..=1000).contains(&max_failures) {
            return Err(self.invalid(
                section.max_failures.span(),
                "throttle.max_failures",
                "must be between 1 and 1000",
            ));
        }
        let window_s = *section.window_s.get_ref();
        if !(1..=86_400).contains(&window_s) {
            return Err(self.invalid(
                section.window_s.span(),
                "throttle.window_s",
                "must be between 1 and 86400 (one day)",
            ));
        }
        Ok(ThrottleConfig {
            max_failures,
            window: Duration::from_secs(window_s),
        })
    }

    fn clients(
        &self,
        sections: Vec<ClientSection>,
        server_max_in_flight: usize,
    ) -> Result<Vec<ClientConfig>, ConfigError> {
        let mut clients: Vec<ClientConfig> = Vec::with_capacity(sections.len());
        for (index, section) in sections.into_iter().enumerate() {
            let key = |field: &str| format!("clients[{index}].{field}");
            let name_span = section.name.span();
            let name = section.name.into_inner();
            if name.is_empty() || !name.chars().all(|c| c.is_ascii_graphic()) {
                return Err(self.invalid(
                    name_span,
                    &key("name"),
                    "must be a non-empty name without spaces",
                ));
            }
            if clients.iter().any(|c| c.name == name) {
                return Err(self.invalid(name_span, &key("name"), "is used by another client"));
            }
            let secret = match (section.secret, section.secret_file) {
                (Some(secret), None) => {
                    let span = secret.span();
                    self.shared_secret(secret.into_inner().into_bytes(), span, &key("secret"))?
                }
                (None, Some(file)) => {
                    let span = file.span();
                    let bytes = secret_file::read(file.get_ref())
                        .map_err(|e| self.invalid(span.clone(), &key("secret_file"), e))?;
                    self.shared_secret(bytes.to_vec(), span, &key("secret_file"))?
                }
                _ => {
                    return Err(self.invalid(
                        name_span,
                        &format!("clients[{index}]"),
                        "needs exactly one of `secret` or `secret_file`",
                    ))
                }
            };
            let max_in_flight = match section.max_in_flight {
                Some(limit) if !(1..=server_max_in_flight).contains(limit.get_ref()) => {
                    return Err(self.invalid(
                        limit.span(),
                        &key("max_in_flight"),
                        "must be between 1 and server.max_in_flight",
                    ))
                }
                Some(limit) => limit.into_inner(),
                None => DEFAULT_CLIENT_MAX_IN_FLIGHT.min(server_max_in_flight),
            };
            let radsec_certificate_name = section
                .radsec_certificate_name
                .map(|name| {
                    pki_types::DnsName::try_from(name.get_ref().as_str())
                        .map(|dns_name| dns_name.to_owned())
                        .map_err(|_| {
                            self.invalid(
                                name.span(),
                                &key("radsec_certificate_name"),
                                "must be a DNS name, as in the certificate's subjectAltName",
                            )
                        })
                })
                .transpose()?;
            clients.push(ClientConfig {
                name,
                address: section.address,
                secret,
                require_message_authenticator: section.require_message_authenticator,
                limit_proxy_state: section.limit_proxy_state,
                max_in_flight,
                radsec_certificate_name,
            });
        }
        Ok(clients)
    }

    fn shared_secret(
        &self,
        bytes: Vec<u8>,
        span: Range<usize>,
        key: &str,
    ) -> Result<SharedSecret, ConfigError> {
        if bytes.len() < MIN_SHARED_SECRET_LEN {
            return Err(self.invalid(
                span,
                key,
                format!(
                    "is shorter than {MIN_SHARED_SECRET_LEN} characters; use a long random secret \
                     (RFC 2865 §3, BlastRADIUS)"
                ),
            ));
        }
        Ok(SharedSecret::new(bytes))
    }

    /// The value of `key` if it lies in `range`, else an error at its line.
    fn within<T>(
        &self,
        value: &Spanned<T>,
        range: RangeInclusive<T>,
        key: &str,
    ) -> Result<T, ConfigError>
    where
        T: Copy + PartialOrd + std::fmt::Display,
    {
        if range.contains(value.get_ref()) {
            return Ok(*value.get_ref());
        }
        Err(self.invalid(
            value.span(),
            key,
            format!("must be between {} and {}", range.start(), range.end()),
        ))
    }

    fn eap_tls(&self, section: EapTlsSection) -> Result<EapTlsConfig, ConfigError> {
        // An Access-Challenge with a whole fragment must fit 4096 octets.
        let fragment_size =
            self.within(&section.fragment_size, 64..=3000, "eap_tls.fragment_size")?;
        let max_conversations = self.within(
            &section.max_conversations,
            1..=100_000,
            "eap_tls.max_conversations",
        )?;
        let timeout_s = self.within(
            &section.conversation_timeout_s,
            1..=600,
            "eap_tls.conversation_timeout_s",
        )?;
        Ok(EapTlsConfig {
            files: adgate_certs::EapTlsSettings {
                certificate_file: section.certificate_file,
                private_key_file: section.private_key_file,
                ca_file: section.ca_file,
                crl_files: section.crl_files,
                require_extended_master_secret: section.tls12_require_extended_master_secret,
            },
            fragment_size,
            identity_policy: adgate_certs::IdentityPolicy {
                subject_email: section.subject_email_identity,
            },
            allow_anonymous_identity: section.allow_anonymous_identity,
            max_conversations,
            conversation_timeout: Duration::from_secs(timeout_s),
        })
    }

    fn radsec(&self, section: RadsecSection) -> Result<crate::radsec::RadsecSettings, ConfigError> {
        let max_connections = self.within(
            &section.max_connections,
            1..=10_000,
            "radsec.max_connections",
        )?;
        let idle_timeout_s = self.within(
            &section.idle_timeout_s,
            10..=86_400,
            "radsec.idle_timeout_s",
        )?;
        Ok(crate::radsec::RadsecSettings {
            listen: section.listen,
            certificate_file: section.certificate_file,
            private_key_file: section.private_key_file,
            client_ca_file: section.client_ca_file,
            crl_files: section.crl_files,
            max_connections,
            idle_timeout: Duration::from_secs(idle_timeout_s),
        })
    }

    fn directory(
        &self,
        section: DirectorySection,
    ) -> Result<adgate_authz::DirectoryConfig, ConfigError> {
        let urls = section.urls;
        if urls.get_ref().is_empty() {
            return Err(self.invalid(
                urls.span(),
                "directory.urls",
                "must list at least one ldaps:// or ldap:// URL",
            ));
        }
        for url in urls.get_ref() {
            let plain = url.starts_with("ldap://");
            if !plain && !url.starts_with("ldaps://") {
                return Err(self.invalid(
                    urls.span(),
                    "directory.urls",
                    format!("has `{url}`, which is neither ldaps:// nor ldap://"),
                ));
            }
            if plain && !section.starttls && !section.allow_plain_ldap {
                return Err(self.invalid(
                    urls.span(),
                    "directory.urls",
                    format!(
                        "has `{url}`: plain LDAP sends passwords in clear; use ldaps://, set \
                         `starttls = true`, or (lab only) `allow_plain_ldap = true`"
                    ),
                ));
            }
        }
        for (value, key) in [
            (&section.bind_dn, "directory.bind_dn"),
            (&section.base_dn, "directory.base_dn"),
        ] {
            if value.get_ref().trim().is_empty() {
                return Err(self.invalid(value.span(), key, "must not be empty"));
            }
        }
        let password_span = section.bind_password_file.span();
        let bind_password = secret_file::read(section.bind_password_file.get_ref())
            .map_err(|e| self.invalid(password_span.clone(), "directory.bind_password_file", e))?;
        let bind_password = String::from_utf8(bind_password.to_vec()).map_err(|_| {
            self.invalid(
                password_span,
                "directory.bind_password_file",
                "does not hold UTF-8 text",
            )
        })?;
        let timeout_ms = *section.timeout_ms.get_ref();
        if !(100..=60_000).contains(&timeout_ms) {
            return Err(self.invalid(
                section.timeout_ms.span(),
                "directory.timeout_ms",
                "must be between 100 and 60000",
            ));
        }
        let user_bind_connections = *section.user_bind_connections.get_ref();
        if !(1..=64).contains(&user_bind_connections) {
            return Err(self.invalid(
                section.user_bind_connections.span(),
                "directory.user_bind_connections",
                "must be between 1 and 64",
            ));
        }
        Ok(adgate_authz::DirectoryConfig {
            urls: urls.into_inner(),
            ca_file: section.ca_file,
            bind_dn: section.bind_dn.into_inner(),
            bind_password: Zeroizing::new(bind_password),
            base_dn: section.base_dn.into_inner(),
            netbios_domain: section.netbios_domain,
            timeout: Duration::from_millis(timeout_ms),
            starttls: section.starttls,
            allow_plain_ldap: section.allow_plain_ldap,
            user_bind_connections,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    /// A valid lab-shaped config whose secret files live in `dir`.
    fn write_config(dir: &Path, edit: impl Fn(String) -> String) -> PathBuf {
        std::fs::write(dir.join("vpn1.secret"), "a-long-random-radius-secret\n").unwrap();
        std::fs::write(dir.join("ldap.secret"), "service-password").unwrap();
        let text = format!(
            r#"[server]
auth_listen = ["127.0.0.1:1812"]

[[clients]]
name = "vpn1"
address = "127.0.0.0/8"
secret_file = "{dir}/vpn1.secret"

[directory]
urls = ["ldaps://dc1.corp.example.test:636"]
ca_file = "{dir}/ad-ca.pem"
bind_dn = "CN=svc-adgate,CN=Users,DC=corp,DC=example,DC=test"
bind_password_file = "{dir}/ldap.secret"
base_dn = "DC=corp,DC=example,DC=test"
timeout_ms = 3000

[policy]
telework_group = "CN=Telework-Allowed,CN=Users,DC=corp,DC=example,DC=test"

[audit]
dir = "{dir}/audit"
"#,
            dir = dir.display()
        );
        let path = dir.join("adgate.toml");
        let mut file = std::fs::File::create(&path).unwrap();
        file.write_all(edit(text).as_bytes()).unwrap();
        path
    }

    fn load_error(edit: impl Fn(String) -> String) -> String {
        let dir = tempfile::tempdir().unwrap();
        let path = write_config(dir.path(), edit);
        Config::load(&path).unwrap_err().to_string()
    }

    #[test]
    fn the_documented_shape_loads_with_defaults() {
        let dir = tempfile::tempdir().unwrap();
        let config = Config::load(&write_config(dir.path(), |t| t)).unwrap();
        assert_eq!(config.clients.len(), 1);
        assert!(config.clients[0].require_message_authenticator);
        assert_eq!(
            config.clients[0].secret.expose(),
            b"a-long-random-radius-secret"
        );
        assert_eq!(config.directory.timeout, Duration::from_millis(3000));
        assert_eq!(config.directory.bind_password.as_str(), "service-password");
        assert_eq!(config.max_in_flight, 256);
        assert_eq!(config.reject_delay, Duration::from_secs(1));
        assert_eq!(config.audit.segment_max_bytes, 64 * 1024 * 1024);
        assert_eq!(config.audit.retention.days, 400);
        assert!(!config.audit.retention.delete_expired);
        assert!(config.syslog.is_none());
        assert!(config.acct_listen.is_empty());
        assert!(config.clients[0].limit_proxy_state);
        assert_eq!(config.clients[0].max_in_flight, 32);
        assert_eq!(
            config.throttle,
            ThrottleConfig {
                max_failures: 5,
                window: Duration::from_secs(1800)
            }
        );
    }

    #[test]
    fn accounting_per_client_and_throttle_keys_load() {
        let dir = tempfile::tempdir().unwrap();
        let path = write_config(dir.path(), |t| {
            t.replace(
                "auth_listen = [\"127.0.0.1:1812\"]",
                "auth_listen = [\"127.0.0.1:1812\"]\nacct_listen = [\"127.0.0.1:1813\"]",
            )
            .replace(
                "address = \"127.0.0.0/8\"",
                "address = \"127.0.0.0/8\"\nlimit_proxy_state = false\nmax_in_flight = 8",
            ) + "\n[throttle]\nmax_failures = 3\nwindow_s = 60\n"
        });
        let config = Config::load(&path).unwrap();
        assert_eq!(config.acct_listen, ["127.0.0.1:1813".parse().unwrap()]);
        assert!(!config.clients[0].limit_proxy_state);
        assert_eq!(config.clients[0].max_in_flight, 8);
        assert_eq!(config.throttle.max_failures, 3);
        assert_eq!(config.throttle.window, Duration::from_secs(60));
    }

    #[test]
    fn the_reject_delay_may_be_turned_off_but_not_outlast_a_nas() {
        let dir = tempfile::tempdir().unwrap();
        let with_delay = |delay: &'static str| {
            move |text: String| {
                text.replace(
                    "auth_listen = [\"127.0.0.1:1812\"]",
                    &format!("auth_listen = [\"127.0.0.1:1812\"]\nreject_delay_ms = {delay}"),
                )
            }
        };
        let off = Config::load(&write_config(dir.path(), with_delay("0"))).unwrap();
        assert_eq!(off.reject_delay, Duration::ZERO);
        let error = load_error(with_delay("5001"));
        assert!(
            error.contains("`server.reject_delay_ms` must be between 0 and 5000"),
            "{error}"
        );
    }

    #[test]
    fn the_metrics_listener_is_optional() {
        let dir = tempfile::tempdir().unwrap();
        let without = write_config(dir.path(), |t| t);
        assert_eq!(Config::load(&without).unwrap().metrics_listen, None);
        let with = write_config(dir.path(), |t| {
            t + "\n[metrics]\nlisten = \"127.0.0.1:9812\"\n"
        });
        assert_eq!(
            Config::load(&with).unwrap().metrics_listen,
            Some("127.0.0.1:9812".parse().unwrap())
        );
        let error = load_error(|t| t + "\n[metrics]\nlisten = \"localhost\"\n");
        assert!(
            error.contains("listen = \"localhost\"") && error.contains("invalid socket address"),
            "{error}"
        );
    }

    #[test]
    fn out_of_range_limits_name_their_key() {
        let error = load_error(|t| t + "\n[throttle]\nmax_failures = 0\n");
        assert!(error.contains("throttle.max_failures"), "{error}");
        let error = load_error(|t| {
            t.replace(
                "address = \"127.0.0.0/8\"",
                "address = \"127.0.0.0/8\"\nmax_in_flight = 1000",
            )
        });
        assert!(error.contains("clients[0].max_in_flight"), "{error}");
    }

    /// The lab's `[[policy.reply]]` entry with `line` in place of `filter_id`, before `[audit]`.
    fn with_reply(line: &str) -> impl Fn(String) -> String + '_ {
        move |t| {
            t.replace(
                "\n[audit]",
                &format!(
                    "\n[[policy.reply]]\ngroup = \"CN=VPN-Engineering,CN=Users,DC=corp\"\n{line}\n\
                     session_timeout = 28800\n\n[audit]"
                ),
            )
        }
    }

    #[test]
    fn reply_entries_load_in_file_order() {
        let dir = tempfile::tempdir().unwrap();
        let config = Config::load(&write_config(dir.path(), |t| t)).unwrap();
        assert!(config.policy.reply.is_empty());
        let two = |t: String| {
            with_reply("filter_id = \"eng\"\nclass_suffix = \"eng-1.a_b\"")(t).replace(
                "\n[audit]",
                "\n[[policy.reply]]\ngroup = \"CN=Contractors,DC=corp\"\nframed_pool = \"ext\"\n\n[audit]",
            )
        };
        let config = Config::load(&write_config(dir.path(), two)).unwrap();
        let reply = &config.policy.reply;
        assert_eq!(reply.len(), 2);
        assert_eq!(reply[0].group, "CN=VPN-Engineering,CN=Users,DC=corp");
        assert_eq!(reply[0].attributes.filter_id.as_deref(), Some("eng"));
        assert_eq!(
            reply[0].attributes.class_suffix.as_deref(),
            Some("eng-1.a_b")
        );
        assert_eq!(reply[0].attributes.session_timeout, Some(28800));
        assert_eq!(reply[1].attributes.framed_pool.as_deref(), Some("ext"));
    }

    #[test]
    fn bad_reply_entries_name_their_key_and_line() {
        let long = format!("filter_id = \"{}\"", "f".repeat(254));
        for (line, key) in [
            ("class_suffix = \"a:b\"", "policy.reply[0].class_suffix"),
            ("class_suffix = \"\"", "policy.reply[0].class_suffix"),
            (long.as_str(), "policy.reply[0].filter_id"),
            ("framed_pool = \"a\\nb\"", "policy.reply[0].framed_pool"),
        ] {
            let error = load_error(with_reply(line));
            assert!(error.contains(key), "{line}: {error}");
            assert!(error.contains("line 22"), "{line}: {error}");
        }
        for seconds in ["0", "2592001", "-1"] {
            let error = load_error(|t| {
                with_reply("filter_id = \"eng\"")(t).replace(
                    "session_timeout = 28800",
                    &format!("session_timeout = {seconds}"),
                )
            });
            assert!(error.contains("session_timeout"), "{seconds}: {error}");
        }
        let error = load_error(|t| {
            with_reply("filter_id = \"eng\"")(t)
                .replace("CN=VPN-Engineering,CN=Users,DC=corp", "VPN-Engineering")
        });
        assert!(error.contains("policy.reply[0].group"), "{error}");
        assert!(error.contains("line 21"), "{error}");
        let error = load_error(|t| with_reply("")(t).replace("session_timeout = 28800", ""));
        assert!(error.contains("sets no attribute"), "{error}");
        let error = load_error(with_reply("filter = \"x\""));
        assert!(error.contains("filter"), "{error}");
    }

    #[test]
    fn a_bad_cidr_is_reported_with_its_line() {
        let error = load_error(|t| t.replace("127.0.0.0/8", "127.0.0.0/33"));
        assert!(error.contains("line 6"), "{error}");
        assert!(error.contains("address"), "{error}");
    }

    #[test]
    fn retention_below_a_year_needs_an_explicit_choice() {
        let short = |t: String| t.replace("dir = ", "retention_days = 30\ndir = ");
        let error = load_error(short);
        assert!(error.contains("audit.retention_days"), "{error}");
        assert!(error.contains("allow_short_retention"), "{error}");
        let dir = tempfile::tempdir().unwrap();
        let allowed =
            |t: String| short(t).replace("dir = ", "allow_short_retention = true\ndir = ");
        let config = Config::load(&write_config(dir.path(), allowed)).unwrap();
        assert_eq!(config.audit.retention.days, 30);
    }

    #[test]
    fn syslog_over_tls_needs_the_collector_ca() {
        let error = load_error(|t| {
            t + "\n[syslog]\nurl = \"tls://collector.example.test:6514\"\nspool_dir = \"/tmp/s\"\n"
        });
        assert!(error.contains("syslog.url"), "{error}");
        assert!(error.contains("ca_file"), "{error}");
    }

    #[test]
    fn an_unknown_key_is_refused() {
        let error = load_error(|t| t.replace("timeout_ms = 3000", "timeout = 3000"));
        assert!(error.contains("unknown field `timeout`"), "{error}");
    }

    #[test]
    fn a_missing_secret_file_names_key_and_line() {
        let error = load_error(|t| t.replace("vpn1.secret", "missing.secret"));
        assert!(error.contains("line 7"), "{error}");
        assert!(error.contains("clients[0].secret_file"), "{error}");
    }

    #[test]
    fn a_short_secret_is_refused() {
        let error = load_error(|t| {
            t.replace(
                r#"secret_file = ""#,
                r#"secret = "short"
#"#,
            )
        });
        assert!(error.contains("clients[0].secret"), "{error}");
        assert!(error.contains("shorter than 16"), "{error}");
    }

    #[test]
    fn plain_ldap_needs_an_explicit_choice() {
        let error = load_error(|t| t.replace("ldaps://dc1.corp.example.test:636", "ldap://dc1"));
        assert!(error.contains("directory.urls"), "{error}");
        assert!(error.contains("allow_plain_ldap"), "{error}");
    }

    #[test]
    fn eap_tls_section_has_defaults_and_checked_ranges() {
        let dir = tempfile::tempdir().unwrap();
        let section = "\n[eap_tls]\ncertificate_file = \"/s.pem\"\nprivate_key_file = \"/s.key\"\nca_file = \"/ca.pem\"\n";
        let config = Config::load(&write_config(dir.path(), |t| t + section)).unwrap();
        let eap_tls = config.eap_tls.unwrap();
        assert_eq!(eap_tls.fragment_size, 1024);
        assert_eq!(eap_tls.max_conversations, 256);
        assert_eq!(eap_tls.conversation_timeout, Duration::from_secs(30));
        assert!(eap_tls.files.crl_files.is_empty());
        assert!(!eap_tls.identity_policy.subject_email && !eap_tls.allow_anonymous_identity);
        assert!(eap_tls.files.require_extended_master_secret);
        let error = load_error(|t| t + section + "fragment_size = 4000\n");
        assert!(error.contains("eap_tls.fragment_size"), "{error}");
        assert!(error.contains("between 64 and 3000"), "{error}");
        assert!(error.contains("line 27"), "{error}");
        let error = load_error(|t| t + section + "ocsp = true\n");
        assert!(error.contains("unknown field `ocsp`"), "{error}");
    }

    #[test]
    fn radsec_section_and_certificate_names_load() {
        let dir = tempfile::tempdir().unwrap();
        let section = "\n[radsec]\nlisten = \"127.0.0.1:2083\"\ncertificate_file = \"/s.pem\"\nprivate_key_file = \"/s.key\"\nclient_ca_file = \"/ca.pem\"\n";
        let named = |t: String| {
            t.replace(
                "address = \"127.0.0.0/8\"",
                "address = \"127.0.0.0/8\"\nradsec_certificate_name = \"vpn1.corp.example.test\"",
            ) + section
        };
        let config = Config::load(&write_config(dir.path(), named)).unwrap();
        let radsec = config.radsec.unwrap();
        assert_eq!(radsec.listen, "127.0.0.1:2083".parse().unwrap());
        assert_eq!(radsec.max_connections, 64);
        assert_eq!(radsec.idle_timeout, Duration::from_secs(300));
        assert_eq!(
            config.clients[0]
                .radsec_certificate_name
                .as_ref()
                .map(AsRef::as_ref),
            Some("vpn1.corp.example.test")
        );
        let error = load_error(|t| named(t).replace("vpn1.corp.example.test", "not a name"));
        assert!(
            error.contains("clients[0].radsec_certificate_name"),
            "{error}"
        );
        let error = load_error(|t| named(t) + "idle_timeout_s = 0\n");
        assert!(error.contains("radsec.idle_timeout_s"), "{error}");
        // A wildcard is no client's name (RFC 6125 §6.4.3).
        let error = load_error(|t| named(t).replace("vpn1.corp", "*.corp"));
        assert!(
            error.contains("clients[0].radsec_certificate_name"),
            "{error}"
        );
        assert!(radsec.crl_files.is_empty());
        let with_crls = |t: String| named(t) + "crl_files = [\"/a.crl\", \"/b.crl\"]\n";
        let config = Config::load(&write_config(dir.path(), with_crls)).unwrap();
        assert_eq!(config.radsec.unwrap().crl_files.len(), 2);
    }

    #[test]
    fn a_syslog_client_certificate_needs_its_key_and_tls() {
        let dir = tempfile::tempdir().unwrap();
        let tls = "\n[syslog]\nurl = \"tls://collector.example.test:6514\"\nca_file = \"/ca.pem\"\nspool_dir = \"/tmp/s\"\n";
        let both = "certificate_file = \"/c.pem\"\nprivate_key_file = \"/c.key\"\n";
        let config = Config::load(&write_config(dir.path(), |t| t + tls + both)).unwrap();
        let client = config.syslog.unwrap().client_certificate.unwrap();
        assert_eq!(client.certificate_file, Path::new("/c.pem"));
        let error = load_error(|t| t + tls + "certificate_file = \"/c.pem\"\n");
        assert!(error.contains("syslog.certificate_file"), "{error}");
        let error = load_error(|t| t + &tls.replace("tls://", "tcp://") + both);
        assert!(error.contains("syslog.certificate_file"), "{error}");
    }

    #[test]
    fn both_secret_and_secret_file_is_ambiguous() {
        let error = load_error(|t| {
            t.replace(
                "name = \"vpn1\"",
                "name = \"vpn1\"\nsecret = \"another-long-secret-value\"",
            )
        });
        assert!(error.contains("exactly one of"), "{error}");
        assert!(error.contains("clients[0]"), "{error}");
    }
}
