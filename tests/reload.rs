//! SIGHUP reloads the configuration while logins go on: a good file takes effect (a client's
//! secret file is re-read, a client added), a bad one — a syntax error, a missing CA file, a
//! changed listen address — is refused with a log line naming the problem and the previous
//! configuration keeps serving. No login that should pass fails at any point. Certificate
//! logins trust the CA and CRL files as they are at the last reload, and the throttle keeps its
//! counts across a reload.
// An integration test: its helpers, outside the #[test] functions clippy.toml covers, may
// panic too (a panic is how a test fails).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

mod common;
mod eap_support;

use std::net::{Ipv6Addr, SocketAddr};
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use adgate_certs::test_pki::{TestCa, UserCertificate};
use adgate_radius::{ClientOptions, RadiusClient, ResponseCode, SharedSecret};
use common::{http_get, start_with_metrics, Adgate, Lab};
use eap_support::{eap_record, eapol_test, start_adgate, TestPki};

const LOOP_NAS: usize = 4;
const OLD_SECRET: &[u8] = b"the-ipv6-nas-old-secret";
const NEW_SECRET: &[u8] = b"the-ipv6-nas-new-secret";

/// alice logging in over and over from `LOOP_NAS` NAS at once, counting what comes back.
struct LoginLoop {
    running: Arc<AtomicBool>,
    accepted: Arc<AtomicUsize>,
    failures: Arc<Mutex<Vec<String>>>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl LoginLoop {
    fn start(adgate: &Adgate) -> LoginLoop {
        let running = Arc::new(AtomicBool::new(true));
        let accepted = Arc::new(AtomicUsize::new(0));
        let failures = Arc::new(Mutex::new(Vec::new()));
        let tasks = (0..LOOP_NAS)
            .map(|_| {
                let nas = adgate.nas();
                let password = Lab::get().fixture_password();
                let (running, accepted, failures) =
                    (running.clone(), accepted.clone(), failures.clone());
                tokio::spawn(async move {
                    while running.load(Ordering::Relaxed) {
                        match nas.pap(b"alice", &password).await {
                            Ok(answer) if answer.code == ResponseCode::Accept => {
                                accepted.fetch_add(1, Ordering::Relaxed);
                            }
                            other => failures.lock().unwrap().push(format!("{other:?}")),
                        }
                    }
                })
            })
            .collect();
        LoginLoop {
            running,
            accepted,
            failures,
            tasks,
        }
    }

    fn accepted(&self) -> usize {
        self.accepted.load(Ordering::Relaxed)
    }

    /// Waits until `more` logins have been accepted since the call.
    async fn wait_for(&self, more: usize) {
        let target = self.accepted() + more;
        let deadline = Instant::now() + Duration::from_secs(20);
        while self.accepted() < target && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        assert!(self.accepted() >= target, "the login loop is stuck");
    }

    async fn stop(self) -> (usize, Vec<String>) {
        self.running.store(false, Ordering::Relaxed);
        for task in self.tasks {
            task.await.unwrap();
        }
        let failures = self.failures.lock().unwrap().clone();
        (self.accepted.load(Ordering::Relaxed), failures)
    }
}

/// The lab config, also listening on [::1] for a second client (`vpn6`, whose secret is in
/// `secret_file`), so one NAS can change secrets while the loop's NAS (127.0.0.1) does not.
fn with_ipv6_client(config: &str, secret_file: &Path) -> String {
    let (before, after) = config
        .split_once("auth_listen = [\"127.0.0.1:")
        .expect("auth_listen");
    let port = &after[..after.find('"').expect("port")];
    format!(
        "{before}auth_listen = [\"[::1]:{port}\", \"127.0.0.1:{after}\n\
         [[clients]]\nname = \"vpn6\"\naddress = \"::1/128\"\nsecret_file = \"{}\"\n",
        secret_file.display()
    )
}

/// A NAS on [::1] with `secret`, giving up after `timeout` (no retransmission).
fn ipv6_nas(adgate: &Adgate, secret: &[u8], timeout: Duration) -> RadiusClient {
    let server = SocketAddr::from((Ipv6Addr::LOCALHOST, adgate.address.port()));
    let options = ClientOptions {
        timeout,
        retries: 0,
        send_message_authenticator: true,
        nas_identifier: Some("test-nas-v6".into()),
    };
    RadiusClient::new(server, SharedSecret::new(secret.to_vec()), options).expect("NAS socket")
}

/// Rewrites the config, sends SIGHUP and waits for the `count`th log line containing `outcome`;
/// returns that line.
async fn reload(adgate: &Adgate, config: &str, outcome: &str, count: usize) -> String {
    std::fs::write(adgate.config_path(), config).expect("write config");
    adgate.signal("HUP");
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let log = adgate.log();
        let lines: Vec<&str> = log.lines().filter(|l| l.contains(outcome)).collect();
        if lines.len() >= count {
            return lines[count - 1].to_owned();
        }
        assert!(
            Instant::now() < deadline,
            "no {outcome:?} after SIGHUP:\n{log}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn metric(metrics: SocketAddr, name: &str) -> f64 {
    let (_, body) = http_get(metrics, "/metrics");
    body.lines()
        .find_map(|line| line.strip_prefix(name)?.strip_prefix(' '))
        .and_then(|value| value.trim().parse().ok())
        .unwrap_or_else(|| panic!("{name} not on /metrics:\n{body}"))
}

#[tokio::test]
#[ignore = "needs the lab AD: deploy/test.sh"]
async fn reloads_apply_good_files_refuse_bad_ones_and_never_fail_a_login() {
    let lab = Lab::get();
    let password = lab.fixture_password();
    let dir = tempfile::tempdir().unwrap();
    let secret_file = dir.path().join("vpn6.secret");
    std::fs::write(&secret_file, OLD_SECRET).unwrap();
    let mut original = String::new();
    let (adgate, metrics) = start_with_metrics(|config| {
        original = with_ipv6_client(&config, &secret_file);
        original.clone()
    });
    let loaded_at_start = metric(
        metrics,
        "adgate_config_last_reload_success_timestamp_seconds",
    );
    let answer = ipv6_nas(&adgate, OLD_SECRET, Duration::from_secs(6))
        .pap(b"alice", &password)
        .await
        .expect("vpn6 answered with its first secret");
    assert_eq!(answer.code, ResponseCode::Accept);

    let logins = LoginLoop::start(&adgate);
    logins.wait_for(8).await;

    // A good file: vpn6's secret file holds a new secret, a client is added, a limit changes.
    std::fs::write(&secret_file, NEW_SECRET).unwrap();
    let good = format!(
        "{}\n[[clients]]\nname = \"vpn3\"\naddress = \"10.99.0.0/16\"\n\
         secret = \"another-nas-secret-0123\"\n\n[throttle]\nmax_failures = 4\n",
        original
    );
    let applied = reload(&adgate, &good, "configuration reloaded", 1).await;
    assert!(applied.contains("3 client(s), added vpn3"), "{applied}");
    assert!(!applied.contains("another-nas-secret"), "{applied}");
    let answer = ipv6_nas(&adgate, NEW_SECRET, Duration::from_secs(6))
        .pap(b"alice", &password)
        .await
        .expect("vpn6 answered with its new secret");
    assert_eq!(answer.code, ResponseCode::Accept);
    // RFC 2865 §3 / RFC 3579 §3.2: a request signed with the old secret is silently discarded.
    let old = ipv6_nas(&adgate, OLD_SECRET, Duration::from_millis(1500))
        .pap(b"alice", &password)
        .await;
    assert!(old.is_err(), "the old secret still got an answer: {old:?}");
    let deadline = Instant::now() + Duration::from_secs(5);
    while !adgate.records().iter().any(|record| {
        record["verdict"] == "discard"
            && record["reason"] == "bad_message_authenticator"
            && record["nas"]["name"] == "vpn6"
    }) {
        assert!(
            Instant::now() < deadline,
            "no bad_message_authenticator record for vpn6"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    logins.wait_for(8).await;

    // Bad files, each refused with the problem named; the good file's settings stay.
    let syntax_error = format!("{good}\n[throttle\n");
    let refused = reload(&adgate, &syntax_error, "reload refused", 1).await;
    assert!(refused.contains("TOML parse error at line"), "{refused}");
    assert!(
        refused.contains(&adgate.config_path().display().to_string()),
        "{refused}"
    );
    logins.wait_for(8).await;

    let missing_ca = good.replace(lab.value("CA_FILE"), "/nonexistent/missing-ca.pem");
    let refused = reload(&adgate, &missing_ca, "reload refused", 2).await;
    assert!(refused.contains("/nonexistent/missing-ca.pem"), "{refused}");
    assert!(refused.contains("ca_file"), "{refused}");
    logins.wait_for(8).await;

    let moved = good.replace("auth_listen = [", "auth_listen = [\"127.0.0.1:1\", ");
    let refused = reload(&adgate, &moved, "reload refused", 3).await;
    assert!(
        refused.contains("server.auth_listen changed, which needs a restart"),
        "{refused}"
    );
    logins.wait_for(8).await;

    let answer = ipv6_nas(&adgate, NEW_SECRET, Duration::from_secs(6))
        .pap(b"alice", &password)
        .await
        .expect("vpn6 still answered with the secret of the last good file");
    assert_eq!(answer.code, ResponseCode::Accept);

    let (accepted, failures) = logins.stop().await;
    assert!(
        failures.is_empty(),
        "logins that should pass failed: {failures:?}"
    );
    assert!(accepted >= 40, "only {accepted} logins ran");

    assert_eq!(
        metric(metrics, "adgate_config_reloads_total{result=\"applied\"}"),
        1.0
    );
    assert_eq!(
        metric(metrics, "adgate_config_reloads_total{result=\"refused\"}"),
        3.0
    );
    assert!(
        metric(
            metrics,
            "adgate_config_last_reload_success_timestamp_seconds"
        ) > loaded_at_start,
        "the last good load is the reload, after the start"
    );
}

#[tokio::test]
#[ignore = "needs the lab AD: deploy/test.sh"]
async fn a_reload_reads_changed_ca_and_crl_files_for_certificate_logins() {
    let pki = TestPki::new();
    let adgate = start_adgate(&pki, "");
    let other_ca = TestCa::named("adgate second user CA");
    let alice = pki.issue(
        &other_ca,
        "alice-other-ca",
        &UserCertificate::named("alice").upn("alice@corp.example.test"),
    );
    let refused = eapol_test(&adgate, &pki, "alice@corp.example.test", &alice, true);
    assert!(!refused.success, "a CA not in ca_file was trusted");

    // The same ca_file now holds both CAs; a second CRL file covers the new one.
    std::fs::write(pki.path("ca.pem"), pki.ca.pem() + &other_ca.pem()).unwrap();
    let other_crl = pki.path("other-ca.crl");
    std::fs::write(&other_crl, other_ca.crl_pem(&[])).unwrap();
    let config = std::fs::read_to_string(adgate.config_path()).unwrap();
    let ca_crl = pki.path("ca.crl").display().to_string();
    let both_crls = format!("{ca_crl}\", \"{}", other_crl.display());
    reload(
        &adgate,
        &config.replace(&ca_crl, &both_crls),
        "configuration reloaded",
        1,
    )
    .await;
    let accepted = eapol_test(&adgate, &pki, "alice@corp.example.test", &alice, true);
    assert!(accepted.success, "{}\n{}", accepted.output, adgate.log());
    assert_eq!(
        eap_record(&adgate, "alice@corp.example.test")["certificate"]["issuer"],
        "CN=adgate second user CA"
    );
}

#[tokio::test]
#[ignore = "needs the lab AD: deploy/test.sh"]
async fn a_reload_does_not_reset_a_guessers_budget() {
    let lab = Lab::get();
    let throttle = "\n[throttle]\nmax_failures = 2\nwindow_s = 4\n";
    let adgate = Adgate::start_with(|config| config + throttle);
    for attempt in ["wrong-password-one", "wrong-password-two"] {
        let (response, record) = adgate.pap("lockme", attempt.as_bytes()).await;
        assert_eq!(response.code, ResponseCode::Reject);
        assert_eq!(record["reason"], "bad_password", "{record}");
    }
    let config = std::fs::read_to_string(adgate.config_path()).unwrap();
    let tightened = config.replace("window_s = 4", "window_s = 5");
    reload(&adgate, &tightened, "configuration reloaded", 1).await;
    let (response, record) = adgate.pap("lockme", &lab.fixture_password()).await;
    assert_eq!(response.code, ResponseCode::Reject);
    assert_eq!(record["reason"], "throttled", "{record}");

    // Leave lockme as found: once the window has passed, a good login clears AD's count.
    tokio::time::sleep(Duration::from_secs(5)).await;
    let (response, record) = adgate.pap("lockme", &lab.fixture_password()).await;
    assert_eq!(response.code, ResponseCode::Accept, "{record}");
    assert_eq!(lab.bad_pwd_count("lockme"), 0);
}
