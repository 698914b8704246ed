//! One domain controller's way into the bounded channel of [`DirectoryChange`]s: never
//! blocking the LDAP reader, never growing without bound.
//!
//! When the consumer lags and the channel is full, a change is not queued and not waited for;
//! instead a [`DirectoryChange::Resynced`] is owed, delivered as soon as there is room. The
//! consumer then re-checks everyone, which covers every change that was dropped meanwhile
//! (changes after the owed one are dropped too: they are covered by it).

use tokio::sync::mpsc::{self, error::TrySendError};
use tracing::warn;

use crate::DirectoryChange;

/// What became of a change handed to [`Outbox::send`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Delivery {
    /// In the channel.
    Queued,
    /// Dropped; the owed `Resynced` covers it.
    Coalesced,
    /// Nobody listens any more.
    Closed,
}

pub(crate) struct Outbox {
    dc: String,
    tx: mpsc::Sender<DirectoryChange>,
    resync_owed: bool,
}

impl Outbox {
    /// The way in for the DC whose URL is `dc`.
    pub(crate) fn new(dc: String, tx: mpsc::Sender<DirectoryChange>) -> Outbox {
        Outbox {
            dc,
            tx,
            resync_owed: false,
        }
    }

    /// Queue `change` without waiting; see the module documentation for a full channel.
    pub(crate) fn send(&mut self, change: DirectoryChange) -> Delivery {
        if self.resync_owed {
            return Delivery::Coalesced;
        }
        match self.tx.try_send(change) {
            Ok(()) => Delivery::Queued,
            Err(TrySendError::Full(_)) => {
                warn!(
                    url = %self.dc,
                    "directory change consumer lags: changes coalesced into one resync"
                );
                self.resync_owed = true;
                Delivery::Coalesced
            }
            Err(TrySendError::Closed(_)) => Delivery::Closed,
        }
    }

    /// Whether a `Resynced` waits for room in the channel.
    pub(crate) fn owes_resync(&self) -> bool {
        self.resync_owed
    }

    /// Wait for room and deliver the owed `Resynced` (returns at once if none is owed or the
    /// channel is closed). Cancel-safe: cancelled, the `Resynced` stays owed.
    pub(crate) async fn flush(&mut self) {
        if !self.resync_owed {
            return;
        }
        if let Ok(permit) = self.tx.reserve().await {
            permit.send(DirectoryChange::Resynced {
                dc: self.dc.clone(),
            });
        }
        self.resync_owed = false;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn changed(guid: &str) -> DirectoryChange {
        DirectoryChange::Changed {
            dc: "ldaps://dc1".into(),
            object_guid: guid.into(),
            is_group: false,
        }
    }

    #[tokio::test]
    async fn a_full_channel_coalesces_into_one_resync() {
        let (tx, mut rx) = mpsc::channel(2);
        let mut outbox = Outbox::new("ldaps://dc1".into(), tx);
        assert_eq!(outbox.send(changed("a")), Delivery::Queued);
        assert_eq!(outbox.send(changed("b")), Delivery::Queued);
        for guid in ["c", "d", "e"] {
            assert_eq!(outbox.send(changed(guid)), Delivery::Coalesced);
        }
        assert!(outbox.owes_resync());
        // The consumer catches up: the two queued changes, then one resync for the rest.
        assert_eq!(rx.recv().await, Some(changed("a")));
        outbox.flush().await;
        assert!(!outbox.owes_resync());
        assert_eq!(rx.recv().await, Some(changed("b")));
        assert_eq!(outbox.send(changed("f")), Delivery::Queued);
        drop(outbox);
        let rest: Vec<DirectoryChange> = std::iter::from_fn(|| rx.try_recv().ok()).collect();
        assert_eq!(
            rest,
            [
                DirectoryChange::Resynced {
                    dc: "ldaps://dc1".into()
                },
                changed("f"),
            ]
        );
    }

    #[tokio::test]
    async fn flush_waits_for_room_and_can_be_cancelled() {
        let (tx, mut rx) = mpsc::channel(1);
        let mut outbox = Outbox::new("ldaps://dc1".into(), tx);
        outbox.send(changed("a"));
        outbox.send(changed("b"));
        let waited =
            tokio::time::timeout(std::time::Duration::from_millis(50), outbox.flush()).await;
        assert!(waited.is_err(), "no room: flush waits");
        assert!(outbox.owes_resync(), "still owed after the cancelled flush");
        assert_eq!(rx.recv().await, Some(changed("a")));
        outbox.flush().await;
        assert!(matches!(
            rx.recv().await,
            Some(DirectoryChange::Resynced { .. })
        ));
    }

    #[tokio::test]
    async fn a_closed_channel_is_reported() {
        let (tx, rx) = mpsc::channel(1);
        let mut outbox = Outbox::new("ldaps://dc1".into(), tx);
        drop(rx);
        assert_eq!(outbox.send(changed("a")), Delivery::Closed);
        outbox.flush().await;
    }
}
