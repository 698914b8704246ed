//! The Disconnect-Request sender against the simulated NAS over loopback
//! UDP: what a NAS receives, how each kind of answer (or silence) ends a
//! disconnect, retransmission from one socket, and shutdown.
// An integration test: its helpers, outside the #[test] functions clippy.toml covers, may
// panic too (a panic is how a test fails).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::Duration;

use adgate_radius::{
    DasBehaviour, DisconnectError, DisconnectOutcome, DisconnectProfile, DisconnectSender,
    DroppedResponse, RetransmitSchedule, SessionIdentification, SharedSecret, SimulatedDas,
    SESSION_CONTEXT_NOT_FOUND,
};
use tokio::time::{sleep, timeout, Instant};
use tokio_util::sync::CancellationToken;

const SECRET: &[u8] = b"loopback-dae-secret";
const USER_NAME: u8 = 1;
const NAS_IP_ADDRESS: u8 = 4;
const FRAMED_IP_ADDRESS: u8 = 8;
const NAS_IDENTIFIER: u8 = 32;
const ACCT_SESSION_ID: u8 = 44;
const EVENT_TIMESTAMP: u8 = 55;
const MESSAGE_AUTHENTICATOR: u8 = 80;

fn loopback() -> SocketAddr {
    "127.0.0.1:0".parse().unwrap()
}

fn session() -> SessionIdentification {
    SessionIdentification {
        user_name: b"alice@example.test".to_vec(),
        acct_session_id: Some("1700000000-7".to_owned()),
        nas_ip_address: Some(IpAddr::from([127, 0, 0, 1])),
        nas_identifier: Some("vpn-gw".to_owned()),
        framed_ip_address: Some(Ipv4Addr::new(10, 8, 0, 5)),
        calling_station_id: None,
    }
}

fn das(behaviour: DasBehaviour) -> SimulatedDas {
    SimulatedDas::bind(loopback(), SharedSecret::new(SECRET.to_vec()), behaviour).unwrap()
}

fn schedule(milliseconds: &[u64]) -> RetransmitSchedule {
    RetransmitSchedule::new(
        milliseconds
            .iter()
            .copied()
            .map(Duration::from_millis)
            .collect(),
    )
    .unwrap()
}

fn sender_with(das: &SimulatedDas, schedule: RetransmitSchedule) -> DisconnectSender {
    DisconnectSender::bind(
        loopback(),
        das.local_addr(),
        SharedSecret::new(SECRET.to_vec()),
        schedule,
        &CancellationToken::new(),
    )
    .unwrap()
}

/// The schedule for tests of silence: three sends, NoAnswer at 350 ms.
fn short_schedule() -> RetransmitSchedule {
    schedule(&[50, 100, 200])
}

async fn wait_until(what: &str, condition: impl Fn() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(5);
    while !condition() {
        assert!(Instant::now() < deadline, "timed out waiting until {what}");
        sleep(Duration::from_millis(5)).await;
    }
}

#[tokio::test]
async fn an_ack_ends_the_disconnect_after_one_send() {
    let das = das(DasBehaviour::Ack);
    let sender = sender_with(&das, RetransmitSchedule::default());
    let before = std::time::SystemTime::now();
    let outcome = sender
        .disconnect(&session(), DisconnectProfile::UserName)
        .await
        .unwrap();
    assert_eq!(outcome, DisconnectOutcome::Ack { error_cause: None });
    assert!(outcome.session_ended());

    let received = das.received();
    assert_eq!(received.len(), 1);
    let request = &received[0];
    let types: Vec<u8> = request.attributes.iter().map(|(t, _)| *t).collect();
    assert_eq!(types, [MESSAGE_AUTHENTICATOR, USER_NAME, EVENT_TIMESTAMP]);
    assert_eq!(
        request.attribute(USER_NAME),
        Some(&b"alice@example.test"[..])
    );
    let stamped = u32::from_be_bytes(
        request
            .attribute(EVENT_TIMESTAMP)
            .unwrap()
            .try_into()
            .unwrap(),
    );
    let now = before
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    assert!(u64::from(stamped).abs_diff(now) <= 2, "{stamped} vs {now}");
    assert_eq!(request.source, sender.local_addr().unwrap());

    let counters = sender.counters();
    assert_eq!(
        (counters.sent(), counters.retransmitted(), counters.acks()),
        (1, 0, 1)
    );
}

