//! End-to-end over loopback UDP: the simulated NAS against the server, with
//! a handler that accepts the password "right", records every accounting
//! request but those of user "unrecordable", and reports what it sees.
// An integration test: its helpers, outside the #[test] functions clippy.toml covers, may
// panic too (a panic is how a test fails).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use adgate_radius::{
    AccessRequest, AccountingReply, AccountingRequest, AccountingStatus, ClientError,
    ClientOptions, ClientState, ClientTable, Counters, Credential, Discard, DiscardReason,
    MessageAuthenticatorRule, NasClient, RadiusClient, Reply, ReplyAttribute, RequestHandler,
    ResponseCode, Service, SharedSecret, Skip, UdpServer,
};
use tokio::net::UdpSocket;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio::time::{sleep, timeout, Instant};
use tokio_util::sync::CancellationToken;

const SECRET: &[u8] = b"loopback-secret";
const MESSAGE_AUTHENTICATOR: u8 = 80;
const REPLY_MESSAGE: u8 = 18;
/// The handler sleeps this long for the user "slow", as a directory might.
const SLOW_HANDLER: Duration = Duration::from_millis(600);

/// What the handler saw of an admitted request.
#[derive(Debug)]
struct Seen {
    user_name: Option<Vec<u8>>,
    nas_identifier: Option<String>,
    calling_station_id: Option<String>,
    message_authenticator: bool,
}

struct TestHandler {
    seen: mpsc::UnboundedSender<Seen>,
    accounting: mpsc::UnboundedSender<AccountingRequest>,
    discards: mpsc::UnboundedSender<Discard>,
}

impl RequestHandler for TestHandler {
    async fn access_request(&self, request: AccessRequest) -> Reply {
        if request.user_name.as_deref() == Some(b"slow") {
            sleep(SLOW_HANDLER).await;
        }
        let accepted = matches!(&request.credential, Credential::Pap(password) if password.expose() == b"right");
        let _ = self.seen.send(Seen {
            user_name: request.user_name,
            nas_identifier: request.nas_identifier,
            calling_station_id: request.calling_station_id,
            message_authenticator: request.message_authenticator,
        });
        if accepted {
            Reply::Accept {
                attributes: vec![ReplyAttribute::reply_message("welcome").unwrap()],
            }
        } else {
            Reply::Reject
        }
    }

    async fn accounting_request(&self, request: AccountingRequest) -> AccountingReply {
        let recorded = request.user_name.as_deref() != Some(b"unrecordable");
        let _ = self.accounting.send(request);
        if recorded {
            AccountingReply::Recorded
        } else {
            AccountingReply::NotRecorded
        }
    }

    async fn discarded(&self, discard: Discard) {
        let _ = self.discards.send(discard);
    }
}

struct Harness {
    address: SocketAddr,
    seen: mpsc::UnboundedReceiver<Seen>,
    accounting: mpsc::UnboundedReceiver<AccountingRequest>,
    discards: mpsc::UnboundedReceiver<Discard>,
    counters: Arc<Counters>,
    shutdown: CancellationToken,
    server: JoinHandle<()>,
}

/// A client "nas" with the test secret.
fn nas_client(
    require_message_authenticator: MessageAuthenticatorRule,
    max_in_flight: usize,
) -> NasClient {
    NasClient {
        name: "nas".to_owned(),
        secret: SharedSecret::new(SECRET.to_vec()),
        require_message_authenticator,
        limit_proxy_state: true,
        max_in_flight,
        state: ClientState::default(),
    }
}

impl Harness {
    /// A server whose client table maps `network` to client "nas".
    async fn start(
        network: &str,
        require_message_authenticator: MessageAuthenticatorRule,
        max_in_flight: usize,
    ) -> Self {
        let client = nas_client(require_message_authenticator, 64);
        Self::serving(
            Service::Authentication,
            vec![(network, client)],
            max_in_flight,
        )
        .await
    }

