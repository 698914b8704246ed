//! `adgate audit query`: one user's decisions in time order, whichever form of the name the
//! NAS sent, across segments, and only within `--since`/`--until`.
// An integration test: its helpers, outside the #[test] functions clippy.toml covers, may
// panic too (a panic is how a test fails).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

mod common;

use common::{adgate_command, Adgate};

#[tokio::test]
#[ignore = "needs the lab AD: deploy/test.sh"]
async fn a_users_decisions_are_listed_in_time_order_whatever_name_form_was_sent() {
    let mut adgate = Adgate::start_with(|config| format!("{config}segment_max_bytes = 1024\n"));
    for user in [
        "alice",
        "frank",
        "CORP\\alice",
        "alice@corp.example.test",
        "frank",
    ] {
        adgate.login(user).await;
    }
    adgate.stop();
    let dir = adgate.audit_dir();

    let (code, text) = adgate_command(&[
        "audit".as_ref(),
        "query".as_ref(),
        dir.as_os_str(),
        "--user".as_ref(),
        "ALICE".as_ref(),
    ]);
    assert_eq!(code, 0, "{text}");
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 3, "{text}");
    for (line, sent) in lines
        .iter()
        .zip(["alice", "CORP\\alice", "alice@corp.example.test"])
    {
        assert!(line.contains(&format!("user={sent} ")), "{line}");
        assert!(line.contains("  accept  "), "{line}");
        assert!(line.contains("account=CN=alice,CN=Users"), "{line}");
    }
    let mut times: Vec<&str> = lines
        .iter()
        .map(|l| l.split_whitespace().next().unwrap())
        .collect();
    let in_order = times.clone();
    times.sort();
    assert_eq!(times, in_order);

    let (code, text) = adgate_command(&[
        "audit".as_ref(),
        "query".as_ref(),
        dir.as_os_str(),
        "--user".as_ref(),
        "frank".as_ref(),
        "--since".as_ref(),
        "2999-01-01".as_ref(),
    ]);
    assert_eq!(code, 0, "{text}");
    assert_eq!(text.trim(), "no records for \"frank\"");
}
