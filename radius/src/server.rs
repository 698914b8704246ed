//! The UDP receive loop: one task per admitted datagram, at most
//! `max_in_flight` at once, so a handler waiting seconds on the directory
//! never holds up the loop or another NAS.

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;

use tokio::net::UdpSocket;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::task::{JoinError, JoinSet};
use tokio_util::sync::CancellationToken;
use tracing::{debug, error, info, warn, Instrument};

use crate::clients::ClientTable;
use crate::handler::{Reply, RequestHandler};
use crate::packet::MAX_PACKET_LEN;
use crate::receive::{receive, Received, Refusal};

/// A RADIUS authentication server on a bound UDP socket.
pub struct UdpServer<H> {
    socket: Arc<UdpSocket>,
    clients: Arc<ClientTable>,
    handler: Arc<H>,
    in_flight: Arc<Semaphore>,
}

impl<H: RequestHandler> UdpServer<H> {
    /// Serves on a socket the caller has bound, so the address, port and
    /// privileges stay the binary's concern. At most `max_in_flight`
    /// requests (at least 1) are handled at once; while all are busy, new
    /// datagrams are dropped unread and the NAS retransmits (RFC 5080 §2.2.1).
    pub fn new(
        socket: UdpSocket,
        clients: Arc<ClientTable>,
        handler: Arc<H>,
        max_in_flight: usize,
    ) -> Self {
        Self {
            socket: Arc::new(socket),
            clients,
            handler,
            in_flight: Arc::new(Semaphore::new(max_in_flight.max(1))),
        }
    }

    /// The address the socket is bound to.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.socket.local_addr()
    }

    /// Serves until `shutdown` is cancelled, then stops reading and returns
    /// once every request already admitted has been answered or discarded.
    pub async fn run(self, shutdown: CancellationToken) {
        // One octet more than RFC 2865 §3 allows, so an oversized datagram is
        // seen as such rather than silently truncated to a valid length.
        let mut buffer = vec![0; MAX_PACKET_LEN + 1];
        let mut tasks = JoinSet::new();
        let mut dropped_while_saturated: u64 = 0;
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
                    let Ok(permit) = Arc::clone(&self.in_flight).try_acquire_owned() else {
                        if dropped_while_saturated == 0 {
                            warn!(%source, "all request slots busy: dropping datagrams until one frees up");
                        }
                        dropped_while_saturated = dropped_while_saturated.saturating_add(1);
                        continue;
                    };
                    if dropped_while_saturated > 0 {
                        info!(dropped = dropped_while_saturated, "request slots available again");
                        dropped_while_saturated = 0;
                    }
                    let datagram = buffer.get(..length).unwrap_or_default().to_vec();
                    tasks.spawn(
                        serve(
                            Arc::clone(&self.socket),
                            Arc::clone(&self.clients),
                            Arc::clone(&self.handler),
                            datagram,
                            source,
                            permit,
                        )
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
    }
}

/// Handles one datagram, holding its request slot until the answer is sent.
async fn serve<H: RequestHandler>(
    socket: Arc<UdpSocket>,
    clients: Arc<ClientTable>,
    handler: Arc<H>,
    datagram: Vec<u8>,
    source: SocketAddr,
    _permit: OwnedSemaphorePermit,
) {
    let Received { request, response } = match receive(&datagram, source, &clients) {
        Ok(received) => received,
        Err(Refusal {
            discard,
            malformation,
        }) => {
            debug!(
                source = %discard.source,
                reason = discard.reason.as_str(),
                client = discard.client.as_deref(),
                identifier = discard.identifier,
                user_name = discard
                    .user_name
                    .as_deref()
                    .map(|name| name.escape_ascii().to_string()),
                malformation = malformation.map(|malformation| malformation.to_string()),
                "datagram discarded"
            );
            handler.discarded(discard).await;
            return;
        }
    };
    // A retransmission cache (RFC 5080 §2.2.2) slots in here: look up
    // (source, identifier, request authenticator) and resend the cached
    // response instead of asking the handler again.
    let identifier = request.identifier;
    let reply = handler.access_request(request).await;
    let encoded = response.encode(&reply).or_else(|error| match reply {
        Reply::Accept { .. } | Reply::RejectWith { .. } => {
            error!(%error, identifier, "reply cannot be encoded: answering a bare Access-Reject");
            response.encode(&Reply::Reject)
        }
        Reply::Reject | Reply::Challenge { .. } => Err(error),
    });
    let octets = match encoded {
        Ok(octets) => octets,
        Err(error) => {
            error!(%error, identifier, "response cannot be encoded: none sent");
            return;
        }
    };
    if let Err(error) = socket.send_to(&octets, source).await {
        warn!(%error, identifier, "sending the response failed");
    }
}

fn log_task_failure(finished: Result<(), JoinError>) {
    if let Err(error) = finished {
        error!(%error, "request task failed; the NAS gets no answer and will retransmit");
    }
}
