//! Reloading the configuration on SIGHUP (`systemctl reload adgate`). The file is loaded and
//! checked exactly as at start — every key, every secret file, CA, certificate, key and CRL it
//! names — and only if all of it is usable does it replace what is running: the clients with
//! their addresses, secrets and flags; the directory and policy; the throttle limits (not its
//! counts: a reload must not reset a guesser's budget); EAP-TLS certificate, key, CA and CRLs
//! (conversations in progress finish with the TLS settings they started with); RadSec
//! certificates and clients (for connections accepted afterwards). Requests in flight finish
//! with the configuration they started with.
//!
//! What is bound, opened or started once ([`StartOnly`]: listen addresses, the audit trail and
//! its signing key, the syslog forwarder, the metrics listener, RadSec's listener) cannot change
//! this way: a reload that changes any of it is refused, naming the keys, and so is a file with
//! any error. A refused reload changes nothing, and the log line says why.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::atomic::AtomicU64;
use std::sync::Arc;
use std::time::Duration;

use adgate_authz::{Authorizer, DcHealth, Directory, Winbind};
use adgate_radius::{ClientState, ClientTable, NasClient};
use anyhow::Context;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::{Registry, Unit};

use crate::audit::{TrailSettings, Trigger};
use crate::config::{Config, ConfigError};
use crate::config_audit::{ConfigAudit, Snapshot};
use crate::current_handler::CurrentHandler;
use crate::eap_tls::EapTlsLogins;
use crate::gatekeeper::Gatekeeper;
use crate::oversight::OversightSettings;
use crate::radsec::{RadsecSettings, RadsecTrust};
use crate::service_manager;
use crate::sessions::{DisconnectTargets, SessionSettings};
use crate::swappable::Swappable;
use crate::syslog::SyslogSettings;
use crate::throttle::ThrottleSettings;

/// The settings read once at start: changing them needs a restart.
#[derive(Clone)]
pub struct StartOnly {
    pub auth_listen: Vec<SocketAddr>,
    pub acct_listen: Vec<SocketAddr>,
    pub max_in_flight: usize,
    pub reject_delay: Duration,
    pub queue_limits: adgate_radius::QueueLimits,
    pub audit: TrailSettings,
    pub syslog: Option<SyslogSettings>,
    pub metrics_listen: Option<SocketAddr>,
    pub radsec: Option<RadsecSettings>,
    pub sessions: SessionSettings,
    pub oversight: OversightSettings,
}

/// A configuration's reloadable part, built and checked.
pub struct Reloadable {
    pub clients: ClientTable,
    pub authorizer: Authorizer,
    pub throttle: ThrottleSettings,
    pub eap_tls: Option<EapTlsLogins>,
    /// MS-CHAPv2 through winbind (`[mschapv2]`).
    pub mschapv2: Option<Winbind>,
    pub radsec: Option<RadsecTrust>,
    /// Where each client takes Disconnect-Requests.
    pub disconnect_targets: DisconnectTargets,
    pub summary: Summary,
}

/// What a configuration serves, for the log line of a reload (names and counts, no secrets).
pub struct Summary {
    pub client_names: Vec<String>,
    /// Where the domain controllers come from: "2 domain controller URL(s)", or "the domain
    /// controllers DNS names for corp.example.test".
    pub directory_dcs: String,
    /// The longest one LDAP operation may take.
    pub directory_timeout: Duration,
    pub eap_tls: bool,
    pub mschapv2: bool,
    pub radsec_clients: usize,
}

