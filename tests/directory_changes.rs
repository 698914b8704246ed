//! An admin's change in AD takes effect on the very next login: no positive decision is cached.
//! These tests change AD (through samba-tool) for users reserved to them, and put them back.
//! That holds for the reply groups too, which a name seen before has asked in its account search
//! (see `reply_hints` in adgate-authz).
// An integration test: its helpers, outside the #[test] functions clippy.toml covers, may
// panic too (a panic is how a test fails).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

mod common;

use adgate_radius::{Response, ResponseCode};
use common::{restore_or_report, Adgate, Lab};

/// Puts a fixture back the way the lab made it when dropped: at the point the test means to,
/// or during unwinding if the test fails half-way.
struct Restore(&'static [&'static str]);

impl Drop for Restore {
    fn drop(&mut self) {
        let mut args = vec!["tool"];
        args.extend_from_slice(self.0);
        restore_or_report(&args);
    }
}

#[tokio::test]
#[ignore = "needs the lab AD: deploy/test.sh"]
async fn leaving_the_telework_group_ends_access_at_the_next_login() {
    let lab = Lab::get();
    let adgate = Adgate::start();
    let password = lab.fixture_password();
    assert_eq!(
        adgate.pap("tgroup", &password).await.0.code,
        ResponseCode::Accept
    );

    let back_on_telework = Restore(&["group", "addmembers", "Telework-Allowed", "tgroup"]);
    lab.lab_sh(&[
        "tool",
        "group",
        "removemembers",
        "Telework-Allowed",
        "tgroup",
    ]);
    let (response, record) = adgate.pap("tgroup", &password).await;
    assert_eq!(response.code, ResponseCode::Reject);
    assert_eq!(record["reason"], "telework_off", "{record}");

    drop(back_on_telework);
    assert_eq!(
        adgate.pap("tgroup", &password).await.0.code,
        ResponseCode::Accept
    );
}

#[tokio::test]
#[ignore = "needs the lab AD: deploy/test.sh"]
async fn disabling_the_account_ends_access_at_the_next_login() {
    let lab = Lab::get();
    let adgate = Adgate::start();
    let password = lab.fixture_password();
    assert_eq!(
        adgate.pap("tdisable", &password).await.0.code,
        ResponseCode::Accept
    );

    let enabled_again = Restore(&["user", "enable", "tdisable"]);
    lab.lab_sh(&["tool", "user", "disable", "tdisable"]);
    let (response, record) = adgate.pap("tdisable", &password).await;
    assert_eq!(response.code, ResponseCode::Reject);
    assert_eq!(record["reason"], "account_disabled", "{record}");

    drop(enabled_again);
    assert_eq!(
        adgate.pap("tdisable", &password).await.0.code,
        ResponseCode::Accept
    );
}

/// The lab config with `[[policy.reply]]` giving VPN-Engineering's members a Filter-Id.
fn with_engineering_filter(config: String) -> String {
    let entry = format!(
        "\n[[policy.reply]]\ngroup = \"{}\"\nfilter_id = \"vpn-engineering\"\n\n[audit]",
        Lab::get().value("REPLY_GROUP")
    );
    config.replacen("\n[audit]", &entry, 1)
}

/// The Filter-Ids (RFC 2865 §5.11) of an accept.
fn filter_ids(accept: &Response) -> Vec<&[u8]> {
    assert_eq!(accept.code, ResponseCode::Accept, "{accept:?}");
    accept
        .attributes
        .iter()
        .filter(|(kind, _)| *kind == 11)
        .map(|(_, value)| value.as_slice())
        .collect()
}

#[tokio::test]
#[ignore = "needs the lab AD: deploy/test.sh"]
async fn joining_and_leaving_a_nested_reply_group_apply_at_the_next_login() {
    let lab = Lab::get();
    let adgate = Adgate::start_with(with_engineering_filter);
    let password = lab.fixture_password();
    // Twice each time: the second login asks with what the first found.
    for _ in 0..2 {
        let (accept, _) = adgate.pap("thours", &password).await;
        assert!(filter_ids(&accept).is_empty(), "{}", adgate.log());
    }

    // Team-Backend is in VPN-Engineering: thours is a member two levels down.
    let left_again = Restore(&["group", "removemembers", "Team-Backend", "thours"]);
    lab.lab_sh(&["tool", "group", "addmembers", "Team-Backend", "thours"]);
    for _ in 0..2 {
        let (accept, _) = adgate.pap("thours", &password).await;
        assert_eq!(
            filter_ids(&accept),
            [b"vpn-engineering"],
            "{}",
            adgate.log()
        );
    }

    drop(left_again);
    for _ in 0..2 {
        let (accept, _) = adgate.pap("thours", &password).await;
        assert!(filter_ids(&accept).is_empty(), "{}", adgate.log());
    }
}
