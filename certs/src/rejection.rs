//! Why a certificate login ends without an identity: the reason codes of the EAP-TLS path,
//! stable like adgate's other reason codes (audit records and log searches key on them).

use std::fmt;

use rustls::{CertificateError, Error as TlsError};

/// Why a certificate or an EAP-TLS conversation was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Rejection {
    /// The certificate has no subjectAltName UPN or e-mail (and, unless configured, the
    /// subject's emailAddress does not count). CN, O, OU and issuer never name a person.
    NoCertificateIdentity,
    /// The certificate names several different UPNs (or e-mail addresses).
    AmbiguousCertificateIdentity,
    /// The EAP identity names someone else than the certificate does.
    IdentityMismatch,
    /// The peer sent no certificate.
    NoClientCertificate,
    /// The chain does not lead to a CA in `eap_tls.ca_file`, or a signature is bad.
    CertificateUntrusted,
    /// The certificate (or one in its chain) has expired or is not yet valid.
    CertificateExpired,
    /// A configured CRL revokes the certificate.
    CertificateRevoked,
    /// Revocation cannot be decided: no CRL for the issuer, a CRL past its nextUpdate, or the
    /// CRL files could not be (re)loaded.
    RevocationUnknown,
    /// Extended Key Usage is missing or does not include clientAuth.
    CertificateWrongPurpose,
    /// The TLS handshake failed (no common version or suite, a peer alert, a bad message).
    TlsHandshakeFailed,
    /// EAP-TLS framing the server cannot accept (flags, lengths, oversized messages).
    EapTlsMalformed,
}

impl Rejection {
    /// Every rejection, in declaration order.
    pub const ALL: &'static [Rejection] = &[
        Self::NoCertificateIdentity,
        Self::AmbiguousCertificateIdentity,
        Self::IdentityMismatch,
        Self::NoClientCertificate,
        Self::CertificateUntrusted,
        Self::CertificateExpired,
        Self::CertificateRevoked,
        Self::RevocationUnknown,
        Self::CertificateWrongPurpose,
        Self::TlsHandshakeFailed,
        Self::EapTlsMalformed,
    ];

    /// The stable snake_case code.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::NoCertificateIdentity => "no_certificate_identity",
            Self::AmbiguousCertificateIdentity => "ambiguous_certificate_identity",
            Self::IdentityMismatch => "identity_mismatch",
            Self::NoClientCertificate => "no_client_certificate",
            Self::CertificateUntrusted => "certificate_untrusted",
            Self::CertificateExpired => "certificate_expired",
            Self::CertificateRevoked => "certificate_revoked",
            Self::RevocationUnknown => "revocation_unknown",
            Self::CertificateWrongPurpose => "certificate_wrong_purpose",
            Self::TlsHandshakeFailed => "tls_handshake_failed",
            Self::EapTlsMalformed => "eap_tls_malformed",
        }
    }

    /// The reason for a TLS error raised while the handshake ran.
    pub(crate) fn from_tls(error: &TlsError) -> Rejection {
        match error {
            TlsError::NoCertificatesPresented => Self::NoClientCertificate,
            TlsError::InvalidCertificate(certificate_error) => match certificate_error {
                CertificateError::Expired
                | CertificateError::ExpiredContext { .. }
                | CertificateError::NotValidYet
                | CertificateError::NotValidYetContext { .. } => Self::CertificateExpired,
                CertificateError::Revoked => Self::CertificateRevoked,
                CertificateError::UnknownRevocationStatus
                | CertificateError::ExpiredRevocationList
                | CertificateError::ExpiredRevocationListContext { .. } => Self::RevocationUnknown,
                CertificateError::InvalidPurpose
                | CertificateError::InvalidPurposeContext { .. } => Self::CertificateWrongPurpose,
                _ => Self::CertificateUntrusted,
            },
            _ => Self::TlsHandshakeFailed,
        }
    }
}

impl fmt::Display for Rejection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}