/// Loads the file at `path` and builds everything it describes that a reload may replace,
/// checking every file it names; the start-only settings are returned as they are. When
/// reloading, `running` is the start-only part in use: a file that changes it is refused before
/// anything is built. The directory is built last, with `dc_health` (the running directory's on
/// a reload, so that the per-DC state and counters carry over), so that a refused file never
/// changes which DCs that handle tracks.
pub fn load(
    path: &Path,
    running: Option<&StartOnly>,
    dc_health: DcHealth,
) -> anyhow::Result<(StartOnly, Reloadable)> {
    // Every field is named, so a new setting must be sorted into one of the two parts.
    let Config {
        auth_listen,
        acct_listen,
        max_in_flight,
        reject_delay,
        queue_limits,
        clients,
        directory,
        policy,
        audit,
        syslog,
        throttle,
        eap_tls,
        mschapv2,
        metrics_listen,
        radsec,
        sessions,
        oversight,
    } = Config::load(path)?;
    let start_only = StartOnly {
        auth_listen,
        acct_listen,
        max_in_flight,
        reject_delay,
        queue_limits,
        audit,
        syslog,
        metrics_listen,
        radsec,
        sessions,
        oversight,
    };
    if let Some(running) = running {
        let restart = running.changed_in(&start_only);
        if !restart.is_empty() {
            anyhow::bail!(
                "{} changed, which needs a restart (nothing was applied)",
                restart.join(", ")
            );
        }
    }
    let radsec_trust = start_only
        .radsec
        .as_ref()
        .map(|settings| RadsecTrust::load(settings, &clients))
        .transpose()?;
    let summary = Summary {
        client_names: clients.iter().map(|client| client.name.clone()).collect(),
        directory_dcs: match (&directory.domain, directory.urls.len()) {
            (Some(domain), 0) => format!("the domain controllers DNS names for {domain}"),
            (_, urls) => format!("{urls} domain controller URL(s)"),
        },
        directory_timeout: directory.timeout,
        eap_tls: eap_tls.is_some(),
        mschapv2: mschapv2.is_some(),
        radsec_clients: radsec_trust.as_ref().map_or(0, RadsecTrust::client_count),
    };
    let eap_tls = eap_tls
        .map(EapTlsLogins::new)
        .transpose()
        .context("eap_tls settings")?;
    let mschapv2 = mschapv2
        .map(Winbind::new)
        .transpose()
        .context("mschapv2 settings")?;
    let disconnect_targets = DisconnectTargets(
        clients
            .iter()
            .filter_map(|client| Some((client.name.clone(), client.disconnect.clone()?)))
            .collect(),
    );
    let clients = ClientTable::new(
        clients
            .into_iter()
            .map(|client| {
                let nas = NasClient {
                    name: client.name,
                    secret: client.secret,
                    require_message_authenticator: client.require_message_authenticator,
                    limit_proxy_state: client.limit_proxy_state,
                    max_in_flight: client.max_in_flight,
                    state: ClientState::default(),
                };
                (client.address, Arc::new(nas))
            })
            .collect(),
    );
    let directory =
        Directory::with_dc_health(directory, dc_health).context("directory settings")?;
    let reloadable = Reloadable {
        clients,
        authorizer: Authorizer::new(directory, policy),
        throttle,
        eap_tls,
        mschapv2,
        radsec: radsec_trust,
        disconnect_targets,
        summary,
    };
    Ok((start_only, reloadable))
}

impl StartOnly {
    /// The keys whose values differ in `new`: each needs a restart.
    fn changed_in(&self, new: &StartOnly) -> Vec<&'static str> {
        let mut changed = Vec::new();
        let mut compare = |differs: bool, key| {
            if differs {
                changed.push(key);
            }
        };
        compare(self.auth_listen != new.auth_listen, "server.auth_listen");
        compare(self.acct_listen != new.acct_listen, "server.acct_listen");
        compare(
            self.max_in_flight != new.max_in_flight,
            "server.max_in_flight",
        );
        compare(
            self.reject_delay != new.reject_delay,
            "server.reject_delay_ms",
        );
        compare(
            self.queue_limits != new.queue_limits,
            "server.queue_per_client / server.queue_total / server.queue_max_wait_ms",
        );
        let (audit, new_audit) = (&self.audit, &new.audit);
        compare(audit.dir != new_audit.dir, "audit.dir");
        compare(
            audit.segment_max_bytes != new_audit.segment_max_bytes,
            "audit.segment_max_bytes",
        );
        compare(
            audit.retention != new_audit.retention,
            "audit.retention_days / audit.delete_expired_segments",
        );
        compare(
            audit.signing_key_file != new_audit.signing_key_file,
            "audit.signing_key_file",
        );
        compare(
            audit.checkpoint_every_records != new_audit.checkpoint_every_records,
            "audit.checkpoint_every_records",
        );
        compare(
            audit.checkpoint_every != new_audit.checkpoint_every,
            "audit.checkpoint_every_s",
        );
        match (&self.syslog, &new.syslog) {
            (Some(syslog), Some(new_syslog)) => {
                compare(syslog.target != new_syslog.target, "syslog.url");
                compare(syslog.ca_file != new_syslog.ca_file, "syslog.ca_file");
                compare(
                    syslog.client_certificate != new_syslog.client_certificate,
                    "syslog.certificate_file",
                );
                compare(syslog.spool_dir != new_syslog.spool_dir, "syslog.spool_dir");
                compare(syslog.hostname != new_syslog.hostname, "syslog.hostname");
            }
            (None, None) => {}
            _ => compare(true, "[syslog]"),
        }
        compare(self.metrics_listen != new.metrics_listen, "metrics.listen");
        match (&self.radsec, &new.radsec) {
            (Some(radsec), Some(new_radsec)) => {
                compare(radsec.listen != new_radsec.listen, "radsec.listen");
                compare(
                    radsec.max_connections != new_radsec.max_connections,
                    "radsec.max_connections",
                );
                compare(
                    radsec.idle_timeout != new_radsec.idle_timeout,
                    "radsec.idle_timeout_s",
                );
            }
            (None, None) => {}
            _ => compare(true, "[radsec]"),
        }
        compare(self.sessions != new.sessions, "[sessions]");
        compare(self.oversight != new.oversight, "[oversight]");
        changed
    }
}