    async fn serving(
        service: Service,
        clients: Vec<(&str, NasClient)>,
        max_in_flight: usize,
    ) -> Self {
        Self::serving_with_reject_delay(service, clients, max_in_flight, Duration::ZERO).await
    }

    /// The standard server, its Access-Rejects leaving `reject_delay` after their request.
    async fn delaying_rejects(reject_delay: Duration) -> Self {
        let clients = vec![(
            "127.0.0.1/32",
            nas_client(MessageAuthenticatorRule::Always, 64),
        )];
        Self::serving_with_reject_delay(Service::Authentication, clients, 64, reject_delay).await
    }

    async fn serving_with_reject_delay(
        service: Service,
        clients: Vec<(&str, NasClient)>,
        max_in_flight: usize,
        reject_delay: Duration,
    ) -> Self {
        let clients = clients
            .into_iter()
            .map(|(network, client)| (network.parse().unwrap(), Arc::new(client)))
            .collect();
        let clients = Arc::new(ClientTable::new(clients));
        let (seen_tx, seen) = mpsc::unbounded_channel();
        let (accounting_tx, accounting) = mpsc::unbounded_channel();
        let (discards_tx, discards) = mpsc::unbounded_channel();
        let handler = Arc::new(TestHandler {
            seen: seen_tx,
            accounting: accounting_tx,
            discards: discards_tx,
        });
        let socket = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let server = UdpServer::serving(service, socket, clients, handler, max_in_flight)
            .with_reject_delay(reject_delay);
        let address = server.local_addr().unwrap();
        let counters = server.counters();
        let shutdown = CancellationToken::new();
        let server = tokio::spawn(server.run(shutdown.clone()));
        Self {
            address,
            seen,
            accounting,
            discards,
            counters,
            shutdown,
            server,
        }
    }

    async fn standard() -> Self {
        Self::start("127.0.0.1/32", MessageAuthenticatorRule::Always, 64).await
    }

    fn client(&self, options: ClientOptions) -> RadiusClient {
        self.client_with_secret(SECRET, options)
    }

    fn client_with_secret(&self, secret: &[u8], options: ClientOptions) -> RadiusClient {
        RadiusClient::new(self.address, SharedSecret::new(secret.to_vec()), options).unwrap()
    }

    async fn next_discard(&mut self) -> Discard {
        timeout(Duration::from_secs(5), self.discards.recv())
            .await
            .expect("a discard is reported")
            .unwrap()
    }

    /// Asserts that a request got no answer and was discarded for `reason`.
    async fn expect_silence_then_discard<T: std::fmt::Debug>(
        &mut self,
        result: Result<T, ClientError>,
        reason: DiscardReason,
    ) {
        let error = result.unwrap_err();
        assert!(matches!(error, ClientError::Timeout), "{error:?}");
        assert_eq!(self.next_discard().await.reason, reason);
    }

    async fn stop(self) {
        self.shutdown.cancel();
        timeout(Duration::from_secs(5), self.server)
            .await
            .expect("server stops")
            .unwrap();
    }
}

fn quick(send_message_authenticator: bool) -> ClientOptions {
    ClientOptions {
        timeout: Duration::from_millis(300),
        retries: 0,
        send_message_authenticator,
        nas_identifier: Some("vpn-1".to_owned()),
    }
}

/// Waits out the slow handler without retransmitting.
fn patient() -> ClientOptions {
    ClientOptions {
        timeout: Duration::from_secs(5),
        ..quick(true)
    }
}

