//! Reads the trail from a given sequence number onwards, the way `tail -F` follows a file: the
//! closed segments first (compressed or not), then the open segment, from where it left off.
//! When the open segment is rotated away, it finds its place again by sequence number. Only
//! records the writer has made durable are returned, and lines that are not records (sealed
//! torn lines) are skipped.

use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::os::unix::fs::MetadataExt;
use std::path::PathBuf;

use crate::audit::{list_segments, ChainFields};

/// A record to forward: its sequence number and its line.
pub struct TrailLine {
    pub seq: u64,
    pub bytes: Vec<u8>,
}

/// The open segment being followed.
struct OpenSegment {
    file: File,
    inode: u64,
    offset: u64,
}

pub struct TrailFollower {
    dir: PathBuf,
    /// The next record to return.
    next_seq: u64,
    open: Option<OpenSegment>,
}

impl TrailFollower {
    pub fn new(dir: PathBuf, next_seq: u64) -> TrailFollower {
        TrailFollower {
            dir,
            next_seq,
            open: None,
        }
    }

    /// Starts over from `seq` (after a connection failed before acknowledging).
    pub fn rewind(&mut self, seq: u64) {
        self.next_seq = seq;
        self.open = None;
    }

    /// Up to `limit` records from the next one, none beyond `durable_seq`.
    pub fn next_lines(
        &mut self,
        durable_seq: u64,
        limit: usize,
    ) -> std::io::Result<Vec<TrailLine>> {
        if self.next_seq > durable_seq {
            return Ok(Vec::new());
        }
        if self.open.is_none() {
            let closed = self.read_closed_segment(durable_seq, limit)?;
            if !closed.is_empty() {
                return Ok(closed);
            }
            let path = self.dir.join(crate::audit::OPEN_SEGMENT);
            let file = match File::open(&path) {
                Ok(file) => file,
                Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
                Err(error) => return Err(error),
            };
            let inode = file.metadata()?.ino();
            self.open = Some(OpenSegment {
                file,
                inode,
                offset: 0,
            });
        }
        let lines = self.read_open_segment(durable_seq, limit)?;
        if lines.is_empty() {
            let rotated = std::fs::metadata(self.dir.join(crate::audit::OPEN_SEGMENT))
                .map(|m| Some(m.ino()) != self.open.as_ref().map(|o| o.inode))
                .unwrap_or(true);
            if rotated {
                self.open = None;
            }
        }
        Ok(lines)
    }

    /// The records from `next_seq` in the closed segment holding it, if one does.
    fn read_closed_segment(
        &mut self,
        durable_seq: u64,
        limit: usize,
    ) -> std::io::Result<Vec<TrailLine>> {
        let segments = list_segments(&self.dir)?;
        let closed: Vec<_> = segments.iter().filter(|s| s.first_seq.is_some()).collect();
        let holding = closed
            .iter()
            .rev()
            .find(|s| s.first_seq.is_some_and(|first| first <= self.next_seq));
        let Some(segment) = holding.or(closed.first()) else {
            return Ok(Vec::new());
        };
        let mut lines = Vec::new();
        for line in segment.lines()? {
            let line = line?;
            if !line.terminated {
                break;
            }
            let Some(fields) = ChainFields::parse(&line.bytes) else {
                continue;
            };
            if fields.seq < self.next_seq {
                continue;
            }
            if fields.seq > durable_seq || lines.len() >= limit {
                break;
            }
            self.next_seq = fields.seq.saturating_add(1);
            lines.push(TrailLine {
                seq: fields.seq,
                bytes: line.bytes,
            });
        }
        Ok(lines)
    }

    fn read_open_segment(
        &mut self,
        durable_seq: u64,
        limit: usize,
    ) -> std::io::Result<Vec<TrailLine>> {
        let Some(open) = &mut self.open else {
            return Ok(Vec::new());
        };
        open.file.seek(SeekFrom::Start(open.offset))?;
        let mut buffer = Vec::new();
        (&mut open.file)
            .take(4 * 1024 * 1024)
            .read_to_end(&mut buffer)?;
        let mut lines = Vec::new();
        let mut consumed = 0;
        while let Some(end) = buffer[consumed..].iter().position(|&b| b == b'\n') {
            let line = &buffer[consumed..consumed + end];
            if let Some(fields) = ChainFields::parse(line) {
                if fields.seq > durable_seq || lines.len() >= limit {
                    break;
                }
                if fields.seq >= self.next_seq {
                    self.next_seq = fields.seq.saturating_add(1);
                    lines.push(TrailLine {
                        seq: fields.seq,
                        bytes: line.to_vec(),
                    });
                }
            }
            consumed += end + 1;
        }
        open.offset += consumed as u64;
        Ok(lines)
    }
}
