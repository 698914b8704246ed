//! What the Disconnect-Request sender did, for the metrics endpoint:
//! requests sent and retransmitted, how they ended, and every datagram the
//! receive task dropped, by reason. A silent NAS and a wrong secret look
//! alike from one disconnect; these numbers tell them apart.

use std::sync::atomic::{AtomicU64, Ordering};

use super::outcome::DisconnectOutcome;

/// Why a datagram on a sender's socket was not taken as an answer. Each is
/// dropped silently (RFC 2865 §3 asks the same of a NAS), so a forged or
/// stray datagram cannot end a disconnect.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DroppedResponse {
    /// The Response Authenticator (RFC 2865 §3) or a Message-Authenticator
    /// (RFC 3579 §3.2) does not verify: forged, or a wrong secret.
    BadAuthenticator,
    /// From another address than the NAS, not a Disconnect-ACK/NAK, or for
    /// an Identifier no request is waiting on (a late duplicate answer).
    Unexpected,
    /// Not a well-formed RADIUS packet (RFC 2865 §3, §5).
    Malformed,
}

impl DroppedResponse {
    /// Every reason, for exporting one counter each.
    pub const ALL: [Self; 3] = [Self::BadAuthenticator, Self::Unexpected, Self::Malformed];

    /// The label in metrics and logs.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::BadAuthenticator => "bad_authenticator",
            Self::Unexpected => "unexpected",
            Self::Malformed => "malformed",
        }
    }

    fn index(self) -> usize {
        match self {
            Self::BadAuthenticator => 0,
            Self::Unexpected => 1,
            Self::Malformed => 2,
        }
    }
}

/// The counters of one sender (one NAS); cheap to update from every task.
#[derive(Debug, Default)]
pub struct DisconnectCounters {
    sent: AtomicU64,
    retransmitted: AtomicU64,
    acks: AtomicU64,
    naks: AtomicU64,
    no_answer: AtomicU64,
    dropped: [AtomicU64; DroppedResponse::ALL.len()],
}

impl DisconnectCounters {
    /// Disconnect-Requests sent (first transmissions only).
    pub fn sent(&self) -> u64 {
        self.sent.load(Ordering::Relaxed)
    }

    /// Retransmissions of a request that had no answer yet.
    pub fn retransmitted(&self) -> u64 {
        self.retransmitted.load(Ordering::Relaxed)
    }

    /// Disconnects answered with a Disconnect-ACK.
    pub fn acks(&self) -> u64 {
        self.acks.load(Ordering::Relaxed)
    }

    /// Disconnects answered with a Disconnect-NAK.
    pub fn naks(&self) -> u64 {
        self.naks.load(Ordering::Relaxed)
    }

    /// Disconnects that got no verified answer.
    pub fn no_answer(&self) -> u64 {
        self.no_answer.load(Ordering::Relaxed)
    }

    /// Datagrams dropped for `reason`.
    pub fn dropped(&self, reason: DroppedResponse) -> u64 {
        self.dropped
            .get(reason.index())
            .map_or(0, |counter| counter.load(Ordering::Relaxed))
    }

    pub(crate) fn count_sent(&self, retransmission: bool) {
        let counter = if retransmission {
            &self.retransmitted
        } else {
            &self.sent
        };
        counter.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn count_outcome(&self, outcome: &DisconnectOutcome) {
        let counter = match outcome {
            DisconnectOutcome::Ack { .. } => &self.acks,
            DisconnectOutcome::Nak { .. } => &self.naks,
            DisconnectOutcome::NoAnswer { .. } => &self.no_answer,
        };
        counter.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn count_dropped(&self, reason: DroppedResponse) {
        if let Some(counter) = self.dropped.get(reason.index()) {
            counter.fetch_add(1, Ordering::Relaxed);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_reason_has_its_own_counter_and_label() {
        let counters = DisconnectCounters::default();
        for (times, reason) in DroppedResponse::ALL.into_iter().enumerate() {
            for _ in 0..=times {
                counters.count_dropped(reason);
            }
        }
        let counts: Vec<u64> = DroppedResponse::ALL
            .iter()
            .map(|&reason| counters.dropped(reason))
            .collect();
        assert_eq!(counts, [1, 2, 3]);
        let labels: Vec<&str> = DroppedResponse::ALL.map(DroppedResponse::as_str).to_vec();
        assert_eq!(labels, ["bad_authenticator", "unexpected", "malformed"]);
    }
}
