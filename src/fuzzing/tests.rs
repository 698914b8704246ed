//! The `gatekeeper` fuzz target's harness reaches what it claims to (a harness that signs
//! wrongly would leave the fuzzer at the authenticator check), and its committed corpus and
//! past findings replay without a panic in every plain `cargo test`.

use std::path::{Path, PathBuf};

use super::seeds::seed_inputs;
use super::{handle_datagrams, Harness};

/// RADIUS codes of the answers (RFC 2865 §3, RFC 2866 §4).
const ACCESS_ACCEPT: u8 = 2;
const ACCESS_REJECT: u8 = 3;
const ACCOUNTING_RESPONSE: u8 = 5;

const TARGET: &str = "gatekeeper";

fn fuzz_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz")
}

/// The RADIUS code of each seed's last answer, by seed name (0: no answer).
fn last_codes() -> Vec<(&'static str, u8)> {
    let harness = Harness::new();
    let codes = seed_inputs(&harness)
        .into_iter()
        .map(|(name, _, last)| (name, last.and_then(|a| a.first().copied()).unwrap_or(0)))
        .collect();
    harness.finish();
    codes
}

#[test]
fn signed_seeds_reach_the_directory_and_the_trail() {
    let codes = last_codes();
    let code = |name: &str| codes.iter().find(|(seed, _)| *seed == name).unwrap().1;
    assert_eq!(code("pap-accept"), ACCESS_ACCEPT);
    assert_eq!(code("pap-accept-retransmitted"), ACCESS_ACCEPT);
    assert_eq!(code("pap-no-telework"), ACCESS_REJECT);
    assert_eq!(code("pap-wrong-password"), ACCESS_REJECT);
    // Not signed: the Message-Authenticator is wrong, the request is discarded unanswered.
    assert_eq!(code("pap-unsigned"), 0);
    assert_eq!(code("status-server"), ACCOUNTING_RESPONSE);
    assert_eq!(code("accounting"), ACCOUNTING_RESPONSE);
    // A whole TLS handshake through EAP reassembly and rustls, then the directory.
    assert_eq!(code("eap-tls-login"), ACCESS_ACCEPT);
}

#[test]
fn the_gatekeeper_corpus_replays_without_panics() {
    let inputs: Vec<PathBuf> = ["corpus", "regressions"]
        .iter()
        .filter_map(|kind| std::fs::read_dir(fuzz_dir().join(kind).join(TARGET)).ok())
        .flatten()
        .map(|entry| entry.unwrap().path())
        .collect();
    assert!(
        inputs.len() >= 8,
        "the seeds are checked in under fuzz/corpus/{TARGET}"
    );
    for input in inputs {
        handle_datagrams(&std::fs::read(&input).unwrap());
    }
}

/// Rewrites the seeds in `fuzz/corpus/gatekeeper/`
/// (by hand, with `ADGATE_WRITE_FUZZ_SEEDS=1`, after changing `seeds.rs`).
#[test]
#[ignore = "writes the seed corpus: ADGATE_WRITE_FUZZ_SEEDS=1 cargo test -p adgate --lib write_the_seed_corpus -- --ignored"]
fn write_the_seed_corpus() {
    // The suite runs ignored tests too (deploy/test.sh): without the variable, leave the
    // committed seeds as they are (TLS randoms make every rewrite differ).
    if std::env::var_os("ADGATE_WRITE_FUZZ_SEEDS").is_none() {
        return;
    }
    let dir = fuzz_dir().join("corpus").join(TARGET);
    std::fs::create_dir_all(&dir).unwrap();
    let harness = Harness::new();
    for (name, seed, _) in seed_inputs(&harness) {
        std::fs::write(dir.join(format!("seed-{name}")), seed.to_bytes()).unwrap();
    }
    harness.finish();
}
