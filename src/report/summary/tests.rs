//! The report's arithmetic on hand-made events: each finding an admin relies on, and the
//! boundaries of each threshold.

use chrono::{DateTime, TimeDelta, Utc};

use super::*;
use crate::report::business_hours::BusinessHours;

fn at(text: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(text)
        .unwrap()
        .with_timezone(&Utc)
}

/// December 2026, business hours 07:00–19:00 Monday to Friday in UTC, window 1 h, brute force
/// at 10 failures, spraying at 5 users.
fn settings() -> ReportSettings {
    ReportSettings {
        since: at("2026-12-01T00:00:00Z"),
        until: at("2027-01-01T00:00:00Z"),
        business_hours: BusinessHours::parse("07:00-19:00", "mon-fri", "UTC").unwrap(),
        suspects: SuspectThresholds {
            window: TimeDelta::hours(1),
            brute_force_failures: 10,
            spray_users: 5,
        },
    }
}

fn event(seq: u64, time: &str, user: &str, station: &str, what: What) -> TrailEvent {
    TrailEvent {
        seq,
        time: at(time),
        user: user.into(),
        station: Some(station.into()),
        what,
    }
}

fn refused(reason: &str) -> What {
    What::Refused {
        reason: reason.into(),
    }
}

/// An Accounting-Request of `session` (`_status`: start, interim_update, stop, for the reader).
fn accounting(session: &str, _status: &str, seconds: Option<u64>) -> What {
    What::Accounting {
        session: ("vpn1".into(), session.into()),
        session_time: seconds,
    }
}

/// `count` failures of `user` from `station`, one a minute from `start`.
fn failures(start: &str, user: &str, station: &str, count: i64) -> Vec<TrailEvent> {
    (0..count)
        .map(|n| {
            let time = at(start) + TimeDelta::minutes(n);
            TrailEvent {
                seq: 1000 + n as u64,
                time,
                user: user.into(),
                station: Some(station.into()),
                what: refused("bad_password"),
            }
        })
        .collect()
}

#[test]
fn per_user_logins_sessions_connected_time_and_refusals_by_reason() {
    let events = vec![
        event(
            1,
            "2026-12-01T08:00:00Z",
            "alice",
            "203.0.113.5",
            What::Accepted,
        ),
        event(
            2,
            "2026-12-01T08:00:01Z",
            "alice",
            "203.0.113.5",
            accounting("s1", "start", None),
        ),
        event(
            3,
            "2026-12-01T09:00:00Z",
            "alice",
            "203.0.113.5",
            accounting("s1", "interim_update", Some(3600)),
        ),
        event(
            4,
            "2026-12-01T10:00:00Z",
            "alice",
            "203.0.113.5",
            accounting("s1", "stop", Some(7199)),
        ),
        event(
            5,
            "2026-12-02T08:00:00Z",
            "alice",
            "203.0.113.5",
            What::Accepted,
        ),
        // A session still open at the end of the period: its latest interim counts.
        event(
            6,
            "2026-12-02T08:00:01Z",
            "alice",
            "203.0.113.5",
            accounting("s2", "start", None),
        ),
        event(
            7,
            "2026-12-02T08:10:00Z",
            "alice",
            "203.0.113.5",
            accounting("s2", "interim_update", Some(600)),
        ),
        event(
            8,
            "2026-12-02T09:00:00Z",
            "alice",
            "203.0.113.5",
            refused("bad_password"),
        ),
        event(
            9,
            "2026-12-02T09:01:00Z",
            "alice",
            "203.0.113.5",
            refused("bad_password"),
        ),
        event(
            10,
            "2026-12-02T09:02:00Z",
            "bob",
            "198.51.100.9",
            refused("telework_off"),
        ),
    ];
    let summary = summarise(events, &settings());
    assert_eq!((summary.accepted, summary.refused), (2, 3));
    let alice = &summary.users[0];
    assert_eq!(alice.user, "alice");
    assert_eq!(
        (alice.accepted, alice.sessions, alice.connected_seconds),
        (2, 2, 7199 + 600)
    );
    assert_eq!(alice.refusals.get("bad_password"), Some(&2));
    assert_eq!(summary.users[1].refusals.get("telework_off"), Some(&1));
    assert_eq!(
        summary.refusals_by_reason,
        vec![
            ReasonCount {
                reason: "bad_password".into(),
                count: 2
            },
            ReasonCount {
                reason: "telework_off".into(),
                count: 1
            },
        ]
    );
    assert_eq!(
        summary.days.len(),
        31,
        "every day of December, quiet ones too"
    );
    assert_eq!((summary.days[0].accepted, summary.days[1].refused), (1, 3));
}

