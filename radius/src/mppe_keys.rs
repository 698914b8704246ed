//! MS-MPPE-Recv-Key and MS-MPPE-Send-Key (RFC 2548 §2.4.2, §2.4.3): the
//! keys an EAP method derived, handed to the NAS inside an Access-Accept,
//! hidden with the shared secret so only that NAS can read them.
//!
//! A VPN gateway such as strongSwan needs them to finish its own
//! authentication, so EAP-TLS without them yields no tunnel.

use zeroize::Zeroizing;

use crate::handler::{InvalidReplyAttribute, ReplyAttribute};
use crate::packet::Authenticator;
use crate::secret::SharedSecret;
use crate::user_password::{hide_in_place, unhide_in_place};
use crate::vendor_specific::{microsoft_attribute, MICROSOFT, VENDOR_SPECIFIC};

/// RFC 2548 §2.4.2.
const MS_MPPE_SEND_KEY: u8 = 16;
/// RFC 2548 §2.4.3.
const MS_MPPE_RECV_KEY: u8 = 17;
const BLOCK_LEN: usize = 16;
/// The key-length octet, the key and its padding must fit one attribute:
/// 253 - 4 (vendor id) - 2 (vendor type, length) - 2 (salt), in whole blocks.
const MAX_KEY_LEN: usize = 240 - 1;

/// Why the MPPE key attributes cannot be built.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum MppeKeyError {
    #[error("an MPPE key longer than {MAX_KEY_LEN} octets")]
    KeyTooLong,
    #[error("the system random number generator failed")]
    NoRandomness,
}

impl From<InvalidReplyAttribute> for MppeKeyError {
    fn from(_: InvalidReplyAttribute) -> Self {
        Self::KeyTooLong
    }
}

/// Both MPPE key attributes for an Access-Accept answering a request with
/// `request_authenticator`. Each gets its own random salt with the high bit
/// set, as RFC 2548 §2.4.2 requires.
pub fn mppe_key_attributes(
    secret: &SharedSecret,
    request_authenticator: &Authenticator,
    recv_key: &[u8],
    send_key: &[u8],
) -> Result<[ReplyAttribute; 2], MppeKeyError> {
    let mut salts = [0u8; 4];
    getrandom::fill(&mut salts).map_err(|_| MppeKeyError::NoRandomness)?;
    let recv_salt = [salts[0] | 0x80, salts[1]];
    let mut send_salt = [salts[2] | 0x80, salts[3]];
    // The two salts in one Access-Accept must differ (RFC 2548 §2.4.2).
    if send_salt == recv_salt {
        send_salt[1] ^= 1;
    }
    Ok([
        microsoft_attribute(
            MS_MPPE_RECV_KEY,
            &hidden_key(secret, request_authenticator, recv_salt, recv_key)?,
        )?,
        microsoft_attribute(
            MS_MPPE_SEND_KEY,
            &hidden_key(secret, request_authenticator, send_salt, send_key)?,
        )?,
    ])
}

/// Salt, then `key length || key || zero padding` hidden with
/// `b(1) = MD5(S + R + A)`, `b(i) = MD5(S + c(i-1))` (RFC 2548 §2.4.2).
fn hidden_key(
    secret: &SharedSecret,
    request_authenticator: &Authenticator,
    salt: [u8; 2],
    key: &[u8],
) -> Result<Vec<u8>, MppeKeyError> {
    let key_len = u8::try_from(key.len())
        .ok()
        .filter(|&len| usize::from(len) <= MAX_KEY_LEN)
        .ok_or(MppeKeyError::KeyTooLong)?;
    let mut plaintext = Zeroizing::new(Vec::with_capacity(1 + key.len() + BLOCK_LEN));
    plaintext.push(key_len);
    plaintext.extend_from_slice(key);
    let padded_len = plaintext.len().div_ceil(BLOCK_LEN) * BLOCK_LEN;
    plaintext.resize(padded_len, 0);
    let mut first = [0u8; 18];
    first[..16].copy_from_slice(request_authenticator);
    first[16..].copy_from_slice(&salt);
    hide_in_place(secret, &first, &mut plaintext);
    let mut value = Vec::with_capacity(2 + plaintext.len());
    value.extend_from_slice(&salt);
    value.extend_from_slice(&plaintext);
    Ok(value)
}

/// One unhidden MPPE key, wiped on drop.
pub type MppeKey = Zeroizing<Vec<u8>>;

