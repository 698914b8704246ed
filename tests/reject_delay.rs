//! The reject delay as someone at the VPN's login page sees it, against the lab AD: with the
//! default `server.reject_delay_ms` (1000), an unknown name, a disabled account, a user off
//! telework and a wrong password are refused after the same time, never sooner than the delay;
//! accepts are not slowed; a NAS retransmitting while the reject waits gets nothing more, and
//! after it the cached reject at once; and hundreds of waiting rejects cost adgate little
//! memory, no thread and no request slot.
// An integration test: its helpers, outside the #[test] functions clippy.toml covers, may
// panic too (a panic is how a test fails).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

mod common;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use adgate_radius::{ClientOptions, RadiusClient, ResponseCode, SharedSecret};
use common::{http_get, start_with_metrics, without_reject_delay, Adgate, Lab};
use tokio::net::UdpSocket;
use tokio::time::{sleep, timeout, Instant};

/// The default `server.reject_delay_ms`.
const REJECT_DELAY: Duration = Duration::from_secs(1);
const SAMPLES: usize = 5;

/// The kinds of refusal a guesser would like to tell apart, and a login that gets in.
const KINDS: [(&str, &str, bool, &str); 5] = [
    ("unknown user", "nobody-here", true, "unknown_user"),
    ("disabled", "bob", true, "account_disabled"),
    ("not in the telework group", "frank", true, "telework_off"),
    ("wrong password", "lockme", false, "bad_password"),
    ("right password", "alice", true, ""),
];

/// The median time to answer `user` with `password`, over `SAMPLES` logins one after another,
/// checking that each was decided for `reason` (empty: accepted).
async fn median_answer_time(
    adgate: &Adgate,
    user: &str,
    password: Vec<u8>,
    reason: &str,
) -> Duration {
    let mut times = Vec::new();
    for _ in 0..SAMPLES {
        let started = Instant::now();
        let (response, record) = adgate.pap(user, &password).await;
        times.push(started.elapsed());
        let expected = if reason.is_empty() {
            ResponseCode::Accept
        } else {
            ResponseCode::Reject
        };
        assert_eq!(response.code, expected, "{record}");
        assert_eq!(
            record["reason"].as_str().unwrap_or_default(),
            reason,
            "{record}"
        );
    }
    times.sort();
    times[SAMPLES / 2]
}

/// The median answer time of each kind of login in `KINDS`, the kinds measured side by side.
async fn medians(adgate: &Adgate) -> Vec<Duration> {
    let [a, b, c, d, e] = KINDS.map(|(_, user, right_password, reason)| {
        let password = if right_password {
            Lab::get().fixture_password()
        } else {
            b"not-the-password-of-lockme".to_vec()
        };
        median_answer_time(adgate, user, password, reason)
    });
    let (a, b, c, d, e) = tokio::join!(a, b, c, d, e);
    vec![a, b, c, d, e]
}

fn table(medians: &[Duration]) -> String {
    KINDS
        .iter()
        .zip(medians)
        .map(|((kind, ..), median)| format!("{kind} {:.1} ms", median.as_secs_f64() * 1e3))
        .collect::<Vec<_>>()
        .join(", ")
}

#[tokio::test]
#[ignore = "needs the lab AD: deploy/test.sh"]
async fn every_refusal_takes_the_delay_and_an_accept_does_not() {
    let lab = Lab::get();
    // Five wrong passwords for lockme per round: within adgate's throttle budget, below AD's
    // lockout threshold (10).
    let throttle = "\n[throttle]\nmax_failures = 10\n";
    let delayed = Adgate::start_with(|config| config + throttle);
    let immediate = Adgate::start_with(|config| without_reject_delay(config) + throttle);
    let without_delay = medians(&immediate).await;
    // A good login resets AD's count, so that the two rounds together stay below its lockout.
    let (response, _) = immediate.pap("lockme", &lab.fixture_password()).await;
    assert_eq!(response.code, ResponseCode::Accept);
    let with_delay = medians(&delayed).await;
    println!("reject_delay_ms = 0:    {}", table(&without_delay));
    println!("reject_delay_ms = 1000: {}", table(&with_delay));

    let (refusals, accept) = with_delay.split_at(4);
    let fastest = refusals.iter().min().copied().unwrap();
    let slowest = refusals.iter().max().copied().unwrap();
    assert!(fastest >= REJECT_DELAY, "{}", table(&with_delay));
    assert!(
        slowest - fastest < fastest / 20,
        "refusals differ by 5 % or more: {}",
        table(&with_delay)
    );
    assert!(
        accept[0] < Duration::from_millis(250),
        "accepts are not delayed: {}",
        table(&with_delay)
    );
    assert!(without_delay
        .iter()
        .all(|median| *median < REJECT_DELAY / 4));

    // AD counted each wrong password once; a good login resets the count, so repeated runs
    // never lock lockme out.
    assert_eq!(lab.bad_pwd_count("lockme"), SAMPLES as u32);
    let (response, _) = delayed.pap("lockme", &lab.fixture_password()).await;
    assert_eq!(response.code, ResponseCode::Accept);
    assert_eq!(lab.bad_pwd_count("lockme"), 0);
}

