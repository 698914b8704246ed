//! Duplicate detection and the response cache of RFC 5080 §2.2.2.
//!
//! A NAS that hears nothing retransmits the identical request: same source
//! address and port, Code, Identifier and Request Authenticator. Handling it
//! again would cost a second directory bind (and a second count toward the
//! user's lockout), so a retransmission of an answered request gets the
//! cached response, byte for byte, and one that arrives while the first copy
//! is still being decided is dropped: the answer to the first goes out soon,
//! and if it is lost the next retransmission finds it here.
//!
//! Both tables are bounded. Answers are kept for [`CACHE_WINDOW`] in an LRU
//! of [`CACHE_CAPACITY`] entries, one per (source, Code, Identifier): a new
//! request reusing the Identifier replaces the old answer, as a NAS only
//! reuses one once it has given up on the earlier request. Requests in
//! progress are at most the requests admitted, which the server bounds, and
//! the rejects waiting out the reject delay, which `reject_delay` bounds: a
//! waiting reject is still in progress, so its retransmissions are dropped.

use std::collections::HashSet;
use std::net::SocketAddr;
use std::num::NonZeroUsize;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use lru::LruCache;

use crate::packet::{Authenticator, Packet};

/// How long an answer is replayed. NASes give up after a few retransmissions
/// a few seconds apart (typically 3 × 5 s); FreeRADIUS keeps answers 5 s
/// after sending them, this keeps them longer so slow NASes are covered too.
pub(crate) const CACHE_WINDOW: Duration = Duration::from_secs(30);

/// Answers kept at most, per listening socket: at most 4096 octets each,
/// so at most 32 MiB.
pub(crate) const CACHE_CAPACITY: NonZeroUsize = match NonZeroUsize::new(8192) {
    Some(capacity) => capacity,
    None => unreachable!(),
};

/// What identifies a request and its retransmissions (RFC 5080 §2.2.2).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) struct RequestKey {
    source: SocketAddr,
    code: u8,
    identifier: u8,
    authenticator: Authenticator,
}

impl RequestKey {
    pub(crate) fn new(source: SocketAddr, packet: &Packet<'_>) -> Self {
        Self {
            source,
            code: packet.code(),
            identifier: packet.identifier(),
            authenticator: *packet.authenticator(),
        }
    }

    /// The slot a NAS's request occupies until it reuses the Identifier.
    fn slot(&self) -> (SocketAddr, u8, u8) {
        (self.source, self.code, self.identifier)
    }
}

/// What to do with a request, by whether it was seen before.
#[derive(Debug)]
pub(crate) enum Lookup {
    /// First sight: handle it, then [`Pending::answer`].
    New(Pending),
    /// Already answered: send these octets again.
    Answered(Arc<[u8]>),
    /// Still being handled: drop this copy.
    InProgress,
}

#[derive(Debug)]
struct Answer {
    authenticator: Authenticator,
    response: Arc<[u8]>,
    sent: Instant,
}

#[derive(Debug)]
struct Tables {
    answered: LruCache<(SocketAddr, u8, u8), Answer>,
    in_progress: HashSet<RequestKey>,
}

/// The cache shared by every request task of one listening socket.
#[derive(Debug)]
pub(crate) struct ResponseCache {
    tables: Mutex<Tables>,
}

impl ResponseCache {
    pub(crate) fn new() -> Arc<Self> {
        Arc::new(Self {
            tables: Mutex::new(Tables {
                answered: LruCache::new(CACHE_CAPACITY),
                in_progress: HashSet::new(),
            }),
        })
    }

    pub(crate) fn lookup(self: &Arc<Self>, key: RequestKey) -> Lookup {
        let mut tables = self.lock();
        if let Some(answer) = tables.answered.get(&key.slot()) {
            // The Authenticator is no secret: comparing it in constant time
            // would protect nothing.
            if answer.authenticator == key.authenticator && answer.sent.elapsed() < CACHE_WINDOW {
                return Lookup::Answered(Arc::clone(&answer.response));
            }
        }
        if !tables.in_progress.insert(key.clone()) {
            return Lookup::InProgress;
        }
        Lookup::New(Pending {
            cache: Arc::clone(self),
            key,
        })
    }

    fn lock(&self) -> MutexGuard<'_, Tables> {
        // Nothing panics while holding the lock; if something did, the
        // tables are still consistent, so carry on.
        self.tables.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// A request being handled. Dropped without [`Pending::answer`] (the
/// handler chose silence), it is forgotten, so a retransmission is handled
/// afresh: RFC 2866 §4.1 wants an unrecorded Accounting-Request retried.
#[derive(Debug)]
pub(crate) struct Pending {
    cache: Arc<ResponseCache>,
    key: RequestKey,
}

impl Pending {
    /// Caches the response about to be sent for this request.
    pub(crate) fn answer(self, response: &[u8]) {
        let answer = Answer {
            authenticator: self.key.authenticator,
            response: response.into(),
            sent: Instant::now(),
        };
        self.cache.lock().answered.put(self.key.slot(), answer);
    }
}

impl Drop for Pending {
    fn drop(&mut self) {
        self.cache.lock().in_progress.remove(&self.key);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(port: u16, identifier: u8, authenticator: u8) -> RequestKey {
        RequestKey {
            source: SocketAddr::from(([192, 0, 2, 1], port)),
            code: 1,
            identifier,
            authenticator: [authenticator; 16],
        }
    }

    fn answer(cache: &Arc<ResponseCache>, key: RequestKey, response: &[u8]) {
        let Lookup::New(pending) = cache.lookup(key) else {
            panic!("a new request");
        };
        pending.answer(response);
    }

    #[test]
    fn replays_answers_and_drops_copies_in_progress() {
        let cache = ResponseCache::new();
        answer(&cache, key(1, 7, 0xaa), b"answer");
        assert!(matches!(cache.lookup(key(1, 7, 0xaa)), Lookup::Answered(a) if &*a == b"answer"));

        let Lookup::New(pending) = cache.lookup(key(1, 8, 0xaa)) else {
            panic!("a new request");
        };
        assert!(matches!(cache.lookup(key(1, 8, 0xaa)), Lookup::InProgress));
        drop(pending); // no answer: the next copy is handled afresh
        assert!(matches!(cache.lookup(key(1, 8, 0xaa)), Lookup::New(_)));
    }

    #[test]
    fn a_reused_identifier_with_a_new_authenticator_is_a_new_request() {
        let cache = ResponseCache::new();
        answer(&cache, key(1, 7, 0xaa), b"first");
        answer(&cache, key(1, 7, 0xbb), b"second");
        assert!(matches!(cache.lookup(key(1, 7, 0xbb)), Lookup::Answered(a) if &*a == b"second"));
        assert!(matches!(cache.lookup(key(1, 7, 0xaa)), Lookup::New(_)));
    }

    #[test]
    fn keeps_at_most_its_capacity() {
        let cache = ResponseCache::new();
        let capacity = CACHE_CAPACITY.get();
        for index in 0..=capacity {
            let port = u16::try_from(index / 256).unwrap();
            answer(&cache, key(port, (index % 256) as u8, 0), b"a");
        }
        assert_eq!(cache.lock().answered.len(), capacity);
        assert!(matches!(cache.lookup(key(0, 0, 0)), Lookup::New(_)));
        assert!(matches!(cache.lookup(key(32, 0, 0)), Lookup::Answered(_)));
    }
}
