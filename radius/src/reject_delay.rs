//! The reject delay: every Access-Reject leaves no earlier than a fixed time after its request
//! arrived, whatever the reason for it. Without one, the answer time tells whoever types at the
//! VPN's login page what the Reject does not: an unknown name is refused in a millisecond, a
//! disabled account or one off telework after reading it, a wrong password only after a bind.
//! That sorts names into "does not exist", "exists but is blocked" and "live target", the first
//! step of password spraying. FreeRADIUS has long done the same (`security.reject_delay`).
//!
//! The delay costs the server a timer, not a worker or a request slot: the handler decides and
//! records the request as soon as it can, the request's slots are given back, and only the
//! encoded reply waits, in a small task holding the octets and the request's place in the
//! response cache. While it waits, a retransmission is dropped as in progress (RFC 5080
//! §2.2.2); once sent, the reject is cached and a retransmission gets it at once, as any answer.
//!
//! At most [`MAX_WAITING_REJECTS`] rejects wait per listener. Beyond, a reject is cached without
//! being sent: the NAS's retransmission (RFC 5080 §2.2.1) picks it up, after the NAS's own
//! timeout, so a flood can neither grow memory nor make rejects fast enough to tell apart.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::time::Instant;

use crate::counters::Counters;
use crate::dictionary::ACCESS_REJECT;
use crate::response_cache::Pending;

/// Rejects waiting at once per listener. Each costs a few hundred octets (the reply, the cache
/// key, a timer entry and a small task), so the bound is a few MiB: far more than the rejects
/// one second of AD checks and fsync'ed audit records can produce.
pub(crate) const MAX_WAITING_REJECTS: usize = 16_384;

/// A listener's reject delay and the room for rejects waiting on it.
#[derive(Debug)]
pub(crate) struct RejectDelay {
    delay: Duration,
    waiting: Arc<Semaphore>,
}

/// An encoded answer and when it may leave.
#[derive(Debug)]
pub(crate) enum Outgoing {
    /// Send it now; it is already in the response cache.
    Now(Vec<u8>),
    /// An Access-Reject that leaves when due.
    Delayed(DelayedReject),
}

/// An Access-Reject waiting for its time. Its request stays "in progress" in the response cache
/// until the reject is due, so retransmissions meanwhile are dropped.
#[derive(Debug)]
pub(crate) struct DelayedReject {
    octets: Vec<u8>,
    due: Instant,
    pending: Pending,
    _room: OwnedSemaphorePermit,
}

impl RejectDelay {
    /// Rejects leave `delay` after their request arrived; zero sends them at once.
    pub(crate) fn new(delay: Duration) -> Arc<Self> {
        Arc::new(Self {
            delay,
            waiting: Arc::new(Semaphore::new(MAX_WAITING_REJECTS)),
        })
    }

    /// How the answer `octets` to the request that `arrived` leaves: at once for anything but an
    /// Access-Reject (or when the delay has passed already), else when the delay has passed;
    /// `None` when too many rejects wait already, in which case it is cached, not sent.
    pub(crate) fn schedule(
        &self,
        octets: Vec<u8>,
        arrived: Instant,
        pending: Pending,
        counters: &Counters,
    ) -> Option<Outgoing> {
        let due = arrived + self.delay;
        if octets.first() != Some(&ACCESS_REJECT) || due <= Instant::now() {
            pending.answer(&octets);
            return Some(Outgoing::Now(octets));
        }
        match Arc::clone(&self.waiting).try_acquire_owned() {
            Ok(room) => {
                counters.count_delayed_reject();
                Some(Outgoing::Delayed(DelayedReject {
                    octets,
                    due,
                    pending,
                    _room: room,
                }))
            }
            Err(_full) => {
                counters.count_withheld_reject();
                pending.answer(&octets);
                None
            }
        }
    }

    /// Rejects waiting now.
    #[cfg(test)]
    fn waiting(&self) -> usize {
        MAX_WAITING_REJECTS - self.waiting.available_permits()
    }
}

impl DelayedReject {
    /// Waits until the reject is due, then caches it (from now on a retransmission gets it at
    /// once) and hands it over for sending.
    pub(crate) async fn due(self) -> Vec<u8> {
        tokio::time::sleep_until(self.due).await;
        self.pending.answer(&self.octets);
        self.octets
    }
}

