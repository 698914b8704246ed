//! Durable, append-only writing of audit records with group commit. One writer thread owns the
//! file; callers hand it a serialized line and wait until the line is on disk (written and
//! fdatasync'ed). Lines that arrive while a sync is running are written and synced together, so
//! a burst of logins costs one sync, not one each. The file is only ever opened for appending:
//! records are never overwritten. If the file cannot be written, every waiting caller gets an
//! error (the handler then rejects: fail closed) and the next batch tries to reopen the file.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use tokio::sync::{mpsc, oneshot};

use super::Record;

/// Name of the trail file inside the audit directory.
const TRAIL_FILE: &str = "audit.jsonl";
/// Lines that may wait for the writer before `append` itself waits (back-pressure).
const QUEUE_DEPTH: usize = 4096;
/// Lines written under one fdatasync at most.
const MAX_BATCH: usize = 1024;

/// The record could not be made durable.
#[derive(Debug, Clone, thiserror::Error)]
#[error("audit trail unavailable: {0}")]
pub struct AuditError(String);

struct PendingLine {
    line: Vec<u8>,
    written: oneshot::Sender<Result<(), AuditError>>,
}

/// Handle to the trail; cheap to clone, shared by every request task.
#[derive(Clone)]
pub struct AuditTrail {
    queue: mpsc::Sender<PendingLine>,
}

/// Joins the writer thread once every `AuditTrail` handle is dropped.
pub struct AuditWriter(std::thread::JoinHandle<()>);

impl AuditWriter {
    /// Waits until every queued line has been written and the writer has stopped.
    pub fn finish(self) {
        if self.0.join().is_err() {
            tracing::error!("audit writer thread panicked");
        }
    }
}

impl AuditTrail {
    /// Opens (creating if needed, mode 0700) `dir` and the trail file in it, and starts the
    /// writer. Fails if the trail cannot be opened now, so a broken setup stops the start.
    pub fn open(dir: &Path) -> Result<(AuditTrail, AuditWriter), AuditError> {
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)
            .map_err(|e| AuditError(format!("cannot create {}: {e}", dir.display())))?;
        let path = dir.join(TRAIL_FILE);
        let file = open_for_append(&path)?;
        let (queue, receiver) = mpsc::channel(QUEUE_DEPTH);
        let writer = std::thread::Builder::new()
            .name("audit-writer".into())
            .spawn(move || write_batches(path, Some(file), receiver))
            .map_err(|e| AuditError(format!("cannot start the writer thread: {e}")))?;
        Ok((AuditTrail { queue }, AuditWriter(writer)))
    }

    /// Appends `record` and returns once it is durable on disk.
    pub async fn append(&self, record: &Record) -> Result<(), AuditError> {
        let mut line = serde_json::to_vec(record)
            .map_err(|e| AuditError(format!("cannot serialize record: {e}")))?;
        line.push(b'\n');
        let (written, done) = oneshot::channel();
        self.queue
            .send(PendingLine { line, written })
            .await
            .map_err(|_| AuditError("the writer has stopped".into()))?;
        done.await
            .map_err(|_| AuditError("the writer has stopped".into()))?
    }
}

fn open_for_append(path: &Path) -> Result<File, AuditError> {
    OpenOptions::new()
        .append(true)
        .create(true)
        .mode(0o640)
        .open(path)
        .map_err(|e| AuditError(format!("cannot open {}: {e}", path.display())))
}

/// The writer thread: one write and one fdatasync per batch of waiting lines.
fn write_batches(path: PathBuf, mut file: Option<File>, mut queue: mpsc::Receiver<PendingLine>) {
    while let Some(first) = queue.blocking_recv() {
        let mut batch = vec![first];
        while batch.len() < MAX_BATCH {
            match queue.try_recv() {
                Ok(next) => batch.push(next),
                Err(_) => break,
            }
        }
        let result = write_and_sync(&path, &mut file, &batch);
        if let Err(error) = &result {
            tracing::error!(reason = "audit_unavailable", %error, "audit record not written");
            file = None;
        }
        for pending in batch {
            // A caller that gave up waiting no longer needs the answer.
            let _ = pending.written.send(result.clone());
        }
    }
}

fn write_and_sync(
    path: &Path,
    file: &mut Option<File>,
    batch: &[PendingLine],
) -> Result<(), AuditError> {
    let file = match file {
        Some(file) => file,
        None => file.insert(open_for_append(path)?),
    };
    let bytes: Vec<u8> = batch.iter().flat_map(|p| p.line.iter().copied()).collect();
    file.write_all(&bytes)
        .and_then(|()| file.sync_data())
        .map_err(|e| AuditError(format!("cannot write {}: {e}", path.display())))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::audit::{NasRecord, Verdict};

    fn record(n: u8) -> Record {
        let mut record = Record::new(
            NasRecord {
                name: Some("vpn1".into()),
                address: "127.0.0.1:1".parse().unwrap(),
                nas_identifier: None,
                nas_ip_address: None,
            },
            Verdict::Accept,
        );
        record.radius_identifier = Some(n);
        record
    }

    #[tokio::test]
    async fn concurrent_appends_all_land_as_whole_lines_and_survive_reopening() {
        let dir = tempfile::tempdir().unwrap();
        let (trail, writer) = AuditTrail::open(dir.path()).unwrap();
        let tasks: Vec<_> = (0..50)
            .map(|n| {
                let trail = trail.clone();
                tokio::spawn(async move { trail.append(&record(n)).await })
            })
            .collect();
        for task in tasks {
            task.await.unwrap().unwrap();
        }
        drop(trail);
        writer.finish();
        let (trail, writer) = AuditTrail::open(dir.path()).unwrap();
        trail.append(&record(99)).await.unwrap();
        drop(trail);
        writer.finish();

        let text = std::fs::read_to_string(dir.path().join(TRAIL_FILE)).unwrap();
        let mut ids: Vec<u64> = text
            .lines()
            .map(|line| {
                let value: serde_json::Value = serde_json::from_str(line).unwrap();
                value["radius_identifier"].as_u64().unwrap()
            })
            .collect();
        ids.sort();
        let expected: Vec<u64> = (0..50).chain([99]).collect();
        assert_eq!(ids, expected);
    }

    #[test]
    fn an_unwritable_directory_stops_the_start() {
        let dir = tempfile::tempdir().unwrap();
        let blocker = dir.path().join("not-a-dir");
        std::fs::write(&blocker, "").unwrap();
        let error = AuditTrail::open(&blocker.join("audit")).err().unwrap();
        assert!(error.to_string().contains("cannot create"), "{error}");
    }
}
