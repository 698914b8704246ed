//! `/readyz` tells a load balancer or service manager whether adgate can decide logins: it
//! turns not-ready when the domain controller stops, and ready again when it is back, without
//! restarting adgate, within the readiness probe's interval (`adgate_authz::READINESS_PROBE`:
//! a check answers from what the probe found last, and opens no connection itself). This stops the lab DC, so it is the only test in its binary (cargo runs
//! test binaries one after another).
// An integration test: its helpers, outside the #[test] functions clippy.toml covers, may
// panic too (a panic is how a test fails).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

mod common;

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use adgate_authz::READINESS_PROBE;
use common::{http_get, restore_or_report, start_with_metrics, Lab};

/// Starts the DC again even if the test fails half-way.
struct RestartDc;

impl Drop for RestartDc {
    fn drop(&mut self) {
        restore_or_report(&["start"]);
    }
}

#[test]
#[ignore = "needs the lab AD: deploy/test.sh"]
fn readiness_follows_the_domain_controller() {
    let lab = Lab::get();
    let (_adgate, metrics) =
        start_with_metrics(|config| config.replace("timeout_ms = 3000", "timeout_ms = 1000"));
    let (status, body) = http_get(metrics, "/readyz");
    assert_eq!(status, 200, "{body}");
    assert!(
        body.starts_with("ready: domain controller ldaps://"),
        "{body}"
    );

    let restart = RestartDc;
    lab.lab_sh(&["stop"]);
    assert_eq!(
        readyz_once_its_status_is(metrics, 503),
        (
            503,
            "not ready: no domain controller reachable\n".to_owned()
        )
    );
    assert_eq!(http_get(metrics, "/healthz").0, 200, "alive all the same");

    drop(restart);
    let (status, body) = readyz_once_its_status_is(metrics, 200);
    assert_eq!(status, 200, "{body}");
}

/// `/readyz`, asked until it answers `status`, for at most two probe intervals and the
/// connect timeout (1 s here).
fn readyz_once_its_status_is(metrics: SocketAddr, status: u16) -> (u16, String) {
    let deadline = Instant::now() + 2 * READINESS_PROBE + Duration::from_secs(1);
    loop {
        let answer = http_get(metrics, "/readyz");
        if answer.0 == status || Instant::now() > deadline {
            return answer;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}
