//! When AD goes away adgate fails closed within its timeout, and when AD comes back logins work
//! again without restarting adgate. This stops the lab DC, so it is the only test in its binary
//! (cargo runs test binaries one after another).
// An integration test: its helpers, outside the #[test] functions clippy.toml covers, may
// panic too (a panic is how a test fails).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

mod common;

use std::time::{Duration, Instant};

use adgate_radius::ResponseCode;
use common::{restore_or_report, Adgate, Lab};

/// Starts the DC again even if the test fails half-way.
struct RestartDc;

impl Drop for RestartDc {
    fn drop(&mut self) {
        restore_or_report(&["start"]);
    }
}

#[tokio::test]
#[ignore = "needs the lab AD: deploy/test.sh"]
async fn logins_fail_closed_while_ad_is_down_and_recover_when_it_returns() {
    let lab = Lab::get();
    let adgate =
        Adgate::start_with(|config| config.replace("timeout_ms = 3000", "timeout_ms = 1500"));
    let password = lab.fixture_password();
    assert_eq!(
        adgate.pap("alice", &password).await.0.code,
        ResponseCode::Accept
    );

    let restart = RestartDc;
    lab.lab_sh(&["stop"]);
    let started = Instant::now();
    let (response, record) = adgate.pap("alice", &password).await;
    let waited = started.elapsed();
    assert_eq!(response.code, ResponseCode::Reject);
    assert_eq!(record["reason"], "directory_unavailable", "{record}");
    // One search timeout, plus a reconnect attempt bounded by the same timeout.
    assert!(
        waited < Duration::from_millis(3 * 1500 + 500),
        "took {waited:?}"
    );

    drop(restart);
    let (response, record) = adgate.pap("alice", &password).await;
    assert_eq!(response.code, ResponseCode::Accept, "{record}");
}
