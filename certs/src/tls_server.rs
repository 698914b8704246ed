//! The one mutual-TLS server adgate runs, for certificate logins (EAP-TLS, `[eap_tls]`) and for
//! RadSec connections (`[radsec]`): rustls' `ServerConfig` built from a certificate, its key, the
//! CA that issues client certificates and the CRLs, with CRLs that are re-read when their files
//! change (by [`TlsServer::refresh`], which the binary runs every few seconds off the async
//! workers, so a new CRL applies to the next conversation or connection without a restart).
//! Both listeners build it here so that the rules cannot drift apart.
//!
//! The rules, the same for both: TLS 1.2 and 1.3 only, and only the ring provider's suites,
//! every one of them ECDHE with an AEAD cipher (AES-GCM, ChaCha20-Poly1305). A client
//! certificate is required (RFC 5216 §5.3, RFC 6614 §2.3); it must chain to the CA file and
//! nothing else, pass the CRLs (an expired CRL fails), and carry Extended Key Usage clientAuth
//! (`client_auth_verifier.rs`). No session tickets or resumption: a resumed session skips the
//! certificate checks, so every login or connection is a full handshake with a certificate.
//! What differs is a setting: the files, and whether TLS 1.2 requires the extended master
//! secret (RFC 7627; EAP-TLS derives its keys from the master secret, RadSec does not).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::client_auth_verifier::ClientAuthVerifier;
use crate::crl_watch::{read_crl_files, CrlWatch};
use crate::rejection::Rejection;
use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::danger::ClientCertVerifier;
use rustls::server::{NoServerSessionStorage, WebPkiClientVerifier};
use rustls::{RootCertStore, ServerConfig};

/// A mutual-TLS server's files (`[eap_tls]`'s, or `[radsec]`'s) and its TLS 1.2 policy.
#[derive(Debug, Clone)]
pub struct MutualTlsSettings {
    /// The server's certificate chain, PEM, leaf first.
    pub certificate_file: PathBuf,
    /// The server's private key, PEM (PKCS #8, PKCS #1 or SEC1).
    pub private_key_file: PathBuf,
    /// The CA certificates that issue client certificates, PEM. Nothing else is trusted.
    pub ca_file: PathBuf,
    /// CRLs, PEM or DER, one or more per file.
    pub crl_files: Vec<PathBuf>,
    /// Refuse TLS 1.2 handshakes without the extended master secret (RFC 7627 §5.2): without
    /// it a man in the middle can make two sessions share the master secret, and so the MSK
    /// (RFC 7627 §1 names the triple handshake). Some peers lack it (strongSwan 5.9).
    pub require_extended_master_secret: bool,
}

/// Why a mutual-TLS server's files cannot be used; names the file and the problem.
#[derive(Debug, thiserror::Error)]
pub enum TlsServerError {
    #[error("{path}: {problem}")]
    File { path: PathBuf, problem: String },
    #[error("TLS settings: {0}")]
    Tls(#[from] rustls::Error),
    #[error("client certificate verifier: {0}")]
    Verifier(String),
}

/// The current `ServerConfig`, rebuilt by [`TlsServer::refresh`] when a CRL file changed, and
/// the one for tunnels (PEAP), which asks for no client certificate.
#[derive(Debug)]
pub struct TlsServer {
    settings: MutualTlsSettings,
    config: CrlWatch<ServerConfig>,
    tunnel: Arc<ServerConfig>,
}

impl TlsServer {
    /// Loads and checks every file; any problem is a startup (or reload) error. `serves` names
    /// what the server is for in the log lines about its CRLs, as in "refusing {serves}"
    /// ("certificate logins", "RadSec connections").
    pub fn new(
        settings: MutualTlsSettings,
        serves: &'static str,
    ) -> Result<TlsServer, TlsServerError> {
        let config = CrlWatch::new(settings.crl_files.clone(), serves, || build(&settings))?;
        let tunnel = build_tunnel(&settings)?;
        Ok(TlsServer {
            settings,
            config,
            tunnel,
        })
    }

