//! `adgate audit verify`: proves a trail was not edited, or names the first place it was. It
//! walks every segment in sequence order (compressed ones too), checks that each line carries
//! the next sequence number and the SHA-256 of the line before, that torn lines are sealed, that
//! missing early segments are accounted for by a retention record, that in-trail checkpoints are
//! signed by the given key, and that checkpoints which left the machine (syslog) match. The
//! files it reads are untrusted: anything unexpected is a reported break, never a panic.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

use ed25519_dalek::VerifyingKey;

use super::chain::{line_hash, ChainFields, ChainHead, GENESIS_HASH};
use super::checkpoint::{self, CheckpointRecord};
use super::retention::RetentionRecord;
use super::segment::{self, Segment};

/// An intact trail: what was checked.
#[derive(Debug)]
pub struct Verification {
    pub segments: usize,
    pub records: u64,
    pub first_seq: u64,
    pub last_seq: u64,
    pub signed_checkpoints: u64,
    pub external_checkpoints: u64,
    pub sealed_torn_lines: u64,
}

/// The first place where the trail is not what adgate wrote.
#[derive(Debug)]
pub struct TrailBreak {
    pub file: String,
    pub line: u64,
    pub seq: Option<u64>,
    pub problem: String,
}

impl fmt::Display for TrailBreak {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}, line {}", self.file, self.line)?;
        if let Some(seq) = self.seq {
            write!(f, " (seq {seq})")?;
        }
        write!(f, ": {}", self.problem)
    }
}

/// A signed checkpoint that left the machine, with where it was read.
struct ExternalCheckpoint {
    hash: String,
    line: u64,
}

/// Verifies the trail in `dir`. The outer error means verify could not run (unreadable key or
/// directory); the inner one is a break in the trail.
pub fn verify(
    dir: &Path,
    checkpoints_file: Option<&Path>,
    public_key_file: Option<&Path>,
) -> anyhow::Result<Result<Verification, TrailBreak>> {
    let key = public_key_file
        .map(checkpoint::load_public_key)
        .transpose()?;
    let external = match checkpoints_file {
        Some(path) => {
            let Some(key) = &key else {
                anyhow::bail!("--checkpoints needs --pubkey: only signed checkpoints are evidence");
            };
            match read_external_checkpoints(path, key)? {
                Ok(external) => external,
                Err(trail_break) => return Ok(Err(trail_break)),
            }
        }
        None => BTreeMap::new(),
    };
    let segments =
        segment::list(dir).map_err(|e| anyhow::anyhow!("cannot list {}: {e}", dir.display()))?;
    if segments.is_empty() {
        anyhow::bail!("{} holds no trail segments", dir.display());
    }
    let mut walk = ChainWalk {
        key,
        external,
        checkpoints_file: checkpoints_file.map(Path::to_path_buf),
        ..ChainWalk::default()
    };
    Ok(walk.run(&segments))
}

/// Reads the signed checkpoints in `path` (any file whose lines hold checkpoint records after
/// some prefix, such as a syslog collector's file), checking each signature.
fn read_external_checkpoints(
    path: &Path,
    key: &VerifyingKey,
) -> anyhow::Result<Result<BTreeMap<u64, ExternalCheckpoint>, TrailBreak>> {
    let text =
        std::fs::read(path).map_err(|e| anyhow::anyhow!("cannot read {}: {e}", path.display()))?;
    let mut checkpoints = BTreeMap::new();
    for (index, line) in text.split(|&b| b == b'\n').enumerate() {
        let Some(start) = line.iter().position(|&b| b == b'{') else {
            continue;
        };
        let Some(json) = line.get(start..) else {
            continue;
        };
        let Ok(record) = serde_json::from_slice::<CheckpointRecord>(json) else {
            continue;
        };
        if record.kind != "checkpoint" {
            continue;
        }
        let line_number = index as u64 + 1;
        if let Err(error) = checkpoint::check_signature(key, &record) {
            return Ok(Err(TrailBreak {
                file: path.display().to_string(),
                line: line_number,
                seq: Some(record.checkpoint.seq),
                problem: format!("checkpoint {error}"),
            }));
        }
        checkpoints.insert(
            record.checkpoint.seq,
            ExternalCheckpoint {
                hash: record.checkpoint.hash,
                line: line_number,
            },
        );
    }
    Ok(Ok(checkpoints))
}

/// A line that is not a record, waiting for the `seal` that must follow it.
struct Unsealed {
    file: String,
    line: u64,
    hash: String,
}

/// The first record of the trail as found.
struct FirstRecord {
    file: String,
    line: u64,
    seq: u64,
    prev: String,
}

