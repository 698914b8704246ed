//! What the crate finds in AD when the configuration leaves it to AD, against the lab DC: the
//! NetBIOS domain name (the domain's crossRef) when `netbios_domain` is not set, and the domain
//! controllers (DNS SRV `_ldap._tcp.dc._msdcs.<domain>`, served by the lab DC's own DNS inside
//! the lab namespace) when only `domain` is set.
//!
//! Run with the lab: `deploy/test.sh`, or `deploy/lab.sh up` and then
//! `ip netns exec adgate-lab cargo test -p adgate-authz --test discovery -- --ignored`.
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

use adgate_authz::{
    Authorizer, Decision, Directory, DirectoryChange, PolicyConfig, Reason, WatchSettings,
};
use common::Lab;
use tokio_util::sync::CancellationToken;

/// The DC the lab's SRV record names, as adgate addresses it: LDAPS on port 636.
const DC1: &str = "ldaps://dc1.corp.example.test:636";

/// An authorizer whose directory is configured by `edit` from the lab's (one URL, the
/// NetBIOS name set).
fn authorizer(lab: &Lab, edit: impl FnOnce(&mut adgate_authz::DirectoryConfig)) -> Authorizer {
    let mut config = lab.config(vec![lab.get("LDAP_URL").into()], Duration::from_secs(3));
    edit(&mut config);
    let policy = PolicyConfig {
        telework_group: lab.get("TELEWORK_GROUP").into(),
        reply: Vec::new(),
    };
    Authorizer::new(Directory::new(config).unwrap(), policy)
}

#[tokio::test]
#[ignore = "needs the lab AD: deploy/test.sh"]
async fn domain_user_names_work_with_the_netbios_name_read_from_ad() {
    let lab = Lab::load();
    let authorizer = authorizer(&lab, |config| config.netbios_domain = None);
    for (user, expected) in [
        ("CORP\\alice", Decision::Accept),
        ("corp\\alice", Decision::Accept),
        ("alice", Decision::Accept),
        ("EVIL\\alice", Decision::Reject(Reason::UnknownUser)),
        (
            "CORP.EXAMPLE.TEST\\alice",
            Decision::Reject(Reason::UnknownUser),
        ),
        ("CORP\\bob", Decision::Reject(Reason::AccountDisabled)),
    ] {
        let outcome = lab.login(&authorizer, user).await;
        assert_eq!(outcome.decision, expected, "{user}");
    }
}

#[tokio::test]
#[ignore = "needs the lab AD: deploy/test.sh"]
async fn a_configured_netbios_name_wins_over_ad() {
    let lab = Lab::load();
    let authorizer = authorizer(&lab, |config| {
        config.netbios_domain = Some("OTHER".into());
    });
    let outcome = lab.login(&authorizer, "OTHER\\alice").await;
    assert_eq!(outcome.decision, Decision::Accept);
    let outcome = lab.login(&authorizer, "CORP\\alice").await;
    assert_eq!(outcome.decision, Decision::Reject(Reason::UnknownUser));
}

#[tokio::test]
#[ignore = "needs the lab AD: deploy/test.sh"]
async fn the_domain_alone_finds_the_dc_by_dns_srv() {
    let lab = Lab::load();
    let domain = lab.get("DNS_DOMAIN").to_owned();
    let authorizer = authorizer(&lab, |config| {
        config.urls.clear();
        config.domain = Some(domain);
        config.netbios_domain = None;
    });
    for user in ["alice", "CORP\\alice", "heidi.jones@corp.example.test"] {
        let outcome = lab.login(&authorizer, user).await;
        assert_eq!(outcome.decision, Decision::Accept, "{user}");
    }
    assert_eq!(
        authorizer.first_reachable_dc().await.as_deref(),
        Some(DC1),
        "readiness follows the DC found"
    );
}

#[tokio::test]
#[ignore = "needs the lab AD: deploy/test.sh"]
async fn the_dc_found_by_dns_is_watched_for_changes() {
    let lab = Lab::load();
    let mut config = lab.config(Vec::new(), Duration::from_secs(3));
    config.domain = Some(lab.get("DNS_DOMAIN").into());
    let directory = Directory::new(config).unwrap();
    let cancel = CancellationToken::new();
    let (states, mut changes) = directory.watch_changes(WatchSettings::default(), cancel.clone());
    let change = tokio::time::timeout(Duration::from_secs(10), changes.recv())
        .await
        .expect("the watch registers within 10 s");
    assert_eq!(change, Some(DirectoryChange::Resynced { dc: DC1.into() }));
    let watched: Vec<String> = states.snapshot().into_iter().map(|s| s.url).collect();
    assert_eq!(watched, [DC1]);
    let health: Vec<String> = directory
        .dc_health()
        .snapshot()
        .into_iter()
        .map(|dc| dc.url)
        .collect();
    assert_eq!(health, [DC1], "the metrics list the DC found");
    cancel.cancel();
}

#[tokio::test]
#[ignore = "needs the lab AD: deploy/test.sh"]
async fn a_domain_without_dcs_in_dns_fails_closed_within_the_timeout() {
    let lab = Lab::load();
    let authorizer = authorizer(&lab, |config| {
        config.urls.clear();
        // Inside the lab's zone, so the DC's DNS answers at once: no such name.
        config.domain = Some("nodc.corp.example.test".into());
        config.timeout = Duration::from_secs(1);
    });
    let started = Instant::now();
    let outcome = lab.login(&authorizer, "alice").await;
    assert_eq!(
        outcome.decision,
        Decision::Reject(Reason::DirectoryUnavailable)
    );
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(authorizer.first_reachable_dc().await, None);
}
