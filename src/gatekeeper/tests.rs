//! The gatekeeper's request path without a domain controller: AD is a `MemoryDirectory`, the
//! trail a real one in a temporary directory, and each test looks at what a NAS and an auditor
//! see — the reply on the wire and the records in the trail.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use adgate_authz::{
    Authorizer, MemoryDirectory, MemoryUser, PolicyConfig, ReplyAttributes, ReplyRule,
};
use adgate_certs::test_pki::{TestCa, UserCertificate};
use adgate_certs::{peer_config, EapTlsPeer, IdentityPolicy, MutualTlsSettings};
use adgate_radius::eap::eap_type;
use adgate_radius::mppe_keys::recover_mppe_keys;
use adgate_radius::{
    AccessRequest, AccountingReply, AccountingRequest, AccountingStatus, ClientState, Credential,
    EapCode, EapMessage, EapPacket, NasClient, Password, Reply, ReplyAttribute, RequestHandler,
    SharedSecret,
};
use serde_json::Value;
use tempfile::TempDir;

use super::Gatekeeper;
use crate::audit::{AuditTrail, TrailSettings, OPEN_SEGMENT};
use crate::eap_tls::{AllowedMethods, EapTlsLoginSettings, EapTlsLogins};
use crate::metrics::Readiness;
use crate::sessions::{rebuild, LiveSessions, TableLimits};
use crate::throttle::{Throttle, ThrottleSettings};

const TELEWORK: &str = "CN=Telework-Allowed,CN=Users,DC=corp,DC=example,DC=test";
const ENGINEERING: &str = "CN=VPN-Engineering,CN=Users,DC=corp,DC=example,DC=test";
const SECRET: &[u8] = b"a-long-random-radius-secret";
const STATION: &str = "203.0.113.9";
/// RADIUS attribute types the tests read (RFC 2865 §5, RFC 3579 §3.1).
const FILTER_ID: u8 = 11;
const STATE: u8 = 24;
const CLASS: u8 = 25;
const EAP_MESSAGE: u8 = 79;

/// A gatekeeper over an in-memory AD holding alice (telework, engineering, whose accepts carry
/// Filter-Id `vpn-engineering` and Class suffix `eng`) and bob (no telework).
struct Lab {
    gatekeeper: Gatekeeper<MemoryDirectory>,
    directory: MemoryDirectory,
    dir: TempDir,
    /// Stops the trail's writer: appends fail afterwards.
    stop_writer: Option<Box<dyn FnOnce() + Send>>,
}

impl Lab {
    async fn new() -> Lab {
        Lab::with_throttle(ThrottleSettings {
            max_failures: 5,
            window: Duration::from_secs(1800),
            familiar_for: Duration::from_secs(30 * 86_400),
        })
        .await
    }

    async fn with_throttle(throttle: ThrottleSettings) -> Lab {
        let dir = tempfile::tempdir().unwrap();
        let directory = MemoryDirectory::new(Some("CORP"));
        directory.add_group(TELEWORK);
        directory.add_user(
            MemoryUser::new("alice", "alice-password")
                .member_of(TELEWORK)
                .member_of(ENGINEERING),
        );
        directory.add_user(MemoryUser::new("bob", "bob-password"));
        let policy = PolicyConfig {
            telework_group: TELEWORK.into(),
            reply: vec![ReplyRule {
                group: ENGINEERING.into(),
                attributes: ReplyAttributes {
                    filter_id: Some("vpn-engineering".into()),
                    class_suffix: Some("eng".into()),
                    ..ReplyAttributes::default()
                },
            }],
        };
        let audit = dir.path().join("audit");
        let (trail, writer) = AuditTrail::open(TrailSettings::new(audit.clone())).unwrap();
        let table = rebuild(&audit, TableLimits::default(), chrono::Utc::now()).unwrap();
        let sessions = Arc::new(LiveSessions::new(table, trail.clone()));
        let gatekeeper = Gatekeeper::new(
            Authorizer::new(directory.clone(), policy),
            trail,
            Throttle::new(throttle),
            sessions,
        );
        Lab {
            gatekeeper,
            directory,
            dir,
            stop_writer: Some(Box::new(move || writer.finish())),
        }
    }

