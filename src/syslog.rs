//! Forwarding the audit trail to a syslog collector, so that records and signed checkpoints
//! leave the machine. Messages are RFC 5424, framed by octet counting (RFC 6587 §3.4.1) over TCP
//! or TLS (RFC 5425, the collector's CA pinned). The trail itself is the spool: records are
//! already durable in the audit directory, so the forwarder only keeps, in `spool_dir`, the
//! sequence number up to which the collector has acknowledged them. A collector outage or an
//! adgate restart therefore loses nothing; after a reconnect the records not yet acknowledged
//! are sent again, and such duplicates carry the same `seq`.

mod follower;
mod forwarder;
mod message;
mod metrics;
mod spool;
mod transport;

use std::path::PathBuf;

pub use forwarder::spawn_forwarder;

/// Checks what `[syslog]` names on disk (the CA file, and the client certificate and key if
/// any, for tls://), for `check-config`.
pub fn check_settings(settings: &SyslogSettings) -> anyhow::Result<()> {
    if settings.target.tls {
        transport::tls_connector(settings)?;
    }
    Ok(())
}

/// Everything `[syslog]` configures.
#[derive(Debug, Clone)]
pub struct SyslogSettings {
    pub target: Target,
    /// CA that must have issued the collector's certificate (tls:// only).
    pub ca_file: Option<PathBuf>,
    /// The certificate adgate presents to a collector that authenticates its senders.
    pub client_certificate: Option<ClientCertificate>,
    /// Where the forwarder keeps its position.
    pub spool_dir: PathBuf,
    /// HOSTNAME in messages; the machine's name by default.
    pub hostname: Option<String>,
}

/// `syslog.certificate_file` and `syslog.private_key_file` (tls:// only): RFC 5425 §5.2 has
/// the collector authenticate the sender by its certificate too.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientCertificate {
    /// adgate's certificate chain, PEM, leaf first.
    pub certificate_file: PathBuf,
    /// Its private key, PEM.
    pub private_key_file: PathBuf,
}

/// The collector: `tcp://host:port` or `tls://host:port`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    pub tls: bool,
    pub host: String,
    pub port: u16,
}

impl Target {
    pub fn parse(url: &str) -> Result<Target, String> {
        let (tls, rest) = if let Some(rest) = url.strip_prefix("tcp://") {
            (false, rest)
        } else if let Some(rest) = url.strip_prefix("tls://") {
            (true, rest)
        } else {
            return Err("must start with tcp:// or tls://".into());
        };
        let (host, port) = rest
            .rsplit_once(':')
            .ok_or("must name a port (tcp://host:514, tls://host:6514)")?;
        let host = host.trim_start_matches('[').trim_end_matches(']');
        let port = port
            .parse()
            .map_err(|_| format!("port {port:?} is not a number"))?;
        if host.is_empty() {
            return Err("must name a host".into());
        }
        Ok(Target {
            tls,
            host: host.to_owned(),
            port,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_name_transport_host_and_port() {
        assert_eq!(
            Target::parse("tls://collector.example.test:6514").unwrap(),
            Target {
                tls: true,
                host: "collector.example.test".into(),
                port: 6514
            }
        );
        assert_eq!(Target::parse("tcp://[::1]:514").unwrap().host, "::1");
        assert!(Target::parse("udp://x:514").is_err());
        assert!(Target::parse("tcp://x").is_err());
    }
}
