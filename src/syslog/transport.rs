//! The connection to the collector: plain TCP (RFC 6587) or TLS (RFC 5425) on rustls, trusting
//! only the CA in `syslog.ca_file` and checking the collector's name against its certificate
//! (RFC 5425 §5.2), and presenting adgate's own certificate when one is configured, for a
//! collector that authenticates its senders (mutual authentication, RFC 5425 §5.2). Neither protocol acknowledges messages, so delivery is judged by TCP: once
//! the kernel's send queue for the socket is empty, the collector's host has acknowledged every
//! byte written (TIOCOUTQ, see tcp(7)).

use std::os::fd::AsRawFd;
use std::sync::Arc;
use std::time::Duration;

use pki_types::pem::PemObject;
use pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;
use tokio_rustls::client::TlsStream;
use tokio_rustls::TlsConnector;

use super::{ClientCertificate, SyslogSettings};

/// How long the collector may take to acknowledge what was sent before the connection is
/// considered dead (and the unacknowledged records are sent again on a new one).
const ACK_TIMEOUT: Duration = Duration::from_secs(30);
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

pub enum Connection {
    Tcp(TcpStream),
    Tls(Box<TlsStream<TcpStream>>),
}

impl Connection {
    pub async fn connect(settings: &SyslogSettings) -> anyhow::Result<Connection> {
        let target = &settings.target;
        let address = (target.host.as_str(), target.port);
        let tcp = tokio::time::timeout(CONNECT_TIMEOUT, TcpStream::connect(address))
            .await
            .map_err(|_| anyhow::anyhow!("connecting timed out"))??;
        tcp.set_nodelay(true)?;
        if !target.tls {
            return Ok(Connection::Tcp(tcp));
        }
        let connector = tls_connector(settings)?;
        let name = ServerName::try_from(target.host.clone())
            .map_err(|e| anyhow::anyhow!("{:?} is not a valid server name: {e}", target.host))?;
        let tls = tokio::time::timeout(CONNECT_TIMEOUT, connector.connect(name, tcp))
            .await
            .map_err(|_| anyhow::anyhow!("TLS handshake timed out"))??;
        Ok(Connection::Tls(Box::new(tls)))
    }

    /// Writes `bytes` and waits until the collector's host has acknowledged all of it.
    pub async fn send_acknowledged(&mut self, bytes: &[u8]) -> anyhow::Result<()> {
        match self {
            Connection::Tcp(stream) => {
                stream.write_all(bytes).await?;
                stream.flush().await?;
            }
            Connection::Tls(stream) => {
                stream.write_all(bytes).await?;
                stream.flush().await?;
            }
        }
        let deadline = tokio::time::Instant::now() + ACK_TIMEOUT;
        while self.unacknowledged_bytes()? > 0 {
            if tokio::time::Instant::now() > deadline {
                anyhow::bail!("the collector acknowledged nothing for {ACK_TIMEOUT:?}");
            }
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
        Ok(())
    }

    fn tcp(&self) -> &TcpStream {
        match self {
            Connection::Tcp(stream) => stream,
            Connection::Tls(stream) => stream.get_ref().0,
        }
    }

    /// Bytes written to the socket that the peer has not acknowledged yet. The one `unsafe`
    /// of adgate: no maintained crate wraps TIOCOUTQ (SIOCOUTQ) for sockets (rustix and nix
    /// offer only the raw, unsafe ioctl).
    #[allow(unsafe_code)]
    fn unacknowledged_bytes(&self) -> std::io::Result<libc::c_int> {
        let tcp = self.tcp();
        if let Some(error) = tcp.take_error()? {
            return Err(error);
        }
        let mut queued: libc::c_int = 0;
        // SAFETY: TIOCOUTQ writes one c_int through the pointer, which points to `queued`; the
        // descriptor belongs to `tcp`, which outlives the call.
        let result = unsafe { libc::ioctl(tcp.as_raw_fd(), libc::TIOCOUTQ, &mut queued) };
        if result < 0 {
            return Err(std::io::Error::last_os_error());
        }
        Ok(queued)
    }
}

/// The TLS client for the collector, trusting only `syslog.ca_file`, presenting
/// `syslog.certificate_file` if set.
pub fn tls_connector(settings: &SyslogSettings) -> anyhow::Result<TlsConnector> {
    let ca_file = settings
        .ca_file
        .as_ref()
        .ok_or_else(|| anyhow::anyhow!("syslog.ca_file is required for tls://"))?;
    let mut roots = rustls::RootCertStore::empty();
    for certificate in CertificateDer::pem_file_iter(ca_file)
        .map_err(|e| anyhow::anyhow!("cannot read {}: {e}", ca_file.display()))?
    {
        let certificate = certificate.map_err(|e| anyhow::anyhow!("{}: {e}", ca_file.display()))?;
        roots.add(certificate)?;
    }
    if roots.is_empty() {
        anyhow::bail!("{} holds no certificate", ca_file.display());
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    // RFC 5425 §4.2 names TLS 1.2 as the minimum; rustls' safe defaults are TLS 1.2 and 1.3.
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .with_root_certificates(roots);
    let config = match &settings.client_certificate {
        None => config.with_no_client_auth(),
        Some(client) => {
            let (chain, key) = read_client_certificate(client)?;
            config.with_client_auth_cert(chain, key).map_err(|e| {
                anyhow::anyhow!(
                    "syslog.certificate_file and syslog.private_key_file do not match: {e}"
                )
            })?
        }
    };
    Ok(TlsConnector::from(Arc::new(config)))
}

fn read_client_certificate(
    client: &ClientCertificate,
) -> anyhow::Result<(Vec<CertificateDer<'static>>, PrivateKeyDer<'static>)> {
    let path = &client.certificate_file;
    let chain = CertificateDer::pem_file_iter(path)
        .and_then(Iterator::collect::<Result<Vec<_>, _>>)
        .map_err(|e| anyhow::anyhow!("syslog.certificate_file {}: {e}", path.display()))?;
    if chain.is_empty() {
        anyhow::bail!(
            "syslog.certificate_file {} holds no certificate",
            path.display()
        );
    }
    let path = &client.private_key_file;
    let key = PrivateKeyDer::from_pem_file(path)
        .map_err(|e| anyhow::anyhow!("syslog.private_key_file {}: {e}", path.display()))?;
    Ok((chain, key))
}
