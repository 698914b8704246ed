//! What adgate knows about each configured domain controller: whether it is worth trying, how
//! many connections to it are open, and what went wrong with it, by kind; and which DC the
//! connector's readiness probe last reached, which readiness probes (`/readyz`) answer from.
//!
//! A DC that failed is marked down and skipped while another DC works, so that a dead DC costs
//! one connect timeout once instead of one per new connection; the connector's background probe
//! brings it back. The state is kept per configured URL in a [`DcHealth`] handle, which the
//! binary reads at scrape time for its metrics and may hand to the next [`crate::Directory`]
//! when the configuration is reloaded, so that neither the counters nor what is known about a
//! dead DC are lost.

use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use crate::error::DirectoryError;

/// What went wrong with a DC, as counted in its error counters (a bounded set).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DcErrorKind {
    /// The TCP connection was refused or failed.
    Connect,
    /// No answer in time: connecting, or to an operation on an open connection.
    Timeout,
    /// The TLS handshake failed (certificate not trusted or not for this name, protocol error).
    Tls,
    /// The DC refused the service account's bind.
    ServiceBind,
    /// An open connection broke.
    ConnectionLost,
}

impl DcErrorKind {
    pub const ALL: [DcErrorKind; 5] = [
        DcErrorKind::Connect,
        DcErrorKind::Timeout,
        DcErrorKind::Tls,
        DcErrorKind::ServiceBind,
        DcErrorKind::ConnectionLost,
    ];

    /// The label value in metrics.
    pub fn as_str(self) -> &'static str {
        match self {
            DcErrorKind::Connect => "connect",
            DcErrorKind::Timeout => "timeout",
            DcErrorKind::Tls => "tls",
            DcErrorKind::ServiceBind => "service_bind",
            DcErrorKind::ConnectionLost => "connection_lost",
        }
    }

    /// The kind of a failure that concerns the DC itself; `None` for answers the DC gave (an
    /// LDAP result code, a malformed entry), which say nothing about its health.
    pub(crate) fn of(error: &DirectoryError) -> Option<DcErrorKind> {
        match error {
            DirectoryError::Connect { .. } => Some(DcErrorKind::Connect),
            DirectoryError::ConnectTimeout { .. } | DirectoryError::Timeout { .. } => {
                Some(DcErrorKind::Timeout)
            }
            DirectoryError::CertificateLacksName { .. }
            | DirectoryError::UntrustedCertificate { .. }
            | DirectoryError::Tls { .. } => Some(DcErrorKind::Tls),
            DirectoryError::ServiceBindRefused { .. } => Some(DcErrorKind::ServiceBind),
            DirectoryError::ConnectionLost { .. } => Some(DcErrorKind::ConnectionLost),
            _ => None,
        }
    }
}

/// One DC as the metrics show it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DcStatus {
    /// The configured URL.
    pub url: String,
    /// False while the DC is marked down (skipped while another DC works).
    pub up: bool,
    /// LDAP connections to the DC open now (service connection, user-bind connections, and
    /// the change watch's connection).
    pub connections: u64,
    /// Errors since start, by kind, in the order of [`DcErrorKind::ALL`].
    pub errors: Vec<(DcErrorKind, u64)>,
}

/// The health of the configured domain controllers; cheap to clone (a shared handle).
#[derive(Debug, Clone, Default)]
pub struct DcHealth {
    dcs: Arc<Mutex<Vec<DcState>>>,
    /// The configured DC the last readiness probe reached (the first to accept a connection,
    /// in the order logins try them); `None` when none did.
    reachable: Arc<Mutex<Option<String>>>,
}

#[derive(Debug)]
struct DcState {
    url: String,
    up: bool,
    connections: u64,
    errors: [u64; DcErrorKind::ALL.len()],
}

impl DcState {
    fn new(url: &str) -> DcState {
        DcState {
            url: url.to_owned(),
            up: true,
            connections: 0,
            errors: [0; DcErrorKind::ALL.len()],
        }
    }
}

impl DcHealth {
    /// A handle knowing no DC yet; a `Directory` made with it registers its URLs.
    pub fn new() -> DcHealth {
        DcHealth::default()
    }

    /// Every configured DC, in configured order.
    pub fn snapshot(&self) -> Vec<DcStatus> {
        self.lock()
            .iter()
            .map(|dc| DcStatus {
                url: dc.url.clone(),
                up: dc.up,
                connections: dc.connections,
                errors: DcErrorKind::ALL
                    .iter()
                    .map(|&kind| (kind, dc.errors.get(kind as usize).copied().unwrap_or(0)))
                    .collect(),
            })
            .collect()
    }

    /// Track exactly `urls`, in this order: DCs already known keep their state, new ones start
    /// up, and DCs no longer configured are forgotten (so the metrics' label set stays the
    /// configured one).
    pub(crate) fn track(&self, urls: &[String]) {
        let mut dcs = self.lock();
        let mut known = std::mem::take(&mut *dcs);
        for url in urls {
            let state = match known.iter().position(|dc| &dc.url == url) {
                Some(index) => known.swap_remove(index),
                None => DcState::new(url),
            };
            dcs.push(state);
        }
    }

