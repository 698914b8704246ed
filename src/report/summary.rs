//! The access report's arithmetic: from the trail's events to what an admin reads — per user
//! (logins accepted, sessions, connected time, refusals by reason), per source (failures, how
//! many users it tried), the suspects (brute force on one account, password spraying from one
//! source), logins outside business hours, a user's new source addresses, live sessions cut.
//! A pure function of the events and the settings: the renderers only lay it out, the tests
//! check it without files.
//!
//! A *failure* is a refused login whose reason the caller could have caused: every refusal but
//! those that are adgate's or the directory's (`directory_unavailable`, `audit_unavailable`,
//! `reply_unencodable`): an outage is no attack. Sources are Calling-Station-Ids; a refusal
//! without one counts for its user but not for any source.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

use chrono::{DateTime, NaiveDate, TimeDelta, Utc};
use serde::Serialize;

use super::business_hours::BusinessHours;
use super::event::{TrailEvent, What};
use crate::reason::Reason;

/// Refusals that say nothing about the caller: not counted as failed attempts.
const NOT_THE_CALLERS_DOING: [Reason; 3] = [
    Reason::DirectoryUnavailable,
    Reason::AuditUnavailable,
    Reason::ReplyUnencodable,
];

/// More days than this in the period: the per-day chart shows only the days with logins.
const MAX_DAYS_FILLED: i64 = 400;

/// What the report covers and how it judges.
#[derive(Debug, Clone)]
pub struct ReportSettings {
    /// First instant of the period (inclusive).
    pub since: DateTime<Utc>,
    /// End of the period (exclusive).
    pub until: DateTime<Utc>,
    pub business_hours: BusinessHours,
    pub suspects: SuspectThresholds,
}

/// When failures make a suspect.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct SuspectThresholds {
    /// Failures (and users tried) are counted within this span of each other.
    #[serde(rename = "window_seconds", serialize_with = "seconds")]
    pub window: TimeDelta,
    /// Brute force: this many failures for one user within the window (from any sources).
    pub brute_force_failures: usize,
    /// Password spraying: this many distinct users failing from one source within the window.
    pub spray_users: usize,
}

fn seconds<S: serde::Serializer>(span: &TimeDelta, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.serialize_i64(span.num_seconds())
}

/// The report's findings; the JSON format is this, serialized.
#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq)]
pub struct Summary {
    pub accepted: u64,
    pub refused: u64,
    /// Every user with a login, a refusal, accounting or a cut in the period, by name.
    pub users: Vec<UserActivity>,
    /// Every source with failures, most failures first.
    pub sources: Vec<SourceFailures>,
    pub brute_force: Vec<BruteForceSuspect>,
    pub spraying: Vec<SprayingSuspect>,
    /// Accepted logins outside business hours, in time order.
    pub outside_business_hours: Vec<LoginAt>,
    /// Sources a user logged in from (accepted) in the period and never before it.
    pub new_sources: Vec<NewSource>,
    /// Disconnect-Requests adgate sent, in time order.
    pub disconnects: Vec<Cut>,
    /// Logins per day (on the report's clock), every day of the period.
    pub days: Vec<DayCount>,
    /// Refusals by reason code, most first.
    pub refusals_by_reason: Vec<ReasonCount>,
}

