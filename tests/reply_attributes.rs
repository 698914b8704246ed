//! Per-group reply attributes (`[[policy.reply]]`) as a VPN appliance and an auditor see them:
//! heidi, in VPN-Engineering through Team-Backend (nested two levels), gets Filter-Id,
//! Session-Timeout, Framed-Pool and a Class suffix in her Access-Accept, for a password and for
//! a certificate login; alice, a telework user outside the group, gets none; the record lists
//! what was sent, and accounting with the suffixed Class still links to the decision.
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

use adgate_certs::test_pki::UserCertificate;
use adgate_radius::{Response, ResponseCode};
use common::{class_of, radclient, Adgate, Lab};
use eap_support::{eap_record, eapol_test, TestPki};
use serde_json::{json, Value};

const FILTER_ID: u8 = 11;
const SESSION_TIMEOUT: u8 = 27;
const FRAMED_POOL: u8 = 88;
const ACCT_STATUS_TYPE: u8 = 40;
const ACCT_SESSION_ID: u8 = 44;
const CLASS: u8 = 25;
const USER_NAME: u8 = 1;

/// The lab config with one `[[policy.reply]]` entry for VPN-Engineering.
fn with_reply(config: String) -> String {
    let entry = format!(
        "\n[[policy.reply]]\ngroup = \"{}\"\nfilter_id = \"vpn-engineering\"\n\
         class_suffix = \"eng\"\nsession_timeout = 28800\nframed_pool = \"eng-pool\"\n\n[audit]",
        Lab::get().value("REPLY_GROUP")
    );
    config.replacen("\n[audit]", &entry, 1)
}

fn values(response: &Response, attribute_type: u8) -> Vec<&[u8]> {
    response
        .attributes
        .iter()
        .filter(|(kind, _)| *kind == attribute_type)
        .map(|(_, value)| value.as_slice())
        .collect()
}

fn engineering_record() -> Value {
    json!({
        "filter_id": "vpn-engineering",
        "class_suffix": "eng",
        "session_timeout": 28800,
        "framed_pool": "eng-pool",
    })
}

#[tokio::test]
#[ignore = "needs the lab AD: deploy/test.sh"]
async fn a_nested_member_gets_the_groups_attributes_and_others_get_none() {
    let adgate = Adgate::start_with(with_reply);
    let password = Lab::get().fixture_password();

    let (accept, record) = adgate.pap("heidi", &password).await;
    assert_eq!(accept.code, ResponseCode::Accept, "{}", adgate.log());
    assert_eq!(values(&accept, FILTER_ID), [b"vpn-engineering"]);
    assert_eq!(values(&accept, SESSION_TIMEOUT), [28800u32.to_be_bytes()]);
    assert_eq!(values(&accept, FRAMED_POOL), [b"eng-pool"]);
    let request_id = record["request_id"].as_str().unwrap();
    assert_eq!(
        class_of(&accept),
        format!("adgate:{request_id}:eng").as_bytes()
    );
    assert_eq!(record["verdict"], "accept");
    assert_eq!(record["reply"], engineering_record(), "{record}");

    let (accept, record) = adgate.pap("alice", &password).await;
    assert_eq!(accept.code, ResponseCode::Accept, "{}", adgate.log());
    for attribute_type in [FILTER_ID, SESSION_TIMEOUT, FRAMED_POOL] {
        assert!(values(&accept, attribute_type).is_empty(), "{accept:?}");
    }
    let request_id = record["request_id"].as_str().unwrap();
    assert_eq!(class_of(&accept), format!("adgate:{request_id}").as_bytes());
    assert!(record.get("reply").is_none(), "{record}");
}

#[tokio::test]
#[ignore = "needs the lab AD: deploy/test.sh"]
async fn accounting_with_the_suffixed_class_links_to_the_decision() {
    let adgate = Adgate::start_with(with_reply);
    let (accept, decision) = adgate.pap("heidi", &Lab::get().fixture_password()).await;
    assert_eq!(accept.code, ResponseCode::Accept, "{}", adgate.log());
    let class = class_of(&accept);
    assert!(class.ends_with(b":eng"));
    let start: [(u8, &[u8]); 4] = [
        (ACCT_STATUS_TYPE, &1u32.to_be_bytes()),
        (ACCT_SESSION_ID, b"session-eng"),
        (USER_NAME, b"heidi"),
        (CLASS, &class),
    ];
    let answer = adgate.accounting_nas().accounting(&start).await.unwrap();
    assert_eq!(answer.code, ResponseCode::AccountingResponse);
    let record = adgate
        .records()
        .into_iter()
        .find(|record| record["type"] == "accounting")
        .expect("an accounting record");
    assert_eq!(
        record["accounting"]["decision_request_id"],
        decision["request_id"]
    );
}

#[tokio::test]
#[ignore = "needs the lab AD: deploy/test.sh"]
async fn radclient_decodes_the_attributes_by_name() {
    let adgate = Adgate::start_with(with_reply);
    let password = String::from_utf8(Lab::get().fixture_password()).unwrap();
    let output = radclient(
        adgate.address,
        "auth",
        &format!(
            "User-Name = \"heidi\"\nUser-Password = \"{password}\"\n\
             NAS-Identifier = \"radclient\"\nMessage-Authenticator = 0x00\n"
        ),
    );
    assert!(
        output.contains("Access-Accept"),
        "{output}\n{}",
        adgate.log()
    );
    for decoded in [
        "Filter-Id = \"vpn-engineering\"",
        "Session-Timeout = 28800",
        "Framed-Pool = \"eng-pool\"",
    ] {
        assert!(output.contains(decoded), "{decoded} missing:\n{output}");
    }
}

#[test]
#[ignore = "needs the lab AD: deploy/test.sh"]
fn a_certificate_login_of_a_nested_member_gets_them_too() {
    let pki = TestPki::new();
    let section = pki.eap_tls_section("");
    let adgate = Adgate::start_with(|config| with_reply(config) + &section);
    let upn = "heidi.jones@corp.example.test";
    let heidi = pki.issue(&pki.ca, "heidi", &UserCertificate::named("heidi").upn(upn));
    let outcome = eapol_test(&adgate, &pki, upn, &heidi, true);
    assert!(outcome.success, "{}\n{}", outcome.output, adgate.log());
    assert!(outcome.mppe_keys_match, "{}", outcome.output);
    let record = eap_record(&adgate, upn);
    assert_eq!(record["verdict"], "accept", "{record}");
    assert_eq!(record["account"]["sam_account_name"], "heidi", "{record}");
    assert_eq!(record["reply"], engineering_record(), "{record}");
    // eapol_test dumps the Access-Accept it received, parsed by its own RADIUS code (which
    // names only some types): the lengths are the attribute headers plus the values.
    let (_, accept) = outcome
        .output
        .split_once("code=2 (Access-Accept)")
        .expect("eapol_test dumped the Access-Accept");
    for dumped in [
        "Attribute 11 (?Unknown?) length=17",
        "Attribute 27 (Session-Timeout) length=6",
        "Attribute 88 (?Unknown?) length=10",
    ] {
        assert!(accept.contains(dumped), "{dumped}:\n{accept}");
    }
}