    /// Turns certificate logins on, with a server certificate from `ca`.
    fn with_eap_tls(mut self, ca: &TestCa) -> Lab {
        let server = ca.issue_server("radius.corp.example.test");
        let settings = EapTlsLoginSettings {
            tls: Some(MutualTlsSettings {
                certificate_file: write(self.dir.path(), "server.pem", &server.certificate_pem()),
                private_key_file: write(self.dir.path(), "server.key", &server.key_pem()),
                ca_file: write(self.dir.path(), "ca.pem", &ca.pem()),
                crl_files: Vec::new(),
                require_extended_master_secret: true,
            }),
            fragment_size: 1024,
            identity_policy: IdentityPolicy::default(),
            allow_anonymous_identity: false,
            max_conversations: 16,
            conversation_timeout: Duration::from_secs(30),
            methods: AllowedMethods::default(),
        };
        self.gatekeeper = self
            .gatekeeper
            .with_eap_tls(EapTlsLogins::new(settings).unwrap());
        self
    }

    async fn access(&self, request: AccessRequest) -> Reply {
        self.gatekeeper.access_request(request).await
    }

    /// The records in the trail, oldest first.
    fn records(&self) -> Vec<Value> {
        let path = self.dir.path().join("audit").join(OPEN_SEGMENT);
        std::fs::read_to_string(path)
            .unwrap_or_default()
            .lines()
            .filter_map(|line| serde_json::from_str::<Value>(line).ok())
            .filter(|record| record["type"] == "decision" || record["type"] == "accounting")
            .collect()
    }

    /// `(verdict, reason)` of each decision record, oldest first.
    fn decisions(&self) -> Vec<(String, String)> {
        let text = |value: &Value| value.as_str().unwrap_or("-").to_owned();
        self.records()
            .iter()
            .filter(|record| record["type"] == "decision")
            .map(|record| (text(&record["verdict"]), text(&record["reason"])))
            .collect()
    }

    async fn stop_trail(&mut self) {
        let stop = self.stop_writer.take().unwrap();
        tokio::task::spawn_blocking(stop).await.unwrap();
    }
}

fn write(dir: &Path, name: &str, text: &str) -> std::path::PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path
}

fn nas() -> Arc<NasClient> {
    Arc::new(NasClient {
        name: "vpn1".into(),
        secret: SharedSecret::new(SECRET.to_vec()),
        require_message_authenticator: adgate_radius::MessageAuthenticatorRule::Always,
        limit_proxy_state: true,
        max_in_flight: 32,
        state: ClientState::default(),
    })
}

fn request(user: &str, credential: Credential) -> AccessRequest {
    AccessRequest {
        client: nas(),
        source: "192.0.2.10:40000".parse().unwrap(),
        identifier: 7,
        user_name: Some(user.as_bytes().to_vec()),
        credential,
        nas_ip_address: Some("192.0.2.10".parse().unwrap()),
        nas_identifier: Some("vpn1".into()),
        calling_station_id: Some(STATION.into()),
        message_authenticator: true,
        request_authenticator: [7; 16],
    }
}

fn pap(user: &str, password: &str) -> AccessRequest {
    request(
        user,
        Credential::Pap(Password::new(password.as_bytes().to_vec())),
    )
}

