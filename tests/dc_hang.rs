//! The domain controller in use hangs while logins go on (its samba processes are frozen with
//! SIGSTOP: connections stay open, connects still complete, nothing answers): one login waits
//! one timeout and is refused as `directory_unavailable`, and every later login goes to the
//! second DC at once. This freezes the lab DC, so it is the only test in its binary (cargo runs
//! test binaries one after another); it brings up the lab's second DC (`deploy/lab.sh dc2 up`).
// An integration test: its helpers, outside the #[test] functions clippy.toml covers, may
// panic too (a panic is how a test fails).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

mod common;

use std::process::Command;
use std::time::{Duration, Instant};

use adgate_radius::ResponseCode;
use common::{http_get, start_with_metrics, without_reject_delay, Lab};

/// The lab config's timeout (see tests/dc_failover.rs for why not shorter).
const TIMEOUT: Duration = Duration::from_secs(3);

/// Freezes dc1's samba (the whole process group) until dropped.
struct FrozenDc1 {
    process_group: String,
}

impl FrozenDc1 {
    fn freeze(lab: &Lab) -> FrozenDc1 {
        let pid = std::fs::read_to_string(lab.dir().join("samba.pid")).expect("dc1's pid file");
        let frozen = FrozenDc1 {
            process_group: format!("-{}", pid.trim()),
        };
        frozen.signal("-STOP");
        frozen
    }

    fn signal(&self, signal: &str) {
        let status = Command::new("kill")
            .args([signal, "--", &self.process_group])
            .status()
            .expect("run kill");
        assert!(
            status.success(),
            "kill {signal} {} failed",
            self.process_group
        );
    }
}

impl Drop for FrozenDc1 {
    fn drop(&mut self) {
        self.signal("-CONT");
    }
}

#[tokio::test]
#[ignore = "needs the lab AD: deploy/test.sh"]
async fn a_hanging_dc_costs_one_login_one_timeout() {
    let lab = Lab::get();
    lab.lab_sh(&["dc2", "up"]);
    let (dc1, dc2) = (lab.value("LDAP_URL"), lab.value("DC2_LDAP_URL"));
    // frank's rejects leave as soon as decided: the loop times the directory, not the delay.
    let (adgate, metrics) = start_with_metrics(|config| {
        without_reject_delay(config).replace(
            &format!("urls = [\"{dc1}\"]"),
            &format!("urls = [\"{dc1}\", \"{dc2}\"]"),
        )
    });
    let password = lab.fixture_password();
    assert_eq!(
        adgate.pap("alice", &password).await.0.code,
        ResponseCode::Accept
    );

    let frozen = FrozenDc1::freeze(lab);
    let frozen_at = Instant::now();
    let mut disrupted = Vec::new();
    let mut logins = 0;
    while frozen_at.elapsed() < TIMEOUT * 3 {
        for (user, reason) in [("alice", "-"), ("frank", "telework_off")] {
            let started = Instant::now();
            let (response, record) = adgate.pap(user, &password).await;
            let took = started.elapsed();
            logins += 1;
            let got = record["reason"].as_str().unwrap_or("-");
            if got == "directory_unavailable" || took > TIMEOUT / 2 {
                disrupted.push((user, took, got.to_owned()));
                assert_eq!(response.code, ResponseCode::Reject, "{record}");
            } else {
                assert_eq!(got, reason, "{record}");
                let accept = user == "alice";
                assert_eq!(response.code == ResponseCode::Accept, accept, "{record}");
            }
        }
    }
    assert!(
        disrupted.len() <= 1,
        "{} of {logins} logins disrupted: {disrupted:?}",
        disrupted.len()
    );
    assert!(
        disrupted.iter().all(|(_, took, _)| *took < TIMEOUT * 2),
        "{disrupted:?}"
    );
    assert!(logins >= 10, "only {logins} logins in {:?}", TIMEOUT * 3);

    let text = http_get(metrics, "/metrics").1;
    for line in [
        format!(r#"adgate_ldap_dc_up{{dc="{dc1}"}} 0"#),
        format!(r#"adgate_ldap_dc_up{{dc="{dc2}"}} 1"#),
    ] {
        assert!(
            text.lines().any(|shown| shown == line),
            "no {line:?} in:\n{text}"
        );
    }
    let timeouts = format!(r#"adgate_ldap_errors_total{{dc="{dc1}",kind="timeout"}} "#);
    let count: u64 = text
        .lines()
        .find_map(|line| line.strip_prefix(&timeouts)?.parse().ok())
        .unwrap_or(0);
    assert!(count >= 1, "{text}");
    drop(frozen);
}