    /// The configuration of a PEAP tunnel ([`EapTlsSession::start_tunnel`]): the same
    /// certificate, key, suites and TLS 1.2 policy, no client certificate (the user proves
    /// themself inside the tunnel), no resumption, and TLS 1.2 only — PEAP's keys are the
    /// RFC 5216 §2.3 TLS 1.2 derivation; TLS 1.3 PEAP (RFC 9427) is not implemented.
    ///
    /// [`EapTlsSession::start_tunnel`]: crate::EapTlsSession::start_tunnel
    pub fn tunnel_config(&self) -> Arc<ServerConfig> {
        Arc::clone(&self.tunnel)
    }

    /// The configuration for a new conversation or connection, as last built: no file is
    /// read. While changed CRL files cannot be loaded, everyone is refused
    /// (`revocation_unknown`) until the files are fixed — a revocation must never be skipped
    /// for a broken file.
    pub fn config(&self) -> Result<Arc<ServerConfig>, Rejection> {
        self.config.current().ok_or(Rejection::RevocationUnknown)
    }

    /// Looks at the CRL files and, when one changed since the last build, reads every file
    /// again and makes the result the configuration of new conversations (or refuses them,
    /// if that fails). Blocking: run it off the async workers, periodically.
    pub fn refresh(&self) {
        self.config.refresh(|| build(&self.settings));
    }
}

fn build(settings: &MutualTlsSettings) -> Result<Arc<ServerConfig>, TlsServerError> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let verifier = client_verifier(settings, provider.clone())?;
    let (chain, key) = server_identity(settings)?;
    let mut config = ServerConfig::builder_with_provider(provider)
        .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])?
        .with_client_cert_verifier(verifier)
        .with_single_cert(chain, key)?;
    // No resumption: a resumed session skips the certificate checks, so a certificate revoked
    // or a CRL past its nextUpdate since would not be refused.
    config.send_tls13_tickets = 0;
    config.session_storage = Arc::new(NoServerSessionStorage {});
    config.require_ems = settings.require_extended_master_secret;
    Ok(Arc::new(config))
}

/// The server's certificate chain and private key.
fn server_identity(
    settings: &MutualTlsSettings,
) -> Result<(Vec<CertificateDer<'static>>, PrivateKeyDer<'static>), TlsServerError> {
    let chain = read_pem::<CertificateDer<'static>>(&settings.certificate_file)?;
    let key = PrivateKeyDer::from_pem_file(&settings.private_key_file)
        .map_err(|error| file_error(&settings.private_key_file, error.to_string()))?;
    Ok((chain, key))
}

fn build_tunnel(settings: &MutualTlsSettings) -> Result<Arc<ServerConfig>, TlsServerError> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let (chain, key) = server_identity(settings)?;
    let mut config = ServerConfig::builder_with_provider(provider)
        .with_protocol_versions(&[&rustls::version::TLS12])?
        .with_no_client_auth()
        .with_single_cert(chain, key)?;
    config.send_tls13_tickets = 0;
    config.session_storage = Arc::new(NoServerSessionStorage {});
    config.require_ems = settings.require_extended_master_secret;
    Ok(Arc::new(config))
}

/// The client-certificate check of the handshake: webpki rooted only in `ca_file`, with the
/// CRLs (an expired one fails), then the clientAuth EKU rule. `adgate explain --cert` runs the
/// same check on a certificate file.
pub(crate) fn client_verifier(
    settings: &MutualTlsSettings,
    provider: Arc<CryptoProvider>,
) -> Result<Arc<dyn ClientCertVerifier>, TlsServerError> {
    let mut roots = RootCertStore::empty();
    for certificate in read_pem::<CertificateDer<'static>>(&settings.ca_file)? {
        roots
            .add(certificate)
            .map_err(|error| file_error(&settings.ca_file, error.to_string()))?;
    }
    let crls = read_crl_files(&settings.crl_files)?;
    let webpki = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider)
        .with_crls(crls)
        .enforce_revocation_expiration()
        .build()
        .map_err(|error| TlsServerError::Verifier(error.to_string()))?;
    Ok(Arc::new(ClientAuthVerifier::new(webpki)))
}