fn accounting(status: AccountingStatus, classes: Vec<Vec<u8>>) -> AccountingRequest {
    AccountingRequest {
        client: nas(),
        source: "192.0.2.10:40001".parse().unwrap(),
        identifier: 8,
        status,
        session_id: Some("session-1".into()),
        user_name: Some(b"alice".to_vec()),
        framed_ip_address: Some("10.8.0.2".parse().unwrap()),
        calling_station_id: Some(STATION.into()),
        nas_ip_address: Some("192.0.2.10".parse().unwrap()),
        nas_identifier: Some("vpn1".into()),
        session_time: None,
        input_octets: None,
        output_octets: None,
        terminate_cause: None,
        delay_time: None,
        classes,
    }
}

/// The values of every attribute of type `wanted`, joined.
fn joined(attributes: &[ReplyAttribute], wanted: u8) -> Vec<u8> {
    attributes
        .iter()
        .filter(|attribute| attribute.attribute_type() == wanted)
        .flat_map(|attribute| attribute.value().iter().copied())
        .collect()
}

#[tokio::test]
async fn an_accept_is_recorded_before_it_is_answered_and_its_class_names_the_record() {
    let lab = Lab::new().await;
    let reply = lab.access(pap("CORP\\alice", "alice-password")).await;
    let Reply::Accept { attributes } = &reply else {
        panic!("not an accept: {reply:?}");
    };
    // The answer exists only once its record is durable.
    let records = lab.records();
    let [decision] = records.as_slice() else {
        panic!("{records:?}");
    };
    assert_eq!(decision["verdict"], "accept");
    assert_eq!(decision["method"], "pap");
    assert!(decision.get("reason").is_none());
    assert_eq!(decision["account"]["sam_account_name"], "alice");
    assert_eq!(decision["reply"]["filter_id"], "vpn-engineering");
    let request_id = decision["request_id"].as_str().unwrap();
    assert_eq!(
        joined(attributes, CLASS),
        format!("adgate:{request_id}:eng").into_bytes()
    );
    assert_eq!(joined(attributes, FILTER_ID), b"vpn-engineering");
}

#[tokio::test]
async fn each_refusal_is_recorded_with_its_reason_and_answered_with_a_bare_reject() {
    let lab = Lab::new().await;
    lab.directory
        .add_user(MemoryUser::new("dave", "dave-password").member_of(TELEWORK));
    lab.directory
        .change_user("dave", |dave| dave.state.user_account_control |= 0x2);
    let eap_start = Credential::Eap {
        message: EapMessage::Start,
        state: None,
        framed_mtu: None,
    };
    let refused = [
        (pap("bob", "bob-password"), "telework_off"),
        (pap("alice", "wrong"), "bad_password"),
        (pap("nobody", "password"), "unknown_user"),
        (pap("OTHER\\alice", "alice-password"), "unknown_user"),
        (pap("dave", "dave-password"), "account_disabled"),
        (pap("alice", ""), "empty_password"),
        (
            request("alice", Credential::Unsupported),
            "unsupported_credential",
        ),
        // EAP without [eap_tls].
        (request("alice", eap_start), "unsupported_credential"),
    ];
    let mut expected = Vec::new();
    for (request, reason) in refused {
        // No reason, and nothing else, goes on the wire.
        assert_eq!(lab.access(request).await, Reply::Reject, "{reason}");
        expected.push(("reject".to_owned(), reason.to_owned()));
    }
    lab.directory.set_unavailable(true);
    assert_eq!(
        lab.access(pap("alice", "alice-password")).await,
        Reply::Reject
    );
    expected.push(("reject".into(), "directory_unavailable".into()));
    assert_eq!(lab.decisions(), expected);
    let methods: Vec<Value> = lab.records().iter().map(|r| r["method"].clone()).collect();
    assert_eq!(methods[6], "unsupported");
    assert_eq!(methods[0], "pap");
}

