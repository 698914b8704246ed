//! The Access-Rejects the RADIUS listeners held back for `server.reject_delay_ms`, and those they
//! withheld when too many were waiting already (the NAS's retransmission got them), read at
//! scrape time from the counters each listening socket keeps (`adgate_radius::Counters`).
//! Withheld rejects mean a flood of refusals: a password spray, or a NAS gone wrong.

use std::sync::Arc;

use adgate_radius::Counters;
use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric};
use prometheus_client::metrics::counter::ConstCounter;
use prometheus_client::metrics::MetricType;

/// The reject-delay counters of every listening socket.
#[derive(Debug)]
pub struct DelayedRejects {
    sockets: Vec<Arc<Counters>>,
}

impl DelayedRejects {
    pub fn new(sockets: Vec<Arc<Counters>>) -> DelayedRejects {
        DelayedRejects { sockets }
    }
}

/// A family's name, help text, and how to read its count from one socket's counters.
type Family = (&'static str, &'static str, fn(&Counters) -> u64);

const FAMILIES: [Family; 2] = [
    (
        "rejects_delayed",
        "Access-Rejects held back until server.reject_delay_ms after their request",
        Counters::rejects_delayed,
    ),
    (
        "rejects_withheld",
        "Access-Rejects cached but not sent because too many were waiting on the reject \
         delay; the NAS's retransmission got them",
        Counters::rejects_withheld,
    ),
];

impl Collector for DelayedRejects {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        for (name, help, count) in FAMILIES {
            let total: u64 = self.sockets.iter().map(|counters| count(counters)).sum();
            let metric = encoder.encode_descriptor(name, help, None, MetricType::Counter)?;
            ConstCounter::new(total).encode(metric)?;
        }
        Ok(())
    }
}
