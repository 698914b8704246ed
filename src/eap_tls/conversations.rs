//! The conversations in progress, keyed by the State attribute the NAS echoes (RFC 2865
//! §5.24, RFC 3579 §2.6.3). Memory stays bounded whatever clients do: at most
//! `max_conversations` entries; a conversation silent for longer than the timeout is gone;
//! and when the table is full, the least recently active conversation makes room. A peer that
//! stalls, or a flood of new conversations, thus pushes out idle conversations, never the
//! ones that are moving (a real login answers within milliseconds). Conversations dropped
//! either way are counted, for the metrics. A configuration reload keeps the table
//! (conversations in progress go on) and may change its limits.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError, RwLock};
use std::time::{Duration, Instant};

use super::conversation::Conversation;

/// The State value: 16 random octets, unguessable, so one NAS cannot step into another's
/// conversation by guessing (the NAS's name is checked as well).
pub(crate) type StateToken = [u8; 16];

/// A conversation, shared between the table and the request working on it.
pub(crate) type SharedConversation = Arc<Mutex<Conversation>>;

struct Slot {
    conversation: SharedConversation,
    last_active: Instant,
}

/// How many conversations at most, and how long one may stay silent.
#[derive(Clone, Copy)]
struct Limits {
    max: usize,
    timeout: Duration,
}

/// The bounded table.
pub(crate) struct Conversations {
    slots: Mutex<HashMap<StateToken, Slot>>,
    limits: RwLock<Limits>,
    timed_out: AtomicU64,
    crowded_out: AtomicU64,
}

/// The table as the metrics show it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct ConversationCounts {
    /// Conversations not yet ended nor timed out.
    pub(crate) in_progress: usize,
    /// Conversations forgotten because their peer fell silent for longer than the timeout.
    pub(crate) timed_out: u64,
    /// Conversations dropped to make room in a full table.
    pub(crate) crowded_out: u64,
}

impl Conversations {
    pub(crate) fn new(max: usize, timeout: Duration) -> Self {
        Self {
            slots: Mutex::new(HashMap::with_capacity(max.min(4096))),
            limits: RwLock::new(Limits {
                max: max.max(1),
                timeout,
            }),
            timed_out: AtomicU64::new(0),
            crowded_out: AtomicU64::new(0),
        }
    }

    /// Takes `other`'s limits (from a reloaded configuration); a smaller table shrinks as
    /// conversations start.
    pub(crate) fn take_limits_from(&self, other: &Conversations) {
        *self.limits.write().unwrap_or_else(PoisonError::into_inner) = other.limits();
    }

    fn limits(&self) -> Limits {
        *self.limits.read().unwrap_or_else(PoisonError::into_inner)
    }

    /// The conversations in progress, forgetting timed-out ones first, and how many were
    /// dropped so far.
    pub(crate) fn counts(&self) -> ConversationCounts {
        let timeout = self.limits().timeout;
        let in_progress = match self.slots.lock() {
            Ok(mut slots) => {
                self.forget_timed_out(&mut slots, Instant::now(), timeout);
                slots.len()
            }
            Err(_) => 0,
        };
        ConversationCounts {
            in_progress,
            timed_out: self.timed_out.load(Ordering::Relaxed),
            crowded_out: self.crowded_out.load(Ordering::Relaxed),
        }
    }

    fn forget_timed_out(
        &self,
        slots: &mut HashMap<StateToken, Slot>,
        now: Instant,
        timeout: Duration,
    ) {
        let before = slots.len();
        slots.retain(|_, slot| now.duration_since(slot.last_active) < timeout);
        self.count_timed_out(before - slots.len());
    }

    fn count_timed_out(&self, conversations: usize) {
        let conversations = u64::try_from(conversations).unwrap_or(u64::MAX);
        self.timed_out.fetch_add(conversations, Ordering::Relaxed);
    }

    /// Adds a conversation under a fresh State token, making room first if needed.
    pub(crate) fn insert(&self, conversation: Conversation) -> Option<StateToken> {
        let mut token = [0u8; 16];
        getrandom::fill(&mut token).ok()?;
        let now = Instant::now();
        let Limits { max, timeout } = self.limits();
        let mut slots = self.slots.lock().ok()?;
        if slots.len() >= max {
            self.forget_timed_out(&mut slots, now, timeout);
        }
        // Usually one; more after a reload made the table smaller.
        let excess = (slots.len() + 1).saturating_sub(max);
        if excess > 0 {
            let mut by_activity: Vec<_> = slots
                .iter()
                .map(|(token, slot)| (slot.last_active, *token))
                .collect();
            // The `excess` least recently active first, in linear time.
            by_activity.select_nth_unstable(excess - 1);
            for (_, token) in by_activity.into_iter().take(excess) {
                slots.remove(&token);
            }
            self.crowded_out
                .fetch_add(u64::try_from(excess).unwrap_or(u64::MAX), Ordering::Relaxed);
            tracing::warn!(
                max,
                dropped = excess,
                "EAP conversation table full: dropped the least recently active"
            );
        }
        slots.insert(
            token,
            Slot {
                conversation: Arc::new(Mutex::new(conversation)),
                last_active: now,
            },
        );
        Some(token)
    }