#[tokio::test]
async fn throttled_logins_are_refused_without_asking_ad() {
    let lab = Lab::with_throttle(ThrottleSettings {
        max_failures: 2,
        window: Duration::from_secs(60),
        familiar_for: Duration::from_secs(30 * 86_400),
    })
    .await;
    for _ in 0..2 {
        assert_eq!(lab.access(pap("alice", "wrong")).await, Reply::Reject);
    }
    let asked = lab.directory.questions_asked();
    // The right password, under another name form: still alice, still throttled.
    let alice = pap("ALICE@corp.example.test", "alice-password");
    assert_eq!(lab.access(alice).await, Reply::Reject);
    // Another user from the same Calling-Station-Id.
    assert_eq!(lab.access(pap("bob", "bob-password")).await, Reply::Reject);
    assert_eq!(lab.directory.questions_asked(), asked, "AD was asked");
    // From another station bob is judged by AD again.
    let mut elsewhere = pap("bob", "bob-password");
    elsewhere.calling_station_id = Some("198.51.100.7".into());
    assert_eq!(lab.access(elsewhere).await, Reply::Reject);
    assert!(lab.directory.questions_asked() > asked);
    let reasons: Vec<String> = lab.decisions().into_iter().map(|(_, r)| r).collect();
    assert_eq!(
        reasons,
        [
            "bad_password",
            "bad_password",
            "throttled",
            "throttled",
            "telework_off"
        ]
    );
}

#[tokio::test]
async fn a_decision_that_cannot_be_recorded_is_a_reject_and_accounting_goes_unanswered() {
    let mut lab = Lab::new().await;
    lab.stop_trail().await;
    assert_eq!(
        lab.access(pap("alice", "alice-password")).await,
        Reply::Reject
    );
    assert!(lab.records().is_empty());
    let readiness = lab.gatekeeper.check().await;
    assert!(
        readiness
            .as_ref()
            .is_err_and(|problem| problem.contains("audit record could not be written")),
        "{readiness:?}"
    );
    // RFC 2866 §4.1: no Accounting-Response for what is not recorded, so the NAS retries.
    let start = accounting(AccountingStatus::Start, Vec::new());
    assert_eq!(
        lab.gatekeeper.accounting_request(start).await,
        AccountingReply::NotRecorded
    );
}

#[tokio::test]
async fn accounting_is_recorded_and_linked_to_its_decision_by_the_class() {
    let lab = Lab::new().await;
    let Reply::Accept { attributes } = lab.access(pap("alice", "alice-password")).await else {
        panic!("alice refused");
    };
    let class = joined(&attributes, CLASS);
    let start = accounting(AccountingStatus::Start, vec![class]);
    assert_eq!(
        lab.gatekeeper.accounting_request(start).await,
        AccountingReply::Recorded
    );
    let records = lab.records();
    let [decision, started] = records.as_slice() else {
        panic!("{records:?}");
    };
    assert_eq!(started["type"], "accounting");
    assert_eq!(started["verdict"], "recorded");
    assert_eq!(started["accounting"]["status_type"], "start");
    assert_eq!(
        started["accounting"]["decision_request_id"],
        decision["request_id"]
    );
    assert_eq!(started["account"]["sam_account_name"], "alice");
    // A Class that adgate did not write links nothing.
    let foreign = accounting(AccountingStatus::InterimUpdate, vec![b"other:1".to_vec()]);
    lab.gatekeeper.accounting_request(foreign).await;
    let records = lab.records();
    assert!(records[2]["accounting"]
        .get("decision_request_id")
        .is_none());
}

/// How an EAP-TLS login through the gatekeeper ended, and how many round trips it took.
struct EapTlsLogin {
    reply: Reply,
    peer: EapTlsPeer,
    round_trips: usize,
}

