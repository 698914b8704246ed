//! Certificate logins end to end: eapol_test (wpa_supplicant on OpenSSL) runs EAP-TLS against
//! adgate over real UDP, adgate asks the lab AD, and the answer, the MPPE keys and the audit
//! record are what a VPN and an auditor would see.
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

use adgate_certs::test_pki::{TestCa, UserCertificate};
use eap_support::{
    assert_keys_never_written, eap_record, eapol_test, nas_eap_tls, start_adgate, TestPki,
    REVOKED_SERIAL,
};

fn upn(user: &str) -> UserCertificate {
    UserCertificate::named(user).upn(&format!("{user}@corp.example.test"))
}

#[test]
#[ignore = "needs the lab AD: deploy/test.sh"]
fn tls12_and_tls13_logins_are_accepted_with_the_msk_as_mppe_keys() {
    let pki = TestPki::new();
    let adgate = start_adgate(&pki, "");
    let alice = pki.issue(&pki.ca, "alice", &upn("alice"));
    for (tls13, version) in [(false, "TLSv1.2"), (true, "TLSv1.3")] {
        let outcome = eapol_test(&adgate, &pki, "alice@corp.example.test", &alice, tls13);
        assert!(
            outcome.success,
            "{version}: {}\n{}",
            outcome.output,
            adgate.log()
        );
        assert!(outcome.mppe_keys_match, "{version}: {}", outcome.output);
        let record = eap_record(&adgate, "alice@corp.example.test");
        assert_eq!(record["verdict"], "accept", "{record}");
        assert_eq!(record["account"]["sam_account_name"], "alice", "{record}");
        let certificate = &record["certificate"];
        assert_eq!(certificate["tls_version"], version, "{record}");
        assert_eq!(certificate["identity_source"], "san_upn", "{record}");
        assert_eq!(certificate["subject"], "CN=alice", "{record}");
        assert_eq!(certificate["issuer"], "CN=adgate test user CA", "{record}");
        assert_eq!(certificate["serial"], "01", "{record}");
        assert_eq!(
            certificate["sha256_fingerprint"].as_str().unwrap().len(),
            64
        );
        assert!(
            certificate["cipher_suite"]
                .as_str()
                .unwrap()
                .starts_with("TLS"),
            "{record}"
        );
        assert_keys_never_written(&adgate, &outcome.output);
    }
}

#[test]
#[ignore = "needs the lab AD: deploy/test.sh"]
fn an_email_only_certificate_of_a_member_is_accepted() {
    let pki = TestPki::new();
    let adgate = start_adgate(&pki, "");
    let user = UserCertificate::named("Alice Smith").email("alice@corp.example.test");
    let alice = pki.issue(&pki.ca, "alice-mail", &user);
    let outcome = eapol_test(&adgate, &pki, "alice@corp.example.test", &alice, true);
    assert!(outcome.success, "{}\n{}", outcome.output, adgate.log());
    let record = eap_record(&adgate, "alice@corp.example.test");
    assert_eq!(
        record["certificate"]["identity_source"], "san_email",
        "{record}"
    );
    assert_eq!(record["account"]["sam_account_name"], "alice", "{record}");
}

/// A refused login as a test case: label, EAP identity, issuer, certificate, reason code, and
/// the TLS alert adgate sends first when TLS itself refuses the certificate.
type RefusalCase<'a> = (
    &'a str,
    &'a str,
    &'a TestCa,
    UserCertificate,
    &'a str,
    Option<&'a str>,
);

