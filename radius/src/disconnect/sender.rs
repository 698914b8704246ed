//! Sending Disconnect-Requests to one NAS and waiting for the answers: one
//! UDP socket bound once, so every retransmission leaves from the same
//! source port (a NAS detects duplicates by source address, source port and
//! Identifier, RFC 5176 §2.3; strongSwan's cache is keyed exactly so), one
//! receive task routing each verified answer to the request it answers, and
//! a retransmission schedule of identical octets (RFC 5080 §2.2.1).
//!
//! radius-rs's client binds a fresh socket for every request and never
//! retransmits, so a retransmission from it would be a new request to the
//! NAS; hence this sender.

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use tokio::net::UdpSocket;
use tokio::time::sleep;
use tokio_util::sync::{CancellationToken, DropGuard};
use tracing::{debug, warn};

use crate::packet::{Packet, MAX_PACKET_LEN};
use crate::secret::SharedSecret;

use super::counters::{DisconnectCounters, DroppedResponse};
use super::outcome::{DisconnectError, DisconnectOutcome};
use super::pending::PendingRequests;
use super::profile::{DisconnectProfile, SessionIdentification};
use super::request::DisconnectRequest;
use super::response;

/// After a receive error, wait this long before the next receive, so a
/// persistent error does not spin.
const RECEIVE_ERROR_PAUSE: Duration = Duration::from_millis(100);

/// How long to wait for an answer after each transmission of a request; one
/// transmission per entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetransmitSchedule {
    timeouts: Vec<Duration>,
}

impl RetransmitSchedule {
    /// A schedule of these waits, one transmission each; `None` if empty.
    pub fn new(timeouts: Vec<Duration>) -> Option<Self> {
        (!timeouts.is_empty()).then_some(Self { timeouts })
    }

    /// The wait after each transmission.
    pub fn timeouts(&self) -> &[Duration] {
        &self.timeouts
    }
}

impl Default for RetransmitSchedule {
    /// Send, then resend after 1 s and 3 s, and give up at 7 s: RFC 5080
    /// §2.2.1's doubling back-off from 1 s instead of 2 s, so the outcome
    /// is known within a 10 s budget from revocation to report.
    fn default() -> Self {
        Self {
            timeouts: [1, 2, 4].map(Duration::from_secs).to_vec(),
        }
    }
}

/// Sends Disconnect-Requests to one NAS. Clones share the socket, the
/// Identifiers and the counters; many disconnects may run at once. The
/// receive task ends when the last clone is dropped or `shutdown` is
/// cancelled.
#[derive(Clone)]
pub struct DisconnectSender {
    handle: Arc<Handle>,
}

/// What the clones share; dropping it stops the receive task.
struct Handle {
    shared: Arc<Shared>,
    _stop_receiving: DropGuard,
}

/// What the clones and the receive task share.
struct Shared {
    socket: UdpSocket,
    nas: SocketAddr,
    secret: SharedSecret,
    schedule: RetransmitSchedule,
    pending: Arc<PendingRequests>,
    counters: Arc<DisconnectCounters>,
    stop: CancellationToken,
}

