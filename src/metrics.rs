//! What adgate shows Prometheus: one registry holding every metric family, built once at start,
//! encoded on each scrape in the OpenMetrics text format, or the classic Prometheus one for
//! scrapers that do not ask for OpenMetrics. The families are defined beside the
//! code they measure (the gatekeeper's in `gatekeeper/metrics.rs` and, read from its tables at
//! scrape time, `gatekeeper/state_metrics.rs`; the syslog forwarder's in `syslog/metrics.rs`;
//! the RADIUS listeners' discard counts in `metrics/discards.rs` and their delayed rejects in
//! `metrics/delayed_rejects.rs`; the domain controllers' state in
//! `metrics/domain_controllers.rs`; reloads in `reload.rs`); this file only assembles them
//! and adds build information. Label values are bounded: configured client names and DC URLs,
//! packet types, verdicts and reason codes — never user names, passwords or addresses.

mod change_watch;
mod classic_text;
mod delayed_rejects;
mod discards;
mod domain_controllers;
mod http;

use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;

pub use change_watch::ChangeWatch;
pub use delayed_rejects::DelayedRejects;
pub use discards::DiscardCounts;
pub use domain_controllers::DomainControllers;
pub use http::{spawn_listener, Readiness};

/// Every metric family adgate exports.
pub struct Metrics {
    registry: Registry,
}

impl Metrics {
    /// A registry with build information, ready for the families of each part of adgate.
    pub fn new() -> Metrics {
        let mut registry = Registry::with_prefix("adgate");
        // A gauge fixed at 1 rather than an OpenMetrics info metric: promtool and Prometheus'
        // classic text parser know no `info` type.
        let build_info = Family::<[(&str, &str); 1], Gauge>::default();
        build_info
            .get_or_create(&[("version", env!("CARGO_PKG_VERSION"))])
            .set(1);
        registry.register("build_info", "adgate's version", build_info);
        Metrics { registry }
    }

    /// Where the parts of adgate register their families.
    pub fn registry(&mut self) -> &mut Registry {
        &mut self.registry
    }

    /// The current values, in the OpenMetrics text format. Writing to a `String` cannot fail,
    /// but a collector may (a family it cannot describe).
    pub fn encode(&self) -> Result<String, std::fmt::Error> {
        let mut text = String::new();
        encode(&mut text, &self.registry)?;
        Ok(text)
    }

    /// The current values, in the classic Prometheus text format (0.0.4).
    pub fn encode_classic(&self) -> Result<String, std::fmt::Error> {
        Ok(classic_text::from_openmetrics(&self.encode()?))
    }
}
