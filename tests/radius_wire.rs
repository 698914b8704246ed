//! What a NAS sees on the wire: Message-Authenticator rules after BlastRADIUS (CVE-2024-3596),
//! silence for wrong secrets and garbage, Status-Server (RFC 5997), and the same answers for
//! FreeRADIUS' radclient (authentication, accounting, Status-Server) as for adgate's own
//! simulated NAS.
// An integration test: its helpers, outside the #[test] functions clippy.toml covers, may
// panic too (a panic is how a test fails).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

mod common;

use adgate_radius::{ClientError, ResponseCode};
use common::{http_get, radclient, start_with_metrics, Adgate, Lab};

#[tokio::test]
async fn a_request_without_message_authenticator_gets_no_answer_when_the_client_requires_it() {
    let adgate = Adgate::start_without_dc();
    let nas = adgate.nas_with(false, Lab::without_dc().radius_secret());
    let result = nas
        .pap(b"alice", &Lab::without_dc().fixture_password())
        .await;
    assert!(matches!(result, Err(ClientError::Timeout)), "{result:?}");
    let records = adgate.wait_for_records(1);
    assert_eq!(records.len(), 1, "{records:?}");
    assert_eq!(records[0]["verdict"], "discard");
    assert_eq!(records[0]["reason"], "missing_message_authenticator");
}

#[tokio::test]
#[ignore = "needs the lab AD: deploy/test.sh"]
async fn responses_carry_message_authenticator_first_even_when_the_request_had_none() {
    let adgate = Adgate::start_with(|config| {
        config.replace(
            "require_message_authenticator = true",
            "require_message_authenticator = false",
        )
    });
    let password = Lab::get().fixture_password();
    for (signed, user, expected) in [
        (false, "alice", ResponseCode::Accept),
        (false, "frank", ResponseCode::Reject),
        (true, "alice", ResponseCode::Accept),
        (true, "frank", ResponseCode::Reject),
    ] {
        let nas = adgate.nas_with(signed, Lab::get().radius_secret());
        // The client verifies the Response Authenticator and the Message-Authenticator.
        let response = nas.pap(user.as_bytes(), &password).await.unwrap();
        assert_eq!(response.code, expected, "{user}");
        assert!(response.message_authenticator_first, "{user}: {response:?}");
    }
}

#[tokio::test]
async fn a_wrong_secret_gets_no_answer() {
    let adgate = Adgate::start_without_dc();
    let nas = adgate.nas_with(true, b"this-is-not-the-shared-secret".to_vec());
    let result = nas
        .pap(b"alice", &Lab::without_dc().fixture_password())
        .await;
    assert!(matches!(result, Err(ClientError::Timeout)), "{result:?}");
    let records = adgate.wait_for_records(1);
    assert_eq!(records[0]["verdict"], "discard", "{records:?}");
    assert_eq!(
        records[0]["reason"], "bad_message_authenticator",
        "{records:?}"
    );
}

#[tokio::test]
#[ignore = "needs the lab AD: deploy/test.sh"]
async fn garbage_datagrams_are_dropped_and_logins_go_on() {
    let adgate = Adgate::start();
    let socket = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let garbage: [&[u8]; 5] = [
        b"",
        &[1, 2, 0, 19, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0],
        &[
            1, 2, 0xff, 0xff, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
        ],
        &[
            1, 2, 0, 22, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0,
        ],
        &[
            1, 2, 0, 23, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 200, 7,
        ],
    ];
    for datagram in garbage {
        socket.send_to(datagram, adgate.address).unwrap();
    }
    socket.send_to(&[0x55; 5000], adgate.address).unwrap();
    let (response, _) = adgate.pap("alice", &Lab::get().fixture_password()).await;
    assert_eq!(response.code, ResponseCode::Accept);
    let discards = adgate
        .wait_for_records(7)
        .into_iter()
        .filter(|r| r["verdict"] == "discard")
        .count();
    assert_eq!(discards, 6);
}

fn radclient_login(adgate: &Adgate, user: &str, message_authenticator: bool) -> String {
    let password = String::from_utf8(Lab::get().fixture_password()).unwrap();
    let mut attributes = format!(
        "User-Name = \"{user}\"\nUser-Password = \"{password}\"\nNAS-Identifier = \"radclient\"\n"
    );
    if message_authenticator {
        attributes.push_str("Message-Authenticator = 0x00\n");
    }
    radclient(adgate.address, "auth", &attributes)
}

#[tokio::test]
#[ignore = "needs the lab AD: deploy/test.sh"]
async fn radclient_gets_the_same_answers_as_the_simulated_nas() {
    let adgate = Adgate::start();
    let accepted = radclient_login(&adgate, "alice", true);
    assert!(accepted.contains("Received Access-Accept"), "{accepted}");
    let rejected = radclient_login(&adgate, "frank", true);
    assert!(rejected.contains("Received Access-Reject"), "{rejected}");
    let unsigned = radclient_login(&adgate, "alice", false);
    assert!(!unsigned.contains("Received"), "{unsigned}");

    let reasons: Vec<_> = adgate
        .wait_for_records(3)
        .iter()
        .map(|r| (r["verdict"].clone(), r["reason"].clone()))
        .collect();
    assert_eq!(
        reasons,
        [
            ("accept".into(), serde_json::Value::Null),
            ("reject".into(), "telework_off".into()),
            ("discard".into(), "missing_message_authenticator".into()),
        ]
    );
}

