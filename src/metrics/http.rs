//! The metrics listener (`[metrics] listen`): plain HTTP/1.1 on a separate address, for
//! Prometheus and for service managers and load balancers probing adgate.
//!
//! - `GET /metrics` — every family: OpenMetrics text format when the `Accept` header asks for
//!   it (Prometheus does), else the classic text format 0.0.4;
//! - `GET /healthz` — 200 while the process answers at all;
//! - `GET /readyz` — 200 when adgate can decide logins (see [`Readiness`]), else 503 with what
//!   is missing.
//!
//! The listener is bounded, since anyone who can reach it can open connections: at most
//! [`MAX_CONNECTIONS`] are served at once (more wait in the kernel's listen backlog until one
//! ends), a request's header must arrive within [`HEADER_READ_TIMEOUT`] (so a client sending
//! half a header, or an idle keep-alive connection, gives its place up), a connection is closed
//! after [`CONNECTION_LIFETIME`] (after the response in progress), and a failed `accept` (out of
//! file descriptors) is retried after [`ACCEPT_BACKOFF`] rather than in a busy loop.

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::{Arc, Weak};
use std::time::Duration;

use anyhow::Context;
use http_body_util::Full;
use hyper::body::{Bytes, Incoming};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{header, Method, Request, Response, StatusCode};
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use super::Metrics;

const OPENMETRICS: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";
const CLASSIC_TEXT: &str = "text/plain; version=0.0.4; charset=utf-8";

/// Connections served at once: Prometheus, a load balancer and a service manager need a few.
pub const MAX_CONNECTIONS: usize = 16;
/// A request's header (the first, or the next on a kept-alive connection) must arrive within
/// this.
pub const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(10);
/// A connection is closed after this, once the response in progress is out (a client reading
/// its response slowly cannot keep its place longer than another `HEADER_READ_TIMEOUT`).
pub const CONNECTION_LIFETIME: Duration = Duration::from_secs(60);
/// The wait after a failed `accept`.
pub const ACCEPT_BACKOFF: Duration = Duration::from_millis(100);

/// The bounds of the listener (the constants above, smaller in tests).
#[derive(Debug, Clone, Copy)]
struct Limits {
    max_connections: usize,
    header_read_timeout: Duration,
    connection_lifetime: Duration,
}

impl Limits {
    const SERVED: Limits = Limits {
        max_connections: MAX_CONNECTIONS,
        header_read_timeout: HEADER_READ_TIMEOUT,
        connection_lifetime: CONNECTION_LIFETIME,
    };
}

/// Whether adgate can decide logins now.
pub trait Readiness: Send + Sync + 'static {
    /// `Ok(what is working)` when ready, `Err(what is not)` otherwise. Called on every probe,
    /// so it must be cheap.
    fn check(&self) -> impl Future<Output = Result<String, String>> + Send;
}

/// A part of adgate that may be gone already: while adgate stops, the probes outlive the
/// gatekeeper, and say so.
impl<R: Readiness> Readiness for Weak<R> {
    async fn check(&self) -> Result<String, String> {
        match self.upgrade() {
            Some(part) => part.check().await,
            None => Err("stopping".into()),
        }
    }
}

/// Listens on `address` until `shutdown`; fails only if the address cannot be bound.
pub async fn spawn_listener<R: Readiness>(
    address: SocketAddr,
    metrics: Arc<Metrics>,
    readiness: Arc<R>,
    shutdown: CancellationToken,
) -> anyhow::Result<JoinHandle<()>> {
    let listener = TcpListener::bind(address)
        .await
        .with_context(|| format!("cannot listen on {address} (metrics.listen)"))?;
    tracing::info!(%address, "listening for metrics and health probes");
    Ok(tokio::spawn(serve(
        listener,
        metrics,
        readiness,
        Limits::SERVED,
        shutdown,
    )))
}

