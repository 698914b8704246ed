//! Brute-force throttling. AD locks an account after N bad passwords (the telework policy: 10
//! in 30 minutes), so anyone who can reach the VPN can lock a real user out, and a guesser can
//! spend that budget freely. adgate keeps its own, smaller budget: after `max_failures` bad
//! passwords within `window`, for the same user or from the same Calling-Station-Id (the
//! client's public address, for most VPNs), further logins are rejected as `throttled` without
//! contacting AD, until the oldest of those failures is older than the window.
//!
//! A configuration reload changes the limits, never the counts: a guesser's budget is not reset
//! by a reload (see [`Throttle::reconfigured`]).
//!
//! The table is bounded: when it holds [`MAX_TRACKED_KEYS`] keys with live failures, new keys
//! are not tracked (and a warning says so) rather than memory growing without limit.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

/// Most users and stations tracked at once.
pub const MAX_TRACKED_KEYS: usize = 65_536;

/// `[throttle]`: after `max_failures` bad passwords within `window`, by user or by
/// Calling-Station-Id, logins are rejected without asking AD until the window has passed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ThrottleSettings {
    pub max_failures: u32,
    pub window: Duration,
}

/// What failures are counted by.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum ThrottleKey {
    /// A user, by lowercase logon name without `DOMAIN\` or `@suffix`.
    User(String),
    /// Calling-Station-Id as sent.
    CallingStation(String),
}

impl ThrottleKey {
    /// The user key for a User-Name as sent: `CORP\Alice`, `alice` and `alice@corp.example`
    /// are the same user to AD, so they share one budget.
    pub fn user(user_name: &[u8]) -> ThrottleKey {
        let name = String::from_utf8_lossy(user_name).to_lowercase();
        let without_domain = name
            .rsplit_once('\\')
            .map_or(name.as_str(), |(_, user)| user);
        let without_suffix = without_domain
            .split_once('@')
            .map_or(without_domain, |(user, _)| user);
        ThrottleKey::User(without_suffix.to_owned())
    }
}

/// Keys over their budget, by kind.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct ThrottledCounts {
    pub users: usize,
    pub calling_stations: usize,
}

/// Failure times per key, oldest first.
pub struct Throttle {
    config: ThrottleSettings,
    failures: Arc<Mutex<HashMap<ThrottleKey, VecDeque<Instant>>>>,
}

impl Throttle {
    pub fn new(config: ThrottleSettings) -> Throttle {
        Throttle {
            config,
            failures: Arc::default(),
        }
    }

    /// A throttle with new limits over the same failure counts, for a configuration reload.
    pub fn reconfigured(&self, config: ThrottleSettings) -> Throttle {
        Throttle {
            config,
            failures: Arc::clone(&self.failures),
        }
    }

    /// Whether any of `keys` has had `max_failures` failures within the window before `now`.
    pub fn is_throttled(&self, keys: &[ThrottleKey], now: Instant) -> bool {
        let mut failures = self.lock();
        keys.iter().any(|key| {
            failures.get_mut(key).is_some_and(|times| {
                self.forget_expired(times, now);
                times.len() >= self.limit()
            })
        })
    }

    /// Counts one bad password against every key.
    pub fn record_failure(&self, keys: &[ThrottleKey], now: Instant) {
        let mut failures = self.lock();
        for key in keys {
            if !failures.contains_key(key) && failures.len() >= MAX_TRACKED_KEYS {
                failures.retain(|_, times| {
                    self.forget_expired(times, now);
                    !times.is_empty()
                });
                if failures.len() >= MAX_TRACKED_KEYS {
                    tracing::warn!(
                        tracked = failures.len(),
                        "throttle table full: this failure is not counted"
                    );
                    continue;
                }
            }
            let times = failures.entry(key.clone()).or_default();
            self.forget_expired(times, now);
            times.push_back(now);
            // Only the newest `max_failures` matter for the decision.
            while times.len() > self.limit() {
                times.pop_front();
            }
        }
    }