#[derive(Default)]
struct ChainWalk {
    key: Option<VerifyingKey>,
    external: BTreeMap<u64, ExternalCheckpoint>,
    checkpoints_file: Option<PathBuf>,
    /// Head after the last record accepted, and before it (a seal may undo the last line).
    head: Option<ChainHead>,
    head_before_last: Option<ChainHead>,
    last_line_hash: Option<String>,
    unsealed: Option<Unsealed>,
    first: Option<FirstRecord>,
    /// (first kept seq, its prev) of every retention record.
    retention_claims: Vec<(u64, String)>,
    records: u64,
    signed_checkpoints: u64,
    external_checkpoints: u64,
    sealed_torn_lines: u64,
}

impl ChainWalk {
    fn run(&mut self, segments: &[Segment]) -> Result<Verification, TrailBreak> {
        for (index, segment) in segments.iter().enumerate() {
            self.segment(segment, index + 1 == segments.len())?;
        }
        if let Some(unsealed) = self.unsealed.take() {
            return Err(TrailBreak {
                file: unsealed.file,
                line: unsealed.line,
                seq: None,
                problem: "not a trail record, and no seal follows it".into(),
            });
        }
        let (Some(first), Some(head)) = (self.first.take(), self.head.clone()) else {
            return Err(TrailBreak {
                file: segments.first().map(Segment::name).unwrap_or_default(),
                line: 1,
                seq: None,
                problem: "the trail holds no records".into(),
            });
        };
        self.check_start(&first)?;
        self.check_external_beyond(&first, &head)?;
        Ok(Verification {
            segments: segments.len(),
            records: self.records,
            first_seq: first.seq,
            last_seq: head.seq,
            signed_checkpoints: self.signed_checkpoints,
            external_checkpoints: self.external_checkpoints,
            sealed_torn_lines: self.sealed_torn_lines,
        })
    }

    fn segment(&mut self, segment: &Segment, is_last: bool) -> Result<(), TrailBreak> {
        let file = segment.name();
        let at = |line: u64, seq: Option<u64>, problem: String| TrailBreak {
            file: file.clone(),
            line,
            seq,
            problem,
        };
        if let (Some(first_seq), Some(head)) = (segment.first_seq, &self.head) {
            if first_seq != head.seq.saturating_add(1) {
                return Err(at(
                    1,
                    Some(first_seq),
                    format!(
                        "segment starts at seq {first_seq} but the one before ends at seq {}: \
                         a segment is missing",
                        head.seq
                    ),
                ));
            }
        }
        let lines = segment
            .lines()
            .map_err(|e| at(1, None, format!("cannot open: {e}")))?;
        let mut line_number = 0;
        for line in lines {
            line_number += 1;
            let next_seq = self.head.as_ref().map(|h| h.seq.saturating_add(1));
            let line = line.map_err(|e| {
                at(
                    line_number,
                    next_seq,
                    format!("cannot read: {e} (compressed data altered?)"),
                )
            })?;
            if !line.terminated {
                let problem = if is_last {
                    "torn last line: a write cut short by a crash; adgate seals it at its next start"
                } else {
                    "line cut short inside a closed segment"
                };
                return Err(at(line_number, next_seq, problem.into()));
            }
            let Some(fields) = ChainFields::parse(&line.bytes) else {
                if let Some(unsealed) = &self.unsealed {
                    return Err(TrailBreak {
                        file: unsealed.file.clone(),
                        line: unsealed.line,
                        seq: None,
                        problem: "not a trail record, and no seal follows it".into(),
                    });
                }
                self.unsealed = Some(Unsealed {
                    file: file.clone(),
                    line: line_number,
                    hash: line_hash(&line.bytes),
                });
                continue;
            };
            self.record(&line.bytes, &fields)
                .map_err(|problem| at(line_number, Some(fields.seq), problem))?;
            if self.first.is_none() {
                self.first = Some(FirstRecord {
                    file: file.clone(),
                    line: line_number,
                    seq: fields.seq,
                    prev: fields.prev,
                });
            }
        }
        Ok(())
    }

