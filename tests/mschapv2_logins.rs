//! RADIUS MS-CHAPv2 logins (RFC 2548) against the lab AD, through the lab's domain member
//! (winbindd), sent by FreeRADIUS' radclient: a member gets in with the authenticator response
//! and MPPE keys the RFCs derive from their password; every refusal has its reason in the
//! trail; a refused account's bad-password count at AD does not move (the policy judges it
//! before a DC sees the response).
// An integration test: its helpers, outside the #[test] functions clippy.toml covers, may
// panic too (a panic is how a test fails).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

mod common;

use common::mschapv2::ms_chap_login;
use common::{with_mschapv2, without_reject_delay, Adgate, Lab};

fn password() -> String {
    String::from_utf8(Lab::get().fixture_password()).unwrap()
}

#[tokio::test]
#[ignore = "needs the lab AD: deploy/test.sh"]
async fn a_member_gets_in_with_the_rfc_authenticator_response_and_mppe_keys() {
    let adgate = Adgate::start_with(with_mschapv2);
    for user in ["alice", "CORP\\alice", "alice@corp.example.test"] {
        let login = ms_chap_login(adgate.address, user, &password());
        assert!(login.accepted(), "{user}: {}", login.output);
        // MS-CHAP2-Success: the Ident (1), then S=.
        let success = login
            .hex_value("MS-CHAP2-Success")
            .expect("MS-CHAP2-Success");
        assert_eq!(
            success,
            format!("01{}", hex::encode(&login.expected_success)),
            "{user}: {}",
            login.output
        );
        // radclient shows the MPPE keys unhidden (RFC 2548 §2.4 with the shared secret).
        assert_eq!(
            login.hex_value("MS-MPPE-Send-Key").as_deref(),
            Some(login.expected_send_key.as_str()),
            "{user}: {}",
            login.output
        );
        assert_eq!(
            login.hex_value("MS-MPPE-Recv-Key").as_deref(),
            Some(login.expected_recv_key.as_str()),
            "{user}: {}",
            login.output
        );
    }
    let records = adgate.wait_for_records(3);
    for record in &records {
        assert_eq!(record["verdict"], "accept", "{record}");
        assert_eq!(record["method"], "mschapv2", "{record}");
        assert_eq!(record["account"]["sam_account_name"], "alice", "{record}");
    }
    // Nothing of the exchange is in the trail.
    let trail = adgate.trail_text().to_lowercase();
    let login = ms_chap_login(adgate.address, "alice", &password());
    for secret in [&login.expected_send_key, &login.expected_recv_key] {
        assert!(!trail.contains(secret.as_str()));
    }
    assert!(!trail.contains(&hex::encode(common::mschapv2::PEER_CHALLENGE)));
}

#[tokio::test]
#[ignore = "needs the lab AD: deploy/test.sh"]
async fn refusals_have_their_reasons_and_an_ms_chap_error() {
    let adgate = Adgate::start_with(|config| without_reject_delay(with_mschapv2(config)));
    let cases = [
        ("heidi", "not-the-password", "bad_password"),
        ("frank", password().as_str(), "telework_off"),
        ("bob", password().as_str(), "account_disabled"),
        ("dave", password().as_str(), "account_locked"),
        ("carol", password().as_str(), "account_expired"),
        ("erin", password().as_str(), "must_change_password"),
        ("nobody", password().as_str(), "unknown_user"),
    ]
    .map(|(user, password, reason)| (user, password.to_owned(), reason));
    for (user, password, _) in &cases {
        let login = ms_chap_login(adgate.address, user, password);
        assert!(login.rejected(), "{user}: {}", login.output);
        // radclient prints it as text: the Ident octet, then RFC 2759 §6's failure string.
        let error = login.hex_value("MS-CHAP-Error").expect("MS-CHAP-Error");
        assert!(
            error.contains("e=691 r=0 c=") && error.ends_with(" v=3\""),
            "{user}: {error}"
        );
    }
    let records = adgate.wait_for_records(cases.len());
    for ((user, _, reason), record) in cases.iter().zip(&records) {
        assert_eq!(record["reason"], *reason, "{user}: {record}");
        assert_eq!(record["method"], "mschapv2", "{user}: {record}");
    }
}

#[tokio::test]
#[ignore = "needs the lab AD: deploy/test.sh"]
async fn a_refused_account_burns_no_lockout_count() {
    let lab = Lab::get();
    let adgate = Adgate::start_with(|config| without_reject_delay(with_mschapv2(config)));
    // frank is not in the telework group: wrong passwords never reach a DC.
    let before = lab.bad_pwd_count("frank");
    for _ in 0..3 {
        let login = ms_chap_login(adgate.address, "frank", "not-the-password");
        assert!(login.rejected(), "{}", login.output);
    }
    assert_eq!(lab.bad_pwd_count("frank"), before);
    let records = adgate.wait_for_records(3);
    assert!(records.iter().all(|r| r["reason"] == "telework_off"));
}
