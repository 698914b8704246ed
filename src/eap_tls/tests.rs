//! Whole EAP-MSCHAPv2 and PEAP logins through [`EapTlsLogins::handle`], as a NAS relays them:
//! the peer computes its NT-Response from a known password, the MS-CHAPv2 login step is a fake
//! that knows the same password, and each test looks at what the NAS and the trail get — the
//! Access-Challenges, the decision to record, the MS-MPPE keys a NAS unhides.

use std::io::{Read, Write};
use std::sync::Arc;
use std::time::Duration;

use adgate_authz::{Authorizer, MemoryDirectory, PolicyConfig, ReplyAttributes};
use adgate_certs::test_pki::TestCa;
use adgate_certs::{IdentityPolicy, MutualTlsSettings};
use adgate_radius::eap::eap_type;
use adgate_radius::eap_mschapv2::Attempt;
use adgate_radius::mppe_keys::recover_mppe_keys;
use adgate_radius::mschapv2::{
    authenticator_response, mppe_keys, name_without_domain, nt_response, password_hash,
    password_hash_hash, Challenge16,
};
use adgate_radius::{
    AccessRequest, ClientState, Credential, EapCode, EapMessage, EapPacket, NasClient, SharedSecret,
};
use zeroize::Zeroizing;

use super::*;

const PASSWORD: &str = "alice-password";
const PEER_CHALLENGE: Challenge16 = [0x21; 16];
const SECRET: &[u8] = b"a-long-random-radius-secret";
const STATE: u8 = 24;
const VENDOR_SPECIFIC: u8 = 26;
const SERVER_NAME: &str = "radius.corp.example.test";

/// The login step's fake: alice with [`PASSWORD`] gets in; anyone else, or a wrong password, is
/// refused for a bad password.
struct FakeLogin;

fn alice() -> AccountRecord {
    AccountRecord {
        dn: "CN=alice,CN=Users,DC=corp,DC=example,DC=test".into(),
        object_guid: "guid".into(),
        object_sid: "S-1-5-21-1-2-3-1104".into(),
        user_principal_name: Some("alice@corp.example.test".into()),
        sam_account_name: "alice".into(),
    }
}

impl MsChapV2Login for FakeLogin {
    async fn check_mschapv2(
        &self,
        _request: &AccessRequest,
        _method: Method,
        attempt: &Attempt,
    ) -> MsChapV2Outcome {
        let expected = nt_response(
            &attempt.authenticator_challenge,
            &attempt.peer_challenge,
            name_without_domain(&attempt.user_name),
            PASSWORD,
        );
        if name_without_domain(&attempt.user_name) == b"alice" && expected == attempt.nt_response {
            let hash_hash = password_hash_hash(&password_hash(PASSWORD));
            MsChapV2Outcome::Accepted {
                account: Some(alice()),
                reply: ReplyAttributes::default(),
                authenticator_response: authenticator_response(
                    &hash_hash,
                    &attempt.nt_response,
                    &attempt.peer_challenge,
                    &attempt.authenticator_challenge,
                    name_without_domain(&attempt.user_name),
                ),
                keys: mppe_keys(&hash_hash, &attempt.nt_response),
            }
        } else {
            MsChapV2Outcome::Refused {
                reason: Reason::BadPassword,
                account: Some(alice()),
                throttled_by: None,
            }
        }
    }
}

/// EAP logins allowing `methods`, with a server certificate made in `dir`, and the CA's file.
fn logins(dir: &std::path::Path, methods: &[EapMethod]) -> EapTlsLogins {
    let ca = TestCa::new();
    let issued = ca.issue_server(SERVER_NAME);
    let write = |name: &str, text: String| {
        std::fs::write(dir.join(name), text).unwrap();
        dir.join(name)
    };
    EapTlsLogins::new(EapTlsLoginSettings {
        tls: Some(MutualTlsSettings {
            certificate_file: write("server.pem", issued.certificate_pem()),
            private_key_file: write("server.key", issued.key_pem()),
            ca_file: write("ca.pem", ca.pem()),
            crl_files: Vec::new(),
            require_extended_master_secret: true,
        }),
        fragment_size: 3000,
        identity_policy: IdentityPolicy::default(),
        allow_anonymous_identity: false,
        max_conversations: 16,
        conversation_timeout: Duration::from_secs(30),
        methods: AllowedMethods::new(methods.to_vec()).unwrap(),
    })
    .unwrap()
}

