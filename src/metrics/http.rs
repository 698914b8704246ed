//! The metrics listener (`[metrics] listen`): plain HTTP/1.1 on a separate address, for
//! Prometheus and for service managers and load balancers probing adgate.
//!
//! - `GET /metrics` — every family: OpenMetrics text format when the `Accept` header asks for
//!   it (Prometheus does), else the classic text format 0.0.4;
//! - `GET /healthz` — 200 while the process answers at all;
//! - `GET /readyz` — 200 when adgate can decide logins (see [`Readiness`]), else 503 with what
//!   is missing.

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::{Arc, Weak};

use anyhow::Context;
use http_body_util::Full;
use hyper::body::{Bytes, Incoming};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{header, Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use super::Metrics;

const OPENMETRICS: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";
const CLASSIC_TEXT: &str = "text/plain; version=0.0.4; charset=utf-8";

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
    Ok(tokio::spawn(async move {
        loop {
            let stream = tokio::select! {
                _ = shutdown.cancelled() => return,
                accepted = listener.accept() => match accepted {
                    Ok((stream, _)) => stream,
                    Err(error) => {
                        tracing::warn!(%error, "metrics listener: accept failed");
                        continue;
                    }
                },
            };
            let (metrics, readiness) = (metrics.clone(), readiness.clone());
            tokio::spawn(async move {
                let service = service_fn(move |request| {
                    let (metrics, readiness) = (metrics.clone(), readiness.clone());
                    async move { Ok::<_, Infallible>(respond(request, &metrics, &*readiness).await) }
                });
                let connection =
                    http1::Builder::new().serve_connection(TokioIo::new(stream), service);
                if let Err(error) = connection.await {
                    tracing::debug!(%error, "metrics connection ended");
                }
            });
        }
    }))
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
            Response::builder()
                .header(header::CONTENT_TYPE, content_type)
                .body(Full::new(Bytes::from(body)))
                .expect("a valid response")
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
    Response::builder()
        .status(status)
        .header(header::CONTENT_TYPE, "text/plain; charset=utf-8")
        .body(Full::new(Bytes::from(body)))
        .expect("a valid response")
}
