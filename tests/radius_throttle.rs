//! Brute-force throttling as an admin and AD see it: after `max_failures` bad passwords the user
//! is rejected as `throttled` without AD being asked (its badPwdCount stops rising), even with the
//! right password, until the window has passed — except from a station the user got in from
//! lately (a familiar station), which a guesser elsewhere cannot lock; and a restart relearns
//! the familiar stations and the guesser's spent budget from the trail.
// An integration test: its helpers, outside the #[test] functions clippy.toml covers, may
// panic too (a panic is how a test fails).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

mod common;

use std::ffi::OsStr;
use std::time::Duration;

use adgate_radius::ResponseCode;
use common::{adgate_command, http_get, start_with_metrics, without_reject_delay, Adgate, Lab};

#[tokio::test]
#[ignore = "needs the lab AD: deploy/test.sh"]
async fn after_max_failures_logins_are_throttled_without_asking_ad_until_the_window_passes() {
    let lab = Lab::get();
    let adgate =
        Adgate::start_with(|config| config + "\n[throttle]\nmax_failures = 2\nwindow_s = 3\n");
    let before = lab.bad_pwd_count("lockme");
    for attempt in ["wrong-password-one", "wrong-password-two"] {
        let (response, record) = adgate.pap("lockme", attempt.as_bytes()).await;
        assert_eq!(response.code, ResponseCode::Reject);
        assert_eq!(record["reason"], "bad_password", "{record}");
    }
    // Another name form of the same user, then the right password: both throttled.
    let (response, record) = adgate.pap("CORP\\lockme", b"wrong-password-three").await;
    assert_eq!(response.code, ResponseCode::Reject);
    assert_eq!(record["reason"], "throttled", "{record}");
    assert!(
        record.get("account").is_none(),
        "AD was not asked: {record}"
    );
    let (response, record) = adgate.pap("lockme", &lab.fixture_password()).await;
    assert_eq!(response.code, ResponseCode::Reject);
    assert_eq!(record["reason"], "throttled", "{record}");
    assert_eq!(lab.bad_pwd_count("lockme"), before + 2);

    // The window is 3 s from the last counted failure; throttled attempts do not count.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let (response, record) = adgate.pap("lockme", &lab.fixture_password()).await;
    assert_eq!(response.code, ResponseCode::Accept, "{record}");
    assert_eq!(lab.bad_pwd_count("lockme"), 0);
}

/// alice's home, as strongSwan reports it (with the IKE port, which NAT changes).
const HOME: &str = "192.0.2.10[4500]";
const HOME_AGAIN: &str = "192.0.2.10[61000]";
const GUESSER: &str = "198.51.100.66";
const HOTEL: &str = "203.0.113.77";

#[tokio::test]
#[ignore = "needs the lab AD: deploy/test.sh"]
async fn a_guesser_elsewhere_locks_out_neither_alice_at_home_nor_her_ad_account() {
    let lab = Lab::get();
    let password = lab.fixture_password();
    // Rejects leave at once: this test counts them, it does not time them.
    let (mut adgate, metrics) = start_with_metrics(without_reject_delay);
    let (response, _) = adgate.pap_from(HOME, "alice", &password).await;
    assert_eq!(response.code, ResponseCode::Accept);

    for attempt in 1..=8 {
        let guess = format!("guess-number-{attempt}");
        let (response, record) = adgate.pap_from(GUESSER, "alice", guess.as_bytes()).await;
        assert_eq!(response.code, ResponseCode::Reject);
        let expected = if attempt <= 5 {
            "bad_password"
        } else {
            "throttled"
        };
        assert_eq!(record["reason"], expected, "attempt {attempt}: {record}");
    }
    let bad_pwd_count = lab.bad_pwd_count("alice");
    assert_eq!(
        bad_pwd_count, 5,
        "only the guesses within budget reached AD"
    );
    assert!(
        bad_pwd_count < 10,
        "below the lab domain's lockout threshold"
    );

    assert_refused_and_home_admitted(&adgate, &password).await;
    let (_, text) = http_get(metrics, "/metrics");
    for line in [
        r#"adgate_throttled_logins_total{rule="user"} 5"#,
        r#"adgate_throttled_logins_total{rule="station"} 0"#,
        r#"adgate_throttled_keys{kind="user"} 1"#,
        r#"adgate_throttled_keys{kind="calling_station"} 1"#,
        r#"adgate_throttled_keys{kind="user_at_station"} 0"#,
        "adgate_familiar_stations 1",
    ] {
        assert!(
            text.lines().any(|shown| shown == line),
            "missing {line:?} in:\n{text}"
        );
    }

    let (code, shown) = adgate_command(&[
        OsStr::new("explain"),
        OsStr::new("--config"),
        adgate.config_path().as_os_str(),
        OsStr::new("--user"),
        OsStr::new("alice"),
    ]);
    assert_eq!(code, 0, "{shown}");
    for line in [
        "  from stations not familiar to the user: 5 bad passwords: refused as throttled \
         (throttled_by user) for another",
        "  familiar stations (an accept within 30 days):",
        "    192.0.2.10  last accept ",
    ] {
        assert!(
            shown.lines().any(|shown| shown.starts_with(line)),
            "missing {line:?} in:\n{shown}"
        );
    }

    // A restart relearns both from the trail: home is still familiar, the guesser still spent.
    adgate.stop();
    adgate.restart();
    assert_refused_and_home_admitted(&adgate, &password).await;
    assert!(adgate
        .log()
        .contains("throttle relearnt from the audit trail"));
    assert_eq!(
        lab.bad_pwd_count("alice"),
        0,
        "her own login reset AD's count"
    );
}

/// The guesser's station and a stranger's (a hotel) are refused without asking AD; alice at home
/// gets in with her password (from another IKE port: the same station).
async fn assert_refused_and_home_admitted(adgate: &Adgate, password: &[u8]) {
    let (response, record) = adgate.pap_from(HOME_AGAIN, "alice", password).await;
    assert_eq!(response.code, ResponseCode::Accept, "{record}");
    for station in [GUESSER, HOTEL] {
        let (response, record) = adgate.pap_from(station, "alice", password).await;
        assert_eq!(response.code, ResponseCode::Reject, "{station}: {record}");
        assert_eq!(record["reason"], "throttled", "{station}: {record}");
        assert_eq!(record["throttled_by"], "user", "{station}: {record}");
        assert!(
            record.get("account").is_none(),
            "AD was not asked: {record}"
        );
    }
}
