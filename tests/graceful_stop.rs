//! SIGTERM while requests wait on AD: adgate stops reading, answers every request it had read,
//! flushes the trail (one record per answer, chain intact) and exits 0. To hold requests in
//! flight for certain, the lab DC is frozen (SIGSTOP) while they are sent and thawed after the
//! signal, so this is the only test in its binary (cargo runs test binaries one after another).
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
use std::process::Command;
use std::time::{Duration, Instant};

use adgate_radius::{ClientOptions, RadiusClient, ResponseCode, SharedSecret};
use common::{adgate_command, http_get, start_with_metrics, Lab};

const IN_FLIGHT: usize = 32;

/// The lab DC's process group, stopped (SIGSTOP) until dropped: AD accepts connections but
/// answers nothing, as a DC stuck under load would.
struct FrozenDc(String);

impl FrozenDc {
    fn freeze(lab: &Lab) -> FrozenDc {
        let pid = std::fs::read_to_string(lab.dir().join("samba.pid")).expect("samba.pid");
        let group = format!("-{}", pid.trim());
        signal_group("STOP", &group);
        FrozenDc(group)
    }
}

impl Drop for FrozenDc {
    fn drop(&mut self) {
        signal_group("CONT", &self.0);
    }
}

fn signal_group(signal: &str, group: &str) {
    let status = Command::new("kill")
        .args([&format!("-{signal}"), "--", group])
        .status()
        .expect("run kill");
    assert!(status.success(), "kill -{signal} -- {group} failed");
}

/// A NAS of its own (own source port) that waits long enough for a thawed DC.
fn patient_nas(server: SocketAddr, timeout: Duration) -> RadiusClient {
    let options = ClientOptions {
        timeout,
        retries: 0,
        send_message_authenticator: true,
        nas_identifier: Some("test-nas".into()),
    };
    RadiusClient::new(
        server,
        SharedSecret::new(Lab::get().radius_secret()),
        options,
    )
    .expect("NAS socket")
}

fn in_flight(metrics: SocketAddr) -> usize {
    let (_, body) = http_get(metrics, "/metrics");
    body.lines()
        .find_map(|line| line.strip_prefix("adgate_requests_in_flight "))
        .and_then(|value| value.trim().parse().ok())
        .expect("adgate_requests_in_flight on /metrics")
}

#[tokio::test]
#[ignore = "needs the lab AD: deploy/test.sh"]
async fn sigterm_answers_every_request_in_flight_flushes_the_trail_and_exits_0() {
    let lab = Lab::get();
    let password = lab.fixture_password();
    // Long enough that no request times out at AD while the DC is frozen.
    let (mut adgate, metrics) =
        start_with_metrics(|config| config.replace("timeout_ms = 3000", "timeout_ms = 10000"));
    assert_eq!(adgate.login("alice").await, ResponseCode::Accept);

    let frozen = FrozenDc::freeze(lab);
    let logins: Vec<_> = (0..IN_FLIGHT)
        .map(|_| {
            let nas = patient_nas(adgate.address, Duration::from_secs(20));
            let password = password.clone();
            tokio::spawn(async move { nas.pap(b"alice", &password).await })
        })
        .collect();
    let deadline = Instant::now() + Duration::from_secs(5);
    while in_flight(metrics) < IN_FLIGHT && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(
        in_flight(metrics),
        IN_FLIGHT,
        "adgate has read every request and waits on AD"
    );

    adgate.signal("TERM");
    // Stopped receiving: a request sent now is not read, while the others are still decided.
    let deadline = Instant::now() + Duration::from_secs(5);
    while !adgate.log().contains("stopping: no new requests") {
        assert!(
            Instant::now() < deadline,
            "no stop in the log:\n{}",
            adgate.log()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let late = patient_nas(adgate.address, Duration::from_millis(1500))
        .pap(b"alice", &password)
        .await;
    assert!(late.is_err(), "a request after SIGTERM was answered");
    assert!(
        adgate.wait_for_exit(Duration::ZERO).is_none(),
        "adgate exited before answering what it had read:\n{}",
        adgate.log()
    );
    drop(frozen);

    for login in logins {
        let answer = login
            .await
            .unwrap()
            .expect("an answer to a request read before SIGTERM");
        assert_eq!(answer.code, ResponseCode::Accept);
    }
    let status = adgate
        .wait_for_exit(Duration::from_secs(30))
        .expect("adgate exits once its requests are answered");
    assert!(status.success(), "exit {status}:\n{}", adgate.log());
    let log = adgate.log();
    assert!(
        log.lines().any(|line| line.trim_end().ends_with("stopped")),
        "{log}"
    );
    assert!(!log.contains("abandoned"), "{log}");

    let decisions: Vec<_> = adgate
        .records()
        .into_iter()
        .filter(|record| record["user_name"] == "alice")
        .collect();
    assert_eq!(decisions.len(), 1 + IN_FLIGHT, "one record per answer");
    assert!(decisions.iter().all(|record| record["verdict"] == "accept"));
    let (code, output) = adgate_command(&[
        "audit".as_ref(),
        "verify".as_ref(),
        adgate.audit_dir().as_ref(),
    ]);
    assert_eq!(code, 0, "{output}");
    assert!(output.contains("intact"), "{output}");
}
