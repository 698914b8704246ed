//! The arithmetic of MS-CHAPv2 (RFC 2759 §8) and of the MPPE keys derived from it
//! (RFC 3079 §3.3–3.4): pure functions of challenges, names and password hashes.
//!
//! The server never holds a password here: the domain controller checks the NT-Response (through
//! winbind) and hands back the hash of the password hash, from which the server computes the
//! authenticator response `S=…` that proves to the peer that the server knew it, and the MPPE
//! keys for the NAS. [`nt_response`] and [`password_hash`] exist for the other side — the NAS
//! simulator and the tests, which play the peer.
//!
//! Written here rather than taken from a crate: the only MS-CHAPv2 crates on crates.io are
//! unmaintained single-author ports; these dozen lines over RustCrypto's `md4`, `des` and `sha1`
//! are checked against the RFCs' own test vectors below.

use des::cipher::{BlockCipherEncrypt, KeyInit};
use des::Des;
use md4::{Digest, Md4};
use sha1::Sha1;
use zeroize::Zeroizing;

/// The authenticator's challenge and the peer's challenge are 16 octets (RFC 2759 §4).
pub type Challenge16 = [u8; 16];
/// The 24-octet NT-Response (RFC 2759 §4).
pub type NtResponse = [u8; 24];
/// An MD4 digest: the NT password hash, or the hash of it.
pub type Md4Digest = [u8; 16];

/// RFC 2759 §8.7 Magic1 ("Magic server to client signing constant").
const AUTH_MAGIC1: &[u8; 39] = b"Magic server to client signing constant";
/// RFC 2759 §8.7 Magic2 ("Pad to make it do more than one iteration").
const AUTH_MAGIC2: &[u8; 41] = b"Pad to make it do more than one iteration";
/// RFC 3079 §3.4 GetMasterKey's Magic1.
const KEY_MAGIC1: &[u8; 27] = b"This is the MPPE Master Key";
/// RFC 3079 §3.4 GetAsymmetricStartKey's Magic2 (the client's send key, the server's receive key).
const KEY_MAGIC2: &[u8; 84] =
    b"On the client side, this is the send key; on the server side, it is the receive key.";
/// RFC 3079 §3.4 GetAsymmetricStartKey's Magic3 (the client's receive key, the server's send key).
const KEY_MAGIC3: &[u8; 84] =
    b"On the client side, this is the receive key; on the server side, it is the send key.";
/// RFC 3079 §3.4 SHSpad1 and SHSpad2.
const SHS_PAD1: [u8; 40] = [0x00; 40];
const SHS_PAD2: [u8; 40] = [0xf2; 40];

/// The name the peer hashed into the ChallengeHash: without a `DOMAIN\` prefix
/// (RFC 2759 §8.2: "the user's name ... without any domain"). MS-CHAPv2 Names and EAP
/// identities alike (`CORP\alice`) are cut so.
pub fn name_without_domain(user_name: &[u8]) -> &[u8] {
    match user_name.iter().position(|&octet| octet == b'\\') {
        Some(backslash) => user_name.get(backslash + 1..).unwrap_or_default(),
        None => user_name,
    }
}

/// ChallengeHash (RFC 2759 §8.2): the 8-octet challenge the NT-Response answers. `user_name`
/// is the name without any `DOMAIN\` prefix, as the peer hashed it.
pub fn challenge_hash(
    peer_challenge: &Challenge16,
    authenticator_challenge: &Challenge16,
    user_name: &[u8],
) -> [u8; 8] {
    let digest = Sha1::new()
        .chain_update(peer_challenge)
        .chain_update(authenticator_challenge)
        .chain_update(user_name)
        .finalize();
    prefix(&digest)
}

/// The first `N` octets of a longer digest.
fn prefix<const N: usize>(digest: &[u8]) -> [u8; N] {
    let mut out = [0u8; N];
    for (out, octet) in out.iter_mut().zip(digest) {
        *out = *octet;
    }
    out
}

/// NtPasswordHash (RFC 2759 §8.3): MD4 over the password in UTF-16LE.
pub fn password_hash(password: &str) -> Zeroizing<Md4Digest> {
    let mut md4 = Md4::new();
    for unit in password.encode_utf16() {
        md4.update(unit.to_le_bytes());
    }
    Zeroizing::new(md4.finalize().into())
}