/// Accepts connections while a slot is free, until `shutdown`.
async fn serve<R: Readiness>(
    listener: TcpListener,
    metrics: Arc<Metrics>,
    readiness: Arc<R>,
    limits: Limits,
    shutdown: CancellationToken,
) {
    let slots = Arc::new(Semaphore::new(limits.max_connections));
    loop {
        let slot = tokio::select! {
            _ = shutdown.cancelled() => return,
            slot = Arc::clone(&slots).acquire_owned() => match slot {
                Ok(slot) => slot,
                Err(_closed) => return,
            },
        };
        let stream = tokio::select! {
            _ = shutdown.cancelled() => return,
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => stream,
                Err(error) => {
                    // E.g. out of file descriptors: wait a little rather than spin.
                    tracing::warn!(%error, "metrics listener: accept failed");
                    tokio::time::sleep(ACCEPT_BACKOFF).await;
                    continue;
                }
            },
        };
        tokio::spawn(serve_connection(
            stream,
            Arc::clone(&metrics),
            Arc::clone(&readiness),
            limits,
            slot,
        ));
    }
}

/// Serves one connection, holding one of the slots, within the limits.
async fn serve_connection<R: Readiness>(
    stream: TcpStream,
    metrics: Arc<Metrics>,
    readiness: Arc<R>,
    limits: Limits,
    _slot: OwnedSemaphorePermit,
) {
    let service = service_fn(move |request| {
        let (metrics, readiness) = (metrics.clone(), readiness.clone());
        async move { Ok::<_, Infallible>(respond(request, &metrics, &*readiness).await) }
    });
    let connection = http1::Builder::new()
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_read_timeout)
        .serve_connection(TokioIo::new(stream), service);
    tokio::pin!(connection);
    let ended = tokio::select! {
        ended = connection.as_mut() => ended,
        () = tokio::time::sleep(limits.connection_lifetime) => {
            connection.as_mut().graceful_shutdown();
            match tokio::time::timeout(limits.header_read_timeout, connection.as_mut()).await {
                Ok(ended) => ended,
                Err(_) => return, // still writing to a client that does not read: drop it
            }
        }
    };
    if let Err(error) = ended {
        tracing::debug!(%error, "metrics connection ended");
    }
}

async fn respond(
    request: Request<Incoming>,
    metrics: &Metrics,
    readiness: &impl Readiness,
) -> Response<Full<Bytes>> {
    if request.method() != Method::GET {
        return text(StatusCode::METHOD_NOT_ALLOWED, "only GET\n".into());
    }
    match request.uri().path() {
        "/metrics" => {
            let wants_openmetrics = request
                .headers()
                .get_all(header::ACCEPT)
                .iter()
                .filter_map(|accept| accept.to_str().ok())
                .any(|accept| accept.contains("application/openmetrics-text"));
            let (content_type, body) = match wants_openmetrics {
                true => (OPENMETRICS, metrics.encode()),
                false => (CLASSIC_TEXT, metrics.encode_classic()),
            };
            match body {
                Ok(body) => response(StatusCode::OK, content_type, body),
                Err(error) => {
                    tracing::error!(%error, "the metrics could not be encoded");
                    text(
                        StatusCode::INTERNAL_SERVER_ERROR,
                        "the metrics could not be encoded\n".into(),
                    )
                }
            }
        }
        "/healthz" => text(StatusCode::OK, "alive\n".into()),
        "/readyz" => match readiness.check().await {
            Ok(working) => text(StatusCode::OK, format!("ready: {working}\n")),
            Err(missing) => text(
                StatusCode::SERVICE_UNAVAILABLE,
                format!("not ready: {missing}\n"),
            ),
        },
        _ => text(StatusCode::NOT_FOUND, "not found\n".into()),
    }
}

fn text(status: StatusCode, body: String) -> Response<Full<Bytes>> {
    response(status, "text/plain; charset=utf-8", body)
}

fn response(status: StatusCode, content_type: &'static str, body: String) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::from(body)));
    *response.status_mut() = status;
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        header::HeaderValue::from_static(content_type),
    );
    response
}

#[cfg(test)]
mod tests {
    use std::time::Instant;

    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    use super::*;