impl DisconnectSender {
    /// Binds `local` (port 0 for an ephemeral port; the address must be one
    /// the NAS accepts Disconnect-Requests from) and starts the receive task.
    /// Must be called within a Tokio runtime with I/O and time enabled.
    pub fn bind(
        local: SocketAddr,
        nas: SocketAddr,
        secret: SharedSecret,
        schedule: RetransmitSchedule,
        shutdown: &CancellationToken,
    ) -> io::Result<Self> {
        let runtime = tokio::runtime::Handle::try_current().map_err(io::Error::other)?;
        if local.is_ipv4() != nas.is_ipv4() {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("cannot reach NAS {nas} from {local}: address families differ"),
            ));
        }
        let socket = std::net::UdpSocket::bind(local)?;
        socket.set_nonblocking(true)?;
        let mut first_identifier = [0];
        getrandom::fill(&mut first_identifier)?;
        let [first_identifier] = first_identifier;
        let stop = shutdown.child_token();
        let shared = Arc::new(Shared {
            socket: UdpSocket::from_std(socket)?,
            nas,
            secret,
            schedule,
            pending: PendingRequests::new(first_identifier),
            counters: Arc::new(DisconnectCounters::default()),
            stop: stop.clone(),
        });
        runtime.spawn(receive_answers(Arc::clone(&shared)));
        Ok(Self {
            handle: Arc::new(Handle {
                shared,
                _stop_receiving: stop.drop_guard(),
            }),
        })
    }

    /// Asks the NAS to end `session`, identified as `profile` says, and
    /// waits for its verified answer, retransmitting the same octets on the
    /// schedule. The Event-Timestamp is taken once, when the Identifier is.
    pub async fn disconnect(
        &self,
        session: &SessionIdentification,
        profile: DisconnectProfile,
    ) -> Result<DisconnectOutcome, DisconnectError> {
        let shared = &self.handle.shared;
        let reservation = tokio::select! {
            biased;
            () = shared.stop.cancelled() => return Err(DisconnectError::ShutDown),
            reservation = shared.pending.reserve() => reservation.ok_or(DisconnectError::ShutDown)?,
        };
        let identifier = reservation.identifier();
        let request = DisconnectRequest::encode(
            identifier,
            session,
            profile,
            SystemTime::now(),
            &shared.secret,
        )?;
        let mut answered = reservation.wait_for_answer(request.authenticator);
        let user_name = String::from_utf8_lossy(&session.user_name);
        let mut attempts = 0;
        for (attempt, timeout) in shared.schedule.timeouts.iter().enumerate() {
            let retransmission = attempt > 0;
            match shared.socket.send_to(&request.bytes, shared.nas).await {
                Ok(_) => {
                    attempts += 1;
                    shared.counters.count_sent(retransmission);
                    debug!(
                        nas = %shared.nas,
                        identifier,
                        %user_name,
                        profile = profile.name(),
                        retransmission,
                        "Disconnect-Request sent"
                    );
                }
                Err(error) if !retransmission => return Err(DisconnectError::Send(error)),
                Err(error) => {
                    warn!(
                        nas = %shared.nas,
                        identifier,
                        %user_name,
                        %error,
                        "Disconnect-Request retransmission failed"
                    );
                }
            }
            tokio::select! {
                biased;
                answer = &mut answered => {
                    let outcome = answer.map_err(|_| DisconnectError::ShutDown)?;
                    return Ok(shared.finish(identifier, &user_name, outcome));
                }
                () = shared.stop.cancelled() => return Err(DisconnectError::ShutDown),
                () = sleep(*timeout) => {}
            }
        }
        Ok(shared.finish(
            identifier,
            &user_name,
            DisconnectOutcome::NoAnswer { attempts },
        ))
    }

    /// This sender's counters, for export.
    pub fn counters(&self) -> Arc<DisconnectCounters> {
        Arc::clone(&self.handle.shared.counters)
    }

    /// The bound local address (with the port chosen for port 0).
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.handle.shared.socket.local_addr()
    }

    /// The NAS this sender talks to.
    pub fn nas(&self) -> SocketAddr {
        self.handle.shared.nas
    }
}

impl Shared {
    fn finish(
        &self,
        identifier: u8,
        user_name: &str,
        outcome: DisconnectOutcome,
    ) -> DisconnectOutcome {
        self.counters.count_outcome(&outcome);
        debug!(nas = %self.nas, identifier, user_name, ?outcome, "disconnect finished");
        outcome
    }

    /// Routes one datagram to the request it answers, or says why not.
    fn take_answer(&self, datagram: &[u8], source: SocketAddr) -> Result<(), DroppedResponse> {
        if source != self.nas {
            return Err(DroppedResponse::Unexpected);
        }
        let packet = Packet::parse(datagram).map_err(|_| DroppedResponse::Malformed)?;
        let identifier = packet.identifier();
        let request_authenticator = self
            .pending
            .request_authenticator(identifier)
            .ok_or(DroppedResponse::Unexpected)?;
        let outcome = response::check(&packet, &request_authenticator, &self.secret)?;
        if self
            .pending
            .deliver(identifier, &request_authenticator, outcome)
        {
            Ok(())
        } else {
            Err(DroppedResponse::Unexpected)
        }
    }
}

