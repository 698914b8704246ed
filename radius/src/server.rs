//! The UDP receive loop: one task per admitted datagram, at most
//! `max_in_flight` at once and at most each client's own `max_in_flight`
//! for that client, so a handler waiting seconds on the directory never
//! holds up the loop, and one flooding NAS cannot take the slots of others.
//! A slot is held while a request is decided, not while its reject waits
//! out the reject delay (see `reject_delay`).

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::UdpSocket;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::task::{JoinError, JoinSet};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::{debug, error, warn, Instrument};

use crate::clients::{ClientSlot, ClientTable, NasClient};
use crate::counters::{Counters, Skip};
use crate::handler::{AccountingReply, Reply, RequestHandler};
use crate::packet::{EncodeError, MAX_PACKET_LEN};
use crate::receive::{receive, Received, Refusal};
use crate::reject_delay::{DelayedReject, Outgoing, RejectDelay};
use crate::response::ResponseContext;
use crate::response_cache::{Lookup, ResponseCache};

/// Slots for datagrams from unknown sources, which are only discarded and
/// recorded: few, so spoofed floods cannot take slots from real clients.
const UNKNOWN_SOURCE_SLOTS: usize = 4;

/// Which port a socket serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Service {
    /// Access-Request and Status-Server (RFC 2865, RFC 5997), port 1812.
    Authentication,
    /// Accounting-Request and Status-Server (RFC 2866, RFC 5997), port 1813.
    Accounting,
}

/// A RADIUS server on a bound UDP socket.
pub struct UdpServer<H> {
    socket: Arc<UdpSocket>,
    clients: Arc<ClientTable>,
    handler: Arc<H>,
    service: Service,
    in_flight: Arc<Semaphore>,
    unknown_sources: Arc<Semaphore>,
    cache: Arc<ResponseCache>,
    counters: Arc<Counters>,
    reject_delay: Arc<RejectDelay>,
}

/// What a request task shares with the loop.
struct Shared<H> {
    socket: Arc<UdpSocket>,
    requests: Requests<H>,
    /// The rejects waiting out the reject delay, each in a small task of its own.
    waiting_rejects: TaskTracker,
}

impl<H: RequestHandler> UdpServer<H> {
    /// An authentication server on a socket the caller has bound, so the
    /// address, port and privileges stay the binary's concern. At most
    /// `max_in_flight` requests (at least 1) are handled at once; while all
    /// are busy, new datagrams are dropped unread and the NAS retransmits
    /// (RFC 5080 §2.2.1).
    pub fn new(
        socket: UdpSocket,
        clients: Arc<ClientTable>,
        handler: Arc<H>,
        max_in_flight: usize,
    ) -> Self {
        Self::serving(
            Service::Authentication,
            socket,
            clients,
            handler,
            max_in_flight,
        )
    }

    /// A server for `service`; see [`UdpServer::new`].
    pub fn serving(
        service: Service,
        socket: UdpSocket,
        clients: Arc<ClientTable>,
        handler: Arc<H>,
        max_in_flight: usize,
    ) -> Self {
        Self {
            socket: Arc::new(socket),
            clients,
            handler,
            service,
            in_flight: Arc::new(Semaphore::new(max_in_flight.max(1))),
            unknown_sources: Arc::new(Semaphore::new(UNKNOWN_SOURCE_SLOTS)),
            cache: ResponseCache::new(),
            counters: Arc::new(Counters::default()),
            reject_delay: RejectDelay::new(Duration::ZERO),
        }
    }

    /// Sends every Access-Reject no earlier than `delay` after its request
    /// arrived, so the answer time does not tell why it was refused (see
    /// `reject_delay`). Zero, the default, sends rejects as soon as decided.
    pub fn with_reject_delay(mut self, delay: Duration) -> Self {
        self.reject_delay = RejectDelay::new(delay);
        self
    }