#[tokio::test]
async fn accepts_the_right_password_with_message_authenticator_first() {
    let mut harness = Harness::standard().await;
    let response = harness
        .client(quick(true))
        .pap(b"alice", b"right")
        .await
        .unwrap();
    assert_eq!(response.code, ResponseCode::Accept);
    assert!(response.message_authenticator_first);
    let types: Vec<u8> = response.attributes.iter().map(|(t, _)| *t).collect();
    assert_eq!(types, [MESSAGE_AUTHENTICATOR, REPLY_MESSAGE]);
    assert_eq!(response.attributes[1].1, b"welcome");

    let seen = harness.seen.recv().await.unwrap();
    assert_eq!(seen.user_name.as_deref(), Some(&b"alice"[..]));
    assert_eq!(seen.nas_identifier.as_deref(), Some("vpn-1"));
    assert!(seen.message_authenticator);
    harness.stop().await;
}

#[tokio::test]
async fn the_simulated_nas_says_where_the_user_connects_from() {
    let mut harness = Harness::standard().await;
    let nas = harness.client(quick(true));
    let response = nas.pap_from("203.0.113.9[4500]", b"alice", b"right").await;
    assert_eq!(response.unwrap().code, ResponseCode::Accept);
    let seen = harness.seen.recv().await.unwrap();
    assert_eq!(
        seen.calling_station_id.as_deref(),
        Some("203.0.113.9[4500]")
    );
    nas.pap(b"alice", b"right").await.unwrap();
    assert_eq!(harness.seen.recv().await.unwrap().calling_station_id, None);
    harness.stop().await;
}

#[tokio::test]
async fn rejects_a_wrong_password_with_message_authenticator_first() {
    let harness = Harness::standard().await;
    let response = harness
        .client(quick(true))
        .pap(b"alice", b"wrong")
        .await
        .unwrap();
    assert_eq!(response.code, ResponseCode::Reject);
    assert!(response.message_authenticator_first);
    assert_eq!(response.attributes.len(), 1);
    harness.stop().await;
}

#[tokio::test]
async fn answers_with_message_authenticator_even_when_the_request_had_none() {
    let mut harness = Harness::start("127.0.0.0/8", MessageAuthenticatorRule::Auto, 64).await;
    let response = harness
        .client(quick(false))
        .pap(b"bob", b"right")
        .await
        .unwrap();
    assert_eq!(response.code, ResponseCode::Accept);
    assert!(response.message_authenticator_first);
    assert!(!harness.seen.recv().await.unwrap().message_authenticator);
    harness.stop().await;
}

#[tokio::test]
async fn wrong_secret_is_discarded_silently() {
    let mut harness = Harness::standard().await;
    let client = harness.client_with_secret(b"not-the-secret", quick(true));
    let error = client.pap(b"alice", b"right").await.unwrap_err();
    assert!(matches!(error, ClientError::Timeout), "{error:?}");
    let discard = harness.next_discard().await;
    assert_eq!(discard.reason, DiscardReason::BadMessageAuthenticator);
    assert_eq!(discard.client.as_deref(), Some("nas"));
    assert_eq!(discard.user_name.as_deref(), Some(&b"alice"[..]));
    harness.stop().await;
}

#[tokio::test]
async fn missing_message_authenticator_is_discarded_when_required() {
    let mut harness = Harness::standard().await;
    let error = harness
        .client(quick(false))
        .pap(b"alice", b"right")
        .await
        .unwrap_err();
    assert!(matches!(error, ClientError::Timeout), "{error:?}");
    let discard = harness.next_discard().await;
    assert_eq!(discard.reason, DiscardReason::MissingMessageAuthenticator);
    assert!(discard.identifier.is_some());
    assert!(harness.seen.try_recv().is_err(), "the handler never saw it");
    harness.stop().await;
}

#[tokio::test]
async fn unknown_source_is_discarded() {
    let mut harness = Harness::start("192.0.2.0/24", MessageAuthenticatorRule::Auto, 64).await;
    let error = harness
        .client(quick(true))
        .pap(b"alice", b"right")
        .await
        .unwrap_err();
    assert!(matches!(error, ClientError::Timeout), "{error:?}");
    let discard = harness.next_discard().await;
    assert_eq!(discard.reason, DiscardReason::UnknownClient);
    assert_eq!(discard.source.ip(), IpAddr::from([127, 0, 0, 1]));
    assert_eq!(
        (discard.client, discard.identifier, discard.user_name),
        (None, None, None)
    );
    harness.stop().await;
}