#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq)]
pub struct UserActivity {
    pub user: String,
    pub accepted: u64,
    /// Sessions with accounting in the period (by NAS and Acct-Session-Id).
    pub sessions: u64,
    /// For each of those sessions, the largest Acct-Session-Time heard in the period (its
    /// Stop, or the latest Interim-Update of a session still open), summed.
    pub connected_seconds: u64,
    /// Refusals by reason code.
    pub refusals: BTreeMap<String, u64>,
}

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct SourceFailures {
    pub station: String,
    pub failures: u64,
    /// The distinct users it failed for, by name.
    pub users: Vec<String>,
}

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct BruteForceSuspect {
    pub user: String,
    /// The most failures within one window.
    pub failures_in_window: usize,
    /// When that busiest window began (its first failure).
    pub window_start: DateTime<Utc>,
    pub failures: u64,
    /// The sources of all the user's failures in the period.
    pub stations: Vec<String>,
}

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct SprayingSuspect {
    pub station: String,
    /// The most distinct users failing from it within one window.
    pub users_in_window: usize,
    /// When that busiest window began (its first failure).
    pub window_start: DateTime<Utc>,
    pub failures: u64,
    /// Every user it failed for in the period.
    pub users: Vec<String>,
}

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct LoginAt {
    pub time: DateTime<Utc>,
    /// The same instant on the report's clock, `YYYY-MM-DD HH:MM:SS ddd`.
    pub local_time: String,
    pub user: String,
    pub station: Option<String>,
}

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct NewSource {
    pub user: String,
    pub station: String,
    /// The first accepted login from it in the period.
    pub first_login: DateTime<Utc>,
}

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Cut {
    pub time: DateTime<Utc>,
    pub user: String,
    pub reason: String,
    pub result: String,
    pub session_id: Option<String>,
    pub requested_by: Option<String>,
}

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct DayCount {
    pub day: NaiveDate,
    pub accepted: u64,
    pub refused: u64,
}

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct ReasonCount {
    pub reason: String,
    pub count: u64,
}

/// One failure, for the suspect windows.
struct Failure {
    time: DateTime<Utc>,
    user: String,
    station: Option<String>,
}

/// Summarises `events` (the whole trail, in any order) for the period of `settings`. Events
/// before the period only tell which sources each user had logged in from before.
pub fn summarise(
    events: impl IntoIterator<Item = TrailEvent>,
    settings: &ReportSettings,
) -> Summary {
    let mut tally = Tally::new(settings);
    let mut in_period = Vec::new();
    for event in events {
        if event.time < settings.since {
            tally.remember_source(&event);
        } else if event.time < settings.until {
            in_period.push(event);
        }
    }
    in_period.sort_by_key(|event| (event.time, event.seq));
    for event in in_period {
        tally.add(event);
    }
    tally.finish()
}

/// The counts as the period's events come in, in time order.
struct Tally<'a> {
    settings: &'a ReportSettings,
    summary: Summary,
    users: BTreeMap<String, UserActivity>,
    /// Per session (NAS, Acct-Session-Id): its user and the longest Acct-Session-Time heard.
    sessions: HashMap<(String, String), (String, u64)>,
    days: BTreeMap<NaiveDate, DayCount>,
    reasons: BTreeMap<String, u64>,
    failures: Vec<Failure>,
    /// (user, station) of every accepted login so far, those before the period included.
    known_sources: HashSet<(String, String)>,
}

impl<'a> Tally<'a> {
    fn new(settings: &'a ReportSettings) -> Self {
        Tally {
            settings,
            summary: Summary::default(),
            users: BTreeMap::new(),
            sessions: HashMap::new(),
            days: empty_days(settings),
            reasons: BTreeMap::new(),
            failures: Vec::new(),
            known_sources: HashSet::new(),
        }
    }

    /// An event before the period: only where its user logged in from counts.
    fn remember_source(&mut self, event: &TrailEvent) {
        if let (What::Accepted, Some(station)) = (&event.what, &event.station) {
            self.known_sources
                .insert((event.user.clone(), station.clone()));
        }
    }

    fn add(&mut self, event: TrailEvent) {
        // Every user the period names gets a row, even with only accounting or a cut.
        self.user(&event.user);
        match event.what {
            What::Accepted => self.accepted(event.time, event.user, event.station),
            What::Refused { reason } => {
                self.refused(event.time, event.user, event.station, reason);
            }
            What::Accounting {
                session,
                session_time,
            } => {
                let (_, longest) = self
                    .sessions
                    .entry(session)
                    .or_insert_with(|| (event.user, 0));
                *longest = (*longest).max(session_time.unwrap_or(0));
            }
            What::Disconnect {
                reason,
                result,
                session_id,
                requested_by,
            } => self.summary.disconnects.push(Cut {
                time: event.time,
                user: event.user,
                reason,
                result,
                session_id,
                requested_by,
            }),
        }
    }