#[test]
#[ignore = "needs the lab AD: deploy/test.sh"]
fn refused_certificates_get_their_tls_alert_then_failure_and_their_reason() {
    let pki = TestPki::new();
    let adgate = start_adgate(&pki, "");
    let stranger = TestCa::named("an unknown CA");
    let alice = "alice@corp.example.test";
    let cases: Vec<RefusalCase<'_>> = vec![
        (
            "cn-only",
            alice,
            &pki.ca,
            UserCertificate::named("alice@corp.example.test").organization("Corp"),
            "no_certificate_identity",
            None,
        ),
        (
            "stranger",
            alice,
            &stranger,
            upn("alice"),
            "certificate_untrusted",
            Some("unknown CA"),
        ),
        (
            "expired",
            alice,
            &pki.ca,
            upn("alice").expired(),
            "certificate_expired",
            Some("certificate expired"),
        ),
        (
            "revoked",
            alice,
            &pki.ca,
            upn("alice").serial(REVOKED_SERIAL),
            "certificate_revoked",
            Some("certificate revoked"),
        ),
        (
            "server-auth",
            alice,
            &pki.ca,
            upn("alice").server_auth_only(),
            "certificate_wrong_purpose",
            Some("unsupported certificate"),
        ),
        (
            "bob",
            "bob@corp.example.test",
            &pki.ca,
            upn("bob"),
            "account_disabled",
            None,
        ),
        (
            "frank",
            "frank@corp.example.test",
            &pki.ca,
            upn("frank"),
            "telework_off",
            None,
        ),
        (
            "shared",
            "shared@corp.example.test",
            &pki.ca,
            UserCertificate::named("mallory").email("shared@corp.example.test"),
            "ambiguous_user",
            None,
        ),
        (
            "mismatch",
            "grace@corp.example.test",
            &pki.ca,
            upn("alice"),
            "identity_mismatch",
            None,
        ),
    ];
    for (label, identity, issuer, user, reason, alert) in cases {
        let credential = pki.issue(issuer, label, &user);
        // TLS alerts are checked on both versions: TLS 1.3 encrypts them, TLS 1.2 does not.
        let versions: &[bool] = if alert.is_some() {
            &[false, true]
        } else {
            &[true]
        };
        for &tls13 in versions {
            let context = format!("{label} (TLS 1.3: {tls13})");
            let recorded_before = adgate.records().len();
            let outcome = eapol_test(&adgate, &pki, identity, &credential, tls13);
            assert!(!outcome.success, "{context}: {}", outcome.output);
            let output = &outcome.output;
            let received_alert = output.find("EAP: Status notification: remote TLS alert");
            let failure = output.find("EAP: Received EAP-Failure");
            assert!(failure.is_some(), "{context}: {output}");
            match alert {
                // RFC 5216 §2.1.3: the alert first, in an EAP-Request/EAP-TLS, then Failure.
                Some(alert) => {
                    let line = format!("remote TLS alert (param={alert})");
                    assert!(output.contains(&line), "{context}: {output}");
                    assert!(received_alert < failure, "{context}: {output}");
                }
                // Refused after a complete handshake: nothing wrong with TLS to report.
                None => assert_eq!(received_alert, None, "{context}: {output}"),
            }
            let record = eap_record(&adgate, identity);
            assert_eq!(record["verdict"], "reject", "{context}: {record}");
            assert_eq!(
                record["reason"],
                reason,
                "{context}: {record}\n{}",
                adgate.log()
            );
            // Recorded once: when the alert went out, not again with the closing reject.
            assert_eq!(
                adgate.records().len(),
                recorded_before + 1,
                "{context}: {}",
                adgate.log()
            );
        }
    }
}

