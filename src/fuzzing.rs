//! The entry point of the `gatekeeper` fuzz target (`fuzz/`): datagrams from a configured NAS
//! go through the same per-datagram path as the UDP server's (`adgate_radius::fuzzing::Exchange`:
//! decoding, Request and Message-Authenticator checks, Status-Server, the response cache) into
//! the gatekeeper the server runs, over an in-memory AD (`MemoryDirectory`) with certificate
//! logins on, so PAP, EAP reassembly, EAP-TLS records fed to rustls and accounting all see
//! whatever the fuzzer makes. Compiled only with the `fuzzing` feature.
//!
//! The input is a short conversation, in a framing of our own rather than `arbitrary`'s so that
//! the seeds are real packets one can read and write (`seeds.rs`):
//!
//! ```text
//! input    := options:u8 exchange*                  (at most MAX_EXCHANGES)
//! exchange := control:u8 length:u16be datagram      (the last datagram may be shorter)
//! ```
//!
//! `options` bit 0: the NAS must send Message-Authenticator; bit 1: limit Proxy-State.
//! `control` bit 0: to the accounting port; bit 1: sent as a NAS knowing the secret would (the
//! Length made true, Message-Authenticator and an Accounting-Request's authenticator computed;
//! without it the fuzzer would never get past the authenticator checks); with bit 1, bit 2: it
//! continues the conversation (the State and EAP Identifier of the last Access-Challenge put
//! in) and bit 3: its User-Password is in clear and gets hidden; bit 4: sent twice, and the
//! retransmission must get the identical answer (RFC 5080 §2.2.2).
//!
//! One gatekeeper (with its audit trail in a temporary directory) serves many inputs: building
//! one costs more than a whole input. It is replaced every `INPUTS_PER_GATEKEEPER` inputs,
//! which bounds the trail on disk and the state (throttle, conversations) one input leaves to
//! the next.

#[cfg(test)]
mod seeds;
#[cfg(test)]
mod tests;

use std::net::SocketAddr;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use adgate_authz::{Authorizer, MemoryDirectory, MemoryUser, PolicyConfig};
use adgate_certs::test_pki::TestCa;
use adgate_certs::{IdentityPolicy, MutualTlsSettings};
use adgate_radius::fuzzing::{as_nas_would_send, continuation, AsNas, Exchange};
use adgate_radius::{ClientState, MessageAuthenticatorRule, NasClient, Service, SharedSecret};
use tempfile::TempDir;

use crate::audit::{AuditTrail, TrailSettings};
use crate::eap_tls::{AllowedMethods, EapTlsLoginSettings, EapTlsLogins};
use crate::gatekeeper::Gatekeeper;
use crate::sessions::{rebuild, LiveSessions, TableLimits};
use crate::throttle::{Throttle, ThrottleSettings};

/// The NAS's shared secret.
const SECRET: &[u8] = b"fuzzing-shared-secret";
/// Where the NAS sends from.
const NAS_ADDRESS: ([u8; 4], u16) = ([192, 0, 2, 10], 40000);
/// Conversations longer than this are cut: an EAP-TLS login takes about 10 exchanges.
const MAX_EXCHANGES: usize = 24;
const INPUTS_PER_GATEKEEPER: u32 = 20_000;

const TELEWORK: &str = "CN=Telework-Allowed,CN=Users,DC=corp,DC=example,DC=test";

/// Options octet bits: the Message-Authenticator rule (bit 0: always; else bit 2: never; else
/// auto) and `limit_proxy_state`.
const REQUIRE_MESSAGE_AUTHENTICATOR: u8 = 1;
const LIMIT_PROXY_STATE: u8 = 2;
const NEVER_REQUIRE_MESSAGE_AUTHENTICATOR: u8 = 4;
/// Control octet bits.
const ACCOUNTING: u8 = 1;
const AS_NAS: u8 = 2;
const CONTINUES: u8 = 4;
const CLEAR_PASSWORD: u8 = 8;
const TWICE: u8 = 16;

/// Runs one fuzz input (see the module documentation). Panics only on a finding: a
/// retransmission answered differently, or a panic in the code under test.
pub fn handle_datagrams(input: &[u8]) {
    let _answers = exchange_all(input);
}

