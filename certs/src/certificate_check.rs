//! A client certificate checked without a handshake, for `adgate explain --cert`: the same
//! verifier the EAP-TLS handshake runs (chain to `ca_file`, signatures, validity, CRLs,
//! clientAuth EKU) on a certificate file, plus the facts behind it that an admin wants to see
//! one by one (the validity dates, the EKU). Proving possession of the key is the handshake's
//! part and cannot be explained from a file.

use std::path::Path;
use std::sync::Arc;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, UnixTime};
use x509_parser::certificate::X509Certificate;
use x509_parser::prelude::FromDer;

use crate::client_auth_verifier::allows_client_auth;
use crate::tls_server::{client_verifier, file_error};
use crate::{CertificateSummary, MutualTlsSettings, Rejection, TlsServerError};

/// What the checks found about one client certificate.
#[derive(Debug, Clone)]
pub struct CertificateChecks {
    pub summary: CertificateSummary,
    /// notBefore and notAfter, seconds since 1970 (None when the certificate does not parse).
    pub validity: Option<(i64, i64)>,
    /// Whether now is within notBefore..=notAfter.
    pub within_validity: bool,
    /// Whether Extended Key Usage is present and lists clientAuth.
    pub client_auth: bool,
    /// The handshake verifier's verdict: the reason a login with it would be refused.
    pub verified: Result<(), Rejection>,
}

/// Reads `certificate_file` (PEM, the user's certificate first, then any intermediates) and
/// checks it against the `[eap_tls]` trust settings, as of now. `Err` when a file cannot be
/// used at all.
pub fn check_client_certificate(
    settings: &MutualTlsSettings,
    certificate_file: &Path,
) -> Result<(CertificateChecks, CertificateDer<'static>), TlsServerError> {
    let chain = CertificateDer::pem_file_iter(certificate_file)
        .and_then(|items| items.collect::<Result<Vec<_>, _>>())
        .map_err(|error| file_error(certificate_file, error.to_string()))?;
    let Some((leaf, intermediates)) = chain.split_first() else {
        return Err(file_error(certificate_file, "holds no certificate".into()));
    };
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let verifier = client_verifier(settings, provider)?;
    let verified = verifier
        .verify_client_cert(leaf, intermediates, UnixTime::now())
        .map(|_| ())
        .map_err(|error| Rejection::from_tls(&error));
    let (validity, within_validity) = match X509Certificate::from_der(leaf) {
        Ok((_, certificate)) => {
            let validity = certificate.validity();
            (
                Some((
                    validity.not_before.timestamp(),
                    validity.not_after.timestamp(),
                )),
                validity.is_valid(),
            )
        }
        Err(_) => (None, false),
    };
    let checks = CertificateChecks {
        summary: CertificateSummary::of(leaf),
        validity,
        within_validity,
        client_auth: allows_client_auth(leaf),
        verified,
    };
    Ok((checks, leaf.clone()))
}
