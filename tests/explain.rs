//! `adgate explain` prints what an admin needs to see for a fixture user of each kind: the AD
//! object found, the account-state attributes, telework membership (nested included) and the
//! group path to it, every check in policy order, the `[[policy.reply]]` entries that apply and
//! the verdict with its reason; and it binds only when asked to. With `--cert` it first shows
//! the certificate checks and identity of an EAP-TLS login, and the reason such a login gets.
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

use std::ffi::OsStr;
use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};

use adgate_certs::test_pki::{TestCa, UserCertificate};
use common::{lab_config, Lab};
use eap_support::TestPki;

/// The lab config plus `extra` (TOML inserted before `[audit]`) and `tail` (appended).
fn write_config(dir: &Path, extra: &str, tail: &str) -> std::path::PathBuf {
    let config = dir.join("adgate.toml");
    let text = lab_config(Lab::get(), 1812, 1813, &dir.join("audit")).replacen(
        "\n[audit]",
        &format!("\n{extra}\n[audit]"),
        1,
    ) + tail;
    std::fs::write(&config, text).expect("write config");
    config
}

/// The lab's `[[policy.reply]]` entry for VPN-Engineering.
fn reply_entry() -> String {
    format!(
        "[[policy.reply]]\ngroup = \"{}\"\nfilter_id = \"vpn-engineering\"\nsession_timeout = 28800\n",
        Lab::get().value("REPLY_GROUP")
    )
}

/// Runs `adgate explain --user USER [--password-prompt]` against the lab with `stdin`; returns
/// the exit code and stdout.
fn explain(user: &str, stdin: Option<&[u8]>) -> (i32, String) {
    explain_with(&[OsStr::new("--user"), OsStr::new(user)], "", "", stdin)
}

/// Runs `adgate explain ARGS` with the lab config (plus `extra` and `tail`).
fn explain_with(args: &[&OsStr], extra: &str, tail: &str, stdin: Option<&[u8]>) -> (i32, String) {
    let dir = tempfile::tempdir().expect("temp dir");
    let config = write_config(dir.path(), extra, tail);
    let mut command = Command::new(env!("CARGO_BIN_EXE_adgate"));
    command
        .arg("explain")
        .args(args)
        .arg("--config")
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
#[ignore = "needs the lab AD: deploy/test.sh"]
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
            "  logonHours                          not set (every hour allowed)",
            "  pass  telework_member",
            "  pass  within_logon_hours",
            "  pass  account_not_locked",
            "  pass  password_not_must_change",
            "  pass  password_not_expired",
            "password:  not checked (no --password-prompt: no bind, lockout count untouched)",
            "verdict:   accept if the password is right",
        ],
    );
}

#[test]
#[ignore = "needs the lab AD: deploy/test.sh"]
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
#[ignore = "needs the lab AD: deploy/test.sh"]
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
#[ignore = "needs the lab AD: deploy/test.sh"]
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
#[ignore = "needs the lab AD: deploy/test.sh"]
fn every_other_refused_fixture_user_is_shown_the_check_that_refuses_them() {
    for (user, check, reason) in [
        ("carol", "account_not_expired", "account_expired"),
        ("dave", "account_not_locked", "account_locked"),
        ("erin", "password_not_must_change", "must_change_password"),
        ("ivan", "dialin_allowed", "dialin_denied"),
    ] {
        let (code, shown) = explain(user, None);
        assert_eq!(code, 1, "{user}: {shown}");
        assert_lines(
            &shown,
            &[
                &format!("  FAIL  {check} -> {reason}"),
                "password:  not checked (the account is refused before any bind)",
                &format!("verdict:   reject ({reason}, after the checks)"),
            ],
        );
    }
}

#[test]
#[ignore = "needs the lab AD: deploy/test.sh"]
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
#[ignore = "needs the lab AD: deploy/test.sh"]
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

#[test]
#[ignore = "needs the lab AD: deploy/test.sh"]
fn grace_is_shown_the_path_through_developers() {
    let (code, shown) = explain("grace", None);
    assert_eq!(code, 0, "{shown}");
    let users = "CN=Users,DC=corp,DC=example,DC=test";
    assert_lines(
        &shown,
        &[&format!(
            "    path: grace → CN=Developers,{users} → CN=Telework-Allowed,{users}"
        )],
    );
}

