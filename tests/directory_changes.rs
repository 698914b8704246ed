//! An admin's change in AD takes effect on the very next login: no positive decision is cached.
//! These tests change AD (through samba-tool) for users reserved to them, and put them back.
// An integration test: its helpers, outside the #[test] functions clippy.toml covers, may
// panic too (a panic is how a test fails).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

mod common;

use adgate_radius::ResponseCode;
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
