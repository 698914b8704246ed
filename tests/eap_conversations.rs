//! EAP conversations under abuse: peers that stall mid-handshake, flood adgate with new
//! conversations (with identities or with EAP-Start), or announce huge TLS messages. Memory
//! stays bounded (the table holds at most `max_conversations`, each conversation at most one
//! bounded flight) and real logins go on.
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
use adgate_radius::eap::eap_type;
use adgate_radius::{EapCode, EapPacket, RadiusClient, ResponseCode};
use eap_support::{
    conversation_of, eap_record, eapol_test, open_conversation as open, start_adgate,
    start_adgate_without_dc, Conversation, TestPki,
};

/// Sends EAP-Start (RFC 3579 §2.1: an EAP-Message with no data) and returns the conversation
/// adgate opened.
async fn open_with_eap_start(nas: &RadiusClient, user_name: &str) -> Conversation {
    let (response, _) = nas
        .eap(user_name.as_bytes(), &[], None)
        .await
        .expect("an answer");
    assert_eq!(response.code, ResponseCode::Challenge);
    conversation_of(&response.attributes)
}

/// Answers the conversation's EAP-Request/Identity with `identity`.
async fn send_identity(
    nas: &RadiusClient,
    identity: &str,
    conversation: &Conversation,
) -> (ResponseCode, Vec<(u8, Vec<u8>)>) {
    let packet = EapPacket::new(
        EapCode::Response,
        conversation.request.identifier,
        eap_type::IDENTITY,
        identity.as_bytes(),
    );
    let (response, _) = nas
        .eap(
            identity.as_bytes(),
            &packet.to_bytes(),
            Some(&conversation.state),
        )
        .await
        .expect("an answer");
    (response.code, response.attributes)
}

/// Sends EAP-TLS `type_data` in the conversation and returns the RADIUS answer code.
async fn send_tls(
    nas: &RadiusClient,
    identity: &str,
    conversation: &Conversation,
    type_data: &[u8],
) -> (ResponseCode, Vec<(u8, Vec<u8>)>) {
    let packet = EapPacket::new(
        EapCode::Response,
        conversation.request.identifier,
        eap_type::TLS,
        type_data,
    );
    let (response, _) = nas
        .eap(
            identity.as_bytes(),
            &packet.to_bytes(),
            Some(&conversation.state),
        )
        .await
        .expect("an answer");
    (response.code, response.attributes)
}

/// The first fragment of a TLS flight said to be `total` octets long: flags L and M.
fn first_fragment(total: u32) -> Vec<u8> {
    let mut type_data = vec![0xc0];
    type_data.extend_from_slice(&total.to_be_bytes());
    type_data.extend_from_slice(&[0x16; 100]);
    type_data
}

#[tokio::test]
#[ignore = "needs the lab AD: deploy/test.sh"]
async fn stalled_and_flooding_peers_cannot_crowd_out_a_login() {
    let pki = TestPki::new();
    let adgate = start_adgate(&pki, "max_conversations = 8");
    let nas = adgate.nas();

    // A peer that stalls mid-handshake: a first fragment, acknowledged, then silence.
    let stalled = open(&nas, "stalled@corp.example.test").await;
    let (code, _) = send_tls(
        &nas,
        "stalled@corp.example.test",
        &stalled,
        &first_fragment(5000),
    )
    .await;
    assert_eq!(
        code,
        ResponseCode::Challenge,
        "the fragment is acknowledged"
    );

    // A flood of conversations that never go on, more than the table holds.
    for _ in 0..20 {
        open(&nas, "flood@corp.example.test").await;
    }

    // A real login still gets through.
    let alice = pki.issue(
        &pki.ca,
        "alice",
        &UserCertificate::named("alice").upn("alice@corp.example.test"),
    );
    let outcome = eapol_test(&adgate, &pki, "alice@corp.example.test", &alice, true);
    assert!(outcome.success, "{}\n{}", outcome.output, adgate.log());

    // The stalled conversation made room: going on with it is refused.
    let (code, attributes) =
        send_tls(&nas, "stalled@corp.example.test", &stalled, &[0x00, 0x16]).await;
    assert_eq!(code, ResponseCode::Reject);
    let failure = conversation_of(&attributes).request;
    assert_eq!(
        failure.code,
        EapCode::Failure,
        "Access-Reject carries EAP-Failure"
    );
    let record = eap_record(&adgate, "stalled@corp.example.test");
    assert_eq!(record["reason"], "eap_conversation_unknown", "{record}");
}

#[tokio::test]
async fn a_peer_announcing_a_huge_tls_message_is_refused() {
    let pki = TestPki::new();
    let adgate = start_adgate_without_dc(&pki, "");
    let nas = adgate.nas();
    let conversation = open(&nas, "huge@corp.example.test").await;
    let (code, _) = send_tls(
        &nas,
        "huge@corp.example.test",
        &conversation,
        &first_fragment(16 * 1024 * 1024),
    )
    .await;
    assert_eq!(code, ResponseCode::Reject);
    let record = eap_record(&adgate, "huge@corp.example.test");
    assert_eq!(record["reason"], "eap_tls_malformed", "{record}");
}

