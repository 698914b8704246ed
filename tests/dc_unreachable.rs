//! A first domain controller that never answers (its address drops every packet, as a
//! powered-off DC does) costs the first login one connect timeout, once: adgate marks it down
//! and every later login, new connections included, goes straight to the DC that works. The
//! metrics and `/readyz` agree with what the logins saw. The lab routes `UNREACHABLE_DC_IP`
//! into the void; nothing is stopped, so this file may hold more tests.
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
use common::{http_get, start_with_metrics, Lab};

/// The lab config's `directory.timeout_ms`: shorter ones make a loaded machine's DC miss its
/// server-side time limit, which is not what this test is about.
const TIMEOUT: Duration = Duration::from_millis(3000);

/// The value of the sample `name` (with its labels) in a classic-text scrape.
fn sample(text: &str, name: &str) -> Option<f64> {
    text.lines()
        .find_map(|line| line.strip_prefix(name)?.strip_prefix(' ')?.parse().ok())
}

#[tokio::test]
#[ignore = "needs the lab AD: deploy/test.sh"]
async fn an_unreachable_first_dc_costs_one_timeout_once() {
    let lab = Lab::get();
    let dead = format!("ldaps://{}:636", lab.value("UNREACHABLE_DC_IP"));
    let live = lab.value("LDAP_URL");
    let (adgate, metrics) = start_with_metrics(|config| {
        assert!(config.contains(&format!("timeout_ms = {}", TIMEOUT.as_millis())));
        config.replace(
            &format!("urls = [\"{live}\"]"),
            &format!("urls = [\"{dead}\", \"{live}\"]"),
        )
    });
    let started = Instant::now();
    assert_eq!(adgate.login("alice").await, ResponseCode::Accept);
    let first = started.elapsed();
    assert!(
        first >= TIMEOUT,
        "the first login took {first:?}: was the unreachable DC tried at all?"
    );
    assert!(first < TIMEOUT * 2, "the first login took {first:?}");

    // Sequential logins reuse connections; concurrent ones need new user-bind connections,
    // which must not try the dead DC either.
    for _ in 0..5 {
        let started = Instant::now();
        assert_eq!(adgate.login("alice").await, ResponseCode::Accept);
        let took = started.elapsed();
        assert!(took < TIMEOUT / 3, "a later login took {took:?}");
    }
    let started = Instant::now();
    let codes = concurrent_logins(&adgate, &["alice", "grace"].repeat(4)).await;
    let took = started.elapsed();
    assert!(
        codes.iter().all(|code| *code == ResponseCode::Accept),
        "{codes:?}"
    );
    assert!(took < TIMEOUT / 2, "8 concurrent logins took {took:?}");

    let (status, text) = http_get(metrics, "/metrics");
    assert_eq!(status, 200);
    let dead_label = format!("{{dc=\"{dead}\"}}");
    let live_label = format!("{{dc=\"{live}\"}}");
    assert_eq!(
        sample(&text, &format!("adgate_ldap_dc_up{dead_label}")),
        Some(0.0),
        "{text}"
    );
    assert_eq!(
        sample(&text, &format!("adgate_ldap_dc_up{live_label}")),
        Some(1.0),
        "{text}"
    );
    let timeouts = format!("adgate_ldap_errors_total{{dc=\"{dead}\",kind=\"timeout\"}}");
    assert!(sample(&text, &timeouts) >= Some(1.0), "{text}");
    assert_eq!(
        sample(&text, &format!("adgate_ldap_connections{dead_label}")),
        Some(0.0)
    );
    assert!(sample(&text, &format!("adgate_ldap_connections{live_label}")) >= Some(2.0));

    // Readiness asks the DCs in the same order as logins: the dead one is not waited for.
    let started = Instant::now();
    let (status, body) = http_get(metrics, "/readyz");
    assert_eq!(
        (status, body),
        (
            200,
            format!("ready: domain controller {live} reachable, audit trail writable\n")
        )
    );
    assert!(
        started.elapsed() < TIMEOUT / 2,
        "/readyz took {:?}",
        started.elapsed()
    );

    // The transition is logged once, not per login (nor per background probe).
    let log = adgate.log();
    let downs = log
        .lines()
        .filter(|line| line.contains("domain controller down") && line.contains(&dead))
        .count();
    assert_eq!(downs, 1, "{log}");
}

/// Logs every user in `users` in at once, each from a NAS socket of its own.
async fn concurrent_logins(adgate: &common::Adgate, users: &[&str]) -> Vec<ResponseCode> {
    let password = Lab::get().fixture_password();
    let logins: Vec<_> = users
        .iter()
        .map(|user| {
            let (nas, user, password) = (adgate.nas(), user.to_string(), password.clone());
            tokio::spawn(async move {
                let answer = nas.pap(user.as_bytes(), &password).await;
                answer.expect("an answer").code
            })
        })
        .collect();
    let mut codes = Vec::new();
    for login in logins {
        codes.push(login.await.expect("login task"));
    }
    codes
}
