//! RadSec (RFC 6614) as an appliance and an admin see it: a UDP NAS logs in through radsecproxy,
//! which forwards over mutual TLS to adgate, and the decisions are recorded as for UDP
//! (accounting too, linked to the decision by Class); peers whose certificate comes from another
//! CA, or names no configured client, are refused; a stream that cannot be framed is closed and
//! recorded; a reload changes which certificate names a client, for new connections; a revoked
//! certificate (`radsec.crl_files`, re-read when it changes) and a wildcard certificate are
//! refused, and so is one without Extended Key Usage clientAuth; refusals are counted in a metric
//! and logged within bounds; a discarded stream is counted with UDP's discards; a request repeated on
//! a connection gets the cached answer (AD asked once); a silent connection is closed after the
//! idle timeout. The test PKI is made here with rcgen.
// An integration test: its helpers, outside the #[test] functions clippy.toml covers, may
// panic too (a panic is how a test fails).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

mod common;

use std::net::{SocketAddr, TcpListener, UdpSocket};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use adgate_certs::test_pki::revocation_list_pem;
use adgate_radius::{ClientOptions, RadiusClient, ResponseCode, SharedSecret};
use common::{class_of, free_udp_port, http_get, start_with_metrics_on, Adgate, Lab};
use pki_types::pem::PemObject;
use pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use rcgen::{
    BasicConstraints, CertificateParams, ExtendedKeyUsagePurpose, IsCa, KeyPair, KeyUsagePurpose,
    SerialNumber,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// The name in the SAN of the certificate the test's RadSec client presents.
const PROXY_NAME: &str = "radsecproxy.example.test";
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
        params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
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
        self.issue_numbered(names, purpose, common_name, 1)
    }

    /// A clientAuth certificate for `PROXY_NAME` with this serial number (for CRLs).
    fn issue_serial(&self, serial: u64) -> Issued {
        self.issue_numbered(
            &[PROXY_NAME],
            ExtendedKeyUsagePurpose::ClientAuth,
            "adgate test",
            serial,
        )
    }

    fn issue_numbered(
        &self,
        names: &[&str],
        purpose: ExtendedKeyUsagePurpose,
        common_name: &str,
        serial: u64,
    ) -> Issued {
        let names: Vec<String> = names.iter().map(|name| (*name).to_owned()).collect();
        let mut params = CertificateParams::new(names).unwrap();
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, common_name);
        params.extended_key_usages = vec![purpose];
        params.serial_number = Some(SerialNumber::from(serial));
        let key = KeyPair::generate().unwrap();
        let certificate = params
            .signed_by(&key, &self.certificate, &self.key)
            .unwrap();
        Issued {
            certificate: certificate.pem(),
            key: key.serialize_pem(),
        }
    }

    /// A certificate for `names` with no Extended Key Usage extension at all.
    fn issue_without_extended_key_usage(&self, names: &[&str]) -> Issued {
        let names: Vec<String> = names.iter().map(|name| (*name).to_owned()).collect();
        let mut params = CertificateParams::new(names).unwrap();
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, "adgate test");
        let key = KeyPair::generate().unwrap();
        let certificate = params
            .signed_by(&key, &self.certificate, &self.key)
            .unwrap();
        Issued {
            certificate: certificate.pem(),
            key: key.serialize_pem(),
        }
    }

    /// A CRL from this CA revoking `serials`.
    fn crl(&self, serials: &[u64]) -> String {
        revocation_list_pem(&self.certificate, &self.key, serials)
    }
}

/// adgate with a RadSec listener whose client CA is `ca`, and `vpn1` allowed as `PROXY_NAME`.
struct RadsecAdgate {
    adgate: Adgate,
    address: SocketAddr,
    metrics: SocketAddr,
    ca: Ca,
    /// Holds the certificate files adgate was started with.
    dir: tempfile::TempDir,
}

impl RadsecAdgate {
    fn start() -> RadsecAdgate {
        RadsecAdgate::start_with(|_, _| String::new())
    }

    /// Like `start`, with no domain controller to reach, for tests that never get that far.
    fn start_without_dc() -> RadsecAdgate {
        RadsecAdgate::start_on(Lab::without_dc(), |_, _| String::new())
    }