    /// The row of `name`, new if needed.
    fn user(&mut self, name: &str) -> &mut UserActivity {
        self.users
            .entry(name.to_owned())
            .or_insert_with(|| UserActivity {
                user: name.to_owned(),
                ..UserActivity::default()
            })
    }

    fn accepted(&mut self, time: DateTime<Utc>, user: String, station: Option<String>) {
        let hours = self.settings.business_hours;
        self.summary.accepted += 1;
        self.user(&user).accepted += 1;
        day(&mut self.days, hours.zone.day(time)).accepted += 1;
        if hours.is_outside(time) {
            self.summary.outside_business_hours.push(LoginAt {
                time,
                local_time: hours
                    .zone
                    .local(time)
                    .format("%Y-%m-%d %H:%M:%S %a")
                    .to_string(),
                user: user.clone(),
                station: station.clone(),
            });
        }
        if let Some(station) = station {
            if self.known_sources.insert((user.clone(), station.clone())) {
                self.summary.new_sources.push(NewSource {
                    user,
                    station,
                    first_login: time,
                });
            }
        }
    }

    fn refused(
        &mut self,
        time: DateTime<Utc>,
        user: String,
        station: Option<String>,
        reason: String,
    ) {
        self.summary.refused += 1;
        *self.user(&user).refusals.entry(reason.clone()).or_default() += 1;
        day(&mut self.days, self.settings.business_hours.zone.day(time)).refused += 1;
        let callers_doing = !NOT_THE_CALLERS_DOING.iter().any(|r| r.as_str() == reason);
        *self.reasons.entry(reason).or_default() += 1;
        if callers_doing {
            self.failures.push(Failure {
                time,
                user,
                station,
            });
        }
    }

    fn finish(mut self) -> Summary {
        for (user, connected) in self.sessions.into_values() {
            if let Some(activity) = self.users.get_mut(&user) {
                activity.sessions += 1;
                activity.connected_seconds += connected;
            }
        }
        let suspects = self.settings.suspects;
        Summary {
            users: self.users.into_values().collect(),
            days: self.days.into_values().collect(),
            refusals_by_reason: most_first(
                self.reasons
                    .into_iter()
                    .map(|(reason, count)| ReasonCount { reason, count })
                    .collect(),
                |r| r.count,
            ),
            sources: sources(&self.failures),
            brute_force: brute_force(&self.failures, suspects),
            spraying: spraying(&self.failures, suspects),
            ..self.summary
        }
    }
}

/// Every day of the period at zero, so that quiet days show in the chart.
fn empty_days(settings: &ReportSettings) -> BTreeMap<NaiveDate, DayCount> {
    let zone = settings.business_hours.zone;
    let first = zone.day(settings.since);
    let last = zone.day(settings.until - TimeDelta::milliseconds(1));
    if (last - first).num_days() > MAX_DAYS_FILLED {
        return BTreeMap::new();
    }
    first
        .iter_days()
        .take_while(|day| *day <= last)
        .map(|day| {
            (
                day,
                DayCount {
                    day,
                    accepted: 0,
                    refused: 0,
                },
            )
        })
        .collect()
}

fn day(days: &mut BTreeMap<NaiveDate, DayCount>, day: NaiveDate) -> &mut DayCount {
    days.entry(day).or_insert(DayCount {
        day,
        accepted: 0,
        refused: 0,
    })
}

/// Sorted by `count` descending; equal counts keep their (name) order.
fn most_first<T>(mut items: Vec<T>, count: impl Fn(&T) -> u64) -> Vec<T> {
    items.sort_by_key(|item| std::cmp::Reverse(count(item)));
    items
}

