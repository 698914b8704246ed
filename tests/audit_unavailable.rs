//! Fail closed: when the audit directory cannot be written — remounted read-only, or full —
//! logins are rejected (`audit_unavailable` in the log), and once it can be written again
//! logins are accepted and the chain is intact. The directory is a small tmpfs mounted for the
//! test inside the test's own mount namespace (`ip netns exec` gives it one).
// An integration test: its helpers, outside the #[test] functions clippy.toml covers, may
// panic too (a panic is how a test fails).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use adgate_radius::ResponseCode;
use common::{adgate_command, Adgate};

/// A tmpfs of `size` mounted on a fresh directory; unmounted when dropped.
struct SmallDisk {
    _parent: tempfile::TempDir,
    path: PathBuf,
}

impl SmallDisk {
    fn mount(size: &str) -> SmallDisk {
        let parent = tempfile::tempdir().unwrap();
        let path = parent.path().join("audit");
        std::fs::create_dir(&path).unwrap();
        mount(
            &[
                "-t",
                "tmpfs",
                "-o",
                &format!("size={size},mode=0700"),
                "tmpfs",
            ],
            &path,
        );
        SmallDisk {
            _parent: parent,
            path,
        }
    }

    fn remount(&self, mode: &str) {
        mount(&["-o", &format!("remount,{mode}")], &self.path);
    }
}

impl Drop for SmallDisk {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(&self.path).status();
    }
}

fn mount(args: &[&str], path: &Path) {
    let status = Command::new("mount").args(args).arg(path).status().unwrap();
    assert!(status.success(), "mount {args:?} {} failed", path.display());
}

fn start_on(disk: &SmallDisk) -> Adgate {
    Adgate::start_with(|config| {
        let (before, _) = config.split_once("[audit]").unwrap();
        format!("{before}[audit]\ndir = \"{}\"\n", disk.path.display())
    })
}

#[tokio::test]
#[ignore = "needs the lab AD: deploy/test.sh"]
async fn a_read_only_audit_directory_rejects_logins_until_writable_again() {
    let disk = SmallDisk::mount("4m");
    let mut adgate = start_on(&disk);
    assert_eq!(adgate.login("alice").await, ResponseCode::Accept);

    disk.remount("ro");
    assert_eq!(adgate.login("alice").await, ResponseCode::Reject);
    assert!(
        adgate.log().contains("audit_unavailable"),
        "{}",
        adgate.log()
    );

    disk.remount("rw");
    assert_eq!(adgate.login("alice").await, ResponseCode::Accept);
    adgate.stop();
    let (code, text) =
        adgate_command(&["audit".as_ref(), "verify".as_ref(), disk.path.as_os_str()]);
    assert_eq!(code, 0, "{text}");
    // The start's config record, and the two accepts.
    assert!(text.contains("intact: 3 record(s)"), "{text}");
}

#[tokio::test]
#[ignore = "needs the lab AD: deploy/test.sh"]
async fn a_full_audit_directory_rejects_logins_until_space_is_freed() {
    let disk = SmallDisk::mount("256k");
    let mut adgate = start_on(&disk);
    assert_eq!(adgate.login("alice").await, ResponseCode::Accept);

    // Fill the disk; the open segment's last page may still take a record or two.
    let filler = disk.path.join("filler");
    let _ = std::fs::write(&filler, vec![0u8; 512 * 1024]);
    let mut answers = Vec::new();
    for _ in 0..10 {
        answers.push(adgate.login("alice").await);
        if answers.last() == Some(&ResponseCode::Reject) {
            break;
        }
    }
    assert_eq!(answers.last(), Some(&ResponseCode::Reject), "{answers:?}");
    assert!(
        adgate.log().contains("audit_unavailable"),
        "{}",
        adgate.log()
    );

    std::fs::remove_file(&filler).unwrap();
    assert_eq!(adgate.login("alice").await, ResponseCode::Accept);
    adgate.stop();
    let accepted = answers
        .iter()
        .filter(|c| **c == ResponseCode::Accept)
        .count()
        + 3; // the first and the last accept, and the start's config record
    let (code, text) =
        adgate_command(&["audit".as_ref(), "verify".as_ref(), disk.path.as_os_str()]);
    assert_eq!(code, 0, "{text}");
    assert!(
        text.contains(&format!("intact: {accepted} record(s)")),
        "{text}"
    );
}