#[tokio::test]
async fn malformed_and_oversized_datagrams_are_discarded() {
    let mut harness = Harness::standard().await;
    let socket = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let mut truncated_header = vec![1, 0, 0, 20];
    truncated_header.extend_from_slice(&[0; 10]);
    let mut oversized = vec![1, 0, 0x10, 0x00];
    oversized.resize(4097, 0);
    let mut attribute_overruns = vec![1, 0, 0, 24];
    attribute_overruns.extend_from_slice(&[0; 16]);
    attribute_overruns.extend_from_slice(&[1, 9, b'a', b'b']);
    for datagram in [truncated_header, oversized, attribute_overruns] {
        socket.send_to(&datagram, harness.address).await.unwrap();
        let discard = harness.next_discard().await;
        assert_eq!(
            discard.reason,
            DiscardReason::Malformed,
            "{} octets",
            datagram.len()
        );
    }
    let accounting_request = [&[4u8, 0, 0, 20][..], &[0; 16]].concat();
    socket
        .send_to(&accounting_request, harness.address)
        .await
        .unwrap();
    assert_eq!(
        harness.next_discard().await.reason,
        DiscardReason::UnsupportedCode
    );
    harness.stop().await;
}

#[tokio::test]
async fn a_slow_request_does_not_hold_up_others() {
    let harness = Harness::standard().await;
    let slow_client = harness.client(patient());
    let slow = tokio::spawn(async move { slow_client.pap(b"slow", b"right").await });
    sleep(Duration::from_millis(100)).await;
    let started = Instant::now();
    let fast = harness
        .client(quick(true))
        .pap(b"fast", b"right")
        .await
        .unwrap();
    assert_eq!(fast.code, ResponseCode::Accept);
    assert!(
        started.elapsed() < SLOW_HANDLER / 2,
        "{:?}",
        started.elapsed()
    );
    assert!(
        !slow.is_finished(),
        "the slow request is still with the handler"
    );
    assert_eq!(slow.await.unwrap().unwrap().code, ResponseCode::Accept);
    harness.stop().await;
}

#[tokio::test]
async fn shutdown_waits_for_requests_in_flight() {
    let harness = Harness::standard().await;
    let client = harness.client(patient());
    let slow = tokio::spawn(async move { client.pap(b"slow", b"right").await });
    sleep(Duration::from_millis(100)).await;
    let stopping = Instant::now();
    harness.stop().await;
    assert!(
        stopping.elapsed() >= SLOW_HANDLER / 2,
        "{:?}",
        stopping.elapsed()
    );
    let response = slow.await.unwrap().unwrap();
    assert_eq!(response.code, ResponseCode::Accept);
}

#[tokio::test]
async fn when_saturated_the_nas_retransmission_gets_through() {
    let harness = Harness::start("127.0.0.1/32", MessageAuthenticatorRule::Always, 1).await;
    let slow_client = harness.client(patient());
    let slow = tokio::spawn(async move { slow_client.pap(b"slow", b"right").await });
    sleep(Duration::from_millis(100)).await;
    let retrying = harness.client(ClientOptions {
        timeout: Duration::from_millis(200),
        retries: 10,
        ..quick(true)
    });
    let response = retrying.pap(b"alice", b"right").await.unwrap();
    assert_eq!(response.code, ResponseCode::Accept);
    assert_eq!(slow.await.unwrap().unwrap().code, ResponseCode::Accept);
    harness.stop().await;
}

