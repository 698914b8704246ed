//! Opening an LDAP connection to the first domain controller that works, over TLS.
//!
//! The configured URLs are tried in order for every new connection (failover, with the first
//! URL preferred again as soon as a connection has to be replaced). Connection failures are
//! translated into messages that name the fix, most importantly the classic "DC certificate
//! without subjectAltName" that rustls refuses.

use std::future::Future;
use std::net::IpAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use ldap3::{Ldap, LdapConnAsync, LdapConnSettings, LdapError};
use rustls::{CertificateError, ClientConfig};
use tracing::{debug, warn};
use url::Url;

use crate::error::DirectoryError;
use crate::{tls, ConfigError};

/// How a connection is protected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Transport {
    /// `ldaps://`: TLS from the first byte.
    Ldaps,
    /// `ldap://` upgraded with the StartTLS extended operation.
    StartTls,
    /// `ldap://` in clear text (development only).
    Plain,
}

/// One configured domain controller.
#[derive(Debug, Clone)]
struct Server {
    url: String,
    host: String,
    port: u16,
    transport: Transport,
}

/// Opens connections to the configured domain controllers.
pub(crate) struct Connector {
    servers: Vec<Server>,
    tls: Arc<ClientConfig>,
    ca_file: String,
    timeout: Duration,
}

impl Connector {
    /// Validate the URLs and load the CA; nothing is contacted yet.
    pub(crate) fn new(
        urls: &[String],
        ca_file: &Path,
        timeout: Duration,
        starttls: bool,
        allow_plain_ldap: bool,
    ) -> Result<Connector, ConfigError> {
        if urls.is_empty() {
            return Err(ConfigError::NoUrls);
        }
        let servers = urls
            .iter()
            .map(|url| parse_server(url, starttls, allow_plain_ldap))
            .collect::<Result<Vec<_>, _>>()?;
        for server in servers.iter().filter(|s| s.transport == Transport::Plain) {
            warn!(
                url = %server.url,
                "allow_plain_ldap: passwords will cross the network in clear text; \
                 development only"
            );
        }
        Ok(Connector {
            servers,
            tls: tls::client_config(ca_file)?,
            ca_file: ca_file.display().to_string(),
            timeout,
        })
    }

    /// The URL of the first domain controller, in configured order, that accepts a TCP
    /// connection within the timeout; `None` when none does. A readiness probe: cheap (no TLS,
    /// no bind, nothing in the DC's logs beyond a connect) and independent of the connections
    /// kept for logins.
    pub(crate) async fn first_reachable(&self) -> Option<&str> {
        for server in &self.servers {
            let connect = tokio::net::TcpStream::connect((server.host.as_str(), server.port));
            if let Ok(Ok(_)) = tokio::time::timeout(self.timeout, connect).await {
                return Some(&server.url);
            }
        }
        None
    }

    /// The limit for each connection attempt and each LDAP operation.
    pub(crate) fn timeout(&self) -> Duration {
        self.timeout
    }

    /// Connect to the servers in configured order and run `setup` on each new connection (for
    /// example the service bind); the first server where both succeed is used.
    pub(crate) async fn open<F, Fut>(
        &self,
        purpose: &str,
        mut setup: F,
    ) -> Result<Ldap, DirectoryError>
    where
        F: FnMut(Ldap, String) -> Fut,
        Fut: Future<Output = Result<Ldap, DirectoryError>>,
    {
        let mut failures = Vec::new();
        for server in &self.servers {
            let result = match self.connect(server).await {
                Ok(ldap) => setup(ldap, server.url.clone()).await,
                Err(error) => Err(error),
            };
            match result {
                Ok(ldap) => {
                    debug!(url = %server.url, purpose, "connected to the directory");
                    return Ok(ldap);
                }
                Err(error) => {
                    warn!(url = %server.url, purpose, %error, "directory server unusable");
                    failures.push(error);
                }
            }
        }
        Err(DirectoryError::NoServer { failures })
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
        tokio::spawn(async move {
            if let Err(error) = connection.drive().await {
                debug!(%url, %error, "directory connection ended");
            }
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
        let detail = match error {
            LdapError::Timeout { .. } => format!("no answer within {:?}", self.timeout),
            other => other.to_string(),
        };
        DirectoryError::Connect {
            url: server.url.clone(),
            detail,
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

fn parse_server(url: &str, starttls: bool, allow_plain_ldap: bool) -> Result<Server, ConfigError> {
    let bad = |problem: &str| ConfigError::BadUrl {
        url: url.to_owned(),
        problem: problem.to_owned(),
    };
    let parsed = Url::parse(url).map_err(|e| bad(&e.to_string()))?;
    let transport = match parsed.scheme() {
        "ldaps" => Transport::Ldaps,
        "ldap" if starttls => Transport::StartTls,
        "ldap" if allow_plain_ldap => Transport::Plain,
        "ldap" => {
            return Err(ConfigError::PlainLdapRefused {
                url: url.to_owned(),
            })
        }
        _ => return Err(bad("the scheme must be ldaps:// or ldap://")),
    };
    let host = match parsed.host_str() {
        Some(host) if !host.is_empty() => host.to_owned(),
        _ => return Err(bad("no host name")),
    };
    if !matches!(parsed.path(), "" | "/")
        || parsed.query().is_some()
        || parsed.fragment().is_some()
        || !parsed.username().is_empty()
        || parsed.password().is_some()
    {
        return Err(bad(
            "only scheme, host and port are allowed (base DN and credentials are separate settings)",
        ));
    }
    let port = parsed.port().unwrap_or(match transport {
        Transport::Ldaps => 636,
        Transport::StartTls | Transport::Plain => 389,
    });
    Ok(Server {
        url: url.to_owned(),
        host,
        port,
        transport,
    })
}

#[cfg(test)]
pub(crate) mod tests {
    use std::io::Write;

    use super::*;

    #[test]
    fn url_rules() {
        let ok = |url: &str, starttls, plain| parse_server(url, starttls, plain).unwrap().transport;
        assert_eq!(
            ok("ldaps://dc1.corp.example.test", false, false),
            Transport::Ldaps
        );
        assert_eq!(
            ok("ldaps://dc1.corp.example.test:3269/", false, false),
            Transport::Ldaps
        );
        assert_eq!(
            ok("ldap://dc1.corp.example.test", true, false),
            Transport::StartTls
        );
        assert_eq!(ok("ldaps://dc1", true, false), Transport::Ldaps);
        assert_eq!(ok("ldap://dc1", false, true), Transport::Plain);
        assert!(matches!(
            parse_server("ldap://dc1", false, false),
            Err(ConfigError::PlainLdapRefused { .. })
        ));
        for bad in [
            "dc1.corp.example.test",
            "https://dc1",
            "ldapi://%2frun%2fldapi",
            "ldaps://",
            "ldaps://dc1/DC=corp,DC=example",
            "ldaps://dc1/??sub",
            "ldaps://user:pw@dc1",
        ] {
            assert!(
                matches!(
                    parse_server(bad, true, true),
                    Err(ConfigError::BadUrl { .. })
                ),
                "{bad}"
            );
        }
    }

    #[test]
    fn empty_url_list_is_refused() {
        let error = Connector::new(&[], Path::new("/x"), Duration::from_secs(1), false, false);
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
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
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

    fn connector(ca: &TestCa, urls: &[String], timeout: Duration) -> Connector {
        Connector::new(urls, ca.file.path(), timeout, false, false).unwrap()
    }

    async fn open(connector: &Connector) -> Result<Ldap, DirectoryError> {
        connector.open("test", |ldap, _| async { Ok(ldap) }).await
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
}