    /// The address the socket is bound to.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.socket.local_addr()
    }

    /// What this socket dropped, discarded and answered, for metrics.
    pub fn counters(&self) -> Arc<Counters> {
        Arc::clone(&self.counters)
    }

    /// Serves until `shutdown` is cancelled, then stops reading and returns
    /// once every request already admitted has been answered or discarded,
    /// delayed rejects included.
    pub async fn run(self, shutdown: CancellationToken) {
        let shared = Arc::new(Shared {
            socket: Arc::clone(&self.socket),
            requests: Requests {
                handler: Arc::clone(&self.handler),
                service: self.service,
                cache: Arc::clone(&self.cache),
                counters: Arc::clone(&self.counters),
                reject_delay: Arc::clone(&self.reject_delay),
            },
            waiting_rejects: TaskTracker::new(),
        });
        // One octet more than RFC 2865 §3 allows, so an oversized datagram is
        // seen as such rather than silently truncated to a valid length.
        let mut buffer = vec![0; MAX_PACKET_LEN + 1];
        let mut tasks = JoinSet::new();
        loop {
            tokio::select! {
                biased;
                () = shutdown.cancelled() => break,
                Some(finished) = tasks.join_next(), if !tasks.is_empty() => log_task_failure(finished),
                received = self.socket.recv_from(&mut buffer) => {
                    let (length, source) = match received {
                        Ok(received) => received,
                        Err(error) => {
                            // Per-datagram errors (e.g. ICMP reports) leave the socket usable.
                            warn!(%error, "receiving a datagram failed");
                            continue;
                        }
                    };
                    let arrived = Instant::now();
                    let Some(admission) = self.admit(source) else {
                        self.counters.count_skip(Skip::Overloaded, source);
                        continue;
                    };
                    let datagram = buffer.get(..length).unwrap_or_default().to_vec();
                    tasks.spawn(
                        serve(Arc::clone(&shared), datagram, source, admission, arrived)
                            .instrument(tracing::debug_span!("radius", %source)),
                    );
                }
            }
        }
        debug!(
            in_flight = tasks.len(),
            "shutting down: finishing admitted requests"
        );
        while let Some(finished) = tasks.join_next().await {
            log_task_failure(finished);
        }
        shared.waiting_rejects.close();
        shared.waiting_rejects.wait().await;
    }

    /// Takes the slots a datagram from `source` needs: one of its client's
    /// and one of the server's, or one of the few for unknown sources.
    fn admit(&self, source: SocketAddr) -> Option<Admission> {
        match self.clients.find(source.ip()) {
            Some(client) => {
                let slot = client.take_slot()?;
                let server_slot = Arc::clone(&self.in_flight).try_acquire_owned().ok()?;
                Some(Admission::Client {
                    slot,
                    _server_slot: server_slot,
                })
            }
            None => Arc::clone(&self.unknown_sources)
                .try_acquire_owned()
                .ok()
                .map(|slot| Admission::UnknownSource { _slot: slot }),
        }
    }
}

/// The slots a request task holds until its answer is sent or set to wait.
enum Admission {
    Client {
        slot: ClientSlot,
        _server_slot: OwnedSemaphorePermit,
    },
    UnknownSource {
        _slot: OwnedSemaphorePermit,
    },
}

/// Handles one datagram that `arrived`, holding its slots until the answer
/// is sent, or until a reject is set to wait in a task of its own: the slots
/// are for deciding, and the task is small, unlike this one, which holds
/// whatever the handler needed while deciding.
async fn serve<H: RequestHandler>(
    shared: Arc<Shared<H>>,
    datagram: Vec<u8>,
    source: SocketAddr,
    admission: Admission,
    arrived: Instant,
) {
    let client = match &admission {
        Admission::Client { slot, .. } => Some(Arc::clone(slot.client())),
        Admission::UnknownSource { .. } => None,
    };
    let answer = respond(&shared.requests, &datagram, source, client, arrived).await;
    match answer {
        Some(Ok(Outgoing::Now(octets))) => send(&shared.socket, &octets, source).await,
        Some(Ok(Outgoing::Delayed(reject))) => {
            drop(admission);
            shared
                .waiting_rejects
                .spawn(send_when_due(Arc::clone(&shared.socket), reject, source).in_current_span());
        }
        Some(Err(error)) => error!(%error, "response cannot be encoded: none sent"),
        None => {}
    }
}