#[tokio::test]
async fn a_peer_that_refuses_eap_tls_is_rejected() {
    let pki = TestPki::new();
    let adgate = start_adgate_without_dc(&pki, "");
    let nas = adgate.nas();
    let conversation = open(&nas, "nak@corp.example.test").await;
    // Nak, asking for EAP-MSCHAPv2 (26) instead (RFC 3748 §5.3.1).
    let nak = EapPacket::new(
        EapCode::Response,
        conversation.request.identifier,
        eap_type::NAK,
        &[26],
    );
    let (response, _) = nas
        .eap(
            b"nak@corp.example.test",
            &nak.to_bytes(),
            Some(&conversation.state),
        )
        .await
        .expect("an answer");
    assert_eq!(response.code, ResponseCode::Reject);
    let record = eap_record(&adgate, "nak@corp.example.test");
    assert_eq!(record["reason"], "eap_method_refused", "{record}");
}

#[tokio::test]
async fn a_repeated_response_gets_the_same_request_again() {
    let pki = TestPki::new();
    let adgate = start_adgate_without_dc(&pki, "");
    let nas = adgate.nas();
    let conversation = open(&nas, "repeat@corp.example.test").await;
    let fragment = first_fragment(5000);
    let (code, first) = send_tls(&nas, "repeat@corp.example.test", &conversation, &fragment).await;
    assert_eq!(code, ResponseCode::Challenge);
    // The NAS sends the same EAP Response again (its user retried, or it lost our answer).
    let (code, again) = send_tls(&nas, "repeat@corp.example.test", &conversation, &fragment).await;
    assert_eq!(code, ResponseCode::Challenge);
    let (first, again) = (
        conversation_of(&first).request,
        conversation_of(&again).request,
    );
    assert_eq!(
        first, again,
        "the same EAP-Request, not a second acknowledgement"
    );
    assert_eq!(
        first.identifier,
        conversation.request.identifier.wrapping_add(1)
    );
}

#[tokio::test]
async fn eap_start_is_answered_with_an_identity_request_in_the_bounded_table() {
    let pki = TestPki::new();
    let adgate = start_adgate_without_dc(&pki, "max_conversations = 4");
    let nas = adgate.nas();

    let first = open_with_eap_start(&nas, "start@corp.example.test").await;
    assert_eq!(first.request.code, EapCode::Request);
    assert_eq!(first.request.eap_type(), Some(eap_type::IDENTITY));
    assert_eq!(first.state.len(), 16, "a State like any conversation's");

    // The identity moves the conversation on to EAP-TLS Start, under the same State.
    let (code, attributes) = send_identity(&nas, "start@corp.example.test", &first).await;
    assert_eq!(code, ResponseCode::Challenge);
    let started = conversation_of(&attributes);
    assert_eq!(started.request.eap_type(), Some(eap_type::TLS));
    assert_eq!(started.request.type_data(), [0x20], "EAP-TLS Start");
    assert_eq!(
        started.request.identifier,
        first.request.identifier.wrapping_add(1)
    );
    assert_eq!(started.state, first.state);

    // A flood of EAP-Starts takes table slots like any new conversation: the oldest go.
    let waiting = open_with_eap_start(&nas, "waiting@corp.example.test").await;
    for _ in 0..10 {
        open_with_eap_start(&nas, "flood@corp.example.test").await;
    }
    let (code, _) = send_identity(&nas, "waiting@corp.example.test", &waiting).await;
    assert_eq!(code, ResponseCode::Reject);
    let record = eap_record(&adgate, "waiting@corp.example.test");
    assert_eq!(record["reason"], "eap_conversation_unknown", "{record}");
    let (code, _) = send_tls(&nas, "start@corp.example.test", &started, &[0x00, 0x16]).await;
    assert_eq!(code, ResponseCode::Reject, "pushed out as well");

    // An EAP-Start conversation answered with something else than the identity fails.
    let wrong = open_with_eap_start(&nas, "wrong@corp.example.test").await;
    let (code, _) = send_tls(&nas, "wrong@corp.example.test", &wrong, &[0x00]).await;
    assert_eq!(code, ResponseCode::Reject);
    let record = eap_record(&adgate, "wrong@corp.example.test");
    assert_eq!(record["reason"], "eap_protocol_error", "{record}");
}

#[tokio::test]
async fn eap_start_without_certificate_logins_is_rejected() {
    // RFC 3579 §2.1: a server that does not do EAP answers EAP-Start with Access-Reject.
    let adgate = common::Adgate::start_without_dc();
    let (response, _) = adgate
        .nas()
        .eap(b"start@corp.example.test", &[], None)
        .await
        .expect("an answer");
    assert_eq!(response.code, ResponseCode::Reject);
    let records = adgate.wait_for_records(1);
    assert_eq!(
        records[0]["reason"], "unsupported_credential",
        "{}",
        records[0]
    );
}
