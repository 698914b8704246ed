//! The crate against a real Active Directory (Samba AD DC): every fixture account gives the
//! decision the policy promises, injection attempts find nobody, and failover and timeouts
//! behave.
//!
//! These tests need the lab: run `deploy/lab.sh up` first, then run them inside its network
//! namespace (the DC listens only there), e.g.
//! `ip netns exec adgate-lab cargo test -p adgate-authz --test lab -- --ignored`.
//! They read /var/lib/adgate-lab/lab.env, or `$ADGATE_LAB_DIR/lab.env`.
//! They modify nothing in AD; the one wrong-password test costs alice one failed bind (the
//! lockout threshold is 10).
// An integration test: its helpers, outside the #[test] functions clippy.toml covers, may
// panic too (a panic is how a test fails).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

mod common;

use std::time::{Duration, Instant};

use adgate_authz::{Authorizer, Decision, Directory, PolicyConfig, Reason};
use common::Lab;
use zeroize::Zeroizing;

/// A loopback port on which nothing listens.
fn refused_url() -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    format!(
        "ldaps://127.0.0.1:{}",
        listener.local_addr().unwrap().port()
    )
}

#[tokio::test]
#[ignore = "needs deploy/lab.sh up; run inside `ip netns exec adgate-lab`"]
async fn every_fixture_gets_its_decision() {
    let lab = Lab::load();
    let authorizer = lab.authorizer();
    let cases = [
        ("alice", Decision::Accept),
        ("alice@corp.example.test", Decision::Accept),
        ("CORP\\alice", Decision::Accept),
        ("corp\\alice", Decision::Accept),
        ("heidi.jones@corp.example.test", Decision::Accept),
        ("heidi", Decision::Accept),
        ("grace", Decision::Accept),
        ("bob", Decision::Reject(Reason::AccountDisabled)),
        ("carol", Decision::Reject(Reason::AccountExpired)),
        ("dave", Decision::Reject(Reason::AccountLocked)),
        ("erin", Decision::Reject(Reason::MustChangePassword)),
        ("frank", Decision::Reject(Reason::TeleworkOff)),
        ("ivan", Decision::Reject(Reason::DialinDenied)),
        ("nobody", Decision::Reject(Reason::UnknownUser)),
        (
            "nobody@corp.example.test",
            Decision::Reject(Reason::UnknownUser),
        ),
        ("OTHER\\alice", Decision::Reject(Reason::UnknownUser)),
        // heidi's UPN is not sAMAccountName@realm.
        (
            "heidi@corp.example.test",
            Decision::Reject(Reason::UnknownUser),
        ),
    ];
    for (user, expected) in cases {
        let outcome = lab.login(&authorizer, user).await;
        assert_eq!(outcome.decision, expected, "{user}");
        if !matches!(expected, Decision::Reject(Reason::UnknownUser)) {
            assert!(
                outcome.account.is_some(),
                "{user}: the account should be named"
            );
        }
    }
}

#[tokio::test]
#[ignore = "needs deploy/lab.sh up; run inside `ip netns exec adgate-lab`"]
async fn the_account_is_identified_in_ad_formats() {
    let lab = Lab::load();
    let outcome = lab
        .login(&lab.authorizer(), "heidi.jones@corp.example.test")
        .await;
    let account = outcome.account.expect("heidi resolves");
    assert_eq!(account.dn, "CN=heidi,CN=Users,DC=corp,DC=example,DC=test");
    assert_eq!(account.sam_account_name, "heidi");
    assert_eq!(
        account.user_principal_name.as_deref(),
        Some("heidi.jones@corp.example.test")
    );
    assert!(
        account.object_sid.starts_with("S-1-5-21-"),
        "{}",
        account.object_sid
    );
    assert_eq!(
        account.object_sid.split('-').count(),
        8,
        "{}",
        account.object_sid
    );
    let groups: Vec<usize> = account.object_guid.split('-').map(str::len).collect();
    assert_eq!(groups, [8, 4, 4, 4, 12], "{}", account.object_guid);
}

#[tokio::test]
#[ignore = "needs deploy/lab.sh up; run inside `ip netns exec adgate-lab`"]
async fn a_wrong_password_is_bad_password() {
    // Costs alice one failed bind (lockout threshold 10), reset by the login that follows.
    let lab = Lab::load();
    let outcome = lab
        .authorizer()
        .check_password(b"alice", b"definitely-not-the-password")
        .await;
    assert_eq!(outcome.decision, Decision::Reject(Reason::BadPassword));
    assert_eq!(outcome.account.unwrap().sam_account_name, "alice");
    // A successful bind resets badPwdCount, so repeated runs never add up to a lockout.
    assert_eq!(
        lab.login(&lab.authorizer(), "alice").await.decision,
        Decision::Accept
    );
}

#[tokio::test]
#[ignore = "needs deploy/lab.sh up; run inside `ip netns exec adgate-lab`"]
async fn empty_password_never_binds() {
    let lab = Lab::load();
    let outcome = lab.authorizer().check_password(b"alice", b"").await;
    assert_eq!(outcome.decision, Decision::Reject(Reason::EmptyPassword));
    // The record still names the account.
    assert_eq!(outcome.account.unwrap().sam_account_name, "alice");
}

