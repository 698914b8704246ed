//! Forwarding over TLS (RFC 5425) to a real rsyslog (its OpenSSL stream driver) whose
//! certificate comes from a test CA: with that CA pinned in `syslog.ca_file` the records arrive;
//! with another CA pinned adgate refuses the collector — and logins go on meanwhile. A collector
//! that authenticates its senders (RFC 5425 §5.2, rsyslog's `x509/certvalid`) receives the
//! records when adgate presents its certificate (`syslog.certificate_file`), and none without.
// An integration test: its helpers, outside the #[test] functions clippy.toml covers, may
// panic too (a panic is how a test fails).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

mod common;
mod rsyslog;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use adgate_radius::ResponseCode;
use common::Adgate;
use rcgen::{BasicConstraints, CertificateParams, ExtendedKeyUsagePurpose, IsCa, KeyPair};
use rsyslog::Rsyslog;

/// A CA certificate (PEM) and its key.
struct TestCa {
    certificate: rcgen::Certificate,
    key: KeyPair,
}

impl TestCa {
    fn new() -> TestCa {
        let key = KeyPair::generate().unwrap();
        let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        TestCa {
            certificate: params.self_signed(&key).unwrap(),
            key,
        }
    }

    fn write(&self, path: &Path) -> PathBuf {
        std::fs::write(path, self.certificate.pem()).unwrap();
        path.to_owned()
    }

    /// A clientAuth certificate for adgate, written as `adgate.pem` and `adgate.key` in `dir`:
    /// the `[syslog]` lines naming them.
    fn write_client_certificate(&self, dir: &Path) -> String {
        let key = KeyPair::generate().unwrap();
        let mut params = CertificateParams::new(vec!["adgate.test".to_owned()]).unwrap();
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
        // rcgen's default subject is the CA's too; OpenSSL would take it for self-signed.
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, "adgate.test");
        let certificate = params
            .signed_by(&key, &self.certificate, &self.key)
            .unwrap();
        std::fs::write(dir.join("adgate.pem"), certificate.pem()).unwrap();
        std::fs::write(dir.join("adgate.key"), key.serialize_pem()).unwrap();
        format!(
            "certificate_file = \"{dir}/adgate.pem\"\nprivate_key_file = \"{dir}/adgate.key\"\n",
            dir = dir.display()
        )
    }
}

/// rsyslog listening with TLS, its certificate for `localhost` issued by `ca`, not asking
/// senders for a certificate.
fn rsyslog_with_tls(ca: &TestCa) -> Rsyslog {
    rsyslog_with_tls_auth(ca, "anon")
}

/// Like `rsyslog_with_tls`, authenticating senders as `auth_mode` says (`x509/certvalid`: a
/// certificate from `ca` is required).
fn rsyslog_with_tls_auth(ca: &TestCa, auth_mode: &str) -> Rsyslog {
    Rsyslog::start_with(|dir| {
        let key = KeyPair::generate().unwrap();
        let certificate = CertificateParams::new(vec!["localhost".to_owned()])
            .unwrap()
            .signed_by(&key, &ca.certificate, &ca.key)
            .unwrap();
        let ca_file = ca.write(&dir.join("ca.pem"));
        std::fs::write(dir.join("server.pem"), certificate.pem()).unwrap();
        std::fs::write(dir.join("server.key"), key.serialize_pem()).unwrap();
        (
            format!(
                r#"defaultNetstreamDriver="ossl" defaultNetstreamDriverCAFile="{}" defaultNetstreamDriverCertFile="{}" defaultNetstreamDriverKeyFile="{}""#,
                ca_file.display(),
                dir.join("server.pem").display(),
                dir.join("server.key").display()
            ),
            format!(
                r#"StreamDriver.Name="ossl" StreamDriver.Mode="1" StreamDriver.AuthMode="{auth_mode}""#
            ),
        )
    })
}

fn adgate_forwarding_to(rsyslog: &Rsyslog, ca_file: &Path, spool: &Path) -> Adgate {
    adgate_forwarding_with(rsyslog, ca_file, spool, "")
}

/// Like `adgate_forwarding_to`, with more `[syslog]` lines.
fn adgate_forwarding_with(rsyslog: &Rsyslog, ca_file: &Path, spool: &Path, extra: &str) -> Adgate {
    Adgate::start_with(|config| {
        format!(
            "{config}\n[syslog]\nurl = \"tls://localhost:{}\"\nca_file = \"{}\"\nspool_dir = \"{}\"\n{extra}",
            rsyslog.port,
            ca_file.display(),
            spool.display()
        )
    })
}