/// The receive task: reads answers until the sender stops, then ends every
/// wait.
async fn receive_answers(shared: Arc<Shared>) {
    // One octet over the RFC 2865 §3 maximum, so an oversized datagram is
    // seen as such rather than cut to size.
    let mut buffer = vec![0; MAX_PACKET_LEN + 1];
    loop {
        let received = tokio::select! {
            () = shared.stop.cancelled() => break,
            received = shared.socket.recv_from(&mut buffer) => received,
        };
        match received {
            Ok((length, source)) => {
                let datagram = buffer.get(..length).unwrap_or_default();
                if let Err(reason) = shared.take_answer(datagram, source) {
                    shared.counters.count_dropped(reason);
                    debug!(nas = %shared.nas, %source, reason = reason.as_str(), "datagram dropped");
                }
            }
            Err(error) => {
                warn!(nas = %shared.nas, %error, "receiving Disconnect answers failed");
                tokio::select! {
                    () = shared.stop.cancelled() => break,
                    () = sleep(RECEIVE_ERROR_PAUSE) => {}
                }
            }
        }
    }
    shared.pending.close();
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use tokio::time::timeout;

    use super::*;
    use crate::das::{self, DasBehaviour};

    const SECRET: &[u8] = b"dae-secret";

    fn secret() -> SharedSecret {
        SharedSecret::new(SECRET.to_vec())
    }

    fn session(user_name: &str) -> SessionIdentification {
        SessionIdentification {
            user_name: user_name.as_bytes().to_vec(),
            acct_session_id: None,
            nas_ip_address: None,
            nas_identifier: None,
            framed_ip_address: None,
            calling_station_id: None,
        }
    }

    fn sender(nas: SocketAddr, timeouts: &[u64]) -> DisconnectSender {
        let schedule = RetransmitSchedule::new(
            timeouts
                .iter()
                .copied()
                .map(Duration::from_millis)
                .collect(),
        )
        .unwrap();
        let local = "127.0.0.1:0".parse().unwrap();
        DisconnectSender::bind(local, nas, secret(), schedule, &CancellationToken::new()).unwrap()
    }

    #[test]
    fn the_default_schedule_is_1_2_4_seconds_and_none_is_empty() {
        let timeouts = RetransmitSchedule::default().timeouts().to_vec();
        assert_eq!(timeouts, [1, 2, 4].map(Duration::from_secs));
        assert_eq!(RetransmitSchedule::new(Vec::new()), None);
    }

    #[tokio::test]
    async fn routes_only_verified_answers_from_the_nas() {
        let nas: SocketAddr = "127.0.0.1:9".parse().unwrap();
        let sender = sender(nas, &[1000]);
        let shared = &sender.handle.shared;
        let first = shared.pending.reserve().await.unwrap();
        let second = shared.pending.reserve().await.unwrap();
        let request = |identifier| {
            DisconnectRequest::encode(
                identifier,
                &session("alice"),
                DisconnectProfile::UserName,
                SystemTime::now(),
                &secret(),
            )
            .unwrap()
        };
        let first_request = request(first.identifier());
        let second_request = request(second.identifier());
        let mut first_answered = first.wait_for_answer(first_request.authenticator);
        let _second_answered = second.wait_for_answer(second_request.authenticator);
        let answer = |request: &DisconnectRequest, behaviour| {
            das::answer(
                &Packet::parse(&request.bytes).unwrap(),
                &secret(),
                behaviour,
            )
            .unwrap()
        };
        let ack = answer(&first_request, DasBehaviour::Ack);
        let mut for_the_second_identifier = ack.clone();
        for_the_second_identifier[1] = second.identifier();
        let mut for_no_request = ack.clone();
        for_no_request[1] = first.identifier().wrapping_add(100);
        let elsewhere: SocketAddr = "127.0.0.2:9".parse().unwrap();

        let cases = [
            (
                "another source",
                ack.clone(),
                elsewhere,
                DroppedResponse::Unexpected,
            ),
            (
                "no request waits",
                for_no_request,
                nas,
                DroppedResponse::Unexpected,
            ),
            (
                "another request's Identifier",
                for_the_second_identifier,
                nas,
                DroppedResponse::BadAuthenticator,
            ),
            (
                "forged",
                answer(&first_request, DasBehaviour::ForgedAck),
                nas,
                DroppedResponse::BadAuthenticator,
            ),
            (
                "truncated",
                ack[..19].to_vec(),
                nas,
                DroppedResponse::Malformed,
            ),
        ];
        for (name, datagram, source, expected) in cases {
            assert_eq!(
                shared.take_answer(&datagram, source),
                Err(expected),
                "{name}"
            );
        }
        assert!(first_answered.try_recv().is_err());
        assert_eq!(shared.take_answer(&ack, nas), Ok(()));
        assert_eq!(
            first_answered.try_recv(),
            Ok(DisconnectOutcome::Ack { error_cause: None })
        );
        assert_eq!(
            shared.take_answer(&ack, nas),
            Err(DroppedResponse::Unexpected),
            "a duplicate answer"
        );
    }

    /// Receives the next `count` requests at the fake NAS.
    async fn receive_requests(nas: &UdpSocket, count: usize) -> Vec<(Vec<u8>, SocketAddr)> {
        let mut buffer = [0; MAX_PACKET_LEN];
        let mut requests = Vec::new();
        for _ in 0..count {
            let (length, source) = timeout(Duration::from_secs(10), nas.recv_from(&mut buffer))
                .await
                .unwrap()
                .unwrap();
            requests.push((buffer[..length].to_vec(), source));
        }
        requests
    }

    /// Answers each request with a NAK whose Error-Cause is the number in
    /// its User-Name, so each disconnect can check it got its own answer.
    async fn answer_with_user_numbers(nas: &UdpSocket, requests: &[(Vec<u8>, SocketAddr)]) {
        for (request, source) in requests {
            let packet = Packet::parse(request).unwrap();
            let user_name = packet.values(1).next().unwrap();
            let number: u32 = std::str::from_utf8(&user_name[5..])
                .unwrap()
                .parse()
                .unwrap();
            let behaviour = DasBehaviour::Nak {
                error_cause: Some(number),
            };
            let answer = das::answer(&packet, &secret(), behaviour).unwrap();
            nas.send_to(&answer, source).await.unwrap();
        }
    }

    fn identifiers(requests: &[(Vec<u8>, SocketAddr)]) -> HashSet<u8> {
        requests.iter().map(|(request, _)| request[1]).collect()
    }

    #[tokio::test]
    async fn three_hundred_at_once_never_share_an_identifier_in_flight() {
        let nas = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let sender = sender(nas.local_addr().unwrap(), &[10_000]);
        let disconnects: Vec<_> = (0..300u32)
            .map(|number| {
                let sender = sender.clone();
                tokio::spawn(async move {
                    let session = session(&format!("user-{number}"));
                    let outcome = sender
                        .disconnect(&session, DisconnectProfile::UserName)
                        .await;
                    (number, outcome.unwrap())
                })
            })
            .collect();

        // All 256 Identifiers go out unanswered; the other 44 must wait.
        let first = receive_requests(&nas, 256).await;
        assert_eq!(identifiers(&first).len(), 256);
        let mut buffer = [0; MAX_PACKET_LEN];
        let early = timeout(Duration::from_millis(200), nas.recv_from(&mut buffer)).await;
        assert!(early.is_err(), "a 257th request went out before an answer");

        answer_with_user_numbers(&nas, &first).await;
        let rest = receive_requests(&nas, 44).await;
        assert_eq!(identifiers(&rest).len(), 44);
        answer_with_user_numbers(&nas, &rest).await;

        for disconnect in disconnects {
            let (number, outcome) = disconnect.await.unwrap();
            assert_eq!(
                outcome,
                DisconnectOutcome::Nak {
                    error_cause: Some(number)
                }
            );
        }
        let counters = sender.counters();
        assert_eq!((counters.sent(), counters.naks()), (300, 300));
        assert_eq!(counters.retransmitted(), 0);
        assert!(DroppedResponse::ALL
            .iter()
            .all(|&reason| counters.dropped(reason) == 0));
    }
}
