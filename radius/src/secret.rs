//! The shared secret between adgate and one NAS (RFC 2865 §3).
//!
//! Everything that authenticates a packet is keyed by it, so it lives in
//! memory that is wiped on drop and never reaches a log or a `Debug` dump.

use std::fmt;

use zeroize::Zeroizing;

/// A RADIUS shared secret: wiped from memory on drop, redacted in `Debug`.
pub struct SharedSecret(Zeroizing<Vec<u8>>);

impl SharedSecret {
    /// Takes ownership of the secret bytes; they are wiped when the value drops.
    pub fn new(secret: Vec<u8>) -> Self {
        Self(Zeroizing::new(secret))
    }

    /// The secret bytes, for keying MD5 and HMAC-MD5. Never log them.
    pub fn expose(&self) -> &[u8] {
        &self.0
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