/// HashNtPasswordHash (RFC 2759 §8.4): what a domain controller hands back (as winbind's
/// "User-Session-Key") after a successful check, and all the server needs for `S=` and the keys.
pub fn password_hash_hash(password_hash: &Md4Digest) -> Zeroizing<Md4Digest> {
    Zeroizing::new(Md4::digest(password_hash).into())
}

/// GenerateNTResponse (RFC 2759 §8.1), for the peer's side: the simulator and the tests.
pub fn nt_response(
    authenticator_challenge: &Challenge16,
    peer_challenge: &Challenge16,
    user_name: &[u8],
    password: &str,
) -> NtResponse {
    let challenge = challenge_hash(peer_challenge, authenticator_challenge, user_name);
    challenge_response(&challenge, &password_hash(password))
}

/// ChallengeResponse (RFC 2759 §8.5): the 8-octet challenge DES-encrypted under the three
/// 7-octet thirds of the zero-padded 21-octet password hash.
fn challenge_response(challenge: &[u8; 8], password_hash: &Md4Digest) -> NtResponse {
    let mut padded = Zeroizing::new([0u8; 21]);
    for (padded, octet) in padded.iter_mut().zip(password_hash) {
        *padded = *octet;
    }
    let mut response = [0u8; 24];
    for (key, out) in padded.chunks_exact(7).zip(response.chunks_exact_mut(8)) {
        let mut block = *challenge;
        des_encrypt(key, &mut block);
        out.copy_from_slice(&block);
    }
    response
}

/// DesEncrypt (RFC 2759 §8.6): a 7-octet key spread over the 8 octets DES takes, each octet's
/// low (parity) bit left clear — DES ignores it.
fn des_encrypt(key7: &[u8], block: &mut [u8; 8]) {
    let mut key = Zeroizing::new([0u8; 8]);
    let mut bits: u64 = 0;
    for &octet in key7 {
        bits = (bits << 8) | u64::from(octet);
    }
    for (i, octet) in key.iter_mut().enumerate() {
        // 56 bits, 7 at a time from the top, each in the high 7 bits of its octet.
        let shift = 49 - 7 * i as u32;
        *octet = (((bits >> shift) & 0x7f) as u8) << 1;
    }
    let cipher = Des::new(&(*key).into());
    cipher.encrypt_block((&mut *block).into());
}

/// GenerateAuthenticatorResponse (RFC 2759 §8.7): the `S=` + 40 uppercase hex digits the server
/// sends in MS-CHAP2-Success to prove it knew the password hash.
pub fn authenticator_response(
    password_hash_hash: &Md4Digest,
    nt_response: &NtResponse,
    peer_challenge: &Challenge16,
    authenticator_challenge: &Challenge16,
    user_name: &[u8],
) -> String {
    let digest = Sha1::new()
        .chain_update(password_hash_hash)
        .chain_update(nt_response)
        .chain_update(AUTH_MAGIC1)
        .finalize();
    let challenge = challenge_hash(peer_challenge, authenticator_challenge, user_name);
    let digest = Sha1::new()
        .chain_update(digest)
        .chain_update(challenge)
        .chain_update(AUTH_MAGIC2)
        .finalize();
    let mut response = String::with_capacity(42);
    response.push_str("S=");
    for octet in digest {
        response.push_str(&format!("{octet:02X}"));
    }
    response
}

/// The 128-bit MPPE keys of one MS-CHAPv2 login, from the server's side (RFC 3079 §3.3, §3.4).
pub struct MppeKeys {
    /// The server's send key: RADIUS carries it in MS-MPPE-Send-Key (RFC 2548 §2.4.2).
    pub send: Zeroizing<[u8; 16]>,
    /// The server's receive key: MS-MPPE-Recv-Key (RFC 2548 §2.4.3).
    pub receive: Zeroizing<[u8; 16]>,
}

