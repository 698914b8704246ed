//! Opening an LDAP connection to the domain controller that should be used now, over TLS.
//!
//! The DCs ([`DcList`]: the configured URLs, or those DNS SRV discovery found for the
//! configured domain, which may change while adgate runs) are tried in order, except that DCs
//! marked down in [`DcHealth`] come last: a dead DC costs one failed attempt (at most one
//! timeout) once, not one per new connection. A DC marked down is probed in the background (a
//! TCP and TLS handshake, no bind) after a back-off that doubles from [`FIRST_PROBE`] to
//! [`LAST_PROBE`]; once it answers it is up again, and as the first in the list it is
//! preferred again: the service connection and idle user-bind connections to a less preferred
//! DC (or to one no longer listed) are replaced on their next use (see [`Connector::keeps`]).
//! Even when every DC is marked down, every one is still tried: back-off never refuses a login
//! by itself; when all fail, a discovered list is looked up again soon. Connection failures are
//! translated into messages that name the fix, most importantly the classic "DC certificate
//! without subjectAltName" that rustls refuses.
//!
//! Readiness (`/readyz`) is answered from what a readiness probe last found: once asked, the
//! connector looks for a DC that accepts a TCP connection every [`READINESS_PROBE`], in the
//! background, so a readiness check never waits for a DC (except the very first).

use std::collections::HashSet;
use std::future::Future;
use std::net::IpAddr;
use std::path::Path;
use std::sync::{Arc, Mutex, PoisonError, Weak};
use std::time::Duration;

use ldap3::{Ldap, LdapConnAsync, LdapConnSettings, LdapError};
use rustls::{CertificateError, ClientConfig};
use tokio::sync::{watch, OnceCell};
use tracing::{debug, info, warn};

use crate::dc_discovery::{self, Resolvers};
use crate::dc_health::DcHealth;
use crate::dc_list::{DcList, Servers};
use crate::error::DirectoryError;
use crate::server::{Server, Transport};
use crate::{tls, ConfigError};

/// The first background probe of a DC that went down comes this long after it failed.
pub(crate) const FIRST_PROBE: Duration = Duration::from_secs(2);
/// Probes of a DC that stays down are spaced out, doubling, up to this.
pub(crate) const LAST_PROBE: Duration = Duration::from_secs(60);
/// How often the readiness probe looks for a reachable DC (a TCP connect to the first that
/// accepts one), once readiness has been asked for: what `/readyz` says is at most this old
/// (plus the connect timeouts of the DCs that do not answer).
pub const READINESS_PROBE: Duration = Duration::from_secs(5);

/// Where the domain controllers come from.
#[derive(Debug, Clone, Copy)]
pub(crate) enum DcSource<'a> {
    /// These URLs, tried in this order.
    Urls(&'a [String]),
    /// The DCs DNS names for this AD domain (`corp.example.test`), asking `resolvers`.
    Domain {
        domain: &'a str,
        resolvers: Resolvers,
    },
}

/// An open connection and the DC it goes to.
#[derive(Debug)]
pub(crate) struct Connection {
    pub(crate) ldap: Ldap,
    pub(crate) dc: Arc<Server>,
}

/// Opens connections to the domain controllers and keeps track of their health.
pub(crate) struct Connector {
    dcs: DcList,
    tls: Arc<ClientConfig>,
    ca_file: String,
    timeout: Duration,
    health: DcHealth,
    /// The URLs of the DCs a background probe runs for.
    probing: Mutex<HashSet<String>>,
    /// Set once the first readiness probe has run and the periodic one is started.
    readiness_probe: OnceCell<()>,
    /// This connector, for the probes it starts: they end when it is dropped.
    this: Weak<Connector>,
}

