//! RADIUS over a byte stream: the connection half of RadSec (RFC 6614), which runs RADIUS/TCP
//! framing (RFC 6613) inside TLS. The TLS handshake and the choice of client belong to whoever
//! accepts the connection; this file frames packets by their Length field, bounds what one
//! connection has in flight, and hands each packet to the same per-request path as UDP
//! (`server::respond`: authenticators, attribute rules, response cache, handler, reject delay).

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, WriteHalf};
use tokio::sync::{Mutex, OwnedSemaphorePermit, Semaphore};
use tokio::task::JoinSet;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::{debug, error, warn, Instrument};

use crate::clients::NasClient;
use crate::counters::Counters;
use crate::dictionary::ACCOUNTING_REQUEST;
use crate::handler::{Discard, DiscardReason, RequestHandler};
use crate::packet::{HEADER_LEN, MAX_PACKET_LEN};
use crate::reject_delay::{Outgoing, RejectDelay};
use crate::response_cache::ResponseCache;
use crate::server::{respond, Requests, Service};

/// Serves RADIUS on stream connections, all sharing one response cache and one set of counters.
pub struct StreamServer<H> {
    authentication: Requests<H>,
    accounting: Requests<H>,
    idle_timeout: Duration,
}

/// Why reading the next packet ended the connection.
enum FrameError {
    /// The Length field is outside 20..=4096 (RFC 2865 §3): the stream can no longer be framed.
    BadLength(usize),
    Io(std::io::Error),
}

impl<H: RequestHandler> StreamServer<H> {
    /// A server whose connections are closed after `idle_timeout` without a request, and
    /// whose Access-Rejects leave no earlier than `reject_delay` after their request was read
    /// (zero: as soon as decided; see `UdpServer::with_reject_delay`).
    pub fn new(handler: Arc<H>, idle_timeout: Duration, reject_delay: Duration) -> Arc<Self> {
        let cache = ResponseCache::new();
        let counters = Arc::new(Counters::default());
        let reject_delay = RejectDelay::new(reject_delay);
        let requests = |service| Requests {
            handler: Arc::clone(&handler),
            service,
            cache: Arc::clone(&cache),
            counters: Arc::clone(&counters),
            reject_delay: Arc::clone(&reject_delay),
        };
        Arc::new(Self {
            authentication: requests(Service::Authentication),
            accounting: requests(Service::Accounting),
            idle_timeout,
        })
    }

    /// What the connections dropped, discarded and answered, for metrics.
    pub fn counters(&self) -> Arc<Counters> {
        Arc::clone(&self.authentication.counters)
    }

    /// Serves one connection from `client` until the peer closes it, it sends a packet whose
    /// Length cannot be framed, it stays idle for the idle timeout, or `shutdown` is cancelled;
    /// then answers what was already read (delayed rejects when due) and closes. At most the
    /// client's `max_in_flight` requests are handled at once: beyond, the connection is not read
    /// (TCP flow control holds the peer back), so a busy connection slows only itself. A reject
    /// waiting out the reject delay holds no slot.
    pub async fn serve<S>(
        self: Arc<Self>,
        stream: S,
        peer: SocketAddr,
        client: Arc<NasClient>,
        shutdown: CancellationToken,
    ) where
        S: AsyncRead + AsyncWrite + Send + 'static,
    {
        let (mut reader, writer) = tokio::io::split(stream);
        let writer = Arc::new(Mutex::new(writer));
        let slots = Arc::new(Semaphore::new(client.max_in_flight.max(1)));
        let mut tasks = JoinSet::new();
        let waiting_rejects = TaskTracker::new();
        loop {
            while let Some(finished) = tasks.try_join_next() {
                log_task_failure(finished);
            }
            let slot = tokio::select! {
                biased;
                () = shutdown.cancelled() => break,
                slot = Arc::clone(&slots).acquire_owned() => match slot {
                    Ok(slot) => slot,
                    Err(_closed) => break,
                },
            };
            let read = tokio::select! {
                biased;
                () = shutdown.cancelled() => break,
                read = tokio::time::timeout(self.idle_timeout, read_packet(&mut reader)) => read,
            };
            let packet = match read {
                Ok(Ok(Some(packet))) => packet,
                Ok(Ok(None)) => {
                    debug!("peer closed the connection");
                    break;
                }
                Ok(Err(FrameError::Io(error))) => {
                    debug!(%error, "reading from the connection failed: closing it");
                    break;
                }
                Ok(Err(FrameError::BadLength(length))) => {
                    self.bad_length(peer, &client, length).await;
                    break;
                }
                Err(_idle) => {
                    debug!("connection idle: closing it");
                    break;
                }
            };
            let request = Request {
                packet,
                arrived: Instant::now(),
                peer,
                client: Arc::clone(&client),
                slot,
            };
            tasks.spawn(
                Arc::clone(&self)
                    .answer(request, Arc::clone(&writer), waiting_rejects.clone())
                    .in_current_span(),
            );
        }
        while let Some(finished) = tasks.join_next().await {
            log_task_failure(finished);
        }
        waiting_rejects.close();
        waiting_rejects.wait().await;
        let closed = writer.lock().await.shutdown().await;
        if let Err(error) = closed {
            debug!(%error, "closing the connection failed");
        }
    }

