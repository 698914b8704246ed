//! What the audit trail records about the certificate a login presented: enough to find it in
//! the CA's database and to tell it apart from any other certificate, without the certificate.

use ring::digest::{digest, SHA256};
use x509_parser::certificate::X509Certificate;
use x509_parser::prelude::FromDer;

/// Subject, issuer, serial and fingerprint of a client certificate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertificateSummary {
    /// The subject DN as RFC 4514 text.
    pub subject: String,
    /// The issuer DN as RFC 4514 text.
    pub issuer: String,
    /// The serial number in hex, colon-separated as CA tools show it.
    pub serial: String,
    /// SHA-256 over the DER certificate, lower-case hex.
    pub sha256_fingerprint: String,
}

impl CertificateSummary {
    /// Summarises a DER certificate. The fingerprint is always there; names a parser cannot
    /// read are recorded as empty rather than failing the record.
    pub fn of(certificate_der: &[u8]) -> CertificateSummary {
        let sha256_fingerprint = digest(&SHA256, certificate_der)
            .as_ref()
            .iter()
            .map(|byte| format!("{byte:02x}"))
            .collect();
        match X509Certificate::from_der(certificate_der) {
            Ok((_, certificate)) => CertificateSummary {
                subject: certificate.subject().to_string(),
                issuer: certificate.issuer().to_string(),
                serial: certificate.raw_serial_as_string(),
                sha256_fingerprint,
            },
            Err(_) => CertificateSummary {
                subject: String::new(),
                issuer: String::new(),
                serial: String::new(),
                sha256_fingerprint,
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_pki::{TestCa, UserCertificate};

    #[test]
    fn names_serial_and_fingerprint() {
        let ca = TestCa::new();
        let issued = ca.issue(&UserCertificate::named("alice").serial(0x1234));
        let summary = CertificateSummary::of(issued.der());
        assert_eq!(summary.subject, "CN=alice");
        assert_eq!(summary.issuer, "CN=adgate test user CA");
        assert_eq!(summary.serial, "12:34");
        let expected: String = digest(&SHA256, issued.der())
            .as_ref()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        assert_eq!(summary.sha256_fingerprint, expected);
        assert_eq!(summary.sha256_fingerprint.len(), 64);
    }
}
