//! A real VPN appliance in front of adgate: strongSwan's charon as an IKEv2 gateway whose
//! eap-radius plugin asks adgate, and a road warrior logging in — all run by
//! `deploy/gateway.sh`. Password logins: EAP-GTC from the user, one PAP Access-Request to
//! adgate. Certificate logins: the gateway relays the user's EAP-TLS to adgate and brings the
//! tunnel up only with the MS-MPPE keys of an Access-Accept. The tests check what the user sees
//! (the tunnel comes up, or is refused) and what the admin reads in the trail (verdict, reason,
//! certificate, which appliance asked).
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
mod gateway_support;

use std::path::PathBuf;

use adgate_certs::test_pki::{TestCa, UserCertificate};
use common::{with_mschapv2, Adgate, Lab};
use eap_support::{eap_record, Credential, TestPki};
use gateway_support::{Gateway, NAS_IDENTIFIER};
use serde_json::Value;

const CLIENT_NAME: &str = "strongswan";

/// The last access decision about `user`.
fn record_for(adgate: &Adgate, user: &str) -> Value {
    adgate
        .records()
        .into_iter()
        .rev()
        .find(|r| r["type"] == "decision" && r["user_name"] == user)
        .unwrap_or_else(|| panic!("no audit record for {user:?}:\n{}", adgate.log()))
}

/// The road warrior presenting `credential` (named `identity`) gets no tunnel, and adgate
/// recorded the refusal with `reason`; returns that record.
fn assert_certificate_refused(
    gateway: &Gateway,
    adgate: &Adgate,
    pki: &TestPki,
    credential: &Credential,
    identity: &str,
    reason: &str,
) -> Value {
    let (code, said) = gateway.login_with_certificate(pki, credential);
    assert_eq!(
        (code, said),
        (Some(1), format!("{identity}: refused")),
        "gateway log:\n{}",
        gateway.log()
    );
    let record = eap_record(adgate, identity);
    assert_eq!(record["verdict"], "reject", "{record}");
    assert_eq!(record["reason"], reason, "{record}");
    record
}

/// The gateway sent Accounting Start and Stop for `user`'s session, as itself.
fn assert_session_accounted(adgate: &Adgate, user: &str) {
    let accounting = accounting_for(adgate, user);
    let status_types: Vec<&Value> = accounting
        .iter()
        .map(|r| &r["accounting"]["status_type"])
        .collect();
    assert_eq!(status_types, ["start", "stop"], "{accounting:?}");
    assert!(
        accounting
            .iter()
            .all(|r| r["nas"]["nas_identifier"] == NAS_IDENTIFIER),
        "{accounting:?}"
    );
}