    /// The DC the last readiness probe reached, if any.
    pub fn reachable(&self) -> Option<String> {
        self.reachable
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// What a readiness probe found: `url` accepted a connection (`None`: no DC did). A URL no
    /// longer configured (from the probe of a directory a reload replaced) changes nothing.
    pub(crate) fn probed(&self, url: Option<&str>) {
        if url.is_some_and(|url| self.with(url, |_| ()).is_none()) {
            return;
        }
        *self
            .reachable
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = url.map(str::to_owned);
    }

    /// Whether `url` is not marked down.
    pub(crate) fn is_up(&self, url: &str) -> bool {
        self.with(url, |dc| dc.up).unwrap_or(true)
    }

    /// Count `error` against `url` and mark the DC down. True if it was up until now (the
    /// caller then logs the transition once and starts probing it).
    pub(crate) fn failed(&self, url: &str, error: &DirectoryError) -> bool {
        self.count(url, error);
        self.with(url, |dc| std::mem::replace(&mut dc.up, false))
            .unwrap_or(false)
    }

    /// Count `error` against `url` without judging the DC (a connection that broke may just
    /// have been closed for idleness; reconnecting tells).
    pub(crate) fn count(&self, url: &str, error: &DirectoryError) {
        if let Some(kind) = DcErrorKind::of(error) {
            self.with(url, |dc| {
                if let Some(count) = dc.errors.get_mut(kind as usize) {
                    *count += 1;
                }
            });
        }
    }

    /// Mark `url` up. True if it was down until now (the caller logs the transition once).
    pub(crate) fn succeeded(&self, url: &str) -> bool {
        self.with(url, |dc| !std::mem::replace(&mut dc.up, true))
            .unwrap_or(false)
    }

    pub(crate) fn connection_opened(&self, url: &str) {
        self.with(url, |dc| dc.connections += 1);
    }

    pub(crate) fn connection_closed(&self, url: &str) {
        self.with(url, |dc| dc.connections = dc.connections.saturating_sub(1));
    }

    fn with<T>(&self, url: &str, f: impl FnOnce(&mut DcState) -> T) -> Option<T> {
        self.lock().iter_mut().find(|dc| dc.url == url).map(f)
    }

    fn lock(&self) -> MutexGuard<'_, Vec<DcState>> {
        self.dcs.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refused(url: &str) -> DirectoryError {
        DirectoryError::Connect {
            url: url.into(),
            detail: "connection refused".into(),
        }
    }

    fn errors(health: &DcHealth, index: usize, kind: DcErrorKind) -> u64 {
        health.snapshot()[index]
            .errors
            .iter()
            .find(|(k, _)| *k == kind)
            .unwrap()
            .1
    }

    #[test]
    fn transitions_are_reported_once() {
        let health = DcHealth::new();
        health.track(&["ldaps://dc1".into(), "ldaps://dc2".into()]);
        assert!(health.is_up("ldaps://dc1"));
        assert!(health.failed("ldaps://dc1", &refused("ldaps://dc1")));
        assert!(!health.failed("ldaps://dc1", &refused("ldaps://dc1")));
        assert!(!health.is_up("ldaps://dc1"));
        assert!(health.is_up("ldaps://dc2"));
        assert_eq!(errors(&health, 0, DcErrorKind::Connect), 2);
        assert!(health.succeeded("ldaps://dc1"));
        assert!(!health.succeeded("ldaps://dc1"));
        assert!(health.is_up("ldaps://dc1"));
    }

    #[test]
    fn answers_from_the_dc_are_not_its_errors() {
        let health = DcHealth::new();
        health.track(&["ldaps://dc1".into()]);
        health.count(
            "ldaps://dc1",
            &DirectoryError::Refused {
                operation: "user search",
                rc: 50,
                text: "insufficient access".into(),
            },
        );
        let status = &health.snapshot()[0];
        assert!(status.errors.iter().all(|(_, count)| *count == 0));
    }

    #[test]
    fn readiness_comes_from_the_last_probe_of_a_configured_dc() {
        let health = DcHealth::new();
        health.track(&["ldaps://dc1".into(), "ldaps://dc2".into()]);
        assert_eq!(health.reachable(), None, "not probed yet");
        health.probed(Some("ldaps://dc2"));
        assert_eq!(health.reachable().as_deref(), Some("ldaps://dc2"));
        health.probed(Some("ldaps://gone"));
        assert_eq!(health.reachable().as_deref(), Some("ldaps://dc2"));
        health.probed(None);
        assert_eq!(health.reachable(), None);
    }

    #[test]
    fn retracking_keeps_known_dcs_and_forgets_removed_ones() {
        let health = DcHealth::new();
        health.track(&["ldaps://dc1".into(), "ldaps://dc2".into()]);
        health.failed("ldaps://dc2", &refused("ldaps://dc2"));
        health.connection_opened("ldaps://dc1");
        health.track(&["ldaps://dc2".into(), "ldaps://dc3".into()]);
        let snapshot = health.snapshot();
        let urls: Vec<&str> = snapshot.iter().map(|dc| dc.url.as_str()).collect();
        assert_eq!(urls, ["ldaps://dc2", "ldaps://dc3"]);
        assert!(!snapshot[0].up);
        assert_eq!(errors(&health, 0, DcErrorKind::Connect), 1);
        assert!(snapshot[1].up);
        // Reports about a DC no longer configured change nothing.
        health.connection_closed("ldaps://dc1");
        assert!(!health.failed("ldaps://dc1", &refused("ldaps://dc1")));
        assert_eq!(health.snapshot().len(), 2);
    }
}
