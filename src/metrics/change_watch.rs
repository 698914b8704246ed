//! AD change notifications for Prometheus, read at scrape time from the watch the revoker runs
//! (`adgate_authz::WatchStates`; a reload that brings a new directory brings a new watch): each
//! configured DC's watch state, the changes it reported, and how often its stream was lost. The
//! label is the configured URL, so the label set is bounded by the configuration.

use std::sync::Arc;

use adgate_authz::{WatchState, WatchStates};
use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric};
use prometheus_client::metrics::counter::ConstCounter;
use prometheus_client::metrics::gauge::ConstGauge;
use prometheus_client::metrics::MetricType;

use crate::swappable::Swappable;

/// The watch of the directory in use, once it has started.
pub struct ChangeWatch {
    current: Arc<Swappable<Option<WatchStates>>>,
}

impl std::fmt::Debug for ChangeWatch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ChangeWatch").finish_non_exhaustive()
    }
}

impl ChangeWatch {
    pub fn new(current: Arc<Swappable<Option<WatchStates>>>) -> ChangeWatch {
        ChangeWatch { current }
    }
}

impl Collector for ChangeWatch {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let current = self.current.get();
        let dcs = current
            .as_ref()
            .as_ref()
            .map(WatchStates::snapshot)
            .unwrap_or_default();
        let mut state = encoder.encode_descriptor(
            "ad_watch_state",
            "1 for the state each DC's change notification stream is in (connecting, watching, \
             down), 0 for the others",
            None,
            MetricType::Gauge,
        )?;
        for dc in &dcs {
            for candidate in [
                WatchState::Connecting,
                WatchState::Watching,
                WatchState::Down,
            ] {
                let labels = [("dc", dc.url.as_str()), ("state", candidate.as_str())];
                ConstGauge::new(i64::from(dc.state == candidate))
                    .encode(state.encode_family(&labels)?)?;
            }
        }
        let mut changes = encoder.encode_descriptor(
            "ad_watch_changes",
            "Changed objects the DC reported since its watch started",
            None,
            MetricType::Counter,
        )?;
        for dc in &dcs {
            let labels = [("dc", dc.url.as_str())];
            ConstCounter::new(dc.changes).encode(changes.encode_family(&labels)?)?;
        }
        let mut losses = encoder.encode_descriptor(
            "ad_watch_losses",
            "Times the DC's notification stream was lost or could not be set up (live sessions \
             are still re-checked every interval)",
            None,
            MetricType::Counter,
        )?;
        for dc in &dcs {
            let labels = [("dc", dc.url.as_str())];
            ConstCounter::new(dc.losses).encode(losses.encode_family(&labels)?)?;
        }
        Ok(())
    }
}
