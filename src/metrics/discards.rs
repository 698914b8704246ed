//! Packets the RADIUS listeners dropped without a decision, by reason, read at scrape time
//! from the counters each listening socket (and the RadSec listener's connections) already
//! keeps (`adgate_radius::Counters`), summed over them, so the packet path pays nothing extra
//! for the metric.

use std::sync::Arc;

use adgate_radius::{Counters, DiscardReason, Skip};
use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric};
use prometheus_client::metrics::counter::ConstCounter;
use prometheus_client::metrics::MetricType;

use crate::reason::Reason;

/// The discard counters of every listening socket, and of RadSec's connections.
#[derive(Debug)]
pub struct DiscardCounts {
    sockets: Vec<Arc<Counters>>,
}

impl DiscardCounts {
    pub fn new(sockets: Vec<Arc<Counters>>) -> DiscardCounts {
        DiscardCounts { sockets }
    }

    fn sum(&self, count: impl Fn(&Counters) -> u64) -> u64 {
        self.sockets.iter().map(|counters| count(counters)).sum()
    }
}

impl Collector for DiscardCounts {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let mut family = encoder.encode_descriptor(
            "discards",
            "RADIUS datagrams and RadSec packets dropped without an answer, by reason",
            None,
            MetricType::Counter,
        )?;
        let skips = [Skip::Overloaded, Skip::DuplicateInProgress];
        let reasons = DiscardReason::ALL
            .iter()
            .map(|&reason| (Reason::from(reason), self.sum(|c| c.discarded(reason))))
            .chain(
                skips
                    .iter()
                    .map(|&skip| (Reason::from(skip), self.sum(|c| c.skipped(skip)))),
            );
        for (reason, count) in reasons {
            let labels = [("reason", reason.as_str())];
            ConstCounter::new(count).encode(family.encode_family(&labels)?)?;
        }
        Ok(())
    }
}