/// A hand-made packet without Message-Authenticator: the header with a
/// fixed Authenticator, then the attributes.
fn unsigned_packet(code: u8, identifier: u8, attributes: &[(u8, &[u8])]) -> Vec<u8> {
    let mut packet = vec![code, identifier, 0, 0];
    packet.extend_from_slice(&[0x42; 16]);
    for (attribute_type, value) in attributes {
        packet.push(*attribute_type);
        packet.push(u8::try_from(value.len() + 2).unwrap());
        packet.extend_from_slice(value);
    }
    let length = u16::try_from(packet.len()).unwrap().to_be_bytes();
    packet[2..4].copy_from_slice(&length);
    packet
}

const NAS_IDENTIFIER: u8 = 32;

/// Sends `datagram` from `socket` and returns the next datagram received.
async fn exchange_raw(socket: &UdpSocket, datagram: &[u8], server: SocketAddr) -> Vec<u8> {
    socket.send_to(datagram, server).await.unwrap();
    receive_raw(socket).await
}

async fn receive_raw(socket: &UdpSocket) -> Vec<u8> {
    let mut buffer = vec![0; 4096];
    let (length, _) = timeout(Duration::from_secs(5), socket.recv_from(&mut buffer))
        .await
        .expect("an answer")
        .unwrap();
    buffer.truncate(length);
    buffer
}

/// How many requests the handler has decided so far.
fn decided(harness: &mut Harness) -> usize {
    std::iter::from_fn(|| harness.seen.try_recv().ok()).count()
}

#[tokio::test]
async fn a_retransmission_gets_the_byte_identical_answer_without_a_second_decision() {
    let mut harness = Harness::standard().await;
    let nas = harness.client(quick(true));
    let socket = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let request = nas.pap_datagram(b"alice", b"wrong").await.unwrap();
    let first = exchange_raw(&socket, &request, harness.address).await;
    let second = exchange_raw(&socket, &request, harness.address).await;
    assert_eq!(first, second);
    assert_eq!(first[0], 3, "Access-Reject");
    assert_eq!(decided(&mut harness), 1);
    assert_eq!(harness.counters.cached_answers_sent(), 1);

    // The next request from the same port is a new request, decided afresh.
    let next = nas.pap_datagram(b"alice", b"right").await.unwrap();
    let answer = exchange_raw(&socket, &next, harness.address).await;
    assert_eq!(answer[0], 2, "Access-Accept");
    assert_eq!(decided(&mut harness), 1);
    harness.stop().await;
}

#[tokio::test]
async fn a_retransmission_while_the_first_copy_is_decided_is_dropped() {
    let mut harness = Harness::standard().await;
    let nas = harness.client(quick(true));
    let socket = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let request = nas.pap_datagram(b"slow", b"right").await.unwrap();
    for _ in 0..3 {
        socket.send_to(&request, harness.address).await.unwrap();
    }
    let answer = receive_raw(&socket).await;
    assert_eq!((answer[0], answer[1]), (2, request[1]));
    // Had a copy been decided twice, its answer would come before this one.
    let probe = nas.status_server_datagram().await.unwrap();
    let probe_answer = exchange_raw(&socket, &probe, harness.address).await;
    assert_eq!(probe_answer[1], probe[1]);
    assert_eq!(decided(&mut harness), 1);
    assert_eq!(harness.counters.skipped(Skip::DuplicateInProgress), 2);
    // Once answered, a retransmission gets that answer.
    assert_eq!(
        exchange_raw(&socket, &request, harness.address).await,
        answer
    );
    harness.stop().await;
}

