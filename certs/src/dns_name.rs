//! Whether a certificate names a peer by one exact DNS name, for identifying a client (a RadSec
//! proxy) rather than verifying a server. Wildcards never match: RFC 6125 §6.4.3 allows a
//! wildcard only as a reference to *servers* (and lets a client refuse even that), and RFC 6614
//! §2.4 identifies a RadSec client by the names its certificate carries; a certificate for
//! `*.example.test` names no one in particular, so it must not open the door of every client
//! configured under `example.test`. Only subjectAltName dNSName entries count, never the subject
//! CN (RFC 6125 §6.4.4).

use x509_parser::certificate::X509Certificate;
use x509_parser::extensions::GeneralName;
use x509_parser::prelude::FromDer;

/// True when `certificate_der` lists `name` as a subjectAltName dNSName, compared as DNS names
/// are (ASCII case-insensitive, RFC 4343; an absolute name's final dot ignored) and otherwise
/// octet for octet.
pub fn carries_dns_name(certificate_der: &[u8], name: &str) -> bool {
    let Ok((_, certificate)) = X509Certificate::from_der(certificate_der) else {
        return false;
    };
    let Ok(Some(san)) = certificate.subject_alternative_name() else {
        return false;
    };
    let wanted = name.trim_end_matches('.');
    san.value.general_names.iter().any(|general_name| {
        matches!(general_name, GeneralName::DNSName(carried)
            if carried.trim_end_matches('.').eq_ignore_ascii_case(wanted))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use rcgen::{CertificateParams, KeyPair};

    fn certificate(names: &[&str]) -> Vec<u8> {
        let names: Vec<String> = names.iter().map(|name| (*name).to_owned()).collect();
        let key = KeyPair::generate().unwrap();
        CertificateParams::new(names)
            .unwrap()
            .self_signed(&key)
            .unwrap()
            .der()
            .to_vec()
    }

    #[test]
    fn an_exact_name_matches_whatever_its_case() {
        let der = certificate(&["other.test", "VPN1.Corp.Example.Test"]);
        assert!(carries_dns_name(&der, "vpn1.corp.example.test"));
        assert!(carries_dns_name(&der, "vpn1.corp.example.test."));
        assert!(!carries_dns_name(&der, "vpn2.corp.example.test"));
        assert!(!carries_dns_name(&der, "corp.example.test"));
    }

    #[test]
    fn a_wildcard_names_no_client() {
        let der = certificate(&["*.corp.example.test"]);
        assert!(!carries_dns_name(&der, "vpn1.corp.example.test"));
    }

    #[test]
    fn garbage_names_nobody() {
        assert!(!carries_dns_name(
            b"not a certificate",
            "vpn1.corp.example.test"
        ));
    }
}
