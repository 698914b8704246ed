//! Bursts and floods against the UDP server, in a test binary of their own so that the
//! process's memory is theirs to read: a burst of logins from one NAS beyond its
//! `max_in_flight` waits its turn and is answered in full; a flood from one NAS is shed from that
//! NAS's bounded queue, while another NAS is answered as quickly as when all was quiet.
// An integration test: its helpers, outside the #[test] functions clippy.toml covers, may
// panic too (a panic is how a test fails).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use adgate_radius::{
    AccessRequest, ClientOptions, ClientState, ClientTable, Counters, Discard, NasClient,
    QueueLimits, RadiusClient, Reply, RequestHandler, ResponseCode, Service, SharedSecret, Skip,
    UdpServer,
};
use tokio::net::UdpSocket;
use tokio::time::{sleep, timeout, Instant};
use tokio_util::sync::CancellationToken;

const SECRET: &[u8] = b"loopback-secret";
/// Each decision takes this long, as a directory round trip would.
const DECISION: Duration = Duration::from_millis(5);
/// The flood's decisions take longer, so that it sends faster than it is decided.
const FLOOD_DECISION: Duration = Duration::from_millis(50);
/// The client default of the binary: the queue is what lets a burst beyond it through.
const CLIENT_SLOTS: usize = 32;
/// Datagrams the flooding NAS sends.
const FLOOD: usize = 10_000;
const SERVER_SLOTS: usize = 256;

/// Accepts everyone after `DECISION` (`FLOOD_DECISION` for the user "flood"), counting the
/// decisions in progress.
#[derive(Default)]
struct SlowAccept {
    deciding: AtomicUsize,
    most_at_once: AtomicUsize,
    flood_decided: AtomicUsize,
}

impl RequestHandler for SlowAccept {
    async fn access_request(&self, request: AccessRequest) -> Reply {
        let now = self.deciding.fetch_add(1, Ordering::SeqCst) + 1;
        self.most_at_once.fetch_max(now, Ordering::SeqCst);
        let flood = request.user_name.as_deref() == Some(b"flood");
        sleep(if flood { FLOOD_DECISION } else { DECISION }).await;
        if flood {
            self.flood_decided.fetch_add(1, Ordering::SeqCst);
        }
        self.deciding.fetch_sub(1, Ordering::SeqCst);
        Reply::Accept {
            attributes: Vec::new(),
        }
    }

    async fn discarded(&self, _discard: Discard) {}
}

fn nas(name: &str) -> Arc<NasClient> {
    Arc::new(NasClient {
        name: name.to_owned(),
        secret: SharedSecret::new(SECRET.to_vec()),
        require_message_authenticator: adgate_radius::MessageAuthenticatorRule::Always,
        limit_proxy_state: true,
        max_in_flight: CLIENT_SLOTS,
        state: ClientState::default(),
    })
}

struct Server {
    address: SocketAddr,
    counters: Arc<Counters>,
    handler: Arc<SlowAccept>,
    shutdown: CancellationToken,
}

/// The office NAS on 127.0.0.1, the flooding one on 127.0.0.2.
async fn start(limits: QueueLimits) -> Server {
    let clients = ClientTable::new(vec![
        ("127.0.0.1/32".parse().unwrap(), nas("office")),
        ("127.0.0.2/32".parse().unwrap(), nas("flood")),
    ]);
    let handler = Arc::new(SlowAccept::default());
    let socket = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let server = UdpServer::serving(
        Service::Authentication,
        socket,
        Arc::new(clients),
        Arc::clone(&handler),
        SERVER_SLOTS,
    )
    .with_queue_limits(limits);
    let address = server.local_addr().unwrap();
    let counters = server.counters();
    let shutdown = CancellationToken::new();
    tokio::spawn(server.run(shutdown.clone()));
    Server {
        address,
        counters,
        handler,
        shutdown,
    }
}

/// A NAS that waits 5 s for an answer and never retransmits: what it does not get is lost.
fn patient_without_retransmission() -> ClientOptions {
    ClientOptions {
        timeout: Duration::from_secs(5),
        retries: 0,
        send_message_authenticator: true,
        nas_identifier: Some("vpn-1".to_owned()),
    }
}

