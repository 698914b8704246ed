//! What an AD admin expects adgate to find by itself, against the lab DC over real RADIUS: the
//! NetBIOS domain name for `CORP\alice` without `netbios_domain`, and the domain controllers
//! from `[directory] domain` without `urls` (DNS SRV, answered by the lab DC's own DNS inside
//! the lab namespace). What was found is in the log.
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
use common::{Adgate, Lab};

/// The lab config without its `netbios_domain` line.
fn without_netbios_domain(config: String) -> String {
    let lab = Lab::get();
    let line = format!("netbios_domain = \"{}\"\n", lab.value("NETBIOS_DOMAIN"));
    assert!(config.contains(&line), "the lab config sets netbios_domain");
    config.replace(&line, "")
}

/// The lab config with `domain` instead of `urls`, and no `netbios_domain`.
fn with_only_the_domain(config: String) -> String {
    let lab = Lab::get();
    let urls = format!("urls = [\"{}\"]\n", lab.value("LDAP_URL"));
    assert!(config.contains(&urls), "the lab config lists the DC");
    let domain = format!("domain = \"{}\"\n", lab.value("DNS_DOMAIN"));
    without_netbios_domain(config).replace(&urls, &domain)
}

/// Waits until adgate's log contains `text` (what is found at start is found in the
/// background).
fn wait_for_log(adgate: &Adgate, text: &str) -> String {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let log = adgate.log();
        if log.contains(text) {
            return log;
        }
        assert!(Instant::now() < deadline, "no {text:?} in the log:\n{log}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[tokio::test]
#[ignore = "needs the lab AD: deploy/test.sh"]
async fn corp_alice_gets_in_with_the_netbios_name_read_from_ad() {
    let adgate = Adgate::start_with(without_netbios_domain);
    let log = wait_for_log(&adgate, "NetBIOS domain name read from AD");
    assert!(log.contains("netbios_domain=CORP"), "{log}");
    for user in ["CORP\\alice", "corp\\alice"] {
        let (response, record) = adgate.pap(user, &Lab::get().fixture_password()).await;
        assert_eq!(response.code, ResponseCode::Accept, "{user}: {record}");
    }
    let (response, record) = adgate
        .pap("EVIL\\alice", &Lab::get().fixture_password())
        .await;
    assert_eq!(response.code, ResponseCode::Reject);
    assert_eq!(record["reason"], "unknown_user", "{record}");
}

#[tokio::test]
#[ignore = "needs the lab AD: deploy/test.sh"]
async fn a_config_with_only_the_domain_finds_the_dc_and_logs_alice_in() {
    let adgate = Adgate::start_with(with_only_the_domain);
    let log = wait_for_log(&adgate, "domain controllers found in DNS");
    assert!(
        log.contains("ldaps://dc1.corp.example.test:636 (priority 0, weight 100)"),
        "the DC found is in the log:\n{log}"
    );
    for user in ["alice", "CORP\\alice"] {
        let (response, record) = adgate.pap(user, &Lab::get().fixture_password()).await;
        assert_eq!(response.code, ResponseCode::Accept, "{user}: {record}");
    }
    let (response, record) = adgate.pap("frank", &Lab::get().fixture_password()).await;
    assert_eq!(response.code, ResponseCode::Reject);
    assert_eq!(record["reason"], "telework_off", "{record}");
}

#[test]
fn check_config_says_where_the_dcs_come_from() {
    let dir = tempfile::tempdir().unwrap();
    let lab = Lab::without_dc();
    let config = common::lab_config(lab, 1812, 1813, &dir.path().join("audit"));
    let urls = format!("urls = [\"{}\"]\n", lab.value("LDAP_URL"));
    let path = dir.path().join("adgate.toml");
    std::fs::write(
        &path,
        config.replace(&urls, "domain = \"corp.example.test\"\n"),
    )
    .unwrap();
    let (code, output) =
        common::adgate_command(&["check-config".as_ref(), "--config".as_ref(), path.as_ref()]);
    assert_eq!(code, 0, "{output}");
    assert!(
        output.contains("the domain controllers DNS names for corp.example.test"),
        "{output}"
    );
    std::fs::write(&path, config.replace(&urls, "")).unwrap();
    let (code, output) =
        common::adgate_command(&["check-config".as_ref(), "--config".as_ref(), path.as_ref()]);
    assert_ne!(code, 0, "{output}");
    assert!(
        output.contains("directory.urls / directory.domain"),
        "{output}"
    );
}
