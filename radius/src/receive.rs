//! The gate every datagram passes before the handler sees it, in the order
//! that spends the least on untrusted input: known client, then packet
//! structure, then packet code, then Message-Authenticator, then attributes.

use std::net::SocketAddr;
use std::sync::Arc;

use crate::clients::{ClientTable, NasClient};
use crate::dictionary::{ACCESS_REQUEST, EAP_MESSAGE, USER_NAME};
use crate::handler::{Discard, DiscardReason};
use crate::message_authenticator;
use crate::packet::{MalformedPacket, Packet};
use crate::request::{AccessRequest, InvalidAccessRequest};
use crate::response::ResponseContext;

/// A request ready for the handler, and what its response will need.
#[derive(Debug)]
pub(crate) struct Received {
    pub(crate) request: AccessRequest,
    pub(crate) response: ResponseContext,
}

/// A datagram to drop, and for a malformed one, what was wrong with it.
#[derive(Debug)]
pub(crate) struct Refusal {
    pub(crate) discard: Discard,
    pub(crate) malformation: Option<MalformedPacket>,
}

/// Admits or refuses one datagram from `source`.
pub(crate) fn receive(
    datagram: &[u8],
    source: SocketAddr,
    clients: &ClientTable,
) -> Result<Received, Refusal> {
    // RFC 2865 §3: requests from unknown clients are silently discarded;
    // nothing in them is looked at.
    let Some(client) = clients.find(source.ip()) else {
        return Err(Refusal {
            discard: Discard {
                source,
                client: None,
                identifier: None,
                user_name: None,
                reason: DiscardReason::UnknownClient,
            },
            malformation: None,
        });
    };
    let packet = match Packet::parse(datagram) {
        Ok(packet) => packet,
        Err(malformation) => {
            return Err(Refusal {
                discard: Discard {
                    source,
                    client: Some(client.name.clone()),
                    identifier: None,
                    user_name: None,
                    reason: DiscardReason::Malformed,
                },
                malformation: Some(malformation),
            });
        }
    };
    match packet.code() {
        ACCESS_REQUEST => access_request(&packet, client, source),
        // Status-Server (RFC 5997) and Accounting-Request (RFC 2866) get
        // their own arms here when adgate serves them.
        _ => Err(refusal(
            &packet,
            &client,
            source,
            DiscardReason::UnsupportedCode,
            None,
        )),
    }
}

fn access_request(
    packet: &Packet<'_>,
    client: Arc<NasClient>,
    source: SocketAddr,
) -> Result<Received, Refusal> {
    let refuse = |reason, malformation| refusal(packet, &client, source, reason, malformation);
    // RFC 3579 §3.2: a present Message-Authenticator must verify, before
    // anything else in the packet is trusted.
    let message_authenticator = message_authenticator::find(packet)
        .map_err(|malformation| refuse(DiscardReason::Malformed, Some(malformation)))?;
    match &message_authenticator {
        Some(signature)
            if !message_authenticator::verify(
                &client.secret,
                packet,
                signature,
                packet.authenticator(),
            ) =>
        {
            return Err(refuse(DiscardReason::BadMessageAuthenticator, None));
        }
        // RFC 3579 §3.3: an Access-Request with EAP-Message and no
        // Message-Authenticator MUST be silently discarded.
        None if client.require_message_authenticator || packet.contains(EAP_MESSAGE) => {
            return Err(refuse(DiscardReason::MissingMessageAuthenticator, None));
        }
        _ => {}
    }
    let request = AccessRequest::decode(
        packet,
        Arc::clone(&client),
        source,
        message_authenticator.is_some(),
    )
    .map_err(|invalid| match invalid {
        InvalidAccessRequest::Malformed(malformation) => {
            refuse(DiscardReason::Malformed, Some(malformation))
        }
        InvalidAccessRequest::UndecodablePassword => {
            refuse(DiscardReason::BadRequestAuthenticator, None)
        }
        InvalidAccessRequest::MalformedEap(_) => refuse(DiscardReason::Malformed, None),
    })?;
    Ok(Received {
        request,
        response: ResponseContext::new(packet, client),
    })
}

