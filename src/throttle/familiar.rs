//! Familiar stations: the stations each user has logged in from successfully within
//! `throttle.familiar_days`. A login from one of them is judged by its own budget, so a guesser
//! elsewhere, however many passwords they try, does not keep the user out of their own home
//! ("smart lockout", as cloud identity providers call it).
//!
//! Only accepts teach it, so only people who know a password can make it grow; still it is
//! bounded: [`MAX_STATIONS_PER_USER`] per user (the oldest goes first: a phone on a mobile
//! network changes address often) and [`MAX_USERS`] users, beyond which users with nothing
//! recent are forgotten, and if none is, a new user is not learnt (and a warning says so).

use std::collections::HashMap;

use chrono::{DateTime, TimeDelta, Utc};

use super::station::Station;

/// Most users remembered at once.
pub const MAX_USERS: usize = 50_000;
/// Most stations remembered per user.
pub const MAX_STATIONS_PER_USER: usize = 8;

/// Stations by user (a lowercase logon name, as [`super::normalized_user`] makes it), each with
/// the last time the user got in from it.
#[derive(Debug, Default)]
pub struct FamiliarStations {
    users: HashMap<String, Vec<(Station, DateTime<Utc>)>>,
}

impl FamiliarStations {
    /// `user` got in from `station` at `at`; stations older than `remembered` are forgotten.
    pub fn learn(
        &mut self,
        user: &str,
        station: &Station,
        at: DateTime<Utc>,
        remembered: TimeDelta,
    ) {
        if !self.users.contains_key(user) && self.users.len() >= MAX_USERS {
            self.users.retain(|_, stations| {
                stations.retain(|(_, seen)| at - *seen < remembered);
                !stations.is_empty()
            });
            if self.users.len() >= MAX_USERS {
                tracing::warn!(
                    users = self.users.len(),
                    "familiar stations table full: this login's station is not remembered"
                );
                return;
            }
        }
        let stations = self.users.entry(user.to_owned()).or_default();
        stations.retain(|(_, seen)| at - *seen < remembered);
        match stations.iter_mut().find(|(known, _)| known == station) {
            Some((_, seen)) => *seen = (*seen).max(at),
            None => {
                if stations.len() >= MAX_STATIONS_PER_USER {
                    if let Some(oldest) = stations
                        .iter()
                        .enumerate()
                        .min_by_key(|(_, (_, seen))| *seen)
                        .map(|(index, _)| index)
                    {
                        stations.swap_remove(oldest);
                    }
                }
                stations.push((station.clone(), at));
            }
        }
    }

    /// Whether `user` got in from `station` less than `remembered` before `now`.
    pub fn is_familiar(
        &self,
        user: &str,
        station: &Station,
        now: DateTime<Utc>,
        remembered: TimeDelta,
    ) -> bool {
        self.users.get(user).is_some_and(|stations| {
            stations
                .iter()
                .any(|(known, seen)| known == station && now - *seen < remembered)
        })
    }

    /// `user`'s familiar stations at `now`, most recently seen first.
    pub fn of(
        &self,
        user: &str,
        now: DateTime<Utc>,
        remembered: TimeDelta,
    ) -> Vec<(Station, DateTime<Utc>)> {
        let mut stations: Vec<_> = self
            .users
            .get(user)
            .into_iter()
            .flatten()
            .filter(|(_, seen)| now - *seen < remembered)
            .cloned()
            .collect();
        stations.sort_by_key(|(_, seen)| std::cmp::Reverse(*seen));
        stations
    }

    /// How many (user, station) pairs are familiar at `now`, for the metrics.
    pub fn count(&self, now: DateTime<Utc>, remembered: TimeDelta) -> usize {
        self.users
            .values()
            .flatten()
            .filter(|(_, seen)| now - *seen < remembered)
            .count()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn station(value: &str) -> Station {
        Station::from_calling_station_id(value).unwrap()
    }

    const DAYS_30: TimeDelta = TimeDelta::days(30);

    #[test]
    fn a_station_is_familiar_for_familiar_days_after_the_last_accept() {
        let mut familiar = FamiliarStations::default();
        let start = Utc::now();
        let home = station("203.0.113.9");
        familiar.learn("alice", &home, start, DAYS_30);
        assert!(familiar.is_familiar("alice", &home, start + TimeDelta::days(29), DAYS_30));
        assert!(!familiar.is_familiar("bob", &home, start, DAYS_30));
        assert!(!familiar.is_familiar("alice", &station("198.51.100.1"), start, DAYS_30));
        familiar.learn("alice", &home, start + TimeDelta::days(20), DAYS_30);
        assert!(familiar.is_familiar("alice", &home, start + TimeDelta::days(49), DAYS_30));
        assert!(!familiar.is_familiar("alice", &home, start + TimeDelta::days(50), DAYS_30));
        assert_eq!(familiar.count(start + TimeDelta::days(49), DAYS_30), 1);
        assert_eq!(familiar.count(start + TimeDelta::days(50), DAYS_30), 0);
    }

    #[test]
    fn a_user_keeps_the_most_recent_stations() {
        let mut familiar = FamiliarStations::default();
        let start = Utc::now();
        for index in 0..=MAX_STATIONS_PER_USER {
            let at = start + TimeDelta::minutes(i64::try_from(index).unwrap());
            familiar.learn("alice", &station(&format!("192.0.2.{index}")), at, DAYS_30);
        }
        let now = start + TimeDelta::hours(1);
        let known = familiar.of("alice", now, DAYS_30);
        assert_eq!(known.len(), MAX_STATIONS_PER_USER);
        assert_eq!(
            known[0].0,
            station(&format!("192.0.2.{MAX_STATIONS_PER_USER}"))
        );
        assert!(!familiar.is_familiar("alice", &station("192.0.2.0"), now, DAYS_30));
        assert!(familiar.is_familiar("alice", &station("192.0.2.1"), now, DAYS_30));
    }

    #[test]
    fn a_full_table_forgets_users_with_nothing_recent_before_refusing_new_ones() {
        let mut familiar = FamiliarStations::default();
        let start = Utc::now();
        let home = station("203.0.113.9");
        for index in 0..MAX_USERS {
            familiar.learn(&format!("user{index}"), &home, start, DAYS_30);
        }
        let later = start + TimeDelta::days(1);
        familiar.learn("newcomer", &home, later, DAYS_30);
        assert!(
            !familiar.is_familiar("newcomer", &home, later, DAYS_30),
            "full"
        );
        let much_later = start + TimeDelta::days(31);
        familiar.learn("newcomer", &home, much_later, DAYS_30);
        assert!(familiar.is_familiar("newcomer", &home, much_later, DAYS_30));
        assert_eq!(familiar.count(much_later, DAYS_30), 1);
    }
}