    /// Like `start`, with the `[radsec]` lines `extra` returns (given the directory of the
    /// certificate files and the CA).
    fn start_with(extra: impl FnOnce(&Path, &Ca) -> String) -> RadsecAdgate {
        RadsecAdgate::start_on(Lab::get(), extra)
    }

    /// Like `start_with`, with `lab`'s config.
    fn start_on(lab: &'static Lab, extra: impl FnOnce(&Path, &Ca) -> String) -> RadsecAdgate {
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
             private_key_file = \"{dir}/server.key\"\nclient_ca_file = \"{dir}/ca.pem\"\n{extra}\n",
            dir = dir.path().display(),
            extra = extra(dir.path(), &ca),
        );
        let (adgate, metrics) = start_with_metrics_on(lab, |config| {
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
            metrics,
            ca,
            dir,
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
        self.wait_for_log_lines(text, 1)
    }

    /// Waits until adgate's log contains `text` `count` times.
    fn wait_for_log_lines(&self, text: &str, count: usize) -> String {
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            let log = self.adgate.log();
            if log.matches(text).count() >= count || Instant::now() > deadline {
                return log;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// `adgate_radsec_handshake_failures_total{reason="…"}` once it reaches `count` (a refusal
    /// is counted as the connection closes, so the client may see the close first), or after
    /// 5 s.
    fn wait_for_refusals(&self, reason: &str, count: u64) -> u64 {
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            let now = self.refusals(reason);
            if now >= count || Instant::now() > deadline {
                return now;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// `adgate_radsec_handshake_failures_total{reason="…"}` now.
    fn refusals(&self, reason: &str) -> u64 {
        let (status, body) = http_get(self.metrics, "/metrics");
        assert_eq!(status, 200);
        let series = format!("adgate_radsec_handshake_failures_total{{reason=\"{reason}\"}} ");
        body.lines()
            .find_map(|line| line.strip_prefix(&series))
            .and_then(|value| value.parse().ok())
            .unwrap_or_else(|| panic!("no {series} in\n{body}"))
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
#[ignore = "needs the lab AD: deploy/test.sh"]
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
    let adgate = RadsecAdgate::start_without_dc();
    let stranger =
        Ca::new("some other CA").issue(&[PROXY_NAME], ExtendedKeyUsagePurpose::ClientAuth);
    assert_eq!(send_and_read(&adgate, &stranger, &SOME_PACKET).await, None);
    let log = adgate.wait_for_log("RadSec TLS handshake failed");
    assert!(log.contains("RadSec TLS handshake failed"), "{log}");
    assert!(!log.contains("RadSec connection established"), "{log}");
    assert!(adgate.adgate.records().is_empty());
}

#[tokio::test]
async fn a_certificate_without_client_auth_is_refused_and_counted() {
    let adgate = RadsecAdgate::start_without_dc();
    // The configured name, from the right CA, but issued for another purpose: a server
    // certificate (serverAuth only), then one without any Extended Key Usage, which webpki
    // alone would accept for every purpose.
    let server_certificate = adgate
        .ca
        .issue(&[PROXY_NAME], ExtendedKeyUsagePurpose::ServerAuth);
    assert_eq!(
        send_and_read(&adgate, &server_certificate, &SOME_PACKET).await,
        None
    );
    let no_eku = adgate.ca.issue_without_extended_key_usage(&[PROXY_NAME]);
    assert_eq!(send_and_read(&adgate, &no_eku, &SOME_PACKET).await, None);
    let log = adgate.wait_for_log_lines("RadSec TLS handshake failed", 2);
    assert_eq!(
        log.matches("RadSec TLS handshake failed").count(),
        2,
        "{log}"
    );
    assert!(!log.contains("RadSec connection established"), "{log}");
    assert_eq!(adgate.refusals("wrong_purpose"), 2);
    assert_eq!(adgate.refusals("untrusted_certificate"), 0);
    assert!(adgate.adgate.records().is_empty());
}

#[tokio::test]
async fn a_certificate_naming_no_configured_client_is_refused() {
    let adgate = RadsecAdgate::start_without_dc();
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
    let adgate = RadsecAdgate::start_without_dc();
    let client = adgate.client_certificate();
    let oversized = [1, 7, 0x10, 0x01]; // Length 4097
    assert_eq!(send_and_read(&adgate, &client, &oversized).await, None);
    let records = adgate.adgate.wait_for_records(1);
    assert_eq!(records.len(), 1, "{records:?}");
    assert_eq!(records[0]["verdict"], "discard");
    assert_eq!(records[0]["reason"], "malformed");
    assert_eq!(records[0]["nas"]["name"], "vpn1");
    // Counted with the UDP listeners' discards.
    let (status, body) = http_get(adgate.metrics, "/metrics");
    assert_eq!(status, 200);
    assert!(
        body.contains("adgate_discards_total{reason=\"malformed\"} 1\n"),
        "{body}"
    );
}

#[tokio::test]
async fn a_reload_changes_which_certificate_names_a_client_for_new_connections() {
    let adgate = RadsecAdgate::start_without_dc();
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

#[tokio::test]
#[ignore = "needs the lab AD: deploy/test.sh"]
async fn a_revoked_certificate_is_refused_and_a_new_crl_applies_to_the_next_connection() {
    let adgate = RadsecAdgate::start_with(|dir, ca| {
        write(dir, "ca.crl", &ca.crl(&[66]));
        format!("crl_files = [\"{}/ca.crl\"]", dir.display())
    });
    let password = Lab::get().fixture_password();

    // radsecproxy with the revoked certificate gets no connection, so its NAS no answer.
    let revoked = adgate.ca.issue_serial(66);
    let proxy = Radsecproxy::start(&adgate, &revoked);
    let answer = proxy.nas().pap(b"alice", &password).await;
    assert!(answer.is_err(), "{answer:?}");
    let log = adgate.wait_for_log("invalid peer certificate: Revoked");
    assert!(log.contains("invalid peer certificate: Revoked"), "{log}");
    assert!(!log.contains("RadSec connection established"), "{log}");
    assert!(adgate.refusals("revoked") >= 1);
    assert!(adgate.adgate.records().is_empty());
    drop(proxy);

    // A certificate the CRL does not list logs in through radsecproxy.
    let valid = adgate.ca.issue_serial(7);
    let proxy = Radsecproxy::start(&adgate, &valid);
    let answer = proxy.nas().pap(b"alice", &password).await.unwrap();
    assert_eq!(answer.code, ResponseCode::Accept);
    drop(proxy);

    // The CA revokes it too: the CRL file is re-read within seconds (adgate looks every 2 s),
    // and applies to the next connection.
    write(adgate.dir.path(), "ca.crl", &adgate.ca.crl(&[66, 7]));
    let log = adgate.wait_for_log("CRL files changed: reloaded for RadSec connections");
    assert!(
        log.contains("CRL files changed: reloaded for RadSec connections"),
        "{log}"
    );
    let before = adgate.refusals("revoked");
    assert_eq!(send_and_read(&adgate, &valid, &SOME_PACKET).await, None);
    assert_eq!(adgate.wait_for_refusals("revoked", before + 1), before + 1);

    // A CRL file that cannot be read refuses everyone rather than skip revocation.
    write(adgate.dir.path(), "ca.crl", "not a CRL");
    let log = adgate.wait_for_log("refusing RadSec connections");
    assert!(log.contains("refusing RadSec connections"), "{log}");
    let unrevoked = adgate.ca.issue_serial(8);
    assert_eq!(send_and_read(&adgate, &unrevoked, &SOME_PACKET).await, None);
    assert_eq!(adgate.wait_for_refusals("revocation_unknown", 1), 1);
}

#[tokio::test]
async fn a_wildcard_certificate_names_no_client() {
    let adgate = RadsecAdgate::start_without_dc();
    // webpki would match `*.example.test` to `radsecproxy.example.test` for a server; a client is
    // only ever identified by its exact name (RFC 6125 §6.4.3, RFC 6614 §2.4).
    let wildcard = adgate
        .ca
        .issue(&["*.example.test"], ExtendedKeyUsagePurpose::ClientAuth);
    assert_eq!(send_and_read(&adgate, &wildcard, &SOME_PACKET).await, None);
    let log = adgate.wait_for_log("names no configured client");
    assert!(log.contains("names no configured client"), "{log}");
    assert!(!log.contains("RadSec connection established"), "{log}");
    assert_eq!(adgate.refusals("unknown_client"), 1);

    // The exact name, in another case, is the client (DNS names are case-insensitive).
    let exact = adgate.ca.issue(
        &["RadSecProxy.Example.Test"],
        ExtendedKeyUsagePurpose::ClientAuth,
    );
    let _open = connect(&adgate, &exact).await.expect("handshake");
    let log = adgate.wait_for_log("RadSec connection established");
    assert!(log.contains("RadSec connection established"), "{log}");
}

#[tokio::test]
async fn refused_handshakes_are_all_counted_but_only_a_few_logged() {
    let adgate = RadsecAdgate::start_without_dc();
    let stranger =
        Ca::new("some other CA").issue(&[PROXY_NAME], ExtendedKeyUsagePurpose::ClientAuth);
    const ATTEMPTS: u64 = 25;
    for _ in 0..ATTEMPTS {
        assert_eq!(send_and_read(&adgate, &stranger, &SOME_PACKET).await, None);
    }
    assert_eq!(
        adgate.wait_for_refusals("untrusted_certificate", ATTEMPTS),
        ATTEMPTS
    );
    // The audit trail's bound: ten lines per source and reason a minute.
    let log = adgate.adgate.log();
    assert_eq!(
        log.matches("RadSec TLS handshake failed").count(),
        10,
        "{log}"
    );
    assert_eq!(adgate.refusals("revoked"), 0);
}

/// Reads one RADIUS packet (framed by its Length field, RFC 6613 §2.4) from `stream`.
async fn read_packet(stream: &mut (impl AsyncReadExt + Unpin)) -> Vec<u8> {
    let mut packet = vec![0u8; 4];
    stream.read_exact(&mut packet).await.expect("a header");
    let length = usize::from(u16::from_be_bytes([packet[2], packet[3]]));
    packet.resize(length, 0);
    stream.read_exact(&mut packet[4..]).await.expect("the body");
    packet
}

#[tokio::test]
#[ignore = "needs the lab AD: deploy/test.sh"]
async fn a_request_repeated_on_a_connection_gets_the_cached_answer_and_ad_counts_it_once() {
    let lab = Lab::get();
    let adgate = RadsecAdgate::start();
    let before = lab.bad_pwd_count("lockme");
    // Built as a RadSec client would: the shared secret is "radsec" (RFC 6614 §2.3).
    let builder = RadiusClient::new(
        adgate.address,
        SharedSecret::new(b"radsec".to_vec()),
        ClientOptions::default(),
    )
    .unwrap();
    let request = builder
        .pap_datagram(b"lockme", b"not-the-password-of-lockme")
        .await
        .unwrap();
    let mut tls = connect(&adgate, &adgate.client_certificate())
        .await
        .expect("handshake");
    tls.write_all(&request).await.unwrap();
    let first = read_packet(&mut tls).await;
    tls.write_all(&request).await.unwrap();
    let repeated = read_packet(&mut tls).await;
    assert_eq!(first[0], 3, "Access-Reject");
    assert_eq!(repeated, first, "RFC 5080 §2.2.2: the same answer");
    assert_eq!(lab.bad_pwd_count("lockme"), before + 1);
    let decisions: Vec<_> = adgate
        .adgate
        .records()
        .into_iter()
        .filter(|record| record["user_name"] == "lockme")
        .collect();
    assert_eq!(decisions.len(), 1, "{decisions:?}");
    assert_eq!(decisions[0]["reason"], "bad_password");

    // A good login resets AD's count, so repeated runs never lock the account.
    let (response, _) = adgate.adgate.pap("lockme", &lab.fixture_password()).await;
    assert_eq!(response.code, ResponseCode::Accept);
    assert_eq!(lab.bad_pwd_count("lockme"), 0);
}

#[tokio::test]
async fn a_silent_connection_is_closed_after_the_idle_timeout() {
    const IDLE: Duration = Duration::from_secs(10); // radsec.idle_timeout_s's minimum
    let adgate = RadsecAdgate::start_on(Lab::without_dc(), |_, _| {
        format!("idle_timeout_s = {}", IDLE.as_secs())
    });
    let mut tls = connect(&adgate, &adgate.client_certificate())
        .await
        .expect("handshake");
    let opened = Instant::now();
    let mut rest = Vec::new();
    let read = tokio::time::timeout(4 * IDLE, tls.read_to_end(&mut rest)).await;
    let closed_after = opened.elapsed();
    assert!(read.is_ok(), "still open after {:?}", 4 * IDLE);
    assert!(rest.is_empty(), "{rest:?}");
    assert!(
        closed_after >= IDLE - Duration::from_secs(1),
        "closed after {closed_after:?}, before the idle timeout"
    );
}
