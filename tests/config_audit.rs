//! The gateway's own configuration, audited: a `config` record at start and at every SIGHUP
//! reload, applied or refused, with the SHA-256 of the file and of every file it names (as
//! `sha256sum` would print them), the keys that changed, and who sent the signal; an edit
//! nobody applied is drift: one warning, one record per change, `adgate_config_drift` 1 until
//! a reload applies it. None of this needs a domain controller, so it runs anywhere.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

mod common;

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use common::{adgate_command, http_get, start_with_metrics_on, Adgate, Lab};
use serde_json::Value;
use sha2::{Digest, Sha256};

fn sha256_of(path: &Path) -> String {
    hex::encode(Sha256::digest(std::fs::read(path).unwrap()))
}

/// Sends SIGHUP to adgate with kill(1) and returns kill's pid, which adgate should name.
fn sighup(adgate: &Adgate) -> u32 {
    let mut kill = Command::new("kill")
        .args(["-HUP", &adgate.pid().to_string()])
        .spawn()
        .unwrap();
    let pid = kill.id();
    assert!(kill.wait().unwrap().success());
    pid
}

fn wait_for_config_records(adgate: &Adgate, count: usize) -> Vec<Value> {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let records = adgate.config_records();
        if records.len() >= count {
            return records;
        }
        assert!(Instant::now() < deadline, "{records:?}\n{}", adgate.log());
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// The hash a record gives for the file named by `key`.
fn file_hash<'a>(record: &'a Value, key: &str) -> &'a str {
    record["files"]
        .as_array()
        .unwrap()
        .iter()
        .find(|file| file["key"] == key)
        .unwrap_or_else(|| panic!("no {key} in {record}"))["sha256"]
        .as_str()
        .unwrap()
}

