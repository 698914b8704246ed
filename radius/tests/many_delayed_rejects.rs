//! Five hundred Access-Rejects waiting out the reject delay at once, in a test binary of their
//! own so that the process's memory and threads are theirs to read. The server has 4 request
//! slots: had a waiting reject kept its slot, all but 4 of the requests sent within half a second
//! would be dropped. None is, no thread is added, and each waiting reject costs little memory.
// An integration test: its helpers, outside the #[test] functions clippy.toml covers, may
// panic too (a panic is how a test fails).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use adgate_radius::{
    AccessRequest, ClientOptions, ClientState, ClientTable, Discard, NasClient, RadiusClient,
    Reply, RequestHandler, SharedSecret, Skip, UdpServer,
};
use tokio::net::UdpSocket;
use tokio::time::{sleep, timeout, Instant};
use tokio_util::sync::CancellationToken;

const SECRET: &[u8] = b"loopback-secret";
const REJECT_DELAY: Duration = Duration::from_secs(1);
const REQUESTS_PER_SOCKET: usize = 250;
const SOCKETS: usize = 2;
const SLOTS: usize = 4;

/// Refuses everyone at once.
struct RejectAll;

impl RequestHandler for RejectAll {
    async fn access_request(&self, _request: AccessRequest) -> Reply {
        Reply::Reject
    }

    async fn discarded(&self, _discard: Discard) {}
}

/// What the kernel says this process holds.
#[derive(Debug, Clone, Copy)]
struct Usage {
    resident_kib: u64,
    threads: u64,
}

impl Usage {
    fn now() -> Usage {
        let status = std::fs::read_to_string("/proc/self/status").unwrap();
        let field = |name: &str| -> u64 {
            status
                .lines()
                .find_map(|line| line.strip_prefix(name))
                .and_then(|value| value.split_whitespace().next())
                .and_then(|number| number.parse().ok())
                .unwrap_or_else(|| panic!("{name} in /proc/self/status"))
        };
        Usage {
            resident_kib: field("VmRSS:"),
            threads: field("Threads:"),
        }
    }
}

async fn start_server() -> (SocketAddr, Arc<adgate_radius::Counters>, CancellationToken) {
    let client = NasClient {
        name: "nas".to_owned(),
        secret: SharedSecret::new(SECRET.to_vec()),
        require_message_authenticator: adgate_radius::MessageAuthenticatorRule::Always,
        limit_proxy_state: true,
        max_in_flight: SLOTS,
        state: ClientState::default(),
    };
    let clients = ClientTable::new(vec![("127.0.0.1/32".parse().unwrap(), Arc::new(client))]);
    let socket = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let server = UdpServer::serving(
        adgate_radius::Service::Authentication,
        socket,
        Arc::new(clients),
        Arc::new(RejectAll),
        SLOTS,
    )
    .with_reject_delay(REJECT_DELAY);
    let address = server.local_addr().unwrap();
    let counters = server.counters();
    let shutdown = CancellationToken::new();
    tokio::spawn(server.run(shutdown.clone()));
    (address, counters, shutdown)
}

/// Receives `count` answers on `socket`: each one's Code and when it came, by Identifier.
async fn receive(socket: Arc<UdpSocket>, count: usize) -> Vec<Option<(u8, Instant)>> {
    let mut answers = vec![None; 256];
    let mut buffer = [0; 4096];
    for _ in 0..count {
        let (length, _) = timeout(REJECT_DELAY * 5, socket.recv_from(&mut buffer))
            .await
            .expect("every request is answered")
            .unwrap();
        assert!(length >= 20);
        answers[usize::from(buffer[1])] = Some((buffer[0], Instant::now()));
    }
    answers
}

/// One round: every socket sends its requests, paced so that each is decided before the next
/// arrives; all of them are waiting at once by the time the last is sent.
struct Round {
    /// Resident memory and threads before the first request and once the last one waits.
    before: Usage,
    waiting: Usage,
    sending_took: Duration,
    /// The longest a request waited for its reject.
    slowest: Duration,
}

