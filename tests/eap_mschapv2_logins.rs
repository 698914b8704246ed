//! Password logins over EAP end to end: eapol_test (wpa_supplicant) runs EAP-MSCHAPv2 and
//! PEAPv0-MSCHAPv2 against adgate over real UDP; adgate judges the account in the lab AD and has
//! the NT-Response checked by the lab's domain member (winbindd). What a VPN and an auditor see
//! is checked: SUCCESS with the MPPE keys wpa_supplicant derived, or FAILURE with the reason in
//! the record — and never a key in the log or the trail.
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

use common::{with_mschapv2, without_reject_delay, Adgate, Lab};
use eap_support::{
    assert_keys_never_written, eapol_test_network, EapolOutcome, TestPki, SERVER_NAME,
};
use serde_json::Value;

/// Every method allowed, EAP-TLS first: password peers get theirs through a Nak.
const ALL_METHODS: &str = "\n[eap]\nmethods = [\"tls\", \"peap\", \"mschapv2\"]\n";

/// adgate with `[eap_tls]`, `[mschapv2]` and `methods`, refusing at once.
fn start_adgate(pki: &TestPki, methods: &str) -> Adgate {
    let sections = pki.eap_tls_section("") + methods + &with_mschapv2(String::new());
    Adgate::start_with(|config| without_reject_delay(config) + &sections)
}

/// The EAP method a login uses, as wpa_supplicant names it and as the record does.
#[derive(Clone, Copy, Debug)]
enum Method {
    MsChapV2,
    Peap,
}

impl Method {
    fn record_name(self) -> &'static str {
        match self {
            Method::MsChapV2 => "eap-mschapv2",
            Method::Peap => "peap-mschapv2",
        }
    }
}

/// One login of `identity` with `password`; PEAP's outer identity is anonymous.
fn login(
    adgate: &Adgate,
    pki: &TestPki,
    method: Method,
    identity: &str,
    password: &str,
) -> EapolOutcome {
    let network = match method {
        Method::MsChapV2 => format!(
            "  eap=MSCHAPV2\n  identity=\"{identity}\"\n  password=\"{password}\"\n"
        ),
        Method::Peap => format!(
            "  eap=PEAP\n  identity=\"{identity}\"\n  anonymous_identity=\"anonymous\"\n  password=\"{password}\"\n  ca_cert=\"{ca}\"\n  domain_match=\"{SERVER_NAME}\"\n  phase1=\"peapver=0\"\n  phase2=\"auth=MSCHAPV2\"\n",
            ca = pki.path("ca.pem").display()
        ),
    };
    eapol_test_network(adgate, pki, &format!("{method:?}-{identity}"), &network)
}

/// The last record of `method`.
fn record_of(adgate: &Adgate, method: Method) -> Value {
    adgate
        .records()
        .into_iter()
        .rev()
        .find(|record| record["method"] == method.record_name())
        .unwrap_or_else(|| panic!("no {method:?} record:\n{}", adgate.log()))
}

fn password() -> String {
    String::from_utf8(Lab::get().fixture_password()).unwrap()
}

#[test]
#[ignore = "needs the lab AD: deploy/test.sh"]
fn a_member_logs_in_with_eap_mschapv2_and_peap_as_alice_and_corp_alice() {
    let pki = TestPki::new();
    let adgate = start_adgate(&pki, ALL_METHODS);
    for method in [Method::MsChapV2, Method::Peap] {
        for identity in ["alice", "CORP\\alice"] {
            let outcome = login(&adgate, &pki, method, identity, &password());
            assert!(
                outcome.success,
                "{method:?} {identity}: {}\n{}",
                outcome.output,
                adgate.log()
            );
            assert!(
                outcome.mppe_keys_match,
                "{method:?} {identity}: {}",
                outcome.output
            );
            let record = record_of(&adgate, method);
            assert_eq!(record["verdict"], "accept", "{record}");
            assert_eq!(record["account"]["sam_account_name"], "alice", "{record}");
            assert_keys_never_written(&adgate, &outcome.output);
        }
    }
    // The outer identity of PEAP is what the NAS saw; the identity checked is the inner one.
    let record = record_of(&adgate, Method::Peap);
    assert_eq!(record["user_name"], "anonymous", "{record}");
    assert_eq!(record["inner_identity"], "CORP\\alice", "{record}");
}

#[test]
#[ignore = "needs the lab AD: deploy/test.sh"]
fn refused_logins_are_recorded_with_their_reason() {
    let pki = TestPki::new();
    let adgate = start_adgate(&pki, ALL_METHODS);
    for method in [Method::MsChapV2, Method::Peap] {
        for (user, password, reason) in [
            ("alice", "not-the-password-1".to_owned(), "bad_password"),
            ("frank", password(), "telework_off"),
            ("bob", password(), "account_disabled"),
        ] {
            let outcome = login(&adgate, &pki, method, user, &password);
            assert!(!outcome.success, "{method:?} {user}: {}", outcome.output);
            let record = record_of(&adgate, method);
            assert_eq!(record["verdict"], "reject", "{method:?} {user}: {record}");
            assert_eq!(record["reason"], reason, "{method:?} {user}: {record}");
        }
    }
}

#[test]
#[ignore = "needs the lab AD: deploy/test.sh"]
fn a_peer_naking_for_a_method_not_allowed_is_refused() {
    let pki = TestPki::new();
    let adgate = start_adgate(&pki, "\n[eap]\nmethods = [\"peap\"]\n");
    let outcome = login(&adgate, &pki, Method::MsChapV2, "alice", &password());
    assert!(!outcome.success, "{}", outcome.output);
    let record = record_of(&adgate, Method::Peap);
    assert_eq!(record["reason"], "eap_method_refused", "{record}");
}

#[test]
#[ignore = "needs the lab AD: deploy/test.sh"]
fn eap_mschapv2_alone_needs_no_server_certificate() {
    let pki = TestPki::new();
    let sections = "\n[eap]\nmethods = [\"mschapv2\"]\n".to_owned() + &with_mschapv2(String::new());
    let adgate = Adgate::start_with(|config| config + &sections);
    let outcome = login(&adgate, &pki, Method::MsChapV2, "alice", &password());
    assert!(outcome.success, "{}\n{}", outcome.output, adgate.log());
    assert!(outcome.mppe_keys_match, "{}", outcome.output);
    assert_eq!(record_of(&adgate, Method::MsChapV2)["verdict"], "accept");
}
