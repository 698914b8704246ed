//! Finding where the chain stands when adgate starts, so a restart continues it. A crash (kill
//! -9, power loss) can leave at most one torn line at the end of the open segment: the batch
//! being written when it happened, which nobody was told was recorded. That line is not removed
//! (the trail is never rewritten): the writer terminates it and appends a `seal` record naming
//! its hash, and `verify` accepts a torn line exactly when a seal follows it.

use std::io::{Seek, SeekFrom, Write};
use std::path::Path;

use super::chain::{line_hash, ChainFields, ChainHead};
use super::segment::{self, Segment};

/// A torn line found at the end of the open segment, not yet sealed.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct TornLine {
    /// Length of the line in bytes (without a newline).
    pub bytes: u64,
    /// Hex SHA-256 of those bytes.
    pub sha256: String,
}

/// The state of the trail on disk at start.
#[derive(Debug)]
pub struct Recovered {
    pub head: ChainHead,
    /// First sequence number of the open segment (the next record's if it is empty).
    pub open_segment_first_seq: u64,
    /// Size of the open segment after the torn line was terminated.
    pub open_segment_bytes: u64,
    pub torn: Option<TornLine>,
}

/// Reads the trail in `dir`: compresses closed segments a crash left plain, finds the chain
/// head, and terminates a torn last line (the caller seals it).
pub fn recover(dir: &Path) -> std::io::Result<Recovered> {
    let segments = segment::list(dir)?;
    for closed in segments
        .iter()
        .filter(|s| s.first_seq.is_some() && !s.compressed)
    {
        segment::make_read_only(&closed.path)?;
        segment::compress(&closed.path)?;
    }
    let segments = segment::list(dir)?;
    let mut head = ChainHead::genesis();
    for closed in segments.iter().filter(|s| s.first_seq.is_some()).rev() {
        if let Some(last) = last_record(closed)? {
            head = last;
            break;
        }
    }
    let open_path = dir.join(segment::OPEN_SEGMENT);
    let Some(open) = segments.iter().find(|s| s.first_seq.is_none()) else {
        return Ok(Recovered {
            open_segment_first_seq: head.seq.saturating_add(1),
            head,
            open_segment_bytes: 0,
            torn: None,
        });
    };
    let mut first_seq = None;
    let mut torn = None;
    for line in open.lines()? {
        let line = line?;
        match ChainFields::parse(&line.bytes).filter(|_| line.terminated) {
            Some(fields) => {
                first_seq.get_or_insert(fields.seq);
                head = ChainHead {
                    seq: fields.seq,
                    hash: line_hash(&line.bytes),
                };
                torn = None;
            }
            None => {
                torn = Some((
                    TornLine {
                        bytes: line.bytes.len() as u64,
                        sha256: line_hash(&line.bytes),
                    },
                    line.terminated,
                ));
            }
        }
    }
    let mut file = std::fs::OpenOptions::new().append(true).open(&open_path)?;
    if let Some((_, false)) = &torn {
        file.write_all(b"\n")?;
        file.sync_data()?;
    }
    let open_segment_bytes = file.seek(SeekFrom::End(0))?;
    Ok(Recovered {
        open_segment_first_seq: first_seq.unwrap_or(head.seq.saturating_add(1)),
        head,
        open_segment_bytes,
        torn: torn.map(|(torn, _)| torn),
    })
}

/// The head after the last complete record of a closed segment.
fn last_record(segment: &Segment) -> std::io::Result<Option<ChainHead>> {
    let mut last = None;
    for line in segment.lines()? {
        let line = line?;
        if let Some(fields) = ChainFields::parse(&line.bytes) {
            last = Some(ChainHead {
                seq: fields.seq,
                hash: line_hash(&line.bytes),
            });
        }
    }
    Ok(last)
}
