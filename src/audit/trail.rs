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

/// Joins the writer thread once every `AuditTrail` handle is dropped.
pub struct AuditWriter {
    thread: std::thread::JoinHandle<()>,
    durable: watch::Receiver<u64>,
}

impl AuditWriter {
    /// Sequence number of the last durable record, updated after every sync.
    pub fn durable_seq(&self) -> watch::Receiver<u64> {
        self.durable.clone()
    }

    /// Waits until every queued line has been written and the writer has stopped.
    pub fn finish(self) {
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
        let thread = std::thread::Builder::new()
            .name("audit-writer".into())
            .spawn(move || writer.run(receiver))
            .map_err(|e| AuditError(format!("cannot start the writer thread: {e}")))?;
        Ok((
            AuditTrail { queue, discards },
            AuditWriter { thread, durable },
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
                .admit(record.nas.address.ip(), record.reason.unwrap_or("-"));
            if !admitted {
                return Ok(());
            }
        }
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