    /// RFC 6613 §2.6.4: a stream whose framing is lost cannot be read further; the packet is
    /// discarded and recorded as malformed, and the connection closed.
    async fn bad_length(&self, peer: SocketAddr, client: &NasClient, length: usize) {
        let discard = Discard {
            source: peer,
            client: Some(client.name.clone()),
            identifier: None,
            user_name: None,
            reason: DiscardReason::Malformed,
        };
        let detail = format!("Length field {length} outside {HEADER_LEN}..={MAX_PACKET_LEN}");
        warn!(%peer, client = %client.name, detail, "stream cannot be framed: closing it");
        self.authentication
            .counters
            .count_discard(&discard, Some(detail), None);
        self.authentication.handler.discarded(discard).await;
    }

    /// Handles one packet and writes its answer, holding one of the connection's slots until
    /// then, or until a reject is set to wait in a small task of its own among
    /// `waiting_rejects`.
    async fn answer<W: AsyncWrite + Send + 'static>(
        self: Arc<Self>,
        request: Request,
        writer: Arc<Mutex<WriteHalf<W>>>,
        waiting_rejects: TaskTracker,
    ) {
        let Request {
            packet,
            arrived,
            peer,
            client,
            slot,
        } = request;
        // RFC 6614 §2.1: one port carries every kind of RADIUS packet, so the code picks the
        // service; anything but an Accounting-Request is judged as on the authentication port.
        let requests = if packet.first() == Some(&ACCOUNTING_REQUEST) {
            &self.accounting
        } else {
            &self.authentication
        };
        match respond(requests, &packet, peer, Some(client), arrived).await {
            Some(Ok(Outgoing::Now(octets))) => write(&writer, &octets, self.idle_timeout).await,
            Some(Ok(Outgoing::Delayed(reject))) => {
                drop(slot);
                let idle_timeout = self.idle_timeout;
                waiting_rejects.spawn(
                    async move {
                        let octets = reject.due().await;
                        write(&writer, &octets, idle_timeout).await;
                    }
                    .in_current_span(),
                );
            }
            Some(Err(error)) => error!(%error, "response cannot be encoded: none sent"),
            None => {}
        }
    }
}

/// A packet read from a connection, with what its answer needs.
struct Request {
    packet: Vec<u8>,
    arrived: Instant,
    peer: SocketAddr,
    client: Arc<NasClient>,
    slot: OwnedSemaphorePermit,
}

/// Writes one answer, giving up when the peer does not take it within `idle_timeout`.
async fn write<W: AsyncWrite>(writer: &Mutex<WriteHalf<W>>, octets: &[u8], idle_timeout: Duration) {
    let mut writer = writer.lock().await;
    let written = tokio::time::timeout(idle_timeout, async {
        writer.write_all(octets).await?;
        writer.flush().await
    })
    .await;
    match written {
        Ok(Ok(())) => {}
        Ok(Err(error)) => debug!(%error, "sending the response failed"),
        Err(_) => debug!("peer did not take the response in time"),
    }
}

