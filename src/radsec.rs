//! RadSec (RFC 6614): RADIUS over TLS on TCP, for appliances and proxies that can protect
//! RADIUS with certificates instead of an MD5 shared secret. This file owns the listener, the
//! bound on connections, and which configured client a certificate names (exactly: no
//! wildcards). The TLS server is `adgate_certs::TlsServer`, the one EAP-TLS uses: mutual TLS
//! rooted only in `radsec.client_ca_file`, checked against the CRLs in `radsec.crl_files`
//! (re-read when they change, see `crl_refresh`), clientAuth required. Each accepted connection is
//! then served by `adgate_radius::StreamServer` with the same handler (the gatekeeper) as UDP. A configuration
//! reload replaces the certificates and the clients ([`RadsecTrust`]) for connections accepted
//! afterwards; connections already open keep the client they were accepted as. Refused
//! connections are counted and logged within bounds (`refusals.rs`).

mod refusals;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use adgate_certs::{carries_dns_name, MutualTlsSettings, TlsServer};
use adgate_radius::{ClientState, Counters, NasClient, RequestHandler, SharedSecret, StreamServer};
use anyhow::Context;
use ipnet::IpNet;
use pki_types::{CertificateDer, DnsName};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::task::{JoinHandle, JoinSet};
use tokio_rustls::TlsAcceptor;
use tokio_util::sync::CancellationToken;
use tracing::{debug, info, warn, Instrument};

pub use refusals::RefusalCounts;
use refusals::{Refusal, Refusals, SUMMARY_INTERVAL};

use crate::clients::ClientSettings;
use crate::swappable::Swappable;

/// RFC 6614 §2.3: over TLS the RADIUS shared secret is the fixed string "radsec"; TLS, not
/// the secret, protects the packets.
const RADSEC_SECRET: &[u8] = b"radsec";

/// A peer that has not finished its TLS handshake by then is dropped, so half-open
/// connections cannot hold the connection slots.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// `[radsec]`.
#[derive(Debug, Clone)]
pub struct RadsecSettings {
    pub listen: SocketAddr,
    /// Server certificate chain shown to clients (PEM, leaf first).
    pub certificate_file: PathBuf,
    pub private_key_file: PathBuf,
    /// The only CA(s) trusted for client certificates.
    pub client_ca_file: PathBuf,
    /// CRLs for client certificates (PEM or DER); when set, every certificate of a client's
    /// chain below the CA must be covered by one.
    pub crl_files: Vec<PathBuf>,
    /// Connections served at once; beyond, new connections are closed at once.
    pub max_connections: usize,
    /// A connection without a request for this long is closed.
    pub idle_timeout: Duration,
}

/// A client allowed over RadSec: the certificate name it must present, from the network it
/// must connect from.
struct RadsecClient {
    network: IpNet,
    certificate_name: DnsName<'static>,
    nas: Arc<NasClient>,
}

impl RadsecSettings {
    /// The TLS server's settings. RadSec derives no keys from the TLS master secret, so
    /// TLS 1.2 without the extended master secret is not refused (as before; RFC 6614 asks
    /// nothing more).
    fn tls(&self) -> MutualTlsSettings {
        MutualTlsSettings {
            certificate_file: self.certificate_file.clone(),
            private_key_file: self.private_key_file.clone(),
            ca_file: self.client_ca_file.clone(),
            crl_files: self.crl_files.clone(),
            require_extended_master_secret: false,
        }
    }
}

/// Whom connections are accepted from, and with which certificate: what a reload may change.
pub struct RadsecTrust {
    tls: Arc<TlsServer>,
    clients: Vec<RadsecClient>,
}

