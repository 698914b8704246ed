//! Counts of what the server did with datagrams that never became a
//! decision: discarded by reason, dropped for overload, duplicates, cached
//! answers replayed, Status-Server probes answered; and of the rejects the
//! reject delay held back or, at its bound, withheld. An operator needs these
//! numbers (the metrics endpoint exports them) and the log must not drown
//! in them: an attacker can send a million bad datagrams, so each kind of
//! event is logged at warning level at most once per [`LOG_INTERVAL`], with
//! how many were left unlogged, and at debug level otherwise. Discards that point to a
//! misconfigured appliance are also counted per client and logged as errors with their fix
//! (`misconfiguration.rs`).

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use tracing::{debug, warn};

use crate::handler::{Discard, DiscardReason};
use crate::misconfiguration::{Misconfiguration, MisconfigurationLog};

/// At most one warning per kind of event in this interval.
pub const LOG_INTERVAL: Duration = Duration::from_secs(10);

/// Why a datagram was dropped that is not a [`DiscardReason`]: nothing was
/// wrong with it, the server chose not to handle it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Skip {
    /// The client's slots were taken and its queue full, or the datagram waited too long.
    Overloaded,
    /// A retransmission of a request still being handled (RFC 5080 §2.2.2).
    DuplicateInProgress,
}

/// The counters of one listening socket. Cheap to update from every task.
#[derive(Debug, Default)]
pub struct Counters {
    discarded: [AtomicU64; DiscardReason::ALL.len()],
    /// Discards from each configured client (by name, so bounded by the configuration), in
    /// the order of `DiscardReason::ALL`.
    discarded_by_client: Mutex<HashMap<String, [u64; DiscardReason::ALL.len()]>>,
    misconfigurations: MisconfigurationLog,
    overloaded: AtomicU64,
    duplicates_in_progress: AtomicU64,
    cached_answers_sent: AtomicU64,
    status_server_answered: AtomicU64,
    rejects_delayed: AtomicU64,
    rejects_withheld: AtomicU64,
    /// When each kind of event was last logged as a warning, and how many
    /// happened since: each discard reason, each [`Skip`], withheld rejects.
    log_state: Mutex<[Option<(Instant, u64)>; DiscardReason::ALL.len() + 3]>,
}

impl Counters {
    /// Datagrams discarded for `reason`.
    pub fn discarded(&self, reason: DiscardReason) -> u64 {
        self.discarded
            .get(reason_index(reason))
            .map_or(0, |count| count.load(Ordering::Relaxed))
    }

    /// Datagrams discarded from each client that has had one: its name, and its counts in
    /// the order of [`DiscardReason::ALL`]. Unknown sources are in [`discarded`](Self::discarded) only.
    pub fn discarded_by_client(&self) -> Vec<(String, [u64; DiscardReason::ALL.len()])> {
        self.discarded_by_client
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .iter()
            .map(|(client, counts)| (client.clone(), *counts))
            .collect()
    }

    /// Datagrams dropped for `skip`.
    pub fn skipped(&self, skip: Skip) -> u64 {
        self.skip_counter(skip).load(Ordering::Relaxed)
    }

    /// Retransmissions answered from the response cache.
    pub fn cached_answers_sent(&self) -> u64 {
        self.cached_answers_sent.load(Ordering::Relaxed)
    }

    /// Status-Server requests answered (RFC 5997).
    pub fn status_server_answered(&self) -> u64 {
        self.status_server_answered.load(Ordering::Relaxed)
    }

    /// Access-Rejects held back by the reject delay (each sent when due).
    pub fn rejects_delayed(&self) -> u64 {
        self.rejects_delayed.load(Ordering::Relaxed)
    }

    /// Access-Rejects cached but not sent because too many were waiting on
    /// the reject delay: the NAS's retransmission gets them.
    pub fn rejects_withheld(&self) -> u64 {
        self.rejects_withheld.load(Ordering::Relaxed)
    }

    pub(crate) fn count_discard(
        &self,
        discard: &Discard,
        detail: Option<String>,
        misconfiguration: Option<Misconfiguration>,
    ) {
        let index = reason_index(discard.reason);
        if let Some(count) = self.discarded.get(index) {
            count.fetch_add(1, Ordering::Relaxed);
        }
        if let Some(client) = &discard.client {
            let mut by_client = self
                .discarded_by_client
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            let counts = by_client
                .entry(client.clone())
                .or_insert([0; DiscardReason::ALL.len()]);
            if let Some(count) = counts.get_mut(index) {
                *count += 1;
            }
        }
        if misconfiguration.is_some_and(|cause| self.misconfigurations.report(discard, cause)) {
            return;
        }
        let reason = discard.reason.as_str();
        match self.due_for_warning(index) {
            Some(unlogged) => warn!(
                source = %discard.source,
                reason,
                client = discard.client.as_deref(),
                identifier = discard.identifier,
                detail,
                unlogged,
                "datagram discarded"
            ),
            None => debug!(
                source = %discard.source,
                reason,
                client = discard.client.as_deref(),
                identifier = discard.identifier,
                detail,
                "datagram discarded"
            ),
        }
    }

    pub(crate) fn count_skip(&self, skip: Skip, source: SocketAddr) {
        self.skip_counter(skip).fetch_add(1, Ordering::Relaxed);
        let (index, what) = match skip {
            Skip::Overloaded => (
                DiscardReason::ALL.len(),
                "client queue full or waited too long: datagram dropped, the NAS will retransmit",
            ),
            Skip::DuplicateInProgress => (
                DiscardReason::ALL.len() + 1,
                "retransmission of a request still in progress dropped",
            ),
        };
        match self.due_for_warning(index) {
            Some(unlogged) => warn!(%source, unlogged, "{what}"),
            None => debug!(%source, "{what}"),
        }
    }

    pub(crate) fn count_delayed_reject(&self) {
        self.rejects_delayed.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn count_withheld_reject(&self) {
        self.rejects_withheld.fetch_add(1, Ordering::Relaxed);
        let what = "too many rejects waiting on the reject delay: reject cached, not sent; \
                    the NAS's retransmission gets it";
        match self.due_for_warning(DiscardReason::ALL.len() + 2) {
            Some(unlogged) => warn!(unlogged, "{what}"),
            None => debug!("{what}"),
        }
    }

    pub(crate) fn count_cached_answer(&self) {
        self.cached_answers_sent.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn count_status_server(&self) {
        self.status_server_answered.fetch_add(1, Ordering::Relaxed);
    }

    fn skip_counter(&self, skip: Skip) -> &AtomicU64 {
        match skip {
            Skip::Overloaded => &self.overloaded,
            Skip::DuplicateInProgress => &self.duplicates_in_progress,
        }
    }

    /// `Some(events not logged since the last warning)` when this kind of
    /// event may be logged as a warning now.
    fn due_for_warning(&self, index: usize) -> Option<u64> {
        let mut state = self
            .log_state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let slot = state.get_mut(index)?;
        let now = Instant::now();
        match slot {
            Some((last, unlogged)) if now.duration_since(*last) < LOG_INTERVAL => {
                *unlogged += 1;
                None
            }
            _ => {
                let unlogged = slot.map_or(0, |(_, unlogged)| unlogged);
                *slot = Some((now, 0));
                Some(unlogged)
            }
        }
    }
}

/// Where `reason` is counted: its place in `DiscardReason::ALL`, which lists every reason
/// (`handler.rs` tests it).
fn reason_index(reason: DiscardReason) -> usize {
    DiscardReason::ALL
        .iter()
        .position(|&known| known == reason)
        .unwrap_or_default()
}
