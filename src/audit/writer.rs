//! The writer thread: the only code that writes the trail. It takes the lines waiting in the
//! queue, chains them (sequence number, hash of the line before), writes them in one append and
//! one fdatasync (group commit: a burst of logins costs one sync), and only then tells each
//! caller its record is durable. It opens the segment afresh for every batch, so a directory
//! that became unwritable, a read-only remount or a vanished file is noticed at the next record,
//! not hidden behind a long-open descriptor; a full disk shows as a failed write. Every failure
//! is answered with an error (the caller rejects: fail closed) and tried again with the next
//! batch. Between batches it rotates segments, signs checkpoints, summarises discards and
//! applies retention.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use serde::Serialize;
use tokio::sync::{mpsc, oneshot, watch};

use super::chain::ChainHead;
use super::checkpoint::CheckpointSigner;
use super::discards::DiscardLimiter;
use super::record::SCHEMA_VERSION;
use super::recovery::{Recovered, TornLine};
use super::retention;
use super::segment;
use super::trail::{AuditError, TrailSettings};
use crate::reason::Reason;

/// Lines written under one fdatasync at most.
const MAX_BATCH: usize = 1024;

/// What the writer thread is asked to do.
pub enum Command {
    Append(PendingLine),
    /// Time passed: check for due checkpoints and discard summaries.
    Tick,
    /// Shutdown: write what is queued, then stop (later appends fail).
    Stop,
}

/// A record body waiting to be chained and made durable.
pub struct PendingLine {
    pub body: Vec<u8>,
    pub written: oneshot::Sender<Result<(), AuditError>>,
}

/// A `seal` record's body: it vouches that the line before it is a torn write, not a record.
#[derive(Serialize)]
struct SealRecord<'a> {
    schema: u32,
    #[serde(rename = "type")]
    kind: &'static str,
    time: String,
    torn_line: &'a TornLine,
}

pub struct Writer {
    settings: TrailSettings,
    open_path: PathBuf,
    head: ChainHead,
    segment_first_seq: u64,
    /// Bytes of the open segment known to be durable.
    segment_bytes: u64,
    signer: Option<CheckpointSigner>,
    records_since_checkpoint: u64,
    last_checkpoint: Instant,
    discards: Arc<Mutex<DiscardLimiter>>,
    last_discard_summary: Instant,
    durable: watch::Sender<u64>,
    torn: Option<TornLine>,
    /// Closed segments being compressed in the background; joined before the writer stops.
    compressing: Vec<std::thread::JoinHandle<()>>,
}

impl Writer {
    pub fn new(
        settings: TrailSettings,
        recovered: Recovered,
        signer: Option<CheckpointSigner>,
        discards: Arc<Mutex<DiscardLimiter>>,
        durable: watch::Sender<u64>,
    ) -> Writer {
        Writer {
            open_path: settings.dir.join(segment::OPEN_SEGMENT),
            settings,
            head: recovered.head,
            segment_first_seq: recovered.open_segment_first_seq,
            segment_bytes: recovered.open_segment_bytes,
            signer,
            records_since_checkpoint: 0,
            last_checkpoint: Instant::now(),
            discards,
            last_discard_summary: Instant::now(),
            durable,
            torn: recovered.torn,
            compressing: Vec::new(),
        }
    }

    /// What must be on disk before the first record: the seal of a torn line, retention.
    /// Failing here stops the start.
    pub fn start(&mut self) -> Result<(), AuditError> {
        if let Some(torn) = self.torn.take() {
            let seal = SealRecord {
                schema: SCHEMA_VERSION,
                kind: "seal",
                time: now(),
                torn_line: &torn,
            };
            self.write(vec![to_json(&seal)?])?;
        }
        self.apply_retention()
    }