async fn round(server: SocketAddr, counters: &adgate_radius::Counters) -> Round {
    let options = ClientOptions {
        nas_identifier: Some("vpn-1".to_owned()),
        ..ClientOptions::default()
    };
    let mut requests = Vec::new();
    for _ in 0..SOCKETS {
        let socket = Arc::new(UdpSocket::bind("127.0.0.1:0").await.unwrap());
        let builder =
            RadiusClient::new(server, SharedSecret::new(SECRET.to_vec()), options.clone()).unwrap();
        let mut datagrams = Vec::new();
        for _ in 0..REQUESTS_PER_SOCKET {
            datagrams.push(builder.pap_datagram(b"guess", b"wrong").await.unwrap());
        }
        requests.push((socket, datagrams));
    }
    let receivers: Vec<_> = requests
        .iter()
        .map(|(socket, datagrams)| tokio::spawn(receive(Arc::clone(socket), datagrams.len())))
        .collect();
    let delayed_before = counters.rejects_delayed();
    let before = Usage::now();

    let mut sent = vec![vec![None; 256]; SOCKETS];
    let first_sent = Instant::now();
    for index in 0..REQUESTS_PER_SOCKET {
        for ((socket, datagrams), sent) in requests.iter().zip(&mut sent) {
            let datagram = &datagrams[index];
            // Before sending: the server may have it before this task runs again.
            sent[usize::from(datagram[1])] = Some(Instant::now());
            socket.send_to(datagram, server).await.unwrap();
        }
        sleep(Duration::from_millis(1)).await;
    }
    let sending_took = first_sent.elapsed();
    // Give the last requests a moment to be decided, well before the first reject is due.
    sleep(Duration::from_millis(20)).await;
    let waiting = Usage::now();
    assert!(
        first_sent.elapsed() < REJECT_DELAY,
        "sending took too long to have them all wait at once: {:?}",
        first_sent.elapsed()
    );
    assert_eq!(
        counters.rejects_delayed() - delayed_before,
        (SOCKETS * REQUESTS_PER_SOCKET) as u64,
        "every reject is waiting"
    );
    assert!(receivers.iter().all(|receiver| !receiver.is_finished()));

    let mut slowest = Duration::ZERO;
    for (receiver, sent) in receivers.into_iter().zip(&sent) {
        let answers = receiver.await.unwrap();
        for (answer, sent) in answers.iter().zip(sent) {
            let (Some((code, received)), Some(sent)) = (answer, sent) else {
                assert!(answer.is_none() && sent.is_none());
                continue;
            };
            assert_eq!(*code, 3, "an Access-Reject");
            let elapsed = received.duration_since(*sent);
            assert!(elapsed >= REJECT_DELAY, "{elapsed:?}");
            slowest = slowest.max(elapsed);
        }
    }
    Round {
        before,
        waiting,
        sending_took,
        slowest,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn five_hundred_waiting_rejects_hold_no_slot_no_thread_and_little_memory() {
    let (server, counters, shutdown) = start_server().await;
    // The first round warms up what any traffic would (allocator arenas of the worker threads,
    // the cache's tables); the second measures what waiting rejects cost.
    round(server, &counters).await;
    let Round {
        before,
        waiting,
        sending_took,
        slowest,
    } = round(server, &counters).await;
    let requests = (SOCKETS * REQUESTS_PER_SOCKET) as u64;
    assert!(
        slowest < REJECT_DELAY + Duration::from_millis(500),
        "{slowest:?}"
    );
    assert_eq!(
        counters.skipped(Skip::Overloaded),
        0,
        "no request found the slots taken"
    );
    assert!(
        waiting.threads <= before.threads,
        "no thread was added: {before:?} then {waiting:?}"
    );
    let growth_kib = waiting.resident_kib.saturating_sub(before.resident_kib);
    println!(
        "{requests} rejects waiting: resident memory {} KiB before, {} KiB while waiting \
         (+{growth_kib} KiB, {} octets each); threads {} then {}; sending took {sending_took:?}; \
         slowest reject {slowest:?}",
        before.resident_kib,
        waiting.resident_kib,
        growth_kib * 1024 / requests,
        before.threads,
        waiting.threads,
    );
    assert!(
        growth_kib < 2 * 1024,
        "{growth_kib} KiB for the waiting rejects"
    );
    shutdown.cancel();
}
