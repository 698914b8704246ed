//! `adgate audit verify` against trails written by a real adgate (rotation into compressed
//! segments, restarts, signed checkpoints), untouched and after each kind of tampering an
//! attacker on the gateway could try: verify must say "BROKEN", exit 1, and name the place.
// An integration test: its helpers, outside the #[test] functions clippy.toml covers, may
// panic too (a panic is how a test fails).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

mod common;

use std::ffi::OsStr;
use std::io::{Read, Write};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use common::{adgate_command, without_reject_delay, Adgate, Lab};
use sha2::{Digest, Sha256};

/// A stopped adgate's trail, written across rotations and a restart, with checkpoints. The
/// logins go to no DC (they are refused as `directory_unavailable`, and recorded like any
/// other decision): what is checked here is the trail, not AD.
struct Trail {
    adgate: Adgate,
    keys: tempfile::TempDir,
}

impl Trail {
    async fn write() -> Trail {
        let keys = tempfile::tempdir().unwrap();
        let (code, text) = adgate_command(&[
            "audit".as_ref(),
            "keygen".as_ref(),
            "--key".as_ref(),
            keys.path().join("checkpoint.key").as_os_str(),
            "--pubkey".as_ref(),
            keys.path().join("checkpoint.pub").as_os_str(),
        ]);
        assert_eq!(code, 0, "{text}");
        let key = keys.path().join("checkpoint.key");
        // Every login is refused (no DC); the trail is what is checked here, not the delay.
        let mut adgate = Adgate::start_on(Lab::without_dc(), |config| {
            let config = without_reject_delay(config);
            format!(
                "{config}segment_max_bytes = 2048\nsigning_key_file = \"{}\"\ncheckpoint_every_records = 4\n",
                key.display()
            )
        });
        for round in 0..2 {
            for n in 0..9 {
                let user = if n % 3 == 0 { "alice" } else { "frank" };
                adgate.login(user).await;
            }
            adgate.stop();
            if round == 0 {
                adgate.restart();
            }
        }
        Trail { adgate, keys }
    }

    fn dir(&self) -> PathBuf {
        self.adgate.audit_dir()
    }

    fn pubkey(&self) -> PathBuf {
        self.keys.path().join("checkpoint.pub")
    }

    /// `adgate audit verify` with `--pubkey` and `extra` arguments.
    fn verify(&self, extra: &[&OsStr]) -> (i32, String) {
        let dir = self.dir();
        let pubkey = self.pubkey();
        let mut args: Vec<&OsStr> = vec![
            "audit".as_ref(),
            "verify".as_ref(),
            dir.as_os_str(),
            "--pubkey".as_ref(),
            pubkey.as_os_str(),
        ];
        args.extend_from_slice(extra);
        adgate_command(&args)
    }

    /// Segment file names in sequence order (the open one last).
    fn segments(&self) -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(self.dir())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| n.starts_with("audit-") && !n.ends_with(".tmp"))
            .collect();
        names.sort();
        names.push("audit.jsonl".into());
        names
    }

    fn compressed_segments(&self) -> Vec<String> {
        self.segments()
            .into_iter()
            .filter(|n| n.ends_with(".gz"))
            .collect()
    }

    /// The checkpoint records, as a syslog collector would have stored them, in a file outside.
    fn checkpoints_that_left(&self) -> PathBuf {
        let mut copy = String::new();
        for name in self.segments() {
            for line in read_lines(&self.dir().join(&name)) {
                if line.contains("\"type\":\"checkpoint\"") {
                    copy.push_str(&format!("Nov 25 20:00:00 gw1 adgate[1]: {line}\n"));
                }
            }
        }
        let path = self.keys.path().join("collector.log");
        std::fs::write(&path, copy).unwrap();
        path
    }
}

fn read_lines(path: &Path) -> Vec<String> {
    let bytes = std::fs::read(path).unwrap();
    let text = if path.extension() == Some(OsStr::new("gz")) {
        let mut text = String::new();
        flate2::read::MultiGzDecoder::new(&bytes[..])
            .read_to_string(&mut text)
            .unwrap();
        text
    } else {
        String::from_utf8(bytes).unwrap()
    };
    text.lines().map(str::to_owned).collect()
}

/// Rewrites a segment's lines (compressed again if it was), as an attacker with root would.
fn edit_segment(path: &Path, edit: impl FnOnce(&mut Vec<String>)) {
    let mut lines = read_lines(path);
    edit(&mut lines);
    let text: String = lines.iter().map(|l| format!("{l}\n")).collect();
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o640)).unwrap();
    if path.extension() == Some(OsStr::new("gz")) {
        let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        encoder.write_all(text.as_bytes()).unwrap();
        std::fs::write(path, encoder.finish().unwrap()).unwrap();
    } else {
        std::fs::write(path, text).unwrap();
    }
}

/// Recomputes every `prev` from the first line on, as someone without the signing key can.
fn rehash_whole_chain(trail: &Trail) {
    let mut prev = "0".repeat(64);
    for name in trail.segments() {
        edit_segment(&trail.dir().join(name), |lines| {
            for line in lines.iter_mut() {
                let start = line.find("\"prev\":\"").unwrap() + 8;
                line.replace_range(start..start + 64, &prev);
                prev = hex::encode(Sha256::digest(line.as_bytes()));
            }
        });
    }
}

fn assert_broken(result: (i32, String), needles: &[&str]) {
    let (code, text) = result;
    assert_eq!(code, 1, "verify should fail: {text}");
    assert!(text.contains("BROKEN"), "{text}");
    for needle in needles {
        assert!(text.contains(needle), "{needle:?} not in: {text}");
    }
}