#[cfg(test)]
mod tests {
    use std::net::SocketAddr;

    use super::*;
    use crate::dictionary::ACCESS_ACCEPT;
    use crate::packet::Packet;
    use crate::response_cache::{Lookup, RequestKey, ResponseCache};

    /// Access-Request `identifier` from one NAS port, as the cache knows it.
    fn key(identifier: u8) -> RequestKey {
        let request = [&[1, identifier, 0, 20][..], &[7; 16]].concat();
        RequestKey::new(
            SocketAddr::from(([192, 0, 2, 1], 1645)),
            &Packet::parse(&request).unwrap(),
        )
    }

    fn pending(cache: &Arc<ResponseCache>, identifier: u8) -> Pending {
        match cache.lookup(key(identifier)) {
            Lookup::New(pending) => pending,
            other => panic!("a new request, not {other:?}"),
        }
    }

    /// A reply with this code and nothing else.
    fn reply(code: u8) -> Vec<u8> {
        [&[code, 0, 0, 20][..], &[9; 16]].concat()
    }

    #[tokio::test(start_paused = true)]
    async fn a_reject_waits_in_progress_until_due_then_is_replayed_at_once() {
        let (cache, counters) = (ResponseCache::new(), Counters::default());
        let delay = RejectDelay::new(Duration::from_secs(1));
        let arrived = Instant::now();
        let Some(Outgoing::Delayed(reject)) =
            delay.schedule(reply(ACCESS_REJECT), arrived, pending(&cache, 1), &counters)
        else {
            panic!("an Access-Reject waits");
        };
        assert!(matches!(cache.lookup(key(1)), Lookup::InProgress));
        assert_eq!(delay.waiting(), 1);
        assert_eq!(reject.due().await, reply(ACCESS_REJECT));
        assert_eq!(Instant::now() - arrived, Duration::from_secs(1));
        assert_eq!(delay.waiting(), 0);
        assert!(
            matches!(cache.lookup(key(1)), Lookup::Answered(octets) if *octets == reply(ACCESS_REJECT)[..])
        );
        assert_eq!(counters.rejects_delayed(), 1);
    }

    #[tokio::test(start_paused = true)]
    async fn accepts_and_late_rejects_leave_at_once() {
        let (cache, counters) = (ResponseCache::new(), Counters::default());
        let delay = RejectDelay::new(Duration::from_secs(1));
        let now = Instant::now();
        let accept = delay.schedule(reply(ACCESS_ACCEPT), now, pending(&cache, 1), &counters);
        assert!(matches!(accept, Some(Outgoing::Now(_))));
        let late = now - Duration::from_secs(2);
        let reject = delay.schedule(reply(ACCESS_REJECT), late, pending(&cache, 2), &counters);
        assert!(matches!(reject, Some(Outgoing::Now(_))));
        let no_delay = RejectDelay::new(Duration::ZERO);
        let reject = no_delay.schedule(reply(ACCESS_REJECT), now, pending(&cache, 3), &counters);
        assert!(matches!(reject, Some(Outgoing::Now(_))));
        for identifier in 1..=3 {
            assert!(matches!(cache.lookup(key(identifier)), Lookup::Answered(_)));
        }
        assert_eq!(counters.rejects_delayed(), 0);
    }

    #[tokio::test(start_paused = true)]
    async fn beyond_the_bound_a_reject_is_cached_but_not_sent() {
        let (cache, counters) = (ResponseCache::new(), Counters::default());
        let delay = RejectDelay::new(Duration::from_secs(1));
        let full = Arc::clone(&delay.waiting)
            .try_acquire_many_owned(u32::try_from(MAX_WAITING_REJECTS).unwrap())
            .unwrap();
        let now = Instant::now();
        let withheld = delay.schedule(reply(ACCESS_REJECT), now, pending(&cache, 1), &counters);
        assert!(withheld.is_none());
        assert!(matches!(cache.lookup(key(1)), Lookup::Answered(_)));
        assert_eq!(counters.rejects_withheld(), 1);
        drop(full);
        let waits = delay.schedule(reply(ACCESS_REJECT), now, pending(&cache, 2), &counters);
        assert!(matches!(waits, Some(Outgoing::Delayed(_))));
    }
}
