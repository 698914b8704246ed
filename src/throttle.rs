//! Brute-force throttling that locks out the guesser, not the user. AD locks an account after N
//! bad passwords (the telework policy: 10 in 30 minutes), so anyone who can reach the VPN's
//! login page could lock a real user out, and a guesser could spend that budget freely. adgate
//! keeps smaller budgets of its own: after `max_failures` bad passwords within `window` in one
//! budget, logins judged by it are refused as `throttled` without asking AD, until the oldest
//! of those failures is older than the window. Which budget judges a login ([`ThrottleRule`]):
//!
//! - from a station the user has got in from within `familiar_days` (a familiar station,
//!   `familiar`): that user at that station's own budget, so a guesser elsewhere cannot keep
//!   the user out of their home;
//! - from anywhere else, or with no Calling-Station-Id: the user's budget, which every bad
//!   password for the user counts against, wherever it came from;
//! - and always the station's budget, which bad passwords for any user from it count against:
//!   one station guessing many users (spraying).
//!
//! A guesser's failures so reach AD at most `max_failures` times per window: below AD's
//! threshold, AD never locks the user because of a guesser. The user's own mistakes at a
//! familiar station add theirs to it, and AD's lockout stays the backstop.
//!
//! A login that gets in forgives the budget that judged it (never a station's: a guesser with
//! one valid account could reset its budget) and makes its station familiar (`learn`, for every
//! login method). What the throttle holds is what the trail implies: `replay` rebuilds it at
//! start from the decisions of the last `familiar_days`. A configuration reload changes the
//! limits, never the counts (see [`Throttle::reconfigured`]).

mod failures;
mod familiar;
mod replay;
mod station;

use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use chrono::{DateTime, TimeDelta, Utc};

use failures::Failures;
use familiar::FamiliarStations;
pub use replay::replay;
pub use station::Station;

/// `[throttle]`: the bad-password budget, and how long a station stays familiar.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ThrottleSettings {
    pub max_failures: u32,
    pub window: Duration,
    /// How long after a user's last accept from a station it stays familiar; zero: never, and
    /// every login is judged by the user's budget.
    pub familiar_for: Duration,
}

/// A budget: what bad passwords are counted by.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum ThrottleKey {
    /// A user, by [`normalized_user`] name.
    User(String),
    /// A user at one of their familiar stations.
    UserAtStation { user: String, station: Station },
    /// A station, whoever is named.
    Station(Station),
}

/// Which budget refused a `throttled` login: the record's `throttled_by`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ThrottleRule {
    /// The user's budget, judging logins from stations not familiar to them: someone elsewhere
    /// is guessing their password.
    User,
    /// The user's budget at this familiar station: bad passwords from the user's own place.
    UserAtStation,
    /// The station's budget, whoever is named: one place guessing many users (spraying).
    Station,
}

impl ThrottleRule {
    pub const ALL: [ThrottleRule; 3] = [Self::User, Self::UserAtStation, Self::Station];

    /// The stable code in records, logs and metric labels.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::User => "user",
            Self::UserAtStation => "user_at_station",
            Self::Station => "station",
        }
    }
}

/// The logon name a budget knows a user by: lowercase, without `DOMAIN\` or `@suffix`, since
/// `CORP\Alice`, `alice` and `alice@corp.example` are the same user to AD.
pub fn normalized_user(user_name: &[u8]) -> String {
    let name = String::from_utf8_lossy(user_name).to_lowercase();
    let without_domain = name
        .rsplit_once('\\')
        .map_or(name.as_str(), |(_, user)| user);
    without_domain
        .split_once('@')
        .map_or(without_domain, |(user, _)| user)
        .to_owned()
}

/// One password login as the throttle judges it: who, from where, and whether the station was
/// familiar to the user when the login came (decided before AD is asked, and kept).
#[derive(Debug, Clone)]
pub struct Attempt {
    /// The name as sent, then the AD account's sAMAccountName once AD has answered, so that
    /// every name form of an account shares its budgets.
    users: Vec<String>,
    station: Option<Station>,
    familiar: bool,
}

impl Attempt {
    /// This attempt also under the AD account's own name (`sam_account_name`).
    pub fn with_account(mut self, sam_account_name: &str) -> Attempt {
        let account = normalized_user(sam_account_name.as_bytes());
        if !self.users.contains(&account) {
            self.users.push(account);
        }
        self
    }

