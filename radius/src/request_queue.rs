//! Where a client's datagrams wait while all of its `max_in_flight` slots are busy, so that a
//! burst (a whole office logging in at 09:00 through one VPN appliance) is answered rather than
//! dropped and left to the NAS's retransmission timer.
//!
//! The queue is bounded three ways, so overload protection stays: per client (`per_client`
//! datagrams), across all clients (`total`, which bounds the memory: at most `total` datagrams of
//! at most 4096 octets, RFC 2865 §3), and in time. A datagram that waited longer than
//! `max_wait` is dropped when its turn comes: by then the NAS has retransmitted it (RFC 5080
//! §2.2.1: the initial retransmission timeout is 2 s), and the retransmission, queued behind it,
//! gets the answer. A flood from one NAS fills only that NAS's queue and holds only its own
//! `max_in_flight` slots, so other NASes are served as before.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use tokio::time::Instant;

use crate::clients::NasClient;

/// How many datagrams may wait, and for how long.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QueueLimits {
    /// Datagrams of one client waiting at once.
    pub per_client: usize,
    /// Datagrams of all clients waiting at once.
    pub total: usize,
    /// Longest wait before a datagram is dropped unanswered (its NAS has retransmitted).
    pub max_wait: Duration,
}

impl Default for QueueLimits {
    /// Sized for an office where everyone logs in within a minute: a thousand logins from one
    /// NAS fit, at a few hundred decisions per second they are all decided within `max_wait`,
    /// and the whole queue stays under 16 MiB even if every datagram were 4096 octets.
    fn default() -> Self {
        QueueLimits {
            per_client: 1024,
            total: 4096,
            max_wait: Duration::from_secs(2),
        }
    }
}

/// A datagram admitted for a client: to be decided now or after its turn in the queue.
#[derive(Debug)]
pub(crate) struct Waiting {
    pub(crate) datagram: Vec<u8>,
    pub(crate) source: SocketAddr,
    pub(crate) arrived: Instant,
}

impl Waiting {
    /// Whether this datagram waited too long to be worth deciding.
    pub(crate) fn expired(&self, limits: &QueueLimits) -> bool {
        self.arrived.elapsed() > limits.max_wait
    }
}

/// The server-wide count of waiting datagrams, against [`QueueLimits::total`].
#[derive(Debug, Default)]
pub(crate) struct QueueBudget {
    waiting: AtomicUsize,
}

impl QueueBudget {
    fn take(&self, total: usize) -> bool {
        self.waiting
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |waiting| {
                (waiting < total).then_some(waiting + 1)
            })
            .is_ok()
    }

    fn give_back(&self) {
        self.waiting.fetch_sub(1, Ordering::AcqRel);
    }
}

/// A client's requests being decided, and those waiting for a slot. One lock for both, so that
/// a datagram is never queued just as the last task of its client stops looking at the queue.
#[derive(Debug, Default)]
pub(crate) struct ClientRequests {
    inner: Mutex<Inner>,
}

#[derive(Debug, Default)]
struct Inner {
    in_flight: usize,
    waiting: VecDeque<Waiting>,
}

/// What became of a datagram offered to its client.
#[derive(Debug)]
pub(crate) enum Admitted {
    /// A slot was free: decide it now, holding the slot.
    Now(ClientSlot, Waiting),
    /// It waits in the client's queue; the task holding one of the client's slots takes it.
    Queued,
    /// The queue is full: dropped (the NAS retransmits).
    Refused,
}

impl NasClient {
    /// Offers `request` to this client: a slot if one of its `max_in_flight` is free, else a
    /// place in its queue within `limits`, else nothing.
    pub(crate) fn admit(
        self: &Arc<Self>,
        request: Waiting,
        limits: &QueueLimits,
        budget: &Arc<QueueBudget>,
    ) -> Admitted {
        let mut inner = self.state.requests.lock();
        if inner.in_flight < self.max_in_flight {
            inner.in_flight += 1;
            return Admitted::Now(
                ClientSlot {
                    client: Arc::clone(self),
                    budget: Arc::clone(budget),
                    given_back: false,
                },
                request,
            );
        }
        if inner.waiting.len() < limits.per_client && budget.take(limits.total) {
            inner.waiting.push_back(request);
            return Admitted::Queued;
        }
        Admitted::Refused
    }
}

impl ClientRequests {
    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Requests being decided now.
    #[cfg(test)]
    pub(crate) fn in_flight(&self) -> usize {
        self.lock().in_flight
    }
}

/// One of a client's `max_in_flight` slots. Its holder decides one request, then takes the next
/// waiting one with [`ClientSlot::next_waiting`]; the slot is given back on drop.
#[derive(Debug)]
pub(crate) struct ClientSlot {
    client: Arc<NasClient>,
    budget: Arc<QueueBudget>,
    /// Set once the slot was given back by [`ClientSlot::next_waiting`].
    given_back: bool,
}

