//! A user's cleartext password, as recovered from User-Password (RFC 2865 §5.2).
//!
//! It travels from the wire decoder to the directory bind and nowhere else:
//! the bytes are wiped on drop and `Debug` never prints them.

use std::fmt;

use zeroize::Zeroizing;

/// Cleartext password bytes: wiped from memory on drop, redacted in `Debug`.
pub struct Password(Zeroizing<Vec<u8>>);

impl Password {
    /// Takes ownership of the password bytes; they are wiped when the value drops.
    pub fn new(password: Vec<u8>) -> Self {
        Self(Zeroizing::new(password))
    }

    /// The password bytes, for the directory bind. Never log them.
    pub fn expose(&self) -> &[u8] {
        &self.0
    }

    /// Whether the password is empty. An empty password must never reach an
    /// LDAP simple bind, which would treat it as an unauthenticated bind
    /// (RFC 4513 §5.1.2).
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Debug for Password {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Password(<redacted>)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_never_shows_the_password() {
        let password = Password::new(b"arctangent".to_vec());
        assert_eq!(format!("{password:?}"), "Password(<redacted>)");
        assert_eq!(password.expose(), b"arctangent");
        assert!(!password.is_empty());
        assert!(Password::new(Vec::new()).is_empty());
    }
}
