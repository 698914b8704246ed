//! Forwarding to a real rsyslog (Debian's rsyslogd, our own instance with its own config, pid
//! file and work directory, on a loopback port inside the lab namespace). The collector is
//! stopped during a run of logins (segments rotating meanwhile), and adgate restarted while it
//! is down: logins go on regardless, and rsyslog's file ends up with every record, in order (a
//! record may arrive twice after a reconnect, recognisable by its `seq`).
// An integration test: its helpers, outside the #[test] functions clippy.toml covers, may
// panic too (a panic is how a test fails).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

mod common;
mod rsyslog;

use std::path::Path;

use adgate_radius::ResponseCode;
use common::Adgate;
use rsyslog::Rsyslog;
use serde_json::Value;

fn last_seq(audit_dir: &Path) -> u64 {
    let text = std::fs::read_to_string(audit_dir.join("audit.jsonl")).unwrap();
    let last: Value = serde_json::from_str(text.lines().last().unwrap()).unwrap();
    last["seq"].as_u64().unwrap()
}

async fn logins(adgate: &Adgate, users: &[&str], sent: &mut Vec<String>) {
    for user in users {
        let code = adgate.login(user).await;
        let expected = if *user == "alice" {
            ResponseCode::Accept
        } else {
            ResponseCode::Reject
        };
        assert_eq!(code, expected, "{user}");
        sent.push((*user).to_owned());
    }
}

#[tokio::test]
#[ignore = "needs the lab AD: deploy/test.sh"]
async fn every_record_reaches_rsyslog_in_order_across_its_outage_and_an_adgate_restart() {
    let mut rsyslog = Rsyslog::start();
    let spool = tempfile::tempdir().unwrap();
    let mut adgate = Adgate::start_with(|config| {
        format!(
            "{config}segment_max_bytes = 2048\n\n[syslog]\nurl = \"tcp://127.0.0.1:{}\"\nspool_dir = \"{}\"\nhostname = \"gw1.corp.example.test\"\n",
            rsyslog.port,
            spool.path().display()
        )
    });
    let mut sent = Vec::new();
    let round = ["alice", "frank", "alice", "ivan", "alice"];
    logins(&adgate, &round, &mut sent).await;
    rsyslog.wait_for(last_seq(&adgate.audit_dir()));

    // Down while adgate runs, back while it runs.
    rsyslog.stop();
    logins(&adgate, &round, &mut sent).await;
    rsyslog.restart();
    logins(&adgate, &round, &mut sent).await;
    rsyslog.wait_for(last_seq(&adgate.audit_dir()));
    // Down again, and adgate restarted before it comes back: the position survives.
    rsyslog.stop();
    logins(&adgate, &round, &mut sent).await;
    adgate.stop();
    rsyslog.restart();
    adgate.restart();
    logins(&adgate, &round, &mut sent).await;

    let last = last_seq(&adgate.audit_dir());
    let records = rsyslog.wait_for(last);
    let mut first_seen = Vec::new();
    let mut users = Vec::new();
    for record in &records {
        let seq = record["seq"].as_u64().unwrap();
        if first_seen.last().is_some_and(|latest| seq <= *latest) {
            continue; // sent again after a reconnect
        }
        first_seen.push(seq);
        if record["type"] == "config" {
            continue; // what each start loaded
        }
        users.push(record["user_name"].as_str().unwrap().to_owned());
    }
    assert_eq!(
        first_seen,
        (1..=last).collect::<Vec<_>>(),
        "{}",
        rsyslog.received().display()
    );
    assert_eq!(users, sent);
}