impl Summary {
    /// One line on what `new` changes, for the log.
    fn changes_to(&self, new: &Summary) -> String {
        let added: Vec<&str> = new
            .client_names
            .iter()
            .filter(|name| !self.client_names.contains(name))
            .map(String::as_str)
            .collect();
        let removed: Vec<&str> = self
            .client_names
            .iter()
            .filter(|name| !new.client_names.contains(name))
            .map(String::as_str)
            .collect();
        let mut line = format!("{} client(s)", new.client_names.len());
        if !added.is_empty() {
            line += &format!(", added {}", added.join(" "));
        }
        if !removed.is_empty() {
            line += &format!(", removed {}", removed.join(" "));
        }
        line += &format!(
            "; {}; EAP-TLS {}; MS-CHAPv2 {}; {} RadSec client(s)",
            new.directory_dcs,
            if new.eap_tls { "on" } else { "off" },
            if new.mschapv2 { "on" } else { "off" },
            new.radsec_clients
        );
        line
    }
}

/// `error` on one log line. A TOML syntax error shows the offending line with a caret below
/// it: only where it is (file, line, column) and what is wrong are kept.
fn one_line(error: &anyhow::Error) -> String {
    if let Some(ConfigError::Syntax { path, error }) = error.downcast_ref::<ConfigError>() {
        let text = error.to_string();
        let place = text.lines().next().unwrap_or_default();
        return format!("{}: {place}: {}", path.display(), error.message());
    }
    format!("{error:#}")
}