/// The answers to the datagrams of `input`, in order (`None`: no answer).
fn exchange_all(input: &[u8]) -> Vec<Option<Vec<u8>>> {
    static HARNESS: Mutex<Option<Harness>> = Mutex::new(None);
    let mut harness = HARNESS.lock().unwrap_or_else(PoisonError::into_inner);
    if harness
        .as_ref()
        .is_some_and(|h| h.inputs >= INPUTS_PER_GATEKEEPER)
    {
        if let Some(old) = harness.take() {
            old.finish();
        }
    }
    let harness = harness.get_or_insert_with(Harness::new);
    harness.inputs += 1;
    harness.run(input)
}

/// Stops an audit trail's writer (blocks until it has written everything).
type StopWriter = Box<dyn FnOnce() + Send>;

/// A gatekeeper over an in-memory AD holding alice (telework) and bob (no telework), with
/// certificate logins from `ca`, and what it needs to run.
struct Harness {
    runtime: tokio::runtime::Runtime,
    gatekeeper: Arc<Gatekeeper<MemoryDirectory>>,
    /// Stops the trail's writer.
    stop_writer: StopWriter,
    /// Issues the seeds' client certificates.
    #[cfg(test)]
    ca: TestCa,
    dir: TempDir,
    inputs: u32,
}

impl Harness {
    // A harness that cannot be set up must stop the fuzzer loudly: these are not findings.
    #[allow(clippy::expect_used)]
    fn new() -> Harness {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("a current-thread runtime");
        // In $TMPDIR: deploy/fuzz.sh points it at a tmpfs (the trail syncs every record) that
        // it removes afterwards, as libFuzzer exits without dropping the last harness.
        let dir = tempfile::Builder::new()
            .prefix("adgate-fuzz-")
            .tempdir()
            .expect("a temporary directory");
        let ca = TestCa::new();
        let (gatekeeper, stop_writer) = runtime.block_on(gatekeeper(&dir, &ca));
        Harness {
            runtime,
            gatekeeper: Arc::new(gatekeeper),
            stop_writer,
            #[cfg(test)]
            ca,
            dir,
            inputs: 0,
        }
    }

    fn run(&self, input: &[u8]) -> Vec<Option<Vec<u8>>> {
        let Some((&options, mut rest)) = input.split_first() else {
            return Vec::new();
        };
        let mut conversation = Conversation::new(self, options);
        self.runtime.block_on(async {
            let mut answers = Vec::new();
            while let Some((control, datagram, after)) = next_exchange(rest) {
                if answers.len() == MAX_EXCHANGES {
                    break;
                }
                rest = after;
                answers.push(conversation.send(control, datagram).await);
            }
            answers
        })
    }

    /// Stops the trail's writer and removes the directory.
    fn finish(self) {
        drop(self.gatekeeper);
        (self.stop_writer)();
        // Left behind in the temporary directory if it cannot be removed: nothing to fuzz.
        let _ = self.dir.close();
    }
}

/// One NAS talking to the server's two ports, and where its EAP conversation stands.
struct Conversation {
    client: Arc<NasClient>,
    authentication: Exchange<Gatekeeper<MemoryDirectory>>,
    accounting: Exchange<Gatekeeper<MemoryDirectory>>,
    /// The State and EAP Identifier of the last Access-Challenge.
    last_challenge: Option<(Vec<u8>, Option<u8>)>,
}

/// The NAS's Message-Authenticator rule the options octet picks.
fn message_authenticator_rule(options: u8) -> MessageAuthenticatorRule {
    if options & REQUIRE_MESSAGE_AUTHENTICATOR != 0 {
        MessageAuthenticatorRule::Always
    } else if options & NEVER_REQUIRE_MESSAGE_AUTHENTICATOR != 0 {
        MessageAuthenticatorRule::Never
    } else {
        MessageAuthenticatorRule::Auto
    }
}

impl Conversation {
    /// A NAS configured by the `options` octet, and a fresh server (empty response caches).
    fn new(harness: &Harness, options: u8) -> Conversation {
        Conversation {
            client: Arc::new(NasClient {
                name: "vpn1".into(),
                secret: SharedSecret::new(SECRET.to_vec()),
                require_message_authenticator: message_authenticator_rule(options),
                limit_proxy_state: options & LIMIT_PROXY_STATE != 0,
                max_in_flight: 32,
                state: ClientState::default(),
            }),
            authentication: Exchange::new(harness.gatekeeper.clone(), Service::Authentication),
            accounting: Exchange::new(harness.gatekeeper.clone(), Service::Accounting),
            last_challenge: None,
        }
    }