/// Plays the NAS and the peer of one EAP-TLS login presenting `user`'s certificate from `ca`,
/// and trusting `server_ca` for adgate's.
async fn eap_tls_login(lab: &Lab, ca: &TestCa, server_ca: &TestCa, user: &str) -> EapTlsLogin {
    let issued = ca.issue(&UserCertificate::named(user).upn(&format!("{user}@corp.example.test")));
    let dir = lab.dir.path();
    let config = peer_config(
        &write(dir, "peer-ca.pem", &server_ca.pem()),
        &write(dir, &format!("{user}.pem"), &issued.certificate_pem()),
        &write(dir, &format!("{user}.key"), &issued.key_pem()),
        &rustls::version::TLS13,
    )
    .unwrap();
    let mut peer = EapTlsPeer::new(config, "radius.corp.example.test").unwrap();
    let identity = format!("{user}@corp.example.test");
    let mut eap = EapPacket::new(
        EapCode::Response,
        0,
        eap_type::IDENTITY,
        identity.as_bytes(),
    );
    let mut state = None;
    for round_trips in 1..=64 {
        let credential = Credential::Eap {
            message: EapMessage::Packet(eap),
            state: state.take(),
            framed_mtu: None,
        };
        let reply = lab.access(request(&identity, credential)).await;
        let Reply::Challenge { attributes } = &reply else {
            return EapTlsLogin {
                reply,
                peer,
                round_trips,
            };
        };
        let eap_request = EapPacket::parse(&joined(attributes, EAP_MESSAGE)).unwrap();
        assert_eq!(eap_request.eap_type(), Some(eap_type::TLS));
        let answer = peer.respond(eap_request.type_data()).unwrap();
        eap = EapPacket::new(
            EapCode::Response,
            eap_request.identifier,
            eap_type::TLS,
            &answer,
        );
        state = Some(joined(attributes, STATE));
    }
    panic!("no decision after 64 round trips");
}

/// The EAP code of the EAP-Message in `attributes`.
fn eap_code(attributes: &[ReplyAttribute]) -> EapCode {
    EapPacket::parse(&joined(attributes, EAP_MESSAGE))
        .unwrap()
        .code
}

#[tokio::test]
async fn a_certificate_login_is_one_conversation_and_one_record() {
    let ca = TestCa::new();
    let lab = Lab::new().await.with_eap_tls(&ca);
    let login = eap_tls_login(&lab, &ca, &ca, "alice").await;
    let Reply::Accept { attributes } = &login.reply else {
        panic!("not an accept: {:?}", login.reply);
    };
    assert!(login.round_trips > 2, "a TLS handshake, not a shortcut");
    assert_eq!(eap_code(attributes), EapCode::Success);
    let pairs: Vec<(u8, Vec<u8>)> = attributes
        .iter()
        .map(|attribute| (attribute.attribute_type(), attribute.value().to_vec()))
        .collect();
    let (recv, send) = recover_mppe_keys(&SharedSecret::new(SECRET.to_vec()), &[7; 16], &pairs)
        .expect("MS-MPPE keys");
    assert!(login.peer.msk().unwrap().is_split_into(&recv, &send));
    // The challenges decided nothing: one record, the accept.
    let records = lab.records();
    let [decision] = records.as_slice() else {
        panic!("{records:?}");
    };
    assert_eq!(decision["method"], "eap-tls");
    assert_eq!(decision["verdict"], "accept");
    assert_eq!(
        decision["certificate"]["identity"],
        "alice@corp.example.test"
    );
    let eap_tls = lab.gatekeeper.eap_tls.as_ref().unwrap();
    assert_eq!(eap_tls.conversation_counts().in_progress, 0, "forgotten");
}