    struct AlwaysReady;

    impl Readiness for AlwaysReady {
        async fn check(&self) -> Result<String, String> {
            Ok("test".into())
        }
    }

    /// A listener with `limits` on a loopback port, stopped when the token is dropped.
    async fn listen(limits: Limits) -> (SocketAddr, tokio_util::sync::DropGuard) {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        let shutdown = CancellationToken::new();
        let metrics = Arc::new(Metrics::new());
        tokio::spawn(serve(
            listener,
            metrics,
            Arc::new(AlwaysReady),
            limits,
            shutdown.clone(),
        ));
        (address, shutdown.drop_guard())
    }

    /// Everything the server sends until it closes the connection, if it does within `limit`.
    async fn read_until_closed(stream: &mut TcpStream, limit: Duration) -> Option<String> {
        let mut received = Vec::new();
        let read = tokio::time::timeout(limit, stream.read_to_end(&mut received)).await;
        read.ok()
            .map(|_| String::from_utf8_lossy(&received).into_owned())
    }

    const HEALTHZ: &[u8] = b"GET /healthz HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n";

    #[tokio::test]
    async fn a_client_sending_half_a_header_is_cut_after_the_timeout() {
        let limits = Limits {
            max_connections: 4,
            header_read_timeout: Duration::from_millis(300),
            connection_lifetime: Duration::from_secs(60),
        };
        let (address, _stop) = listen(limits).await;
        let mut slow = TcpStream::connect(address).await.unwrap();
        slow.write_all(b"GET /healthz HTTP/1.1\r\nHost: te")
            .await
            .unwrap();
        let started = Instant::now();
        let received = read_until_closed(&mut slow, Duration::from_secs(5)).await;
        let received = received.expect("closed by the server");
        assert!(!received.contains("200"), "{received}");
        let after = started.elapsed();
        assert!(after >= Duration::from_millis(250), "{after:?}");
        assert!(after < Duration::from_secs(3), "{after:?}");
    }

    #[tokio::test]
    async fn connections_beyond_the_cap_wait_for_a_free_slot() {
        let limits = Limits {
            max_connections: 2,
            header_read_timeout: Duration::from_secs(30),
            connection_lifetime: Duration::from_secs(60),
        };
        let (address, _stop) = listen(limits).await;
        let mut silent = Vec::new();
        for _ in 0..limits.max_connections {
            silent.push(TcpStream::connect(address).await.unwrap());
        }
        // The kernel completes the connection, but adgate does not take it up yet.
        let mut waiting = TcpStream::connect(address).await.unwrap();
        waiting.write_all(HEALTHZ).await.unwrap();
        let early = read_until_closed(&mut waiting, Duration::from_millis(500)).await;
        assert_eq!(early, None, "served beyond the cap");

        drop(silent.pop());
        let answer = read_until_closed(&mut waiting, Duration::from_secs(5)).await;
        let answer = answer.expect("served once a slot is free");
        assert!(answer.starts_with("HTTP/1.1 200 OK"), "{answer}");
        assert!(answer.ends_with("alive\n"), "{answer}");
    }

    #[tokio::test]
    async fn a_kept_alive_connection_ends_after_its_lifetime() {
        let limits = Limits {
            max_connections: 4,
            header_read_timeout: Duration::from_secs(30),
            connection_lifetime: Duration::from_millis(300),
        };
        let (address, _stop) = listen(limits).await;
        let mut client = TcpStream::connect(address).await.unwrap();
        let started = Instant::now();
        client
            .write_all(b"GET /healthz HTTP/1.1\r\nHost: test\r\n\r\n")
            .await
            .unwrap();
        let received = read_until_closed(&mut client, Duration::from_secs(5)).await;
        let received = received.expect("closed by the server");
        assert!(received.ends_with("alive\n"), "answered first: {received}");
        let after = started.elapsed();
        assert!(after >= Duration::from_millis(250), "{after:?}");
        assert!(after < Duration::from_secs(3), "{after:?}");
    }
}
