//! The trail as the rest of adgate sees it: `append(&record)` returns once the record is durable.
//! Behind it one writer thread (see `writer`) chains, batches and syncs. Discards pass through a
//! limiter first, so a flood of dropped datagrams is summarised instead of filling the disk.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::{mpsc, oneshot, watch};

use super::checkpoint::CheckpointSigner;
use super::discards::DiscardLimiter;
use super::recovery;
use super::retention::Retention;
use super::writer::{Command, PendingLine, Writer};
use super::{Record, Verdict};
use crate::reason::Reason;

/// Lines that may wait for the writer before `append` itself waits (back-pressure).
const QUEUE_DEPTH: usize = 4096;
/// How often the writer is woken to check time-based work (checkpoints, discard summaries).
const TICK: Duration = Duration::from_secs(1);

/// The record could not be made durable.
#[derive(Debug, Clone, thiserror::Error)]
#[error("audit trail unavailable: {0}")]
pub struct AuditError(pub(super) String);

/// Everything `[audit]` configures.
#[derive(Debug, Clone)]
pub struct TrailSettings {
    pub dir: PathBuf,
    pub segment_max_bytes: u64,
    pub retention: Retention,
    /// Ed25519 key for checkpoints; no checkpoints without one.
    pub signing_key_file: Option<PathBuf>,
    pub checkpoint_every_records: u64,
    pub checkpoint_every: Duration,
    /// Length of a discard-summary interval.
    pub discard_summary_every: Duration,
}

impl TrailSettings {
    /// Defaults for everything but the directory.
    pub fn new(dir: PathBuf) -> TrailSettings {
        TrailSettings {
            dir,
            segment_max_bytes: 64 * 1024 * 1024,
            retention: Retention {
                days: 400,
                delete_expired: false,
            },
            signing_key_file: None,
            checkpoint_every_records: 1000,
            checkpoint_every: Duration::from_secs(60),
            discard_summary_every: Duration::from_secs(60),
        }
    }
}

/// Handle to the trail; cheap to clone, shared by every request task.
#[derive(Clone)]
pub struct AuditTrail {
    queue: mpsc::Sender<Command>,
    discards: Arc<Mutex<DiscardLimiter>>,
}

/// Stops the writer thread and waits for it.
pub struct AuditWriter {
    thread: std::thread::JoinHandle<()>,
    durable: watch::Receiver<u64>,
    queue: mpsc::WeakSender<Command>,
}

impl AuditWriter {
    /// Sequence number of the last durable record, updated after every sync.
    pub fn durable_seq(&self) -> watch::Receiver<u64> {
        self.durable.clone()
    }

    /// Writes every line queued so far and stops the writer, even while `AuditTrail` handles
    /// remain (a metrics probe, a request abandoned at shutdown): their later appends fail.
    /// Blocks, so call it outside the async runtime's threads.
    pub fn finish(self) {
        if let Some(queue) = self.queue.upgrade() {
            // Fails only if the writer has stopped already.
            let _ = queue.blocking_send(Command::Stop);
        }
        if self.thread.join().is_err() {
            tracing::error!("audit writer thread panicked");
        }
    }
}

