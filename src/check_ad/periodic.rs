//! `serve` runs the checks of `adgate check-ad` every `oversight.ad_check_interval_s` (first
//! right after the start), with the running configuration's directory and policy: each run is
//! one `ad_check` record in the trail and one log line, and Prometheus sees where each policy
//! item stands (`adgate_ad_check_findings`).

use std::sync::atomic::AtomicU64;
use std::sync::Arc;
use std::time::Duration;

use adgate_authz::{FindingStatus, PostureCheck, PostureSettings};
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::{Registry, Unit};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use super::run_checks;
use crate::audit::{AdCheckRecord, AuditTrail, StatusCounts};
use crate::current_handler::CurrentHandler;
use crate::gatekeeper::Gatekeeper;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct FindingLabels {
    check: &'static str,
    status: &'static str,
}

/// What the periodic AD checks show Prometheus.
#[derive(Default)]
pub struct AdCheckMetrics {
    /// 1 for the status each check had at the last completed run, 0 for the other two.
    findings: Family<FindingLabels, Gauge>,
    last_completed: Gauge<f64, AtomicU64>,
    unavailable: Counter,
}

impl AdCheckMetrics {
    pub fn register(&self, registry: &mut Registry) {
        registry.register(
            "ad_check_findings",
            "Where each policy item of `adgate check-ad` stood at the last completed run: 1 \
             for its status (pass, warn or fail), 0 for the others; all 0 before the first run",
            self.findings.clone(),
        );
        registry.register_with_unit(
            "ad_check_last_completed_timestamp",
            "When the AD checks last completed, Unix time (0: not yet)",
            Unit::Seconds,
            self.last_completed.clone(),
        );
        registry.register(
            "ad_check_unavailable",
            "AD check runs that could not read AD",
            self.unavailable.clone(),
        );
        for check in PostureCheck::ALL {
            for status in FindingStatus::ALL {
                let _ = self.findings.get_or_create(&FindingLabels {
                    check: check.as_str(),
                    status: status.as_str(),
                });
            }
        }
    }

    fn completed(&self, findings: &[adgate_authz::Finding]) {
        for finding in findings {
            for status in FindingStatus::ALL {
                self.findings
                    .get_or_create(&FindingLabels {
                        check: finding.check.as_str(),
                        status: status.as_str(),
                    })
                    .set(i64::from(finding.status == status));
            }
        }
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default();
        self.last_completed.set(now.as_secs_f64());
    }
}

/// Runs the checks now and then every `every` until `stop`.
pub fn spawn_periodic_checks(
    handler: Arc<CurrentHandler<Gatekeeper>>,
    trail: AuditTrail,
    every: Duration,
    settings: PostureSettings,
    metrics: Arc<AdCheckMetrics>,
    stop: CancellationToken,
) -> JoinHandle<()> {
    tokio::spawn(async move {
        let mut interval = tokio::time::interval(every);
        interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = interval.tick() => {}
                () = stop.cancelled() => return,
            }
            let gatekeeper = handler.get();
            // A run waits for AD at most its timeouts; a stop does not wait for it.
            let record = tokio::select! {
                record = check_once(&gatekeeper, settings, &metrics) => record,
                () = stop.cancelled() => return,
            };
            if let Err(error) = trail.append_entry(&record).await {
                tracing::error!(%error, "the AD check result was not recorded");
            }
        }
    })
}

/// One run: the record of what it found, or of why AD could not be read.
async fn check_once(
    gatekeeper: &Gatekeeper,
    settings: PostureSettings,
    metrics: &AdCheckMetrics,
) -> AdCheckRecord {
    match run_checks(gatekeeper.authorizer(), settings).await {
        Ok((posture, findings)) => {
            metrics.completed(&findings);
            let counts = StatusCounts::of(&findings);
            let failing: Vec<&str> = findings
                .iter()
                .filter(|f| f.status == FindingStatus::Fail)
                .map(|f| f.check.as_str())
                .collect();
            tracing::info!(
                fail = counts.fail,
                warn = counts.warn,
                pass = counts.pass,
                failing = %failing.join(","),
                "AD checked against the telework policy (adgate check-ad for details)"
            );
            AdCheckRecord::completed(posture.domain_dn, &findings)
        }
        Err(error) => {
            metrics.unavailable.inc();
            tracing::warn!(%error, "AD check not done: AD could not be read");
            AdCheckRecord::unavailable(error.to_string())
        }
    }
}