#[tokio::test]
#[ignore = "needs deploy/lab.sh up; run inside `ip netns exec adgate-lab`"]
async fn injection_attempts_find_nobody() {
    let lab = Lab::load();
    let authorizer = lab.authorizer();
    for user in [
        "*",
        "a*",
        "al*",
        "*)(objectClass=*",
        "alice)(cn=*",
        "alice)(|(sAMAccountName=*",
        "*@corp.example.test",
        "alice\\",
        "\\",
        "alice\0",
        "CORP\\*",
        "CORP\\alice)(cn=*",
    ] {
        let outcome = lab.login(&authorizer, user).await;
        assert_eq!(
            outcome.decision,
            Decision::Reject(Reason::UnknownUser),
            "{user:?}"
        );
        assert_eq!(outcome.account, None, "{user:?}");
    }
}

#[tokio::test]
#[ignore = "needs deploy/lab.sh up; run inside `ip netns exec adgate-lab`"]
async fn failover_to_the_second_url() {
    let lab = Lab::load();
    let authorizer = lab.authorizer_for(
        vec![refused_url(), lab.get("LDAP_URL").into()],
        Duration::from_secs(2),
    );
    assert_eq!(
        lab.login(&authorizer, "alice").await.decision,
        Decision::Accept
    );
    assert_eq!(
        lab.login(&authorizer, "bob").await.decision,
        Decision::Reject(Reason::AccountDisabled)
    );
}

#[tokio::test]
#[ignore = "needs deploy/lab.sh up; run inside `ip netns exec adgate-lab`"]
async fn failover_past_a_silent_server() {
    let lab = Lab::load();
    // Accepts TCP, never answers: the first URL costs one timeout, then the DC answers.
    let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let silent_url = format!("ldaps://127.0.0.1:{}", silent.local_addr().unwrap().port());
    // The lab's 3 s: the DC gets the timeout as a server-side limit in whole seconds, and a
    // sub-second one made a busy DC answer timeLimitExceeded (seen once in CI).
    let timeout = Duration::from_secs(3);
    let authorizer = lab.authorizer_for(vec![silent_url, lab.get("LDAP_URL").into()], timeout);
    let started = Instant::now();
    assert_eq!(
        lab.login(&authorizer, "alice").await.decision,
        Decision::Accept
    );
    assert!(started.elapsed() < 4 * timeout, "{:?}", started.elapsed());
}

#[tokio::test]
#[ignore = "needs deploy/lab.sh up; run inside `ip netns exec adgate-lab`"]
async fn only_unreachable_urls_fail_closed_within_the_timeout() {
    let lab = Lab::load();
    let timeout = Duration::from_secs(1);
    let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let silent_url = format!("ldaps://127.0.0.1:{}", silent.local_addr().unwrap().port());
    for url in [refused_url(), silent_url] {
        let authorizer = lab.authorizer_for(vec![url.clone()], timeout);
        let started = Instant::now();
        let outcome = lab.login(&authorizer, "alice").await;
        let elapsed = started.elapsed();
        assert_eq!(
            outcome.decision,
            Decision::Reject(Reason::DirectoryUnavailable),
            "{url}"
        );
        assert!(
            elapsed < timeout + Duration::from_millis(500),
            "{url}: {elapsed:?}"
        );
    }
}

#[tokio::test]
#[ignore = "needs deploy/lab.sh up; run inside `ip netns exec adgate-lab`"]
async fn a_url_naming_the_dc_by_an_address_not_in_its_certificate_fails_closed() {
    let lab = Lab::load();
    // Reaching the DC by IP: its certificate names dc1.corp.example.test only.
    let port = lab.get("LDAP_URL").rsplit(':').next().unwrap().to_owned();
    let authorizer = lab.authorizer_for(
        vec![format!("ldaps://127.0.0.1:{port}")],
        Duration::from_secs(2),
    );
    assert_eq!(
        lab.login(&authorizer, "alice").await.decision,
        Decision::Reject(Reason::DirectoryUnavailable)
    );
}

#[tokio::test]
#[ignore = "needs deploy/lab.sh up; run inside `ip netns exec adgate-lab`"]
async fn starttls_works() {
    let lab = Lab::load();
    let host = lab.get("DC_FQDN");
    let mut config = lab.config(vec![format!("ldap://{host}:389")], Duration::from_secs(5));
    config.starttls = true;
    let policy = PolicyConfig {
        telework_group: lab.get("TELEWORK_GROUP").into(),
        reply: Vec::new(),
    };
    let authorizer = Authorizer::new(Directory::new(config).unwrap(), policy);
    assert_eq!(
        lab.login(&authorizer, "alice").await.decision,
        Decision::Accept
    );
}

