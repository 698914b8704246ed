//! Message-Authenticator (RFC 3579 §3.2, originally RFC 2869 §5.14): an
//! HMAC-MD5 over the whole packet, keyed by the shared secret.
//!
//! It is what makes an Access-Request's attributes tamper-evident, and, sent
//! first in every response, what defeats the BlastRADIUS forgery of
//! responses (CVE-2024-3596): an attacker who can collide MD5 over the
//! Response Authenticator still cannot produce the HMAC.

use hmac::Mac;
use subtle::ConstantTimeEq;

use crate::dictionary::MESSAGE_AUTHENTICATOR;
use crate::packet::{overwrite, Attribute, Authenticator, MalformedPacket, Packet};
use crate::secret::SharedSecret;

/// The value is a 16-octet HMAC-MD5 (RFC 3579 §3.2: Length = 18).
pub(crate) const VALUE_LEN: usize = 16;

/// HMAC-MD5 keyed by the secret over `prepared`: the packet with the
/// Request Authenticator in its Authenticator field and the
/// Message-Authenticator value set to sixteen zero octets (RFC 3579 §3.2).
pub(crate) fn sign(secret: &SharedSecret, prepared: &[u8]) -> [u8; VALUE_LEN] {
    let mut mac = secret.hmac_md5();
    mac.update(prepared);
    mac.finalize().into_bytes().into()
}

/// The packet's Message-Authenticator, if it has one. RFC 3579 §3.2 allows
/// a single instance of exactly 16 octets; anything else is malformed.
pub(crate) fn find<'a>(packet: &Packet<'a>) -> Result<Option<Attribute<'a>>, MalformedPacket> {
    let attribute = packet.at_most_one(MESSAGE_AUTHENTICATOR)?;
    match attribute {
        Some(found) if found.value.len() != VALUE_LEN => Err(
            MalformedPacket::InvalidAttributeLength(MESSAGE_AUTHENTICATOR),
        ),
        _ => Ok(attribute),
    }
}

/// Checks a received Message-Authenticator in constant time. For a request
/// `request_authenticator` is the packet's own Authenticator; for a response
/// it is the one the client sent, which replaces the Response Authenticator
/// during the computation (RFC 3579 §3.2).
pub(crate) fn verify(
    secret: &SharedSecret,
    packet: &Packet<'_>,
    message_authenticator: &Attribute<'_>,
    request_authenticator: &Authenticator,
) -> bool {
    let mut prepared = packet.with_authenticator(request_authenticator);
    overwrite(
        &mut prepared,
        message_authenticator.value_offset,
        &[0; VALUE_LEN],
    );
    sign(secret, &prepared)
        .ct_eq(message_authenticator.value)
        .into()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_vectors::{
        ACCEPT_WITH_MESSAGE_AUTHENTICATOR, REQUEST_WITH_MESSAGE_AUTHENTICATOR, RFC2865_7_1_REQUEST,
        RFC2865_7_1_REQUEST_AUTHENTICATOR, SECRET,
    };

    fn secret() -> SharedSecret {
        SharedSecret::new(SECRET.to_vec())
    }

    #[test]
    fn signs_the_openssl_derived_request_vector() {
        let mut prepared = REQUEST_WITH_MESSAGE_AUTHENTICATOR;
        let (before, value) = prepared.split_at_mut(58);
        value.fill(0);
        assert_eq!(before.len(), 58);
        let expected: [u8; 16] = REQUEST_WITH_MESSAGE_AUTHENTICATOR[58..].try_into().unwrap();
        assert_eq!(sign(&secret(), &prepared), expected);
    }

    #[test]
    fn verifies_a_request() {
        let packet = Packet::parse(&REQUEST_WITH_MESSAGE_AUTHENTICATOR).unwrap();
        let attribute = find(&packet).unwrap().unwrap();
        assert!(verify(
            &secret(),
            &packet,
            &attribute,
            packet.authenticator()
        ));
        let wrong = SharedSecret::new(b"xyzzy5462".to_vec());
        assert!(!verify(&wrong, &packet, &attribute, packet.authenticator()));
    }

    #[test]
    fn detects_any_changed_octet() {
        let mut still_parseable = 0;
        for position in 0..REQUEST_WITH_MESSAGE_AUTHENTICATOR.len() {
            let mut tampered = REQUEST_WITH_MESSAGE_AUTHENTICATOR;
            tampered[position] ^= 0x01;
            // Changed lengths or attribute types make a packet that is
            // discarded before the Message-Authenticator is checked.
            let Ok(packet) = Packet::parse(&tampered) else {
                continue;
            };
            let Ok(Some(attribute)) = find(&packet) else {
                continue;
            };
            still_parseable += 1;
            assert!(
                !verify(&secret(), &packet, &attribute, packet.authenticator()),
                "octet {position}"
            );
        }
        assert!(still_parseable >= 66, "{still_parseable}");
    }

    #[test]
    fn verifies_a_response_against_the_request_authenticator() {
        let packet = Packet::parse(&ACCEPT_WITH_MESSAGE_AUTHENTICATOR).unwrap();
        let attribute = find(&packet).unwrap().unwrap();
        assert_eq!(attribute.value_offset, 22);
        assert!(verify(
            &secret(),
            &packet,
            &attribute,
            &RFC2865_7_1_REQUEST_AUTHENTICATOR
        ));
        assert!(!verify(
            &secret(),
            &packet,
            &attribute,
            packet.authenticator()
        ));
    }

    #[test]
    fn find_enforces_one_instance_of_sixteen_octets() {
        assert!(find(&Packet::parse(&RFC2865_7_1_REQUEST).unwrap())
            .unwrap()
            .is_none());

        let mut doubled = REQUEST_WITH_MESSAGE_AUTHENTICATOR.to_vec();
        doubled.extend_from_slice(&REQUEST_WITH_MESSAGE_AUTHENTICATOR[56..]);
        doubled[3] = 0x5c;
        assert_eq!(
            find(&Packet::parse(&doubled).unwrap()).err(),
            Some(MalformedPacket::RepeatedAttribute(MESSAGE_AUTHENTICATOR))
        );

        let mut short = REQUEST_WITH_MESSAGE_AUTHENTICATOR[..73].to_vec();
        short[3] = 0x49;
        short[57] = 17;
        assert_eq!(
            find(&Packet::parse(&short).unwrap()).err(),
            Some(MalformedPacket::InvalidAttributeLength(
                MESSAGE_AUTHENTICATOR
            ))
        );
    }
}
