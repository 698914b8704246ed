//! RadSec (RFC 6614) as an appliance and an admin see it: a UDP NAS logs in through radsecproxy,
//! which forwards over mutual TLS to adgate, and the decisions are recorded as for UDP
//! (accounting too, linked to the decision by Class); peers whose certificate comes from another
//! CA, or names no configured client, are refused; a stream that cannot be framed is closed and
//! recorded; a reload changes which certificate names a client, for new connections. The test
//! PKI is made here with rcgen.

mod common;

use std::net::{SocketAddr, TcpListener, UdpSocket};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use adgate_radius::{ClientOptions, RadiusClient, ResponseCode, SharedSecret};
use common::{class_of, free_udp_port, Adgate, Lab};
use pki_types::pem::PemObject;
use pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use rcgen::{BasicConstraints, CertificateParams, ExtendedKeyUsagePurpose, IsCa, KeyPair};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// The name in the SAN of the certificate the test's RadSec client presents.
const PROXY_NAME: &str = "radsecproxy.test";
/// The secret between the UDP NAS and radsecproxy (not adgate's business).
const NAS_TO_PROXY_SECRET: &str = "nas-to-radsecproxy-secret";

/// A certificate authority for the test.
struct Ca {
    certificate: rcgen::Certificate,
    key: KeyPair,
}

/// A certificate and its key, in PEM.
struct Issued {
    certificate: String,
    key: String,
}

impl Ca {
    fn new(name: &str) -> Ca {
        let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, name);
        let key = KeyPair::generate().unwrap();
        let certificate = params.self_signed(&key).unwrap();
        Ca { certificate, key }
    }

    fn pem(&self) -> String {
        self.certificate.pem()
    }

    /// A certificate for `names` (DNS names or IP addresses in the SAN) with one purpose.
    fn issue(&self, names: &[&str], purpose: ExtendedKeyUsagePurpose) -> Issued {
        self.issue_with_common_name(names, purpose, "adgate test")
    }

    /// Like `issue`, with this subject CN.
    fn issue_with_common_name(
        &self,
        names: &[&str],
        purpose: ExtendedKeyUsagePurpose,
        common_name: &str,
    ) -> Issued {
        let names: Vec<String> = names.iter().map(|name| (*name).to_owned()).collect();
        let mut params = CertificateParams::new(names).unwrap();
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, common_name);
        params.extended_key_usages = vec![purpose];
        let key = KeyPair::generate().unwrap();
        let certificate = params
            .signed_by(&key, &self.certificate, &self.key)
            .unwrap();
        Issued {
            certificate: certificate.pem(),
            key: key.serialize_pem(),
        }
    }
}

/// adgate with a RadSec listener whose client CA is `ca`, and `vpn1` allowed as `PROXY_NAME`.
struct RadsecAdgate {
    adgate: Adgate,
    address: SocketAddr,
    ca: Ca,
    /// Holds the certificate files adgate was started with.
    _dir: tempfile::TempDir,
}

impl RadsecAdgate {
    fn start() -> RadsecAdgate {
        let dir = tempfile::tempdir().unwrap();
        let ca = Ca::new("adgate test RadSec CA");
        let server = ca.issue(
            &["radius.test", "127.0.0.1"],
            ExtendedKeyUsagePurpose::ServerAuth,
        );
        write(dir.path(), "ca.pem", &ca.pem());
        write(dir.path(), "server.pem", &server.certificate);
        write(dir.path(), "server.key", &server.key);
        let address = SocketAddr::from(([127, 0, 0, 1], free_tcp_port()));
        let section = format!(
            "\n[radsec]\nlisten = \"{address}\"\ncertificate_file = \"{dir}/server.pem\"\n\
             private_key_file = \"{dir}/server.key\"\nclient_ca_file = \"{dir}/ca.pem\"\n",
            dir = dir.path().display()
        );
        let adgate = Adgate::start_with(|config| {
            config.replace(
                "require_message_authenticator = true",
                &format!(
                    "require_message_authenticator = true\nradsec_certificate_name = \"{PROXY_NAME}\""
                ),
            ) + &section
        });
        RadsecAdgate {
            adgate,
            address,
            ca,
            _dir: dir,
        }
    }

