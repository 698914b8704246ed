//! Packets the RADIUS listeners dropped without a decision, by reason, read at scrape time
//! from the counters each listening socket (and the RadSec listener's connections) already
//! keeps (`adgate_radius::Counters`), summed over them, so the packet path pays nothing extra
//! for the metric. `client_discards` splits the same counts by configured client, for an alert
//! that names the misconfigured appliance.

use std::collections::BTreeMap;
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

    /// Each client's discards summed over the sockets, by client name.
    fn by_client(&self) -> BTreeMap<String, [u64; DiscardReason::ALL.len()]> {
        let mut sums = BTreeMap::new();
        for (client, counts) in self.sockets.iter().flat_map(|c| c.discarded_by_client()) {
            let sum: &mut [u64; DiscardReason::ALL.len()] =
                sums.entry(client).or_insert([0; DiscardReason::ALL.len()]);
            for (total, count) in sum.iter_mut().zip(counts) {
                *total += count;
            }
        }
        sums
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
        let mut by_client = encoder.encode_descriptor(
            "client_discards",
            "RADIUS datagrams and RadSec packets from a configured client dropped without an \
             answer, by client and reason (from the first one on)",
            None,
            MetricType::Counter,
        )?;
        for (client, counts) in self.by_client() {
            for (&reason, count) in DiscardReason::ALL.iter().zip(counts) {
                let labels = [
                    ("client", client.as_str()),
                    ("reason", Reason::from(reason).as_str()),
                ];
                ConstCounter::new(count).encode(by_client.encode_family(&labels)?)?;
            }
        }
        Ok(())
    }
}