    /// The budgets that judge this login, each with the rule it enforces, in the order a
    /// refusal names them.
    fn judged_by(&self) -> Vec<(ThrottleRule, ThrottleKey)> {
        let mut budgets: Vec<_> = self
            .users
            .iter()
            .map(|user| match (&self.station, self.familiar) {
                (Some(station), true) => (
                    ThrottleRule::UserAtStation,
                    ThrottleKey::UserAtStation {
                        user: user.clone(),
                        station: station.clone(),
                    },
                ),
                _ => (ThrottleRule::User, ThrottleKey::User(user.clone())),
            })
            .collect();
        budgets.extend(
            self.station
                .clone()
                .map(|station| (ThrottleRule::Station, ThrottleKey::Station(station))),
        );
        budgets
    }

    /// The budgets a bad password counts against: the user's always (strangers are judged by
    /// every failure of the user), this familiar station's if it is one, the station's.
    fn charged(&self) -> Vec<ThrottleKey> {
        let mut keys: Vec<_> = self.users.iter().cloned().map(ThrottleKey::User).collect();
        if let (Some(station), true) = (&self.station, self.familiar) {
            keys.extend(self.users.iter().map(|user| ThrottleKey::UserAtStation {
                user: user.clone(),
                station: station.clone(),
            }));
        }
        keys.extend(self.station.clone().map(ThrottleKey::Station));
        keys
    }
}

/// Budgets over their limit now, by kind, for the metrics.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct ThrottledCounts {
    /// Users whose logins from stations not familiar to them are refused: users under attack.
    pub users: usize,
    pub users_at_stations: usize,
    pub stations: usize,
}

/// One of a user's budgets as `adgate explain` shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BudgetState {
    /// `None` for the user's own budget (strangers), else a familiar station.
    pub station: Option<Station>,
    /// When the user last got in from the station.
    pub last_accept: Option<DateTime<Utc>>,
    /// Bad passwords within the window.
    pub failures: usize,
    /// While over budget: how long until the oldest counted failure leaves the window.
    pub refused_for: Option<Duration>,
}

/// The budgets and familiar stations, shared by every configuration's throttle.
pub struct Throttle {
    settings: ThrottleSettings,
    failures: Arc<Mutex<Failures>>,
    familiar: Arc<Mutex<FamiliarStations>>,
}

impl Throttle {
    pub fn new(settings: ThrottleSettings) -> Throttle {
        Throttle {
            settings,
            failures: Arc::default(),
            familiar: Arc::default(),
        }
    }

    /// A throttle with new limits over the same counts and familiar stations, for a reload.
    pub fn reconfigured(&self, settings: ThrottleSettings) -> Throttle {
        Throttle {
            settings,
            failures: Arc::clone(&self.failures),
            familiar: Arc::clone(&self.familiar),
        }
    }

    /// A password login of `user_name` from `calling_station_id`, coming at `now`.
    pub fn attempt(
        &self,
        user_name: &[u8],
        calling_station_id: Option<&str>,
        now: DateTime<Utc>,
    ) -> Attempt {
        let user = normalized_user(user_name);
        let station = calling_station_id.and_then(Station::from_calling_station_id);
        let familiar = station.as_ref().is_some_and(|station| {
            self.lock_familiar()
                .is_familiar(&user, station, now, self.remembered())
        });
        Attempt {
            users: vec![user],
            station,
            familiar,
        }
    }

    /// The rule whose budget is spent for `attempt` at `now`, if any: the login is refused.
    pub fn refusing(&self, attempt: &Attempt, now: Instant) -> Option<ThrottleRule> {
        let mut failures = self.lock_failures();
        attempt
            .judged_by()
            .into_iter()
            .find(|(_, key)| failures.count(key, now, self.settings.window) >= self.limit())
            .map(|(rule, _)| rule)
    }

    /// AD refused the password of `attempt` at `now`.
    pub fn bad_password(&self, attempt: &Attempt, now: Instant) {
        let mut failures = self.lock_failures();
        for key in attempt.charged() {
            failures.record(&key, now, self.settings.window, self.limit());
        }
    }

