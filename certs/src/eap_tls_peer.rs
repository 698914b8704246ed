//! The peer (supplicant) side of EAP-TLS on rustls' `ClientConnection`, for adgate's own NAS
//! simulator: the benchmark and the tests drive full EAP-TLS handshakes with it, without an
//! external supplicant. It mirrors [`EapTlsSession`](crate::EapTlsSession): the same
//! fragment framing, acknowledgements and key export. A fatal TLS alert from the server is
//! acknowledged with an empty response (RFC 5216 §2.1.3) and kept, so the caller can show it.

use std::path::Path;
use std::sync::Arc;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use rustls::{
    AlertDescription, ClientConfig, ClientConnection, RootCertStore, SupportedProtocolVersion,
};

use crate::eap_tls_fragments::{ack, Fragment, Inbound, Outbound};
use crate::session_keys::MasterSessionKey;

/// TLS data per fragment the peer sends.
const PEER_FRAGMENT_SIZE: usize = 1000;

/// Why the peer cannot go on.
#[derive(Debug, thiserror::Error)]
pub enum PeerError {
    #[error("{path}: {problem}")]
    File { path: String, problem: String },
    #[error("TLS: {0}")]
    Tls(#[from] rustls::Error),
    #[error("the server's EAP-TLS framing is invalid")]
    Framing,
}

/// A client configuration for `version` (`&rustls::version::TLS12` or `TLS13`) trusting only
/// `ca_file` for the server and presenting `certificate_file` / `key_file`.
pub fn peer_config(
    ca_file: &Path,
    certificate_file: &Path,
    key_file: &Path,
    version: &'static SupportedProtocolVersion,
) -> Result<Arc<ClientConfig>, PeerError> {
    let file_error = |path: &Path, problem: String| PeerError::File {
        path: path.display().to_string(),
        problem,
    };
    let mut roots = RootCertStore::empty();
    for certificate in
        CertificateDer::pem_file_iter(ca_file).map_err(|e| file_error(ca_file, e.to_string()))?
    {
        roots
            .add(certificate.map_err(|e| file_error(ca_file, e.to_string()))?)
            .map_err(|e| file_error(ca_file, e.to_string()))?;
    }
    let chain = CertificateDer::pem_file_iter(certificate_file)
        .map_err(|e| file_error(certificate_file, e.to_string()))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| file_error(certificate_file, e.to_string()))?;
    let key =
        PrivateKeyDer::from_pem_file(key_file).map_err(|e| file_error(key_file, e.to_string()))?;
    let config =
        ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
            .with_protocol_versions(&[version])?
            .with_root_certificates(roots)
            .with_client_auth_cert(chain, key)?;
    Ok(Arc::new(config))
}

/// One EAP-TLS conversation as the peer.
pub struct EapTlsPeer {
    connection: ClientConnection,
    inbound: Inbound,
    outbound: Option<Outbound>,
    alert_received: Option<AlertDescription>,
}

impl EapTlsPeer {
    /// A peer that will check the server's certificate for `server_name`.
    pub fn new(config: Arc<ClientConfig>, server_name: &str) -> Result<Self, PeerError> {
        let name = ServerName::try_from(server_name.to_owned())
            .map_err(|_| PeerError::Tls(rustls::Error::General("bad server name".into())))?;
        Ok(Self {
            connection: ClientConnection::new(config, name)?,
            inbound: Inbound::default(),
            outbound: None,
            alert_received: None,
        })
    }

    /// The Type-Data of the EAP-TLS Response to a Request's Type-Data.
    pub fn respond(&mut self, request: &[u8]) -> Result<Vec<u8>, PeerError> {
        let fragment = Fragment::parse(request).map_err(|_| PeerError::Framing)?;
        if let Some(outbound) = self.outbound.as_mut() {
            if !fragment.is_ack() {
                return Err(PeerError::Framing);
            }
            let next = outbound.next_fragment();
            if outbound.is_done() {
                self.outbound = None;
            }
            return Ok(next);
        }
        if !fragment.start {
            let Some(flight) = self
                .inbound
                .add(&fragment)
                .map_err(|_| PeerError::Framing)?
            else {
                return Ok(ack());
            };
            let mut data = &flight[..];
            while !data.is_empty() {
                if self
                    .connection
                    .read_tls(&mut data)
                    .map_err(|_| PeerError::Framing)?
                    == 0
                {
                    return Err(PeerError::Framing);
                }
                match self.connection.process_new_packets() {
                    Ok(_) => {}
                    Err(rustls::Error::AlertReceived(alert)) => {
                        self.alert_received = Some(alert);
                        return Ok(ack());
                    }
                    Err(error) => return Err(error.into()),
                }
            }
        }
        let mut output = Vec::new();
        while self.connection.wants_write() {
            self.connection
                .write_tls(&mut output)
                .map_err(|_| PeerError::Framing)?;
        }
        if output.is_empty() {
            return Ok(ack());
        }
        let mut outbound = Outbound::new(output, PEER_FRAGMENT_SIZE);
        let first = outbound.next_fragment();
        if !outbound.is_done() {
            self.outbound = Some(outbound);
        }
        Ok(first)
    }

    /// The fatal TLS alert the server sent, if it refused the handshake.
    pub fn alert_received(&self) -> Option<AlertDescription> {
        self.alert_received
    }

    /// The MSK, once the handshake is over.
    pub fn msk(&self) -> Option<MasterSessionKey> {
        if self.connection.is_handshaking() {
            return None;
        }
        MasterSessionKey::export(&self.connection).ok()
    }
}
