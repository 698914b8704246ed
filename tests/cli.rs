//! What an admin sees from the command line when the setup is wrong: a non-zero exit and a
//! message naming the problem (the key and line, or the address that cannot be used).
// An integration test: its helpers, outside the #[test] functions clippy.toml covers, may
// panic too (a panic is how a test fails).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

mod common;

use std::path::Path;
use std::process::Command;

use common::{free_udp_port, lab_config, Lab};

/// Runs adgate with `args` and a config on `port` as changed by `edit` (the lab's settings,
/// without its DC: nothing here reaches one); returns the exit code and what it printed.
fn run_with_config(
    args: &[&str],
    port: u16,
    edit: impl FnOnce(String) -> String,
) -> (Option<i32>, String) {
    let dir = tempfile::tempdir().unwrap();
    let config = lab_config(
        Lab::without_dc(),
        port,
        free_udp_port(),
        &dir.path().join("audit"),
    );
    let path = dir.path().join("adgate.toml");
    std::fs::write(&path, edit(config)).unwrap();
    let output = Command::new(env!("CARGO_BIN_EXE_adgate"))
        .args(args)
        .arg("--config")
        .arg(&path)
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    (output.status.code(), text)
}

#[test]
fn check_config_accepts_a_valid_config() {
    let (code, output) = run_with_config(&["check-config"], 1812, |config| config);
    assert_eq!(code, Some(0), "{output}");
    assert!(output.contains("OK"), "{output}");
}

#[test]
fn check_config_warns_when_disconnects_are_configured_without_accounting() {
    let with_disconnect = |config: String| {
        config.replacen(
            "require_message_authenticator = true\n",
            "require_message_authenticator = true\n[clients.disconnect]\naddress = \"127.0.0.1:3799\"\n",
            1,
        )
    };
    let (code, output) = run_with_config(&["check-config"], 1812, with_disconnect);
    assert_eq!(code, Some(0), "{output}");
    assert!(!output.contains("warning"), "{output}");
    let (code, output) = run_with_config(&["check-config"], 1812, |config| {
        let config = with_disconnect(config);
        let acct_listen = config
            .lines()
            .find(|line| line.starts_with("acct_listen"))
            .expect("the lab config listens for accounting")
            .to_owned();
        config.replace(&acct_listen, "")
    });
    assert_eq!(code, Some(0), "{output}");
    assert!(
        output
            .contains("warning: a client has [clients.disconnect] but server.acct_listen is empty"),
        "{output}"
    );
}

#[test]
fn check_config_names_the_key_and_line_of_a_mistake() {
    let address_line = lab_config(Lab::without_dc(), 1812, 1813, Path::new("/audit"))
        .lines()
        .position(|line| line.starts_with("address = "))
        .expect("the lab config has a client address")
        + 1;
    let (code, output) = run_with_config(&["check-config"], 1812, |config| {
        config.replace("127.0.0.0/8", "127.0.0.300/8")
    });
    assert_eq!(code, Some(2), "{output}");
    assert!(output.contains(&format!("line {address_line}")), "{output}");
    assert!(output.contains("address"), "{output}");
}

#[test]
fn serve_refuses_to_start_on_a_bad_config() {
    let (code, output) = run_with_config(&["serve"], 1812, |config| {
        config.replace("timeout_ms = 3000", "timeout_ms = 5")
    });
    assert_eq!(code, Some(2), "{output}");
    assert!(output.contains("directory.timeout_ms"), "{output}");
}

#[test]
fn serve_exits_with_a_clear_message_when_its_port_is_taken() {
    let taken = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port();
    let (code, output) = run_with_config(&["serve"], port, |config| config);
    assert_eq!(code, Some(2), "{output}");
    assert!(
        output.contains(&format!("cannot listen on 127.0.0.1:{port}")),
        "{output}"
    );
}
