//! Test support: trails written through the real writer, for the tests of the code that writes
//! and reads them (writer, retention, the syslog follower).

use super::trail::AuditWriter;
use super::{AuditTrail, NasRecord, Record, TrailSettings, Verdict};
use crate::reason::Reason;

/// A record from NAS `vpn1` at 192.0.2.1 with RADIUS Identifier `n` (a discard is `malformed`).
pub fn record(verdict: Verdict, n: u8) -> Record {
    let nas = NasRecord {
        name: Some("vpn1".into()),
        address: "192.0.2.1:1812".parse().unwrap(),
        nas_identifier: None,
        nas_ip_address: None,
    };
    let mut record = Record::new(nas, verdict);
    record.radius_identifier = Some(n);
    record.reason = (verdict == Verdict::Discard).then_some(Reason::Malformed);
    record
}

/// Opens the trail, appends `records` one after the other (a batch each, so segments rotate
/// between them), and stops the writer.
pub async fn write(settings: TrailSettings, records: Vec<Record>) {
    let (trail, writer) = AuditTrail::open(settings).unwrap();
    for record in records {
        trail.append(&record).await.unwrap();
    }
    stop(trail, writer).await;
}

/// Like `write`, but all appends at once from separate tasks (batched by the writer).
pub async fn write_concurrently(settings: TrailSettings, records: Vec<Record>) {
    let (trail, writer) = AuditTrail::open(settings).unwrap();
    let tasks: Vec<_> = records
        .into_iter()
        .map(|record| {
            let trail = trail.clone();
            tokio::spawn(async move { trail.append(&record).await })
        })
        .collect();
    for task in tasks {
        task.await.unwrap().unwrap();
    }
    stop(trail, writer).await;
}

/// Drops the last handle and waits for the writer to finish.
async fn stop(trail: AuditTrail, writer: AuditWriter) {
    drop(trail);
    tokio::task::spawn_blocking(move || writer.finish())
        .await
        .unwrap();
}
