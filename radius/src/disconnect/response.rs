//! Checking an answer to a Disconnect-Request: a Disconnect-ACK or
//! Disconnect-NAK (RFC 5176 §2.3) whose Response Authenticator is computed
//! as in RFC 2865 §3 over the Request Authenticator of the request it
//! answers, and whose Message-Authenticator, if it has one, is computed with
//! that Request Authenticator in the Authenticator field (RFC 5176 §3.4,
//! RFC 3579 §3.2). Nothing in an answer is read before both verify.
//! strongSwan sends no Message-Authenticator, so none is required.

use crate::dictionary::{DISCONNECT_ACK, DISCONNECT_NAK, ERROR_CAUSE};
use crate::message_authenticator;
use crate::packet::{Authenticator, Packet};
use crate::response_authenticator;
use crate::secret::SharedSecret;

use super::counters::DroppedResponse;
use super::outcome::DisconnectOutcome;

/// The verified answer in `packet` to the request signed with
/// `request_authenticator`, or why it must be dropped. The caller has matched
/// the packet's Identifier and source to that request.
pub(crate) fn check(
    packet: &Packet<'_>,
    request_authenticator: &Authenticator,
    secret: &SharedSecret,
) -> Result<DisconnectOutcome, DroppedResponse> {
    let code = packet.code();
    if code != DISCONNECT_ACK && code != DISCONNECT_NAK {
        return Err(DroppedResponse::Unexpected);
    }
    if !response_authenticator::verify(secret, packet, request_authenticator) {
        return Err(DroppedResponse::BadAuthenticator);
    }
    let signature = message_authenticator::find(packet).map_err(|_| DroppedResponse::Malformed)?;
    if let Some(signature) = signature {
        if !message_authenticator::verify(secret, packet, &signature, request_authenticator) {
            return Err(DroppedResponse::BadAuthenticator);
        }
    }
    let error_cause = error_cause(packet);
    Ok(if code == DISCONNECT_ACK {
        DisconnectOutcome::Ack { error_cause }
    } else {
        DisconnectOutcome::Nak { error_cause }
    })
}