#[tokio::test]
async fn an_untouched_trail_verifies_across_rotation_compression_and_restarts() {
    let trail = Trail::write().await;
    let compressed = trail.compressed_segments();
    assert!(compressed.len() >= 2, "segments: {:?}", trail.segments());
    for name in &compressed {
        let mode = std::fs::metadata(trail.dir().join(name))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o222, 0, "{name} is writable: {mode:o}");
    }
    let checkpoints = trail.checkpoints_that_left();
    let (code, text) = trail.verify(&["--checkpoints".as_ref(), checkpoints.as_os_str()]);
    assert_eq!(code, 0, "{text}");
    assert!(text.contains("intact"), "{text}");
    assert!(!text.contains(" 0 signed checkpoint"), "{text}");
}

#[tokio::test]
async fn an_edited_record_in_a_closed_segment_is_named() {
    let trail = Trail::write().await;
    let segment = trail.compressed_segments()[0].clone();
    edit_segment(&trail.dir().join(&segment), |lines| {
        lines[0] = lines[0].replacen("\"time\":\"20", "\"time\":\"19", 1);
    });
    assert_broken(
        trail.verify(&[]),
        &[&format!("{segment}, line 2"), "altered"],
    );
}

#[tokio::test]
async fn a_flipped_byte_in_compressed_data_is_named() {
    let trail = Trail::write().await;
    let segment = trail.compressed_segments()[0].clone();
    let path = trail.dir().join(&segment);
    let mut bytes = std::fs::read(&path).unwrap();
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0x01;
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o640)).unwrap();
    std::fs::write(&path, bytes).unwrap();
    assert_broken(trail.verify(&[]), &[&segment]);
}

#[tokio::test]
async fn a_deleted_line_is_named() {
    let trail = Trail::write().await;
    let segment = trail.compressed_segments()[0].clone();
    edit_segment(&trail.dir().join(&segment), |lines| {
        lines.remove(1);
    });
    assert_broken(
        trail.verify(&[]),
        &[&format!("{segment}, line 2"), "expected seq"],
    );
}

#[tokio::test]
async fn reordered_lines_are_named() {
    let trail = Trail::write().await;
    let segment = trail.compressed_segments()[1].clone();
    edit_segment(&trail.dir().join(&segment), |lines| lines.swap(0, 1));
    assert_broken(
        trail.verify(&[]),
        &[&format!("{segment}, line 1"), "expected seq"],
    );
}

#[tokio::test]
async fn a_tail_cut_mid_line_is_reported_as_torn() {
    let trail = Trail::write().await;
    let open = trail.dir().join("audit.jsonl");
    let length = std::fs::metadata(&open).unwrap().len();
    std::fs::OpenOptions::new()
        .write(true)
        .open(&open)
        .unwrap()
        .set_len(length - 10)
        .unwrap();
    assert_broken(trail.verify(&[]), &["audit.jsonl", "torn last line"]);
}

#[tokio::test]
async fn whole_lines_cut_from_the_end_are_caught_by_the_checkpoints_that_left() {
    let trail = Trail::write().await;
    let checkpoints = trail.checkpoints_that_left();
    let mut to_remove = 2;
    for name in trail.segments().iter().rev() {
        edit_segment(&trail.dir().join(name), |lines| {
            while to_remove > 0 && lines.pop().is_some() {
                to_remove -= 1;
            }
        });
    }
    assert_broken(
        trail.verify(&["--checkpoints".as_ref(), checkpoints.as_os_str()]),
        &["collector.log", "removed from the end"],
    );
}

#[tokio::test]
async fn a_deleted_segment_is_named() {
    let trail = Trail::write().await;
    let segments = trail.segments();
    std::fs::remove_file(trail.dir().join(&segments[1])).unwrap();
    assert_broken(
        trail.verify(&[]),
        &[&format!("{}, line 1", segments[2]), "a segment is missing"],
    );
    std::fs::remove_file(trail.dir().join(&segments[0])).unwrap();
    assert_broken(trail.verify(&[]), &["segments were deleted"]);
}

#[tokio::test]
async fn a_chain_rewritten_without_the_key_fails_its_checkpoints() {
    let trail = Trail::write().await;
    let checkpoints = trail.checkpoints_that_left();
    let first = trail.segments()[0].clone();
    edit_segment(&trail.dir().join(&first), |lines| {
        // The first decision (the run's first record is its config record).
        let decision = lines
            .iter_mut()
            .find(|line| line.contains("\"type\":\"decision\""))
            .unwrap();
        *decision = decision.replacen("\"frank\"", "\"grace\"", 1);
        *decision = decision.replacen("\"alice\"", "\"grace\"", 1);
    });
    rehash_whole_chain(&trail);
    assert_broken(trail.verify(&[]), &["checkpoint", "rewritten"]);

    // Replacing the in-trail checkpoints too leaves the copies that went to syslog.
    for name in trail.segments() {
        edit_segment(&trail.dir().join(name), |lines| {
            for line in lines
                .iter_mut()
                .filter(|l| l.contains("\"type\":\"checkpoint\""))
            {
                let end = line.find(",\"schema\"").unwrap();
                *line = format!("{},\"schema\":2,\"type\":\"decision\"}}", &line[..end]);
            }
        });
    }
    rehash_whole_chain(&trail);
    let (code, text) = trail.verify(&[]);
    assert_eq!(
        code, 0,
        "the rewrite is consistent without outside evidence: {text}"
    );
    assert_broken(
        trail.verify(&["--checkpoints".as_ref(), checkpoints.as_os_str()]),
        &[
            "collector.log",
            "differs from the signed checkpoint",
            "rewritten",
        ],
    );
}