#[tokio::test]
#[ignore = "needs the lab AD: deploy/test.sh"]
async fn a_retransmission_while_the_reject_waits_gets_nothing_and_after_it_the_cached_reject() {
    let adgate = Adgate::start();
    let request = adgate
        .nas()
        .pap_datagram(b"frank", &Lab::get().fixture_password())
        .await
        .unwrap();
    let socket = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let sent = Instant::now();
    socket.send_to(&request, adgate.address).await.unwrap();
    sleep(REJECT_DELAY / 3).await;
    socket.send_to(&request, adgate.address).await.unwrap();
    let mut buffer = [0; 4096];
    let (length, _) = timeout(REJECT_DELAY * 3, socket.recv_from(&mut buffer))
        .await
        .expect("the reject")
        .unwrap();
    let reject = buffer[..length].to_vec();
    assert!(sent.elapsed() >= REJECT_DELAY, "{:?}", sent.elapsed());
    assert_eq!((reject[0], reject[1]), (3, request[1]), "the Access-Reject");
    let again = timeout(REJECT_DELAY / 2, socket.recv_from(&mut buffer)).await;
    assert!(
        again.is_err(),
        "the copy sent while the reject waited got no answer"
    );

    let retransmitted = Instant::now();
    socket.send_to(&request, adgate.address).await.unwrap();
    let (length, _) = timeout(REJECT_DELAY, socket.recv_from(&mut buffer))
        .await
        .expect("the cached reject")
        .unwrap();
    assert_eq!(buffer[..length], reject[..], "byte for byte");
    assert!(
        retransmitted.elapsed() < REJECT_DELAY / 4,
        "replayed without a new delay: {:?}",
        retransmitted.elapsed()
    );
    let decisions = adgate
        .records()
        .into_iter()
        .filter(|record| record["user_name"] == "frank")
        .count();
    assert_eq!(decisions, 1, "decided once");
}

/// What the kernel says adgate holds.
#[derive(Debug, Clone, Copy)]
struct Usage {
    resident_kib: u64,
    threads: u64,
}

impl Usage {
    fn of(adgate: &Adgate) -> Usage {
        let status = std::fs::read_to_string(format!("/proc/{}/status", adgate.pid())).unwrap();
        let field = |name: &str| -> u64 {
            status
                .lines()
                .find_map(|line| line.strip_prefix(name))
                .and_then(|value| value.split_whitespace().next())
                .and_then(|number| number.parse().ok())
                .unwrap_or_else(|| panic!("{name} in adgate's /proc status"))
        };
        Usage {
            resident_kib: field("VmRSS:"),
            threads: field("Threads:"),
        }
    }
}

/// The value of the sample `name` in a classic-text scrape.
fn sample(text: &str, name: &str) -> f64 {
    text.lines()
        .find_map(|line| line.strip_prefix(name)?.strip_prefix(' ')?.parse().ok())
        .unwrap_or_else(|| panic!("no {name} in\n{text}"))
}

const SOCKETS: usize = 2;
const PER_SOCKET: usize = 250;