#[test]
fn one_source_failing_for_many_users_within_the_window_is_spraying() {
    let users = ["u1", "u2", "u3", "u4", "u5"];
    let spray: Vec<TrailEvent> = users
        .iter()
        .enumerate()
        .map(|(n, user)| {
            let time = at("2026-12-03T02:00:00Z") + TimeDelta::minutes(n as i64 * 14);
            TrailEvent {
                time,
                ..event(
                    n as u64,
                    "2026-12-03T02:00:00Z",
                    user,
                    "192.0.2.66",
                    refused("unknown_user"),
                )
            }
        })
        .collect();
    let summary = summarise(spray.clone(), &settings());
    assert_eq!(summary.spraying.len(), 1, "{:?}", summary.spraying);
    let suspect = &summary.spraying[0];
    assert_eq!(suspect.station, "192.0.2.66");
    assert_eq!(suspect.users_in_window, 5);
    assert_eq!(suspect.users, users);
    assert_eq!(suspect.window_start, at("2026-12-03T02:00:00Z"));
    assert_eq!(summary.sources[0].users.len(), 5);
    assert!(
        summary.brute_force.is_empty(),
        "one failure per user is no brute force"
    );

    // The same five users spread over more than the window: a failing source, no spray.
    let slow: Vec<TrailEvent> = spray
        .into_iter()
        .enumerate()
        .map(|(n, e)| TrailEvent {
            time: at("2026-12-03T02:00:00Z") + TimeDelta::minutes(n as i64 * 16),
            ..e
        })
        .collect();
    let summary = summarise(slow, &settings());
    assert!(summary.spraying.is_empty(), "{:?}", summary.spraying);
    assert_eq!(summary.sources[0].failures, 5);
}

#[test]
fn many_failures_for_one_user_within_the_window_is_brute_force_from_every_source() {
    let mut events = failures("2026-12-04T03:00:00Z", "carol", "192.0.2.10", 6);
    events.extend(failures("2026-12-04T03:30:00Z", "carol", "192.0.2.11", 4));
    let summary = summarise(events, &settings());
    assert_eq!(summary.brute_force.len(), 1);
    let suspect = &summary.brute_force[0];
    assert_eq!(
        (suspect.user.as_str(), suspect.failures_in_window),
        ("carol", 10)
    );
    assert_eq!(suspect.stations, ["192.0.2.10", "192.0.2.11"]);

    // Nine is below the threshold.
    let summary = summarise(
        failures("2026-12-04T03:00:00Z", "carol", "192.0.2.10", 9),
        &settings(),
    );
    assert!(summary.brute_force.is_empty());
}

#[test]
fn an_outage_is_no_attack() {
    let events: Vec<TrailEvent> = failures("2026-12-04T03:00:00Z", "carol", "192.0.2.10", 12)
        .into_iter()
        .map(|e| TrailEvent {
            what: refused("directory_unavailable"),
            ..e
        })
        .collect();
    let summary = summarise(events, &settings());
    assert_eq!(summary.refused, 12, "still counted as refusals");
    assert!(summary.brute_force.is_empty() && summary.sources.is_empty());
}