    /// `attempt` got in: the budget that judged it is forgiven (the user knows the password),
    /// never a station's.
    pub fn got_in(&self, attempt: &Attempt) {
        let mut failures = self.lock_failures();
        for (rule, key) in attempt.judged_by() {
            if rule != ThrottleRule::Station {
                failures.forgive(&key);
            }
        }
    }

    /// `user_name` (whose AD account is `sam_account_name`) got in from `calling_station_id`
    /// at `at`, by whatever method: the station is familiar to the user from now on.
    pub fn learn(
        &self,
        user_name: &[u8],
        sam_account_name: Option<&str>,
        calling_station_id: Option<&str>,
        at: DateTime<Utc>,
    ) {
        let Some(station) = calling_station_id.and_then(Station::from_calling_station_id) else {
            return;
        };
        if self.settings.familiar_for.is_zero() {
            return;
        }
        let mut users = vec![normalized_user(user_name)];
        users.extend(sam_account_name.map(|sam| normalized_user(sam.as_bytes())));
        users.dedup();
        let mut familiar = self.lock_familiar();
        for user in users {
            familiar.learn(&user, &station, at, self.remembered());
        }
    }

    /// Budgets over their limit at `now`, by kind.
    pub fn throttled_counts(&self, now: Instant) -> ThrottledCounts {
        let failures = self.lock_failures();
        let mut counts = ThrottledCounts::default();
        for key in failures.over(now, self.settings.window, self.limit()) {
            match key {
                ThrottleKey::User(_) => counts.users += 1,
                ThrottleKey::UserAtStation { .. } => counts.users_at_stations += 1,
                ThrottleKey::Station(_) => counts.stations += 1,
            }
        }
        counts
    }

    /// (user, station) pairs familiar at `now`.
    pub fn familiar_count(&self, now: DateTime<Utc>) -> usize {
        self.lock_familiar().count(now, self.remembered())
    }

    /// `user_name`'s budgets at `now`: their own (judging strangers) first, then one per
    /// familiar station, most recently seen first.
    pub fn budgets_of(
        &self,
        user_name: &[u8],
        now: Instant,
        now_utc: DateTime<Utc>,
    ) -> Vec<BudgetState> {
        let user = normalized_user(user_name);
        let stations = self.lock_familiar().of(&user, now_utc, self.remembered());
        let failures = self.lock_failures();
        let state = |key: ThrottleKey, station: Option<Station>, last_accept| {
            let times = failures.times(&key, now, self.settings.window);
            let refused_for = (times.len() >= self.limit())
                .then(|| times.len().checked_sub(self.limit()))
                .flatten()
                .and_then(|oldest_counted| times.get(oldest_counted))
                .map(|&oldest| {
                    self.settings
                        .window
                        .saturating_sub(now.duration_since(oldest))
                });
            BudgetState {
                station,
                last_accept,
                failures: times.len(),
                refused_for,
            }
        };
        let mut budgets = vec![state(ThrottleKey::User(user.clone()), None, None)];
        for (station, seen) in stations {
            let key = ThrottleKey::UserAtStation {
                user: user.clone(),
                station: station.clone(),
            };
            budgets.push(state(key, Some(station), Some(seen)));
        }
        budgets
    }

    pub fn settings(&self) -> ThrottleSettings {
        self.settings
    }

    fn limit(&self) -> usize {
        usize::try_from(self.settings.max_failures).unwrap_or(usize::MAX)
    }

    fn remembered(&self) -> TimeDelta {
        TimeDelta::from_std(self.settings.familiar_for).unwrap_or(TimeDelta::MAX)
    }

    fn lock_failures(&self) -> MutexGuard<'_, Failures> {
        self.failures.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn lock_familiar(&self) -> MutexGuard<'_, FamiliarStations> {
        self.familiar.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const WINDOW: Duration = Duration::from_secs(60);

    fn throttle() -> Throttle {
        Throttle::new(ThrottleSettings {
            max_failures: 3,
            window: WINDOW,
            familiar_for: Duration::from_secs(30 * 86_400),
        })
    }

    /// `count` bad passwords of `user` from `station` at `now`.
    fn guess(throttle: &Throttle, user: &str, station: Option<&str>, count: usize, now: Instant) {
        for _ in 0..count {
            let attempt = throttle.attempt(user.as_bytes(), station, Utc::now());
            throttle.bad_password(&attempt, now);
        }
    }