    /// Sends `datagram` as the `control` octet says; the answer, if any.
    async fn send(&mut self, control: u8, datagram: &[u8]) -> Option<Vec<u8>> {
        let datagram = if control & AS_NAS != 0 {
            let conversation = self
                .last_challenge
                .as_ref()
                .filter(|_| control & CONTINUES != 0);
            as_nas_would_send(
                datagram,
                &AsNas {
                    secret: &self.client.secret,
                    hide_password: control & CLEAR_PASSWORD != 0,
                    state: conversation.map(|(state, _)| state.as_slice()),
                    eap_identifier: conversation.and_then(|(_, identifier)| *identifier),
                },
            )
        } else {
            datagram.to_vec()
        };
        let server = if control & ACCOUNTING != 0 {
            &self.accounting
        } else {
            &self.authentication
        };
        let source = SocketAddr::from(NAS_ADDRESS);
        let answer = server.answer(&datagram, source, self.client.clone()).await;
        if control & TWICE != 0 {
            let again = server.answer(&datagram, source, self.client.clone()).await;
            if let (Some(first), Some(again)) = (&answer, &again) {
                assert_eq!(first, again, "a retransmission got a different answer");
            }
        }
        if let Some(next) = answer.as_deref().and_then(continuation) {
            let identifier = next.eap.get(1).copied();
            self.last_challenge = Some((next.state, identifier));
        }
        answer
    }
}

/// The next exchange of `input`: its control octet, its datagram and what follows.
fn next_exchange(input: &[u8]) -> Option<(u8, &[u8], &[u8])> {
    let (&control, rest) = input.split_first()?;
    let (length, rest) = rest.split_first_chunk::<2>()?;
    let length = usize::from(u16::from_be_bytes(*length)).min(rest.len());
    let (datagram, after) = rest.split_at(length);
    Some((control, datagram, after))
}

/// The gatekeeper the server would run for a configuration with certificate logins, over an
/// in-memory AD, its trail in `dir`.
// Setting up is not under test: a failure stops the fuzzer, as above.
#[allow(clippy::expect_used)]
async fn gatekeeper(dir: &TempDir, ca: &TestCa) -> (Gatekeeper<MemoryDirectory>, StopWriter) {
    let directory = MemoryDirectory::new(Some("CORP"));
    directory.add_group(TELEWORK);
    directory.add_user(MemoryUser::new("alice", "alice-password").member_of(TELEWORK));
    directory.add_user(MemoryUser::new("bob", "bob-password"));
    let policy = PolicyConfig {
        telework_group: TELEWORK.into(),
        reply: Vec::new(),
    };
    let audit = dir.path().join("audit");
    let (trail, writer) =
        AuditTrail::open(TrailSettings::new(audit.clone())).expect("an audit trail");
    let table = rebuild(&audit, TableLimits::default(), chrono::Utc::now()).expect("a table");
    let sessions = Arc::new(LiveSessions::new(table, trail.clone()));
    let throttle = Throttle::new(ThrottleSettings {
        max_failures: 5,
        window: Duration::from_secs(1800),
        familiar_for: Duration::from_secs(30 * 86_400),
    });
    let server = ca.issue_server("radius.corp.example.test");
    let write = |name: &str, text: &str| {
        let path = dir.path().join(name);
        std::fs::write(&path, text).expect("a file in the temporary directory");
        path
    };
    let eap_tls = EapTlsLogins::new(EapTlsLoginSettings {
        tls: Some(MutualTlsSettings {
            certificate_file: write("server.pem", &server.certificate_pem()),
            private_key_file: write("server.key", &server.key_pem()),
            ca_file: write("ca.pem", &ca.pem()),
            crl_files: Vec::new(),
            require_extended_master_secret: true,
        }),
        fragment_size: 1024,
        identity_policy: IdentityPolicy::default(),
        allow_anonymous_identity: false,
        max_conversations: 64,
        conversation_timeout: Duration::from_secs(30),
        methods: AllowedMethods::default(),
    })
    .expect("certificate logins");
    let gatekeeper = Gatekeeper::new(
        Authorizer::new(directory, policy),
        trail,
        throttle,
        sessions,
    )
    .with_eap_tls(eap_tls);
    (gatekeeper, Box::new(move || writer.finish()))
}