/// Every PEM object of type `T` in `path`; an empty file is an error.
pub(crate) fn read_pem<T: PemObject>(path: &Path) -> Result<Vec<T>, TlsServerError> {
    let items = T::pem_file_iter(path)
        .map_err(|error| file_error(path, error.to_string()))?
        .collect::<Result<Vec<T>, _>>()
        .map_err(|error| file_error(path, error.to_string()))?;
    if items.is_empty() {
        return Err(file_error(
            path,
            "holds no PEM object of the expected type".into(),
        ));
    }
    Ok(items)
}

pub(crate) fn file_error(path: &Path, problem: String) -> TlsServerError {
    TlsServerError::File {
        path: path.to_owned(),
        problem,
    }
}

#[cfg(test)]
mod tests {
    use rustls::pki_types::ServerName;
    use rustls::{CertificateError, ClientConnection, Error, ServerConnection};

    use super::*;
    use crate::eap_tls_peer::peer_config;
    use crate::test_pki::{TestCa, UserCertificate};

    const SERVER_NAME: &str = "radius.test";

    /// A server trusting `ca` for clients, as EAP-TLS or RadSec configure it.
    fn server(dir: &Path, ca: &TestCa, require_extended_master_secret: bool) -> TlsServer {
        let issued = ca.issue_server(SERVER_NAME);
        let write = |name: &str, text: String| {
            std::fs::write(dir.join(name), text).unwrap();
            dir.join(name)
        };
        let settings = MutualTlsSettings {
            certificate_file: write("server.pem", issued.certificate_pem()),
            private_key_file: write("server.key", issued.key_pem()),
            ca_file: write("ca.pem", ca.pem()),
            crl_files: vec![write("ca.crl", ca.crl_pem(&[66]))],
            require_extended_master_secret,
        };
        TlsServer::new(settings, "test connections").unwrap()
    }

    /// A rustls client trusting `dir`'s CA file and presenting a certificate `issuer` issued as
    /// `user`.
    fn client(
        dir: &Path,
        issuer: &TestCa,
        user: &UserCertificate,
        version: &'static rustls::SupportedProtocolVersion,
    ) -> Arc<rustls::ClientConfig> {
        let issued = issuer.issue(user);
        std::fs::write(dir.join("user.pem"), issued.certificate_pem()).unwrap();
        std::fs::write(dir.join("user.key"), issued.key_pem()).unwrap();
        peer_config(
            &dir.join("ca.pem"),
            &dir.join("user.pem"),
            &dir.join("user.key"),
            version,
        )
        .unwrap()
    }

    /// A whole handshake between `server` and a client, over memory: the server's error if it
    /// refuses.
    fn handshake(server: &TlsServer, client: Arc<rustls::ClientConfig>) -> Result<(), Error> {
        let name = ServerName::try_from(SERVER_NAME).unwrap();
        let mut client = ClientConnection::new(client, name).unwrap();
        let mut server = ServerConnection::new(server.config().unwrap()).unwrap();
        let mut wire = Vec::new();
        for _ in 0..10 {
            wire.clear();
            while client.wants_write() {
                client.write_tls(&mut wire).unwrap();
            }
            server.read_tls(&mut wire.as_slice()).unwrap();
            server.process_new_packets()?;
            wire.clear();
            while server.wants_write() {
                server.write_tls(&mut wire).unwrap();
            }
            client.read_tls(&mut wire.as_slice()).unwrap();
            // The client's own view does not matter here: the server's verdict does.
            let _ = client.process_new_packets();
            if !server.is_handshaking() {
                return Ok(());
            }
        }
        panic!("the handshake did not end");
    }