impl Connector {
    /// Validate the URLs (or the domain name) and load the CA; nothing is contacted yet.
    /// `health` learns the URLs (keeping what it knew of those it already tracked); a domain's
    /// DCs it learns as they are found.
    pub(crate) fn new(
        source: DcSource<'_>,
        ca_file: &Path,
        timeout: Duration,
        starttls: bool,
        allow_plain_ldap: bool,
        health: DcHealth,
    ) -> Result<Arc<Connector>, ConfigError> {
        let dcs = match source {
            DcSource::Urls(urls) => {
                let servers = configured_servers(urls, starttls, allow_plain_ldap)?;
                health.track(urls);
                DcList::configured(servers)
            }
            DcSource::Domain { domain, resolvers } => {
                let domain =
                    dc_discovery::domain_name(domain).map_err(|problem| ConfigError::Invalid {
                        setting: "domain",
                        problem,
                    })?;
                DcList::discovered(domain, resolvers, starttls, timeout, health.clone())
            }
        };
        let tls = tls::client_config(ca_file)?;
        Ok(Arc::new_cyclic(|this| Connector {
            dcs,
            tls,
            ca_file: ca_file.display().to_string(),
            timeout,
            health,
            probing: Mutex::new(HashSet::new()),
            readiness_probe: OnceCell::new(),
            this: this.clone(),
        }))
    }

    /// The DC the readiness probe last reached (`None`: no DC accepted a connection). The
    /// first call probes before answering and starts probing every [`READINESS_PROBE`] for the
    /// life of this connector; callers at the same time wait for that first probe.
    pub(crate) async fn reachable(&self) -> Option<String> {
        self.readiness_probe
            .get_or_init(|| async {
                self.probe_readiness().await;
                self.spawn_readiness_probe();
            })
            .await;
        self.health.reachable()
    }

    /// Probes every [`READINESS_PROBE`] until this connector is dropped.
    fn spawn_readiness_probe(&self) {
        let this = self.this.clone();
        tokio::spawn(async move {
            let mut interval = tokio::time::interval(READINESS_PROBE);
            interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            interval.tick().await; // immediate; the first probe has just run
            loop {
                interval.tick().await;
                let Some(connector) = this.upgrade() else {
                    return;
                };
                connector.probe_readiness().await;
            }
        });
    }

    async fn probe_readiness(&self) {
        let reached = self.first_reachable().await;
        self.health.probed(reached.as_deref());
    }

    /// The URL of the first domain controller, in the order connections are tried, that
    /// accepts a TCP connection within the timeout; `None` when none does. Cheap (no TLS, no
    /// bind, nothing in the DC's logs beyond a connect) and independent of the connections
    /// kept for logins. A DC that does not accept the connection is marked down, as it would
    /// be by a login.
    async fn first_reachable(&self) -> Option<String> {
        for server in self.order().await {
            let connect = tokio::net::TcpStream::connect((server.host.as_str(), server.port));
            let error = match tokio::time::timeout(self.timeout, connect).await {
                Ok(Ok(_)) => return Some(server.url.clone()),
                Ok(Err(error)) => DirectoryError::Connect {
                    url: server.url.clone(),
                    detail: error.to_string(),
                },
                Err(_) => DirectoryError::ConnectTimeout {
                    url: server.url.clone(),
                    timeout: self.timeout,
                },
            };
            self.failed(&server, &error);
        }
        None
    }

    /// The limit for each connection attempt and each LDAP operation.
    pub(crate) fn timeout(&self) -> Duration {
        self.timeout
    }

    /// Connect to the servers in the order of [`Connector::order`] and run `setup` on each new
    /// connection (for example the service bind); the first server where both succeed is used.
    pub(crate) async fn open<F, Fut>(
        &self,
        purpose: &str,
        mut setup: F,
    ) -> Result<Connection, DirectoryError>
    where
        F: FnMut(Ldap, String) -> Fut,
        Fut: Future<Output = Result<Ldap, DirectoryError>>,
    {
        let order = self.order().await;
        if order.is_empty() {
            self.dcs.all_failed();
            return Err(self.dcs.none_known());
        }
        let mut failures = Vec::new();
        for server in order {
            match self.open_dc(&server, purpose, &mut setup).await {
                Ok(connection) => return Ok(connection),
                Err(error) => failures.push(error),
            }
        }
        self.dcs.all_failed();
        Err(DirectoryError::NoServer { failures })
    }

