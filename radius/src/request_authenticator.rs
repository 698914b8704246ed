//! The Accounting-Request's Request Authenticator (RFC 2866 §3): unlike an
//! Access-Request's random one, it is an MD5 over the packet with sixteen
//! zero octets in its place, followed by the shared secret. It is all that
//! authenticates an accounting record, so it is checked before anything in
//! the packet is read.

use md5::{Digest, Md5};
use subtle::ConstantTimeEq;

use crate::packet::{Authenticator, Packet};
use crate::secret::SharedSecret;

/// `MD5(Code + Identifier + Length + 16 zero octets + Attributes + Secret)`
/// (RFC 2866 §3), over `packet`'s octets whatever its Authenticator holds.
pub(crate) fn compute(secret: &SharedSecret, packet: &Packet<'_>) -> Authenticator {
    let mut md5 = Md5::new();
    md5.update(packet.with_authenticator(&[0; 16]));
    md5.update(secret.expose());
    md5.finalize().into()
}

/// Checks an Accounting-Request's Request Authenticator in constant time.
pub(crate) fn verify(secret: &SharedSecret, packet: &Packet<'_>) -> bool {
    compute(secret, packet).ct_eq(packet.authenticator()).into()
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