#[tokio::test]
async fn each_profile_reaches_the_nas_with_its_attributes() {
    let das = das(DasBehaviour::Ack);
    let sender = sender_with(&das, RetransmitSchedule::default());
    for profile in DisconnectProfile::ALL {
        let outcome = sender.disconnect(&session(), profile).await.unwrap();
        assert_eq!(outcome, DisconnectOutcome::Ack { error_cause: None });
    }
    let sent: Vec<Vec<u8>> = das
        .received()
        .iter()
        .map(|request| request.attributes.iter().map(|(t, _)| *t).collect())
        .collect();
    assert_eq!(
        sent,
        [
            vec![
                MESSAGE_AUTHENTICATOR,
                USER_NAME,
                ACCT_SESSION_ID,
                NAS_IP_ADDRESS,
                NAS_IDENTIFIER,
                FRAMED_IP_ADDRESS,
                EVENT_TIMESTAMP
            ],
            vec![MESSAGE_AUTHENTICATOR, USER_NAME, EVENT_TIMESTAMP],
            vec![
                MESSAGE_AUTHENTICATOR,
                USER_NAME,
                FRAMED_IP_ADDRESS,
                EVENT_TIMESTAMP
            ],
        ]
    );
    assert_eq!(das.discarded(), 0);
}

#[tokio::test]
async fn a_nak_503_means_the_session_is_already_gone() {
    let das = das(DasBehaviour::Nak {
        error_cause: Some(SESSION_CONTEXT_NOT_FOUND),
    });
    let sender = sender_with(&das, RetransmitSchedule::default());
    let outcome = sender
        .disconnect(&session(), DisconnectProfile::Default)
        .await
        .unwrap();
    assert_eq!(
        outcome,
        DisconnectOutcome::Nak {
            error_cause: Some(503)
        }
    );
    assert!(outcome.session_ended());

    das.set_behaviour(DasBehaviour::Nak { error_cause: None });
    let outcome = sender
        .disconnect(&session(), DisconnectProfile::Default)
        .await
        .unwrap();
    assert_eq!(outcome, DisconnectOutcome::Nak { error_cause: None });
    assert!(!outcome.session_ended());
    assert_eq!(sender.counters().naks(), 2);
}

#[tokio::test]
async fn a_silent_nas_gets_identical_retransmissions_from_one_port_then_no_answer() {
    let das = das(DasBehaviour::Silent);
    let sender = sender_with(&das, short_schedule());
    let started = Instant::now();
    let outcome = sender
        .disconnect(&session(), DisconnectProfile::UserName)
        .await
        .unwrap();
    let elapsed = started.elapsed();
    assert_eq!(outcome, DisconnectOutcome::NoAnswer { attempts: 3 });
    assert!(!outcome.session_ended());
    assert!(
        (Duration::from_millis(350)..Duration::from_millis(1000)).contains(&elapsed),
        "{elapsed:?}"
    );

    let received = das.received();
    assert_eq!(received.len(), 3);
    let local = sender.local_addr().unwrap();
    for retransmission in &received {
        assert_eq!(retransmission.datagram, received[0].datagram);
        assert_eq!(retransmission.source, local);
    }
    let counters = sender.counters();
    assert_eq!(
        (
            counters.sent(),
            counters.retransmitted(),
            counters.no_answer()
        ),
        (1, 2, 1)
    );
}

#[tokio::test]
async fn a_forged_ack_is_dropped_and_the_real_answer_wins() {
    let das = das(DasBehaviour::ForgedAck);
    let sender = sender_with(&das, schedule(&[300, 600, 1200]));
    let disconnect = tokio::spawn({
        let sender = sender.clone();
        async move {
            sender
                .disconnect(&session(), DisconnectProfile::UserName)
                .await
        }
    });
    let counters = sender.counters();
    wait_until("the forged ACK is dropped", || {
        counters.dropped(DroppedResponse::BadAuthenticator) >= 1
    })
    .await;
    das.set_behaviour(DasBehaviour::Ack);
    let outcome = disconnect.await.unwrap().unwrap();
    assert_eq!(outcome, DisconnectOutcome::Ack { error_cause: None });
    // Normally the first retransmission is answered; a slow test machine may
    // need one more, which then also met a forged ACK.
    let received = das.received();
    assert!((2..=3).contains(&received.len()), "{}", received.len());
    assert!(received.iter().all(|r| r.datagram == received[0].datagram));
    let forged = u64::try_from(received.len()).unwrap() - 1;
    assert_eq!(counters.dropped(DroppedResponse::BadAuthenticator), forged);
    assert_eq!((counters.retransmitted(), counters.acks()), (forged, 1));
}

#[tokio::test]
async fn forged_acks_alone_end_in_no_answer() {
    let das = das(DasBehaviour::ForgedAck);
    let sender = sender_with(&das, short_schedule());
    let outcome = sender
        .disconnect(&session(), DisconnectProfile::UserName)
        .await
        .unwrap();
    assert_eq!(outcome, DisconnectOutcome::NoAnswer { attempts: 3 });
    let counters = sender.counters();
    assert_eq!(counters.dropped(DroppedResponse::BadAuthenticator), 3);
    assert_eq!(counters.acks(), 0);
}

