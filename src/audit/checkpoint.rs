//! Signed checkpoints: every so often the writer signs (sequence, hash) of the chain head with an
//! Ed25519 key kept outside the audit directory, and writes the signature into the trail (from
//! where it also goes to syslog). Someone who can rewrite the audit directory can recompute
//! every hash, but cannot sign, and cannot recall the checkpoints that already left the machine.

use std::path::Path;

use ed25519_dalek::pkcs8::{DecodePrivateKey, DecodePublicKey, EncodePrivateKey, EncodePublicKey};
use ed25519_dalek::{Signature, Signer, SigningKey, Verifier, VerifyingKey};
use serde::{Deserialize, Serialize};

use super::chain::ChainHead;

/// What a checkpoint signs: a fixed context string, the sequence number and the hash, so a
/// signature can never be mistaken for one over other data.
fn signed_message(seq: u64, hash: &str) -> Vec<u8> {
    format!("adgate-checkpoint-v1 seq={seq} hash={hash}").into_bytes()
}

/// The `checkpoint` field of a checkpoint record: the chain head it vouches for.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Checkpoint {
    pub seq: u64,
    pub hash: String,
}

/// A checkpoint record's body (the chain fields are added by the writer).
#[derive(Debug, Serialize, Deserialize)]
pub struct CheckpointRecord {
    pub schema: u32,
    #[serde(rename = "type")]
    pub kind: String,
    pub time: String,
    pub checkpoint: Checkpoint,
    /// Hex Ed25519 public key that made the signature.
    pub public_key: String,
    /// Hex Ed25519 signature over "adgate-checkpoint-v1 seq=SEQ hash=HASH".
    pub signature: String,
}

/// Why a checkpoint does not vouch for what it claims.
#[derive(Debug, thiserror::Error)]
pub enum CheckpointError {
    #[error("signature is not hex of 64 bytes")]
    MalformedSignature,
    #[error("signature does not match (not made by this key, or the checkpoint was altered)")]
    BadSignature,
}

/// The key checkpoints are signed with.
pub struct CheckpointSigner {
    key: SigningKey,
}

impl CheckpointSigner {
    /// Reads a PKCS#8 PEM Ed25519 private key (as written by `adgate audit keygen`).
    pub fn load(path: &Path) -> anyhow::Result<CheckpointSigner> {
        let pem = std::fs::read_to_string(path)
            .map_err(|e| anyhow::anyhow!("cannot read signing key {}: {e}", path.display()))?;
        let key = SigningKey::from_pkcs8_pem(&pem).map_err(|e| {
            anyhow::anyhow!("{} is not an Ed25519 PKCS#8 PEM key: {e}", path.display())
        })?;
        Ok(CheckpointSigner { key })
    }

    /// A checkpoint record vouching for `head`.
    pub fn sign(&self, head: &ChainHead, schema: u32) -> CheckpointRecord {
        let signature = self.key.sign(&signed_message(head.seq, &head.hash));
        CheckpointRecord {
            schema,
            kind: "checkpoint".into(),
            time: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
            checkpoint: Checkpoint {
                seq: head.seq,
                hash: head.hash.clone(),
            },
            public_key: hex::encode(self.key.verifying_key().as_bytes()),
            signature: hex::encode(signature.to_bytes()),
        }
    }
}

/// Reads a PEM public key (as written by `adgate audit keygen`).
pub fn load_public_key(path: &Path) -> anyhow::Result<VerifyingKey> {
    let pem = std::fs::read_to_string(path)
        .map_err(|e| anyhow::anyhow!("cannot read public key {}: {e}", path.display()))?;
    VerifyingKey::from_public_key_pem(&pem)
        .map_err(|e| anyhow::anyhow!("{} is not an Ed25519 PEM public key: {e}", path.display()))
}

/// Checks that `record` was signed by `key`.
pub fn check_signature(
    key: &VerifyingKey,
    record: &CheckpointRecord,
) -> Result<(), CheckpointError> {
    let bytes: [u8; 64] = hex::decode(&record.signature)
        .ok()
        .and_then(|b| b.try_into().ok())
        .ok_or(CheckpointError::MalformedSignature)?;
    let message = signed_message(record.checkpoint.seq, &record.checkpoint.hash);
    key.verify(&message, &Signature::from_bytes(&bytes))
        .map_err(|_| CheckpointError::BadSignature)
}

/// A new key pair as (private PKCS#8 PEM, public SPKI PEM).
pub fn generate_key_pair() -> anyhow::Result<(String, String)> {
    let key = SigningKey::generate(&mut rand_core::OsRng);
    let private = key
        .to_pkcs8_pem(Default::default())
        .map_err(|e| anyhow::anyhow!("cannot encode the private key: {e}"))?;
    let public = key
        .verifying_key()
        .to_public_key_pem(Default::default())
        .map_err(|e| anyhow::anyhow!("cannot encode the public key: {e}"))?;
    Ok((private.to_string(), public))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_checkpoint_verifies_with_its_key_and_not_once_altered() {
        let dir = tempfile::tempdir().unwrap();
        let (private, public) = generate_key_pair().unwrap();
        std::fs::write(dir.path().join("key"), private).unwrap();
        std::fs::write(dir.path().join("pub"), public).unwrap();
        let signer = CheckpointSigner::load(&dir.path().join("key")).unwrap();
        let key = load_public_key(&dir.path().join("pub")).unwrap();
        let head = ChainHead {
            seq: 42,
            hash: "ab".repeat(32),
        };
        let mut record = signer.sign(&head, 2);
        assert!(check_signature(&key, &record).is_ok());
        record.checkpoint.seq = 43;
        assert!(matches!(
            check_signature(&key, &record),
            Err(CheckpointError::BadSignature)
        ));
    }
}