#[tokio::test]
async fn status_server_is_answered_only_with_a_valid_message_authenticator() {
    let mut harness = Harness::standard().await;
    let response = harness.client(quick(true)).status_server().await.unwrap();
    assert_eq!(response.code, ResponseCode::Accept);
    assert!(response.message_authenticator_first);

    let socket = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let unsigned = unsigned_packet(12, 9, &[(NAS_IDENTIFIER, b"vpn-1")]);
    socket.send_to(&unsigned, harness.address).await.unwrap();
    assert_eq!(
        harness.next_discard().await.reason,
        DiscardReason::MissingMessageAuthenticator
    );
    let wrong_secret = harness.client_with_secret(b"not-the-secret", quick(true));
    harness
        .expect_silence_then_discard(
            wrong_secret.status_server().await,
            DiscardReason::BadMessageAuthenticator,
        )
        .await;
    assert_eq!(harness.counters.status_server_answered(), 1);
    assert_eq!(decided(&mut harness), 0, "the handler is never asked");
    harness.stop().await;
}

async fn accounting_harness() -> Harness {
    Harness::serving(
        Service::Accounting,
        vec![(
            "127.0.0.1/32",
            nas_client(MessageAuthenticatorRule::Always, 64),
        )],
        64,
    )
    .await
}

#[tokio::test]
async fn accounting_requests_are_answered_once_recorded() {
    let mut harness = accounting_harness().await;
    let nas = harness.client(quick(false));
    let start: [(u8, &[u8]); 4] = [
        (40, &1u32.to_be_bytes()),
        (44, b"session-1"),
        (1, b"alice"),
        (8, &[10, 8, 0, 5]),
    ];
    let response = nas.accounting(&start).await.unwrap();
    assert_eq!(response.code, ResponseCode::AccountingResponse);
    let recorded = harness.accounting.recv().await.unwrap();
    assert_eq!(recorded.status, AccountingStatus::Start);
    assert_eq!(recorded.session_id.as_deref(), Some("session-1"));
    assert_eq!(recorded.framed_ip_address, Some([10, 8, 0, 5].into()));
    assert_eq!(recorded.nas_identifier.as_deref(), Some("vpn-1"));

    // RFC 2866 §4.1: not recorded, not answered.
    let unrecordable: [(u8, &[u8]); 2] = [(40, &2u32.to_be_bytes()), (1, b"unrecordable")];
    let error = nas.accounting(&unrecordable).await.unwrap_err();
    assert!(matches!(error, ClientError::Timeout), "{error:?}");
    assert!(harness.accounting.recv().await.is_some());

    let forged = harness.client_with_secret(b"not-the-secret", quick(false));
    harness
        .expect_silence_then_discard(
            forged.accounting(&start).await,
            DiscardReason::BadRequestAuthenticator,
        )
        .await;

    let probe = harness.client(quick(true)).status_server().await.unwrap();
    assert_eq!(probe.code, ResponseCode::AccountingResponse);
    assert!(probe.message_authenticator_first);

    harness
        .expect_silence_then_discard(
            nas.pap(b"alice", b"right").await,
            DiscardReason::UnsupportedCode,
        )
        .await;
    harness.stop().await;
}

