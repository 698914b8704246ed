//! Keeps a flood of dropped datagrams from filling the disk. Within each interval, the first few
//! discards per (source address, reason) are recorded one by one — what an admin needs to see
//! that something is wrong — and the rest are only counted; at the end of the interval each
//! count becomes one `discard_summary` record. The table of sources is bounded too: sources
//! beyond it share one entry, so spoofed addresses cannot exhaust memory either.

use std::collections::HashMap;
use std::net::IpAddr;

use serde::Serialize;

/// Discards recorded one by one per (source, reason) and interval.
const RECORDED_PER_KEY: u64 = 10;
/// Discards recorded one by one per interval in all.
const RECORDED_PER_INTERVAL: u64 = 100;
/// Distinct (source, reason) pairs tracked per interval; beyond, sources share one entry.
const MAX_KEYS: usize = 1024;

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct DiscardKey {
    /// `None`: the shared entry for sources beyond `MAX_KEYS`.
    source: Option<IpAddr>,
    reason: &'static str,
}

#[derive(Debug, Default)]
struct DiscardCount {
    seen: u64,
    recorded: u64,
}

/// Counts discards for the current interval.
#[derive(Debug, Default)]
pub struct DiscardLimiter {
    counts: HashMap<DiscardKey, DiscardCount>,
    recorded: u64,
    since: Option<String>,
}

/// One `discard_summary` record: discards counted but not recorded one by one.
#[derive(Debug, Serialize)]
pub struct DiscardSummary {
    pub schema: u32,
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub time: String,
    /// Start of the interval (RFC 3339).
    pub since: String,
    /// Source address; absent for the entry shared by sources beyond the table's size.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source: Option<IpAddr>,
    pub reason: &'static str,
    /// Discards from this source for this reason in the interval, recorded or not.
    pub count: u64,
    /// Of those, how many were not recorded one by one.
    pub not_recorded: u64,
}

impl DiscardLimiter {
    /// Counts one discard; true if it should be recorded one by one.
    pub fn admit(&mut self, source: IpAddr, reason: &'static str) -> bool {
        self.since.get_or_insert_with(now);
        let mut key = DiscardKey {
            source: Some(source),
            reason,
        };
        if !self.counts.contains_key(&key) && self.counts.len() >= MAX_KEYS - 1 {
            key.source = None;
        }
        let count = self.counts.entry(key).or_default();
        count.seen += 1;
        if count.recorded < RECORDED_PER_KEY && self.recorded < RECORDED_PER_INTERVAL {
            count.recorded += 1;
            self.recorded += 1;
            return true;
        }
        false
    }

    /// Ends the interval: one summary per (source, reason) with discards not recorded.
    pub fn summarize(&mut self, schema: u32) -> Vec<DiscardSummary> {
        let time = now();
        self.end_interval()
            .into_iter()
            .map(|unrecorded| DiscardSummary {
                schema,
                kind: "discard_summary",
                time: time.clone(),
                since: unrecorded.since,
                source: unrecorded.source,
                reason: unrecorded.reason,
                count: unrecorded.count,
                not_recorded: unrecorded.not_recorded,
            })
            .collect()
    }

    /// Ends the interval: per (source, reason) with events not recorded one by one, how many,
    /// sorted by source and reason. Also what bounds the RadSec handshake-failure warnings.
    pub fn end_interval(&mut self) -> Vec<Unrecorded> {
        let since = self.since.take().unwrap_or_else(now);
        self.recorded = 0;
        let mut unrecorded: Vec<Unrecorded> = self
            .counts
            .drain()
            .filter(|(_, count)| count.seen > count.recorded)
            .map(|(key, count)| Unrecorded {
                since: since.clone(),
                source: key.source,
                reason: key.reason,
                count: count.seen,
                not_recorded: count.seen - count.recorded,
            })
            .collect();
        unrecorded.sort_by(|a, b| (a.source, a.reason).cmp(&(b.source, b.reason)));
        unrecorded
    }
}

/// Events of one (source, reason) in an interval, some not recorded one by one.
#[derive(Debug)]
pub struct Unrecorded {
    /// Start of the interval (RFC 3339).
    pub since: String,
    /// `None`: the entry shared by sources beyond the table's size.
    pub source: Option<IpAddr>,
    pub reason: &'static str,
    pub count: u64,
    pub not_recorded: u64,
}

fn now() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_flood_from_one_source_is_recorded_a_few_times_then_counted() {
        let mut limiter = DiscardLimiter::default();
        let source: IpAddr = "192.0.2.7".parse().unwrap();
        let recorded = (0..10_000)
            .filter(|_| limiter.admit(source, "unknown_client"))
            .count();
        assert_eq!(recorded as u64, RECORDED_PER_KEY);
        let summaries = limiter.summarize(2);
        assert_eq!(summaries.len(), 1);
        assert_eq!(summaries[0].count, 10_000);
        assert_eq!(summaries[0].not_recorded, 10_000 - RECORDED_PER_KEY);
        assert!(
            limiter.summarize(2).is_empty(),
            "a new interval starts empty"
        );
    }

    #[test]
    fn spoofed_sources_share_one_entry_beyond_the_table() {
        let mut limiter = DiscardLimiter::default();
        for n in 0..100_000u32 {
            limiter.admit(IpAddr::from(n.to_be_bytes()), "unknown_client");
        }
        let summaries = limiter.summarize(2);
        assert!(summaries.len() <= MAX_KEYS);
        let not_recorded: u64 = summaries.iter().map(|s| s.not_recorded).sum();
        assert_eq!(not_recorded, 100_000 - RECORDED_PER_INTERVAL);
    }
}
