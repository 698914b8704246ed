//! End-to-end over loopback UDP: the simulated NAS against the server, with
//! a handler that accepts the password "right" and records what it sees.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use adgate_radius::{
    AccessRequest, ClientError, ClientOptions, ClientTable, Credential, Discard, DiscardReason,
    NasClient, RadiusClient, Reply, ReplyAttribute, RequestHandler, ResponseCode, SharedSecret,
    UdpServer,
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
    message_authenticator: bool,
}

struct TestHandler {
    seen: mpsc::UnboundedSender<Seen>,
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

    async fn discarded(&self, discard: Discard) {
        let _ = self.discards.send(discard);
    }
}

struct Harness {
    address: SocketAddr,
    seen: mpsc::UnboundedReceiver<Seen>,
    discards: mpsc::UnboundedReceiver<Discard>,
    shutdown: CancellationToken,
    server: JoinHandle<()>,
}

impl Harness {
    /// A server whose client table maps `network` to client "nas".
    async fn start(
        network: &str,
        require_message_authenticator: bool,
        max_in_flight: usize,
    ) -> Self {
        let client = Arc::new(NasClient {
            name: "nas".to_owned(),
            secret: SharedSecret::new(SECRET.to_vec()),
            require_message_authenticator,
        });
        let clients = Arc::new(ClientTable::new(vec![(network.parse().unwrap(), client)]));
        let (seen_tx, seen) = mpsc::unbounded_channel();
        let (discards_tx, discards) = mpsc::unbounded_channel();
        let handler = Arc::new(TestHandler {
            seen: seen_tx,
            discards: discards_tx,
        });
        let socket = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let server = UdpServer::new(socket, clients, handler, max_in_flight);
        let address = server.local_addr().unwrap();
        let shutdown = CancellationToken::new();
        let server = tokio::spawn(server.run(shutdown.clone()));
        Self {
            address,
            seen,
            discards,
            shutdown,
            server,
        }
    }

    async fn standard() -> Self {
        Self::start("127.0.0.1/32", true, 64).await
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
    let mut harness = Harness::start("127.0.0.0/8", false, 64).await;
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
    let mut harness = Harness::start("192.0.2.0/24", false, 64).await;
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
    let harness = Harness::start("127.0.0.1/32", true, 1).await;
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