/// The NAS half: the keys in an Access-Accept's attributes, unhidden with the shared secret
/// and the Request Authenticator of the request it answers. `(recv, send)`; None when either
/// is missing or does not decode.
pub fn recover_mppe_keys(
    secret: &SharedSecret,
    request_authenticator: &Authenticator,
    attributes: &[(u8, Vec<u8>)],
) -> Option<(MppeKey, MppeKey)> {
    let key = |vendor_type: u8| {
        attributes
            .iter()
            .filter(|(attribute_type, _)| *attribute_type == VENDOR_SPECIFIC)
            .find_map(|(_, value)| {
                let (vendor, rest) = value.split_first_chunk::<4>()?;
                let [found_type, vendor_length, hidden @ ..] = rest else {
                    return None;
                };
                (u32::from_be_bytes(*vendor) == MICROSOFT
                    && *found_type == vendor_type
                    && usize::from(*vendor_length) == rest.len())
                .then(|| unhide_key(secret, request_authenticator, hidden))?
            })
    };
    Some((key(MS_MPPE_RECV_KEY)?, key(MS_MPPE_SEND_KEY)?))
}

/// Salt, then the hidden `length || key || padding` (RFC 2548 §2.4.2).
fn unhide_key(
    secret: &SharedSecret,
    request_authenticator: &Authenticator,
    value: &[u8],
) -> Option<MppeKey> {
    let (salt, hidden) = value.split_first_chunk::<2>()?;
    if hidden.is_empty() || hidden.len() % BLOCK_LEN != 0 {
        return None;
    }
    let mut first = [0u8; 18];
    first[..16].copy_from_slice(request_authenticator);
    first[16..].copy_from_slice(salt);
    let mut plaintext = Zeroizing::new(hidden.to_vec());
    unhide_in_place(secret, &first, &mut plaintext);
    let (&length, key) = plaintext.split_first()?;
    key.get(..usize::from(length))
        .map(|key| Zeroizing::new(key.to_vec()))
}

#[cfg(test)]
mod tests {
    use md5::{Digest, Md5};

    use super::*;

    /// Decrypts as a NAS would, straight from the RFC 2548 §2.4.2 text.
    fn nas_decrypt(secret: &[u8], authenticator: &[u8; 16], value: &[u8]) -> Vec<u8> {
        let (salt, cipher) = value.split_at(2);
        let mut previous: Vec<u8> = [authenticator.as_slice(), salt].concat();
        let mut plain = Vec::new();
        for block in cipher.chunks(16) {
            let b = Md5::new_with_prefix(secret)
                .chain_update(&previous)
                .finalize();
            plain.extend(block.iter().zip(b.iter()).map(|(c, k)| c ^ k));
            previous = block.to_vec();
        }
        let len = usize::from(plain[0]);
        plain[1..=len].to_vec()
    }

    #[test]
    fn a_nas_recovers_both_keys() {
        let secret = SharedSecret::new(b"testing123-long-secret".to_vec());
        let authenticator = [0x5a; 16];
        let recv: Vec<u8> = (0..32).collect();
        let send: Vec<u8> = (32..64).collect();
        let [recv_attr, send_attr] =
            mppe_key_attributes(&secret, &authenticator, &recv, &send).unwrap();
        for (attribute, vendor_type, key) in [(recv_attr, 17, &recv), (send_attr, 16, &send)] {
            let value = attribute.value();
            assert_eq!(attribute.attribute_type(), 26);
            assert_eq!(&value[..4], &[0, 0, 1, 55]);
            assert_eq!(value[4], vendor_type);
            assert_eq!(usize::from(value[5]), value.len() - 4);
            assert_eq!(value.len(), 4 + 2 + 2 + 48);
            assert!(value[6] & 0x80 != 0, "salt high bit");
            assert_eq!(
                &nas_decrypt(secret.expose(), &authenticator, &value[6..]),
                key
            );
            assert!(!value.windows(8).any(|w| key.windows(8).any(|k| k == w)));
        }
    }

    #[test]
    fn the_nas_half_recovers_what_the_server_half_hid() {
        let secret = SharedSecret::new(b"testing123-long-secret".to_vec());
        let authenticator = [0x11; 16];
        let attributes: Vec<(u8, Vec<u8>)> =
            mppe_key_attributes(&secret, &authenticator, &[1; 32], &[2; 32])
                .unwrap()
                .iter()
                .map(|a| (a.attribute_type(), a.value().to_vec()))
                .collect();
        let (recv, send) = recover_mppe_keys(&secret, &authenticator, &attributes).unwrap();
        assert_eq!(
            (recv.as_slice(), send.as_slice()),
            (&[1; 32][..], &[2; 32][..])
        );
        let wrong = SharedSecret::new(b"another-long-secret!".to_vec());
        let recovered = recover_mppe_keys(&wrong, &authenticator, &attributes);
        assert!(recovered.is_none_or(|(recv, _)| recv.as_slice() != [1; 32]));
    }

    #[test]
    fn refuses_keys_that_cannot_fit() {
        let secret = SharedSecret::new(b"testing123-long-secret".to_vec());
        assert!(mppe_key_attributes(&secret, &[0; 16], &[0; 240], &[0; 32]).is_err());
    }
}
