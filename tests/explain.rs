//! `adgate explain` prints what an admin needs to see for a fixture user of each kind: the AD
//! object found, the account-state attributes, telework membership (nested included), every
//! check in policy order and the verdict with its reason; and it binds only when asked to.

mod common;

use std::io::Write;
use std::process::{Command, Stdio};

use common::{lab_config, Lab};

/// Runs `adgate explain --user USER [--password-prompt]` against the lab with `stdin`; returns
/// the exit code and stdout.
fn explain(user: &str, stdin: Option<&[u8]>) -> (i32, String) {
    let lab = Lab::get();
    let dir = tempfile::tempdir().expect("temp dir");
    let config = dir.path().join("adgate.toml");
    std::fs::write(
        &config,
        lab_config(lab, 1812, 1813, &dir.path().join("audit")),
    )
    .expect("write config");
    let mut command = Command::new(env!("CARGO_BIN_EXE_adgate"));
    command
        .args(["explain", "--user", user, "--config"])
        .arg(&config)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null());
    if stdin.is_some() {
        command.arg("--password-prompt");
    }
    let mut child = command.spawn().expect("run adgate explain");
    let mut input = child.stdin.take().expect("stdin");
    input
        .write_all(stdin.unwrap_or_default())
        .expect("password");
    drop(input);
    let output = child.wait_with_output().expect("adgate explain");
    (
        output.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&output.stdout).into_owned(),
    )
}

fn assert_lines(shown: &str, expected: &[&str]) {
    for line in expected {
        assert!(
            shown.lines().any(|l| l == *line),
            "missing {line:?} in:\n{shown}"
        );
    }
}

#[test]
fn alice_passes_every_check_without_a_bind() {
    let (code, shown) = explain("alice", None);
    assert_eq!(code, 0, "{shown}");
    assert_lines(
        &shown,
        &[
            "user:      alice",
            "found as:  CN=alice,CN=Users,DC=corp,DC=example,DC=test (sAMAccountName alice, \
             userPrincipalName alice@corp.example.test)",
            "  userAccountControl                  0x00000200",
            "  pass  account_enabled",
            "  pass  account_not_expired",
            "  pass  dialin_allowed",
            "  pass  telework_member",
            "  pass  account_not_locked",
            "  pass  password_not_must_change",
            "  pass  password_not_expired",
            "password:  not checked (no --password-prompt: no bind, lockout count untouched)",
            "verdict:   accept if the password is right",
        ],
    );
}

#[test]
fn alice_with_her_password_is_accepted_by_a_bind() {
    let mut password = Lab::get().fixture_password();
    password.push(b'\n');
    let (code, shown) = explain("CORP\\alice", Some(&password));
    assert_eq!(code, 0, "{shown}");
    assert_lines(
        &shown,
        &[
            "password:  checked by a bind as CN=alice,CN=Users,DC=corp,DC=example,DC=test",
            "verdict:   accept",
        ],
    );
}

#[test]
fn frank_fails_only_the_telework_check() {
    let (code, shown) = explain("frank", None);
    assert_eq!(code, 1, "{shown}");
    let group = Lab::get().value("TELEWORK_GROUP");
    assert_lines(
        &shown,
        &[
            &format!("  member of {group} (directly or nested): no"),
            "  pass  account_enabled",
            "  FAIL  telework_member -> telework_off",
            "  pass  account_not_locked",
            "password:  not checked (the account is refused before any bind)",
            "verdict:   reject (telework_off, after the checks)",
        ],
    );
}

#[test]
fn bob_is_disabled_even_with_a_password_offered() {
    let before = Lab::get().bad_pwd_count("bob");
    let (code, shown) = explain("bob", Some(b"not bob's password\n"));
    assert_eq!(code, 1, "{shown}");
    assert_lines(
        &shown,
        &[
            "  userAccountControl                  0x00000202",
            "  FAIL  account_enabled -> account_disabled",
            "password:  not checked (the account is refused before any bind)",
            "verdict:   reject (account_disabled, after the checks)",
        ],
    );
    assert_eq!(Lab::get().bad_pwd_count("bob"), before, "no bind as bob");
}

#[test]
fn grace_is_a_member_through_a_nested_group() {
    let (code, shown) = explain("grace", None);
    assert_eq!(code, 0, "{shown}");
    let group = Lab::get().value("TELEWORK_GROUP");
    assert_lines(
        &shown,
        &[
            &format!("  member of {group} (directly or nested): yes"),
            "  pass  telework_member",
        ],
    );
}

#[test]
fn an_unknown_name_is_refused_before_any_check() {
    let (code, shown) = explain("nobody-here", None);
    assert_eq!(code, 1, "{shown}");
    assert_lines(
        &shown,
        &[
            "found as:  -",
            "verdict:   reject (unknown_user, before any account check)",
        ],
    );
}
