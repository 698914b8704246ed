//! The client-certificate check rustls runs during the handshake: webpki's chain, validity,
//! signature and CRL checks (rustls' `WebPkiClientVerifier`, rooted only in `ca_file`), plus
//! one rule webpki leaves out — the certificate must *carry* Extended Key Usage with
//! clientAuth. webpki accepts a certificate without any EKU extension for every purpose
//! (RFC 5280 §4.2.1.12 allows it), so a CA's plain server or S/MIME certificate would
//! otherwise open the VPN.

use std::sync::Arc;

use rustls::client::danger::HandshakeSignatureValid;
use rustls::pki_types::{CertificateDer, UnixTime};
use rustls::server::danger::{ClientCertVerified, ClientCertVerifier};
use rustls::{CertificateError, DigitallySignedStruct, DistinguishedName, Error, SignatureScheme};
use x509_parser::certificate::X509Certificate;
use x509_parser::prelude::FromDer;

/// webpki's verifier, then "EKU present and includes clientAuth".
#[derive(Debug)]
pub(crate) struct ClientAuthVerifier {
    webpki: Arc<dyn ClientCertVerifier>,
}

impl ClientAuthVerifier {
    pub(crate) fn new(webpki: Arc<dyn ClientCertVerifier>) -> Self {
        Self { webpki }
    }
}

/// Whether a DER certificate has an Extended Key Usage extension listing clientAuth
/// (1.3.6.1.5.5.7.3.2). anyExtendedKeyUsage does not count: it says nothing about VPN logins.
pub(crate) fn allows_client_auth(certificate_der: &[u8]) -> bool {
    X509Certificate::from_der(certificate_der)
        .ok()
        .and_then(|(_, certificate)| {
            certificate
                .extended_key_usage()
                .ok()
                .flatten()
                .map(|eku| eku.value.client_auth)
        })
        .unwrap_or(false)
}

impl ClientCertVerifier for ClientAuthVerifier {
    fn root_hint_subjects(&self) -> &[DistinguishedName] {
        self.webpki.root_hint_subjects()
    }

    fn verify_client_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        now: UnixTime,
    ) -> Result<ClientCertVerified, Error> {
        let verified = self
            .webpki
            .verify_client_cert(end_entity, intermediates, now)?;
        if !allows_client_auth(end_entity) {
            return Err(Error::InvalidCertificate(CertificateError::InvalidPurpose));
        }
        Ok(verified)
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        certificate: &CertificateDer<'_>,
        signature: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, Error> {
        self.webpki
            .verify_tls12_signature(message, certificate, signature)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        certificate: &CertificateDer<'_>,
        signature: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, Error> {
        self.webpki
            .verify_tls13_signature(message, certificate, signature)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.webpki.supported_verify_schemes()
    }

    fn client_auth_mandatory(&self) -> bool {
        true
    }

    fn offer_client_auth(&self) -> bool {
        true
    }
}
