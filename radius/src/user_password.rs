//! User-Password hiding (RFC 2865 §5.2): the password is XORed with an MD5
//! keystream derived from the shared secret and the Request Authenticator.
//!
//! Written here rather than taken from radius-rs because its decoder cuts
//! the password at the first NUL instead of stripping the padding, accepts
//! lengths that are not a multiple of 16, and leaves copies of the secret
//! and of the cleartext in memory that is never wiped.

use md5::{Digest, Md5};
use zeroize::Zeroizing;

use crate::packet::Authenticator;
use crate::password::Password;
use crate::secret::SharedSecret;

/// "The Password field ... MUST NOT be longer than 128 characters"
/// (RFC 2865 §5.2).
pub(crate) const MAX_PASSWORD_LEN: usize = 128;
const BLOCK_LEN: usize = 16;

/// The password is longer than the 128 octets RFC 2865 §5.2 allows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct PasswordTooLong;

/// A User-Password value that is not 16 to 128 octets in whole 16-octet
/// blocks, so it cannot have been hidden as RFC 2865 §5.2 prescribes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct UndecodablePassword;

/// Hides `password` for the User-Password attribute of a request carrying
/// `request_authenticator`: `c(i) = p(i) XOR MD5(S + c(i-1))`, with
/// `c(0)` the Request Authenticator and the password NUL-padded to a
/// multiple of 16 octets (RFC 2865 §5.2).
pub(crate) fn hide(
    secret: &SharedSecret,
    request_authenticator: &Authenticator,
    password: &[u8],
) -> Result<Vec<u8>, PasswordTooLong> {
    if password.len() > MAX_PASSWORD_LEN {
        return Err(PasswordTooLong);
    }
    let padded_len = password.len().div_ceil(BLOCK_LEN).max(1) * BLOCK_LEN;
    // Reserved up front so the cleartext is never left behind by a
    // reallocation; it is overwritten in place by the ciphertext below.
    let mut hidden = Vec::with_capacity(padded_len);
    hidden.extend_from_slice(password);
    hidden.resize(padded_len, 0);
    hide_in_place(secret, request_authenticator, &mut hidden);
    Ok(hidden)
}

/// The chained MD5 hiding shared by User-Password (RFC 2865 §5.2) and
/// MS-MPPE keys (RFC 2548 §2.4.2): `c(1) = p(1) XOR MD5(S + first)`, then
/// `c(i) = p(i) XOR MD5(S + c(i-1))`. `padded` is a whole number of 16-octet
/// blocks (a trailing partial block is left as it is).
pub(crate) fn hide_in_place(secret: &SharedSecret, first: &[u8], padded: &mut [u8]) {
    let mut previous = keystream(secret, first);
    for block in padded.chunks_exact_mut(BLOCK_LEN) {
        xor_in_place(block, &previous);
        previous = keystream(secret, block);
    }
}

/// Recovers the password from a User-Password value: `p(i) = c(i) XOR
/// MD5(S + c(i-1))`, then strips the NUL padding (RFC 2865 §5.2).
pub(crate) fn unhide(
    secret: &SharedSecret,
    request_authenticator: &Authenticator,
    hidden: &[u8],
) -> Result<Password, UndecodablePassword> {
    if hidden.len() % BLOCK_LEN != 0 || !(BLOCK_LEN..=MAX_PASSWORD_LEN).contains(&hidden.len()) {
        return Err(UndecodablePassword);
    }
    let mut cleartext = Zeroizing::new(Vec::with_capacity(hidden.len()));
    let mut previous: &[u8] = request_authenticator;
    for block in hidden.chunks_exact(BLOCK_LEN) {
        let keystream = keystream(secret, previous);
        cleartext.extend(block.iter().zip(keystream.iter()).map(|(c, b)| c ^ b));
        previous = block;
    }
    let unpadded_len = cleartext
        .iter()
        .rposition(|&octet| octet != 0)
        .map_or(0, |last| last + 1);
    cleartext.truncate(unpadded_len);
    Ok(Password::new(std::mem::take(&mut *cleartext)))
}