#[test]
#[ignore = "needs the lab AD: deploy/test.sh"]
fn heidi_is_shown_the_reply_entry_she_gets_through_team_backend() {
    let users = "CN=Users,DC=corp,DC=example,DC=test";
    let missing = format!("CN=No-Such-Group,{users}");
    let extra = format!(
        "{}\n[[policy.reply]]\ngroup = \"{missing}\"\nframed_pool = \"nowhere\"\n",
        reply_entry()
    );
    let args = [OsStr::new("--user"), OsStr::new("heidi")];
    let (code, shown) = explain_with(&args, &extra, "", None);
    assert_eq!(code, 0, "{shown}");
    assert_lines(
        &shown,
        &[
            &format!("  [0] CN=VPN-Engineering,{users}: member"),
            &format!("    path: heidi → CN=Team-Backend,{users} → CN=VPN-Engineering,{users}"),
            "    sets: Filter-Id \"vpn-engineering\", Session-Timeout 28800",
            &format!("  [1] {missing}: no such group (check the DN)"),
            "  an accept carries: Filter-Id \"vpn-engineering\", Session-Timeout 28800",
        ],
    );
    // alice is a telework member but not in VPN-Engineering: nothing more.
    let args = [OsStr::new("--user"), OsStr::new("alice")];
    let (code, shown) = explain_with(&args, &reply_entry(), "", None);
    assert_eq!(code, 0, "{shown}");
    assert_lines(
        &shown,
        &[
            &format!("  [0] CN=VPN-Engineering,{users}: not a member"),
            "  an accept carries: no group attributes",
        ],
    );
}

/// Runs `adgate explain --cert` for `user`'s certificate issued by `issuer` of `pki`.
fn explain_certificate(pki: &TestPki, issuer: &TestCa, user: &UserCertificate) -> (i32, String) {
    let credential = pki.issue(issuer, "explained", user);
    let args = [OsStr::new("--cert"), credential.certificate.as_os_str()];
    explain_with(&args, &reply_entry(), &pki.eap_tls_section(""), None)
}

fn upn(user: &str) -> UserCertificate {
    UserCertificate::named(user).upn(&format!("{user}@corp.example.test"))
}

#[test]
#[ignore = "needs the lab AD: deploy/test.sh"]
fn a_upn_certificate_of_a_member_is_accepted_without_a_bind() {
    let pki = TestPki::new();
    let (code, shown) = explain_certificate(&pki, &pki.ca, &upn("alice"));
    assert_eq!(code, 0, "{shown}");
    assert_lines(
        &shown,
        &[
            "  subject:   CN=alice",
            "  pass  extended key usage lists clientAuth",
            "  pass  chain to eap_tls.ca_file, signatures, validity, CRLs, clientAuth",
            "identity:  alice@corp.example.test (from the subjectAltName UPN, san_upn)",
            "found as:  CN=alice,CN=Users,DC=corp,DC=example,DC=test (sAMAccountName alice, \
             userPrincipalName alice@corp.example.test)",
            "  pass  telework_member",
            "password:  none (the certificate is the proof; no bind)",
            "verdict:   accept",
        ],
    );
}

#[test]
#[ignore = "needs the lab AD: deploy/test.sh"]
fn an_email_only_certificate_is_found_by_mail() {
    let pki = TestPki::new();
    let user = UserCertificate::named("Alice Smith").email("alice@corp.example.test");
    let (code, shown) = explain_certificate(&pki, &pki.ca, &user);
    assert_eq!(code, 0, "{shown}");
    assert_lines(
        &shown,
        &[
            "identity:  alice@corp.example.test (from a subjectAltName e-mail address, san_email)",
            "verdict:   accept",
        ],
    );
    assert!(shown.contains("found as:  CN=alice,"), "{shown}");
}

#[test]
#[ignore = "needs the lab AD: deploy/test.sh"]
fn untrusted_and_expired_certificates_get_the_logins_reason() {
    let pki = TestPki::new();
    let stranger = TestCa::named("an unknown CA");
    let verifier = "chain to eap_tls.ca_file, signatures, validity, CRLs, clientAuth";
    let (code, shown) = explain_certificate(&pki, &stranger, &upn("alice"));
    assert_eq!(code, 1, "{shown}");
    assert_lines(
        &shown,
        &[
            &format!("  FAIL  {verifier} -> certificate_untrusted"),
            "verdict:   reject (certificate_untrusted, before any account check)",
        ],
    );
    assert!(!shown.contains("found as:"), "{shown}");
    let (code, shown) = explain_certificate(&pki, &pki.ca, &upn("alice").expired());
    assert_eq!(code, 1, "{shown}");
    assert!(shown.contains("  FAIL  valid now: "), "{shown}");
    assert_lines(
        &shown,
        &[
            &format!("  FAIL  {verifier} -> certificate_expired"),
            "verdict:   reject (certificate_expired, before any account check)",
        ],
    );
}

#[test]
#[ignore = "needs the lab AD: deploy/test.sh"]
fn franks_certificate_is_refused_as_telework_off() {
    let pki = TestPki::new();
    let (code, shown) = explain_certificate(&pki, &pki.ca, &upn("frank"));
    assert_eq!(code, 1, "{shown}");
    assert_lines(
        &shown,
        &[
            "identity:  frank@corp.example.test (from the subjectAltName UPN, san_upn)",
            "  FAIL  telework_member -> telework_off",
            "verdict:   reject (telework_off, after the checks)",
        ],
    );
    assert!(!shown.contains("password:"), "{shown}");
}