#[test]
fn accepted_logins_outside_business_hours_are_listed_with_their_local_time() {
    let events = vec![
        event(
            1,
            "2026-12-01T06:59:00Z",
            "alice",
            "203.0.113.5",
            What::Accepted,
        ),
        event(
            2,
            "2026-12-01T07:00:00Z",
            "alice",
            "203.0.113.5",
            What::Accepted,
        ),
        event(
            3,
            "2026-12-05T10:00:00Z",
            "bob",
            "198.51.100.9",
            What::Accepted,
        ), // Saturday
        event(
            4,
            "2026-12-01T23:00:00Z",
            "bob",
            "198.51.100.9",
            refused("bad_password"),
        ),
    ];
    let summary = summarise(events, &settings());
    let listed: Vec<(&str, &str)> = summary
        .outside_business_hours
        .iter()
        .map(|login| (login.user.as_str(), login.local_time.as_str()))
        .collect();
    assert_eq!(
        listed,
        [
            ("alice", "2026-12-01 06:59:00 Tue"),
            ("bob", "2026-12-05 10:00:00 Sat")
        ]
    );
}

#[test]
fn a_source_is_new_only_if_the_trail_before_the_period_never_saw_the_user_log_in_from_it() {
    let events = vec![
        event(
            1,
            "2026-11-20T08:00:00Z",
            "alice",
            "203.0.113.5",
            What::Accepted,
        ),
        // A refusal before the period does not make a source familiar.
        event(
            2,
            "2026-11-21T08:00:00Z",
            "alice",
            "198.51.100.77",
            refused("bad_password"),
        ),
        event(
            3,
            "2026-12-01T08:00:00Z",
            "alice",
            "203.0.113.5",
            What::Accepted,
        ),
        event(
            4,
            "2026-12-01T09:00:00Z",
            "alice",
            "198.51.100.77",
            What::Accepted,
        ),
        event(
            5,
            "2026-12-02T09:00:00Z",
            "alice",
            "198.51.100.77",
            What::Accepted,
        ),
        // Bob's first login from the address Alice used is new for Bob.
        event(
            6,
            "2026-12-02T10:00:00Z",
            "bob",
            "203.0.113.5",
            What::Accepted,
        ),
    ];
    let summary = summarise(events, &settings());
    let new: Vec<(&str, &str)> = summary
        .new_sources
        .iter()
        .map(|source| (source.user.as_str(), source.station.as_str()))
        .collect();
    assert_eq!(new, [("alice", "198.51.100.77"), ("bob", "203.0.113.5")]);
    assert_eq!(
        summary.new_sources[0].first_login,
        at("2026-12-01T09:00:00Z")
    );
    assert_eq!(
        summary.accepted, 4,
        "the login before the period is not counted"
    );
}

#[test]
fn cuts_are_listed_with_who_asked() {
    let events = vec![event(
        1,
        "2026-12-01T08:00:00Z",
        "alice",
        "203.0.113.5",
        What::Disconnect {
            reason: "admin_request".into(),
            result: "ack".into(),
            session_id: Some("s1".into()),
            requested_by: Some("root".into()),
        },
    )];
    let summary = summarise(events, &settings());
    assert_eq!(summary.disconnects.len(), 1);
    assert_eq!(summary.disconnects[0].requested_by.as_deref(), Some("root"));
    assert_eq!(summary.users[0].user, "alice");
}

#[test]
fn the_end_of_the_period_is_exclusive() {
    let events = vec![
        event(
            1,
            "2026-12-31T23:59:59Z",
            "alice",
            "203.0.113.5",
            What::Accepted,
        ),
        event(
            2,
            "2027-01-01T00:00:00Z",
            "alice",
            "203.0.113.5",
            What::Accepted,
        ),
    ];
    assert_eq!(summarise(events, &settings()).accepted, 1);
}