/// A NAS relaying one peer's EAP: the State it echoes and the last request it sent.
struct Nas {
    logins: EapTlsLogins,
    authorizer: Authorizer<MemoryDirectory>,
    state: Option<Vec<u8>>,
    request_authenticator: [u8; 16],
}

impl Nas {
    fn new(logins: EapTlsLogins) -> Nas {
        let policy = PolicyConfig {
            telework_group: "CN=Telework-Allowed,CN=Users,DC=corp,DC=example,DC=test".into(),
            reply: Vec::new(),
        };
        Nas {
            logins,
            authorizer: Authorizer::new(MemoryDirectory::new(Some("CORP")), policy),
            state: None,
            request_authenticator: [0; 16],
        }
    }

    /// Relays `response`; the flow adgate answers with.
    async fn relay(&mut self, response: &EapPacket) -> AccessFlow {
        self.request_authenticator[0] = self.request_authenticator[0].wrapping_add(1);
        let request = AccessRequest {
            client: Arc::new(NasClient {
                name: "vpn1".into(),
                secret: SharedSecret::new(SECRET.to_vec()),
                require_message_authenticator: adgate_radius::MessageAuthenticatorRule::Always,
                limit_proxy_state: true,
                max_in_flight: 32,
                state: ClientState::default(),
            }),
            source: "192.0.2.10:40000".parse().unwrap(),
            identifier: 7,
            user_name: Some(b"anonymous".to_vec()),
            credential: Credential::Eap {
                message: EapMessage::Packet(response.clone()),
                state: self.state.clone(),
                framed_mtu: None,
            },
            nas_ip_address: None,
            nas_identifier: None,
            calling_station_id: None,
            message_authenticator: true,
            request_authenticator: self.request_authenticator,
        };
        let message = EapMessage::Packet(response.clone());
        self.logins
            .handle(
                &request,
                &message,
                self.state.as_deref(),
                None,
                &self.authorizer,
                &FakeLogin,
            )
            .await
    }

    /// Relays `response`, which must be answered with an Access-Challenge: its EAP-Request.
    async fn challenged(&mut self, response: &EapPacket) -> EapPacket {
        let AccessFlow::Challenge(attributes) = self.relay(response).await else {
            panic!("no Access-Challenge");
        };
        self.challenge_of(&attributes)
    }

    fn challenge_of(&mut self, attributes: &[ReplyAttribute]) -> EapPacket {
        let state = attributes.iter().find(|a| a.attribute_type() == STATE);
        self.state = Some(state.unwrap().value().to_vec());
        EapPacket::parse(&eap_message(attributes)).unwrap()
    }

    /// The MPPE keys of an Access-Accept's attributes, as the NAS unhides them.
    fn keys(&self, attributes: &[ReplyAttribute]) -> (Vec<u8>, Vec<u8>) {
        let pairs: Vec<(u8, Vec<u8>)> = attributes
            .iter()
            .filter(|a| a.attribute_type() == VENDOR_SPECIFIC)
            .map(|a| (a.attribute_type(), a.value().to_vec()))
            .collect();
        let secret = SharedSecret::new(SECRET.to_vec());
        let (recv, send) = recover_mppe_keys(&secret, &self.request_authenticator, &pairs).unwrap();
        (recv.to_vec(), send.to_vec())
    }
}

fn eap_message(attributes: &[ReplyAttribute]) -> Vec<u8> {
    attributes
        .iter()
        .filter(|a| a.attribute_type() == 79)
        .flat_map(|a| a.value().to_vec())
        .collect()
}

fn identity(name: &[u8]) -> EapPacket {
    EapPacket::new(EapCode::Response, 0, eap_type::IDENTITY, name)
}

