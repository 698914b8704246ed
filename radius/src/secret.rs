//! The shared secret between adgate and one NAS (RFC 2865 §3).
//!
//! Everything that authenticates a packet is keyed by it, so it lives in
//! memory that is wiped on drop and never reaches a log or a `Debug` dump.

use std::fmt;

use hmac::{Hmac, KeyInit};
use md5::Md5;
use zeroize::Zeroizing;

/// A RADIUS shared secret: wiped from memory on drop, redacted in `Debug`.
pub struct SharedSecret {
    bytes: Zeroizing<Vec<u8>>,
    /// HMAC-MD5 keyed by the secret, with its two padded-key blocks already hashed (the
    /// precomputation of RFC 2104 §4): each Message-Authenticator clones it instead of hashing
    /// them again, two of the four MD5 blocks of a short packet's HMAC. Those intermediate
    /// states are as secret as the key (RFC 2104 §4); they are wiped on drop too (md-5's
    /// `zeroize`).
    keyed_hmac: Hmac<Md5>,
}

impl SharedSecret {
    /// Takes ownership of the secret bytes; they are wiped when the value drops.
    pub fn new(secret: Vec<u8>) -> Self {
        // Cannot fail: HMAC takes keys of any length (RFC 2104 §2; a longer key is hashed
        // first), and `new_from_slice` only returns its error type for the trait's sake.
        #[allow(clippy::expect_used)]
        let keyed_hmac = <Hmac<Md5> as KeyInit>::new_from_slice(&secret)
            .expect("HMAC takes keys of any length (RFC 2104 §2)");
        Self {
            bytes: Zeroizing::new(secret),
            keyed_hmac,
        }
    }

    /// The secret bytes, for keying MD5. Never log them.
    pub fn expose(&self) -> &[u8] {
        &self.bytes
    }

    /// A fresh HMAC-MD5 keyed by the secret (RFC 2104), ready for the message.
    pub(crate) fn hmac_md5(&self) -> Hmac<Md5> {
        self.keyed_hmac.clone()
    }
}

impl fmt::Debug for SharedSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SharedSecret(<redacted>)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_never_shows_the_secret() {
        let secret = SharedSecret::new(b"xyzzy5461".to_vec());
        assert_eq!(format!("{secret:?}"), "SharedSecret(<redacted>)");
        assert_eq!(secret.expose(), b"xyzzy5461");
    }
}