/// Sends `PER_SOCKET` logins of unknown users from each of `SOCKETS` sockets, one every
/// millisecond or so, so that all wait at once; returns adgate's usage once the last was sent
/// and the longest time one waited for its reject.
async fn spray(adgate: &Adgate, metrics: SocketAddr) -> (Usage, Duration) {
    let options = ClientOptions {
        nas_identifier: Some("test-nas".into()),
        ..ClientOptions::default()
    };
    let mut sockets = Vec::new();
    for _ in 0..SOCKETS {
        let socket = Arc::new(UdpSocket::bind("127.0.0.1:0").await.unwrap());
        let builder = RadiusClient::new(
            adgate.address,
            SharedSecret::new(Lab::get().radius_secret()),
            options.clone(),
        )
        .unwrap();
        let mut datagrams = Vec::new();
        for index in 0..PER_SOCKET {
            let user = format!("nobody-{index}");
            datagrams.push(
                builder
                    .pap_datagram(user.as_bytes(), b"guess")
                    .await
                    .unwrap(),
            );
        }
        sockets.push((socket, datagrams));
    }
    let receivers: Vec<_> = sockets
        .iter()
        .map(|(socket, _)| {
            let socket = Arc::clone(socket);
            tokio::spawn(async move {
                let mut received = vec![None; 256];
                let mut buffer = [0; 4096];
                for _ in 0..PER_SOCKET {
                    let Ok(answer) = timeout(REJECT_DELAY * 5, socket.recv_from(&mut buffer)).await
                    else {
                        break;
                    };
                    let (length, _) = answer.unwrap();
                    assert!(length >= 20 && buffer[0] == 3, "an Access-Reject");
                    received[usize::from(buffer[1])] = Some(Instant::now());
                }
                received
            })
        })
        .collect();
    let mut sent = vec![vec![None; 256]; SOCKETS];
    let first = Instant::now();
    for index in 0..PER_SOCKET {
        for ((socket, datagrams), sent) in sockets.iter().zip(&mut sent) {
            let datagram = &datagrams[index];
            sent[usize::from(datagram[1])] = Some(Instant::now());
            socket.send_to(datagram, adgate.address).await.unwrap();
        }
        sleep(Duration::from_millis(1)).await;
    }
    sleep(Duration::from_millis(50)).await;
    let waiting = Usage::of(adgate);
    assert!(
        first.elapsed() < REJECT_DELAY,
        "sent too slowly: {:?}",
        first.elapsed()
    );
    let mut slowest = Duration::ZERO;
    let mut answered = 0;
    for (receiver, sent) in receivers.into_iter().zip(&sent) {
        for (received, sent) in receiver.await.unwrap().iter().zip(sent) {
            if let (Some(received), Some(sent)) = (received, sent) {
                let waited = received.duration_since(*sent);
                assert!(waited >= REJECT_DELAY, "{waited:?}");
                slowest = slowest.max(waited);
                answered += 1;
            }
        }
    }
    let (_, metrics) = http_get(metrics, "/metrics");
    assert_eq!(
        answered,
        SOCKETS * PER_SOCKET,
        "every login is answered:\n{metrics}"
    );
    (waiting, slowest)
}

#[tokio::test]
#[ignore = "needs the lab AD: deploy/test.sh"]
async fn five_hundred_waiting_rejects_cost_little_memory_no_thread_and_no_slot() {
    // Each decision waits for an fsync'ed record; on a busy machine more than the client's
    // default 32 slots can be taken by decisions alone. 256 are still fewer than the rejects
    // that wait: had a waiting reject kept its slot, logins would be dropped as overloaded.
    let (adgate, metrics) = start_with_metrics(|config| {
        config.replace(
            "require_message_authenticator = true",
            "require_message_authenticator = true\nmax_in_flight = 256",
        )
    });
    // A first round warms up what any traffic would (LDAP connections, allocator arenas,
    // tables); the second measures.
    spray(&adgate, metrics).await;
    let before = Usage::of(&adgate);
    let (waiting, slowest) = spray(&adgate, metrics).await;
    let growth_kib = waiting.resident_kib.saturating_sub(before.resident_kib);
    let rejects = (SOCKETS * PER_SOCKET) as u64;
    println!(
        "{rejects} rejects waiting in adgate: resident {} KiB before, {} KiB while waiting \
         (+{growth_kib} KiB, {} octets each), threads {} then {}, slowest reject {slowest:?}",
        before.resident_kib,
        waiting.resident_kib,
        growth_kib * 1024 / rejects,
        before.threads,
        waiting.threads,
    );
    assert!(
        waiting.threads <= before.threads,
        "{before:?} then {waiting:?}"
    );
    assert!(growth_kib < 8 * 1024, "{growth_kib} KiB");
    assert!(slowest < REJECT_DELAY * 2, "{slowest:?}");
    let (_, text) = http_get(metrics, "/metrics");
    assert_eq!(
        sample(&text, "adgate_rejects_delayed_total"),
        2.0 * rejects as f64
    );
    assert_eq!(sample(&text, "adgate_rejects_withheld_total"), 0.0);
    assert_eq!(
        sample(&text, r#"adgate_discards_total{reason="overloaded"}"#),
        0.0,
        "no login found the request slots taken"
    );
}
