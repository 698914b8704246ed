//! The Request Authenticator of requests whose Authenticator is a signature:
//! the Accounting-Request (RFC 2866 §3) and, computed the same way, the
//! Disconnect-Request and CoA-Request (RFC 5176 §2.3). Unlike an
//! Access-Request's random one, it is an MD5 over the packet with sixteen
//! zero octets in its place, followed by the shared secret. It is all that
//! authenticates such a request, so it is checked before anything in the
//! packet is read.

use md5::{Digest, Md5};
use subtle::ConstantTimeEq;

use crate::message_authenticator;
use crate::packet::{overwrite, Authenticator, Packet, AUTHENTICATOR_OFFSET};
use crate::secret::SharedSecret;

/// `MD5(Code + Identifier + Length + 16 zero octets + Attributes + Secret)`
/// (RFC 2866 §3), over `packet`'s octets whatever its Authenticator holds.
pub(crate) fn compute(secret: &SharedSecret, packet: &Packet<'_>) -> Authenticator {
    digest(secret, &packet.with_authenticator(&[0; 16]))
}

/// Checks a Request Authenticator in constant time.
pub(crate) fn verify(secret: &SharedSecret, packet: &Packet<'_>) -> bool {
    compute(secret, packet).ct_eq(packet.authenticator()).into()
}

/// Signs a request built by `PacketWriter`: first the Message-Authenticator
/// at `message_authenticator_offset`, if there is one, computed over the
/// packet with the Authenticator field and its own value zeroed (RFC 5176
/// §3.4); then the Request Authenticator over those final octets, which is
/// returned.
pub(crate) fn seal(
    secret: &SharedSecret,
    request: &mut [u8],
    message_authenticator_offset: Option<usize>,
) -> Authenticator {
    overwrite(request, AUTHENTICATOR_OFFSET, &[0; 16]);
    if let Some(offset) = message_authenticator_offset {
        overwrite(request, offset, &[0; message_authenticator::VALUE_LEN]);
        let signature = message_authenticator::sign(secret, request);
        overwrite(request, offset, &signature);
    }
    let authenticator = digest(secret, request);
    overwrite(request, AUTHENTICATOR_OFFSET, &authenticator);
    authenticator
}

/// MD5 over `zeroed` (the packet with a zero Authenticator field), then the secret.
fn digest(secret: &SharedSecret, zeroed: &[u8]) -> Authenticator {
    let mut md5 = Md5::new();
    md5.update(zeroed);
    md5.update(secret.expose());
    md5.finalize().into()
}

#[cfg(test)]
mod tests {
    use radius::core::code::Code;
    use radius::core::packet::Packet as ReferencePacket;

    use super::*;

    #[test]
    fn agrees_with_radius_rs() {
        let secret = b"accounting-secret";
        let mut reference = ReferencePacket::new(Code::AccountingRequest, secret);
        radius::core::rfc2866::add_acct_session_id(&mut reference, "session-1");
        radius::core::rfc2866::add_acct_status_type(&mut reference, 1);
        let encoded = reference.encode().unwrap();
        let packet = Packet::parse(&encoded).unwrap();
        assert!(verify(&SharedSecret::new(secret.to_vec()), &packet));
        assert!(!verify(
            &SharedSecret::new(b"other-secret".to_vec()),
            &packet
        ));
        let mut tampered = encoded.clone();
        *tampered.last_mut().unwrap() ^= 1;
        let packet = Packet::parse(&tampered).unwrap();
        assert!(!verify(&SharedSecret::new(secret.to_vec()), &packet));
    }
}