/// GetMasterKey then GetAsymmetricStartKey for both directions (RFC 3079 §3.4), as the server
/// (IsServer = TRUE) derives them, 128-bit.
pub fn mppe_keys(password_hash_hash: &Md4Digest, nt_response: &NtResponse) -> MppeKeys {
    let master = Sha1::new()
        .chain_update(password_hash_hash)
        .chain_update(nt_response)
        .chain_update(KEY_MAGIC1)
        .finalize();
    let master: Zeroizing<[u8; 16]> = Zeroizing::new(prefix(&master));
    let start_key = |magic: &[u8]| {
        let digest = Sha1::new()
            .chain_update(master.as_slice())
            .chain_update(SHS_PAD1)
            .chain_update(magic)
            .chain_update(SHS_PAD2)
            .finalize();
        Zeroizing::new(prefix(&digest))
    };
    MppeKeys {
        send: start_key(KEY_MAGIC3),
        receive: start_key(KEY_MAGIC2),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(s: &str) -> Vec<u8> {
        s.split_whitespace()
            .map(|octet| u8::from_str_radix(octet, 16).unwrap())
            .collect()
    }

    fn array<const N: usize>(s: &str) -> [u8; N] {
        hex(s).try_into().unwrap()
    }

    // RFC 2759 §9.2, "Sample MS-CHAPv2 Data".
    const USER: &[u8] = b"User";
    const PASSWORD: &str = "clientPass";
    const AUTHENTICATOR_CHALLENGE: &str = "5B 5D 7C 7D 7B 3F 2F 3E 3C 2C 60 21 32 26 26 28";
    const PEER_CHALLENGE: &str = "21 40 23 24 25 5E 26 2A 28 29 5F 2B 3A 33 7C 7E";
    const NT_RESPONSE: &str =
        "82 30 9E CD 8D 70 8B 5E A0 8F AA 39 81 CD 83 54 42 33 11 4A 3D 85 D6 DF";

    #[test]
    fn rfc2759_sample_data() {
        let authenticator = array::<16>(AUTHENTICATOR_CHALLENGE);
        let peer = array::<16>(PEER_CHALLENGE);
        assert_eq!(
            challenge_hash(&peer, &authenticator, USER),
            array::<8>("D0 2E 43 86 BC E9 12 26")
        );
        let hash = password_hash(PASSWORD);
        assert_eq!(
            *hash,
            array::<16>("44 EB BA 8D 53 12 B8 D6 11 47 44 11 F5 69 89 AE")
        );
        let hash_hash = password_hash_hash(&hash);
        assert_eq!(
            *hash_hash,
            array::<16>("41 C0 0C 58 4B D2 D9 1C 40 17 A2 A1 2F A5 9F 3F")
        );
        let response = nt_response(&authenticator, &peer, USER, PASSWORD);
        assert_eq!(response, array::<24>(NT_RESPONSE));
        assert_eq!(
            authenticator_response(&hash_hash, &response, &peer, &authenticator, USER),
            "S=407A5589115FD0D6209F510FE9C04566932CDA56"
        );
    }

    // RFC 3079 §3.5.3, "Sample Key Derivations" (128-bit), from the same sample data. Its
    // SendStartKey128 is the server's send key (Magic3); the receive key (Magic2) is the value
    // other implementations print as the client's send key.
    #[test]
    fn rfc3079_sample_key_derivation() {
        let hash_hash = password_hash_hash(&password_hash(PASSWORD));
        let keys = mppe_keys(&hash_hash, &array::<24>(NT_RESPONSE));
        assert_eq!(
            *keys.send,
            array::<16>("8B 7C DC 14 9B 99 3A 1B A1 18 CB 15 3F 56 DC CB")
        );
        assert_eq!(
            *keys.receive,
            array::<16>("D5 F0 E9 52 1E 3E A9 58 96 45 E8 60 51 C8 22 26")
        );
    }

    #[test]
    fn the_challenge_hash_uses_the_name_without_its_domain() {
        assert_eq!(name_without_domain(b"CORP\\alice"), b"alice");
        assert_eq!(name_without_domain(b"alice"), b"alice");
        assert_eq!(
            name_without_domain(b"alice@corp.example.test"),
            b"alice@corp.example.test"
        );
        assert_eq!(name_without_domain(b"CORP\\"), b"");
    }

    #[test]
    fn a_wrong_password_gives_another_response() {
        let authenticator = array::<16>(AUTHENTICATOR_CHALLENGE);
        let peer = array::<16>(PEER_CHALLENGE);
        assert_ne!(
            nt_response(&authenticator, &peer, USER, "clientPasS"),
            array::<24>(NT_RESPONSE)
        );
    }
}