    /// Checks one record against the chain and moves the head past it.
    fn record(&mut self, bytes: &[u8], fields: &ChainFields) -> Result<(), String> {
        let kind = fields.kind.as_deref().unwrap_or("");
        if kind == "seal" {
            self.seal(bytes)?;
        } else if let Some(unsealed) = self.unsealed.take() {
            return Err(format!(
                "line {} before it is not a trail record, and this is not its seal",
                unsealed.line
            ));
        }
        match &self.head {
            Some(head) => {
                if fields.seq != head.seq.saturating_add(1) {
                    return Err(format!(
                        "expected seq {}: lines were removed, reordered or inserted",
                        head.seq.saturating_add(1)
                    ));
                }
                if fields.prev != head.hash {
                    return Err(
                        "prev is not the hash of the record before: that record was altered".into(),
                    );
                }
            }
            None => {
                if fields.seq == 1 && fields.prev != GENESIS_HASH {
                    return Err("the first record must have prev = 64 zeros".into());
                }
            }
        }
        match kind {
            "checkpoint" => self.checkpoint(bytes, fields)?,
            "retention" => {
                let record: RetentionRecord = serde_json::from_slice(bytes)
                    .map_err(|e| format!("malformed retention record: {e}"))?;
                self.retention_claims
                    .push((record.first_kept_seq, record.first_kept_prev));
            }
            _ => {}
        }
        let hash = line_hash(bytes);
        if let Some(external) = self.external.remove(&fields.seq) {
            if external.hash != hash {
                return Err(format!(
                    "differs from the signed checkpoint in {}, line {}: the trail was rewritten",
                    self.checkpoints_file_name(),
                    external.line
                ));
            }
            self.external_checkpoints += 1;
        }
        self.head_before_last = self.head.take();
        self.head = Some(ChainHead {
            seq: fields.seq,
            hash: hash.clone(),
        });
        self.last_line_hash = Some(hash);
        self.records += 1;
        Ok(())
    }

    /// A seal vouches for the torn line just before it: either a line that is not a record, or
    /// a complete-looking record the crash left without its newline (not acknowledged, so not
    /// part of the chain: the head goes back to before it).
    fn seal(&mut self, bytes: &[u8]) -> Result<(), String> {
        #[derive(serde::Deserialize)]
        struct Seal {
            torn_line: TornLine,
        }
        #[derive(serde::Deserialize)]
        struct TornLine {
            sha256: String,
        }
        let seal: Seal =
            serde_json::from_slice(bytes).map_err(|e| format!("malformed seal record: {e}"))?;
        if let Some(unsealed) = self.unsealed.take() {
            if unsealed.hash != seal.torn_line.sha256 {
                return Err(format!(
                    "seal names a torn line that is not line {} before it",
                    unsealed.line
                ));
            }
        } else if self.last_line_hash.as_deref() == Some(seal.torn_line.sha256.as_str()) {
            self.head = self.head_before_last.take();
            self.records -= 1;
        } else {
            return Err("seal without the torn line it names".into());
        }
        self.sealed_torn_lines += 1;
        Ok(())
    }

    fn checkpoint(&mut self, bytes: &[u8], fields: &ChainFields) -> Result<(), String> {
        let record: CheckpointRecord =
            serde_json::from_slice(bytes).map_err(|e| format!("malformed checkpoint: {e}"))?;
        if record.checkpoint.seq.saturating_add(1) != fields.seq
            || record.checkpoint.hash != fields.prev
        {
            return Err(
                "checkpoint vouches for another record than the one before it: the records \
                 before it were rewritten"
                    .into(),
            );
        }
        if let Some(key) = &self.key {
            checkpoint::check_signature(key, &record).map_err(|error| {
                format!("checkpoint {error}: the records before it were rewritten")
            })?;
            self.signed_checkpoints += 1;
        }
        Ok(())
    }

    fn checkpoints_file_name(&self) -> String {
        self.checkpoints_file
            .as_ref()
            .map(|p| p.display().to_string())
            .unwrap_or_default()
    }

    /// A trail that does not start at seq 1 must say, in a retention record, why.
    fn check_start(&self, first: &FirstRecord) -> Result<(), TrailBreak> {
        let accounted = first.seq == 1
            || self
                .retention_claims
                .iter()
                .any(|(seq, prev)| *seq == first.seq && *prev == first.prev);
        if accounted {
            return Ok(());
        }
        Err(TrailBreak {
            file: first.file.clone(),
            line: first.line,
            seq: Some(first.seq),
            problem: format!(
                "the trail starts at seq {} and no retention record accounts for the records \
                 before: segments were deleted",
                first.seq
            ),
        })
    }

    /// Signed checkpoints for records the trail no longer has: removed from the end.
    fn check_external_beyond(
        &self,
        first: &FirstRecord,
        head: &ChainHead,
    ) -> Result<(), TrailBreak> {
        let Some((seq, external)) = self.external.iter().find(|(seq, _)| **seq >= first.seq) else {
            return Ok(());
        };
        Err(TrailBreak {
            file: self.checkpoints_file_name(),
            line: external.line,
            seq: Some(*seq),
            problem: format!(
                "a signed checkpoint vouches for seq {seq}, but the trail ends at seq {}: \
                 records were removed from the end",
                head.seq
            ),
        })
    }
}
