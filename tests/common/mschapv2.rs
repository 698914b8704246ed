//! The peer's side of RADIUS MS-CHAPv2 for the tests: a request computed from a user's password
//! (RFC 2759 §8, with adgate-radius's arithmetic, itself checked against the RFC's test
//! vectors), sent with FreeRADIUS' radclient, and what its Access-Accept must then carry.

use std::net::SocketAddr;

use adgate_radius::mschapv2::{
    authenticator_response, mppe_keys, nt_response, password_hash, password_hash_hash,
};

use super::radclient;

/// One MS-CHAPv2 exchange's fixed challenges (any 16 octets do).
pub const AUTHENTICATOR_CHALLENGE: [u8; 16] = *b"adgate-auth-chal";
pub const PEER_CHALLENGE: [u8; 16] = *b"adgate-peer-chal";

/// What radclient printed for an MS-CHAPv2 login, and what a correct accept carries.
pub struct MsChapLogin {
    pub output: String,
    /// `S=…` the server must send (RFC 2759 §8.7).
    pub expected_success: String,
    /// The server's MPPE send and receive keys (RFC 3079 §3.4), hex.
    pub expected_send_key: String,
    pub expected_recv_key: String,
}

/// Sends `user` (as the NAS would, e.g. `CORP\alice`) with the response for `password`.
pub fn ms_chap_login(server: SocketAddr, user: &str, password: &str) -> MsChapLogin {
    let hashed = user.rsplit('\\').next().unwrap();
    let response = nt_response(
        &AUTHENTICATOR_CHALLENGE,
        &PEER_CHALLENGE,
        hashed.as_bytes(),
        password,
    );
    let mut ms_chap2_response = vec![0x01, 0x00];
    ms_chap2_response.extend_from_slice(&PEER_CHALLENGE);
    ms_chap2_response.extend_from_slice(&[0; 8]);
    ms_chap2_response.extend_from_slice(&response);
    let attributes = format!(
        "User-Name = \"{}\"\nMS-CHAP-Challenge = 0x{}\nMS-CHAP2-Response = 0x{}\n\
         NAS-Identifier = \"radclient\"\nMessage-Authenticator = 0x00\n",
        user.replace('\\', "\\\\"),
        hex::encode(AUTHENTICATOR_CHALLENGE),
        hex::encode(&ms_chap2_response),
    );
    let output = radclient(server, "auth", &attributes);
    let hash_hash = password_hash_hash(&password_hash(password));
    let keys = mppe_keys(&hash_hash, &response);
    MsChapLogin {
        output,
        expected_success: authenticator_response(
            &hash_hash,
            &response,
            &PEER_CHALLENGE,
            &AUTHENTICATOR_CHALLENGE,
            hashed.as_bytes(),
        ),
        expected_send_key: hex::encode(*keys.send),
        expected_recv_key: hex::encode(*keys.receive),
    }
}

impl MsChapLogin {
    pub fn accepted(&self) -> bool {
        self.output.contains("Received Access-Accept")
    }

    pub fn rejected(&self) -> bool {
        self.output.contains("Received Access-Reject")
    }

    /// The value radclient printed for `attribute` (`0x…` hex, lowercase, without `0x`).
    pub fn hex_value(&self, attribute: &str) -> Option<String> {
        self.output.lines().find_map(|line| {
            let (name, value) = line.trim().split_once(" = ")?;
            (name == attribute).then(|| value.trim_start_matches("0x").to_lowercase())
        })
    }
}