#[tokio::test]
async fn refused_certificate_logins_end_in_eap_failure_and_are_recorded_once() {
    let ca = TestCa::new();
    let lab = Lab::new().await.with_eap_tls(&ca);
    // A good certificate for an account AD refuses.
    let bob = eap_tls_login(&lab, &ca, &ca, "bob").await;
    let Reply::RejectWith { attributes } = &bob.reply else {
        panic!("{:?}", bob.reply);
    };
    assert_eq!(eap_code(attributes), EapCode::Failure);
    // A certificate from a CA adgate does not trust: refused with a TLS alert, recorded when
    // the alert goes out, and not again when the peer's acknowledgement is answered.
    let stranger = eap_tls_login(&lab, &TestCa::named("another CA"), &ca, "alice").await;
    let Reply::RejectWith { attributes } = &stranger.reply else {
        panic!("{:?}", stranger.reply);
    };
    assert_eq!(eap_code(attributes), EapCode::Failure);
    assert!(stranger.peer.alert_received().is_some());
    assert_eq!(
        lab.decisions(),
        [
            ("reject".to_owned(), "telework_off".to_owned()),
            ("reject".to_owned(), "certificate_untrusted".to_owned()),
        ]
    );
    let eap_tls = lab.gatekeeper.eap_tls.as_ref().unwrap();
    assert_eq!(eap_tls.conversation_counts().in_progress, 0);
}

/// MS-CHAPv2 (RFC 2548) through a fake ntlm_auth (`sh`) that answers every check with
/// `reply`; the file `spawns` in the lab dir gets a line per process started.
fn with_fake_winbind(mut lab: Lab, reply: &str) -> Lab {
    let spawns = lab.dir.path().join("spawns");
    let script = format!(
        "echo started >> '{}'\nwhile read -r line; do [ \"$line\" = . ] && printf '{reply}'; done",
        spawns.display()
    );
    let winbind = adgate_authz::Winbind::new(adgate_authz::WinbindSettings {
        ntlm_auth: vec!["sh".into(), "-c".into(), script, "fake-ntlm_auth".into()],
        smb_conf: "/nonexistent/smb.conf".into(),
        helpers: 1,
        timeout: Duration::from_secs(5),
    })
    .unwrap();
    lab.gatekeeper = lab.gatekeeper.with_mschapv2(winbind);
    lab
}

fn winbind_spawns(lab: &Lab) -> usize {
    std::fs::read_to_string(lab.dir.path().join("spawns"))
        .unwrap_or_default()
        .lines()
        .count()
}

const AUTHENTICATOR_CHALLENGE: [u8; 16] = [0x5b; 16];
const PEER_CHALLENGE: [u8; 16] = [0x21; 16];
const MICROSOFT_VSA: u8 = 26;

/// An MS-CHAPv2 request of `user` (as sent) for `password`, computed as a peer does.
fn ms_chap(user: &str, password: &str) -> AccessRequest {
    let hashed = user.rsplit('\\').next().unwrap();
    let nt_response = adgate_radius::mschapv2::nt_response(
        &AUTHENTICATOR_CHALLENGE,
        &PEER_CHALLENGE,
        hashed.as_bytes(),
        password,
    );
    request(
        user,
        Credential::MsChapV2(adgate_radius::MsChap2Request {
            ident: 0x42,
            authenticator_challenge: AUTHENTICATOR_CHALLENGE,
            peer_challenge: PEER_CHALLENGE,
            nt_response,
        }),
    )
}

/// The Microsoft sub-attribute `vendor_type` among `attributes` (without its VSA header).
fn microsoft(attributes: &[ReplyAttribute], vendor_type: u8) -> Option<Vec<u8>> {
    attributes
        .iter()
        .filter(|attribute| attribute.attribute_type() == MICROSOFT_VSA)
        .map(ReplyAttribute::value)
        .find(|value| {
            value.len() > 6 && value[..4] == 311u32.to_be_bytes() && value[4] == vendor_type
        })
        .map(|value| value[6..].to_vec())
}

