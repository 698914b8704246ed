//! Property tests of the wire format: what must hold for every input, not just the examples.
//! Packets round-trip through the writer and the parser; User-Password hiding and unhiding are
//! inverse for every length 0..=128; every response we sign verifies, and no other does; and no
//! datagram, however broken, makes the parser panic or read past the Length field. (The RFC 2865
//! §7.1 example packets are checked where their parts are implemented.)

use proptest::prelude::*;

use crate::handler::{Reply, ReplyAttribute};
use crate::message_authenticator;
use crate::packet::{Packet, PacketWriter, HEADER_LEN, MAX_ATTRIBUTE_VALUE_LEN};
use crate::response::ResponseContext;
use crate::response_authenticator;
use crate::secret::SharedSecret;
use crate::test_vectors::RFC2865_7_1_REQUEST;
use crate::user_password;

fn attributes() -> impl Strategy<Value = Vec<(u8, Vec<u8>)>> {
    // At most 15 attributes of at most 253 octets: always within 4096 octets.
    prop::collection::vec(
        (
            any::<u8>(),
            prop::collection::vec(any::<u8>(), 0..=MAX_ATTRIBUTE_VALUE_LEN),
        ),
        0..=15,
    )
}

fn secret() -> impl Strategy<Value = Vec<u8>> {
    prop::collection::vec(any::<u8>(), 1..=64)
}

proptest! {
    #[test]
    fn packets_round_trip(
        code in any::<u8>(),
        identifier in any::<u8>(),
        authenticator in any::<[u8; 16]>(),
        attributes in attributes(),
    ) {
        let mut writer = PacketWriter::new(code, identifier, &authenticator);
        for (attribute_type, value) in &attributes {
            writer.push(*attribute_type, value).unwrap();
        }
        let bytes = writer.into_bytes();
        let packet = Packet::parse(&bytes).unwrap();
        prop_assert_eq!(packet.code(), code);
        prop_assert_eq!(packet.identifier(), identifier);
        prop_assert_eq!(packet.authenticator(), &authenticator);
        let parsed: Vec<(u8, Vec<u8>)> = packet
            .attributes()
            .iter()
            .map(|attribute| (attribute.attribute_type, attribute.value.to_vec()))
            .collect();
        prop_assert_eq!(parsed, attributes);
    }

    #[test]
    fn any_datagram_parses_or_is_refused_without_reading_past_its_length(
        datagram in prop::collection::vec(any::<u8>(), 0..=4200),
    ) {
        if let Ok(packet) = Packet::parse(&datagram) {
            let length = usize::from(u16::from_be_bytes([datagram[2], datagram[3]]));
            prop_assert!((HEADER_LEN..=datagram.len()).contains(&length));
            for attribute in packet.attributes() {
                prop_assert!(attribute.value_offset + attribute.value.len() <= length);
            }
        }
    }

    #[test]
    fn hiding_and_unhiding_user_password_are_inverse(
        secret in secret(),
        authenticator in any::<[u8; 16]>(),
        password in prop::collection::vec(any::<u8>(), 0..=128),
    ) {
        let secret = SharedSecret::new(secret);
        let hidden = user_password::hide(&secret, &authenticator, &password).unwrap();
        prop_assert_eq!(hidden.len(), password.len().div_ceil(16).max(1) * 16);
        let recovered = user_password::unhide(&secret, &authenticator, &hidden).unwrap();
        // RFC 2865 §5.2 pads with NULs, so trailing NULs of the password cannot survive.
        let unpadded = password.iter().rposition(|&octet| octet != 0).map_or(0, |last| last + 1);
        prop_assert_eq!(recovered.expose(), &password[..unpadded]);
    }

    #[test]
    fn a_signed_response_verifies_and_any_changed_octet_is_caught(
        secret in secret(),
        reply_message in prop::collection::vec(any::<u8>(), 1..=MAX_ATTRIBUTE_VALUE_LEN),
        flip in any::<prop::sample::Index>(),
    ) {
        let client = std::sync::Arc::new(crate::clients::NasClient {
            name: "nas".to_owned(),
            secret: SharedSecret::new(secret),
            require_message_authenticator: crate::clients::MessageAuthenticatorRule::Always,
            limit_proxy_state: true,
            max_in_flight: 1,
            state: crate::clients::ClientState::default(),
        });
        let request = Packet::parse(&RFC2865_7_1_REQUEST).unwrap();
        let reply = Reply::Accept {
            attributes: vec![ReplyAttribute::new(18, reply_message).unwrap()],
        };
        let response = ResponseContext::new(&request, std::sync::Arc::clone(&client))
            .encode(&reply)
            .unwrap();
        let verifies = |bytes: &[u8]| {
            let Ok(packet) = Packet::parse(bytes) else { return false };
            let Ok(Some(signature)) = message_authenticator::find(&packet) else { return false };
            response_authenticator::verify(&client.secret, &packet, request.authenticator())
                && message_authenticator::verify(
                    &client.secret,
                    &packet,
                    &signature,
                    request.authenticator(),
                )
        };
        prop_assert!(verifies(&response));
        let mut tampered = response.clone();
        tampered[flip.index(response.len())] ^= 0x01;
        prop_assert!(!verifies(&tampered));
    }
}