/// Reads one packet framed by its Length field (RFC 6613 §2.1); `None` when the peer closed
/// the stream between packets.
async fn read_packet<R: AsyncRead + Unpin>(reader: &mut R) -> Result<Option<Vec<u8>>, FrameError> {
    let mut header = [0u8; 4];
    if reader
        .read(&mut header[..1])
        .await
        .map_err(FrameError::Io)?
        == 0
    {
        return Ok(None);
    }
    reader
        .read_exact(&mut header[1..])
        .await
        .map_err(FrameError::Io)?;
    let length = usize::from(u16::from_be_bytes([header[2], header[3]]));
    if !(HEADER_LEN..=MAX_PACKET_LEN).contains(&length) {
        return Err(FrameError::BadLength(length));
    }
    let mut packet = vec![0; length];
    let (start, rest) = packet.split_at_mut(header.len());
    start.copy_from_slice(&header);
    reader.read_exact(rest).await.map_err(FrameError::Io)?;
    Ok(Some(packet))
}

fn log_task_failure(finished: Result<(), tokio::task::JoinError>) {
    if let Err(error) = finished {
        error!(%error, "request task failed; the peer gets no answer");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clients::ClientState;
    use crate::handler::Reply;
    use crate::request::AccessRequest;
    use crate::secret::SharedSecret;
    use crate::test_vectors::{RFC2865_7_1_REQUEST, SECRET};

    /// Refuses everyone at once.
    struct RejectAll;

    impl RequestHandler for RejectAll {
        async fn access_request(&self, _request: AccessRequest) -> Reply {
            Reply::Reject
        }

        async fn discarded(&self, _discard: Discard) {}
    }

    #[tokio::test(start_paused = true)]
    async fn rejects_wait_out_the_delay_without_holding_the_connections_slot() {
        let delay = Duration::from_secs(1);
        let server = StreamServer::new(Arc::new(RejectAll), Duration::from_secs(60), delay);
        let client = Arc::new(NasClient {
            name: "nas".to_owned(),
            secret: SharedSecret::new(SECRET.to_vec()),
            require_message_authenticator: crate::clients::MessageAuthenticatorRule::Auto,
            limit_proxy_state: true,
            max_in_flight: 1,
            state: ClientState::default(),
        });
        let (mut nas, connection) = tokio::io::duplex(4096);
        let peer = SocketAddr::from(([192, 168, 1, 16], 2083));
        let shutdown = CancellationToken::new();
        let serving = tokio::spawn(server.serve(connection, peer, client, shutdown.clone()));
        let mut second = RFC2865_7_1_REQUEST;
        second[1] = 1;
        let started = Instant::now();
        nas.write_all(&RFC2865_7_1_REQUEST).await.unwrap();
        nas.write_all(&second).await.unwrap();
        for identifier in [0, 1] {
            let reject = read_packet(&mut nas).await.ok().flatten().unwrap();
            assert_eq!((reject[0], reject[1]), (3, identifier), "an Access-Reject");
            // Both within one delay: the first reject's wait left the one slot free.
            assert_eq!(started.elapsed(), delay);
        }
        shutdown.cancel();
        serving.await.unwrap();
    }

    async fn frame(octets: &[u8]) -> Result<Option<Vec<u8>>, FrameError> {
        let mut reader = octets;
        read_packet(&mut reader).await
    }

    #[tokio::test]
    async fn frames_by_the_length_field() {
        let mut two = vec![1, 7, 0, 20];
        two.resize(20, 9);
        two.extend_from_slice(&two.clone());
        let mut reader = &two[..];
        let first = read_packet(&mut reader).await.ok().flatten().unwrap();
        assert_eq!(first, two[..20]);
        assert!(read_packet(&mut reader).await.ok().flatten().is_some());
        assert!(matches!(read_packet(&mut reader).await, Ok(None)));
    }

    #[tokio::test]
    async fn refuses_lengths_that_cannot_be_framed() {
        for length in [0u16, 19, 4097, u16::MAX] {
            let [high, low] = length.to_be_bytes();
            assert!(
                matches!(frame(&[1, 0, high, low]).await, Err(FrameError::BadLength(l)) if l == usize::from(length)),
                "{length}"
            );
        }
        assert!(matches!(
            frame(&[1, 0, 0, 30, 1]).await,
            Err(FrameError::Io(_))
        ));
    }
}