/// `error` for the trail: as [`one_line`], but a TOML syntax error keeps only where it is, as
/// its message may quote a value from the file (a secret written inline).
fn for_the_record(error: &anyhow::Error) -> String {
    if let Some(ConfigError::Syntax { path, error }) = error.downcast_ref::<ConfigError>() {
        let text = error.to_string();
        let place = text.lines().next().unwrap_or_default();
        return format!("{}: {place}: TOML syntax error", path.display());
    }
    one_line(error)
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ReloadLabels {
    /// `applied` or `refused`.
    result: &'static str,
}

/// Reloads: how many, and when the running configuration was last loaded.
#[derive(Default)]
struct ReloadMetrics {
    reloads: Family<ReloadLabels, Counter>,
    last_success: Gauge<f64, AtomicU64>,
}

impl ReloadMetrics {
    fn register(&self, registry: &mut Registry) {
        // Both results show from the start, at 0.
        for result in ["applied", "refused"] {
            let _ = self.reloads.get_or_create(&ReloadLabels { result });
        }
        registry.register(
            "config_reloads",
            "Configuration reloads (SIGHUP), by result: applied, or refused (old one kept)",
            self.reloads.clone(),
        );
        registry.register_with_unit(
            "config_last_reload_success_timestamp",
            "When the running configuration was loaded (at start or by a reload), Unix time",
            Unit::Seconds,
            self.last_success.clone(),
        );
    }

    fn loaded_now(&self) {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default();
        self.last_success.set(now.as_secs_f64());
    }
}

/// Applies reloads to the running server.
pub struct Reloader {
    config_audit: ConfigAudit,
    start_only: StartOnly,
    summary: Summary,
    clients: Arc<ClientTable>,
    handler: Arc<CurrentHandler<Gatekeeper>>,
    radsec: Option<Arc<Swappable<RadsecTrust>>>,
    disconnect_targets: Arc<Swappable<DisconnectTargets>>,
    dc_health: DcHealth,
    metrics: ReloadMetrics,
}

/// What a [`Reloader`] swaps: the objects the servers read.
pub struct Running {
    pub clients: Arc<ClientTable>,
    pub handler: Arc<CurrentHandler<Gatekeeper>>,
    pub radsec: Option<Arc<Swappable<RadsecTrust>>>,
    pub disconnect_targets: Arc<Swappable<DisconnectTargets>>,
    /// The per-DC state the running directory keeps, handed to the next one.
    pub dc_health: DcHealth,
}

impl Reloader {
    /// A reloader for the server started with `start_only` and `summary`, from the file
    /// `config_audit` watches.
    pub fn new(
        config_audit: ConfigAudit,
        start_only: StartOnly,
        summary: Summary,
        running: Running,
        registry: &mut Registry,
    ) -> Reloader {
        let metrics = ReloadMetrics::default();
        metrics.register(registry);
        metrics.loaded_now();
        Reloader {
            config_audit,
            start_only,
            summary,
            clients: running.clients,
            handler: running.handler,
            radsec: running.radsec,
            disconnect_targets: running.disconnect_targets,
            dc_health: running.dc_health,
            metrics,
        }
    }

    /// The running configuration's directory timeout.
    pub fn directory_timeout(&self) -> Duration {
        self.summary.directory_timeout
    }

    /// Compares the configuration files on disk with what runs (see `config_audit`).
    pub async fn check_drift(&mut self) {
        self.config_audit.check_drift().await;
    }

    /// Reloads the file, or keeps the running configuration and says why not; either way a
    /// `config` record says what was read and what `trigger` set it off.
    pub async fn reload(&mut self, trigger: Trigger) {
        service_manager::notify_reloading();
        tracing::info!(
            config = %self.config_audit.path().display(),
            sender_pid = trigger.sender_pid,
            sender_uid = trigger.sender_uid,
            "reloading the configuration"
        );
        let (read, result) = self.try_reload().await;
        let refusal = result.as_ref().err().map(for_the_record);
        match result {
            Ok(changes) => {
                self.metrics.loaded_now();
                self.metrics
                    .reloads
                    .get_or_create(&ReloadLabels { result: "applied" })
                    .inc();
                tracing::info!(%changes, "configuration reloaded");
            }
            Err(error) => {
                self.metrics
                    .reloads
                    .get_or_create(&ReloadLabels { result: "refused" })
                    .inc();
                tracing::error!(
                    "configuration reload refused, still serving the previous configuration: {}",
                    one_line(&error)
                );
            }
        }
        self.config_audit.reloaded(read, refusal, trigger).await;
        service_manager::notify("READY=1");
    }

    /// The files as the reload read them, and what it changed or why it was refused.
    async fn try_reload(&mut self) -> (Snapshot, anyhow::Result<String>) {
        // Reading and checking every file blocks: not on an async worker, where it would hold
        // up requests.
        let (path, running, dc_health) = (
            self.config_audit.path().to_owned(),
            self.start_only.clone(),
            self.dc_health.clone(),
        );
        let loaded = tokio::task::spawn_blocking(move || {
            let read = Snapshot::read(&path);
            (read, load(&path, Some(&running), dc_health))
        })
        .await;
        match loaded {
            Ok((read, Ok((_, new)))) => (read, Ok(self.apply(new))),
            Ok((read, Err(error))) => (read, Err(error)),
            Err(error) => (
                Snapshot::read(self.config_audit.path()),
                Err(anyhow::Error::new(error).context("the reload task failed")),
            ),
        }
    }

    /// Puts `new` in place of what runs; returns what changed, for the log.
    fn apply(&mut self, new: Reloadable) -> String {
        // A RadSec listener is bound at start; `changed_in` refused adding or removing one.
        if let (Some(trust), Some(new_trust)) = (&self.radsec, new.radsec) {
            trust.replace(new_trust);
        }
        self.clients.replace(new.clients);
        self.disconnect_targets.replace(new.disconnect_targets);
        let gatekeeper =
            self.handler
                .get()
                .successor(new.authorizer, new.throttle, new.eap_tls, new.mschapv2);
        self.handler.replace(gatekeeper);
        self.handler.get().discover_in_background();
        let changes = self.summary.changes_to(&new.summary);
        self.summary = new.summary;
        changes
    }
}