/// RFC 3579 §2.1: the NAS opens with EAP-Start, adgate asks for the identity, and the login
/// goes on as usual; adgate's own peer shows the TLS alert of a refused certificate.
#[test]
#[ignore = "needs the lab AD: deploy/test.sh"]
fn a_nas_opening_with_eap_start_gets_the_same_logins_and_refusals() {
    let pki = TestPki::new();
    let adgate = start_adgate(&pki, "");
    let alice = pki.issue(&pki.ca, "alice", &upn("alice"));
    for version in ["1.2", "1.3"] {
        let (code, output) = nas_eap_tls(
            &adgate,
            &pki,
            "alice@corp.example.test",
            &alice,
            &["--eap-start", "--tls-version", version],
        );
        assert_eq!(code, 0, "TLS {version}: {output}\n{}", adgate.log());
        assert!(
            output.contains("Access-Accept, MPPE keys match the MSK"),
            "{output}"
        );
        let record = eap_record(&adgate, "alice@corp.example.test");
        assert_eq!(record["verdict"], "accept", "{record}");
    }
    let revoked = pki.issue(&pki.ca, "revoked", &upn("alice").serial(REVOKED_SERIAL));
    let (code, output) = nas_eap_tls(
        &adgate,
        &pki,
        "alice@corp.example.test",
        &revoked,
        &["--eap-start"],
    );
    assert_eq!(code, 1, "{output}");
    assert!(
        output.contains("Access-Reject after TLS alert CertificateRevoked"),
        "{output}"
    );
    let record = eap_record(&adgate, "alice@corp.example.test");
    assert_eq!(record["reason"], "certificate_revoked", "{record}");
}

#[test]
#[ignore = "needs the lab AD: deploy/test.sh"]
fn an_anonymous_outer_identity_is_accepted_only_when_configured() {
    let pki = TestPki::new();
    let alice = pki.issue(&pki.ca, "alice", &upn("alice"));
    let strict = start_adgate(&pki, "");
    let outcome = eapol_test(&strict, &pki, "anonymous@corp.example.test", &alice, true);
    assert!(!outcome.success, "{}", outcome.output);
    assert_eq!(
        eap_record(&strict, "anonymous@corp.example.test")["reason"],
        "identity_mismatch"
    );
    let relaxed = start_adgate(&pki, "allow_anonymous_identity = true");
    let outcome = eapol_test(&relaxed, &pki, "anonymous@corp.example.test", &alice, true);
    assert!(outcome.success, "{}\n{}", outcome.output, relaxed.log());
}

#[test]
#[ignore = "needs the lab AD: deploy/test.sh"]
fn a_valid_certificate_is_refused_when_ad_cannot_be_asked() {
    let pki = TestPki::new();
    let section = pki.eap_tls_section("");
    // No DC listens on port 1: every LDAP connection is refused.
    let adgate = common::Adgate::start_with(|config| config.replace(":636", ":1") + &section);
    let alice = pki.issue(&pki.ca, "alice", &upn("alice"));
    let outcome = eapol_test(&adgate, &pki, "alice@corp.example.test", &alice, true);
    assert!(!outcome.success, "{}", outcome.output);
    let record = eap_record(&adgate, "alice@corp.example.test");
    assert_eq!(record["reason"], "directory_unavailable", "{record}");
    assert_eq!(
        record["certificate"]["identity_source"], "san_upn",
        "{record}"
    );
}

#[test]
#[ignore = "needs the lab AD: deploy/test.sh"]
fn the_subject_email_counts_only_when_configured() {
    let pki = TestPki::new();
    let user = UserCertificate::named("alice").subject_email("alice@corp.example.test");
    let alice = pki.issue(&pki.ca, "alice-subject", &user);
    let strict = start_adgate(&pki, "");
    let outcome = eapol_test(&strict, &pki, "alice@corp.example.test", &alice, true);
    assert!(!outcome.success, "{}", outcome.output);
    let record = eap_record(&strict, "alice@corp.example.test");
    assert_eq!(record["reason"], "no_certificate_identity", "{record}");
    let relaxed = start_adgate(&pki, "subject_email_identity = true");
    let outcome = eapol_test(&relaxed, &pki, "alice@corp.example.test", &alice, true);
    assert!(outcome.success, "{}\n{}", outcome.output, relaxed.log());
    let record = eap_record(&relaxed, "alice@corp.example.test");
    assert_eq!(
        record["certificate"]["identity_source"], "subject_email",
        "{record}"
    );
}
