//! The configuration file: its TOML shape, its defaults, and the checks that run before adgate
//! serves a single request. Every error names the offending key and the line it is on, so an
//! admin can fix the file without reading code. Secrets referenced by file are read here, once,
//! so that a missing secret stops the start instead of rejecting logins later.
//!
//! `file.rs` is the shape and the defaults; each other file here checks one section and turns
//! it into the settings type of the module that uses it (`ThrottleSettings` for `throttle`,
//! `RadsecSettings` for `radsec`, ...). Those modules never look back into `config`.

mod audit;
mod clients;
mod directory;
#[cfg(test)]
mod documented_configs;
mod eap;
mod eap_tls;
mod file;
mod mschapv2;
mod oversight;
mod policy;
mod radsec;
mod sessions;
mod softether;
mod syslog;
#[cfg(test)]
mod test_config;
mod throttle;

use std::net::SocketAddr;
use std::ops::{Range, RangeInclusive};
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::clients::ClientSettings;
use crate::eap_tls::EapTlsLoginSettings;
use crate::throttle::ThrottleSettings;
use file::ConfigFile;

/// A longer reject delay would outlast the retransmission timeout of common NASes (3–5 s), which
/// would then retransmit for nothing or fail over to another server (FreeRADIUS caps it at 5 s
/// too).
const MAX_REJECT_DELAY_MS: u64 = 5000;

/// At most this many datagrams wait in all queues together: 256 MiB if each were 4096 octets
/// (RFC 2865 §3), more than any real office's burst needs.
const MAX_QUEUE_TOTAL: usize = 65_536;
/// A datagram that waited longer than this is useless even to a patient NAS: it has given up
/// or failed over (common NASes: 3–5 s a try, a few tries).
const MAX_QUEUE_WAIT_MS: u64 = 30_000;

/// A validated configuration with every referenced secret loaded.
#[derive(Debug)]
pub struct Config {
    pub auth_listen: Vec<SocketAddr>,
    pub acct_listen: Vec<SocketAddr>,
    pub max_in_flight: usize,
    /// How long after its request an Access-Reject leaves, at the earliest (zero: at once).
    pub reject_delay: Duration,
    /// How many datagrams may wait for a slot, and for how long (`server.queue_*`).
    pub queue_limits: adgate_radius::QueueLimits,
    pub clients: Vec<ClientSettings>,
    pub directory: adgate_authz::DirectoryConfig,
    pub policy: adgate_authz::PolicyConfig,
    pub audit: crate::audit::TrailSettings,
    /// Where records are forwarded, if anywhere.
    pub syslog: Option<crate::syslog::SyslogSettings>,
    pub throttle: ThrottleSettings,
    pub eap_tls: Option<EapTlsLoginSettings>,
    /// MS-CHAPv2 through winbind, if enabled.
    pub mschapv2: Option<adgate_authz::WinbindSettings>,
    /// Where `/metrics`, `/healthz` and `/readyz` are served (HTTP), if anywhere.
    pub metrics_listen: Option<SocketAddr>,
    pub radsec: Option<crate::radsec::RadsecSettings>,
    pub sessions: crate::sessions::SessionSettings,
    pub oversight: crate::oversight::OversightSettings,
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

/// Turns the parsed file into a `Config`, reporting problems at their line. Each section's
/// checks are methods of this type in the file named after the section.
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

