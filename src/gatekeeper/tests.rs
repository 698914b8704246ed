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
use crate::eap_tls::{EapTlsLoginSettings, EapTlsLogins};
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
            tls: MutualTlsSettings {
                certificate_file: write(self.dir.path(), "server.pem", &server.certificate_pem()),
                private_key_file: write(self.dir.path(), "server.key", &server.key_pem()),
                ca_file: write(self.dir.path(), "ca.pem", &ca.pem()),
                crl_files: Vec::new(),
                require_extended_master_secret: true,
            },
            fragment_size: 1024,
            identity_policy: IdentityPolicy::default(),
            allow_anonymous_identity: false,
            max_conversations: 16,
            conversation_timeout: Duration::from_secs(30),
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
