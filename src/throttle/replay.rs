//! The throttle at start, rebuilt from the audit trail: familiar stations from the accepts of
//! the last `familiar_days`, and the bad-password budgets from the decisions of the last
//! window, fed in order through the same [`Throttle`] methods the live path uses. So a restart
//! forgets neither where a user logs in from nor a guesser's spent budget, and `adgate explain`
//! shows what the running server holds without asking it.
//!
//! The reading is bounded by time: a segment last written before the horizon is not opened
//! ([`written_since`]), and only lines that can matter (an accept, a `bad_password` reject)
//! are parsed.

use std::path::Path;
use std::time::Instant;

use chrono::{DateTime, Utc};
use serde::Deserialize;

use super::Throttle;
use crate::audit::written_since;
use crate::decision::Method;

/// What a replay found, for the log line.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Replayed {
    pub segments_read: usize,
    pub accepts: usize,
    pub bad_passwords: usize,
}

/// The fields of a decision line the throttle needs; everything else is ignored.
#[derive(Deserialize)]
struct Line {
    #[serde(rename = "type")]
    kind: String,
    time: DateTime<Utc>,
    verdict: Option<String>,
    reason: Option<String>,
    method: Option<String>,
    user_name: Option<String>,
    user_name_hex: Option<String>,
    inner_identity: Option<String>,
    calling_station_id: Option<String>,
    account: Option<Account>,
}

#[derive(Deserialize)]
struct Account {
    sam_account_name: String,
}

/// Replays the decisions in the trail at `dir` into `throttle`, as of `now` (and `now_utc`,
/// the same moment on the wall clock).
pub fn replay(
    throttle: &Throttle,
    dir: &Path,
    now: Instant,
    now_utc: DateTime<Utc>,
) -> anyhow::Result<Replayed> {
    let settings = throttle.settings();
    let horizon = settings.familiar_for.max(settings.window);
    let since = now_utc - chrono::TimeDelta::from_std(horizon).unwrap_or(chrono::TimeDelta::MAX);
    let mut replayed = Replayed::default();
    let segments = match written_since(dir, since) {
        Ok(segments) => segments,
        // No trail yet: nothing to relearn.
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(replayed),
        Err(error) => return Err(error.into()),
    };
    for segment in segments {
        replayed.segments_read += 1;
        for line in segment.lines()? {
            let line = line?;
            if !could_matter(&line.bytes) {
                continue;
            }
            let Ok(line) = serde_json::from_slice::<Line>(&line.bytes) else {
                continue;
            };
            if line.time >= since {
                apply(throttle, &line, now, now_utc, &mut replayed);
            }
        }
    }
    Ok(replayed)
}