fn sources(failures: &[Failure]) -> Vec<SourceFailures> {
    let mut by_station: BTreeMap<&str, (u64, BTreeSet<&str>)> = BTreeMap::new();
    for failure in failures {
        if let Some(station) = &failure.station {
            let (count, users) = by_station.entry(station).or_default();
            *count += 1;
            users.insert(&failure.user);
        }
    }
    let sources = by_station
        .into_iter()
        .map(|(station, (failures, users))| SourceFailures {
            station: station.to_owned(),
            failures,
            users: users.into_iter().map(str::to_owned).collect(),
        })
        .collect();
    most_first(sources, |source| source.failures)
}

fn brute_force(failures: &[Failure], thresholds: SuspectThresholds) -> Vec<BruteForceSuspect> {
    let mut by_user: BTreeMap<&str, Vec<&Failure>> = BTreeMap::new();
    for failure in failures {
        by_user.entry(&failure.user).or_default().push(failure);
    }
    let suspects = by_user
        .into_iter()
        .filter_map(|(user, failures)| {
            let (most, start) = busiest_window(&failures, thresholds.window, |index, _| index)?;
            (most >= thresholds.brute_force_failures).then(|| BruteForceSuspect {
                user: user.to_owned(),
                failures_in_window: most,
                window_start: start,
                failures: failures.len() as u64,
                stations: failures
                    .iter()
                    .filter_map(|failure| failure.station.clone())
                    .collect::<BTreeSet<_>>()
                    .into_iter()
                    .collect(),
            })
        })
        .collect();
    most_first(suspects, |suspect| suspect.failures_in_window as u64)
}

fn spraying(failures: &[Failure], thresholds: SuspectThresholds) -> Vec<SprayingSuspect> {
    let mut by_station: BTreeMap<&str, Vec<&Failure>> = BTreeMap::new();
    for failure in failures {
        if let Some(station) = &failure.station {
            by_station.entry(station).or_default().push(failure);
        }
    }
    let suspects = by_station
        .into_iter()
        .filter_map(|(station, failures)| {
            let (most, start) = busiest_window(&failures, thresholds.window, |_, failure| {
                failure.user.as_str()
            })?;
            (most >= thresholds.spray_users).then(|| SprayingSuspect {
                station: station.to_owned(),
                users_in_window: most,
                window_start: start,
                failures: failures.len() as u64,
                users: failures
                    .iter()
                    .map(|failure| failure.user.clone())
                    .collect::<BTreeSet<_>>()
                    .into_iter()
                    .collect(),
            })
        })
        .collect();
    most_first(suspects, |suspect| suspect.users_in_window as u64)
}

/// Over `failures` (in time order), the window of `span` holding the most distinct keys: how
/// many, and when it began (its first failure). Keyed by position it counts failures; keyed by
/// user, the users tried.
fn busiest_window<'a, K: std::hash::Hash + Eq>(
    failures: &[&'a Failure],
    span: TimeDelta,
    key: impl Fn(usize, &'a Failure) -> K,
) -> Option<(usize, DateTime<Utc>)> {
    let mut in_window: HashMap<K, usize> = HashMap::new();
    let mut best: Option<(usize, DateTime<Utc>)> = None;
    let mut first = 0;
    for (last, failure) in failures.iter().enumerate() {
        *in_window.entry(key(last, failure)).or_default() += 1;
        while let Some(oldest) = failures.get(first) {
            if failure.time - oldest.time < span {
                break;
            }
            if let Some(count) = in_window.get_mut(&key(first, oldest)) {
                *count -= 1;
                if *count == 0 {
                    in_window.remove(&key(first, oldest));
                }
            }
            first += 1;
        }
        let start = failures.get(first).map(|oldest| oldest.time);
        if let Some(start) = start {
            if best.is_none_or(|(most, _)| in_window.len() > most) {
                best = Some((in_window.len(), start));
            }
        }
    }
    best
}

#[cfg(test)]
mod tests;