    /// A certificate from adgate's client CA naming `vpn1` (as `PROXY_NAME`).
    fn client_certificate(&self) -> Issued {
        self.ca
            .issue(&[PROXY_NAME], ExtendedKeyUsagePurpose::ClientAuth)
    }

    /// Waits until adgate's log contains `text` (it is written after the connection is closed,
    /// so nothing on the wire says when it is there).
    fn wait_for_log(&self, text: &str) -> String {
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            let log = self.adgate.log();
            if log.contains(text) || Instant::now() > deadline {
                return log;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

fn write(dir: &Path, name: &str, contents: &str) {
    std::fs::write(dir.join(name), contents).unwrap();
}

fn free_tcp_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .unwrap()
        .port()
}

/// radsecproxy with its own config, pid and log files in a temp dir, killed on drop.
struct Radsecproxy {
    child: Child,
    udp: SocketAddr,
    dir: tempfile::TempDir,
}

impl Radsecproxy {
    /// Listens for a UDP NAS on 127.0.0.1 and forwards every realm to adgate over TLS.
    fn start(adgate: &RadsecAdgate, client: &Issued) -> Radsecproxy {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path();
        write(path, "ca.pem", &adgate.ca.pem());
        write(path, "client.pem", &client.certificate);
        write(path, "client.key", &client.key);
        let udp = SocketAddr::from(([127, 0, 0, 1], free_udp_port()));
        let config = format!(
            r#"ListenUDP {udp}
PidFile {dir}/radsecproxy.pid
LogDestination file:///{dir}/radsecproxy.log
LogLevel 4
tls default {{
    CACertificateFile {dir}/ca.pem
    CertificateFile {dir}/client.pem
    CertificateKeyFile {dir}/client.key
}}
client nas {{
    host 127.0.0.1
    type udp
    secret {NAS_TO_PROXY_SECRET}
}}
server adgate {{
    host 127.0.0.1
    port {port}
    type tls
    secret radsec
}}
realm * {{
    server adgate
    accountingServer adgate
}}
"#,
            dir = path.display(),
            port = adgate.address.port(),
        );
        write(path, "radsecproxy.conf", &config);
        let child = Command::new("radsecproxy")
            .arg("-f")
            .arg("-c")
            .arg(path.join("radsecproxy.conf"))
            .arg("-i")
            .arg(path.join("radsecproxy.pid"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("radsecproxy (Debian package radsecproxy; deploy/lab.sh up installs it)");
        let mut proxy = Radsecproxy { child, udp, dir };
        proxy.wait_until_listening();
        proxy
    }

    /// radsecproxy is ready once its UDP port is taken.
    fn wait_until_listening(&mut self) {
        let deadline = Instant::now() + Duration::from_secs(10);
        while UdpSocket::bind(self.udp).is_ok() {
            if let Some(status) = self.child.try_wait().unwrap() {
                panic!("radsecproxy exited with {status}:\n{}", self.log());
            }
            assert!(
                Instant::now() < deadline,
                "radsecproxy did not start:\n{}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("radsecproxy.log")).unwrap_or_default()
    }

    /// A UDP NAS that signs its requests, sending to radsecproxy.
    fn nas(&self) -> RadiusClient {
        let options = ClientOptions {
            timeout: Duration::from_secs(6),
            retries: 0,
            send_message_authenticator: true,
            nas_identifier: Some("test-nas".into()),
        };
        RadiusClient::new(
            self.udp,
            SharedSecret::new(NAS_TO_PROXY_SECRET.as_bytes().to_vec()),
            options,
        )
        .unwrap()
    }
}

impl Drop for Radsecproxy {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[tokio::test]
async fn a_udp_nas_logs_in_and_accounts_through_radsecproxy() {
    let adgate = RadsecAdgate::start();
    let client = adgate.client_certificate();
    let proxy = Radsecproxy::start(&adgate, &client);
    let password = Lab::get().fixture_password();

    for (user, code, verdict, reason) in [
        ("alice", ResponseCode::Accept, "accept", None),
        (
            "frank",
            ResponseCode::Reject,
            "reject",
            Some("telework_off"),
        ),
    ] {
        let answer = proxy
            .nas()
            .pap(user.as_bytes(), &password)
            .await
            .unwrap_or_else(|e| {
                panic!(
                    "{user}: no valid answer through radsecproxy: {e}\nradsecproxy:\n{}\nadgate:\n{}",
                    proxy.log(),
                    adgate.adgate.log()
                )
            });
        assert_eq!(answer.code, code, "{user}");
        let record = adgate
            .adgate
            .records()
            .into_iter()
            .find(|record| record["user_name"] == user)
            .unwrap_or_else(|| panic!("no record for {user}"));
        assert_eq!(record["verdict"], verdict, "{record}");
        assert_eq!(record["reason"].as_str(), reason, "{record}");
        assert_eq!(record["nas"]["name"], "vpn1", "{record}");
        if code == ResponseCode::Accept {
            accounting_start_is_recorded(&proxy, &adgate.adgate, &answer, &record).await;
        }
    }
    assert!(adgate
        .adgate
        .log()
        .contains("RadSec connection established"));
    assert!(!adgate
        .adgate
        .trail_text()
        .contains(std::str::from_utf8(&password).unwrap().trim_end()));
}

/// An Accounting-Start through radsecproxy, echoing the Access-Accept's Class, is answered and
/// recorded, linked to the decision.
async fn accounting_start_is_recorded(
    proxy: &Radsecproxy,
    adgate: &Adgate,
    accept: &adgate_radius::Response,
    decision: &serde_json::Value,
) {
    const CLASS: u8 = 25;
    const ACCT_STATUS_TYPE: u8 = 40;
    const ACCT_SESSION_ID: u8 = 44;
    let class = class_of(accept);
    let start: [(u8, &[u8]); 4] = [
        (ACCT_STATUS_TYPE, &1u32.to_be_bytes()),
        (ACCT_SESSION_ID, b"radsec-session"),
        (1, b"alice"),
        (CLASS, &class),
    ];
    let answer = proxy.nas().accounting(&start).await.unwrap();
    assert_eq!(answer.code, ResponseCode::AccountingResponse);
    let record = adgate
        .records()
        .into_iter()
        .find(|record| record["type"] == "accounting")
        .expect("the Start is recorded before it is answered");
    assert_eq!(record["accounting"]["session_id"], "radsec-session");
    assert_eq!(
        record["accounting"]["decision_request_id"],
        decision["request_id"]
    );
}

/// Connects to adgate's RadSec port over TLS, presenting `client`, and trusting `adgate.ca`.
async fn connect(
    adgate: &RadsecAdgate,
    client: &Issued,
) -> std::io::Result<tokio_rustls::client::TlsStream<TcpStream>> {
    let mut roots = rustls::RootCertStore::empty();
    roots
        .add(CertificateDer::from_pem_slice(adgate.ca.pem().as_bytes()).unwrap())
        .unwrap();
    let chain = vec![CertificateDer::from_pem_slice(client.certificate.as_bytes()).unwrap()];
    let key = PrivateKeyDer::from_pem_slice(client.key.as_bytes()).unwrap();
    let config = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_root_certificates(roots)
    .with_client_auth_cert(chain, key)
    .unwrap();
    let tcp = TcpStream::connect(adgate.address).await?;
    tokio_rustls::TlsConnector::from(Arc::new(config))
        .connect(ServerName::try_from("radius.test").unwrap(), tcp)
        .await
}

/// Sends `octets` and reads what comes back: `None` once adgate has closed the connection
/// (end of stream or a TLS alert), without an answer.
async fn send_and_read(adgate: &RadsecAdgate, client: &Issued, octets: &[u8]) -> Option<Vec<u8>> {
    let Ok(mut tls) = connect(adgate, client).await else {
        return None; // TLS 1.2: refused within the handshake
    };
    if tls.write_all(octets).await.is_err() {
        return None;
    }
    let mut answer = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(10), tls.read_to_end(&mut answer))
        .await
        .expect("adgate closes the connection");
    match read {
        Ok(_) if answer.is_empty() => None,
        Ok(_) => Some(answer),
        Err(_) => None,
    }
}

/// A Status-Server header with no attributes: whatever adgate does with it, it is never sent.
const SOME_PACKET: [u8; 20] = [12, 1, 0, 20, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0];

#[tokio::test]
async fn a_certificate_from_another_ca_is_refused() {
    let adgate = RadsecAdgate::start();
    let stranger =
        Ca::new("some other CA").issue(&[PROXY_NAME], ExtendedKeyUsagePurpose::ClientAuth);
    assert_eq!(send_and_read(&adgate, &stranger, &SOME_PACKET).await, None);
    let log = adgate.wait_for_log("RadSec TLS handshake failed");
    assert!(log.contains("RadSec TLS handshake failed"), "{log}");
    assert!(!log.contains("RadSec connection established"), "{log}");
    assert!(adgate.adgate.records().is_empty());
}

#[tokio::test]
async fn a_certificate_naming_no_configured_client_is_refused() {
    let adgate = RadsecAdgate::start();
    // The configured name only as the subject CN: the CN never identifies a client.
    let unknown = adgate.ca.issue_with_common_name(
        &["stranger.test"],
        ExtendedKeyUsagePurpose::ClientAuth,
        PROXY_NAME,
    );
    assert_eq!(send_and_read(&adgate, &unknown, &SOME_PACKET).await, None);
    let log = adgate.wait_for_log("names no configured client");
    assert!(log.contains("names no configured client"), "{log}");
    assert!(!log.contains("RadSec connection established"), "{log}");
}

#[tokio::test]
async fn a_length_that_cannot_be_framed_closes_the_connection_and_is_recorded() {
    let adgate = RadsecAdgate::start();
    let client = adgate.client_certificate();
    let oversized = [1, 7, 0x10, 0x01]; // Length 4097
    assert_eq!(send_and_read(&adgate, &client, &oversized).await, None);
    let records = adgate.adgate.wait_for_records(1);
    assert_eq!(records.len(), 1, "{records:?}");
    assert_eq!(records[0]["verdict"], "discard");
    assert_eq!(records[0]["reason"], "malformed");
    assert_eq!(records[0]["nas"]["name"], "vpn1");
}

#[tokio::test]
async fn a_reload_changes_which_certificate_names_a_client_for_new_connections() {
    let adgate = RadsecAdgate::start();
    let established = || {
        adgate
            .adgate
            .log()
            .matches("RadSec connection established")
            .count()
    };
    let old_name = adgate.client_certificate();
    let mut open = connect(&adgate, &old_name).await.expect("handshake");
    adgate.wait_for_log("RadSec connection established");
    assert_eq!(established(), 1);

    let config = std::fs::read_to_string(adgate.adgate.config_path()).unwrap();
    let renamed = config.replace(
        &format!("radsec_certificate_name = \"{PROXY_NAME}\""),
        "radsec_certificate_name = \"renamed-proxy.test\"",
    );
    std::fs::write(adgate.adgate.config_path(), renamed).unwrap();
    adgate.adgate.signal("HUP");
    let log = adgate.wait_for_log("configuration reloaded");
    assert!(log.contains("1 RadSec client(s)"), "{log}");

    assert_eq!(send_and_read(&adgate, &old_name, &SOME_PACKET).await, None);
    let log = adgate.wait_for_log("names no configured client");
    assert!(log.contains("names no configured client"), "{log}");
    let new_name = adgate
        .ca
        .issue(&["renamed-proxy.test"], ExtendedKeyUsagePurpose::ClientAuth);
    let _new = connect(&adgate, &new_name).await.expect("handshake");
    let deadline = Instant::now() + Duration::from_secs(5);
    while established() < 2 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(established(), 2, "{}", adgate.adgate.log());
    // The connection accepted before the reload stays open (it is not read to its end).
    let mut octet = [0u8; 1];
    let read = tokio::time::timeout(Duration::from_millis(500), open.read(&mut octet)).await;
    assert!(read.is_err(), "the open connection was closed: {read:?}");
}
