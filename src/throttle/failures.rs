//! Bad-password times per budget, oldest first, each forgotten once it is older than the window:
//! the counting under the throttle's rules. Bounded: when [`MAX_TRACKED_KEYS`] budgets have live
//! failures, a new budget is not tracked (and a warning says so) rather than memory growing
//! without limit.

use std::collections::{HashMap, VecDeque};
use std::time::{Duration, Instant};

use super::ThrottleKey;

/// Most budgets (users, users at stations, stations) tracked at once.
pub const MAX_TRACKED_KEYS: usize = 65_536;

/// The failure times of every budget with live failures.
#[derive(Debug, Default)]
pub struct Failures {
    times: HashMap<ThrottleKey, VecDeque<Instant>>,
}

impl Failures {
    /// How many failures `key` has had within `window` before `now`.
    pub fn count(&mut self, key: &ThrottleKey, now: Instant, window: Duration) -> usize {
        self.times.get_mut(key).map_or(0, |times| {
            forget_expired(times, now, window);
            times.len()
        })
    }

    /// One failure at `now` against `key`; only the newest `limit` are kept, as no more matter.
    pub fn record(&mut self, key: &ThrottleKey, now: Instant, window: Duration, limit: usize) {
        if !self.times.contains_key(key) && self.times.len() >= MAX_TRACKED_KEYS {
            self.times.retain(|_, times| {
                forget_expired(times, now, window);
                !times.is_empty()
            });
            if self.times.len() >= MAX_TRACKED_KEYS {
                tracing::warn!(
                    tracked = self.times.len(),
                    "throttle table full: this failure is not counted"
                );
                return;
            }
        }
        let times = self.times.entry(key.clone()).or_default();
        forget_expired(times, now, window);
        times.push_back(now);
        while times.len() > limit {
            times.pop_front();
        }
    }

    /// Forgets `key`'s failures.
    pub fn forgive(&mut self, key: &ThrottleKey) {
        self.times.remove(key);
    }

    /// Every budget with `limit` or more failures within `window` before `now`.
    pub fn over(&self, now: Instant, window: Duration, limit: usize) -> Vec<&ThrottleKey> {
        self.times
            .iter()
            .filter(|(_, times)| {
                times
                    .iter()
                    .filter(|&&time| now.saturating_duration_since(time) < window)
                    .count()
                    >= limit
            })
            .map(|(key, _)| key)
            .collect()
    }

    /// The failure times of `key` within `window` before `now`, oldest first.
    pub fn times(&self, key: &ThrottleKey, now: Instant, window: Duration) -> Vec<Instant> {
        self.times
            .get(key)
            .into_iter()
            .flatten()
            .copied()
            .filter(|&time| now.saturating_duration_since(time) < window)
            .collect()
    }
}

fn forget_expired(times: &mut VecDeque<Instant>, now: Instant, window: Duration) {
    while times
        .front()
        .is_some_and(|&time| now.saturating_duration_since(time) >= window)
    {
        times.pop_front();
    }
}