    #[test]
    fn a_client_certificate_must_carry_client_auth() {
        let dir = tempfile::tempdir().unwrap();
        let ca = TestCa::new();
        // Both listeners: EAP-TLS requires the extended master secret, RadSec does not.
        for require_extended_master_secret in [true, false] {
            let server = server(dir.path(), &ca, require_extended_master_secret);
            for version in [&rustls::version::TLS12, &rustls::version::TLS13] {
                let alice = UserCertificate::named("alice");
                let accepted = handshake(&server, client(dir.path(), &ca, &alice, version));
                assert_eq!(accepted, Ok(()), "{version:?}");
                for user in [
                    alice.clone().no_extended_key_usage(),
                    alice.server_auth_only(),
                ] {
                    let refused = handshake(&server, client(dir.path(), &ca, &user, version));
                    assert!(
                        matches!(
                            refused,
                            Err(Error::InvalidCertificate(
                                CertificateError::InvalidPurpose
                                    | CertificateError::InvalidPurposeContext { .. }
                            ))
                        ),
                        "{user:?} {version:?}: {refused:?}"
                    );
                }
            }
        }
    }

    #[test]
    fn no_foreign_revoked_or_missing_certificate_gets_through() {
        let dir = tempfile::tempdir().unwrap();
        let ca = TestCa::new();
        let server = server(dir.path(), &ca, false);
        let tls13 = &rustls::version::TLS13;
        let revoked = UserCertificate::named("alice").serial(66);
        let refused = handshake(&server, client(dir.path(), &ca, &revoked, tls13));
        assert_eq!(
            refused,
            Err(Error::InvalidCertificate(CertificateError::Revoked))
        );
        let stranger = TestCa::named("someone else's CA");
        let alice = UserCertificate::named("alice");
        let refused = handshake(&server, client(dir.path(), &stranger, &alice, tls13));
        assert_eq!(
            refused,
            Err(Error::InvalidCertificate(CertificateError::UnknownIssuer))
        );
        let mut roots = rustls::RootCertStore::empty();
        roots
            .add(CertificateDer::from_pem_slice(ca.pem().as_bytes()).unwrap())
            .unwrap();
        let anonymous = rustls::ClientConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
        let refused = handshake(&server, Arc::new(anonymous));
        assert_eq!(refused, Err(Error::NoCertificatesPresented));
    }

    #[test]
    fn every_server_gets_the_same_floor() {
        let dir = tempfile::tempdir().unwrap();
        let ca = TestCa::new();
        for require_extended_master_secret in [true, false] {
            let config = server(dir.path(), &ca, require_extended_master_secret)
                .config()
                .unwrap();
            assert_eq!(config.require_ems, require_extended_master_secret);
            assert_eq!(config.send_tls13_tickets, 0, "no resumption");
            assert!(!config.session_storage.can_cache(), "no resumption");
            for suite in &config.crypto_provider().cipher_suites {
                let name = format!("{:?}", suite.suite());
                assert!(
                    name.contains("ECDHE") || name.starts_with("TLS13_"),
                    "{name}"
                );
                assert!(
                    name.contains("_GCM_") || name.contains("CHACHA20_POLY1305"),
                    "{name}"
                );
            }
        }
    }

    #[test]
    fn a_refresh_rebuilds_only_when_a_crl_file_changed() {
        let dir = tempfile::tempdir().unwrap();
        let ca = TestCa::new();
        let server = server(dir.path(), &ca, true);
        let first = server.config().unwrap();
        server.refresh();
        assert!(Arc::ptr_eq(&first, &server.config().unwrap()), "unchanged");

        std::fs::write(dir.path().join("ca.crl"), "not a CRL").unwrap();
        assert!(server.config().is_ok(), "nothing is read until a refresh");
        server.refresh();
        assert_eq!(server.config().err(), Some(Rejection::RevocationUnknown));

        std::fs::write(dir.path().join("ca.crl"), ca.crl_pem(&[66, 67])).unwrap();
        server.refresh();
        let fixed = server.config().unwrap();
        assert!(!Arc::ptr_eq(&first, &fixed), "rebuilt");
        let revoked = UserCertificate::named("alice").serial(67);
        let tls13 = &rustls::version::TLS13;
        assert_eq!(
            handshake(&server, client(dir.path(), &ca, &revoked, tls13)),
            Err(Error::InvalidCertificate(CertificateError::Revoked))
        );
    }
}