#[tokio::test]
async fn a_nas_with_another_secret_discards_every_request() {
    let das = SimulatedDas::bind(
        loopback(),
        SharedSecret::new(b"the nas's own secret".to_vec()),
        DasBehaviour::Ack,
    )
    .unwrap();
    let sender = sender_with(&das, short_schedule());
    let outcome = sender
        .disconnect(&session(), DisconnectProfile::UserName)
        .await
        .unwrap();
    assert_eq!(outcome, DisconnectOutcome::NoAnswer { attempts: 3 });
    assert_eq!(das.discarded(), 3);
    assert!(das.received().is_empty());
}

#[tokio::test]
async fn three_hundred_concurrent_disconnects_all_complete() {
    let das = das(DasBehaviour::Ack);
    let sender = sender_with(&das, RetransmitSchedule::default());
    let disconnects: Vec<_> = (0..300)
        .map(|number| {
            let sender = sender.clone();
            tokio::spawn(async move {
                let session = SessionIdentification {
                    user_name: format!("user-{number}").into_bytes(),
                    ..session()
                };
                sender
                    .disconnect(&session, DisconnectProfile::UserName)
                    .await
            })
        })
        .collect();
    for disconnect in disconnects {
        let outcome = disconnect.await.unwrap().unwrap();
        assert_eq!(outcome, DisconnectOutcome::Ack { error_cause: None });
    }
    let counters = sender.counters();
    assert_eq!((counters.sent(), counters.acks()), (300, 300));
    let mut user_names: Vec<Vec<u8>> = das
        .received()
        .iter()
        .map(|request| request.attribute(USER_NAME).unwrap().to_vec())
        .collect();
    user_names.sort();
    user_names.dedup();
    assert_eq!(user_names.len(), 300);
}

#[tokio::test]
async fn an_invalid_session_is_refused_before_anything_is_sent() {
    let das = das(DasBehaviour::Ack);
    let sender = sender_with(&das, RetransmitSchedule::default());
    let without_framed_ip = SessionIdentification {
        framed_ip_address: None,
        ..session()
    };
    let error = sender
        .disconnect(&without_framed_ip, DisconnectProfile::UserNameFramedIp)
        .await
        .unwrap_err();
    assert!(
        matches!(error, DisconnectError::MissingAttribute { .. }),
        "{error}"
    );
    let too_long = SessionIdentification {
        user_name: vec![b'a'; 254],
        ..session()
    };
    let error = sender
        .disconnect(&too_long, DisconnectProfile::UserName)
        .await
        .unwrap_err();
    assert_eq!(
        error.to_string(),
        "User-Name of 254 octets cannot be sent: RFC 2865 §5 allows 1 to 253"
    );
    sleep(Duration::from_millis(50)).await;
    assert!(das.received().is_empty());
    assert_eq!(sender.counters().sent(), 0);
}

#[tokio::test]
async fn shutdown_ends_a_waiting_disconnect() {
    let das = das(DasBehaviour::Silent);
    let shutdown = CancellationToken::new();
    let sender = DisconnectSender::bind(
        loopback(),
        das.local_addr(),
        SharedSecret::new(SECRET.to_vec()),
        schedule(&[10_000]),
        &shutdown,
    )
    .unwrap();
    let disconnect = tokio::spawn({
        let sender = sender.clone();
        async move {
            sender
                .disconnect(&session(), DisconnectProfile::UserName)
                .await
        }
    });
    wait_until("the request arrives", || das.received().len() == 1).await;
    shutdown.cancel();
    let result = timeout(Duration::from_secs(1), disconnect)
        .await
        .unwrap()
        .unwrap();
    assert!(
        matches!(result, Err(DisconnectError::ShutDown)),
        "{result:?}"
    );
    let after = sender
        .disconnect(&session(), DisconnectProfile::UserName)
        .await;
    assert!(matches!(after, Err(DisconnectError::ShutDown)), "{after:?}");
}

#[tokio::test]
async fn dropping_the_last_handle_closes_the_socket() {
    let das = das(DasBehaviour::Ack);
    let sender = sender_with(&das, RetransmitSchedule::default());
    let clone = sender.clone();
    let local = sender.local_addr().unwrap();
    drop(sender);
    // The clone still works.
    let outcome = clone
        .disconnect(&session(), DisconnectProfile::UserName)
        .await
        .unwrap();
    assert_eq!(outcome, DisconnectOutcome::Ack { error_cause: None });
    drop(clone);
    // The receive task ends and releases the port.
    wait_until("the port is free again", || {
        std::net::UdpSocket::bind(local).is_ok()
    })
    .await;
}

#[tokio::test]
async fn refuses_to_bind_across_address_families() {
    let nas: SocketAddr = "[::1]:3799".parse().unwrap();
    let error = DisconnectSender::bind(
        loopback(),
        nas,
        SharedSecret::new(SECRET.to_vec()),
        RetransmitSchedule::default(),
        &CancellationToken::new(),
    )
    .err()
    .unwrap();
    assert_eq!(error.kind(), std::io::ErrorKind::InvalidInput);
}