    /// Connect to the DC `server` and run `setup` on the connection. The DC's health learns
    /// the outcome: a failure marks it down, a success up.
    pub(crate) async fn open_dc<F, Fut>(
        &self,
        server: &Arc<Server>,
        purpose: &str,
        setup: F,
    ) -> Result<Connection, DirectoryError>
    where
        F: FnOnce(Ldap, String) -> Fut,
        Fut: Future<Output = Result<Ldap, DirectoryError>>,
    {
        let result = match self.connect(server).await {
            Ok(ldap) => setup(ldap, server.url.clone()).await,
            Err(error) => Err(error),
        };
        match result {
            Ok(ldap) => {
                debug!(url = %server.url, purpose, "connected to the directory");
                if self.health.succeeded(&server.url) {
                    info!(url = %server.url, "domain controller is back");
                }
                Ok(Connection {
                    ldap,
                    dc: server.clone(),
                })
            }
            Err(error) => {
                debug!(url = %server.url, purpose, %error, "directory server unusable");
                self.failed(server, &error);
                Err(error)
            }
        }
    }

    /// The DCs now, in the order of the list (configured, or as DNS ordered them), after the
    /// first discovery (see [`DcList::ready`]).
    pub(crate) async fn servers(&self) -> Servers {
        self.dcs.ready().await;
        self.dcs.servers()
    }

    /// Looks a discovered list up now (see [`DcList::look_up_now`]).
    #[cfg(test)]
    pub(crate) async fn look_up_now(&self) {
        self.dcs.look_up_now().await;
    }

    /// Every change of the list of DCs from now on (only a discovered list changes).
    pub(crate) fn servers_changes(&self) -> watch::Receiver<Servers> {
        self.dcs.subscribe()
    }

    /// Whether a connection to `dc` should be kept: it goes to the DC new connections would
    /// go to, or no DC is up (then any connection that still works is as good as another).
    pub(crate) fn keeps(&self, dc: &Server) -> bool {
        let servers = self.dcs.servers();
        match servers.iter().find(|server| self.health.is_up(&server.url)) {
            Some(first) => first.url == dc.url,
            None => true,
        }
    }

    /// `error` happened on an open connection to `dc`. A DC that let an operation time out
    /// is marked down (the next connection goes elsewhere instead of waiting again); a broken
    /// connection is only counted, since DCs also close idle connections, and the reconnect
    /// tells whether the DC is there.
    pub(crate) fn operation_failed(&self, dc: &Arc<Server>, error: &DirectoryError) {
        match error {
            DirectoryError::Timeout { .. } => self.failed(dc, error),
            _ => self.health.count(&dc.url, error),
        }
    }

    /// The DCs in the order to try them: those not marked down in list order, then those
    /// marked down, also in list order (tried last, never skipped).
    async fn order(&self) -> Vec<Arc<Server>> {
        let servers = self.servers().await;
        let (up, down): (Vec<_>, Vec<_>) = servers
            .iter()
            .cloned()
            .partition(|server| self.health.is_up(&server.url));
        for server in &down {
            self.probe(server.clone());
        }
        up.into_iter().chain(down).collect()
    }

    /// Count `error` against `dc` and mark it down; the first time, say so and start probing.
    fn failed(&self, dc: &Arc<Server>, error: &DirectoryError) {
        if self.health.failed(&dc.url, error) {
            warn!(
                url = %dc.url,
                %error,
                "domain controller down: skipped while another one answers, probed in the background"
            );
        }
        self.probe(dc.clone());
    }

    /// Probe `dc` in the background until it answers or is no longer listed, unless a probe
    /// of it already runs.
    fn probe(&self, dc: Arc<Server>) {
        if !self.probing().insert(dc.url.clone()) {
            return;
        }
        let this = self.this.clone();
        tokio::spawn(async move {
            let mut wait = FIRST_PROBE;
            loop {
                tokio::time::sleep(wait).await;
                let Some(connector) = this.upgrade() else {
                    return;
                };
                let result = if !connector.dcs.contains(&dc.url) || connector.health.is_up(&dc.url)
                {
                    Ok(())
                } else {
                    connector.connect(&dc).await.map(drop)
                };
                match result {
                    Ok(()) => {
                        connector.probing().remove(&dc.url);
                        if connector.health.succeeded(&dc.url) {
                            info!(url = %dc.url, "domain controller is back");
                        }
                        return;
                    }
                    Err(error) => {
                        debug!(url = %dc.url, %error, ?wait, "domain controller still down");
                        connector.health.count(&dc.url, &error);
                    }
                }
                wait = (wait * 2).min(LAST_PROBE);
            }
        });
    }