/// The first Error-Cause (RFC 5176 §3.5, a 32-bit integer). RFC 5176 §3.6
/// allows several; one of another size is invalid and, as RFC 6929 §2.8
/// asks, ignored rather than voiding an authenticated answer.
fn error_cause(packet: &Packet<'_>) -> Option<u32> {
    packet
        .values(ERROR_CAUSE)
        .find_map(|value| <[u8; 4]>::try_from(value).ok())
        .map(u32::from_be_bytes)
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;
    use radius::core::code::Code;
    use radius::core::packet::Packet as ReferencePacket;

    use super::*;
    use crate::dictionary::{ACCESS_ACCEPT, DISCONNECT_REQUEST, MESSAGE_AUTHENTICATOR};
    use crate::packet::{PacketWriter, AUTHENTICATOR_OFFSET};

    const SECRET: &[u8] = b"dae-secret";
    const REQUEST_AUTHENTICATOR: Authenticator = [0x5a; 16];

    fn secret() -> SharedSecret {
        SharedSecret::new(SECRET.to_vec())
    }

    /// An answer with `attributes`, signed as a NAS with the secret would,
    /// with a Message-Authenticator first when `signed`.
    fn answer(code: u8, signed: bool, attributes: &[(u8, &[u8])]) -> Vec<u8> {
        let mut writer = PacketWriter::new(code, 9, &REQUEST_AUTHENTICATOR);
        let offset = signed.then(|| writer.push(MESSAGE_AUTHENTICATOR, &[0; 16]).unwrap());
        for (attribute_type, value) in attributes {
            writer.push(*attribute_type, value).unwrap();
        }
        let mut bytes = writer.into_bytes();
        response_authenticator::seal(&secret(), &mut bytes, offset);
        bytes
    }

    fn checked(datagram: &[u8]) -> Result<DisconnectOutcome, DroppedResponse> {
        let packet = Packet::parse(datagram).map_err(|_| DroppedResponse::Malformed)?;
        check(&packet, &REQUEST_AUTHENTICATOR, &secret())
    }

    #[test]
    fn accepts_acks_and_naks_with_their_error_cause() {
        let cases = [
            (
                answer(DISCONNECT_ACK, true, &[]),
                DisconnectOutcome::Ack { error_cause: None },
            ),
            (
                answer(
                    DISCONNECT_ACK,
                    false,
                    &[(ERROR_CAUSE, &201u32.to_be_bytes())],
                ),
                DisconnectOutcome::Ack {
                    error_cause: Some(201),
                },
            ),
            (
                answer(
                    DISCONNECT_NAK,
                    true,
                    &[(ERROR_CAUSE, &503u32.to_be_bytes())],
                ),
                DisconnectOutcome::Nak {
                    error_cause: Some(503),
                },
            ),
            (
                answer(DISCONNECT_NAK, false, &[]),
                DisconnectOutcome::Nak { error_cause: None },
            ),
            (
                answer(
                    DISCONNECT_NAK,
                    true,
                    &[(ERROR_CAUSE, &[1, 2]), (ERROR_CAUSE, &404u32.to_be_bytes())],
                ),
                DisconnectOutcome::Nak {
                    error_cause: Some(404),
                },
            ),
        ];
        for (datagram, expected) in cases {
            assert_eq!(checked(&datagram), Ok(expected));
        }
    }

    #[test]
    fn accepts_an_answer_radius_rs_signs() {
        let mut request = ReferencePacket::new(Code::DisconnectRequest, SECRET);
        radius::core::rfc2865::add_user_name(&mut request, "alice");
        let request_bytes = request.encode().unwrap();
        let request_authenticator: Authenticator = request_bytes[4..20].try_into().unwrap();
        // `encode` signs the octets but keeps the random authenticator of
        // `new` in the packet; the decoded request has the one that was sent.
        let request = ReferencePacket::decode(&request_bytes, SECRET).unwrap();
        let mut nak = request.make_response_packet(Code::DisconnectNAK);
        radius::core::rfc3576::add_error_cause(&mut nak, 503);
        let nak = nak.encode().unwrap();
        let packet = Packet::parse(&nak).unwrap();
        assert_eq!(
            check(&packet, &request_authenticator, &secret()),
            Ok(DisconnectOutcome::Nak {
                error_cause: Some(503)
            })
        );
    }

    #[test]
    fn drops_what_is_not_an_authenticated_answer() {
        let mut bad_response_authenticator = answer(DISCONNECT_ACK, true, &[]);
        bad_response_authenticator[AUTHENTICATOR_OFFSET] ^= 1;

        // A correct Response Authenticator over a wrong Message-Authenticator.
        let bad_message_authenticator = {
            let mut writer = PacketWriter::new(DISCONNECT_ACK, 9, &REQUEST_AUTHENTICATOR);
            writer.push(MESSAGE_AUTHENTICATOR, &[0xee; 16]).unwrap();
            let mut bytes = writer.into_bytes();
            response_authenticator::seal(&secret(), &mut bytes, None);
            bytes
        };
        let other_secret = {
            let mut writer = PacketWriter::new(DISCONNECT_ACK, 9, &REQUEST_AUTHENTICATOR);
            let offset = writer.push(MESSAGE_AUTHENTICATOR, &[0; 16]).unwrap();
            let mut bytes = writer.into_bytes();
            let wrong = SharedSecret::new(b"not-the-secret".to_vec());
            response_authenticator::seal(&wrong, &mut bytes, Some(offset));
            bytes
        };
        let doubled_message_authenticator =
            answer(DISCONNECT_ACK, true, &[(MESSAGE_AUTHENTICATOR, &[0; 16])]);
        let cases: [(&str, Vec<u8>, DroppedResponse); 7] = [
            (
                "bad Response Authenticator",
                bad_response_authenticator,
                DroppedResponse::BadAuthenticator,
            ),
            (
                "bad Message-Authenticator",
                bad_message_authenticator,
                DroppedResponse::BadAuthenticator,
            ),
            (
                "other secret",
                other_secret,
                DroppedResponse::BadAuthenticator,
            ),
            (
                "two Message-Authenticators",
                doubled_message_authenticator,
                DroppedResponse::Malformed,
            ),
            (
                "Access-Accept",
                answer(ACCESS_ACCEPT, true, &[]),
                DroppedResponse::Unexpected,
            ),
            (
                "a request reflected back",
                answer(DISCONNECT_REQUEST, true, &[]),
                DroppedResponse::Unexpected,
            ),
            (
                "truncated",
                vec![41, 9, 0, 20, 0],
                DroppedResponse::Malformed,
            ),
        ];
        for (name, datagram, expected) in cases {
            assert_eq!(checked(&datagram), Err(expected), "{name}");
        }
    }

    #[test]
    fn an_answer_to_another_request_does_not_verify() {
        let ack = answer(DISCONNECT_ACK, true, &[]);
        let packet = Packet::parse(&ack).unwrap();
        assert_eq!(
            check(&packet, &[0x5b; 16], &secret()),
            Err(DroppedResponse::BadAuthenticator)
        );
    }

    proptest! {
        #[test]
        fn no_datagram_panics_or_passes_unsigned(
            datagram in prop::collection::vec(any::<u8>(), 0..=200),
        ) {
            prop_assert!(checked(&datagram).is_err());
        }

        #[test]
        fn any_changed_octet_is_caught(
            signed in any::<bool>(),
            flip in any::<prop::sample::Index>(),
            bit in 0..8u8,
        ) {
            let mut datagram =
                answer(DISCONNECT_NAK, signed, &[(ERROR_CAUSE, &503u32.to_be_bytes())]);
            let position = flip.index(datagram.len());
            datagram[position] ^= 1 << bit;
            prop_assert!(checked(&datagram).is_err(), "octet {}", position);
        }
    }
}
