//! Reads the trail from a given sequence number onwards, the way `tail -F` follows a file: the
//! closed segments first (compressed or not), then the open segment, from where it left off.
//! When the open segment is rotated away, it finds its place again by sequence number. Only
//! records the writer has made durable are returned, and lines that are not records (sealed
//! torn lines) are skipped.

use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::os::unix::fs::MetadataExt;
use std::path::PathBuf;

use crate::audit::{list_segments, ChainFields, SegmentLines};

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
    /// The closed segment being read, if the next record is in one.
    closed: Option<SegmentLines>,
    /// First seq (name) of the last closed segment read to its end: later ones come next.
    finished_closed: u64,
    open: Option<OpenSegment>,
}

impl TrailFollower {
    pub fn new(dir: PathBuf, next_seq: u64) -> TrailFollower {
        TrailFollower {
            dir,
            next_seq,
            closed: None,
            finished_closed: 0,
            open: None,
        }
    }

    /// Starts over from `seq` (after a connection failed before acknowledging).
    pub fn rewind(&mut self, seq: u64) {
        self.next_seq = seq;
        self.closed = None;
        self.finished_closed = 0;
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
            let closed = self.read_closed_segments(limit)?;
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

    /// Up to `limit` records from `next_seq` in closed segments, if it is in one. A segment
    /// stays open between calls, so a long backlog is decompressed once.
    fn read_closed_segments(&mut self, limit: usize) -> std::io::Result<Vec<TrailLine>> {
        let mut lines = Vec::new();
        while lines.len() < limit {
            let Some(reader) = &mut self.closed else {
                let Some((first_seq, reader)) = self.next_closed_segment()? else {
                    break;
                };
                self.closed = Some(reader);
                self.finished_closed = first_seq;
                continue;
            };
            let Some(line) = reader.next() else {
                self.closed = None;
                continue;
            };
            let line = line?;
            let Some(fields) = ChainFields::parse(&line.bytes).filter(|_| line.terminated) else {
                continue;
            };
            if fields.seq >= self.next_seq {
                self.next_seq = fields.seq.saturating_add(1);
                lines.push(TrailLine {
                    seq: fields.seq,
                    bytes: line.bytes,
                });
            }
        }
        Ok(lines)
    }

    /// The closed segment after the last one finished that holds `next_seq` (or the first one
    /// after it, when earlier records were deleted by retention); `None` when the open segment
    /// holds it.
    fn next_closed_segment(&self) -> std::io::Result<Option<(u64, SegmentLines)>> {
        let segments = list_segments(&self.dir)?;
        let later: Vec<_> = segments
            .iter()
            .filter_map(|s| s.first_seq.map(|first| (first, s)))
            .filter(|(first, _)| *first > self.finished_closed)
            .collect();
        let holding = later
            .iter()
            .rev()
            .find(|(first, _)| *first <= self.next_seq)
            .or(later.first());
        match holding {
            Some((first, segment)) => Ok(Some((*first, segment.lines()?))),
            None => Ok(None),
        }
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
        while let Some(line) = buffer.get(consumed..).and_then(|rest| {
            let end = rest.iter().position(|&b| b == b'\n')?;
            rest.get(..end)
        }) {
            let end = line.len();
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::audit::test_trail::{record, write};
    use crate::audit::{TrailSettings, Verdict};

    /// Reads three records at a time until nothing more comes.
    fn read_all(follower: &mut TrailFollower) -> Vec<u64> {
        let mut seqs = Vec::new();
        loop {
            let lines = follower.next_lines(20, 3).unwrap();
            if lines.is_empty() {
                return seqs;
            }
            seqs.extend(lines.iter().map(|line| line.seq));
        }
    }

    #[tokio::test]
    async fn every_record_comes_once_in_order_across_compressed_and_open_segments() {
        let dir = tempfile::tempdir().unwrap();
        let mut settings = TrailSettings::new(dir.path().to_owned());
        settings.segment_max_bytes = 1024;
        write(
            settings,
            (0..20).map(|n| record(Verdict::Accept, n)).collect(),
        )
        .await;
        let segment_files = std::fs::read_dir(dir.path()).unwrap().count();
        assert!(segment_files > 3, "{segment_files} files: no rotation");

        let mut follower = TrailFollower::new(dir.path().to_owned(), 1);
        assert_eq!(read_all(&mut follower), (1..=20).collect::<Vec<u64>>());
        follower.rewind(18);
        let again = read_all(&mut follower);
        assert_eq!(again, [18, 19, 20]);
    }
}