impl RadsecTrust {
    /// Loads the TLS files (CRLs included: a reload re-reads them), watches the CRL files
    /// (`crl_refresh`) and picks the clients that have a `radsec_certificate_name`.
    pub fn load(settings: &RadsecSettings, clients: &[ClientSettings]) -> anyhow::Result<Self> {
        let clients: Vec<RadsecClient> = clients
            .iter()
            .filter_map(|client| {
                let certificate_name = client.radsec_certificate_name.clone()?;
                let nas = NasClient {
                    name: client.name.clone(),
                    secret: SharedSecret::new(RADSEC_SECRET.to_vec()),
                    require_message_authenticator: client.require_message_authenticator,
                    limit_proxy_state: client.limit_proxy_state,
                    max_in_flight: client.max_in_flight,
                    state: ClientState::default(),
                };
                Some(RadsecClient {
                    network: client.address,
                    certificate_name,
                    nas: Arc::new(nas),
                })
            })
            .collect();
        if clients.is_empty() {
            anyhow::bail!(
                "[radsec] is set but no [[clients]] entry has `radsec_certificate_name`: \
                 every RadSec connection would be refused"
            );
        }
        let tls = TlsServer::new(settings.tls(), "RadSec connections")
            .context("radsec.certificate_file, private_key_file, client_ca_file or crl_files")?;
        let tls = Arc::new(tls);
        crate::crl_refresh::watch(&tls);
        Ok(Self { tls, clients })
    }

    /// The TLS server for a new connection, as last built (see `crl_refresh`); `None` while
    /// the CRLs cannot be loaded.
    fn acceptor(&self) -> Option<TlsAcceptor> {
        self.tls.config().ok().map(TlsAcceptor::from)
    }

    /// How many clients may connect.
    pub fn client_count(&self) -> usize {
        self.clients.len()
    }
}

/// The RadSec listener, ready to bind.
pub struct RadsecListener {
    settings: RadsecSettings,
    trust: Arc<Swappable<RadsecTrust>>,
    refusals: Arc<Refusals>,
}

impl RadsecListener {
    pub fn new(settings: RadsecSettings, trust: RadsecTrust) -> Self {
        Self {
            settings,
            trust: Arc::new(Swappable::new(trust)),
            refusals: Arc::default(),
        }
    }

    /// `adgate_radsec_handshake_failures_total`, for the metrics registry.
    pub fn refusal_metric(&self) -> RefusalCounts {
        self.refusals.metric()
    }

    /// Where a reload puts the new certificates and clients.
    pub fn trust(&self) -> Arc<Swappable<RadsecTrust>> {
        Arc::clone(&self.trust)
    }

    /// Binds `radsec.listen` and serves until `shutdown`, then lets every connection answer
    /// what it has read and closes it. Access-Rejects leave `reject_delay` after their request.
    /// Also returns the connections' counters (what they discarded and delayed, for
    /// `adgate_discards_total` and `adgate_rejects_delayed_total`).
    pub async fn spawn<H: RequestHandler>(
        self,
        handler: Arc<H>,
        reject_delay: Duration,
        shutdown: CancellationToken,
    ) -> anyhow::Result<(JoinHandle<()>, Arc<Counters>)> {
        let address = self.settings.listen;
        let listener = TcpListener::bind(address)
            .await
            .with_context(|| format!("cannot listen on {address} (radsec.listen)"))?;
        info!(%address, "listening for RadSec (RADIUS over TLS)");
        let server = StreamServer::new(handler, self.settings.idle_timeout, reject_delay);
        let counters = server.counters();
        Ok((tokio::spawn(self.run(listener, server, shutdown)), counters))
    }

