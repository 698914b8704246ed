//! RadSec connections refused before a request is read — `max_connections` reached, a failed or
//! timed-out TLS handshake, a revoked certificate, a certificate naming no configured client —
//! counted by reason for the metric `adgate_radsec_handshake_failures_total{reason}`, and
//! logged within bounds: a scanner, or a misconfigured proxy reconnecting in a loop, would
//! otherwise write a warning per attempt. The bound is the audit trail's discard limiter: a few
//! lines per (source address, reason) and minute, then one summary line per (source, reason)
//! at the end of the minute.

use std::fmt::Display;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric};
use prometheus_client::metrics::counter::ConstCounter;
use prometheus_client::metrics::MetricType;
use rustls::{CertificateError, Error as TlsError};
use tracing::warn;

use crate::audit::DiscardLimiter;

/// How often the refusals not logged one by one are summarised.
pub const SUMMARY_INTERVAL: Duration = Duration::from_secs(60);

/// Why a connection was refused: the `reason` label, a fixed set (declared in `ALL`'s order,
/// which indexes the counters).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// `radsec.max_connections` connections are open already.
    MaxConnections,
    /// The handshake did not finish within its time.
    Timeout,
    /// The client sent no certificate (RFC 6614 §2.3 requires one).
    NoCertificate,
    /// A configured CRL revokes the certificate (or one of its CAs).
    Revoked,
    /// Revocation cannot be decided: no CRL for the issuer, a CRL past its nextUpdate, or CRL
    /// files that cannot be loaded.
    RevocationUnknown,
    /// The certificate does not carry Extended Key Usage clientAuth (none at all, or only
    /// other purposes): it was not issued to identify a client.
    WrongPurpose,
    /// Any other certificate problem: another CA, expired, bad signature.
    UntrustedCertificate,
    /// A valid certificate, but no configured client has its name at this address.
    UnknownClient,
    /// Anything else in the handshake: no common version or suite, a malformed message, a
    /// reset connection.
    TlsError,
}

impl Refusal {
    const ALL: [Refusal; 9] = [
        Refusal::MaxConnections,
        Refusal::Timeout,
        Refusal::NoCertificate,
        Refusal::Revoked,
        Refusal::RevocationUnknown,
        Refusal::WrongPurpose,
        Refusal::UntrustedCertificate,
        Refusal::UnknownClient,
        Refusal::TlsError,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Refusal::MaxConnections => "max_connections",
            Refusal::Timeout => "timeout",
            Refusal::NoCertificate => "no_certificate",
            Refusal::Revoked => "revoked",
            Refusal::RevocationUnknown => "revocation_unknown",
            Refusal::WrongPurpose => "wrong_purpose",
            Refusal::UntrustedCertificate => "untrusted_certificate",
            Refusal::UnknownClient => "unknown_client",
            Refusal::TlsError => "tls_error",
        }
    }

    /// The reason of a failed handshake, from the rustls error tokio-rustls wraps.
    pub fn of_handshake(error: &std::io::Error) -> Refusal {
        let tls = error
            .get_ref()
            .and_then(|inner| inner.downcast_ref::<TlsError>());
        match tls {
            Some(TlsError::NoCertificatesPresented) => Refusal::NoCertificate,
            Some(TlsError::InvalidCertificate(CertificateError::Revoked)) => Refusal::Revoked,
            Some(TlsError::InvalidCertificate(
                CertificateError::UnknownRevocationStatus
                | CertificateError::ExpiredRevocationList
                | CertificateError::ExpiredRevocationListContext { .. },
            )) => Refusal::RevocationUnknown,
            Some(TlsError::InvalidCertificate(
                CertificateError::InvalidPurpose | CertificateError::InvalidPurposeContext { .. },
            )) => Refusal::WrongPurpose,
            Some(TlsError::InvalidCertificate(_)) => Refusal::UntrustedCertificate,
            _ => Refusal::TlsError,
        }
    }
}

/// Refusals so far, and which of this minute's are still logged one by one.
#[derive(Debug, Default)]
pub struct Refusals {
    counts: [AtomicU64; Refusal::ALL.len()],
    log: Mutex<DiscardLimiter>,
}