/// The Type-Data of the peer's EAP-MSCHAPv2 Response to a Challenge's Type-Data.
fn mschapv2_response(challenge: &[u8], name: &[u8], password: &str) -> Vec<u8> {
    let authenticator: Challenge16 = challenge[5..21].try_into().unwrap();
    let nt = nt_response(
        &authenticator,
        &PEER_CHALLENGE,
        name_without_domain(name),
        password,
    );
    let mut data = vec![49];
    data.extend_from_slice(&PEER_CHALLENGE);
    data.extend_from_slice(&[0; 8]);
    data.extend_from_slice(&nt);
    data.push(0);
    data.extend_from_slice(name);
    let mut type_data = vec![2, challenge[1]];
    type_data.extend_from_slice(&u16::try_from(4 + data.len()).unwrap().to_be_bytes());
    type_data.extend_from_slice(&data);
    type_data
}

fn response(request: &EapPacket, type_data: &[u8]) -> EapPacket {
    EapPacket::new(
        EapCode::Response,
        request.identifier,
        request.eap_type().unwrap(),
        type_data,
    )
}

#[tokio::test]
async fn eap_mschapv2_accepts_with_s_and_the_rfc3079_keys_and_records_the_method() {
    let dir = tempfile::tempdir().unwrap();
    let mut nas = Nas::new(logins(dir.path(), &[EapMethod::MsChapV2]));
    let challenge = nas.challenged(&identity(b"CORP\\alice")).await;
    assert_eq!(challenge.eap_type(), Some(eap_type::MSCHAPV2));
    let answer = mschapv2_response(challenge.type_data(), b"CORP\\alice", PASSWORD);
    let success = nas.challenged(&response(&challenge, &answer)).await;
    let authenticator: Challenge16 = challenge.type_data()[5..21].try_into().unwrap();
    let nt = nt_response(&authenticator, &PEER_CHALLENGE, b"alice", PASSWORD);
    let hash_hash = password_hash_hash(&password_hash(PASSWORD));
    let s = authenticator_response(&hash_hash, &nt, &PEER_CHALLENGE, &authenticator, b"alice");
    assert_eq!(
        std::str::from_utf8(&success.type_data()[4..]).unwrap(),
        format!("{s} M=Access granted")
    );
    let AccessFlow::Record(decided) = nas.relay(&response(&success, &[3])).await else {
        panic!("no decision");
    };
    let Decided::Accept(accept) = *decided else {
        panic!("not accepted");
    };
    assert_eq!(accept.login.method.as_str(), "eap-mschapv2");
    assert_eq!(accept.login.account, Some(alice()));
    assert_eq!(
        eap_message(&accept.attributes),
        [3, success.identifier, 0, 4]
    );
    let expected = mppe_keys(&hash_hash, &nt);
    assert_eq!(
        nas.keys(&accept.attributes),
        (expected.receive.to_vec(), expected.send.to_vec())
    );
}

#[tokio::test]
async fn eap_mschapv2_refused_is_recorded_with_the_failure_request_then_closed() {
    let dir = tempfile::tempdir().unwrap();
    let mut nas = Nas::new(logins(dir.path(), &[EapMethod::Tls, EapMethod::MsChapV2]));
    let start = nas.challenged(&identity(b"alice")).await;
    assert_eq!(
        start.eap_type(),
        Some(eap_type::TLS),
        "the first method offered"
    );
    let nak = EapPacket::new(EapCode::Response, start.identifier, eap_type::NAK, &[26]);
    let challenge = nas.challenged(&nak).await;
    let answer = mschapv2_response(challenge.type_data(), b"alice", "wrong-password");
    let AccessFlow::Record(decided) = nas.relay(&response(&challenge, &answer)).await else {
        panic!("no decision");
    };
    let Decided::RejectWithAlert { reject, challenge } = *decided else {
        panic!("not refused with a Failure-Request");
    };
    assert_eq!(reject.reason, Reason::BadPassword);
    assert_eq!(reject.login.method.as_str(), "eap-mschapv2");
    assert_eq!(reject.login.account, Some(alice()));
    let failure = nas.challenge_of(&challenge);
    assert!(failure.type_data()[4..].starts_with(b"E=691 R=0 C="));
    let AccessFlow::Close(attributes) = nas.relay(&response(&failure, &[4])).await else {
        panic!("not closed");
    };
    assert_eq!(eap_message(&attributes), [4, failure.identifier, 0, 4]);
}