#[tokio::test]
#[ignore = "needs the lab AD: deploy/test.sh"]
async fn status_server_is_answered_on_both_ports_only_when_signed() {
    let adgate = Adgate::start();
    let response = adgate.nas().status_server().await.unwrap();
    assert_eq!(response.code, ResponseCode::Accept);
    assert!(response.message_authenticator_first);
    let response = adgate.accounting_nas().status_server().await.unwrap();
    assert_eq!(response.code, ResponseCode::AccountingResponse);

    let signed = radclient(
        adgate.address,
        "status",
        "Message-Authenticator = 0x00\nNAS-Identifier = \"radclient\"\n",
    );
    assert!(signed.contains("Received Access-Accept"), "{signed}");
    let signed = radclient(
        adgate.acct_address,
        "status",
        "Message-Authenticator = 0x00\nNAS-Identifier = \"radclient\"\n",
    );
    assert!(signed.contains("Received Accounting-Response"), "{signed}");

    // An unsigned Status-Server, by hand (radclient always signs it).
    let mut unsigned = vec![12, 7, 0, 29];
    unsigned.extend_from_slice(&[0x42; 16]);
    unsigned.extend_from_slice(&[32, 9, b'u', b'n', b's', b'i', b'g', b'n', b'd']);
    let socket = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    socket.send_to(&unsigned, adgate.address).unwrap();
    let records = adgate.wait_for_records(1);
    assert_eq!(records.len(), 1, "{records:?}");
    assert_eq!(records[0]["reason"], "missing_message_authenticator");
    // Probes are answered without a decision: nothing else was recorded.
    assert!(records.iter().all(|r| r["verdict"] == "discard"));
}

#[tokio::test]
#[ignore = "needs the lab AD: deploy/test.sh"]
async fn radclient_accounting_is_answered_once_recorded() {
    let adgate = Adgate::start();
    let output = radclient(
        adgate.acct_address,
        "acct",
        "Acct-Status-Type = Start\nAcct-Session-Id = \"rc-1\"\nUser-Name = \"alice\"\n\
         NAS-Identifier = \"radclient\"\nFramed-IP-Address = 10.8.0.9\n",
    );
    assert!(output.contains("Received Accounting-Response"), "{output}");
    let records = adgate.records();
    let record = records
        .iter()
        .find(|r| r["accounting"]["session_id"] == "rc-1")
        .unwrap_or_else(|| panic!("no accounting record: {records:?}"));
    assert_eq!(record["accounting"]["status_type"], "start");
    assert_eq!(record["accounting"]["framed_ip_address"], "10.8.0.9");
}

/// The error line adgate logs for a NAS it discards because of its configuration.
const MISCONFIGURED_NAS: &str = "RADIUS requests from a misconfigured NAS are being discarded";

#[tokio::test]
#[ignore = "needs the lab AD: deploy/test.sh"]
async fn an_unsigned_nas_gets_one_error_line_with_the_fix_and_a_counter_then_logs_in_once_configured(
) {
    let (adgate, metrics) = start_with_metrics(|config| config);
    for _ in 0..3 {
        let unsigned = radclient_login(&adgate, "alice", false);
        assert!(!unsigned.contains("Received"), "{unsigned}");
    }
    let records = adgate.wait_for_records(3);
    assert!(
        records
            .iter()
            .all(|r| r["reason"] == "missing_message_authenticator"),
        "{records:?}"
    );
    let log = adgate.log();
    let errors: Vec<&str> = log
        .lines()
        .filter(|line| line.contains(MISCONFIGURED_NAS))
        .collect();
    assert_eq!(errors.len(), 1, "one error line a minute:\n{log}");
    for expected in [
        "ERROR",
        "client=\"vpn1\"",
        "without Message-Authenticator",
        "require_message_authenticator = \"auto\" in the [[clients]] entry named \"vpn1\"",
        "BlastRADIUS",
    ] {
        assert!(errors[0].contains(expected), "{expected}: {}", errors[0]);
    }
    let (_, body) = http_get(metrics, "/metrics");
    assert!(
        body.contains(
            "adgate_client_discards_total{client=\"vpn1\",reason=\"missing_message_authenticator\"} 3"
        ),
        "{body}"
    );
    assert!(
        body.contains("adgate_discards_total{reason=\"missing_message_authenticator\"} 3"),
        "{body}"
    );

    // The documented setting ("auto", the default): the same NAS logs in.
    let configured =
        Adgate::start_with(|config| config.replace("require_message_authenticator = true\n", ""));
    let accepted = radclient_login(&configured, "alice", false);
    assert!(accepted.contains("Received Access-Accept"), "{accepted}");
    assert!(!configured.log().contains(MISCONFIGURED_NAS));
}

#[tokio::test]
async fn a_wrong_secret_is_named_with_its_fix() {
    let adgate = Adgate::start_without_dc();
    let nas = adgate.nas_with(true, b"this-is-not-the-shared-secret".to_vec());
    let result = nas
        .pap(b"alice", &Lab::without_dc().fixture_password())
        .await;
    assert!(matches!(result, Err(ClientError::Timeout)), "{result:?}");
    adgate.wait_for_records(1);
    let log = adgate.log();
    let wrong_secret = log
        .lines()
        .find(|line| line.contains(MISCONFIGURED_NAS))
        .unwrap_or_else(|| panic!("no error line:\n{log}"));
    assert!(
        wrong_secret.contains("reason=\"bad_message_authenticator\""),
        "{wrong_secret}"
    );
    assert!(
        wrong_secret.contains("the same shared secret"),
        "{wrong_secret}"
    );
}
