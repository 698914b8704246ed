//! The 256 Identifiers of one sender's socket and the requests waiting on
//! them. The Identifier is 8 bits (RFC 2865 §3), and a NAS takes two
//! requests from the same source address and port with the same Identifier
//! for one request and its retransmission (RFC 5176 §2.3), so no Identifier
//! is used by two requests at once: when all 256 are out, the next request
//! waits for one to come back.
//!
//! Identifiers are handed out round-robin from a random start, so one is
//! reused as late as possible. strongSwan keeps the last answer it sent to
//! each source address and port and replays it, unverified, to any request
//! from there with the same Identifier; a request reusing the Identifier of
//! the previous one would only ever get that stale answer.

use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use tokio::sync::{oneshot, Notify};

use crate::packet::Authenticator;

use super::outcome::DisconnectOutcome;

/// The Identifiers of one socket.
#[derive(Debug)]
pub(crate) struct PendingRequests {
    slots: Mutex<Slots>,
    /// Signalled when an Identifier comes back or the sender shuts down.
    released: Notify,
}

#[derive(Debug)]
struct Slots {
    /// Where the search for a free Identifier starts.
    next: u8,
    closed: bool,
    /// One per Identifier, 256 in all.
    entries: Vec<Slot>,
}

#[derive(Debug)]
enum Slot {
    Free,
    /// Taken by a request not yet sent, or already answered.
    Reserved,
    /// Sent, and waiting for the answer verified against its authenticator.
    Waiting {
        request_authenticator: Authenticator,
        answer: oneshot::Sender<DisconnectOutcome>,
    },
}

impl PendingRequests {
    /// All 256 Identifiers free; the first handed out is `first_identifier`.
    pub(crate) fn new(first_identifier: u8) -> Arc<Self> {
        Arc::new(Self {
            slots: Mutex::new(Slots {
                next: first_identifier,
                closed: false,
                entries: (0..=u8::MAX).map(|_| Slot::Free).collect(),
            }),
            released: Notify::new(),
        })
    }

    /// An Identifier no other request holds, waiting while all 256 are out;
    /// `None` once the sender has shut down.
    pub(crate) async fn reserve(self: &Arc<Self>) -> Option<Reservation> {
        loop {
            // Registered before looking, so a release in between is not missed.
            let released = self.released.notified();
            tokio::pin!(released);
            released.as_mut().enable();
            {
                let mut slots = self.lock();
                if slots.closed {
                    return None;
                }
                if let Some(identifier) = slots.reserve_free() {
                    return Some(Reservation {
                        pending: Arc::clone(self),
                        identifier,
                    });
                }
            }
            released.await;
        }
    }

    /// The Request Authenticator of the request waiting on `identifier`.
    pub(crate) fn request_authenticator(&self, identifier: u8) -> Option<Authenticator> {
        match self.lock().slot(identifier)? {
            Slot::Waiting {
                request_authenticator,
                ..
            } => Some(*request_authenticator),
            Slot::Free | Slot::Reserved => None,
        }
    }

    /// Hands a verified answer to the request waiting on `identifier`, if it
    /// is still the one signed with `request_authenticator`. Returns whether
    /// it was taken; a request takes one answer only.
    pub(crate) fn deliver(
        &self,
        identifier: u8,
        request_authenticator: &Authenticator,
        outcome: DisconnectOutcome,
    ) -> bool {
        let mut slots = self.lock();
        let Some(slot) = slots.slot(identifier) else {
            return false;
        };
        match std::mem::replace(slot, Slot::Reserved) {
            Slot::Waiting {
                request_authenticator: waiting_for,
                answer,
            } if waiting_for == *request_authenticator => answer.send(outcome).is_ok(),
            other => {
                *slot = other;
                false
            }
        }
    }

    /// Ends every wait: requests waiting for an answer see their channel
    /// close, and requests waiting for an Identifier get `None`.
    pub(crate) fn close(&self) {
        let mut slots = self.lock();
        slots.closed = true;
        for slot in &mut slots.entries {
            if matches!(slot, Slot::Waiting { .. }) {
                *slot = Slot::Reserved;
            }
        }
        drop(slots);
        self.released.notify_waiters();
    }

