//! Brute-force throttling as an admin and AD see it: after `max_failures` bad passwords the user
//! is rejected as `throttled` without AD being asked (its badPwdCount stops rising), even with the
//! right password, until the window has passed.
// An integration test: its helpers, outside the #[test] functions clippy.toml covers, may
// panic too (a panic is how a test fails).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

mod common;

use std::time::Duration;

use adgate_radius::ResponseCode;
use common::{Adgate, Lab};

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