/// The gateway's accounting records about `user`, waiting a little for the Stop (sent as the
/// road warrior's IKE SA closes).
fn accounting_for(adgate: &Adgate, user: &str) -> Vec<Value> {
    let mut records = Vec::new();
    for _ in 0..50 {
        records = adgate
            .records()
            .into_iter()
            .filter(|r| r["type"] == "accounting" && r["user_name"] == user)
            .collect();
        if records.len() >= 2 {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    records
}

#[test]
#[ignore = "needs the lab AD: deploy/test.sh"]
fn strongswan_gateway_lets_a_telework_member_in_and_keeps_others_out() {
    let lab = Lab::get();
    let password_file = PathBuf::from(lab.value("FIXTURE_PASSWORD_FILE"));
    // The lab's client entry, named after the appliance; Message-Authenticator stays required
    // (strongSwan's eap-radius signs its Access-Requests).
    let adgate = Adgate::start_with(|config| {
        config.replace("name = \"vpn1\"", &format!("name = \"{CLIENT_NAME}\""))
    });
    let gateway = Gateway::up(&adgate);

    let (code, said) = gateway.login("alice", &password_file);
    assert_eq!(
        (code, said.as_str()),
        (Some(0), "alice: tunnel up"),
        "gateway log:\n{}\nadgate log:\n{}",
        gateway.log(),
        adgate.log()
    );
    let record = record_for(&adgate, "alice");
    assert_eq!(record["verdict"], "accept", "{record}");
    assert_eq!(record["method"], "pap", "{record}");
    assert_eq!(record["nas"]["name"], CLIENT_NAME, "{record}");
    assert_eq!(record["nas"]["nas_identifier"], NAS_IDENTIFIER, "{record}");
    assert_eq!(record["message_authenticator"], true, "{record}");
    // The gateway accounts for the session (it holds the tunnel until Start is answered).
    assert_session_accounted(&adgate, "alice");

    let (code, said) = gateway.login("frank", &password_file);
    assert_eq!(
        (code, said.as_str()),
        (Some(1), "frank: refused"),
        "gateway log:\n{}",
        gateway.log()
    );
    let record = record_for(&adgate, "frank");
    assert_eq!(record["verdict"], "reject", "{record}");
    assert_eq!(record["reason"], "telework_off", "{record}");
    assert_eq!(record["nas"]["nas_identifier"], NAS_IDENTIFIER, "{record}");

    // The password went through the gateway; it must not reach the trail.
    let password = String::from_utf8(lab.fixture_password()).expect("UTF-8 password");
    assert!(!adgate.trail_text().contains(password.trim_end()));
}

#[test]
#[ignore = "needs the lab AD: deploy/test.sh"]
fn strongswan_gateway_relays_eap_mschapv2_and_opens_the_tunnel_for_a_member_only() {
    let lab = Lab::get();
    let password_file = PathBuf::from(lab.value("FIXTURE_PASSWORD_FILE"));
    let pki = TestPki::new();
    // EAP-only IKEv2 with EAP-MSCHAPv2, as Windows' built-in client does.
    let sections = pki.eap_tls_section("")
        + "\n[eap]\nmethods = [\"mschapv2\"]\n"
        + &with_mschapv2(String::new());
    let adgate = Adgate::start_with(|config| {
        config.replace("name = \"vpn1\"", &format!("name = \"{CLIENT_NAME}\"")) + &sections
    });
    let gateway = Gateway::up(&adgate);

    let (code, said) = gateway.login_with_eap_mschapv2("alice", &password_file);
    assert_eq!(
        (code, said.as_str()),
        (Some(0), "alice: tunnel up"),
        "gateway log:\n{}\nadgate log:\n{}",
        gateway.log(),
        adgate.log()
    );
    let record = record_for(&adgate, "alice");
    assert_eq!(record["verdict"], "accept", "{record}");
    assert_eq!(record["method"], "eap-mschapv2", "{record}");
    assert_eq!(record["account"]["sam_account_name"], "alice", "{record}");
    assert_eq!(record["nas"]["nas_identifier"], NAS_IDENTIFIER, "{record}");
    assert_session_accounted(&adgate, "alice");

    let (code, said) = gateway.login_with_eap_mschapv2("frank", &password_file);
    assert_eq!(
        (code, said.as_str()),
        (Some(1), "frank: refused"),
        "gateway log:\n{}",
        gateway.log()
    );
    let record = record_for(&adgate, "frank");
    assert_eq!(record["verdict"], "reject", "{record}");
    assert_eq!(record["method"], "eap-mschapv2", "{record}");
    assert_eq!(record["reason"], "telework_off", "{record}");
    assert!(
        gateway.tunnels().is_empty(),
        "no tunnel left: {:?}",
        gateway.tunnels()
    );
}

fn upn(user: &str) -> UserCertificate {
    UserCertificate::named(user).upn(&format!("{user}@corp.example.test"))
}

/// adgate with certificate logins from `pki`, as the lab's client entry named after the
/// appliance, with `extra` lines in `[eap_tls]`.
fn start_adgate_for_certificates(pki: &TestPki, extra: &str) -> Adgate {
    let section = pki.eap_tls_section(extra);
    Adgate::start_with(|config| {
        config.replace("name = \"vpn1\"", &format!("name = \"{CLIENT_NAME}\"")) + &section
    })
}

#[test]
#[ignore = "needs the lab AD: deploy/test.sh"]
fn strongswan_gateway_relays_certificate_logins_and_opens_the_tunnel_only_on_accept() {
    let pki = TestPki::new();
    // strongSwan 5.9's EAP-TLS client speaks TLS 1.2 without the extended master secret (and
    // crashes on EAP-TLS 1.3's commitment message): the road warrior needs this opt-in.
    let adgate =
        start_adgate_for_certificates(&pki, "tls12_require_extended_master_secret = false");
    let gateway = Gateway::up(&adgate);

    // alice, a telework member, with her UPN certificate: the gateway opens the tunnel, which
    // needs the MS-MPPE keys of adgate's Access-Accept for the IKE AUTH payload.
    let alice = pki.issue(&pki.ca, "alice", &upn("alice"));
    let (code, said) = gateway.login_with_certificate(&pki, &alice);
    assert_eq!(
        (code, said.as_str()),
        (Some(0), "alice@corp.example.test: tunnel up"),
        "gateway log:\n{}\nadgate log:\n{}",
        gateway.log(),
        adgate.log()
    );
    let record = eap_record(&adgate, "alice@corp.example.test");
    assert_eq!(record["verdict"], "accept", "{record}");
    assert_eq!(record["account"]["sam_account_name"], "alice", "{record}");
    assert_eq!(record["nas"]["name"], CLIENT_NAME, "{record}");
    assert_eq!(record["nas"]["nas_identifier"], NAS_IDENTIFIER, "{record}");
    assert_eq!(record["message_authenticator"], true, "{record}");
    let certificate = &record["certificate"];
    assert_eq!(certificate["subject"], "CN=alice", "{record}");
    assert_eq!(certificate["issuer"], "CN=adgate test user CA", "{record}");
    assert_eq!(certificate["identity_source"], "san_upn", "{record}");
    assert_eq!(certificate["tls_version"], "TLSv1.2", "{record}");
    assert_eq!(
        certificate["sha256_fingerprint"].as_str().map(str::len),
        Some(64),
        "{record}"
    );
    // The gateway accounts for the certificate session as for a password one.
    assert_session_accounted(&adgate, "alice@corp.example.test");

    // frank's certificate is valid, but he is not on telework: no tunnel.
    let frank = pki.issue(&pki.ca, "frank", &upn("frank"));
    let record = assert_certificate_refused(
        &gateway,
        &adgate,
        &pki,
        &frank,
        "frank@corp.example.test",
        "telework_off",
    );
    assert_eq!(record["certificate"]["subject"], "CN=frank", "{record}");

    // alice's name on a certificate from a CA adgate does not trust: no tunnel.
    let stranger = TestCa::named("an unknown CA");
    let forged = pki.issue(&stranger, "stranger", &upn("alice"));
    assert_certificate_refused(
        &gateway,
        &adgate,
        &pki,
        &forged,
        "alice@corp.example.test",
        "certificate_untrusted",
    );
}

#[test]
#[ignore = "needs the lab AD: deploy/test.sh"]
fn strongswan_certificate_logins_need_the_extended_master_secret_opt_out() {
    // By default adgate refuses TLS 1.2 without the extended master secret (RFC 7627), which
    // strongSwan 5.9's EAP-TLS client lacks: the handshake fails and no tunnel comes up.
    let pki = TestPki::new();
    let adgate = start_adgate_for_certificates(&pki, "");
    let gateway = Gateway::up(&adgate);
    let alice = pki.issue(&pki.ca, "alice", &upn("alice"));
    assert_certificate_refused(
        &gateway,
        &adgate,
        &pki,
        &alice,
        "alice@corp.example.test",
        "tls_handshake_failed",
    );
}
