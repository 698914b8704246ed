//! What the gatekeeper counts and times for Prometheus, defined here beside the code it
//! measures; `metrics` only assembles the families. Also whether the last audit record could be
//! written, which readiness reports.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::{Registry, Unit};

use crate::reason::Reason;
use crate::throttle::ThrottleRule;

/// One request's bounded description: the client's configured name, never its address.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(crate) struct RequestLabels {
    pub(crate) client: String,
    /// `access_request` or `accounting_request`.
    pub(crate) packet: &'static str,
    /// `accept`, `reject`, `challenge` (an EAP round trip), `recorded` (accounting) or
    /// `not_recorded` (accounting left unanswered because the trail could not be written).
    pub(crate) verdict: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ReasonLabels {
    reason: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RuleLabels {
    rule: &'static str,
}

/// The gatekeeper's metric families.
pub(crate) struct GatekeeperMetrics {
    requests: Family<RequestLabels, Counter>,
    rejects: Family<ReasonLabels, Counter>,
    throttled: Family<RuleLabels, Counter>,
    request_duration: Histogram,
    directory_duration: Histogram,
    audit_write_duration: Histogram,
    audit_write_failures: Counter,
    /// Whether the last record could be written (true before the first).
    audit_writable: AtomicBool,
}

impl Default for GatekeeperMetrics {
    fn default() -> Self {
        // 1 ms … ~16 s: a cached answer up to a directory timeout and its retry.
        let seconds = || Histogram::new(exponential_buckets(0.001, 2.0, 15));
        GatekeeperMetrics {
            requests: Family::default(),
            rejects: Family::default(),
            throttled: Family::default(),
            request_duration: seconds(),
            directory_duration: seconds(),
            audit_write_duration: seconds(),
            audit_write_failures: Counter::default(),
            audit_writable: AtomicBool::new(true),
        }
    }
}

impl GatekeeperMetrics {
    pub(crate) fn register(&self, registry: &mut Registry) {
        registry.register(
            "requests",
            "RADIUS requests decided or recorded, by client, packet type and verdict",
            self.requests.clone(),
        );
        registry.register(
            "rejects",
            "Access-Rejects by reason code (throttled logins are reason throttled)",
            self.rejects.clone(),
        );
        // Every rule shows from the start, so an alert on one needs no `or vector(0)`.
        for rule in ThrottleRule::ALL {
            drop(self.throttled.get_or_create(&RuleLabels {
                rule: rule.as_str(),
            }));
        }
        registry.register(
            "throttled_logins",
            "Logins refused as throttled, by the budget that was spent: user (someone elsewhere \
             guesses this user's password), user_at_station (bad passwords from the user's own \
             familiar station), station (one station guessing many users)",
            self.throttled.clone(),
        );
        registry.register_with_unit(
            "request_duration",
            "Access-Request to answer (decision, record, reply), EAP round trips included",
            Unit::Seconds,
            self.request_duration.clone(),
        );
        registry.register_with_unit(
            "directory_check_duration",
            "Time AD took for one password login (search, group membership, bind)",
            Unit::Seconds,
            self.directory_duration.clone(),
        );
        registry.register_with_unit(
            "audit_write_duration",
            "Appending one record to the audit trail, fsync included",
            Unit::Seconds,
            self.audit_write_duration.clone(),
        );
        registry.register(
            "audit_write_failures",
            "Records that could not be written to the audit trail",
            self.audit_write_failures.clone(),
        );
    }

    pub(crate) fn count_request(&self, labels: RequestLabels) {
        self.requests.get_or_create(&labels).inc();
    }

    /// An Access-Request that came in at `started` has been answered.
    pub(crate) fn time_access_request(&self, started: Instant) {
        self.request_duration
            .observe(started.elapsed().as_secs_f64());
    }

    pub(crate) fn count_reject(&self, reason: Reason) {
        let reason = reason.as_str();
        self.rejects.get_or_create(&ReasonLabels { reason }).inc();
    }

    pub(crate) fn count_throttled(&self, rule: ThrottleRule) {
        let rule = rule.as_str();
        self.throttled.get_or_create(&RuleLabels { rule }).inc();
    }

    pub(crate) fn time_directory(&self, started: Instant) {
        self.directory_duration
            .observe(started.elapsed().as_secs_f64());
    }

    /// An audit record's write, begun at `started`, is over: `written` says whether it worked.
    pub(crate) fn time_audit_write(&self, started: Instant, written: bool) {
        self.audit_write_duration
            .observe(started.elapsed().as_secs_f64());
        self.audit_writable.store(written, Ordering::Relaxed);
        if !written {
            self.audit_write_failures.inc();
        }
    }

    /// Whether the last audit record could be written (true before the first).
    pub(crate) fn audit_writable(&self) -> bool {
        self.audit_writable.load(Ordering::Relaxed)
    }
}