#[tokio::test]
#[ignore = "needs the lab AD: deploy/test.sh"]
async fn records_reach_rsyslog_over_tls_with_its_ca_pinned() {
    let ca = TestCa::new();
    let rsyslog = rsyslog_with_tls(&ca);
    let work = tempfile::tempdir().unwrap();
    let ca_file = ca.write(&work.path().join("collector-ca.pem"));
    let adgate = adgate_forwarding_to(&rsyslog, &ca_file, &work.path().join("spool"));
    for _ in 0..3 {
        assert_eq!(adgate.login("alice").await, ResponseCode::Accept);
    }
    // seq 1 is the start's config record.
    let records = rsyslog.wait_for(4);
    assert_eq!(records[0]["type"], "config", "{records:?}");
    let decisions = &records[1..];
    let seqs: Vec<u64> = decisions.iter().filter_map(|r| r["seq"].as_u64()).collect();
    assert_eq!(seqs, [2, 3, 4], "{}", adgate.log());
    assert!(decisions.iter().all(|r| r["user_name"] == "alice"));
}

#[tokio::test]
#[ignore = "needs the lab AD: deploy/test.sh"]
async fn a_collector_with_a_certificate_from_another_ca_is_refused() {
    let rsyslog = rsyslog_with_tls(&TestCa::new());
    let work = tempfile::tempdir().unwrap();
    let pinned = TestCa::new().write(&work.path().join("other-ca.pem"));
    let adgate = adgate_forwarding_to(&rsyslog, &pinned, &work.path().join("spool"));
    assert_eq!(adgate.login("alice").await, ResponseCode::Accept);
    let deadline = Instant::now() + Duration::from_secs(30);
    while !adgate.log().contains("cannot reach the syslog collector") {
        assert!(Instant::now() < deadline, "{}", adgate.log());
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(
        adgate.log().contains("invalid peer certificate"),
        "{}",
        adgate.log()
    );
    assert_eq!(adgate.login("alice").await, ResponseCode::Accept);
    assert!(rsyslog.records().is_empty());
}

#[tokio::test]
#[ignore = "needs the lab AD: deploy/test.sh"]
async fn a_collector_requiring_client_certificates_receives_records_from_adgate_with_one() {
    let ca = TestCa::new();
    let rsyslog = rsyslog_with_tls_auth(&ca, "x509/certvalid");
    let work = tempfile::tempdir().unwrap();
    let ca_file = ca.write(&work.path().join("collector-ca.pem"));
    let client_certificate = ca.write_client_certificate(work.path());
    let adgate = adgate_forwarding_with(
        &rsyslog,
        &ca_file,
        &work.path().join("spool"),
        &client_certificate,
    );
    for _ in 0..2 {
        assert_eq!(adgate.login("alice").await, ResponseCode::Accept);
    }
    let records = rsyslog.wait_for(3);
    let seqs: Vec<u64> = records.iter().filter_map(|r| r["seq"].as_u64()).collect();
    assert_eq!(
        seqs,
        [1, 2, 3],
        "the config record, then two decisions: {}",
        adgate.log()
    );
}

#[tokio::test]
#[ignore = "needs the lab AD: deploy/test.sh"]
async fn a_collector_requiring_client_certificates_receives_nothing_from_adgate_without_one() {
    let ca = TestCa::new();
    let rsyslog = rsyslog_with_tls_auth(&ca, "x509/certvalid");
    let work = tempfile::tempdir().unwrap();
    let ca_file = ca.write(&work.path().join("collector-ca.pem"));
    let adgate = adgate_forwarding_to(&rsyslog, &ca_file, &work.path().join("spool"));
    assert_eq!(adgate.login("alice").await, ResponseCode::Accept);
    let deadline = Instant::now() + Duration::from_secs(30);
    // TLS 1.3: the handshake ends for adgate before rsyslog checks, so the refusal shows as a
    // lost connection; the records stay in the trail for the next one.
    while !adgate
        .log()
        .contains("syslog connection lost; records wait in the trail")
    {
        assert!(Instant::now() < deadline, "{}", adgate.log());
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(rsyslog.records().is_empty());
}