    async fn run<H: RequestHandler>(
        self,
        listener: TcpListener,
        server: Arc<StreamServer<H>>,
        shutdown: CancellationToken,
    ) {
        let slots = Arc::new(Semaphore::new(self.settings.max_connections));
        let mut connections = JoinSet::new();
        let mut summaries = tokio::time::interval(SUMMARY_INTERVAL);
        summaries.tick().await; // the first tick is immediate
        loop {
            let accepted = tokio::select! {
                biased;
                () = shutdown.cancelled() => break,
                Some(_) = connections.join_next(), if !connections.is_empty() => continue,
                _ = summaries.tick() => {
                    self.refusals.summarize();
                    continue;
                }
                accepted = listener.accept() => accepted,
            };
            let (stream, peer) = match accepted {
                Ok(accepted) => accepted,
                Err(error) => {
                    // E.g. out of file descriptors: wait a little rather than spin.
                    warn!(%error, "accepting a RadSec connection failed");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            };
            let Ok(slot) = Arc::clone(&slots).try_acquire_owned() else {
                let detail = "radsec.max_connections reached";
                self.refusals.refuse(
                    peer,
                    Refusal::MaxConnections,
                    "RadSec connection refused",
                    &detail,
                );
                continue;
            };
            let connection = Connection {
                trust: self.trust.get(),
                server: Arc::clone(&server),
                refusals: Arc::clone(&self.refusals),
                shutdown: shutdown.clone(),
                _slot: slot,
            };
            connections.spawn(
                connection
                    .serve(stream, peer)
                    .instrument(tracing::debug_span!("radsec", %peer)),
            );
        }
        debug!(
            connections = connections.len(),
            "RadSec shutting down: finishing requests read"
        );
        while connections.join_next().await.is_some() {}
    }
}

/// One accepted TCP connection, holding one of the `max_connections` slots.
struct Connection<H> {
    trust: Arc<RadsecTrust>,
    server: Arc<StreamServer<H>>,
    refusals: Arc<Refusals>,
    shutdown: CancellationToken,
    _slot: OwnedSemaphorePermit,
}

impl<H: RequestHandler> Connection<H> {
    async fn serve(self, stream: TcpStream, peer: SocketAddr) {
        let Some(acceptor) = self.trust.acceptor() else {
            let detail = "the CRL files cannot be loaded";
            self.refusals.refuse(
                peer,
                Refusal::RevocationUnknown,
                "RadSec connection refused",
                &detail,
            );
            return;
        };
        let tls = match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(stream)).await {
            Ok(Ok(tls)) => tls,
            Ok(Err(error)) => {
                let refusal = Refusal::of_handshake(&error);
                self.refusals
                    .refuse(peer, refusal, "RadSec TLS handshake failed", &error);
                return;
            }
            Err(_) => {
                let detail = format!("no handshake within {HANDSHAKE_TIMEOUT:?}");
                self.refusals.refuse(
                    peer,
                    Refusal::Timeout,
                    "RadSec TLS handshake timed out",
                    &detail,
                );
                return;
            }
        };
        let certificate = tls.get_ref().1.peer_certificates().and_then(<[_]>::first);
        let Some(nas) = certificate.and_then(|certificate| self.identify(certificate, peer)) else {
            let detail = "no radsec_certificate_name in its subjectAltName from this address";
            self.refusals.refuse(
                peer,
                Refusal::UnknownClient,
                "RadSec client certificate names no configured client",
                &detail,
            );
            return;
        };
        info!(%peer, client = %nas.name, "RadSec connection established");
        Arc::clone(&self.server)
            .serve(tls, peer, nas, self.shutdown.clone())
            .await;
        debug!(%peer, "RadSec connection closed");
    }

    /// The configured client whose `radsec_certificate_name` the certificate carries, exactly,
    /// as a subjectAltName DNS name (never the subject CN, never by a wildcard: see
    /// `adgate_certs::carries_dns_name`), connecting from inside its `address`. The chain was
    /// already verified by the handshake.
    fn identify(
        &self,
        certificate: &CertificateDer<'_>,
        peer: SocketAddr,
    ) -> Option<Arc<NasClient>> {
        let source = peer.ip().to_canonical();
        self.trust
            .clients
            .iter()
            .find(|client| {
                client.network.contains(&source)
                    && carries_dns_name(certificate, client.certificate_name.as_ref())
            })
            .map(|client| Arc::clone(&client.nas))
    }
}
