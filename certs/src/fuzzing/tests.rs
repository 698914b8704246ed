//! The `eap_tls` fuzz target's harness takes a real peer through a whole handshake (so the
//! fuzzer starts from conversations that get somewhere), and its committed corpus and past
//! findings replay without a panic in every plain `cargo test`.

use std::path::{Path, PathBuf};

use rustls::SupportedProtocolVersion;

use super::{eap_tls_conversation, pki, EapTlsSession, IdentityPolicy, Step};
use crate::eap_tls_peer::{peer_config, EapTlsPeer};
use crate::test_pki::UserCertificate;

const TARGET: &str = "eap_tls";

fn fuzz_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz")
}

/// A seed: alice's login as a real peer plays it against the harness's server, with our
/// fragments carrying `64 + 4 × fragment_size` octets. The seed, and how it ended.
fn login(version: &'static SupportedProtocolVersion, fragment_size: u8) -> (Vec<u8>, Step) {
    let pki = pki();
    let issued = pki
        .ca
        .issue(&UserCertificate::named("alice").upn("alice@corp.example.test"));
    let dir = tempfile::tempdir().unwrap();
    let write = |name: &str, text: &str| {
        let path = dir.path().join(name);
        std::fs::write(&path, text).unwrap();
        path
    };
    let config = peer_config(
        &write("ca.pem", &pki.ca.pem()),
        &write("alice.pem", &issued.certificate_pem()),
        &write("alice.key", &issued.key_pem()),
        version,
    )
    .unwrap();
    let mut peer = EapTlsPeer::new(config, "radius.corp.example.test").unwrap();
    let (mut session, mut request) = EapTlsSession::start(
        pki.config.clone(),
        64 + 4 * usize::from(fragment_size),
        IdentityPolicy::default(),
    )
    .unwrap();
    let mut seed = vec![fragment_size];
    for _ in 0..64 {
        let response = peer.respond(&request).unwrap();
        seed.extend_from_slice(&u16::try_from(response.len()).unwrap().to_be_bytes());
        seed.extend_from_slice(&response);
        match session.advance(&response) {
            Step::Continue(next) => request = next,
            over => return (seed, over),
        }
    }
    panic!("no end after 64 messages");
}

fn seeds() -> Vec<(&'static str, Vec<u8>, Step)> {
    [
        ("tls13", &rustls::version::TLS13, 240),
        ("tls13-fragmented", &rustls::version::TLS13, 10),
        ("tls12", &rustls::version::TLS12, 240),
        ("tls12-fragmented", &rustls::version::TLS12, 10),
    ]
    .into_iter()
    .map(|(name, version, fragment_size)| {
        let (seed, end) = login(version, fragment_size);
        (name, seed, end)
    })
    .collect()
}

#[test]
fn a_real_peer_through_the_harness_gets_to_the_end_of_the_handshake() {
    for (name, _, end) in seeds() {
        assert!(matches!(end, Step::Established(_)), "{name}: {end:?}");
    }
}

#[test]
fn the_eap_tls_corpus_replays_without_panics() {
    let inputs: Vec<PathBuf> = ["corpus", "regressions"]
        .iter()
        .filter_map(|kind| std::fs::read_dir(fuzz_dir().join(kind).join(TARGET)).ok())
        .flatten()
        .map(|entry| entry.unwrap().path())
        .collect();
    assert!(
        inputs.len() >= 4,
        "the seeds are checked in under fuzz/corpus/{TARGET}"
    );
    for input in inputs {
        eap_tls_conversation(&std::fs::read(&input).unwrap());
    }
}

/// Rewrites the seeds in `fuzz/corpus/eap_tls/`
/// (by hand, with `ADGATE_WRITE_FUZZ_SEEDS=1`, after changing them).
#[test]
#[ignore = "writes the seed corpus: ADGATE_WRITE_FUZZ_SEEDS=1 cargo test -p adgate-certs --lib write_the_seed_corpus -- --ignored"]
fn write_the_seed_corpus() {
    // The suite runs ignored tests too (deploy/test.sh): without the variable, leave the
    // committed seeds as they are (TLS randoms make every rewrite differ).
    if std::env::var_os("ADGATE_WRITE_FUZZ_SEEDS").is_none() {
        return;
    }
    let dir = fuzz_dir().join("corpus").join(TARGET);
    std::fs::create_dir_all(&dir).unwrap();
    for (name, seed, _) in seeds() {
        std::fs::write(dir.join(format!("seed-{name}")), seed).unwrap();
    }
}