#[tokio::test]
#[ignore = "needs deploy/lab.sh up; run inside `ip netns exec adgate-lab`"]
async fn a_misspelt_telework_group_is_not_reported_as_telework_off() {
    let lab = Lab::load();
    let directory =
        Directory::new(lab.config(vec![lab.get("LDAP_URL").into()], Duration::from_secs(5)))
            .unwrap();
    let policy = PolicyConfig {
        telework_group: lab
            .get("TELEWORK_GROUP")
            .replace("Telework-Allowed", "Telework-Alowed"),
        reply: Vec::new(),
    };
    let authorizer = Authorizer::new(directory, policy);
    for user in ["alice", "frank"] {
        let outcome = lab.login(&authorizer, user).await;
        assert_eq!(
            outcome.decision,
            Decision::Reject(Reason::DirectoryUnavailable),
            "{user}"
        );
    }
}

#[tokio::test]
#[ignore = "needs deploy/lab.sh up; run inside `ip netns exec adgate-lab`"]
async fn a_refused_service_account_fails_closed() {
    let lab = Lab::load();
    let mut config = lab.config(vec![lab.get("LDAP_URL").into()], Duration::from_secs(5));
    config.bind_password = Zeroizing::new("not-the-service-password".into());
    let policy = PolicyConfig {
        telework_group: lab.get("TELEWORK_GROUP").into(),
        reply: Vec::new(),
    };
    let authorizer = Authorizer::new(Directory::new(config).unwrap(), policy);
    let outcome = lab.login(&authorizer, "alice").await;
    assert_eq!(
        outcome.decision,
        Decision::Reject(Reason::DirectoryUnavailable)
    );
    // The failed service bind counts toward svc-adgate's lockout; a good one resets it.
    assert_eq!(
        lab.login(&lab.authorizer(), "alice").await.decision,
        Decision::Accept
    );
}

/// A TCP relay to the DC whose connections can be cut and which can be stopped and restarted,
/// standing in for a DC restart or a network failure.
struct Relay {
    port: u16,
    upstream: String,
    tasks: std::sync::Arc<std::sync::Mutex<Vec<tokio::task::JoinHandle<()>>>>,
    listener: Option<tokio::task::JoinHandle<()>>,
}

impl Relay {
    async fn start(upstream: String) -> Relay {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let mut relay = Relay {
            port,
            upstream,
            tasks: Default::default(),
            listener: None,
        };
        relay.serve(listener);
        relay
    }

    fn serve(&mut self, listener: tokio::net::TcpListener) {
        let upstream = self.upstream.clone();
        let tasks = self.tasks.clone();
        self.listener = Some(tokio::spawn(async move {
            while let Ok((mut client, _)) = listener.accept().await {
                let upstream = upstream.clone();
                let task = tokio::spawn(async move {
                    if let Ok(mut server) = tokio::net::TcpStream::connect(upstream).await {
                        let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
                    }
                });
                tasks.lock().unwrap().push(task);
            }
        }));
    }

    /// Drop every relayed connection (both ends see the TCP connection close).
    fn cut(&self) {
        for task in self.tasks.lock().unwrap().drain(..) {
            task.abort();
        }
    }

    /// Stop accepting and cut everything: the DC is "down".
    fn stop(&mut self) {
        if let Some(listener) = self.listener.take() {
            listener.abort();
        }
        self.cut();
    }

    /// Accept again on the same port: the DC is "back".
    async fn restart(&mut self) {
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", self.port))
            .await
            .unwrap();
        self.serve(listener);
    }
}

#[tokio::test]
#[ignore = "needs deploy/lab.sh up; run inside `ip netns exec adgate-lab`"]
async fn broken_connections_are_replaced() {
    let lab = Lab::load();
    let dc_port = lab.get("LDAP_URL").rsplit(':').next().unwrap().to_owned();
    let mut relay = Relay::start(format!("127.0.0.1:{dc_port}")).await;
    // Same certificate name, through the relay.
    let url = format!("ldaps://{}:{}", lab.get("DC_FQDN"), relay.port);
    let authorizer = lab.authorizer_for(vec![url], Duration::from_secs(2));
    assert_eq!(
        lab.login(&authorizer, "alice").await.decision,
        Decision::Accept
    );

    // Connections die under us (DC restart, idle timeout, firewall): the next login reconnects
    // transparently.
    relay.cut();
    assert_eq!(
        lab.login(&authorizer, "alice").await.decision,
        Decision::Accept
    );

    // The DC is down: fail closed, quickly.
    relay.stop();
    tokio::time::sleep(Duration::from_millis(100)).await;
    let started = Instant::now();
    assert_eq!(
        lab.login(&authorizer, "alice").await.decision,
        Decision::Reject(Reason::DirectoryUnavailable)
    );
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "{:?}",
        started.elapsed()
    );

    // It is back: the very next login works again.
    relay.restart().await;
    assert_eq!(
        lab.login(&authorizer, "alice").await.decision,
        Decision::Accept
    );
    assert_eq!(
        lab.login(&authorizer, "frank").await.decision,
        Decision::Reject(Reason::TeleworkOff)
    );
}
