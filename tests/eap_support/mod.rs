//! What the EAP-TLS integration tests share: a test PKI made for the run (rcgen, through
//! adgate-certs' `test-pki` feature), an adgate with `[eap_tls]` pointing at it, and
//! `eapol_test` (wpa_supplicant's RADIUS test client, OpenSSL underneath) as the peer, or a
//! simulated peer that only opens a conversation.

#![allow(dead_code)] // each test binary uses its own subset of these helpers

use std::path::PathBuf;
use std::process::Command;

use adgate_certs::test_pki::{TestCa, UserCertificate};
use adgate_radius::eap::eap_type;
use adgate_radius::{EapCode, EapPacket, RadiusClient, ResponseCode};
use serde_json::Value;

use crate::common::{Adgate, Lab};

/// The name in adgate's server certificate, which eapol_test checks.
pub const SERVER_NAME: &str = "radius.corp.example.test";
/// The serial the CRL revokes.
pub const REVOKED_SERIAL: u64 = 666;

/// A CA for users, adgate's server certificate and a CRL, as files.
pub struct TestPki {
    dir: tempfile::TempDir,
    pub ca: TestCa,
}

impl TestPki {
    pub fn new() -> TestPki {
        let dir = tempfile::tempdir().expect("temp dir");
        let ca = TestCa::new();
        let server = ca.issue_server(SERVER_NAME);
        let pki = TestPki { dir, ca };
        pki.write("ca.pem", &pki.ca.pem());
        pki.write("server.pem", &server.certificate_pem());
        pki.write("server.key", &server.key_pem());
        pki.write("ca.crl", &pki.ca.crl_pem(&[REVOKED_SERIAL]));
        pki
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn write(&self, name: &str, text: &str) -> PathBuf {
        let path = self.path(name);
        std::fs::write(&path, text).expect("write PKI file");
        path
    }

    /// The `[eap_tls]` section for adgate, plus `extra` lines.
    pub fn eap_tls_section(&self, extra: &str) -> String {
        format!(
            "\n[eap_tls]\ncertificate_file = \"{}\"\nprivate_key_file = \"{}\"\nca_file = \"{}\"\ncrl_files = [\"{}\"]\n{extra}\n",
            self.path("server.pem").display(),
            self.path("server.key").display(),
            self.path("ca.pem").display(),
            self.path("ca.crl").display(),
        )
    }

    /// Issues `user` from `issuer` into files named after `label`.
    pub fn issue(&self, issuer: &TestCa, label: &str, user: &UserCertificate) -> Credential {
        let issued = issuer.issue(user);
        Credential {
            certificate: self.write(&format!("{label}.pem"), &issued.certificate_pem()),
            key: self.write(&format!("{label}.key"), &issued.key_pem()),
        }
    }
}

/// A user's certificate and key files.
pub struct Credential {
    pub certificate: PathBuf,
    pub key: PathBuf,
}

/// adgate serving the lab AD with certificate logins enabled.
pub fn start_adgate(pki: &TestPki, extra: &str) -> Adgate {
    let section = pki.eap_tls_section(extra);
    Adgate::start_with(|config| config + &section)
}

/// Like `start_adgate`, with no domain controller to reach: for conversations refused before
/// any directory lookup.
pub fn start_adgate_without_dc(pki: &TestPki, extra: &str) -> Adgate {
    let section = pki.eap_tls_section(extra);
    Adgate::start_on(Lab::without_dc(), |config| config + &section)
}

/// What eapol_test reported.
#[derive(Debug)]
pub struct EapolOutcome {
    pub success: bool,
    /// "MPPE keys OK: 1  mismatch: 0": the MSK eapol_test derived equals the keys adgate sent.
    pub mppe_keys_match: bool,
    pub output: String,
}

/// Runs one EAP-TLS login with eapol_test as `identity`, forcing TLS 1.3 or 1.2.
pub fn eapol_test(
    adgate: &Adgate,
    pki: &TestPki,
    identity: &str,
    credential: &Credential,
    tls13: bool,
) -> EapolOutcome {
    let phase1 = if tls13 {
        "tls_disable_tlsv1_3=0"
    } else {
        "tls_disable_tlsv1_3=1"
    };
    let network = format!(
        "  eap=TLS\n  identity=\"{identity}\"\n  ca_cert=\"{ca}\"\n  client_cert=\"{cert}\"\n  private_key=\"{key}\"\n  domain_match=\"{SERVER_NAME}\"\n  phase1=\"{phase1}\"\n",
        ca = pki.path("ca.pem").display(),
        cert = credential.certificate.display(),
        key = credential.key.display(),
    );
    eapol_test_network(adgate, pki, identity, &network)
}

/// Runs eapol_test with the wpa_supplicant `network` block body `network` (its config file
/// named after `label`).
pub fn eapol_test_network(
    adgate: &Adgate,
    pki: &TestPki,
    label: &str,
    network: &str,
) -> EapolOutcome {
    let config = format!("network={{\n  key_mgmt=WPA-EAP\n{network}}}\n");
    let config_path = pki.path(&format!(
        "eapol-{}.conf",
        label.replace(['@', '.', '\\'], "_")
    ));
    std::fs::write(&config_path, config).expect("eapol_test config");
    let secret = String::from_utf8(Lab::get().radius_secret()).expect("secret is text");
    let output = Command::new("eapol_test")
        .arg("-c")
        .arg(&config_path)
        .args(["-a", "127.0.0.1", "-p"])
        .arg(adgate.address.port().to_string())
        .arg(format!("-s{}", secret.trim_end()))
        .args(["-r", "0", "-t", "15"])
        .output()
        .expect("run eapol_test (Debian package eapoltest)");
    let output = String::from_utf8_lossy(&output.stdout).into_owned();
    let last_line = output.lines().last().unwrap_or_default().trim();
    EapolOutcome {
        success: last_line == "SUCCESS",
        mppe_keys_match: output.contains("MPPE keys OK: 1  mismatch: 0"),
        output,
    }
}

/// The MS-MPPE keys eapol_test received (it prints them) appear neither in adgate's log nor
/// in its audit trail, in either hex spelling.
pub fn assert_keys_never_written(adgate: &Adgate, eapol_output: &str) {
    let keys: Vec<String> = eapol_output
        .lines()
        .filter(|line| line.starts_with("MS-MPPE-"))
        .filter_map(|line| line.split_once("): "))
        .map(|(_, hex)| hex.trim().to_owned())
        .collect();
    assert_eq!(keys.len(), 2, "eapol_test printed both keys");
    let log = adgate.log().to_lowercase();
    let trail = adgate.trail_text().to_lowercase();
    for spaced in keys {
        let packed = spaced.replace(' ', "");
        for written in [&log, &trail] {
            assert!(!written.contains(&packed) && !written.contains(&spaced));
        }
    }
}

/// Runs one EAP-TLS login with adgate's own simulated NAS and peer (`adgate nas eap-tls`) as
/// `identity`, with `extra` arguments; returns its exit code and output.
pub fn nas_eap_tls(
    adgate: &Adgate,
    pki: &TestPki,
    identity: &str,
    credential: &Credential,
    extra: &[&str],
) -> (i32, String) {
    let server = adgate.address.to_string();
    let secret_file = Lab::get().radius_secret_file();
    let mut args: Vec<&std::ffi::OsStr> = vec![
        "nas".as_ref(),
        "eap-tls".as_ref(),
        "--server".as_ref(),
        server.as_ref(),
        "--secret-file".as_ref(),
        secret_file.as_os_str(),
        "--ca-file".as_ref(),
    ];
    let ca = pki.path("ca.pem");
    args.extend([
        ca.as_os_str(),
        "--certificate-file".as_ref(),
        credential.certificate.as_os_str(),
        "--key-file".as_ref(),
        credential.key.as_os_str(),
        "--server-name".as_ref(),
        SERVER_NAME.as_ref(),
    ]);
    args.extend(extra.iter().map(std::ffi::OsStr::new));
    args.push(identity.as_ref());
    crate::common::adgate_command(&args)
}

/// The last EAP-TLS record for `identity`.
pub fn eap_record(adgate: &Adgate, identity: &str) -> Value {
    adgate
        .records()
        .into_iter()
        .rev()
        .find(|record| record["method"] == "eap-tls" && record["user_name"] == identity)
        .unwrap_or_else(|| panic!("no EAP-TLS record for {identity}:\n{}", adgate.log()))
}

/// State (RFC 2865 §5.24) and EAP-Message (RFC 3579 §3.1).
const STATE: u8 = 24;
const EAP_MESSAGE: u8 = 79;

/// Where a simulated peer's conversation stands: the State to echo and the last EAP-Request.
pub struct Conversation {
    pub state: Vec<u8>,
    pub request: EapPacket,
}

/// Sends an EAP-Response/Identity and returns the conversation adgate opened.
pub async fn open_conversation(nas: &RadiusClient, identity: &str) -> Conversation {
    let hello = EapPacket::new(
        EapCode::Response,
        0,
        eap_type::IDENTITY,
        identity.as_bytes(),
    );
    let (response, _) = nas
        .eap(identity.as_bytes(), &hello.to_bytes(), None)
        .await
        .expect("an answer");
    assert_eq!(response.code, ResponseCode::Challenge);
    conversation_of(&response.attributes)
}

pub fn conversation_of(attributes: &[(u8, Vec<u8>)]) -> Conversation {
    let value = |wanted: u8| -> Vec<u8> {
        attributes
            .iter()
            .filter(|(attribute_type, _)| *attribute_type == wanted)
            .flat_map(|(_, value)| value.clone())
            .collect()
    };
    Conversation {
        state: value(STATE),
        request: EapPacket::parse(&value(EAP_MESSAGE)).expect("an EAP-Request"),
    }
}
