//! The Response Authenticator (RFC 2865 §3): MD5 over the response with the
//! Request Authenticator in place, followed by the shared secret.
//!
//! It binds a response to the request it answers. It is weak on its own
//! (BlastRADIUS, CVE-2024-3596), which is why responses also carry a
//! Message-Authenticator; it is still what every NAS checks first.

use md5::{Digest, Md5};
use subtle::ConstantTimeEq;

use crate::message_authenticator;
use crate::packet::{overwrite, Authenticator, Packet, AUTHENTICATOR_OFFSET};
use crate::secret::SharedSecret;

/// `MD5(Code + Identifier + Length + RequestAuth + Attributes + Secret)`
/// (RFC 2865 §3), where `prepared` is the response with the Request
/// Authenticator in its Authenticator field.
pub(crate) fn compute(secret: &SharedSecret, prepared: &[u8]) -> Authenticator {
    let mut md5 = Md5::new();
    md5.update(prepared);
    md5.update(secret.expose());
    md5.finalize().into()
}

/// Checks a received response's Authenticator in constant time.
pub(crate) fn verify(
    secret: &SharedSecret,
    response: &Packet<'_>,
    request_authenticator: &Authenticator,
) -> bool {
    let expected = compute(secret, &response.with_authenticator(request_authenticator));
    expected.ct_eq(response.authenticator()).into()
}

/// Signs a response built by `PacketWriter` with the Request Authenticator
/// in its header: first the Message-Authenticator at
/// `message_authenticator_offset`, if there is one (its value still zero),
/// over the packet with the Request Authenticator in place (RFC 3579 §3.2,
/// RFC 5176 §3.4); then the Response Authenticator over those final octets.
pub(crate) fn seal(
    secret: &SharedSecret,
    response: &mut [u8],
    message_authenticator_offset: Option<usize>,
) {
    if let Some(offset) = message_authenticator_offset {
        let signature = message_authenticator::sign(secret, response);
        overwrite(response, offset, &signature);
    }
    let authenticator = compute(secret, response);
    overwrite(response, AUTHENTICATOR_OFFSET, &authenticator);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_vectors::{
        ACCEPT_WITH_MESSAGE_AUTHENTICATOR, RFC2865_7_1_ACCEPT, RFC2865_7_1_REQUEST_AUTHENTICATOR,
        SECRET,
    };

    #[test]
    fn matches_the_rfc_2865_example_accept() {
        let secret = SharedSecret::new(SECRET.to_vec());
        let accept = Packet::parse(&RFC2865_7_1_ACCEPT).unwrap();
        let prepared = accept.with_authenticator(&RFC2865_7_1_REQUEST_AUTHENTICATOR);
        assert_eq!(&compute(&secret, &prepared), accept.authenticator());
        assert!(verify(&secret, &accept, &RFC2865_7_1_REQUEST_AUTHENTICATOR));
    }

    #[test]
    fn covers_a_message_authenticator_in_the_response() {
        let secret = SharedSecret::new(SECRET.to_vec());
        let accept = Packet::parse(&ACCEPT_WITH_MESSAGE_AUTHENTICATOR).unwrap();
        assert!(verify(&secret, &accept, &RFC2865_7_1_REQUEST_AUTHENTICATOR));
    }

    #[test]
    fn rejects_a_wrong_secret_or_request() {
        let accept = Packet::parse(&RFC2865_7_1_ACCEPT).unwrap();
        let wrong = SharedSecret::new(b"xyzzy5462".to_vec());
        assert!(!verify(&wrong, &accept, &RFC2865_7_1_REQUEST_AUTHENTICATOR));
        let right = SharedSecret::new(SECRET.to_vec());
        assert!(!verify(&right, &accept, &[0; 16]));
    }
}