    fn refusing(
        throttle: &Throttle,
        user: &str,
        station: Option<&str>,
        now: Instant,
    ) -> Option<ThrottleRule> {
        throttle.refusing(&throttle.attempt(user.as_bytes(), station, Utc::now()), now)
    }

    /// `user` gets in from `station` at `at`, as the gatekeeper tells it.
    fn got_in(throttle: &Throttle, user: &str, station: Option<&str>, at: DateTime<Utc>) {
        throttle.got_in(&throttle.attempt(user.as_bytes(), station, at));
        throttle.learn(user.as_bytes(), None, station, at);
    }

    const HOME: &str = "203.0.113.9";
    const GUESSER: &str = "198.51.100.7";

    #[test]
    fn every_name_form_of_a_user_shares_one_budget() {
        for name in [&b"alice"[..], b"CORP\\Alice", b"ALICE@corp.example.test"] {
            assert_eq!(normalized_user(name), "alice");
        }
        let throttle = throttle();
        let now = Instant::now();
        guess(&throttle, "CORP\\alice", None, 2, now);
        guess(&throttle, "alice@corp.example.test", None, 1, now);
        assert_eq!(
            refusing(&throttle, "Alice", None, now),
            Some(ThrottleRule::User)
        );
    }

    #[test]
    fn the_accounts_own_name_shares_the_budget_of_the_name_sent() {
        let throttle = throttle();
        let now = Instant::now();
        for _ in 0..3 {
            let attempt = throttle.attempt(b"heidi.jones@corp.example.test", None, Utc::now());
            throttle.bad_password(&attempt.with_account("heidi"), now);
        }
        assert_eq!(
            refusing(&throttle, "heidi", None, now),
            Some(ThrottleRule::User)
        );
    }

    #[test]
    fn throttles_at_max_failures_until_the_oldest_leaves_the_window() {
        let throttle = throttle();
        let start = Instant::now();
        for second in 0..3 {
            let at = start + Duration::from_secs(second);
            assert_eq!(refusing(&throttle, "alice", None, at), None);
            guess(&throttle, "alice", None, 1, at);
        }
        let late = start + Duration::from_secs(59);
        assert_eq!(
            refusing(&throttle, "alice", None, late),
            Some(ThrottleRule::User)
        );
        assert_eq!(
            throttle.throttled_counts(late),
            ThrottledCounts {
                users: 1,
                ..ThrottledCounts::default()
            }
        );
        let budgets = throttle.budgets_of(b"alice", late, Utc::now());
        assert_eq!(budgets[0].failures, 3);
        assert_eq!(budgets[0].refused_for, Some(Duration::from_secs(1)));
        let after = start + WINDOW;
        assert_eq!(refusing(&throttle, "alice", None, after), None);
        assert_eq!(throttle.throttled_counts(after), ThrottledCounts::default());
    }

    #[test]
    fn a_guesser_elsewhere_does_not_keep_the_user_out_of_a_familiar_station() {
        let throttle = throttle();
        let now = Instant::now();
        got_in(&throttle, "alice", Some(HOME), Utc::now());
        guess(&throttle, "alice", Some(GUESSER), 8, now);
        assert_eq!(refusing(&throttle, "alice", Some(HOME), now), None);
        assert_eq!(
            refusing(&throttle, "alice", Some("192.0.2.44"), now),
            Some(ThrottleRule::User)
        );
        assert_eq!(
            refusing(&throttle, "alice", None, now),
            Some(ThrottleRule::User)
        );
        // Both the user's budget and the guesser's station's are spent: the user's is named.
        assert_eq!(
            refusing(&throttle, "alice", Some(GUESSER), now),
            Some(ThrottleRule::User)
        );
        assert_eq!(
            refusing(&throttle, "bob", Some(GUESSER), now),
            Some(ThrottleRule::Station)
        );

        // The user's own accept at home forgives only the home budget: strangers stay refused.
        got_in(&throttle, "alice", Some(HOME), Utc::now());
        assert_eq!(
            refusing(&throttle, "alice", Some("192.0.2.44"), now),
            Some(ThrottleRule::User)
        );
        assert_eq!(
            throttle.throttled_counts(now),
            ThrottledCounts {
                users: 1,
                users_at_stations: 0,
                stations: 1
            }
        );
    }

