//! The TLS side of adgate's EAP-TLS server: rustls' `ServerConfig` built from the `[eap_tls]`
//! files, with a client-certificate verifier rooted only in `ca_file`, and CRLs that are
//! re-read when their files change (checked when a conversation starts, so a new CRL applies
//! to the next login without a restart).
//!
//! TLS 1.2 and 1.3 only, and only the ring provider's suites, every one of them ECDHE with an
//! AEAD cipher (AES-GCM, ChaCha20-Poly1305). TLS 1.2 requires the extended master secret
//! (RFC 7627). No session tickets or resumption: every login is a full handshake with a
//! certificate, so every login is checked against AD and the CRLs.

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

/// The files named in `[eap_tls]`, and its TLS 1.2 policy.
#[derive(Debug, Clone)]
pub struct EapTlsSettings {
    /// The server's certificate chain, PEM, leaf first.
    pub certificate_file: PathBuf,
    /// The server's private key, PEM (PKCS #8, PKCS #1 or SEC1).
    pub private_key_file: PathBuf,
    /// The CA certificates that issue user certificates, PEM. Nothing else is trusted.
    pub ca_file: PathBuf,
    /// CRLs, PEM or DER, one or more per file.
    pub crl_files: Vec<PathBuf>,
    /// Refuse TLS 1.2 handshakes without the extended master secret (RFC 7627 §5.2): without
    /// it a man in the middle can make two sessions share the master secret, and so the MSK
    /// (RFC 7627 §1 names the triple handshake). Some peers lack it (strongSwan 5.9).
    pub require_extended_master_secret: bool,
}

/// Why the `[eap_tls]` files cannot be used; names the file and the problem.
#[derive(Debug, thiserror::Error)]
pub enum TlsServerError {
    #[error("{path}: {problem}")]
    File { path: PathBuf, problem: String },
    #[error("TLS settings: {0}")]
    Tls(#[from] rustls::Error),
    #[error("client certificate verifier: {0}")]
    Verifier(String),
}

/// The current `ServerConfig`, rebuilt when a CRL file changes.
#[derive(Debug)]
pub struct TlsServer {
    settings: EapTlsSettings,
    config: CrlWatch<ServerConfig>,
}

impl TlsServer {
    /// Loads and checks every file; any problem is a startup error.
    pub fn new(settings: EapTlsSettings) -> Result<TlsServer, TlsServerError> {
        let config = CrlWatch::new(settings.crl_files.clone(), "certificate logins", || {
            build(&settings)
        })?;
        Ok(TlsServer { settings, config })
    }

    /// The configuration for a new conversation. When a CRL file changed since the last
    /// build, it is rebuilt first; if that fails, logins are refused (`revocation_unknown`)
    /// until the files are fixed — a revocation must never be skipped for a broken file.
    pub fn config(&self) -> Result<Arc<ServerConfig>, Rejection> {
        self.config
            .get(|| build(&self.settings))
            .ok_or(Rejection::RevocationUnknown)
    }
}

fn build(settings: &EapTlsSettings) -> Result<Arc<ServerConfig>, TlsServerError> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let verifier = client_verifier(settings, provider.clone())?;
    let chain = read_pem::<CertificateDer<'static>>(&settings.certificate_file)?;
    let key = PrivateKeyDer::from_pem_file(&settings.private_key_file)
        .map_err(|error| file_error(&settings.private_key_file, error.to_string()))?;
    let mut config = ServerConfig::builder_with_provider(provider)
        .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])?
        .with_client_cert_verifier(verifier)
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
    settings: &EapTlsSettings,
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