    /// The value of `key` if it lies in `range`, else an error at its line.
    fn within<T>(
        &self,
        value: &toml::Spanned<T>,
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

    /// `server.queue_per_client`, `server.queue_total` and `server.queue_max_wait_ms`: a
    /// client's queue of 0 drops what its `max_in_flight` slots cannot take at once; all
    /// queues together hold at least one client's.
    fn queue_limits(
        &self,
        server: &file::ServerSection,
    ) -> Result<adgate_radius::QueueLimits, ConfigError> {
        let per_client = self.within(
            &server.queue_per_client,
            0..=MAX_QUEUE_TOTAL,
            "server.queue_per_client",
        )?;
        let total = self.within(
            &server.queue_total,
            per_client..=MAX_QUEUE_TOTAL,
            "server.queue_total",
        )?;
        let max_wait_ms = self.within(
            &server.queue_max_wait_ms,
            1..=MAX_QUEUE_WAIT_MS,
            "server.queue_max_wait_ms",
        )?;
        Ok(adgate_radius::QueueLimits {
            per_client,
            total,
            max_wait: Duration::from_millis(max_wait_ms),
        })
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
        let queue_limits = self.queue_limits(&server)?;
        let clients = self.clients(file.clients, max_in_flight)?;
        let throttle = self.throttle(file.throttle)?;
        let directory = self.directory(file.directory)?;
        let policy = self.policy(file.policy)?;
        Ok(Config {
            auth_listen: server.auth_listen.into_inner(),
            acct_listen: server.acct_listen,
            max_in_flight,
            reject_delay: Duration::from_millis(reject_delay_ms),
            queue_limits,
            clients,
            directory,
            policy,
            audit: self.audit(file.audit)?,
            syslog: file
                .syslog
                .map(|section| self.syslog(section))
                .transpose()?,
            throttle,
            eap_tls: self.eap(file.eap, file.eap_tls, file.mschapv2.is_some())?,
            mschapv2: file
                .mschapv2
                .map(|section| self.mschapv2(section))
                .transpose()?,
            metrics_listen: file.metrics.map(|section| section.listen),
            radsec: file
                .radsec
                .map(|section| self.radsec(section))
                .transpose()?,
            sessions: self.sessions(file.sessions)?,
            oversight: self.oversight(file.oversight)?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::test_config::{load_error, write_config};
    use super::*;

    #[test]
    fn the_documented_shape_loads_with_defaults() {
        let dir = tempfile::tempdir().unwrap();
        let config = Config::load(&write_config(dir.path(), |t| t)).unwrap();
        assert_eq!(config.clients.len(), 1);
        assert_eq!(
            config.clients[0].require_message_authenticator,
            adgate_radius::MessageAuthenticatorRule::Auto
        );
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
            ThrottleSettings {
                max_failures: 5,
                window: Duration::from_secs(1800),
                familiar_for: Duration::from_secs(30 * 86_400),
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
            ) + "\n[throttle]\nmax_failures = 3\nwindow_s = 60\nfamiliar_days = 0\n"
        });
        let config = Config::load(&path).unwrap();
        assert_eq!(config.acct_listen, ["127.0.0.1:1813".parse().unwrap()]);
        assert!(!config.clients[0].limit_proxy_state);
        assert_eq!(config.clients[0].max_in_flight, 8);
        assert_eq!(config.throttle.max_failures, 3);
        assert_eq!(config.throttle.window, Duration::from_secs(60));
        assert_eq!(config.throttle.familiar_for, Duration::ZERO);
        let error = load_error(|t| t + "\n[throttle]\nfamiliar_days = 366\n");
        assert!(
            error.contains("`throttle.familiar_days` must be between 0 and 365"),
            "{error}"
        );
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
    fn the_request_queue_limits_default_to_an_office_burst_and_are_bounded() {
        let dir = tempfile::tempdir().unwrap();
        let with_server_keys = |keys: &'static str| {
            move |text: String| {
                text.replace(
                    "auth_listen = [\"127.0.0.1:1812\"]",
                    &format!("auth_listen = [\"127.0.0.1:1812\"]\n{keys}"),
                )
            }
        };
        let defaults = Config::load(&write_config(dir.path(), |t| t)).unwrap();
        assert_eq!(
            defaults.queue_limits,
            adgate_radius::QueueLimits {
                per_client: 1024,
                total: 4096,
                max_wait: Duration::from_secs(2),
            }
        );
        let set = Config::load(&write_config(
            dir.path(),
            with_server_keys("queue_per_client = 0\nqueue_total = 0\nqueue_max_wait_ms = 500"),
        ))
        .unwrap();
        assert_eq!(
            set.queue_limits,
            adgate_radius::QueueLimits {
                per_client: 0,
                total: 0,
                max_wait: Duration::from_millis(500),
            }
        );
        for (keys, problem) in [
            (
                "queue_per_client = 65537",
                "`server.queue_per_client` must be between 0 and 65536",
            ),
            (
                "queue_per_client = 200\nqueue_total = 100",
                "`server.queue_total` must be between 200 and 65536",
            ),
            (
                "queue_total = 65537",
                "`server.queue_total` must be between 1024 and 65536",
            ),
            (
                "queue_max_wait_ms = 0",
                "`server.queue_max_wait_ms` must be between 1 and 30000",
            ),
            (
                "queue_max_wait_ms = 30001",
                "`server.queue_max_wait_ms` must be between 1 and 30000",
            ),
        ] {
            let error = load_error(with_server_keys(keys));
            assert!(error.contains(problem), "{keys}: {error}");
        }
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
    fn an_unknown_key_is_refused() {
        let error = load_error(|t| t.replace("timeout_ms = 3000", "timeout = 3000"));
        assert!(error.contains("unknown field `timeout`"), "{error}");
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
}
