//! winbindd going away under a running adgate: MS-CHAPv2 logins are refused as
//! `directory_unavailable` at once (no hang), and work again as soon as winbindd is back,
//! without restarting adgate; `check-config` says which. Its own test binary: it stops the lab member's winbindd, which
//! the other MS-CHAPv2 tests must not see.
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

use common::mschapv2::ms_chap_login;
use common::{adgate_command, with_mschapv2, without_reject_delay, Adgate, Lab};

#[tokio::test]
#[ignore = "needs the lab AD: deploy/test.sh"]
async fn winbindd_down_fails_closed_at_once_and_its_return_needs_no_restart() {
    let lab = Lab::get();
    let password = String::from_utf8(lab.fixture_password()).unwrap();
    let adgate = Adgate::start_with(|config| without_reject_delay(with_mschapv2(config)));
    assert!(ms_chap_login(adgate.address, "alice", &password).accepted());

    lab.lab_sh(&["member", "stop"]);
    let started = Instant::now();
    let login = ms_chap_login(adgate.address, "alice", &password);
    let elapsed = started.elapsed();
    let config = adgate.config_path();
    let (status, checked) = adgate_command(&[
        "check-config".as_ref(),
        "--config".as_ref(),
        config.as_os_str(),
    ]);
    let restart = lab.try_lab_sh(&["member", "start"]);
    assert_eq!(status, 0, "a warning, not a failure: {checked}");
    assert!(
        checked.contains("warning: mschapv2") && checked.contains("winbindd does not answer"),
        "{checked}"
    );
    assert!(login.rejected(), "{}", login.output);
    assert!(elapsed < Duration::from_secs(2), "{elapsed:?}");
    restart.unwrap();

    assert!(ms_chap_login(adgate.address, "alice", &password).accepted());
    let (_, checked) = adgate_command(&[
        "check-config".as_ref(),
        "--config".as_ref(),
        config.as_os_str(),
    ]);
    assert!(checked.contains("mschapv2: winbind answers"), "{checked}");
    let records = adgate.wait_for_records(3);
    let reasons: Vec<_> = records.iter().map(|r| r["reason"].clone()).collect();
    assert_eq!(
        reasons,
        [
            serde_json::Value::Null,
            "directory_unavailable".into(),
            serde_json::Value::Null
        ]
    );
}
