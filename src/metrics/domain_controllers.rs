//! The domain controllers' state for Prometheus, read at scrape time from the health handle
//! the directory keeps (`adgate_authz::DcHealth`): whether each configured DC is up, how many
//! LDAP connections to it are open, and its errors by kind. The label is the configured URL,
//! so the label set is bounded by the configuration.

use adgate_authz::DcHealth;
use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric};
use prometheus_client::metrics::counter::ConstCounter;
use prometheus_client::metrics::gauge::ConstGauge;
use prometheus_client::metrics::MetricType;

/// The configured domain controllers, as the directory sees them.
#[derive(Debug)]
pub struct DomainControllers {
    health: DcHealth,
}

impl DomainControllers {
    /// Reads `health` on every scrape; a directory rebuilt on reload with the same handle
    /// (`Directory::with_dc_health`) keeps feeding it.
    pub fn new(health: DcHealth) -> DomainControllers {
        DomainControllers { health }
    }
}

impl Collector for DomainControllers {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let dcs = self.health.snapshot();
        let mut up = encoder.encode_descriptor(
            "ldap_dc_up",
            "0 while the domain controller is marked down after a failure, else 1",
            None,
            MetricType::Gauge,
        )?;
        for dc in &dcs {
            let labels = [("dc", dc.url.as_str())];
            ConstGauge::new(i64::from(dc.up)).encode(up.encode_family(&labels)?)?;
        }
        let mut connections = encoder.encode_descriptor(
            "ldap_connections",
            "LDAP connections open to the domain controller (service, user-bind and change-watch \
             connections)",
            None,
            MetricType::Gauge,
        )?;
        for dc in &dcs {
            let labels = [("dc", dc.url.as_str())];
            let open = i64::try_from(dc.connections).unwrap_or(i64::MAX);
            ConstGauge::new(open).encode(connections.encode_family(&labels)?)?;
        }
        let mut errors = encoder.encode_descriptor(
            "ldap_errors",
            "Failures talking to the domain controller, by kind (connect, timeout, tls, \
             service_bind, connection_lost)",
            None,
            MetricType::Counter,
        )?;
        for dc in &dcs {
            for (kind, count) in &dc.errors {
                let labels = [("dc", dc.url.as_str()), ("kind", kind.as_str())];
                ConstCounter::new(*count).encode(errors.encode_family(&labels)?)?;
            }
        }
        Ok(())
    }
}