    /// Serves the queue until every sender is gone, then writes a last checkpoint.
    pub fn run(mut self, mut queue: mpsc::Receiver<Command>) {
        while let Some(command) = queue.blocking_recv() {
            let mut batch = Vec::new();
            match command {
                Command::Append(line) => batch.push(line),
                Command::Tick => {}
                // What is already queued is still received; nothing more can be sent.
                Command::Stop => queue.close(),
            }
            while batch.len() < MAX_BATCH {
                match queue.try_recv() {
                    Ok(Command::Append(line)) => batch.push(line),
                    Ok(Command::Tick) => {}
                    Ok(Command::Stop) => queue.close(),
                    Err(_) => break,
                }
            }
            if !batch.is_empty() {
                self.write_batch(batch);
            }
            self.do_due_work(false);
        }
        self.do_due_work(true);
        for compression in self.compressing.drain(..) {
            let _ = compression.join();
        }
    }

    fn write_batch(&mut self, batch: Vec<PendingLine>) {
        let (bodies, waiters): (Vec<_>, Vec<_>) =
            batch.into_iter().map(|p| (p.body, p.written)).unzip();
        let count = bodies.len() as u64;
        let result = self.write(bodies);
        match &result {
            Ok(()) => self.records_since_checkpoint += count,
            Err(error) => {
                tracing::error!(reason = Reason::AuditUnavailable.as_str(), %error, "audit records not written");
            }
        }
        for waiter in waiters {
            // A caller that gave up waiting no longer needs the answer.
            let _ = waiter.send(result.clone());
        }
    }

    /// Checkpoints and discard summaries that are due (all of them when `finishing`).
    fn do_due_work(&mut self, finishing: bool) {
        let summaries_due =
            finishing || self.last_discard_summary.elapsed() >= self.settings.discard_summary_every;
        if summaries_due {
            self.last_discard_summary = Instant::now();
            let summaries = match self.discards.lock() {
                Ok(mut limiter) => limiter.summarize(SCHEMA_VERSION),
                Err(_) => Vec::new(),
            };
            let bodies: Result<Vec<_>, _> = summaries.iter().map(to_json).collect();
            if let Err(error) = bodies.and_then(|bodies| self.write(bodies)) {
                tracing::error!(reason = Reason::AuditUnavailable.as_str(), %error, "discard summary not written");
            }
        }
        let checkpoint_due = self.records_since_checkpoint > 0
            && (finishing
                || self.records_since_checkpoint >= self.settings.checkpoint_every_records
                || self.last_checkpoint.elapsed() >= self.settings.checkpoint_every);
        if checkpoint_due {
            if let Err(error) = self.checkpoint() {
                tracing::error!(reason = Reason::AuditUnavailable.as_str(), %error, "checkpoint not written");
            }
        }
    }

    fn checkpoint(&mut self) -> Result<(), AuditError> {
        let Some(signer) = &self.signer else {
            return Ok(());
        };
        let record = signer.sign(&self.head, SCHEMA_VERSION);
        self.write(vec![to_json(&record)?])?;
        self.records_since_checkpoint = 0;
        self.last_checkpoint = Instant::now();
        tracing::info!(seq = record.checkpoint.seq, hash = %record.checkpoint.hash, "audit checkpoint signed");
        Ok(())
    }

    /// Deletes expired segments, after a durable `retention` record says so.
    fn apply_retention(&mut self) -> Result<(), AuditError> {
        let dir = &self.settings.dir;
        let plan = retention::plan(dir, self.settings.retention, SCHEMA_VERSION)
            .map_err(|e| AuditError(format!("retention: cannot read {}: {e}", dir.display())))?;
        let Some((record, expired)) = plan else {
            return Ok(());
        };
        self.write(vec![to_json(&record)?])?;
        retention::delete(&expired)
            .map_err(|e| AuditError(format!("retention: cannot delete a segment: {e}")))
    }