fn resident_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|value| value.split_whitespace().next())
        .and_then(|number| number.parse().ok())
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_burst_of_200_in_flight_from_one_nas_is_answered_in_full() {
    let server = start(QueueLimits::default()).await;
    let mut logins = tokio::task::JoinSet::new();
    for _ in 0..200 {
        // One socket per login in flight, as `adgate nas bench` does: all from one NAS address.
        let client = RadiusClient::new(
            server.address,
            SharedSecret::new(SECRET.to_vec()),
            patient_without_retransmission(),
        )
        .unwrap();
        logins.spawn(async move { client.pap(b"alice", b"right").await.map(|r| r.code) });
    }
    let mut accepted = 0;
    while let Some(login) = logins.join_next().await {
        assert_eq!(login.unwrap().unwrap(), ResponseCode::Accept);
        accepted += 1;
    }
    assert_eq!(accepted, 200);
    assert_eq!(server.counters.skipped(Skip::Overloaded), 0);
    // The burst went beyond the client's slots, and the client's limit held.
    assert_eq!(
        server.handler.most_at_once.load(Ordering::SeqCst),
        CLIENT_SLOTS
    );
    server.shutdown.cancel();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flood_from_one_nas_neither_starves_another_nor_grows_memory() {
    let limits = QueueLimits::default();
    let server = start(limits).await;
    // Flood: signed Access-Requests, every one a new request, sent from 127.0.0.2 at 4000 a
    // second (ten times what its slots decide) for 2.5 s and never read back. Paced, so that
    // what is dropped is dropped by the server, not by the kernel's full socket buffer.
    let builder = RadiusClient::new(
        server.address,
        SharedSecret::new(SECRET.to_vec()),
        ClientOptions::default(),
    )
    .unwrap();
    let mut flood = Vec::new();
    for _ in 0..FLOOD {
        flood.push(builder.pap_datagram(b"flood", b"right").await.unwrap());
    }
    let flooder = UdpSocket::bind("127.0.0.2:0").await.unwrap();
    let resident_before = resident_kib();
    let address = server.address;
    let flooding = tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_millis(10));
        for burst in flood.chunks(40) {
            tick.tick().await;
            for datagram in burst {
                flooder.send_to(datagram, address).await.unwrap();
            }
        }
        flooder
    });
    // Meanwhile the office NAS logs in, 8 at a time, without retransmitting.
    sleep(Duration::from_millis(300)).await;
    let started = Instant::now();
    let mut slowest = Duration::ZERO;
    for _ in 0..10 {
        let mut logins = tokio::task::JoinSet::new();
        for _ in 0..8 {
            let client = RadiusClient::new(
                server.address,
                SharedSecret::new(SECRET.to_vec()),
                patient_without_retransmission(),
            )
            .unwrap();
            logins.spawn(async move {
                let sent = Instant::now();
                let code = client.pap(b"alice", b"right").await.map(|r| r.code);
                (code, sent.elapsed())
            });
        }
        while let Some(login) = logins.join_next().await {
            let (code, took) = login.unwrap();
            assert_eq!(code.unwrap(), ResponseCode::Accept);
            slowest = slowest.max(took);
        }
    }
    let _flooder = timeout(Duration::from_secs(30), flooding)
        .await
        .unwrap()
        .unwrap();
    let resident_after = resident_kib();
    // The office's logins never queued behind the flood: each took about one decision.
    assert!(slowest < Duration::from_millis(500), "{slowest:?}");
    assert!(started.elapsed() < Duration::from_secs(5));
    // The flood was shed, not stored: once the last datagram is sent, what was neither decided
    // nor dropped is the flood's queue and slots, plus what the socket buffer still holds or
    // the kernel dropped (tens): far from the thousands an unbounded queue would hold.
    let shed = server.counters.skipped(Skip::Overloaded) as usize;
    let decided = server.handler.flood_decided.load(Ordering::SeqCst);
    let held = FLOOD.saturating_sub(decided + shed);
    assert!(shed > 0);
    assert!(
        held <= 2 * limits.per_client,
        "{held} flood datagrams held ({decided} decided, {shed} dropped)"
    );
    // And memory stayed bounded: 1024 datagrams of ~100 octets are a few hundred KiB.
    let grown = resident_after.saturating_sub(resident_before);
    assert!(grown < 16 * 1024, "{grown} KiB more resident memory");
    server.shutdown.cancel();
}