    /// How many users and how many stations are over their budget at `now`, for the metrics.
    pub fn throttled_counts(&self, now: Instant) -> ThrottledCounts {
        let failures = self.lock();
        let mut counts = ThrottledCounts::default();
        for (key, times) in failures.iter() {
            let live = times
                .iter()
                .filter(|&&time| now.saturating_duration_since(time) < self.config.window)
                .count();
            if live >= self.limit() {
                match key {
                    ThrottleKey::User(_) => counts.users += 1,
                    ThrottleKey::CallingStation(_) => counts.calling_stations += 1,
                }
            }
        }
        counts
    }

    /// A user who got in knows the password: their failures are forgiven. A station's are
    /// not, or a guesser with one valid account could reset its budget.
    pub fn record_success(&self, user: &ThrottleKey) {
        self.lock().remove(user);
    }

    fn limit(&self) -> usize {
        usize::try_from(self.config.max_failures).unwrap_or(usize::MAX)
    }

    fn forget_expired(&self, times: &mut VecDeque<Instant>, now: Instant) {
        while times
            .front()
            .is_some_and(|&time| now.saturating_duration_since(time) >= self.config.window)
        {
            times.pop_front();
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<ThrottleKey, VecDeque<Instant>>> {
        self.failures.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn throttle() -> Throttle {
        Throttle::new(ThrottleSettings {
            max_failures: 3,
            window: Duration::from_secs(60),
        })
    }

    #[test]
    fn every_name_form_of_a_user_shares_one_key() {
        for name in [&b"alice"[..], b"CORP\\Alice", b"ALICE@corp.example.test"] {
            assert_eq!(ThrottleKey::user(name), ThrottleKey::User("alice".into()));
        }
    }

    #[test]
    fn throttles_at_max_failures_until_the_oldest_leaves_the_window() {
        let throttle = throttle();
        let keys = [ThrottleKey::user(b"alice")];
        let start = Instant::now();
        for second in 0..3 {
            assert!(!throttle.is_throttled(&keys, start + Duration::from_secs(second)));
            throttle.record_failure(&keys, start + Duration::from_secs(second));
        }
        assert!(throttle.is_throttled(&keys, start + Duration::from_secs(59)));
        assert_eq!(
            throttle.throttled_counts(start + Duration::from_secs(59)),
            ThrottledCounts {
                users: 1,
                calling_stations: 0
            }
        );
        assert!(!throttle.is_throttled(&keys, start + Duration::from_secs(60)));
        assert_eq!(
            throttle.throttled_counts(start + Duration::from_secs(60)),
            ThrottledCounts::default()
        );
    }

    #[test]
    fn a_station_stays_throttled_across_users_and_successes() {
        let throttle = throttle();
        let station = ThrottleKey::CallingStation("203.0.113.9".into());
        let now = Instant::now();
        for user in [&b"alice"[..], b"bob", b"carol"] {
            throttle.record_failure(&[ThrottleKey::user(user), station.clone()], now);
        }
        throttle.record_success(&ThrottleKey::user(b"carol"));
        assert_eq!(
            throttle.throttled_counts(now),
            ThrottledCounts {
                users: 0,
                calling_stations: 1
            }
        );
        assert!(throttle.is_throttled(&[ThrottleKey::user(b"dave"), station], now));
        assert!(!throttle.is_throttled(&[ThrottleKey::user(b"alice")], now));
    }

    #[test]
    fn new_limits_keep_the_counts() {
        let throttle = throttle();
        let keys = [ThrottleKey::user(b"alice")];
        let now = Instant::now();
        for _ in 0..2 {
            throttle.record_failure(&keys, now);
        }
        let stricter = throttle.reconfigured(ThrottleSettings {
            max_failures: 2,
            window: Duration::from_secs(60),
        });
        assert!(stricter.is_throttled(&keys, now));
        assert!(!throttle.is_throttled(&keys, now));
    }

    #[test]
    fn success_forgives_the_user() {
        let throttle = throttle();
        let alice = ThrottleKey::user(b"alice");
        let now = Instant::now();
        for _ in 0..3 {
            throttle.record_failure(std::slice::from_ref(&alice), now);
        }
        throttle.record_success(&alice);
        assert!(!throttle.is_throttled(&[alice], now));
    }
}
