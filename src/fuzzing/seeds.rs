//! The seeds of the `gatekeeper` fuzz target: inputs a real NAS would send (PAP logins that
//! pass and fail, Status-Server on both ports, accounting, a whole EAP-TLS login played by a
//! real peer), from which the fuzzer mutates. Written to `fuzz/corpus/gatekeeper/` by the
//! ignored test `write_the_seed_corpus`.

use adgate_certs::test_pki::UserCertificate;
use adgate_certs::{peer_config, EapTlsPeer};
use adgate_radius::eap::eap_type;
use adgate_radius::{EapCode, EapPacket};

use super::{Conversation, Harness, ACCOUNTING, AS_NAS, CLEAR_PASSWORD, CONTINUES, TWICE};

/// RADIUS codes and attribute types the seeds use (RFC 2865 §3, §5; RFC 2866 §5; RFC 3579 §3).
const ACCESS_REQUEST: u8 = 1;
const ACCOUNTING_REQUEST: u8 = 4;
const STATUS_SERVER: u8 = 12;
const USER_NAME: u8 = 1;
const USER_PASSWORD: u8 = 2;
const NAS_IP_ADDRESS: u8 = 4;
const STATE: u8 = 24;
const CALLING_STATION_ID: u8 = 31;
const NAS_IDENTIFIER: u8 = 32;
const ACCT_STATUS_TYPE: u8 = 40;
const ACCT_SESSION_ID: u8 = 44;
const EAP_MESSAGE: u8 = 79;
const MESSAGE_AUTHENTICATOR: u8 = 80;
/// The longest attribute value (RFC 2865 §5).
const MAX_VALUE_LEN: usize = 253;

/// One input of the fuzz target: the options octet, then each exchange.
pub struct Seed {
    options: u8,
    exchanges: Vec<(u8, Vec<u8>)>,
}

impl Seed {
    fn new(options: u8) -> Seed {
        Seed {
            options,
            exchanges: Vec::new(),
        }
    }

    fn then(mut self, control: u8, datagram: Vec<u8>) -> Seed {
        self.exchanges.push((control, datagram));
        self
    }

    /// The input in the fuzz target's framing.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut bytes = vec![self.options];
        for (control, datagram) in &self.exchanges {
            bytes.push(*control);
            let length = u16::try_from(datagram.len()).unwrap();
            bytes.extend_from_slice(&length.to_be_bytes());
            bytes.extend_from_slice(datagram);
        }
        bytes
    }
}

/// A request with `attributes`, Length and authenticators as a NAS sending it in the clear
/// would leave them before signing (the harness signs, AS_NAS).
fn packet(code: u8, identifier: u8, attributes: &[(u8, &[u8])]) -> Vec<u8> {
    let mut bytes = vec![code, identifier, 0, 0];
    bytes.extend_from_slice(&[identifier.wrapping_mul(37) ^ 0x5a; 16]);
    for (attribute_type, value) in attributes {
        bytes.push(*attribute_type);
        bytes.push(u8::try_from(value.len() + 2).unwrap());
        bytes.extend_from_slice(value);
    }
    let length = u16::try_from(bytes.len()).unwrap().to_be_bytes();
    bytes[2..4].copy_from_slice(&length);
    bytes
}

const ZEROS: &[u8] = &[0; 16];
const NAS_IP: &[u8] = &[192, 0, 2, 10];
const STATION: &[u8] = b"203.0.113.9";

fn pap(identifier: u8, user: &str, password: &str) -> Vec<u8> {
    packet(
        ACCESS_REQUEST,
        identifier,
        &[
            (USER_NAME, user.as_bytes()),
            (USER_PASSWORD, password.as_bytes()),
            (NAS_IP_ADDRESS, NAS_IP),
            (CALLING_STATION_ID, STATION),
            (MESSAGE_AUTHENTICATOR, ZEROS),
        ],
    )
}

fn accounting(identifier: u8, status: u32) -> Vec<u8> {
    packet(
        ACCOUNTING_REQUEST,
        identifier,
        &[
            (ACCT_STATUS_TYPE, &status.to_be_bytes()),
            (ACCT_SESSION_ID, b"session-1"),
            (USER_NAME, b"alice"),
            (NAS_IDENTIFIER, b"vpn1"),
            (CALLING_STATION_ID, STATION),
        ],
    )
}

fn status_server(identifier: u8) -> Vec<u8> {
    packet(STATUS_SERVER, identifier, &[(MESSAGE_AUTHENTICATOR, ZEROS)])
}