    fn probing(&self) -> std::sync::MutexGuard<'_, HashSet<String>> {
        self.probing.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// TCP, then TLS (directly or after StartTLS), all within the timeout. The returned handle's
    /// connection is driven by a task of its own, which ends when the last handle is dropped.
    async fn connect(&self, server: &Server) -> Result<Ldap, DirectoryError> {
        let settings = LdapConnSettings::new()
            .set_conn_timeout(self.timeout)
            .set_config(self.tls.clone())
            .set_starttls(server.transport == Transport::StartTls);
        let (connection, ldap) = LdapConnAsync::with_settings(settings, &server.url)
            .await
            .map_err(|error| self.connect_error(server, error))?;
        let url = server.url.clone();
        let health = self.health.clone();
        health.connection_opened(&url);
        tokio::spawn(async move {
            if let Err(error) = connection.drive().await {
                debug!(%url, %error, "directory connection ended");
            }
            health.connection_closed(&url);
        });
        Ok(ldap)
    }

    fn connect_error(&self, server: &Server, error: LdapError) -> DirectoryError {
        let tls_error = match &error {
            LdapError::Rustls { source } => Some(source),
            LdapError::Io { source } => source
                .get_ref()
                .and_then(|inner| inner.downcast_ref::<rustls::Error>()),
            _ => None,
        };
        if let Some(tls_error) = tls_error {
            return self.tls_error(server, tls_error);
        }
        match error {
            LdapError::Timeout { .. } => DirectoryError::ConnectTimeout {
                url: server.url.clone(),
                timeout: self.timeout,
            },
            other => DirectoryError::Connect {
                url: server.url.clone(),
                detail: other.to_string(),
            },
        }
    }

    fn tls_error(&self, server: &Server, error: &rustls::Error) -> DirectoryError {
        let url = server.url.clone();
        match error {
            rustls::Error::InvalidCertificate(
                CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. },
            ) => DirectoryError::CertificateLacksName {
                url,
                host: server.host.clone(),
                san: match server.host.parse::<IpAddr>() {
                    Ok(ip) => format!("IP:{ip}"),
                    Err(_) => format!("DNS:{}", server.host),
                },
            },
            // BadSignature: a CA of that name is in ca_file but did not sign this certificate
            // (typically a CA renewed with a new key).
            rustls::Error::InvalidCertificate(
                CertificateError::UnknownIssuer | CertificateError::BadSignature,
            ) => DirectoryError::UntrustedCertificate {
                url,
                ca_file: self.ca_file.clone(),
            },
            other => DirectoryError::Tls {
                url,
                detail: other.to_string(),
            },
        }
    }
}

/// The configured URLs as servers: each valid, none listed twice (each DC is one series in the
/// metrics, keyed by its URL).
fn configured_servers(
    urls: &[String],
    starttls: bool,
    allow_plain_ldap: bool,
) -> Result<Vec<Server>, ConfigError> {
    if urls.is_empty() {
        return Err(ConfigError::NoUrls);
    }
    let repeated = urls
        .iter()
        .enumerate()
        .find(|(i, url)| urls.iter().take(*i).any(|earlier| earlier == *url));
    if let Some((_, url)) = repeated {
        return Err(ConfigError::BadUrl {
            url: url.clone(),
            problem: "listed twice".into(),
        });
    }
    let servers = urls
        .iter()
        .map(|url| Server::parse(url, starttls, allow_plain_ldap))
        .collect::<Result<Vec<_>, _>>()?;
    for server in servers.iter().filter(|s| s.transport == Transport::Plain) {
        warn!(
            url = %server.url,
            "allow_plain_ldap: passwords will cross the network in clear text; \
             development only"
        );
    }
    Ok(servers)
}

#[cfg(test)]
pub(crate) mod tests {
    use std::io::Write;
    use std::sync::atomic::Ordering;

    use super::*;
    use crate::dc_health::DcErrorKind;