/// A PEAPv0 peer on rustls (no client certificate) whose inner EAP is header-less, as
/// wpa_supplicant's.
struct PeapPeer(rustls::ClientConnection);

impl PeapPeer {
    fn new(dir: &std::path::Path) -> PeapPeer {
        let mut roots = rustls::RootCertStore::empty();
        let ca = std::fs::read(dir.join("ca.pem")).unwrap();
        for certificate in rustls_pemfile_certificates(&ca) {
            roots.add(certificate).unwrap();
        }
        let config = rustls::ClientConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_protocol_versions(&[&rustls::version::TLS12])
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
        let name = pki_types::ServerName::try_from(SERVER_NAME).unwrap();
        PeapPeer(rustls::ClientConnection::new(Arc::new(config), name).unwrap())
    }

    /// Feeds a PEAP Request's Type-Data; the plaintext it carried.
    fn receive(&mut self, type_data: &[u8]) -> Vec<u8> {
        let mut records = if type_data[0] & 0x80 != 0 {
            &type_data[5..]
        } else {
            &type_data[1..]
        };
        while !records.is_empty() {
            self.0.read_tls(&mut records).unwrap();
            self.0.process_new_packets().unwrap();
        }
        let mut plaintext = Vec::new();
        let _ = self.0.reader().read_to_end(&mut plaintext);
        plaintext
    }

    /// The Type-Data of the PEAP Response carrying `inner` (nothing: the handshake's own).
    fn send(&mut self, inner: &[u8]) -> Vec<u8> {
        if !inner.is_empty() {
            self.0.writer().write_all(inner).unwrap();
        }
        let mut output = Vec::new();
        while self.0.wants_write() {
            self.0.write_tls(&mut output).unwrap();
        }
        if output.is_empty() {
            return vec![0];
        }
        let mut type_data = vec![0x80];
        type_data.extend_from_slice(&u32::try_from(output.len()).unwrap().to_be_bytes());
        type_data.extend_from_slice(&output);
        type_data
    }
}

fn rustls_pemfile_certificates(pem: &[u8]) -> Vec<pki_types::CertificateDer<'static>> {
    use pki_types::pem::PemObject;
    pki_types::CertificateDer::pem_slice_iter(pem)
        .collect::<Result<_, _>>()
        .unwrap()
}

/// Runs PEAP up to the inner Challenge for `inner_identity`: the request carrying it, and its
/// plaintext (header-less EAP-MSCHAPv2).
async fn peap_to_challenge(
    nas: &mut Nas,
    peer: &mut PeapPeer,
    inner_identity: &[u8],
) -> (EapPacket, Vec<u8>) {
    let mut request = nas.challenged(&identity(b"anonymous")).await;
    assert_eq!(
        (request.eap_type(), request.type_data()),
        (Some(eap_type::PEAP), &[0x20][..])
    );
    let mut answer = peer.send(&[]);
    loop {
        request = nas.challenged(&response(&request, &answer)).await;
        let plaintext = peer.receive(request.type_data());
        if !plaintext.is_empty() {
            assert_eq!(plaintext, [1], "the inner Identity Request, header-less");
            break;
        }
        answer = peer.send(&[]);
    }
    let mut inner = vec![1];
    inner.extend_from_slice(inner_identity);
    let request = nas
        .challenged(&response(&request, &peer.send(&inner)))
        .await;
    let plaintext = peer.receive(request.type_data());
    assert_eq!(plaintext[..2], [26, 1], "the inner Challenge, header-less");
    (request, plaintext)
}