/// An Access-Request carrying `eap` (cut into EAP-Message attributes) and `state`.
fn eap_request(identifier: u8, user: &str, eap: &[u8], state: Option<&[u8]>) -> Vec<u8> {
    let mut attributes: Vec<(u8, &[u8])> = vec![
        (USER_NAME, user.as_bytes()),
        (NAS_IP_ADDRESS, NAS_IP),
        (CALLING_STATION_ID, STATION),
    ];
    attributes.extend(eap.chunks(MAX_VALUE_LEN).map(|chunk| (EAP_MESSAGE, chunk)));
    attributes.extend(state.map(|state| (STATE, state)));
    attributes.push((MESSAGE_AUTHENTICATOR, ZEROS));
    packet(ACCESS_REQUEST, identifier, &attributes)
}

/// The seeds, by name, with the last answer each got from `harness` when it was made.
pub fn seed_inputs(harness: &Harness) -> Vec<(&'static str, Seed, Option<Vec<u8>>)> {
    let signed = AS_NAS | CLEAR_PASSWORD;
    let mut seeds = vec![
        (
            "pap-accept",
            Seed::new(0).then(signed, pap(1, "alice", "alice-password")),
        ),
        (
            "pap-accept-retransmitted",
            Seed::new(1).then(signed | TWICE, pap(2, "CORP\\alice", "alice-password")),
        ),
        (
            "pap-no-telework",
            Seed::new(0).then(signed, pap(3, "bob", "bob-password")),
        ),
        (
            "pap-wrong-password",
            Seed::new(0).then(signed, pap(4, "alice", "guess")),
        ),
        (
            "pap-unsigned",
            Seed::new(0).then(0, pap(5, "alice", "alice-password")),
        ),
        (
            "status-server",
            Seed::new(1)
                .then(AS_NAS, status_server(6))
                .then(AS_NAS | ACCOUNTING, status_server(7)),
        ),
        (
            "accounting",
            Seed::new(0)
                .then(signed, pap(8, "alice", "alice-password"))
                .then(AS_NAS | ACCOUNTING, accounting(9, 1))
                .then(AS_NAS | ACCOUNTING | TWICE, accounting(10, 3))
                .then(AS_NAS | ACCOUNTING, accounting(11, 2)),
        ),
    ];
    let mut made: Vec<_> = seeds
        .drain(..)
        .map(|(name, seed)| {
            let last = harness.run(&seed.to_bytes()).pop().flatten();
            (name, seed, last)
        })
        .collect();
    let (seed, last) = eap_tls_login(harness);
    made.push(("eap-tls-login", seed, last));
    made
}

/// Plays the NAS and the peer of alice's certificate login, recording what the NAS sends.
fn eap_tls_login(harness: &Harness) -> (Seed, Option<Vec<u8>>) {
    let user = "alice@corp.example.test";
    let issued = harness.ca.issue(&UserCertificate::named("alice").upn(user));
    let dir = harness.dir.path();
    let write = |name: &str, text: &str| {
        let path = dir.join(name);
        std::fs::write(&path, text).unwrap();
        path
    };
    let config = peer_config(
        &write("peer-ca.pem", &harness.ca.pem()),
        &write("alice.pem", &issued.certificate_pem()),
        &write("alice.key", &issued.key_pem()),
        &rustls::version::TLS13,
    )
    .unwrap();
    let mut peer = EapTlsPeer::new(config, "radius.corp.example.test").unwrap();
    let mut conversation = Conversation::new(harness, 1);
    let mut seed = Seed::new(1);
    let mut eap = EapPacket::new(EapCode::Response, 0, eap_type::IDENTITY, user.as_bytes());
    let mut state: Option<Vec<u8>> = None;
    for identifier in 20..40 {
        let datagram = eap_request(identifier, user, &eap.to_bytes(), state.as_deref());
        let control = AS_NAS | CONTINUES;
        let answer = harness
            .runtime
            .block_on(conversation.send(control, &datagram));
        seed = seed.then(control, datagram);
        let Some(next) = answer
            .as_deref()
            .and_then(adgate_radius::fuzzing::continuation)
        else {
            return (seed, answer);
        };
        let request = EapPacket::parse(&next.eap).unwrap();
        let reply = peer.respond(request.type_data()).unwrap();
        eap = EapPacket::new(EapCode::Response, request.identifier, eap_type::TLS, &reply);
        state = Some(next.state);
    }
    panic!("no decision after 20 round trips");
}