    #[test]
    fn a_url_listed_twice_is_refused() {
        let url = "ldaps://dc1.corp.example.test".to_owned();
        let error = Connector::new(
            DcSource::Urls(&[url.clone(), "ldaps://dc2".into(), url.clone()]),
            Path::new("/x"),
            Duration::from_secs(1),
            false,
            false,
            DcHealth::new(),
        );
        assert!(
            matches!(error, Err(ConfigError::BadUrl { url: bad, problem }) if bad == url && problem == "listed twice")
        );
    }

    #[test]
    fn empty_url_list_is_refused() {
        let error = Connector::new(
            DcSource::Urls(&[]),
            Path::new("/x"),
            Duration::from_secs(1),
            false,
            false,
            DcHealth::new(),
        );
        assert!(matches!(error, Err(ConfigError::NoUrls)));
    }

    /// A CA, a PEM file holding it, and a way to issue server certificates from it.
    pub(crate) struct TestCa {
        key: rcgen::KeyPair,
        cert: rcgen::Certificate,
        pub(crate) file: tempfile::NamedTempFile,
    }

    impl TestCa {
        pub(crate) fn new(name: &str) -> TestCa {
            let key = rcgen::KeyPair::generate().unwrap();
            let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
            params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
            params
                .distinguished_name
                .push(rcgen::DnType::CommonName, name);
            let cert = params.self_signed(&key).unwrap();
            let mut file = tempfile::NamedTempFile::new().unwrap();
            file.write_all(cert.pem().as_bytes()).unwrap();
            TestCa { key, cert, file }
        }

        /// A server certificate with subject CN `cn` and the given DNS subjectAltNames.
        pub(crate) fn issue(&self, cn: &str, sans: &[&str]) -> tokio_rustls::TlsAcceptor {
            let key = rcgen::KeyPair::generate().unwrap();
            let sans: Vec<String> = sans.iter().map(|s| s.to_string()).collect();
            let mut params = rcgen::CertificateParams::new(sans).unwrap();
            params
                .distinguished_name
                .push(rcgen::DnType::CommonName, cn);
            let cert = params.signed_by(&key, &self.cert, &self.key).unwrap();
            let config = rustls::ServerConfig::builder_with_provider(Arc::new(
                rustls::crypto::ring::default_provider(),
            ))
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_no_client_auth()
            .with_single_cert(
                vec![cert.der().clone()],
                rustls::pki_types::PrivateKeyDer::Pkcs8(key.serialize_der().into()),
            )
            .unwrap();
            tokio_rustls::TlsAcceptor::from(Arc::new(config))
        }
    }

    /// Serve TLS handshakes on a loopback port with `acceptor`; returns the port.
    pub(crate) async fn tls_server(acceptor: tokio_rustls::TlsAcceptor) -> u16 {
        tls_server_on(0, acceptor).await
    }