    fn lock(&self) -> MutexGuard<'_, Slots> {
        self.slots.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl Slots {
    fn slot(&mut self, identifier: u8) -> Option<&mut Slot> {
        self.entries.get_mut(usize::from(identifier))
    }

    /// Reserves the first free Identifier from `next` on, round-robin.
    fn reserve_free(&mut self) -> Option<u8> {
        let start = self.next;
        let identifier = (0..=u8::MAX)
            .map(|offset| start.wrapping_add(offset))
            .find(|&candidate| matches!(self.slot(candidate), Some(Slot::Free)))?;
        *self.slot(identifier)? = Slot::Reserved;
        self.next = identifier.wrapping_add(1);
        Some(identifier)
    }
}

/// One request's hold on an Identifier, given back on drop.
#[derive(Debug)]
pub(crate) struct Reservation {
    pending: Arc<PendingRequests>,
    identifier: u8,
}

impl Reservation {
    pub(crate) fn identifier(&self) -> u8 {
        self.identifier
    }

    /// From now on, an answer verified against `request_authenticator` is
    /// delivered to the returned channel.
    pub(crate) fn wait_for_answer(
        &self,
        request_authenticator: Authenticator,
    ) -> oneshot::Receiver<DisconnectOutcome> {
        let (answer, answered) = oneshot::channel();
        let mut slots = self.pending.lock();
        // After shutdown `answer` is dropped here, so the wait ends at once.
        if !slots.closed {
            if let Some(slot) = slots.slot(self.identifier) {
                *slot = Slot::Waiting {
                    request_authenticator,
                    answer,
                };
            }
        }
        answered
    }
}

impl Drop for Reservation {
    fn drop(&mut self) {
        if let Some(slot) = self.pending.lock().slot(self.identifier) {
            *slot = Slot::Free;
        }
        self.pending.released.notify_one();
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;
    use std::time::Duration;

    use tokio::time::timeout;

    use super::*;

    const ACK: DisconnectOutcome = DisconnectOutcome::Ack { error_cause: None };

    #[tokio::test]
    async fn hands_out_each_identifier_once_round_robin() {
        let pending = PendingRequests::new(250);
        let first = pending.reserve().await.unwrap();
        assert_eq!(first.identifier(), 250);
        drop(first);
        // The released 250 is not reused until the others have been.
        let mut held = Vec::new();
        for _ in 0..256 {
            held.push(pending.reserve().await.unwrap());
        }
        let identifiers: Vec<u8> = held.iter().map(Reservation::identifier).collect();
        assert_eq!(identifiers[..7], [251, 252, 253, 254, 255, 0, 1]);
        assert_eq!(identifiers.last(), Some(&250));
        assert_eq!(identifiers.iter().collect::<HashSet<_>>().len(), 256);
    }

    #[tokio::test]
    async fn waits_while_all_256_are_out() {
        let pending = PendingRequests::new(0);
        let mut held = Vec::new();
        for _ in 0..256 {
            held.push(pending.reserve().await.unwrap());
        }
        let waiting = tokio::spawn({
            let pending = Arc::clone(&pending);
            async move { pending.reserve().await.map(|r| r.identifier()) }
        });
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert!(!waiting.is_finished());
        let released = held.swap_remove(17);
        assert_eq!(released.identifier(), 17);
        drop(released);
        let identifier = timeout(Duration::from_secs(1), waiting).await.unwrap();
        assert_eq!(identifier.unwrap(), Some(17));
    }

    #[tokio::test]
    async fn delivers_only_to_the_request_signed_with_that_authenticator() {
        let pending = PendingRequests::new(5);
        let reservation = pending.reserve().await.unwrap();
        assert_eq!(pending.request_authenticator(5), None);
        let mut answered = reservation.wait_for_answer([1; 16]);
        assert_eq!(pending.request_authenticator(5), Some([1; 16]));
        assert_eq!(pending.request_authenticator(6), None);
        assert!(!pending.deliver(5, &[2; 16], ACK));
        assert!(!pending.deliver(6, &[1; 16], ACK));
        assert!(answered.try_recv().is_err());
        assert!(pending.deliver(5, &[1; 16], ACK));
        assert_eq!(answered.try_recv(), Ok(ACK));
        // One answer per request: a duplicate finds nobody waiting.
        assert!(!pending.deliver(5, &[1; 16], ACK));
        assert_eq!(pending.request_authenticator(5), None);
    }

    #[tokio::test]
    async fn closing_ends_every_wait() {
        let pending = PendingRequests::new(0);
        let mut held = Vec::new();
        for _ in 0..256 {
            held.push(pending.reserve().await.unwrap());
        }
        let answered = held[0].wait_for_answer([1; 16]);
        let waiting = tokio::spawn({
            let pending = Arc::clone(&pending);
            async move { pending.reserve().await.is_none() }
        });
        tokio::time::sleep(Duration::from_millis(20)).await;
        pending.close();
        assert!(timeout(Duration::from_secs(1), waiting)
            .await
            .unwrap()
            .unwrap());
        assert!(answered.await.is_err());
        drop(held);
        assert!(pending.reserve().await.is_none());
    }
}