impl AuditTrail {
    /// Opens (creating if needed, mode 0700) the audit directory, continues the chain found
    /// there (sealing a torn last line), and starts the writer. Fails if the trail cannot be
    /// written now, so a broken setup stops the start. Must run inside a Tokio runtime.
    pub fn open(settings: TrailSettings) -> Result<(AuditTrail, AuditWriter), AuditError> {
        use std::os::unix::fs::DirBuilderExt;
        let dir = &settings.dir;
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)
            .map_err(|e| AuditError(format!("cannot create {}: {e}", dir.display())))?;
        let signer = match &settings.signing_key_file {
            Some(path) => {
                refuse_key_inside(path, dir)?;
                Some(CheckpointSigner::load(path).map_err(|e| AuditError(format!("{e:#}")))?)
            }
            None => {
                tracing::warn!("audit.signing_key_file is not set: no signed checkpoints");
                None
            }
        };
        let recovered = recovery::recover(dir)
            .map_err(|e| AuditError(format!("cannot read the trail in {}: {e}", dir.display())))?;
        if let Some(torn) = &recovered.torn {
            tracing::warn!(
                bytes = torn.bytes,
                "the trail ends in a torn line (crash?); sealing it"
            );
        }
        let discards = Arc::new(Mutex::new(DiscardLimiter::default()));
        let (durable_sender, durable) = watch::channel(recovered.head.seq);
        let mut writer = Writer::new(
            settings,
            recovered,
            signer,
            discards.clone(),
            durable_sender,
        );
        writer.start()?;
        let (queue, receiver) = mpsc::channel(QUEUE_DEPTH);
        spawn_ticker(queue.downgrade());
        let stop = queue.downgrade();
        let thread = std::thread::Builder::new()
            .name("audit-writer".into())
            .spawn(move || writer.run(receiver))
            .map_err(|e| AuditError(format!("cannot start the writer thread: {e}")))?;
        Ok((
            AuditTrail { queue, discards },
            AuditWriter {
                thread,
                durable,
                queue: stop,
            },
        ))
    }

    /// Appends `record` and returns once it is durable on disk. A discard beyond the limiter's
    /// allowance is only counted (it ends up in a `discard_summary` record).
    pub async fn append(&self, record: &Record) -> Result<(), AuditError> {
        if record.verdict == Verdict::Discard {
            let admitted = self
                .discards
                .lock()
                .map_err(|_| AuditError("discard limiter poisoned".into()))?
                .admit(
                    record.nas.address.ip(),
                    record.reason.map_or("-", Reason::as_str),
                );
            if !admitted {
                return Ok(());
            }
        }
        self.append_entry(record).await
    }

    /// Appends a record of another type than a decision (a disconnect, a session dropped) and
    /// returns once it is durable. No limiter: these are made by adgate itself, not by traffic.
    pub async fn append_entry(&self, record: &impl serde::Serialize) -> Result<(), AuditError> {
        let body = serde_json::to_vec(record)
            .map_err(|e| AuditError(format!("cannot serialize record: {e}")))?;
        let (written, done) = oneshot::channel();
        self.queue
            .send(Command::Append(PendingLine { body, written }))
            .await
            .map_err(|_| AuditError("the writer has stopped".into()))?;
        done.await
            .map_err(|_| AuditError("the writer has stopped".into()))?
    }
}

/// The signing key must not live where someone rewriting the trail would find it.
fn refuse_key_inside(key: &Path, dir: &Path) -> Result<(), AuditError> {
    let key = std::fs::canonicalize(key)
        .map_err(|e| AuditError(format!("cannot read signing key {}: {e}", key.display())))?;
    let dir = std::fs::canonicalize(dir)
        .map_err(|e| AuditError(format!("cannot resolve {}: {e}", dir.display())))?;
    if key.starts_with(&dir) {
        return Err(AuditError(format!(
            "audit.signing_key_file {} is inside audit.dir: keep the key elsewhere, or whoever \
             can rewrite the trail can also sign it",
            key.display()
        )));
    }
    Ok(())
}

