//! A crash under load (kill -9 while logins are in flight) loses no acknowledged decision:
//! after a restart the trail verifies (a torn last line, if any, is sealed) and every
//! Access-Accept a NAS received has its record.
// An integration test: its helpers, outside the #[test] functions clippy.toml covers, may
// panic too (a panic is how a test fails).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

mod common;

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use adgate_radius::{ClientOptions, RadiusClient, ResponseCode, SharedSecret};
use common::{adgate_command, Adgate, Lab};

const NASES: usize = 6;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs the lab AD: deploy/test.sh"]
async fn kill_9_under_load_keeps_every_acknowledged_accept() {
    let mut adgate = Adgate::start();
    let accepted_total = Arc::new(AtomicUsize::new(0));
    let loads: Vec<_> = (0..NASES)
        .map(|n| {
            let nas = RadiusClient::new(
                adgate.address,
                SharedSecret::new(Lab::get().radius_secret()),
                ClientOptions {
                    timeout: Duration::from_secs(2),
                    retries: 0,
                    send_message_authenticator: true,
                    nas_identifier: Some(format!("load-{n}")),
                },
            )
            .unwrap();
            let accepted_total = accepted_total.clone();
            tokio::spawn(async move {
                let password = Lab::get().fixture_password();
                let mut accepted = 0;
                // Until adgate is gone: then the login gets no answer.
                while let Ok(response) = nas.pap(b"alice", &password).await {
                    if response.code == ResponseCode::Accept {
                        accepted += 1;
                        accepted_total.fetch_add(1, Ordering::Relaxed);
                    }
                }
                (format!("load-{n}"), accepted)
            })
        })
        .collect();
    while accepted_total.load(Ordering::Relaxed) < 100 {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    adgate.kill();
    let mut received: HashMap<String, usize> = HashMap::new();
    for load in loads {
        let (nas, accepted) = load.await.unwrap();
        received.insert(nas, accepted);
    }

    adgate.restart();
    adgate.stop();
    let audit_dir = adgate.audit_dir();
    let (code, text) =
        adgate_command(&["audit".as_ref(), "verify".as_ref(), audit_dir.as_os_str()]);
    assert_eq!(code, 0, "{text}");

    let trail = std::fs::read_to_string(audit_dir.join("audit.jsonl")).unwrap();
    let mut recorded: HashMap<String, usize> = HashMap::new();
    for record in trail
        .lines()
        .filter_map(|line| serde_json::from_str::<serde_json::Value>(line).ok())
        .filter(|record| record["verdict"] == "accept")
    {
        let nas = record["nas"]["nas_identifier"]
            .as_str()
            .unwrap_or("")
            .to_owned();
        *recorded.entry(nas).or_default() += 1;
    }
    for (nas, accepted) in &received {
        let records = recorded.get(nas).copied().unwrap_or(0);
        assert!(
            records >= *accepted,
            "{nas} received {accepted} Access-Accepts but the trail has {records} accept records"
        );
    }
}