/// The inverse of [`hide_in_place`]: `p(i) = c(i) XOR MD5(S + c(i-1))`.
pub(crate) fn unhide_in_place(secret: &SharedSecret, first: &[u8], hidden: &mut [u8]) {
    let mut block_keystream = keystream(secret, first);
    for block in hidden.chunks_exact_mut(BLOCK_LEN) {
        let next = keystream(secret, block);
        xor_in_place(block, &block_keystream);
        block_keystream = next;
    }
}

/// `MD5(S + previous)`: one 16-octet block of the keystream.
fn keystream(secret: &SharedSecret, previous: &[u8]) -> Zeroizing<[u8; BLOCK_LEN]> {
    let mut md5 = Md5::new();
    md5.update(secret.expose());
    md5.update(previous);
    Zeroizing::new(md5.finalize().into())
}

fn xor_in_place(block: &mut [u8], keystream: &[u8; BLOCK_LEN]) {
    block
        .iter_mut()
        .zip(keystream)
        .for_each(|(octet, key)| *octet ^= key);
}

#[cfg(test)]
mod tests {
    use radius::core::avp::AVP;

    use super::*;
    use crate::dictionary::USER_PASSWORD;
    use crate::test_vectors::{RFC2865_7_1_REQUEST, RFC2865_7_1_REQUEST_AUTHENTICATOR, SECRET};

    fn secret() -> SharedSecret {
        SharedSecret::new(SECRET.to_vec())
    }

    /// A password of `len` octets without NULs, which RFC 2865 §5.2
    /// padding could not preserve.
    fn password_of(len: usize) -> Vec<u8> {
        (0..len).map(|i| (i % 255) as u8 + 1).collect()
    }

    #[test]
    fn decodes_the_rfc_2865_example() {
        let hidden = &RFC2865_7_1_REQUEST[28..44];
        let password = unhide(&secret(), &RFC2865_7_1_REQUEST_AUTHENTICATOR, hidden).unwrap();
        assert_eq!(password.expose(), b"arctangent");
        assert_eq!(
            hide(&secret(), &RFC2865_7_1_REQUEST_AUTHENTICATOR, b"arctangent").unwrap(),
            hidden
        );
    }

    #[test]
    fn round_trips_every_length_up_to_128() {
        let authenticator = [0x5a; 16];
        for len in 0..=MAX_PASSWORD_LEN {
            let password = password_of(len);
            let hidden = hide(&secret(), &authenticator, &password).unwrap();
            assert_eq!(hidden.len(), len.div_ceil(16).max(1) * 16, "length {len}");
            let recovered = unhide(&secret(), &authenticator, &hidden).unwrap();
            assert_eq!(recovered.expose(), password, "length {len}");
        }
    }

    #[test]
    fn agrees_with_radius_rs_for_every_length() {
        let authenticator = [0xc3; 16];
        for len in 0..=MAX_PASSWORD_LEN {
            let password = password_of(len);
            let reference =
                AVP::from_user_password(USER_PASSWORD, &password, SECRET, &authenticator).unwrap();
            let hidden = hide(&secret(), &authenticator, &password).unwrap();
            assert_eq!(hidden, reference.encode_bytes(), "length {len}");
        }
    }

    #[test]
    fn strips_only_trailing_padding() {
        let authenticator = [0x01; 16];
        let hidden = hide(&secret(), &authenticator, b"a\0b\0\0").unwrap();
        let recovered = unhide(&secret(), &authenticator, &hidden).unwrap();
        assert_eq!(recovered.expose(), b"a\0b");
    }

    #[test]
    fn rejects_lengths_rfc_2865_forbids() {
        let authenticator = [0; 16];
        for len in [0, 1, 15, 17, 31, 127, 129, 144, 253] {
            assert_eq!(
                unhide(&secret(), &authenticator, &vec![0x42; len]).err(),
                Some(UndecodablePassword),
                "length {len}"
            );
        }
        assert_eq!(
            hide(&secret(), &authenticator, &[1; 129]),
            Err(PasswordTooLong)
        );
    }
}
