//! The entry point of the `eap_tls` fuzz target (`fuzz/`): one EAP-TLS conversation on the
//! server side fed the fuzzer's peer messages, so the EAP-TLS framing (flags, TLS Message
//! Length, reassembly of the peer's fragments, acknowledgements of ours) and rustls' server
//! side see arbitrary records. Compiled only with the `fuzzing` feature.
//!
//! ```text
//! input   := fragment_size:u8 message*          (at most MAX_MESSAGES)
//! message := length:u16be type_data             (the last one may be shorter)
//! ```
//!
//! Our fragments carry `64 + 4 × fragment_size` octets of TLS data, so a small one makes the
//! server's flight go out in many fragments, each waiting for the peer's acknowledgement. The
//! server's certificate and the CA it trusts for clients are made once per process.

#[cfg(test)]
mod tests;

use std::sync::{Arc, OnceLock};

use rustls::ServerConfig;

use crate::eap_tls_session::{EapTlsSession, Step};
use crate::identity::IdentityPolicy;
use crate::test_pki::TestCa;
use crate::tls_server::{MutualTlsSettings, TlsServer};

/// Messages beyond this are not read: a TLS 1.2 login with fragments takes a dozen.
const MAX_MESSAGES: usize = 32;

/// Runs one fuzz input (see the module documentation). Panics only on a finding.
pub fn eap_tls_conversation(input: &[u8]) {
    let _steps = converse(input);
}

/// How the server answered each message of `input`.
fn converse(input: &[u8]) -> Vec<Step> {
    let Some((&fragment_size, mut rest)) = input.split_first() else {
        return Vec::new();
    };
    let fragment_size = 64 + 4 * usize::from(fragment_size);
    let Ok((mut session, _start)) = EapTlsSession::start(
        pki().config.clone(),
        fragment_size,
        IdentityPolicy::default(),
    ) else {
        return Vec::new();
    };
    let mut steps = Vec::new();
    while let Some((message, after)) = next_message(rest) {
        if steps.len() == MAX_MESSAGES {
            break;
        }
        rest = after;
        let step = session.advance(message);
        let over = !matches!(step, Step::Continue(_));
        steps.push(step);
        if over {
            break;
        }
    }
    steps
}

/// The next message of `input` and what follows it.
fn next_message(input: &[u8]) -> Option<(&[u8], &[u8])> {
    let (length, rest) = input.split_first_chunk::<2>()?;
    let length = usize::from(u16::from_be_bytes(*length)).min(rest.len());
    Some(rest.split_at(length))
}

/// The server's TLS configuration, and the CA that issues the certificates it trusts.
struct Pki {
    config: Arc<ServerConfig>,
    #[cfg(test)]
    ca: TestCa,
}

fn pki() -> &'static Pki {
    static PKI: OnceLock<Pki> = OnceLock::new();
    PKI.get_or_init(make_pki)
}

// A harness that cannot be set up must stop the fuzzer loudly: these are not findings.
#[allow(clippy::expect_used)]
fn make_pki() -> Pki {
    let ca = TestCa::new();
    let server = ca.issue_server("radius.corp.example.test");
    // TlsServer reads files; it keeps nothing from them but what it built.
    let dir = tempfile::tempdir().expect("a temporary directory");
    let write = |name: &str, text: &str| {
        let path = dir.path().join(name);
        std::fs::write(&path, text).expect("a file in the temporary directory");
        path
    };
    let settings = MutualTlsSettings {
        certificate_file: write("server.pem", &server.certificate_pem()),
        private_key_file: write("server.key", &server.key_pem()),
        ca_file: write("ca.pem", &ca.pem()),
        crl_files: Vec::new(),
        require_extended_master_secret: true,
    };
    let config = TlsServer::new(settings, "fuzzing")
        .expect("a TLS server")
        .config()
        .expect("a TLS configuration");
    Pki {
        config,
        #[cfg(test)]
        ca,
    }
}
