//! Segment files of the trail. The open segment is always `audit.jsonl`; when it reaches
//! `segment_max_bytes` it is renamed `audit-<first seq>.jsonl` (closed: never written again),
//! then compressed to `audit-<first seq>.jsonl.gz` and made read-only. The first sequence number
//! in the name orders the segments for `verify`, `query` and the syslog forwarder.

use std::fs::{File, OpenOptions, Permissions};
use std::io::{BufRead, BufReader, Read};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use flate2::read::MultiGzDecoder;
use flate2::write::GzEncoder;

/// Name of the segment being written.
pub const OPEN_SEGMENT: &str = "audit.jsonl";
/// Mode of closed segments: readable by the owner and group (auditors), writable by nobody.
const CLOSED_MODE: u32 = 0o440;

/// One segment file on disk.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Segment {
    pub path: PathBuf,
    /// First sequence number, from the name; `None` for the open segment.
    pub first_seq: Option<u64>,
    pub compressed: bool,
}

impl Segment {
    /// File name, for messages.
    pub fn name(&self) -> String {
        self.path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default()
    }

    /// The segment's lines, decompressed if needed.
    pub fn lines(&self) -> std::io::Result<SegmentLines> {
        let file = File::open(&self.path)?;
        let reader: Box<dyn Read + Send> = if self.compressed {
            Box::new(MultiGzDecoder::new(file))
        } else {
            Box::new(file)
        };
        Ok(SegmentLines {
            reader: BufReader::new(reader),
        })
    }
}

/// Name of a closed segment that starts at `first_seq`.
pub fn closed_name(first_seq: u64) -> String {
    format!("audit-{first_seq:020}.jsonl")
}

/// Every segment in `dir`, oldest first, the open one last. When a closed segment exists both
/// plain and compressed (a crash between compressing and removing), the plain one is listed.
pub fn list(dir: &Path) -> std::io::Result<Vec<Segment>> {
    let mut closed: Vec<Segment> = Vec::new();
    let mut open = None;
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let name = entry.file_name().to_string_lossy().into_owned();
        if name == OPEN_SEGMENT {
            open = Some(Segment {
                path: entry.path(),
                first_seq: None,
                compressed: false,
            });
            continue;
        }
        let (stem, compressed) = match name.strip_suffix(".jsonl.gz") {
            Some(stem) => (stem, true),
            None => match name.strip_suffix(".jsonl") {
                Some(stem) => (stem, false),
                None => continue,
            },
        };
        let Some(first_seq) = stem
            .strip_prefix("audit-")
            .and_then(|digits| digits.parse::<u64>().ok())
        else {
            continue;
        };
        closed.push(Segment {
            path: entry.path(),
            first_seq: Some(first_seq),
            compressed,
        });
    }
    closed.sort_by_key(|s| (s.first_seq, s.compressed));
    closed.dedup_by_key(|s| s.first_seq);
    closed.extend(open);
    Ok(closed)
}

/// The segments of `dir` that can hold a record written at or after `since`, oldest first: a
/// segment last modified before `since` holds nothing newer (its modification time is at least
/// its last record's), so the readers bounded by time (the start-up replays) skip it unopened.
pub fn written_since(dir: &Path, since: DateTime<Utc>) -> std::io::Result<Vec<Segment>> {
    let mut recent = Vec::new();
    for segment in list(dir)? {
        let modified: DateTime<Utc> = std::fs::metadata(&segment.path)?.modified()?.into();
        if modified >= since {
            recent.push(segment);
        }
    }
    Ok(recent)
}

/// Lines of a segment, each with whether it ended in a newline (a line without one is torn).
pub struct SegmentLines {
    reader: BufReader<Box<dyn Read + Send>>,
}

/// One line as read from a segment, without its newline.
pub struct SegmentLine {
    pub bytes: Vec<u8>,
    pub terminated: bool,
}

impl Iterator for SegmentLines {
    type Item = std::io::Result<SegmentLine>;

    fn next(&mut self) -> Option<Self::Item> {
        let mut bytes = Vec::new();
        match self.reader.read_until(b'\n', &mut bytes) {
            Ok(0) => None,
            Ok(_) => {
                let terminated = bytes.last() == Some(&b'\n');
                if terminated {
                    bytes.pop();
                }
                Some(Ok(SegmentLine { bytes, terminated }))
            }
            Err(error) => Some(Err(error)),
        }
    }
}

/// Compresses the closed plain segment at `plain` into `<plain>.gz` (read-only), then removes
/// the plain file. Crash-safe: the `.gz` appears only complete and synced (written under a
/// temporary name, then renamed), and the plain file goes only after that.
pub fn compress(plain: &Path) -> std::io::Result<PathBuf> {
    let mut gz_name = plain.as_os_str().to_owned();
    gz_name.push(".gz");
    let gz_path = PathBuf::from(gz_name);
    let mut tmp_name = gz_path.as_os_str().to_owned();
    tmp_name.push(".tmp");
    let tmp_path = PathBuf::from(tmp_name);

    let mut source = File::open(plain)?;
    let target = OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .open(&tmp_path)?;
    let mut encoder = GzEncoder::new(target, flate2::Compression::default());
    std::io::copy(&mut source, &mut encoder)?;
    let target = encoder.finish()?;
    target.sync_all()?;
    target.set_permissions(Permissions::from_mode(CLOSED_MODE))?;
    std::fs::rename(&tmp_path, &gz_path)?;
    sync_dir(plain)?;
    std::fs::remove_file(plain)?;
    sync_dir(plain)?;
    Ok(gz_path)
}

/// Makes a rename or removal in `path`'s directory durable.
pub fn sync_dir(path: &Path) -> std::io::Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    File::open(dir)?.sync_all()
}

/// Marks a just-closed plain segment read-only.
pub fn make_read_only(path: &Path) -> std::io::Result<()> {
    std::fs::set_permissions(path, Permissions::from_mode(CLOSED_MODE))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn segments_are_listed_in_sequence_order_with_the_open_one_last() {
        let dir = tempfile::tempdir().unwrap();
        for name in [
            OPEN_SEGMENT,
            &closed_name(120),
            &closed_name(7),
            "notes.txt",
        ] {
            std::fs::write(dir.path().join(name), "{}\n").unwrap();
        }
        compress(&dir.path().join(closed_name(7))).unwrap();
        let names: Vec<String> = list(dir.path())
            .unwrap()
            .iter()
            .map(Segment::name)
            .collect();
        assert_eq!(
            names,
            [
                format!("{}.gz", closed_name(7)),
                closed_name(120),
                OPEN_SEGMENT.to_owned()
            ]
        );
        let compressed = &list(dir.path()).unwrap()[0];
        let lines: Vec<_> = compressed.lines().unwrap().map(|l| l.unwrap()).collect();
        assert_eq!(lines.len(), 1);
        assert!(lines[0].terminated);
        assert_eq!(lines[0].bytes, b"{}");
    }
}