    /// Chains `bodies`, appends them to the open segment (rotating first if it is full) and
    /// syncs. The head moves only once the lines are durable.
    fn write(&mut self, bodies: Vec<Vec<u8>>) -> Result<(), AuditError> {
        if bodies.is_empty() {
            return Ok(());
        }
        let mut head = self.head.clone();
        let mut bytes = Vec::new();
        for body in &bodies {
            bytes.extend_from_slice(&head.chain(body));
            bytes.push(b'\n');
        }
        let full = self.segment_bytes + bytes.len() as u64 > self.settings.segment_max_bytes;
        if self.segment_bytes > 0 && full {
            self.rotate()?;
            // Retention may have put a record at the start of the new segment: chain again.
            return self.write(bodies);
        }
        let mut file = self.open_segment()?;
        let written = file
            .write_all(&bytes)
            .and_then(|()| file.sync_data())
            .map_err(|e| AuditError(format!("cannot write {}: {e}", self.open_path.display())));
        if let Err(error) = written {
            // Nobody was told these lines are recorded: take back what reached the file, so the
            // next batch does not follow a torn line. If even that fails, the next open does it.
            let _ = file.set_len(self.segment_bytes);
            return Err(error);
        }
        if self.segment_bytes == 0 {
            segment::sync_dir(&self.open_path).map_err(|e| {
                AuditError(format!("cannot sync {}: {e}", self.settings.dir.display()))
            })?;
        }
        self.segment_bytes += bytes.len() as u64;
        self.head = head;
        self.durable.send_replace(self.head.seq);
        Ok(())
    }

    /// Opens the open segment for this batch. Bytes beyond what is known durable are the rest
    /// of a failed batch (never acknowledged): they are cut off before anything is appended.
    fn open_segment(&self) -> Result<File, AuditError> {
        let path = &self.open_path;
        let file = OpenOptions::new()
            .append(true)
            .create(self.segment_bytes == 0)
            .mode(0o640)
            .open(path)
            .map_err(|e| AuditError(format!("cannot open {}: {e}", path.display())))?;
        let length = file
            .metadata()
            .map_err(|e| AuditError(format!("cannot stat {}: {e}", path.display())))?
            .len();
        if length > self.segment_bytes {
            tracing::warn!(
                bytes = length - self.segment_bytes,
                "removing the unacknowledged rest of a failed write from the open segment"
            );
            file.set_len(self.segment_bytes)
                .map_err(|e| AuditError(format!("cannot truncate {}: {e}", path.display())))?;
        } else if length < self.segment_bytes {
            return Err(AuditError(format!(
                "{} is shorter ({length} bytes) than what was written ({} bytes): it was \
                 truncated or replaced behind adgate's back",
                path.display(),
                self.segment_bytes
            )));
        }
        Ok(file)
    }

    /// Closes the open segment (renamed, read-only; compressed in the background) and starts a
    /// new one where the chain left off.
    fn rotate(&mut self) -> Result<(), AuditError> {
        let closed = self
            .settings
            .dir
            .join(segment::closed_name(self.segment_first_seq));
        std::fs::rename(&self.open_path, &closed)
            .and_then(|()| segment::make_read_only(&closed))
            .and_then(|()| segment::sync_dir(&closed))
            .map_err(|e| AuditError(format!("cannot close segment {}: {e}", closed.display())))?;
        tracing::info!(segment = %closed.display(), last_seq = self.head.seq, "audit segment closed");
        self.segment_first_seq = self.head.seq.saturating_add(1);
        self.segment_bytes = 0;
        self.compressing
            .retain(|compression| !compression.is_finished());
        self.compressing.push(std::thread::spawn(move || {
            if let Err(error) = segment::compress(&closed) {
                tracing::error!(segment = %closed.display(), %error, "cannot compress a closed segment; it stays plain and is retried at the next start");
            }
        }));
        self.apply_retention()
    }
}

fn to_json(value: &impl Serialize) -> Result<Vec<u8>, AuditError> {
    serde_json::to_vec(value).map_err(|e| AuditError(format!("cannot serialize record: {e}")))
}

fn now() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}