#[tokio::test]
async fn each_bad_input_class_is_discarded_and_counted() {
    let mut harness = Harness::start("127.0.0.0/8", MessageAuthenticatorRule::Auto, 64).await;
    let socket = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let mut length_beyond_datagram = unsigned_packet(1, 1, &[(NAS_IDENTIFIER, b"n")]);
    length_beyond_datagram[3] += 1;
    let mut attribute_length_one = unsigned_packet(1, 2, &[(NAS_IDENTIFIER, b"n")]);
    attribute_length_one[21] = 1;
    let mut oversized = unsigned_packet(1, 3, &[]);
    oversized.resize(4097, 0);
    let password: &[u8] = &[0x11; 16];
    let cases: [(&str, Vec<u8>, DiscardReason); 8] = [
        (
            "Length beyond datagram",
            length_beyond_datagram,
            DiscardReason::Malformed,
        ),
        (
            "attribute length 1",
            attribute_length_one,
            DiscardReason::Malformed,
        ),
        ("over 4096 octets", oversized, DiscardReason::Malformed),
        (
            "unknown code",
            unsigned_packet(99, 4, &[]),
            DiscardReason::UnsupportedCode,
        ),
        (
            "Access-Accept sent to the server",
            unsigned_packet(2, 5, &[]),
            DiscardReason::UnexpectedResponse,
        ),
        (
            "no NAS-IP-Address or NAS-Identifier",
            unsigned_packet(1, 6, &[(1, b"alice"), (2, password)]),
            DiscardReason::MissingAttribute,
        ),
        (
            "User-Password and CHAP-Password",
            unsigned_packet(
                1,
                7,
                &[(2, password), (3, &[0x22; 17]), (NAS_IDENTIFIER, b"n")],
            ),
            DiscardReason::ConflictingCredentials,
        ),
        (
            "Proxy-State without Message-Authenticator",
            unsigned_packet(1, 8, &[(2, password), (33, b"hop"), (NAS_IDENTIFIER, b"n")]),
            DiscardReason::ProxyStateWithoutMessageAuthenticator,
        ),
    ];
    for (name, datagram, reason) in &cases {
        socket.send_to(datagram, harness.address).await.unwrap();
        assert_eq!(harness.next_discard().await.reason, *reason, "{name}");
    }
    assert_eq!(harness.counters.discarded(DiscardReason::Malformed), 3);
    for reason in [
        DiscardReason::UnsupportedCode,
        DiscardReason::UnexpectedResponse,
        DiscardReason::MissingAttribute,
        DiscardReason::ConflictingCredentials,
        DiscardReason::ProxyStateWithoutMessageAuthenticator,
    ] {
        assert_eq!(harness.counters.discarded(reason), 1, "{reason}");
    }
    assert_eq!(decided(&mut harness), 0);
    let response = harness
        .client(quick(true))
        .pap(b"alice", b"right")
        .await
        .unwrap();
    assert_eq!(response.code, ResponseCode::Accept);
    harness.stop().await;
}

#[tokio::test]
async fn a_client_that_signed_once_is_never_again_accepted_unsigned() {
    let mut harness = Harness::start("127.0.0.1/32", MessageAuthenticatorRule::Auto, 64).await;
    let unsigned = harness.client(quick(false));
    let signed = harness.client(quick(true));
    assert_eq!(
        unsigned.pap(b"alice", b"right").await.unwrap().code,
        ResponseCode::Accept
    );
    assert_eq!(
        signed.pap(b"alice", b"right").await.unwrap().code,
        ResponseCode::Accept
    );
    harness
        .expect_silence_then_discard(
            unsigned.pap(b"alice", b"right").await,
            DiscardReason::MissingMessageAuthenticator,
        )
        .await;
    harness.stop().await;
}

#[tokio::test]
async fn a_flooding_client_does_not_stop_another_clients_logins() {
    let mut flooder = nas_client(MessageAuthenticatorRule::Always, 2);
    flooder.name = "flooder".to_owned();
    let harness = Harness::serving(
        Service::Authentication,
        vec![
            ("127.0.0.2/32", flooder),
            (
                "127.0.0.1/32",
                nas_client(MessageAuthenticatorRule::Always, 64),
            ),
        ],
        4,
    )
    .await;
    let flood_socket = UdpSocket::bind("127.0.0.2:0").await.unwrap();
    let builder = harness.client(quick(true));
    for _ in 0..50 {
        let datagram = builder.pap_datagram(b"slow", b"right").await.unwrap();
        flood_socket
            .send_to(&datagram, harness.address)
            .await
            .unwrap();
    }
    // Answered well before the flooder's two requests being decided finish.
    let response = harness
        .client(quick(true))
        .pap(b"alice", b"right")
        .await
        .unwrap();
    assert_eq!(response.code, ResponseCode::Accept);
    // The other 48 wait in the flooder's own queue: none dropped yet, none in the way.
    assert_eq!(harness.counters.skipped(Skip::Overloaded), 0);
    harness.stop().await;
}