/// Wakes the writer every `TICK` until the last `AuditTrail` handle is gone.
fn spawn_ticker(queue: mpsc::WeakSender<Command>) {
    tokio::spawn(async move {
        let mut interval = tokio::time::interval(TICK);
        loop {
            interval.tick().await;
            let Some(queue) = queue.upgrade() else { return };
            if queue.send(Command::Tick).await.is_err() {
                return;
            }
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::audit::test_trail::{record, write_concurrently};
    use crate::audit::verify::verify;

    async fn append_all(dir: &Path, records: Vec<Record>) {
        write_concurrently(TrailSettings::new(dir.to_owned()), records).await;
    }

    fn lines(dir: &Path) -> Vec<serde_json::Value> {
        std::fs::read_to_string(dir.join("audit.jsonl"))
            .unwrap()
            .lines()
            .filter_map(|line| serde_json::from_str(line).ok())
            .collect()
    }

    #[tokio::test]
    async fn concurrent_appends_are_chained_and_a_restart_continues_the_chain() {
        let dir = tempfile::tempdir().unwrap();
        append_all(
            dir.path(),
            (0..50).map(|n| record(Verdict::Accept, n)).collect(),
        )
        .await;
        append_all(dir.path(), vec![record(Verdict::Reject, 99)]).await;
        let verification = verify(dir.path(), None, None).unwrap().unwrap();
        assert_eq!((verification.records, verification.last_seq), (51, 51));
        let mut identifiers: Vec<u64> = lines(dir.path())
            .iter()
            .map(|r| r["radius_identifier"].as_u64().unwrap())
            .collect();
        identifiers.sort();
        assert_eq!(identifiers, (0..50).chain([99]).collect::<Vec<u64>>());
    }

    #[tokio::test]
    async fn a_torn_last_line_is_sealed_at_the_next_start() {
        let dir = tempfile::tempdir().unwrap();
        append_all(
            dir.path(),
            (0..3).map(|n| record(Verdict::Accept, n)).collect(),
        )
        .await;
        let mut file = std::fs::OpenOptions::new()
            .append(true)
            .open(dir.path().join("audit.jsonl"))
            .unwrap();
        std::io::Write::write_all(&mut file, br#"{"seq":4,"prev":"ab"#).unwrap();
        let torn = verify(dir.path(), None, None).unwrap().unwrap_err();
        assert!(torn.to_string().contains("line 4"), "{torn}");
        assert!(torn.to_string().contains("torn last line"), "{torn}");

        append_all(dir.path(), vec![record(Verdict::Accept, 3)]).await;
        let verification = verify(dir.path(), None, None).unwrap().unwrap();
        assert_eq!(verification.sealed_torn_lines, 1);
        assert_eq!(verification.last_seq, 5, "3 records, the seal, 1 record");
    }

    #[tokio::test]
    async fn finish_stops_the_writer_while_handles_remain() {
        let dir = tempfile::tempdir().unwrap();
        let (trail, writer) = AuditTrail::open(TrailSettings::new(dir.path().to_owned())).unwrap();
        trail.append(&record(Verdict::Accept, 1)).await.unwrap();
        tokio::task::spawn_blocking(move || writer.finish())
            .await
            .unwrap();
        assert!(trail.append(&record(Verdict::Accept, 2)).await.is_err());
        let verification = verify(dir.path(), None, None).unwrap().unwrap();
        assert_eq!(verification.records, 1);
    }

    #[tokio::test]
    async fn a_flood_of_discards_is_summarised() {
        let dir = tempfile::tempdir().unwrap();
        append_all(
            dir.path(),
            (0..=255).map(|n| record(Verdict::Discard, n)).collect(),
        )
        .await;
        let records = lines(dir.path());
        let one_by_one = records.iter().filter(|r| r["verdict"] == "discard").count();
        let summaries: Vec<_> = records
            .iter()
            .filter(|r| r["type"] == "discard_summary")
            .collect();
        assert_eq!(one_by_one, 10);
        assert_eq!(summaries.len(), 1, "{records:?}");
        assert_eq!(summaries[0]["source"], "192.0.2.1");
        assert_eq!(summaries[0]["reason"], "malformed");
        assert_eq!(summaries[0]["count"], 256);
        assert_eq!(summaries[0]["not_recorded"], 246);
    }

    #[test]
    fn an_unwritable_directory_stops_the_start() {
        let dir = tempfile::tempdir().unwrap();
        let blocker = dir.path().join("not-a-dir");
        std::fs::write(&blocker, "").unwrap();
        let runtime = tokio::runtime::Runtime::new().unwrap();
        let _guard = runtime.enter();
        let error = AuditTrail::open(TrailSettings::new(blocker.join("audit")))
            .err()
            .unwrap();
        assert!(error.to_string().contains("cannot create"), "{error}");
    }

    #[tokio::test]
    async fn a_signing_key_inside_the_audit_directory_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let (private, _) = crate::audit::generate_key_pair().unwrap();
        std::fs::write(dir.path().join("checkpoint.key"), private).unwrap();
        let mut settings = TrailSettings::new(dir.path().to_owned());
        settings.signing_key_file = Some(dir.path().join("checkpoint.key"));
        let error = AuditTrail::open(settings).err().unwrap();
        assert!(error.to_string().contains("inside audit.dir"), "{error}");
    }
}
