//! Certificates for adgate: who a client certificate names, whether it may be trusted, and the
//! EAP-TLS conversation (RFC 5216 for TLS 1.2, RFC 9190 for TLS 1.3) that proves the client
//! holds its key.
//!
//! The same session runs PEAP's tunnel ([`EapTlsSession::start_tunnel`], no client
//! certificate, TLS 1.2): after the handshake it carries the inner EAP conversation both ways and
//! yields the tunnel's MSK.
//!
//! This crate knows X.509 and TLS, nothing of RADIUS packets or LDAP. An [`EapTlsSession`] is
//! fed the Type-Data of each EAP-TLS Response and answers with the Type-Data of the next
//! EAP-TLS Request; when the handshake is over it hands back an [`Established`] session: the
//! client's [`IdentityClaim`] (or the [`Rejection`] saying why the certificate names nobody),
//! the certificate's [`CertificateSummary`] for the audit trail, and the MSK.

#![forbid(unsafe_code)]

mod certificate_check;
mod certificate_summary;
mod client_auth_verifier;
mod crl_watch;
mod dns_name;
mod eap_tls_fragments;
mod eap_tls_peer;
mod eap_tls_session;
mod identity;
mod rejection;
mod session_keys;
mod tls_server;

#[cfg(any(test, feature = "test-pki"))]
pub mod test_pki;

#[cfg(feature = "fuzzing")]
#[doc(hidden)]
pub mod fuzzing;

pub use certificate_check::{check_client_certificate, CertificateChecks};
pub use certificate_summary::CertificateSummary;
pub use dns_name::carries_dns_name;
pub use eap_tls_peer::{peer_config, EapTlsPeer, PeerError};
pub use eap_tls_session::{EapTlsSession, Established, Step};
pub use identity::{identity_of, IdentityClaim, IdentityPolicy, IdentitySource};
pub use rejection::Rejection;
pub use session_keys::MasterSessionKey;
pub use tls_server::{MutualTlsSettings, TlsServer, TlsServerError};
