//! How far forwarding has got, for the metrics: the spool depth (records durable in the trail
//! that the collector has not acknowledged yet — what an outage of the collector piles up),
//! records sent, and connections that failed. The forwarder keeps the counts; the depth is
//! worked out at scrape time from the writer's durable position and the acknowledged one.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric};
use prometheus_client::metrics::counter::ConstCounter;
use prometheus_client::metrics::gauge::ConstGauge;
use prometheus_client::metrics::MetricType;
use tokio::sync::watch;

/// What the forwarder has done so far.
#[derive(Debug, Default)]
pub(super) struct Progress {
    /// Last sequence number the collector acknowledged.
    pub(super) acknowledged: AtomicU64,
    /// Records sent and acknowledged, those sent again after a reconnect included.
    pub(super) forwarded: AtomicU64,
    /// Connections that could not be made or were lost.
    pub(super) connection_failures: AtomicU64,
}

impl Progress {
    pub(super) fn count(counter: &AtomicU64, by: usize) {
        counter.fetch_add(u64::try_from(by).unwrap_or(u64::MAX), Ordering::Relaxed);
    }
}

/// The forwarder's families; registered only when `[syslog]` is configured.
#[derive(Debug)]
pub struct ForwardingMetrics {
    durable: watch::Receiver<u64>,
    progress: Arc<Progress>,
}

impl ForwardingMetrics {
    pub(super) fn new(durable: watch::Receiver<u64>, progress: Arc<Progress>) -> Self {
        ForwardingMetrics { durable, progress }
    }
}

impl Collector for ForwardingMetrics {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let acknowledged = self.progress.acknowledged.load(Ordering::Relaxed);
        let depth = self.durable.borrow().saturating_sub(acknowledged);
        ConstGauge::new(i64::try_from(depth).unwrap_or(i64::MAX)).encode(
            encoder.encode_descriptor(
                "syslog_spool_records",
                "Records durable in the audit trail that the syslog collector has not \
                 acknowledged yet",
                None,
                MetricType::Gauge,
            )?,
        )?;
        let counters = [
            (
                "syslog_forwarded_records",
                "Records the syslog collector acknowledged, those sent again after a reconnect \
                 counted again",
                &self.progress.forwarded,
            ),
            (
                "syslog_connection_failures",
                "Connections to the syslog collector that could not be made or were lost",
                &self.progress.connection_failures,
            ),
        ];
        for (name, help, count) in counters {
            ConstCounter::new(count.load(Ordering::Relaxed)).encode(encoder.encode_descriptor(
                name,
                help,
                None,
                MetricType::Counter,
            )?)?;
        }
        Ok(())
    }
}