impl ClientSlot {
    pub(crate) fn client(&self) -> &Arc<NasClient> {
        &self.client
    }

    /// The oldest datagram waiting for this client, keeping the slot for it; `None` when none
    /// waits, and then the slot is given back at once (under the lock that queueing takes).
    pub(crate) fn next_waiting(mut self) -> Option<(ClientSlot, Waiting)> {
        let mut inner = self.client.state.requests.lock();
        let next = inner.waiting.pop_front();
        if next.is_none() {
            inner.in_flight = inner.in_flight.saturating_sub(1);
        }
        drop(inner);
        match next {
            Some(next) => {
                self.budget.give_back();
                Some((self, next))
            }
            None => {
                self.given_back = true;
                None
            }
        }
    }
}

impl Drop for ClientSlot {
    fn drop(&mut self) {
        if !self.given_back {
            let mut inner = self.client.state.requests.lock();
            inner.in_flight = inner.in_flight.saturating_sub(1);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clients::ClientState;
    use crate::secret::SharedSecret;

    fn client(max_in_flight: usize) -> Arc<NasClient> {
        Arc::new(NasClient {
            name: "nas".to_owned(),
            secret: SharedSecret::new(b"s".to_vec()),
            require_message_authenticator: crate::MessageAuthenticatorRule::Always,
            limit_proxy_state: true,
            max_in_flight,
            state: ClientState::default(),
        })
    }

    fn datagram(tag: u8) -> Waiting {
        Waiting {
            datagram: vec![tag],
            source: "127.0.0.1:1".parse().unwrap(),
            arrived: Instant::now(),
        }
    }

    fn limits(per_client: usize, total: usize) -> QueueLimits {
        QueueLimits {
            per_client,
            total,
            max_wait: Duration::from_secs(2),
        }
    }

    #[test]
    fn beyond_its_slots_a_client_queues_then_refuses() {
        let (client, budget, limits) = (client(2), Arc::default(), limits(2, 10));
        let Admitted::Now(first, _) = client.admit(datagram(1), &limits, &budget) else {
            panic!("a free slot")
        };
        let Admitted::Now(second, _) = client.admit(datagram(2), &limits, &budget) else {
            panic!("a free slot")
        };
        assert!(matches!(
            client.admit(datagram(3), &limits, &budget),
            Admitted::Queued
        ));
        assert!(matches!(
            client.admit(datagram(4), &limits, &budget),
            Admitted::Queued
        ));
        assert!(matches!(
            client.admit(datagram(5), &limits, &budget),
            Admitted::Refused
        ));
        assert_eq!(client.state.requests.in_flight(), 2);
        // The slot holder takes the waiting datagrams in arrival order, keeping its slot.
        let (first, next) = first.next_waiting().unwrap();
        assert_eq!(next.datagram, [3]);
        let (first, next) = first.next_waiting().unwrap();
        assert_eq!(next.datagram, [4]);
        assert_eq!(client.state.requests.in_flight(), 2);
        // Nothing waits: the slot is given back, once.
        assert!(first.next_waiting().is_none());
        assert_eq!(client.state.requests.in_flight(), 1);
        drop(second);
        assert_eq!(client.state.requests.in_flight(), 0);
        assert!(matches!(
            client.admit(datagram(6), &limits, &budget),
            Admitted::Now(..)
        ));
    }

    #[test]
    fn the_total_bounds_every_client_together() {
        let (one, other, budget, limits) = (client(1), client(1), Arc::default(), limits(10, 3));
        let _one_slot = one.admit(datagram(1), &limits, &budget);
        let _other_slot = other.admit(datagram(2), &limits, &budget);
        assert!(matches!(
            one.admit(datagram(3), &limits, &budget),
            Admitted::Queued
        ));
        assert!(matches!(
            one.admit(datagram(4), &limits, &budget),
            Admitted::Queued
        ));
        assert!(matches!(
            other.admit(datagram(5), &limits, &budget),
            Admitted::Queued
        ));
        assert!(matches!(
            other.admit(datagram(6), &limits, &budget),
            Admitted::Refused
        ));
        assert!(matches!(
            one.admit(datagram(7), &limits, &budget),
            Admitted::Refused
        ));
    }

    #[tokio::test(start_paused = true)]
    async fn a_datagram_that_waited_past_max_wait_has_expired() {
        let waiting = datagram(1);
        let limits = limits(1, 1);
        assert!(!waiting.expired(&limits));
        tokio::time::advance(Duration::from_millis(2001)).await;
        assert!(waiting.expired(&limits));
    }
}