    /// The conversation for a State value, unless unknown or timed out (then it is removed).
    pub(crate) fn get(&self, state: &[u8]) -> Option<SharedConversation> {
        let token = StateToken::try_from(state).ok()?;
        let now = Instant::now();
        let timeout = self.limits().timeout;
        let mut slots = self.slots.lock().ok()?;
        let slot = slots.get_mut(&token)?;
        if now.duration_since(slot.last_active) >= timeout {
            slots.remove(&token);
            self.count_timed_out(1);
            return None;
        }
        slot.last_active = now;
        Some(Arc::clone(&slot.conversation))
    }

    /// Forgets a conversation that ended.
    pub(crate) fn remove(&self, state: &[u8]) {
        if let (Ok(token), Ok(mut slots)) = (StateToken::try_from(state), self.slots.lock()) {
            slots.remove(&token);
        }
    }
}

#[cfg(test)]
pub(super) mod tests {
    use adgate_certs::test_pki::TestCa;
    use adgate_certs::{MutualTlsSettings, TlsServer};

    use super::*;
    use crate::eap_tls::methods::AllowedMethods;

    /// A conversation that has just sent EAP-Request/Identity.
    fn conversation() -> Conversation {
        Conversation::awaiting_identity("vpn1", AllowedMethods::default(), 1)
    }

    /// A TLS server with certificates made for the test in `dir`.
    pub(in crate::eap_tls) fn server(dir: &std::path::Path) -> TlsServer {
        let ca = TestCa::new();
        let issued = ca.issue_server("radius.test");
        let write = |name: &str, text: String| {
            std::fs::write(dir.join(name), text).unwrap();
            dir.join(name)
        };
        TlsServer::new(
            MutualTlsSettings {
                certificate_file: write("server.pem", issued.certificate_pem()),
                private_key_file: write("server.key", issued.key_pem()),
                ca_file: write("ca.pem", ca.pem()),
                crl_files: Vec::new(),
                require_extended_master_secret: true,
            },
            "certificate logins",
        )
        .unwrap()
    }

    #[test]
    fn a_full_table_forgets_the_least_recently_active_conversation() {
        let table = Conversations::new(2, Duration::from_secs(60));
        let first = table.insert(conversation()).unwrap();
        let second = table.insert(conversation()).unwrap();
        assert!(
            table.get(&first).is_some(),
            "touching makes the first the most recent"
        );
        let third = table.insert(conversation()).unwrap();
        assert!(table.get(&second).is_none(), "the idle one made room");
        assert!(table.get(&first).is_some() && table.get(&third).is_some());
        table.remove(&first);
        assert!(table.get(&first).is_none());
        assert!(table.get(b"not a token").is_none());
        assert_eq!(
            table.counts(),
            ConversationCounts {
                in_progress: 1,
                timed_out: 0,
                crowded_out: 1
            }
        );
    }

    #[test]
    fn a_table_taking_smaller_limits_shrinks_at_the_next_insert() {
        let table = Conversations::new(4, Duration::from_secs(60));
        let tokens: Vec<_> = (0..4)
            .map(|_| table.insert(conversation()).unwrap())
            .collect();
        table.take_limits_from(&Conversations::new(2, Duration::from_secs(60)));
        let newest = table.insert(conversation()).unwrap();
        let kept = tokens
            .iter()
            .filter(|t| table.get(&t[..]).is_some())
            .count();
        assert_eq!(kept, 1, "room for the newest and one more");
        assert!(table.get(&newest).is_some());
    }

    #[test]
    fn a_silent_conversation_is_forgotten_after_the_timeout() {
        let table = Conversations::new(8, Duration::ZERO);
        let token = table.insert(conversation()).unwrap();
        assert!(table.get(&token).is_none());
        table.insert(conversation()).unwrap();
        assert_eq!(
            table.counts(),
            ConversationCounts {
                in_progress: 0,
                timed_out: 2,
                crowded_out: 0
            }
        );
    }
}