#[tokio::test]
async fn peap_mschapv2_checks_the_inner_identity_and_accepts_with_the_tunnels_keys() {
    for inner_identity in [&b"alice"[..], b"CORP\\alice"] {
        let dir = tempfile::tempdir().unwrap();
        let mut nas = Nas::new(logins(dir.path(), &[EapMethod::Peap]));
        let mut peer = PeapPeer::new(dir.path());
        let (request, challenge) = peap_to_challenge(&mut nas, &mut peer, inner_identity).await;
        let mut inner = vec![26];
        inner.extend(mschapv2_response(&challenge[1..], inner_identity, PASSWORD));
        let request = nas
            .challenged(&response(&request, &peer.send(&inner)))
            .await;
        let success = peer.receive(request.type_data());
        assert_eq!(success[..2], [26, 3], "the inner Success-Request");
        let request = nas
            .challenged(&response(&request, &peer.send(&[26, 3])))
            .await;
        let result = peer.receive(request.type_data());
        assert_eq!(result[4..], [33, 0x80, 3, 0, 2, 0, 1], "Result TLV Success");
        let answer = [2, result[1], 0, 11, 33, 0x80, 3, 0, 2, 0, 1];
        let AccessFlow::Record(decided) = nas.relay(&response(&request, &peer.send(&answer))).await
        else {
            panic!("no decision");
        };
        let Decided::Accept(accept) = *decided else {
            panic!("not accepted");
        };
        assert_eq!(accept.login.method.as_str(), "peap-mschapv2");
        assert_eq!(accept.login.account, Some(alice()));
        assert_eq!(
            accept.login.inner_identity.as_deref().map(str::as_bytes),
            Some(inner_identity),
            "the inner identity is recorded, not the outer anonymous one"
        );
        let mut msk = Zeroizing::new([0u8; 128]);
        peer.0
            .export_keying_material(&mut msk[..], b"client EAP encryption", None)
            .unwrap();
        assert_eq!(
            nas.keys(&accept.attributes),
            (msk[..32].to_vec(), msk[32..64].to_vec())
        );
    }
}

#[tokio::test]
async fn peap_refuses_a_wrong_password_and_an_inner_name_not_the_inner_identity() {
    for (name, password, reason) in [
        (&b"alice"[..], "wrong-password", Reason::BadPassword),
        (b"bob", PASSWORD, Reason::IdentityMismatch),
    ] {
        let dir = tempfile::tempdir().unwrap();
        let mut nas = Nas::new(logins(dir.path(), &[EapMethod::Peap]));
        let mut peer = PeapPeer::new(dir.path());
        let (request, challenge) = peap_to_challenge(&mut nas, &mut peer, b"alice").await;
        let mut inner = vec![26];
        inner.extend(mschapv2_response(&challenge[1..], name, password));
        let AccessFlow::Record(decided) = nas.relay(&response(&request, &peer.send(&inner))).await
        else {
            panic!("no decision");
        };
        let Decided::RejectWithAlert { reject, challenge } = *decided else {
            panic!("not refused with a Failure-Request");
        };
        assert_eq!(
            (reject.reason, reject.login.method.as_str()),
            (reason, "peap-mschapv2")
        );
        assert_eq!(reject.login.inner_identity.as_deref(), Some("alice"));
        let request = nas.challenge_of(&challenge);
        let failure = peer.receive(request.type_data());
        assert_eq!(failure[..2], [26, 4], "the inner Failure-Request");
        let request = nas
            .challenged(&response(&request, &peer.send(&[26, 4])))
            .await;
        let result = peer.receive(request.type_data());
        assert_eq!(result[4..], [33, 0x80, 3, 0, 2, 0, 2], "Result TLV Failure");
        let answer = [2, result[1], 0, 11, 33, 0x80, 3, 0, 2, 0, 2];
        let AccessFlow::Close(attributes) =
            nas.relay(&response(&request, &peer.send(&answer))).await
        else {
            panic!("not closed");
        };
        assert_eq!(eap_message(&attributes)[0], 4, "EAP-Failure");
    }
}

#[test]
fn anonymous_identities() {
    for anonymous in [
        &b""[..],
        b"anonymous",
        b"Anonymous@corp.example.test",
        b"@corp.example.test",
    ] {
        assert!(is_anonymous(anonymous), "{anonymous:?}");
    }
    for named in [
        &b"alice@corp.example.test"[..],
        b"anonymousx",
        b"x@anonymous",
    ] {
        assert!(!is_anonymous(named), "{named:?}");
    }
}