/// The reject delay of the tests below: what FreeRADIUS and adgate use by default.
const REJECT_DELAY: Duration = Duration::from_secs(1);

#[tokio::test]
async fn rejects_leave_after_the_reject_delay_however_long_the_decision_took() {
    let harness = Harness::delaying_rejects(REJECT_DELAY).await;
    let nas = harness.client(patient());
    let mut timed = Vec::new();
    // A reject decided at once, one decided after SLOW_HANDLER, and an accept.
    for (user, password) in [
        (&b"alice"[..], &b"wrong"[..]),
        (b"slow", b"wrong"),
        (b"alice", b"right"),
    ] {
        let started = Instant::now();
        let code = nas.pap(user, password).await.unwrap().code;
        timed.push((code, started.elapsed()));
    }
    let [(fast_code, fast), (slow_code, slow), (accept_code, accept)] = timed[..] else {
        unreachable!()
    };
    assert_eq!(
        (fast_code, slow_code, accept_code),
        (
            ResponseCode::Reject,
            ResponseCode::Reject,
            ResponseCode::Accept
        )
    );
    for reject in [fast, slow] {
        assert!(reject >= REJECT_DELAY, "{reject:?}");
        assert!(
            reject < REJECT_DELAY + Duration::from_millis(250),
            "{reject:?}"
        );
    }
    assert!(
        fast.abs_diff(slow) < Duration::from_millis(100),
        "{fast:?} vs {slow:?}"
    );
    assert!(
        accept < Duration::from_millis(250),
        "accepts are never delayed: {accept:?}"
    );
    assert_eq!(harness.counters.rejects_delayed(), 2);
    harness.stop().await;
}

#[tokio::test]
async fn a_retransmission_while_the_reject_waits_is_dropped_and_after_it_gets_the_same_bytes() {
    let mut harness = Harness::delaying_rejects(REJECT_DELAY).await;
    let nas = harness.client(quick(true));
    let socket = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let request = nas.pap_datagram(b"alice", b"wrong").await.unwrap();
    let sent = Instant::now();
    socket.send_to(&request, harness.address).await.unwrap();
    sleep(REJECT_DELAY / 3).await;
    socket.send_to(&request, harness.address).await.unwrap();
    let reject = receive_raw(&socket).await;
    assert!(sent.elapsed() >= REJECT_DELAY, "{:?}", sent.elapsed());
    assert_eq!((reject[0], reject[1]), (3, request[1]), "the Access-Reject");
    let mut buffer = [0; 4096];
    let second = timeout(REJECT_DELAY / 2, socket.recv_from(&mut buffer)).await;
    assert!(
        second.is_err(),
        "the copy sent during the delay got no answer of its own"
    );
    assert_eq!(harness.counters.skipped(Skip::DuplicateInProgress), 1);

    let retransmitted = Instant::now();
    assert_eq!(
        exchange_raw(&socket, &request, harness.address).await,
        reject
    );
    assert!(
        retransmitted.elapsed() < Duration::from_millis(100),
        "a cached reject is replayed without a new delay: {:?}",
        retransmitted.elapsed()
    );
    assert_eq!(harness.counters.cached_answers_sent(), 1);
    assert_eq!(decided(&mut harness), 1);
    harness.stop().await;
}

#[tokio::test]
async fn shutdown_sends_the_rejects_still_waiting() {
    let harness = Harness::delaying_rejects(REJECT_DELAY).await;
    let nas = harness.client(patient());
    let waiting = tokio::spawn(async move {
        let started = Instant::now();
        let response = nas.pap(b"alice", b"wrong").await.unwrap();
        (response.code, started.elapsed())
    });
    sleep(REJECT_DELAY / 4).await;
    harness.stop().await;
    let (code, elapsed) = waiting.await.unwrap();
    assert_eq!(code, ResponseCode::Reject);
    assert!(elapsed >= REJECT_DELAY, "{elapsed:?}");
}
