//! Replays the checked-in fuzz corpus (`fuzz/corpus/<target>/`) and the crashes fuzzing found
//! once (`fuzz/regressions/<target>/`) through the same entry points as the fuzz targets, so
//! plain `cargo test` on stable keeps every input fuzzing ever cared about working.
// An integration test: its helpers, outside the #[test] functions clippy.toml covers, may
// panic too (a panic is how a test fails).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use std::path::{Path, PathBuf};

fn inputs(target: &str) -> Vec<PathBuf> {
    let fuzz = Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz");
    let mut inputs: Vec<PathBuf> = ["corpus", "regressions"]
        .iter()
        .filter_map(|kind| std::fs::read_dir(fuzz.join(kind).join(target)).ok())
        .flatten()
        .map(|entry| entry.expect("a readable corpus directory").path())
        .collect();
    inputs.sort();
    inputs
}

fn replay(target: &str, run: fn(&[u8])) {
    let inputs = inputs(target);
    assert!(
        inputs.len() >= 10,
        "the {target} corpus is checked in under fuzz/corpus/{target}"
    );
    for input in inputs {
        let bytes = std::fs::read(&input).expect("a readable corpus file");
        run(&bytes);
    }
}

#[test]
fn the_decode_corpus_replays_without_panics() {
    replay("decode", adgate_radius::fuzzing::decode);
}

#[test]
fn the_request_path_corpus_replays_without_panics() {
    replay("request_path", adgate_radius::fuzzing::request_path);
}
