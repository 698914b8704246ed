//! RADIUS over a byte stream: the connection half of RadSec (RFC 6614), which runs RADIUS/TCP
//! framing (RFC 6613) inside TLS. The TLS handshake and the choice of client belong to whoever
//! accepts the connection; this file frames packets by their Length field, bounds what one
//! connection has in flight, and hands each packet to the same per-request path as UDP
//! (`server::respond`: authenticators, attribute rules, response cache, handler).

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, WriteHalf};
use tokio::sync::{Mutex, OwnedSemaphorePermit, Semaphore};
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;
use tracing::{debug, error, warn, Instrument};

use crate::clients::NasClient;
use crate::counters::Counters;
use crate::dictionary::ACCOUNTING_REQUEST;
use crate::handler::{Discard, DiscardReason, RequestHandler};
use crate::packet::{HEADER_LEN, MAX_PACKET_LEN};
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
    /// A server whose connections are closed after `idle_timeout` without a request.
    pub fn new(handler: Arc<H>, idle_timeout: Duration) -> Arc<Self> {
        let cache = ResponseCache::new();
        let counters = Arc::new(Counters::default());
        let requests = |service| Requests {
            handler: Arc::clone(&handler),
            service,
            cache: Arc::clone(&cache),
            counters: Arc::clone(&counters),
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
    /// then answers what was already read and closes. At most the client's `max_in_flight`
    /// requests are handled at once: beyond, the connection is not read (TCP flow control holds
    /// the peer back), so a busy connection slows only itself.
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
            tasks.spawn(
                Arc::clone(&self)
                    .answer(packet, peer, Arc::clone(&client), Arc::clone(&writer), slot)
                    .in_current_span(),
            );
        }
        while let Some(finished) = tasks.join_next().await {
            log_task_failure(finished);
        }
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
            .count_discard(&discard, Some(detail));
        self.authentication.handler.discarded(discard).await;
    }

    /// Handles one packet and writes its answer, holding one of the connection's slots.
    async fn answer<W: AsyncWrite>(
        self: Arc<Self>,
        packet: Vec<u8>,
        peer: SocketAddr,
        client: Arc<NasClient>,
        writer: Arc<Mutex<WriteHalf<W>>>,
        _slot: OwnedSemaphorePermit,
    ) {
        // RFC 6614 §2.1: one port carries every kind of RADIUS packet, so the code picks the
        // service; anything but an Accounting-Request is judged as on the authentication port.
        let requests = if packet.first() == Some(&ACCOUNTING_REQUEST) {
            &self.accounting
        } else {
            &self.authentication
        };
        let octets = match respond(requests, &packet, peer, Some(client)).await {
            Some(Ok(octets)) => octets,
            Some(Err(error)) => {
                error!(%error, "response cannot be encoded: none sent");
                return;
            }
            None => return,
        };
        let mut writer = writer.lock().await;
        let written = tokio::time::timeout(self.idle_timeout, async {
            writer.write_all(&octets).await?;
            writer.flush().await
        })
        .await;
        match written {
            Ok(Ok(())) => {}
            Ok(Err(error)) => debug!(%error, "sending the response failed"),
            Err(_) => debug!("peer did not take the response in time"),
        }
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
