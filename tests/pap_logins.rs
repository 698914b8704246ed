//! PAP logins against the lab AD over real UDP: who gets in, who does not and why, and what the
//! audit trail says about each. Every fixture user stands for one rule of the access policy.
// An integration test: its helpers, outside the #[test] functions clippy.toml covers, may
// panic too (a panic is how a test fails).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

mod common;

use adgate_radius::ResponseCode;
use common::{Adgate, Lab};

/// Logs `user` in with the fixture password and checks the verdict and reason in the record.
async fn assert_login(adgate: &Adgate, user: &str, expected_reason: Option<&str>) {
    let (response, record) = adgate.pap(user, &Lab::get().fixture_password()).await;
    match expected_reason {
        None => {
            assert_eq!(response.code, ResponseCode::Accept, "{user}: {record}");
            assert_eq!(record["verdict"], "accept", "{user}: {record}");
            assert!(record.get("reason").is_none(), "{user}: {record}");
        }
        Some(reason) => {
            assert_eq!(response.code, ResponseCode::Reject, "{user}: {record}");
            assert_eq!(record["verdict"], "reject", "{user}: {record}");
            assert_eq!(record["reason"], reason, "{user}: {record}");
        }
    }
}

#[tokio::test]
#[ignore = "needs the lab AD: deploy/test.sh"]
async fn telework_members_get_in_by_every_name_form() {
    let adgate = Adgate::start();
    assert_login(&adgate, "alice", None).await;
    assert_login(&adgate, "CORP\\alice", None).await;
    assert_login(&adgate, "alice@corp.example.test", None).await;
    assert_login(&adgate, "grace", None).await; // member only through a nested group
    assert_login(&adgate, "heidi.jones@corp.example.test", None).await; // UPN ≠ sam@realm
}

#[tokio::test]
#[ignore = "needs the lab AD: deploy/test.sh"]
async fn an_accept_record_names_the_ad_object_and_the_request() {
    let adgate = Adgate::start();
    let (_, record) = adgate
        .pap(
            "heidi.jones@corp.example.test",
            &Lab::get().fixture_password(),
        )
        .await;
    let account = &record["account"];
    assert_eq!(
        account["dn"], "CN=heidi,CN=Users,DC=corp,DC=example,DC=test",
        "{record}"
    );
    assert_eq!(account["sam_account_name"], "heidi");
    assert_eq!(
        account["user_principal_name"],
        "heidi.jones@corp.example.test"
    );
    assert!(
        account["object_sid"]
            .as_str()
            .unwrap()
            .starts_with("S-1-5-21-"),
        "{record}"
    );
    assert_eq!(
        account["object_guid"].as_str().unwrap().len(),
        36,
        "{record}"
    );
    assert_eq!(record["method"], "pap");
    assert_eq!(record["nas"]["name"], "vpn1");
    assert_eq!(record["nas"]["nas_identifier"], "test-nas");
    assert_eq!(record["message_authenticator"], true);
    assert!(
        record["request_id"].as_str().unwrap().len() == 36,
        "{record}"
    );
    assert!(record["time"].as_str().unwrap().ends_with('Z'), "{record}");
}

#[tokio::test]
#[ignore = "needs the lab AD: deploy/test.sh"]
async fn each_account_state_is_rejected_with_its_own_reason() {
    let adgate = Adgate::start();
    for (user, reason) in [
        ("bob", "account_disabled"),
        ("carol", "account_expired"),
        ("dave", "account_locked"),
        ("erin", "must_change_password"),
        ("frank", "telework_off"),
        ("ivan", "dialin_denied"),
        ("nobody-here", "unknown_user"),
        ("OTHERDOMAIN\\alice", "unknown_user"),
    ] {
        assert_login(&adgate, user, Some(reason)).await;
    }
}

#[tokio::test]
#[ignore = "needs the lab AD: deploy/test.sh"]
async fn wrong_and_empty_passwords_are_rejected() {
    let adgate = Adgate::start();
    let (response, record) = adgate.pap("alice", b"not-the-password-1").await;
    assert_eq!(response.code, ResponseCode::Reject);
    assert_eq!(record["reason"], "bad_password", "{record}");
    assert_eq!(record["account"]["sam_account_name"], "alice", "{record}");

    let (response, record) = adgate.pap("alice", b"").await;
    assert_eq!(response.code, ResponseCode::Reject);
    assert_eq!(record["reason"], "empty_password", "{record}");

    // A good login resets AD's bad-password count, so repeated runs never lock alice out.
    assert_login(&adgate, "alice", None).await;
}

#[tokio::test]
#[ignore = "needs the lab AD: deploy/test.sh"]
async fn ldap_injection_in_the_user_name_never_gets_in() {
    let adgate = Adgate::start();
    let password = Lab::get().fixture_password();
    for user in [
        "*",
        "alice)(cn=*",
        "al*",
        "\\",
        "alice\0",
        "*)(|(objectClass=*",
        "CORP\\*",
    ] {
        let (response, record) = adgate.pap(user, &password).await;
        assert_eq!(response.code, ResponseCode::Reject, "{user:?}: {record}");
        assert_eq!(record["reason"], "unknown_user", "{user:?}: {record}");
    }
}

#[tokio::test]
#[ignore = "needs the lab AD: deploy/test.sh"]
async fn no_password_reaches_the_trail_or_the_log() {
    let adgate = Adgate::start();
    let password = Lab::get().fixture_password();
    assert_login(&adgate, "alice", None).await;
    assert_login(&adgate, "frank", Some("telework_off")).await;
    let _ = adgate.pap("alice", b"wrong-password-here").await;
    let service_password = std::fs::read(Lab::get().value("BIND_PASSWORD_FILE")).unwrap();
    let secret = Lab::get().radius_secret();
    for (name, text) in [("trail", adgate.trail_text()), ("log", adgate.log())] {
        for (what, needle) in [
            ("fixture password", &password[..]),
            ("wrong password", &b"wrong-password-here"[..]),
            ("service password", &service_password[..]),
            ("RADIUS secret", &secret[..]),
        ] {
            let needle = String::from_utf8_lossy(needle);
            assert!(
                !text.contains(needle.as_ref()),
                "{what} appears in the {name}"
            );
        }
    }
    assert_eq!(adgate.records().len(), 3);
}
