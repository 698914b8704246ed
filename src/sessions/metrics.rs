//! What live-session oversight shows Prometheus: sessions live now, disconnects by reason and
//! result, how long a cut takes from detection to the NAS's answer, re-checks that AD could not
//! answer, and sessions forgotten without a Stop. Defined beside the code they measure.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::{Registry, Unit};

use crate::reason::Reason;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct DisconnectLabels {
    reason: &'static str,
    result: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct CauseLabels {
    cause: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct KindLabels {
    kind: &'static str,
}

/// The session families.
pub struct SessionMetrics {
    live: Family<KindLabels, Gauge>,
    disconnects: Family<DisconnectLabels, Counter>,
    disconnect_duration: Histogram,
    recheck_failures: Counter,
    rechecks: Counter,
    dropped: Family<CauseLabels, Counter>,
    session_lists: Counter,
    session_list_failures: Counter,
}

impl Default for SessionMetrics {
    fn default() -> Self {
        SessionMetrics {
            live: Family::default(),
            disconnects: Family::default(),
            // 50 ms … ~100 s: a re-check, a Disconnect-Request and its retransmissions.
            disconnect_duration: Histogram::new(exponential_buckets(0.05, 2.0, 12)),
            recheck_failures: Counter::default(),
            rechecks: Counter::default(),
            dropped: Family::default(),
            session_lists: Counter::default(),
            session_list_failures: Counter::default(),
        }
    }
}

impl SessionMetrics {
    pub fn register(&self, registry: &mut Registry) {
        registry.register(
            "live_sessions",
            "VPN sessions adgate watches: kind session (accounting seen) or pending_accept \
             (accepted, no Accounting-Start yet)",
            self.live.clone(),
        );
        registry.register(
            "disconnects",
            "Disconnect-Requests (RFC 5176) by reason and result",
            self.disconnects.clone(),
        );
        registry.register_with_unit(
            "disconnect_duration",
            "From detecting that a session must end to the NAS's answer (or giving up)",
            Unit::Seconds,
            self.disconnect_duration.clone(),
        );
        registry.register(
            "session_rechecks",
            "Re-checks of a live session's AD account",
            self.rechecks.clone(),
        );
        registry.register(
            "session_recheck_failures",
            "Re-checks AD could not answer (the session is kept and checked again)",
            self.recheck_failures.clone(),
        );
        registry.register(
            "sessions_dropped",
            "Sessions forgotten without a Stop: cause stale (no accounting for too long) or \
             table_full",
            self.dropped.clone(),
        );
        registry.register(
            "session_list_polls",
            "Session lists asked of VPN servers that send no accounting (SoftEther)",
            self.session_lists.clone(),
        );
        registry.register(
            "session_list_poll_failures",
            "Session lists that could not be read (the server's sessions are kept as they were)",
            self.session_list_failures.clone(),
        );
    }

    pub fn set_live(&self, sessions: usize, pending_accepts: usize) {
        let gauge = |kind| self.live.get_or_create(&KindLabels { kind });
        gauge("session").set(i64::try_from(sessions).unwrap_or(i64::MAX));
        gauge("pending_accept").set(i64::try_from(pending_accepts).unwrap_or(i64::MAX));
    }

    pub fn count_disconnect(&self, reason: Reason, result: &'static str, seconds: f64) {
        self.disconnects
            .get_or_create(&DisconnectLabels {
                reason: reason.as_str(),
                result,
            })
            .inc();
        self.disconnect_duration.observe(seconds);
    }

    pub fn count_recheck(&self, answered: bool) {
        self.rechecks.inc();
        if !answered {
            self.recheck_failures.inc();
        }
    }

    pub fn count_session_list(&self, answered: bool) {
        self.session_lists.inc();
        if !answered {
            self.session_list_failures.inc();
        }
    }

    pub fn count_dropped(&self, cause: &'static str) {
        self.dropped.get_or_create(&CauseLabels { cause }).inc();
    }
}