async fn send_when_due(socket: Arc<UdpSocket>, reject: DelayedReject, destination: SocketAddr) {
    let octets = reject.due().await;
    send(&socket, &octets, destination).await;
}

async fn send(socket: &UdpSocket, octets: &[u8], destination: SocketAddr) {
    if let Err(error) = socket.send_to(octets, destination).await {
        warn!(%error, "sending the response failed");
    }
}

/// What answers requests, apart from the socket: also driven directly by the fuzz targets.
pub(crate) struct Requests<H> {
    pub(crate) handler: Arc<H>,
    pub(crate) service: Service,
    pub(crate) cache: Arc<ResponseCache>,
    pub(crate) counters: Arc<Counters>,
    pub(crate) reject_delay: Arc<RejectDelay>,
}

/// The answer to one datagram from `source` (whose client the caller looked up) that `arrived`
/// then, and when it may leave; `None` when it gets none.
pub(crate) async fn respond<H: RequestHandler>(
    requests: &Requests<H>,
    datagram: &[u8],
    source: SocketAddr,
    client: Option<Arc<NasClient>>,
    arrived: Instant,
) -> Option<Result<Outgoing, EncodeError>> {
    let received = match receive(datagram, source, client, requests.service) {
        Ok(received) => received,
        Err(Refusal {
            discard,
            malformation,
            misconfiguration,
        }) => {
            requests.counters.count_discard(
                &discard,
                malformation.map(|m| m.to_string()),
                misconfiguration,
            );
            requests.handler.discarded(discard).await;
            return None;
        }
    };
    let key = match &received {
        Received::StatusServer { response } => {
            requests.counters.count_status_server();
            let answer = response.encode_status_answer(requests.service == Service::Accounting);
            return Some(answer.map(Outgoing::Now));
        }
        Received::Access { key, .. } | Received::Accounting { key, .. } => key.clone(),
    };
    // RFC 5080 §2.2.2: a retransmission is answered from the cache, or
    // dropped while the original is still being handled.
    let pending = match requests.cache.lookup(key) {
        Lookup::New(pending) => pending,
        // Replayed at once: a cached reject has already waited out the delay.
        Lookup::Answered(octets) => {
            requests.counters.count_cached_answer();
            return Some(Ok(Outgoing::Now(octets.to_vec())));
        }
        Lookup::InProgress => {
            requests
                .counters
                .count_skip(Skip::DuplicateInProgress, source);
            return None;
        }
    };
    let answer = match received {
        Received::Access {
            request, response, ..
        } => {
            let identifier = request.identifier;
            let reply = requests.handler.access_request(request).await;
            encode_access_reply(&response, &reply, identifier)
        }
        Received::Accounting {
            request, response, ..
        } => match requests.handler.accounting_request(request).await {
            AccountingReply::Recorded => response.encode_accounting_response(),
            // RFC 2866 §4.1: no answer, so the NAS retransmits.
            AccountingReply::NotRecorded => return None,
        },
        // Answered above, before the cache.
        Received::StatusServer { .. } => return None,
    };
    match answer {
        Ok(octets) => requests
            .reject_delay
            .schedule(octets, arrived, pending, &requests.counters)
            .map(Ok),
        Err(error) => Some(Err(error)),
    }
}

/// Encodes the handler's reply; an Access-Accept too large to send becomes
/// an Access-Reject (fail closed).
fn encode_access_reply(
    response: &ResponseContext,
    reply: &Reply,
    identifier: u8,
) -> Result<Vec<u8>, EncodeError> {
    response.encode(reply).or_else(|error| match reply {
        Reply::Accept { .. } | Reply::RejectWith { .. } => {
            error!(%error, identifier, "reply cannot be encoded: answering a bare Access-Reject");
            response.encode(&Reply::Reject)
        }
        Reply::Reject | Reply::Challenge { .. } => Err(error),
    })
}

fn log_task_failure(finished: Result<(), JoinError>) {
    if let Err(error) = finished {
        error!(%error, "request task failed; the NAS gets no answer and will retransmit");
    }
}
