//! The UDP receive loop: at most `max_in_flight` requests decided at once,
//! and at most each client's own `max_in_flight` for that client, so a
//! handler waiting seconds on the directory never holds up the loop, and one
//! flooding NAS cannot take the slots of others. Beyond its slots, a client's
//! datagrams wait in its queue (see `request_queue`) instead of being dropped;
//! the task holding one of the client's slots decides them in turn. A slot is
//! held while a request is decided, not while its reject waits out the reject
//! delay (see `reject_delay`).

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

use crate::clients::{ClientTable, NasClient};
use crate::counters::{Counters, Skip};
use crate::handler::{AccountingReply, Reply, RequestHandler};
use crate::packet::{EncodeError, MAX_PACKET_LEN};
use crate::receive::{receive, Received, Refusal};
use crate::reject_delay::{DelayedReject, Outgoing, RejectDelay};
use crate::request_queue::{Admitted, ClientSlot, QueueBudget, QueueLimits, Waiting};
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
    queue_limits: QueueLimits,
    queue_budget: Arc<QueueBudget>,
}

/// What a request task shares with the loop.
struct Shared<H> {
    socket: Arc<UdpSocket>,
    requests: Requests<H>,
    /// The server's `max_in_flight` slots for deciding.
    in_flight: Arc<Semaphore>,
    queue_limits: QueueLimits,
    /// The rejects waiting out the reject delay, each in a small task of its own.
    waiting_rejects: TaskTracker,
}

impl<H: RequestHandler> UdpServer<H> {
    /// An authentication server on a socket the caller has bound, so the
    /// address, port and privileges stay the binary's concern. At most
    /// `max_in_flight` requests (at least 1) are decided at once; beyond,
    /// datagrams wait in their client's queue within [`QueueLimits`] (see
    /// [`UdpServer::with_queue_limits`]), and only what does not fit is
    /// dropped unread, for the NAS to retransmit (RFC 5080 §2.2.1).
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
            queue_limits: QueueLimits::default(),
            queue_budget: Arc::new(QueueBudget::default()),
        }
    }

    /// How many datagrams may wait for a slot, per client and in all, and for how long
    /// ([`QueueLimits::default`] unless set).
    pub fn with_queue_limits(mut self, limits: QueueLimits) -> Self {
        self.queue_limits = limits;
        self
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
            in_flight: Arc::clone(&self.in_flight),
            queue_limits: self.queue_limits,
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
                    let request = Waiting {
                        datagram: buffer.get(..length).unwrap_or_default().to_vec(),
                        source,
                        arrived: Instant::now(),
                    };
                    let Some(admission) = self.admit(request) else {
                        self.counters.count_skip(Skip::Overloaded, source);
                        continue;
                    };
                    // Boxed: the task's future holds every state a request can be decided in
                    // (kilobytes); tokio moves a spawned future by value several times and
                    // rewrites its stage on completion, which cost a quarter of the server's
                    // user-space instructions per login before it was a pointer.
                    tasks.spawn(Box::pin(serve(Arc::clone(&shared), admission)));
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

    /// What becomes of a datagram: decided at once, holding a slot of its client, or of the
    /// few for unknown sources; queued for its client (`Queued`: nothing to spawn); or dropped
    /// (`None`).
    fn admit(&self, request: Waiting) -> Option<Admission> {
        match self.clients.find(request.source.ip()) {
            Some(client) => match client.admit(request, &self.queue_limits, &self.queue_budget) {
                Admitted::Now(slot, request) => Some(Admission::Client { slot, request }),
                Admitted::Queued => Some(Admission::Queued),
                Admitted::Refused => None,
            },
            None => Arc::clone(&self.unknown_sources)
                .try_acquire_owned()
                .ok()
                .map(|slot| Admission::UnknownSource {
                    _slot: slot,
                    request,
                }),
        }
    }
}

/// What the loop hands a new task.
enum Admission {
    /// A request holding one of its client's slots; the task decides it, then the client's
    /// waiting ones.
    Client { slot: ClientSlot, request: Waiting },
    /// A datagram from an unknown source, holding one of the slots for those.
    UnknownSource {
        _slot: OwnedSemaphorePermit,
        request: Waiting,
    },
    /// Queued for its client: a task that holds one of the client's slots takes it.
    Queued,
}

/// Runs one admitted task: for a client, its request and then, while the client has datagrams
/// waiting, those, each with one of the server's slots; a datagram that waited beyond
/// `max_wait` is dropped (its NAS has retransmitted it).
async fn serve<H: RequestHandler>(shared: Arc<Shared<H>>, admission: Admission) {
    match admission {
        Admission::Queued => {}
        Admission::UnknownSource { _slot, request } => {
            let span = tracing::debug_span!("radius", source = %request.source);
            answer(&shared, request, None, None).instrument(span).await;
        }
        Admission::Client { slot, request } => {
            let (mut slot, mut request) = (slot, request);
            loop {
                // The semaphore is never closed, so `Err` cannot happen; stop if it ever did.
                let Ok(server_slot) = Arc::clone(&shared.in_flight).acquire_owned().await else {
                    return;
                };
                if request.expired(&shared.queue_limits) {
                    shared
                        .requests
                        .counters
                        .count_skip(Skip::Overloaded, request.source);
                } else {
                    let span = tracing::debug_span!("radius", source = %request.source);
                    let client = Some(Arc::clone(slot.client()));
                    answer(&shared, request, client, Some(server_slot))
                        .instrument(span)
                        .await;
                }
                match slot.next_waiting() {
                    Some((next_slot, next)) => (slot, request) = (next_slot, next),
                    None => return,
                }
            }
        }
    }
}

/// Decides one datagram and sends its answer, holding `server_slot` until the answer is sent,
/// or until a reject is set to wait in a task of its own: the slots are for deciding, and that
/// task is small, unlike this one, which holds whatever the handler needed while deciding.
async fn answer<H: RequestHandler>(
    shared: &Shared<H>,
    request: Waiting,
    client: Option<Arc<NasClient>>,
    server_slot: Option<OwnedSemaphorePermit>,
) {
    let Waiting {
        datagram,
        source,
        arrived,
    } = request;
    let answer = respond(&shared.requests, &datagram, source, client, arrived).await;
    match answer {
        Some(Ok(Outgoing::Now(octets))) => send(&shared.socket, &octets, source).await,
        Some(Ok(Outgoing::Delayed(reject))) => {
            drop(server_slot);
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