    #[test]
    fn bad_passwords_at_a_familiar_station_spend_its_own_budget_and_the_users() {
        let throttle = throttle();
        let now = Instant::now();
        got_in(&throttle, "alice", Some(HOME), Utc::now());
        guess(&throttle, "alice", Some(HOME), 3, now);
        assert_eq!(
            refusing(&throttle, "alice", Some(HOME), now),
            Some(ThrottleRule::UserAtStation)
        );
        assert_eq!(
            refusing(&throttle, "alice", Some(GUESSER), now),
            Some(ThrottleRule::User)
        );
        assert_eq!(throttle.throttled_counts(now).users_at_stations, 1);
    }

    #[test]
    fn a_station_stays_familiar_for_familiar_days_and_only_with_a_calling_station_id() {
        let throttle = throttle();
        let now = Instant::now();
        let long_ago = Utc::now() - TimeDelta::days(31);
        got_in(&throttle, "alice", Some(HOME), long_ago);
        guess(&throttle, "alice", Some(GUESSER), 3, now);
        assert_eq!(
            refusing(&throttle, "alice", Some(HOME), now),
            Some(ThrottleRule::User)
        );
        got_in(&throttle, "alice", None, Utc::now());
        assert_eq!(throttle.familiar_count(Utc::now()), 0);

        let off = Throttle::new(ThrottleSettings {
            familiar_for: Duration::ZERO,
            ..throttle.settings()
        });
        got_in(&off, "alice", Some(HOME), Utc::now());
        assert_eq!(off.familiar_count(Utc::now()), 0);
    }

    #[test]
    fn a_port_or_another_address_of_the_subnet_is_the_same_station() {
        let throttle = throttle();
        let now = Instant::now();
        got_in(&throttle, "alice", Some("203.0.113.9[4500]"), Utc::now());
        got_in(&throttle, "bob", Some("2001:db8:7:7::1"), Utc::now());
        guess(&throttle, "alice", None, 3, now);
        guess(&throttle, "bob", None, 3, now);
        assert_eq!(
            refusing(&throttle, "alice", Some("203.0.113.9[61001]"), now),
            None
        );
        assert_eq!(
            refusing(&throttle, "bob", Some("2001:db8:7:7:abcd::2"), now),
            None
        );
    }

    #[test]
    fn a_station_stays_throttled_across_users_and_successes() {
        let throttle = throttle();
        let now = Instant::now();
        for user in ["alice", "bob", "carol"] {
            guess(&throttle, user, Some(GUESSER), 1, now);
        }
        got_in(&throttle, "carol", Some(GUESSER), Utc::now());
        assert_eq!(
            refusing(&throttle, "dave", Some(GUESSER), now),
            Some(ThrottleRule::Station)
        );
        assert_eq!(refusing(&throttle, "alice", None, now), None);
    }

    #[test]
    fn new_limits_keep_the_counts_and_the_familiar_stations() {
        let throttle = throttle();
        let now = Instant::now();
        got_in(&throttle, "alice", Some(HOME), Utc::now());
        guess(&throttle, "alice", None, 2, now);
        let stricter = throttle.reconfigured(ThrottleSettings {
            max_failures: 2,
            ..throttle.settings()
        });
        assert_eq!(
            refusing(&stricter, "alice", None, now),
            Some(ThrottleRule::User)
        );
        assert_eq!(refusing(&throttle, "alice", None, now), None);
        assert_eq!(stricter.familiar_count(Utc::now()), 1);
    }

    #[test]
    fn a_stranger_that_gets_in_is_forgiven_and_becomes_familiar() {
        let throttle = throttle();
        let now = Instant::now();
        guess(&throttle, "alice", None, 2, now);
        got_in(&throttle, "alice", Some(HOME), Utc::now());
        assert_eq!(
            throttle.budgets_of(b"alice", now, Utc::now())[0].failures,
            0
        );
        let budgets = throttle.budgets_of(b"alice", now, Utc::now());
        assert_eq!(budgets.len(), 2);
        assert_eq!(budgets[1].station.as_ref().map(Station::as_str), Some(HOME));
    }
}