#[test]
fn start_an_edit_and_a_broken_edit_make_three_config_records_with_the_files_hashes() {
    let lab = Lab::without_dc();
    let mut adgate = Adgate::start_on(lab, |config| config);
    let config = adgate.config_path();
    let at_start = sha256_of(&config);
    let start = wait_for_config_records(&adgate, 1);

    let text = std::fs::read_to_string(&config).unwrap();
    std::fs::write(&config, format!("{text}\n[throttle]\nmax_failures = 3\n")).unwrap();
    let edited = sha256_of(&config);
    let first_sender = sighup(&adgate);
    wait_for_config_records(&adgate, 2);

    std::fs::write(&config, format!("{text}\n[throttle\nmax_failures = 3\n")).unwrap();
    let broken = sha256_of(&config);
    sighup(&adgate);
    let records = wait_for_config_records(&adgate, 3);
    assert_eq!(records[0], start[0]);

    let summary: Vec<(&str, &str, &str)> = records
        .iter()
        .map(|r| {
            (
                r["event"].as_str().unwrap(),
                r["result"].as_str().unwrap(),
                r["config_file"]["sha256"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        summary,
        [
            ("start", "applied", at_start.as_str()),
            ("reload", "applied", edited.as_str()),
            ("reload", "refused", broken.as_str()),
        ]
    );
    // A file that does not parse names no files: only its own hash is known.
    assert_eq!(records[2]["files"], serde_json::json!([]));
    for record in &records[..2] {
        assert_eq!(
            file_hash(record, "clients[0].secret_file"),
            sha256_of(&lab.radius_secret_file())
        );
        assert_eq!(
            file_hash(record, "directory.bind_password_file"),
            sha256_of(Path::new(lab.value("BIND_PASSWORD_FILE")))
        );
        assert_eq!(
            file_hash(record, "directory.ca_file"),
            sha256_of(Path::new(lab.value("CA_FILE")))
        );
    }
    assert_eq!(records[0]["trigger"]["source"], "start");
    assert!(records[0].get("changed_keys").is_none());
    assert_eq!(
        records[1]["changed_keys"],
        serde_json::json!(["throttle.max_failures"])
    );
    assert_eq!(records[1]["trigger"]["source"], "sighup");
    assert_eq!(records[1]["trigger"]["sender_pid"], first_sender);
    assert_eq!(
        records[1]["trigger"]["sender_uid"],
        nix::unistd::getuid().as_raw()
    );
    let refusal = records[2]["error"].as_str().unwrap();
    assert!(refusal.contains("TOML syntax error"), "{refusal}");
    assert!(
        records[2].get("changed_keys").is_none(),
        "a file that does not parse has no keys"
    );
    // Secret files by hash only.
    let secret = String::from_utf8(lab.radius_secret()).unwrap();
    assert!(!adgate.trail_text().contains(secret.trim()));

    adgate.stop();
    let (code, history) = adgate_command(&[
        "audit".as_ref(),
        "query".as_ref(),
        adgate.audit_dir().as_os_str(),
        "--type".as_ref(),
        "config".as_ref(),
    ]);
    assert_eq!(code, 0, "{history}");
    let lines: Vec<&str> = history.lines().collect();
    assert_eq!(lines.len(), 3, "{history}");
    assert!(
        lines[0].contains("config:start:applied  by=start"),
        "{history}"
    );
    assert!(
        lines[1].contains(&format!(
            "config:reload:applied  by=sighup pid={first_sender}"
        )) && lines[1].contains("changed_keys=throttle.max_failures"),
        "{history}"
    );
    assert!(
        lines[2].contains("config:reload:refused") && lines[2].contains(&broken),
        "{history}"
    );

    // The next start says what the previous run recorded last: the broken file's hash.
    std::fs::write(&config, format!("{text}\n[throttle]\nmax_failures = 3\n")).unwrap();
    adgate.restart();
    let records = wait_for_config_records(&adgate, 4);
    assert_eq!(records[3]["event"], "start");
    assert_eq!(records[3]["config_file"]["sha256"], edited.as_str());
    assert_eq!(records[3]["previous_config_sha256"], broken.as_str());
    assert_eq!(records[3]["changed_files"], serde_json::json!([]));
    adgate.stop();
}

fn drift_metric(metrics: std::net::SocketAddr) -> String {
    let (_, body) = http_get(metrics, "/metrics");
    body.lines()
        .find(|line| line.starts_with("adgate_config_drift "))
        .unwrap_or_else(|| panic!("no adgate_config_drift in {body}"))
        .to_owned()
}

#[test]
fn an_edit_without_a_reload_is_drift_recorded_once_until_a_reload_applies_it() {
    let (adgate, metrics) = start_with_metrics_on(Lab::without_dc(), |config| {
        config.replace(
            "ad_check_interval_s = 0\n",
            "ad_check_interval_s = 0\nconfig_check_interval_s = 5\n",
        )
    });
    assert_eq!(drift_metric(metrics), "adgate_config_drift 0");
    let config = adgate.config_path();
    let text = std::fs::read_to_string(&config).unwrap();
    std::fs::write(&config, format!("{text}\n[throttle]\nwindow_s = 60\n")).unwrap();
    let edited = sha256_of(&config);

    let records = wait_for_config_records(&adgate, 2);
    let drift = &records[1];
    assert_eq!(
        (&drift["event"], &drift["result"]),
        (&"drift".into(), &"not_applied".into())
    );
    assert_eq!(drift["config_file"]["sha256"], edited.as_str());
    assert_eq!(
        drift["changed_keys"],
        serde_json::json!(["throttle.window_s"])
    );
    assert_eq!(drift["trigger"]["source"], "config_check");
    assert_eq!(drift_metric(metrics), "adgate_config_drift 1");
    let warnings = adgate
        .log()
        .lines()
        .filter(|line| line.contains("WARN") && line.contains("nobody applied them"))
        .count();
    assert_eq!(warnings, 1, "{}", adgate.log());

    // Two more checks of the same files: no second record.
    std::thread::sleep(Duration::from_secs(11));
    assert_eq!(adgate.config_records().len(), 2);

    sighup(&adgate);
    let records = wait_for_config_records(&adgate, 3);
    assert_eq!(records[2]["result"], "applied");
    assert_eq!(drift_metric(metrics), "adgate_config_drift 0");
}
