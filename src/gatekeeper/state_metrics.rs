//! What the gatekeeper holds right now, read at scrape time rather than counted on the packet
//! path: EAP-TLS conversations in progress (and how many were dropped), users and stations
//! over their throttle budget, and familiar stations remembered. Label values are fixed words, never the user names or station
//! addresses these tables are keyed by. The gatekeeper read is the one current at the scrape
//! (a reload installs a successor that keeps the same tables). It is held weakly: once adgate
//! has stopped serving, its families go.

use std::sync::Weak;
use std::time::Instant;

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric};
use prometheus_client::metrics::counter::ConstCounter;
use prometheus_client::metrics::gauge::ConstGauge;
use prometheus_client::metrics::MetricType;

use super::Gatekeeper;
use crate::current_handler::CurrentHandler;

/// The current gatekeeper's tables as gauges.
pub(crate) struct GatekeeperState(Weak<CurrentHandler<Gatekeeper>>);

impl GatekeeperState {
    pub(crate) fn of(handler: Weak<CurrentHandler<Gatekeeper>>) -> GatekeeperState {
        GatekeeperState(handler)
    }
}

impl std::fmt::Debug for GatekeeperState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("GatekeeperState")
    }
}

impl Collector for GatekeeperState {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let Some(handler) = self.0.upgrade() else {
            return Ok(());
        };
        let gatekeeper = handler.get();
        let throttled = gatekeeper.throttle.throttled_counts(Instant::now());
        let mut family = encoder.encode_descriptor(
            "throttled_keys",
            "Bad-password budgets spent now, whose logins are rejected as throttled: users \
             (from stations not familiar to them: users under attack), users at one of their \
             familiar stations, Calling-Station-Ids (spraying)",
            None,
            MetricType::Gauge,
        )?;
        for (kind, count) in [
            ("user", throttled.users),
            ("user_at_station", throttled.users_at_stations),
            ("calling_station", throttled.stations),
        ] {
            gauge(count).encode(family.encode_family(&[("kind", kind)])?)?;
        }
        gauge(gatekeeper.throttle.familiar_count(chrono::Utc::now())).encode(
            encoder.encode_descriptor(
                "familiar_stations",
                "(user, station) pairs with an accept within throttle.familiar_days: logins \
                 from them are judged by their own bad-password budget",
                None,
                MetricType::Gauge,
            )?,
        )?;
        // Without [eap_tls] there are no conversations, and no families for them.
        let Some(eap_tls) = &gatekeeper.eap_tls else {
            return Ok(());
        };
        let conversations = eap_tls.conversation_counts();
        gauge(conversations.in_progress).encode(encoder.encode_descriptor(
            "eap_conversations",
            "EAP-TLS conversations in progress (neither ended nor timed out)",
            None,
            MetricType::Gauge,
        )?)?;
        let mut family = encoder.encode_descriptor(
            "eap_conversations_dropped",
            "EAP-TLS conversations forgotten before they ended: the peer fell silent for \
             longer than conversation_timeout_s (timeout), or the table was full (table_full)",
            None,
            MetricType::Counter,
        )?;
        for (reason, count) in [
            ("timeout", conversations.timed_out),
            ("table_full", conversations.crowded_out),
        ] {
            ConstCounter::new(count).encode(family.encode_family(&[("reason", reason)])?)?;
        }
        Ok(())
    }
}

fn gauge(count: usize) -> ConstGauge {
    ConstGauge::new(i64::try_from(count).unwrap_or(i64::MAX))
}