/// Whether a trail line may be an accept or a bad password, before parsing it: records are
/// compact JSON, so the values appear exactly so.
fn could_matter(line: &[u8]) -> bool {
    let contains = |needle: &[u8]| line.windows(needle.len()).any(|window| window == needle);
    contains(br#""verdict":"accept""#) || contains(br#""reason":"bad_password""#)
}

fn apply(
    throttle: &Throttle,
    line: &Line,
    now: Instant,
    now_utc: DateTime<Utc>,
    replayed: &mut Replayed,
) {
    if line.kind != "decision" {
        return;
    }
    let Some(user_name) = checked_name(line) else {
        return;
    };
    let sam = line
        .account
        .as_ref()
        .map(|account| account.sam_account_name.as_str());
    let station = line.calling_station_id.as_deref();
    let attempt = || {
        let attempt = throttle.attempt(&user_name, station, line.time);
        match sam {
            Some(sam) => attempt.with_account(sam),
            None => attempt,
        }
    };
    match (line.verdict.as_deref(), line.reason.as_deref()) {
        (Some("accept"), _) => {
            let method = line.method.as_deref().and_then(Method::from_record);
            if method.is_some_and(Method::checks_a_password) {
                throttle.got_in(&attempt());
            }
            throttle.learn(&user_name, sam, station, line.time);
            replayed.accepts += 1;
        }
        (Some("reject"), Some("bad_password")) => {
            let Some(at) = (now_utc - line.time)
                .to_std()
                .ok()
                .and_then(|age| now.checked_sub(age))
            else {
                return;
            };
            throttle.bad_password(&attempt(), at);
            replayed.bad_passwords += 1;
        }
        _ => {}
    }
}

/// The name the live path judged: PEAP's `inner_identity` (the outer User-Name may be
/// `anonymous`, shared by everyone), else the User-Name as sent, `user_name` or `user_name_hex`
/// when it was not UTF-8.
fn checked_name(line: &Line) -> Option<Vec<u8>> {
    match (&line.inner_identity, &line.user_name, &line.user_name_hex) {
        (Some(name), _, _) | (None, Some(name), _) => Some(name.as_bytes().to_vec()),
        (None, None, Some(hex)) => hex::decode(hex).ok(),
        (None, None, None) => None,
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::throttle::{ThrottleRule, ThrottleSettings};

    fn settings() -> ThrottleSettings {
        ThrottleSettings {
            max_failures: 3,
            window: Duration::from_secs(1800),
            familiar_for: Duration::from_secs(30 * 86_400),
        }
    }

    fn decision(
        time: DateTime<Utc>,
        user: &str,
        station: &str,
        verdict: &str,
        reason: Option<&str>,
    ) -> String {
        let mut record = serde_json::json!({
            "schema": 2,
            "type": "decision",
            "time": time.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
            "user_name": user,
            "calling_station_id": station,
            "method": "pap",
            "verdict": verdict,
            "account": {"sam_account_name": "alice", "dn": "CN=alice"},
        });
        if let Some(reason) = reason {
            record["reason"] = reason.into();
        }
        serde_json::to_string(&record).unwrap()
    }

    #[test]
    fn familiar_stations_and_recent_guesses_are_relearnt_and_old_ones_are_not() {
        let dir = tempfile::tempdir().unwrap();
        let now_utc = Utc::now();
        let ago = |minutes| now_utc - chrono::TimeDelta::minutes(minutes);
        let mut lines = vec![
            decision(ago(60 * 24 * 40), "alice", "192.0.2.1", "accept", None),
            decision(
                ago(60 * 24 * 2),
                "alice",
                "203.0.113.9[4500]",
                "accept",
                None,
            ),
            // Long enough ago to be out of the window.
            decision(
                ago(120),
                "alice",
                "198.51.100.7",
                "reject",
                Some("bad_password"),
            ),
            r#"{"type":"checkpoint","time":"2020-01-01T00:00:00Z"}"#.to_owned(),
            "not json".to_owned(),
        ];
        for _ in 0..3 {
            lines.push(decision(
                ago(5),
                "CORP\\alice",
                "198.51.100.7",
                "reject",
                Some("bad_password"),
            ));
        }
        lines.push(decision(
            ago(4),
            "alice",
            "198.51.100.7",
            "reject",
            Some("throttled"),
        ));
        std::fs::write(dir.path().join("audit.jsonl"), lines.join("\n") + "\n").unwrap();

        let throttle = Throttle::new(settings());
        let now = Instant::now();
        let replayed = replay(&throttle, dir.path(), now, now_utc).unwrap();
        assert_eq!(
            replayed,
            Replayed {
                segments_read: 1,
                accepts: 1,
                bad_passwords: 4
            }
        );
        let from = |station| throttle.attempt(b"alice", Some(station), now_utc);
        assert_eq!(
            throttle.refusing(&from("203.0.113.9"), now),
            None,
            "familiar"
        );
        assert_eq!(
            throttle.refusing(&from("192.0.2.1"), now),
            Some(ThrottleRule::User),
            "familiar 40 days ago: a stranger now"
        );
        assert_eq!(throttle.budgets_of(b"alice", now, now_utc)[0].failures, 3);
    }

    /// A PEAP login's outer User-Name may be `anonymous`, shared by every PEAP user; the live
    /// path judges the inner identity, and so must the replay.
    #[test]
    fn peap_logins_are_relearnt_under_their_inner_identity_and_their_accepts_forgive() {
        let dir = tempfile::tempdir().unwrap();
        let now_utc = Utc::now();
        let ago = |minutes| now_utc - chrono::TimeDelta::minutes(minutes);
        let peap = |time, verdict, reason| {
            let mut record: serde_json::Value = serde_json::from_str(&decision(
                time,
                "anonymous",
                "198.51.100.7",
                verdict,
                reason,
            ))
            .unwrap();
            record["method"] = "peap-mschapv2".into();
            record["inner_identity"] = "bob".into();
            record["account"]["sam_account_name"] = "bob".into();
            record.to_string()
        };
        let mut lines: Vec<String> = (0..3)
            .map(|_| peap(ago(10), "reject", Some("bad_password")))
            .collect();
        std::fs::write(dir.path().join("audit.jsonl"), lines.join("\n") + "\n").unwrap();
        let throttle = Throttle::new(settings());
        let now = Instant::now();
        replay(&throttle, dir.path(), now, now_utc).unwrap();
        assert_eq!(throttle.budgets_of(b"bob", now, now_utc)[0].failures, 3);
        assert_eq!(
            throttle.budgets_of(b"anonymous", now, now_utc)[0].failures,
            0
        );
        let bob = throttle.attempt(b"CORP\\bob", Some("198.51.100.7"), now_utc);
        assert_eq!(throttle.refusing(&bob, now), Some(ThrottleRule::User));

        lines.push(peap(ago(5), "accept", None));
        std::fs::write(dir.path().join("audit.jsonl"), lines.join("\n") + "\n").unwrap();
        let throttle = Throttle::new(settings());
        replay(&throttle, dir.path(), now, now_utc).unwrap();
        let budgets = throttle.budgets_of(b"bob", now, now_utc);
        assert_eq!(
            budgets[0].failures, 0,
            "the PEAP accept forgave bob's budget"
        );
        assert_eq!(
            budgets.len(),
            2,
            "and made the station familiar to bob: {budgets:?}"
        );
        assert_eq!(throttle.budgets_of(b"anonymous", now, now_utc).len(), 1);
    }

    #[test]
    fn segments_last_written_before_the_horizon_are_not_read() {
        let dir = tempfile::tempdir().unwrap();
        let old = dir.path().join("audit-00000000000000000001.jsonl");
        let line = decision(Utc::now(), "alice", "203.0.113.9", "accept", None);
        std::fs::write(&old, line + "\n").unwrap();
        let long_ago = std::time::SystemTime::now() - Duration::from_secs(31 * 86_400);
        std::fs::File::options()
            .write(true)
            .open(&old)
            .unwrap()
            .set_modified(long_ago)
            .unwrap();
        let throttle = Throttle::new(settings());
        let replayed = replay(&throttle, dir.path(), Instant::now(), Utc::now()).unwrap();
        assert_eq!(replayed, Replayed::default());
        assert_eq!(throttle.familiar_count(Utc::now()), 0);
    }
}