#[tokio::test]
async fn an_ms_chapv2_accept_proves_the_key_and_carries_the_mppe_keys() {
    use adgate_radius::mschapv2::{
        authenticator_response, mppe_keys, password_hash, password_hash_hash,
    };
    let hash_hash = password_hash_hash(&password_hash("alice-password"));
    let reply = format!(
        "Authenticated: Yes\\nUser-Session-Key: {}\\n.\\n",
        hex::encode(*hash_hash)
    );
    let lab = with_fake_winbind(Lab::new().await, &reply);
    for user in ["alice", "CORP\\alice"] {
        let request = ms_chap(user, "alice-password");
        let Credential::MsChapV2(sent) = &request.credential else {
            unreachable!()
        };
        let nt_response = sent.nt_response;
        let Reply::Accept { attributes } = lab.access(request).await else {
            panic!("{user}: not accepted");
        };
        let expected_s = authenticator_response(
            &hash_hash,
            &nt_response,
            &PEER_CHALLENGE,
            &AUTHENTICATOR_CHALLENGE,
            b"alice",
        );
        assert_eq!(
            microsoft(&attributes, 26).unwrap(),
            [&[0x42], expected_s.as_bytes()].concat(),
            "{user}: MS-CHAP2-Success"
        );
        let keys = mppe_keys(&hash_hash, &nt_response);
        let pairs: Vec<(u8, Vec<u8>)> = attributes
            .iter()
            .map(|attribute| (attribute.attribute_type(), attribute.value().to_vec()))
            .collect();
        let (recv, send) =
            recover_mppe_keys(&SharedSecret::new(SECRET.to_vec()), &[7; 16], &pairs).unwrap();
        assert_eq!(recv.as_slice(), keys.receive.as_slice(), "{user}");
        assert_eq!(send.as_slice(), keys.send.as_slice(), "{user}");
        assert_eq!(joined(&attributes, FILTER_ID), b"vpn-engineering", "{user}");
    }
    let records = lab.records();
    assert!(records
        .iter()
        .all(|r| r["method"] == "mschapv2" && r["verdict"] == "accept"));
    // Nothing of the exchange reaches the trail.
    let trail = records
        .iter()
        .map(Value::to_string)
        .collect::<String>()
        .to_lowercase();
    assert!(!trail.contains(&hex::encode(*hash_hash)));
    assert!(!trail.contains(&hex::encode(PEER_CHALLENGE)));
    assert!(!trail.contains(&hex::encode(AUTHENTICATOR_CHALLENGE)));
}

#[tokio::test]
async fn ms_chapv2_refusals_are_judged_before_winbind_and_say_691() {
    let lab = with_fake_winbind(
        Lab::new().await,
        "Authenticated: No\\nAuthentication-Error: When trying to update a password, this return \
         status indicates that the value provided as the current password is not correct.\\n.\\n.\\n",
    );
    lab.directory
        .add_user(MemoryUser::new("dave", "dave-password").member_of(TELEWORK));
    lab.directory
        .change_user("dave", |dave| dave.state.user_account_control |= 0x2);
    for (user, reason) in [
        ("bob", "telework_off"),
        ("dave", "account_disabled"),
        ("nobody", "unknown_user"),
    ] {
        let Reply::RejectWith { attributes } = lab.access(ms_chap(user, "whatever")).await else {
            panic!("{user}: not a reject with MS-CHAP-Error");
        };
        let error = String::from_utf8(microsoft(&attributes, 2).unwrap()[1..].to_vec()).unwrap();
        assert!(
            error.starts_with("E=691 R=0 C=") && error.ends_with(" V=3"),
            "{user}: {error}"
        );
        assert_eq!(lab.decisions().last().unwrap().1, reason);
    }
    assert_eq!(
        winbind_spawns(&lab),
        0,
        "winbind was asked about a refused account"
    );
    assert!(matches!(
        lab.access(ms_chap("alice", "wrong")).await,
        Reply::RejectWith { .. }
    ));
    assert_eq!(lab.decisions().last().unwrap().1, "bad_password");
    assert_eq!(winbind_spawns(&lab), 1);
    assert!(lab.records().iter().all(|r| r["method"] == "mschapv2"));
}

