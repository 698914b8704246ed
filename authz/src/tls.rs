//! The TLS client configuration: trust exactly the CA(s) in `ca_file`, TLS 1.2 or newer.
//!
//! Pinning the trust anchors to the configured file (instead of the system store) means a
//! certificate from any public CA for the DC's name is still refused. The rustls crypto
//! provider is named explicitly (ring) so that another crate of the binary selecting a
//! different process-wide default cannot change, or panic, this configuration.

use std::path::Path;
use std::sync::Arc;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::CertificateDer;
use rustls::{ClientConfig, RootCertStore};

use crate::ConfigError;

/// Build the client configuration whose only roots are the certificates in `ca_file` (PEM).
pub(crate) fn client_config(ca_file: &Path) -> Result<Arc<ClientConfig>, ConfigError> {
    let problem = |problem: String| ConfigError::CaFile {
        path: ca_file.to_owned(),
        problem,
    };
    let pem = std::fs::read(ca_file).map_err(|e| problem(format!("cannot be read: {e}")))?;
    let certificates = CertificateDer::pem_slice_iter(&pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| problem(format!("is not valid PEM: {e}")))?;
    if certificates.is_empty() {
        return Err(problem(
            "holds no \"BEGIN CERTIFICATE\" block (a DER .cer file converts with \
             `openssl x509 -inform der -in ca.cer -out ca.pem`)"
                .into(),
        ));
    }
    let mut roots = RootCertStore::empty();
    for (index, certificate) in certificates.into_iter().enumerate() {
        roots
            .add(certificate)
            .map_err(|e| problem(format!("certificate #{} is unusable: {e}", index + 1)))?;
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = ClientConfig::builder_with_provider(provider)
        .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])
        .map_err(|e| problem(format!("TLS setup failed: {e}")))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(Arc::new(config))
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use super::*;

    fn temp_file(contents: &[u8]) -> tempfile::NamedTempFile {
        let mut file = tempfile::NamedTempFile::new().unwrap();
        file.write_all(contents).unwrap();
        file
    }

    #[test]
    fn loads_a_ca_certificate() {
        let ca = rcgen::generate_simple_self_signed(vec!["ca.test".into()]).unwrap();
        let file = temp_file(ca.cert.pem().as_bytes());
        assert!(client_config(file.path()).is_ok());
    }

    #[test]
    fn missing_file_is_an_error() {
        let error = client_config(Path::new("/nonexistent/adgate-ca.pem")).unwrap_err();
        assert!(error.to_string().contains("cannot be read"), "{error}");
    }

    #[test]
    fn empty_or_non_pem_file_is_an_error() {
        for contents in [&b""[..], b"not a certificate\n", &[0x30, 0x82, 0x01, 0x00]] {
            let file = temp_file(contents);
            let error = client_config(file.path()).unwrap_err();
            assert!(error.to_string().contains("BEGIN CERTIFICATE"), "{error}");
        }
    }

    #[test]
    fn garbage_inside_pem_is_an_error() {
        let mut pem = Vec::new();
        writeln!(
            pem,
            "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----"
        )
        .unwrap();
        let file = temp_file(&pem);
        let error = client_config(file.path()).unwrap_err();
        assert!(error.to_string().contains("unusable"), "{error}");
    }
}