fn refusal(
    packet: &Packet<'_>,
    client: &NasClient,
    source: SocketAddr,
    reason: DiscardReason,
    malformation: Option<MalformedPacket>,
) -> Refusal {
    Refusal {
        discard: Discard {
            source,
            client: Some(client.name.clone()),
            identifier: Some(packet.identifier()),
            user_name: packet.values(USER_NAME).next().map(<[u8]>::to_vec),
            reason,
        },
        malformation,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dictionary::{MESSAGE_AUTHENTICATOR, USER_PASSWORD};
    use crate::packet::{overwrite, PacketWriter, MAX_PACKET_LEN};
    use crate::request::Credential;
    use crate::secret::SharedSecret;
    use crate::test_vectors::{REQUEST_WITH_MESSAGE_AUTHENTICATOR, RFC2865_7_1_REQUEST, SECRET};

    fn table(require_message_authenticator: bool) -> ClientTable {
        let client = Arc::new(NasClient {
            name: "vpn".to_owned(),
            secret: SharedSecret::new(SECRET.to_vec()),
            require_message_authenticator,
        });
        ClientTable::new(vec![("192.168.1.0/24".parse().unwrap(), client)])
    }

    fn from_nas() -> SocketAddr {
        "192.168.1.16:1024".parse().unwrap()
    }

    fn reason(datagram: &[u8], clients: &ClientTable) -> DiscardReason {
        receive(datagram, from_nas(), clients)
            .unwrap_err()
            .discard
            .reason
    }

    #[test]
    fn admits_the_rfc_2865_example_when_not_requiring_a_message_authenticator() {
        let received = receive(&RFC2865_7_1_REQUEST, from_nas(), &table(false)).unwrap();
        assert!(matches!(received.request.credential, Credential::Pap(_)));
        assert!(!received.request.message_authenticator);
    }

    #[test]
    fn admits_a_valid_message_authenticator() {
        let received = receive(
            &REQUEST_WITH_MESSAGE_AUTHENTICATOR,
            from_nas(),
            &table(true),
        )
        .unwrap();
        assert!(received.request.message_authenticator);
        assert_eq!(received.request.client.name, "vpn");
    }

    #[test]
    fn unknown_sources_are_refused_without_parsing() {
        let refusal =
            receive(b"\x01", "192.0.2.1:1812".parse().unwrap(), &table(false)).unwrap_err();
        assert_eq!(refusal.discard.reason, DiscardReason::UnknownClient);
        assert_eq!(refusal.discard.client, None);
        assert_eq!(refusal.malformation, None);
    }

    #[test]
    fn message_authenticator_policy() {
        assert_eq!(
            reason(&RFC2865_7_1_REQUEST, &table(true)),
            DiscardReason::MissingMessageAuthenticator
        );
        let mut forged = REQUEST_WITH_MESSAGE_AUTHENTICATOR;
        forged[60] ^= 0xff;
        for require in [false, true] {
            assert_eq!(
                reason(&forged, &table(require)),
                DiscardReason::BadMessageAuthenticator
            );
        }
        let mut tampered = REQUEST_WITH_MESSAGE_AUTHENTICATOR;
        tampered[22] = b'N'; // "nemo" -> "Nemo"
        let refusal = receive(&tampered, from_nas(), &table(false)).unwrap_err();
        assert_eq!(
            refusal.discard.reason,
            DiscardReason::BadMessageAuthenticator
        );
        assert_eq!(refusal.discard.user_name.as_deref(), Some(&b"Nemo"[..]));
        assert_eq!(refusal.discard.identifier, Some(0));
    }

    #[test]
    fn eap_without_message_authenticator_is_dropped_even_when_not_required() {
        let mut writer = PacketWriter::new(ACCESS_REQUEST, 3, &[7; 16]);
        writer.push(EAP_MESSAGE, &[2, 0, 0, 6, 1, b'a']).unwrap();
        let eap = writer.into_bytes();
        assert_eq!(
            reason(&eap, &table(false)),
            DiscardReason::MissingMessageAuthenticator
        );
    }

    #[test]
    fn refuses_what_it_cannot_serve() {
        let mut accounting = RFC2865_7_1_REQUEST;
        accounting[0] = 4;
        assert_eq!(
            reason(&accounting, &table(false)),
            DiscardReason::UnsupportedCode
        );

        let mut doubled = REQUEST_WITH_MESSAGE_AUTHENTICATOR.to_vec();
        doubled.extend_from_slice(&REQUEST_WITH_MESSAGE_AUTHENTICATOR[56..]);
        doubled[3] = 92;
        let refusal = receive(&doubled, from_nas(), &table(false)).unwrap_err();
        assert_eq!(refusal.discard.reason, DiscardReason::Malformed);
        assert_eq!(
            refusal.malformation,
            Some(MalformedPacket::RepeatedAttribute(MESSAGE_AUTHENTICATOR))
        );

        let mut writer = PacketWriter::new(ACCESS_REQUEST, 3, &[7; 16]);
        writer.push(USER_PASSWORD, &[0; 20]).unwrap();
        let bad_password = writer.into_bytes();
        assert_eq!(
            reason(&bad_password, &table(false)),
            DiscardReason::BadRequestAuthenticator
        );
    }

    #[test]
    fn malformed_datagrams_never_reach_the_handler() {
        let mut oversized = RFC2865_7_1_REQUEST.to_vec();
        oversized.resize(MAX_PACKET_LEN + 1, 0);
        let mut length_too_large = RFC2865_7_1_REQUEST;
        overwrite(&mut length_too_large, 2, &57u16.to_be_bytes());
        let mut length_too_small = RFC2865_7_1_REQUEST;
        overwrite(&mut length_too_small, 2, &19u16.to_be_bytes());
        let mut attribute_overruns = RFC2865_7_1_REQUEST;
        attribute_overruns[51] = 7;
        let mut attribute_length_zero = RFC2865_7_1_REQUEST;
        attribute_length_zero[21] = 0;
        let mut attribute_length_one = RFC2865_7_1_REQUEST;
        attribute_length_one[21] = 1;
        let cases: [(&str, &[u8]); 7] = [
            ("truncated header", &RFC2865_7_1_REQUEST[..12]),
            ("over 4096 octets", &oversized),
            ("Length beyond datagram", &length_too_large),
            ("Length below header", &length_too_small),
            ("attribute overruns", &attribute_overruns),
            ("attribute length 0", &attribute_length_zero),
            ("attribute length 1", &attribute_length_one),
        ];
        for (name, datagram) in cases {
            let refusal = receive(datagram, from_nas(), &table(false)).unwrap_err();
            assert_eq!(refusal.discard.reason, DiscardReason::Malformed, "{name}");
            assert_eq!(refusal.discard.client.as_deref(), Some("vpn"), "{name}");
            assert!(refusal.malformation.is_some(), "{name}");
        }
    }
}