#[tokio::test]
async fn ms_chapv2_without_its_section_is_unsupported_and_winbind_down_is_unavailable() {
    let lab = Lab::new().await;
    assert_eq!(
        lab.access(ms_chap("alice", "alice-password")).await,
        Reply::Reject
    );
    assert_eq!(lab.decisions().last().unwrap().1, "unsupported_credential");
    let lab = with_fake_winbind(
        Lab::new().await,
        "Authenticated: No\\nAuthentication-Error: Reading winbind reply failed!\\n.\\n.\\n",
    );
    assert!(matches!(
        lab.access(ms_chap("alice", "alice-password")).await,
        Reply::RejectWith { .. }
    ));
    assert_eq!(
        lab.decisions().last().unwrap(),
        &("reject".to_owned(), "directory_unavailable".to_owned())
    );
}

#[tokio::test]
async fn ms_chapv2_bad_passwords_feed_the_throttle_and_a_throttled_login_asks_no_dc() {
    let lab = Lab::with_throttle(ThrottleSettings {
        max_failures: 2,
        window: Duration::from_secs(60),
        familiar_for: Duration::from_secs(30 * 86_400),
    })
    .await;
    let lab = with_fake_winbind(
        lab,
        "Authenticated: No\\nAuthentication-Error: NT_STATUS_WRONG_PASSWORD\\n.\\n.\\n",
    );
    for _ in 0..2 {
        lab.access(ms_chap("alice", "wrong")).await;
    }
    let asked = lab.directory.questions_asked();
    lab.access(ms_chap("CORP\\alice", "alice-password")).await;
    assert_eq!(lab.directory.questions_asked(), asked, "AD was asked");
    let reasons: Vec<String> = lab.decisions().into_iter().map(|(_, r)| r).collect();
    assert_eq!(reasons, ["bad_password", "bad_password", "throttled"]);
    let methods: Vec<Value> = lab.records().iter().map(|r| r["method"].clone()).collect();
    assert!(
        methods.iter().all(|method| method == "mschapv2"),
        "{methods:?}"
    );
}

#[tokio::test]
async fn a_reload_with_the_same_mschapv2_settings_keeps_the_running_helpers() {
    let reply = "Authenticated: No\\nAuthentication-Error: NT_STATUS_WRONG_PASSWORD\\n.\\n.\\n";
    let mut lab = with_fake_winbind(Lab::new().await, reply);
    lab.access(ms_chap("alice", "wrong")).await;
    assert_eq!(winbind_spawns(&lab), 1);
    let policy = || PolicyConfig {
        telework_group: TELEWORK.into(),
        reply: Vec::new(),
    };
    let settings = lab.gatekeeper.mschapv2.as_ref().unwrap().settings().clone();
    let throttle = lab.gatekeeper.throttle.settings();
    let same = adgate_authz::Winbind::new(settings.clone()).unwrap();
    lab.gatekeeper = lab.gatekeeper.successor(
        Authorizer::new(lab.directory.clone(), policy()),
        throttle,
        None,
        Some(same),
    );
    lab.access(ms_chap("alice", "wrong")).await;
    assert_eq!(
        winbind_spawns(&lab),
        1,
        "the running helper served the reloaded gatekeeper"
    );

    let changed = adgate_authz::Winbind::new(adgate_authz::WinbindSettings {
        helpers: 2,
        ..settings
    })
    .unwrap();
    lab.gatekeeper = lab.gatekeeper.successor(
        Authorizer::new(lab.directory.clone(), policy()),
        throttle,
        None,
        Some(changed),
    );
    lab.access(ms_chap("alice", "wrong")).await;
    assert_eq!(winbind_spawns(&lab), 2, "new settings, new helpers");
    lab.gatekeeper = lab.gatekeeper.successor(
        Authorizer::new(lab.directory.clone(), policy()),
        throttle,
        None,
        None,
    );
    lab.access(ms_chap("alice", "wrong")).await;
    assert_eq!(lab.decisions().last().unwrap().1, "unsupported_credential");
}