    /// Serve TLS handshakes on loopback port `port` (0: any free one); returns the port.
    async fn tls_server_on(port: u16, acceptor: tokio_rustls::TlsAcceptor) -> u16 {
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", port))
            .await
            .unwrap();
        let port = listener.local_addr().unwrap().port();
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let acceptor = acceptor.clone();
                tokio::spawn(async move {
                    // Keep a completed session open until the client goes away.
                    if let Ok(mut tls) = acceptor.accept(stream).await {
                        let _ = tokio::io::copy(&mut tls, &mut tokio::io::sink()).await;
                    }
                });
            }
        });
        port
    }

    fn connector(ca: &TestCa, urls: &[String], timeout: Duration) -> Arc<Connector> {
        Connector::new(
            DcSource::Urls(urls),
            ca.file.path(),
            timeout,
            false,
            false,
            DcHealth::new(),
        )
        .unwrap()
    }

    async fn open(connector: &Connector) -> Result<Connection, DirectoryError> {
        connector.open("test", |ldap, _| async { Ok(ldap) }).await
    }

    /// The position in the list of the DC a new connection goes to.
    async fn opened_dc(connector: &Connector) -> usize {
        let connection = open(connector).await.unwrap();
        let servers = connector.dcs.servers();
        servers
            .iter()
            .position(|server| server.url == connection.dc.url)
            .unwrap()
    }

    /// Whether a connection to the DC at position `dc` in the list is kept.
    fn keeps_dc(connector: &Connector, dc: usize) -> bool {
        connector.keeps(&connector.dcs.servers()[dc])
    }

    fn only_failure(error: DirectoryError) -> DirectoryError {
        match error {
            DirectoryError::NoServer { mut failures } if failures.len() == 1 => {
                failures.pop().unwrap()
            }
            other => panic!("expected one failure, got {other}"),
        }
    }

    #[tokio::test]
    async fn certificate_without_san_names_the_fix() {
        let ca = TestCa::new("adgate test CA");
        let port = tls_server(ca.issue("localhost", &[])).await;
        let url = format!("ldaps://localhost:{port}");
        let connector = connector(&ca, std::slice::from_ref(&url), Duration::from_secs(5));
        let error = only_failure(open(&connector).await.unwrap_err());
        assert_eq!(
            error,
            DirectoryError::CertificateLacksName {
                url,
                host: "localhost".into(),
                san: "DNS:localhost".into()
            }
        );
        assert!(error
            .to_string()
            .contains("the DC certificate needs subjectAltName DNS:localhost"));
    }

    #[tokio::test]
    async fn certificate_from_another_ca_is_untrusted() {
        let ca = TestCa::new("adgate test CA");
        // Another CA, and a CA with the same name but another key (as after a CA renewal).
        for other_ca in [TestCa::new("some public CA"), TestCa::new("adgate test CA")] {
            let port = tls_server(other_ca.issue("localhost", &["localhost"])).await;
            let url = format!("ldaps://localhost:{port}");
            let connector = connector(&ca, std::slice::from_ref(&url), Duration::from_secs(5));
            let error = only_failure(open(&connector).await.unwrap_err());
            assert_eq!(
                error,
                DirectoryError::UntrustedCertificate {
                    url,
                    ca_file: ca.file.path().display().to_string()
                }
            );
        }
    }

    #[tokio::test]
    async fn certificate_with_san_connects() {
        let ca = TestCa::new("adgate test CA");
        let port = tls_server(ca.issue("ignored", &["localhost"])).await;
        let connector = connector(
            &ca,
            &[format!("ldaps://localhost:{port}")],
            Duration::from_secs(5),
        );
        assert!(open(&connector).await.is_ok());
    }

    #[tokio::test]
    async fn failover_tries_urls_in_order() {
        let ca = TestCa::new("adgate test CA");
        let good = tls_server(ca.issue("localhost", &["localhost"])).await;
        let refused = crate::test_support::refused_port().await;
        let connector = connector(
            &ca,
            &[
                format!("ldaps://127.0.0.1:{refused}"),
                format!("ldaps://localhost:{good}"),
            ],
            Duration::from_secs(5),
        );
        assert!(open(&connector).await.is_ok());
    }

    #[tokio::test]
    async fn silent_server_times_out() {
        let ca = TestCa::new("adgate test CA");
        let silent = crate::test_support::silent_port().await;
        let connector = connector(
            &ca,
            &[format!("ldaps://127.0.0.1:{silent}")],
            Duration::from_millis(300),
        );
        let started = std::time::Instant::now();
        let error = only_failure(open(&connector).await.unwrap_err());
        assert!(started.elapsed() < Duration::from_secs(2));
        assert!(
            error.to_string().contains("no answer within 300ms"),
            "{error}"
        );
    }

    #[tokio::test]
    async fn a_dead_dc_costs_one_timeout_once() {
        let ca = TestCa::new("adgate test CA");
        let silent = crate::test_support::silent_port().await;
        let good = tls_server(ca.issue("localhost", &["localhost"])).await;
        let timeout = Duration::from_millis(500);
        let connector = connector(
            &ca,
            &[
                format!("ldaps://127.0.0.1:{silent}"),
                format!("ldaps://localhost:{good}"),
            ],
            timeout,
        );
        let started = std::time::Instant::now();
        assert_eq!(opened_dc(&connector).await, 1);
        assert!(started.elapsed() >= timeout);
        for _ in 0..3 {
            let started = std::time::Instant::now();
            assert_eq!(opened_dc(&connector).await, 1);
            assert!(started.elapsed() < timeout / 2, "{:?}", started.elapsed());
        }
        assert!(keeps_dc(&connector, 1));
        let silent_dc = &connector.health.snapshot()[0];
        assert!(!silent_dc.up);
        assert!(silent_dc.errors.contains(&(DcErrorKind::Timeout, 1)));
    }

    #[tokio::test]
    async fn every_dc_is_tried_even_when_all_are_marked_down() {
        let ca = TestCa::new("adgate test CA");
        let refused = crate::test_support::refused_port().await;
        let url = format!("ldaps://localhost:{refused}");
        let connector = connector(&ca, std::slice::from_ref(&url), Duration::from_secs(5));
        assert!(open(&connector).await.is_err());
        assert!(!connector.health.is_up(&url));
        // The DC comes back before its probe is due: the next login finds it at once.
        tls_server_on(refused, ca.issue("localhost", &["localhost"])).await;
        assert_eq!(opened_dc(&connector).await, 0);
        assert!(connector.health.is_up(&url));
    }

    #[tokio::test]
    async fn the_first_dc_is_preferred_again_once_its_probe_answers() {
        let ca = TestCa::new("adgate test CA");
        let refused = crate::test_support::refused_port().await;
        let good = tls_server(ca.issue("localhost", &["localhost"])).await;
        let connector = connector(
            &ca,
            &[
                format!("ldaps://localhost:{refused}"),
                format!("ldaps://localhost:{good}"),
            ],
            Duration::from_secs(5),
        );
        assert_eq!(opened_dc(&connector).await, 1);
        assert!(keeps_dc(&connector, 1));
        tls_server_on(refused, ca.issue("localhost", &["localhost"])).await;
        let deadline = std::time::Instant::now() + FIRST_PROBE * 3;
        while keeps_dc(&connector, 1) {
            assert!(
                std::time::Instant::now() < deadline,
                "the probe never found the DC"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        assert!(keeps_dc(&connector, 0));
        assert_eq!(opened_dc(&connector).await, 0);
    }

    /// A loopback listener that counts the connections it accepts, until its task is aborted.
    async fn counting_listener(
        port: u16,
    ) -> (
        u16,
        Arc<std::sync::atomic::AtomicUsize>,
        tokio::task::JoinHandle<()>,
    ) {
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", port))
            .await
            .unwrap();
        let port = listener.local_addr().unwrap().port();
        let accepted = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let counter = Arc::clone(&accepted);
        let task = tokio::spawn(async move {
            while listener.accept().await.is_ok() {
                counter.fetch_add(1, Ordering::Relaxed);
            }
        });
        (port, accepted, task)
    }

    /// Polls the connector's readiness until it is `expected` or `limit` has passed.
    async fn readiness_becomes(connector: &Connector, expected: Option<&str>, limit: Duration) {
        let deadline = std::time::Instant::now() + limit;
        loop {
            let reachable = connector.reachable().await;
            if reachable.as_deref() == expected {
                return;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "readiness still {reachable:?} after {limit:?}, expected {expected:?}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    #[tokio::test]
    async fn readiness_is_answered_from_the_background_probe() {
        let ca = TestCa::new("adgate test CA");
        let refused = crate::test_support::refused_port().await;
        let (port, accepted, listener) = counting_listener(0).await;
        let first = format!("ldaps://127.0.0.1:{refused}");
        let second = format!("ldaps://127.0.0.1:{port}");
        let connector = connector(
            &ca,
            &[first.clone(), second.clone()],
            Duration::from_secs(1),
        );

        // The first question probes at once; the next ones read what the probe found.
        assert_eq!(
            connector.reachable().await.as_deref(),
            Some(second.as_str())
        );
        assert!(
            !connector.health.is_up(&first),
            "a refusing DC is marked down"
        );
        for _ in 0..20 {
            assert_eq!(
                connector.reachable().await.as_deref(),
                Some(second.as_str())
            );
        }
        assert!(
            accepted.load(Ordering::Relaxed) <= 2,
            "no connection per question"
        );

        // The DC stops accepting connections: the probe notices within its interval.
        listener.abort();
        let _ = listener.await;
        readiness_becomes(&connector, None, READINESS_PROBE * 2).await;

        // It is back: so is readiness.
        let (_, _, _listener) = counting_listener(port).await;
        readiness_becomes(&connector, Some(&second), READINESS_PROBE * 2).await;
    }
}