impl Refusals {
    /// Counts a refusal and logs `what` with its `detail`, unless this source has had its
    /// share of lines for this reason this minute.
    pub fn refuse(&self, peer: SocketAddr, refusal: Refusal, what: &str, detail: &dyn Display) {
        if let Some(count) = self.counts.get(refusal as usize) {
            count.fetch_add(1, Ordering::Relaxed);
        }
        let logged = self
            .log
            .lock()
            .map(|mut limiter| limiter.admit(peer.ip().to_canonical(), refusal.as_str()))
            .unwrap_or(true);
        if logged {
            warn!(%peer, reason = refusal.as_str(), %detail, "{what}: connection closed");
        }
    }

    /// Ends the minute: one line per (source, reason) with refusals not logged one by one.
    pub fn summarize(&self) {
        let Ok(unrecorded) = self.log.lock().map(|mut limiter| limiter.end_interval()) else {
            return;
        };
        for entry in unrecorded {
            let source = entry
                .source
                .map_or_else(|| "other sources".to_owned(), |source| source.to_string());
            warn!(
                %source,
                reason = entry.reason,
                count = entry.count,
                not_logged = entry.not_recorded,
                since = %entry.since,
                "RadSec connections refused, not all logged one by one"
            );
        }
    }

    /// Refusals for `refusal` so far.
    fn count(&self, refusal: Refusal) -> u64 {
        self.counts
            .get(refusal as usize)
            .map_or(0, |count| count.load(Ordering::Relaxed))
    }

    /// The metric family, for the registry.
    pub fn metric(self: &Arc<Self>) -> RefusalCounts {
        RefusalCounts(Arc::clone(self))
    }
}

/// `adgate_radsec_handshake_failures_total{reason}`, read at scrape time.
#[derive(Debug)]
pub struct RefusalCounts(Arc<Refusals>);

impl Collector for RefusalCounts {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let mut family = encoder.encode_descriptor(
            "radsec_handshake_failures",
            "RadSec connections refused before any request was read, by reason",
            None,
            MetricType::Counter,
        )?;
        for refusal in Refusal::ALL {
            let count = self.0.count(refusal);
            let labels = [("reason", refusal.as_str())];
            ConstCounter::new(count).encode(family.encode_family(&labels)?)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A handshake error as tokio-rustls returns it.
    fn handshake_error(error: TlsError) -> std::io::Error {
        std::io::Error::new(std::io::ErrorKind::InvalidData, error)
    }

    #[test]
    fn handshake_errors_map_to_their_reasons() {
        let cases = [
            (TlsError::NoCertificatesPresented, Refusal::NoCertificate),
            (
                TlsError::InvalidCertificate(CertificateError::Revoked),
                Refusal::Revoked,
            ),
            (
                TlsError::InvalidCertificate(CertificateError::UnknownRevocationStatus),
                Refusal::RevocationUnknown,
            ),
            (
                TlsError::InvalidCertificate(CertificateError::UnknownIssuer),
                Refusal::UntrustedCertificate,
            ),
            (
                TlsError::InvalidCertificate(CertificateError::Expired),
                Refusal::UntrustedCertificate,
            ),
            (
                TlsError::InvalidCertificate(CertificateError::InvalidPurpose),
                Refusal::WrongPurpose,
            ),
            (TlsError::HandshakeNotComplete, Refusal::TlsError),
        ];
        for (error, refusal) in cases {
            assert_eq!(Refusal::of_handshake(&handshake_error(error)), refusal);
        }
        let reset = std::io::Error::from(std::io::ErrorKind::ConnectionReset);
        assert_eq!(Refusal::of_handshake(&reset), Refusal::TlsError);
    }

    #[test]
    fn every_refusal_is_counted_under_its_own_reason() {
        let refusals = Arc::new(Refusals::default());
        let peer: SocketAddr = "192.0.2.7:40000".parse().unwrap();
        for _ in 0..30 {
            refusals.refuse(peer, Refusal::Revoked, "refused", &"test");
        }
        refusals.refuse(peer, Refusal::Timeout, "refused", &"test");
        let count = |refusal: Refusal| refusals.counts[refusal as usize].load(Ordering::Relaxed);
        assert_eq!(count(Refusal::Revoked), 30);
        assert_eq!(count(Refusal::Timeout), 1);
        assert_eq!(count(Refusal::UnknownClient), 0);
        for (index, refusal) in Refusal::ALL.iter().enumerate() {
            assert_eq!(*refusal as usize, index, "ALL is in declaration order");
        }
    }
}
