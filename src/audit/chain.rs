//! The hash chain that makes the trail tamper-evident. Every line starts with its sequence
//! number and the SHA-256 of the line before it; the hash covers the exact bytes of a line (not a
//! re-serialisation), so anyone can check the chain with `sha256sum`-level tools and no JSON
//! canonicalisation can differ between writer and verifier.

use serde::Deserialize;
use sha2::{Digest, Sha256};

/// `prev` of the very first record: 64 zeros.
pub const GENESIS_HASH: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// Where the chain stands: the last record written and its hash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChainHead {
    /// Sequence number of the last record (0 before the first record).
    pub seq: u64,
    /// Hex SHA-256 of the last record's line, or `GENESIS_HASH`.
    pub hash: String,
}

impl ChainHead {
    pub fn genesis() -> ChainHead {
        ChainHead {
            seq: 0,
            hash: GENESIS_HASH.to_owned(),
        }
    }

    /// Chains `body` (a serialized JSON object) after this head: returns the line (without the
    /// newline) and moves the head to it.
    pub fn chain(&mut self, body: &[u8]) -> Vec<u8> {
        let seq = self.seq + 1;
        let inner = body.strip_prefix(b"{").unwrap_or(body);
        let mut line = format!("{{\"seq\":{seq},\"prev\":\"{}\"", self.hash).into_bytes();
        if inner != b"}" {
            line.push(b',');
        }
        line.extend_from_slice(inner);
        self.seq = seq;
        self.hash = line_hash(&line);
        line
    }
}

/// Hex SHA-256 of one line's bytes, without its newline.
pub fn line_hash(line: &[u8]) -> String {
    hex::encode(Sha256::digest(line))
}

/// The chain fields every line starts with, plus its type; the rest of the record is ignored.
#[derive(Debug, Deserialize)]
pub struct ChainFields {
    pub seq: u64,
    pub prev: String,
    #[serde(rename = "type")]
    pub kind: Option<String>,
}

impl ChainFields {
    /// Reads the chain fields of a line; `None` if the line is not a chained JSON record.
    pub fn parse(line: &[u8]) -> Option<ChainFields> {
        serde_json::from_slice(line).ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_line_names_its_sequence_and_the_hash_of_the_line_before() {
        let mut head = ChainHead::genesis();
        let first = head.chain(br#"{"type":"decision"}"#);
        let second = head.chain(br#"{"type":"decision"}"#);
        let first_fields = ChainFields::parse(&first).unwrap();
        let second_fields = ChainFields::parse(&second).unwrap();
        assert_eq!(
            (first_fields.seq, first_fields.prev.as_str()),
            (1, GENESIS_HASH)
        );
        assert_eq!(second_fields.seq, 2);
        assert_eq!(second_fields.prev, line_hash(&first));
        assert_eq!(head.hash, line_hash(&second));
    }
}
