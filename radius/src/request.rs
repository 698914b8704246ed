//! An Access-Request (RFC 2865 §4.1) as the handler sees it: already
//! authenticated, with the attributes adgate decides on decoded.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use crate::attribute_values::{integer, nas_ip_address, text};
use crate::clients::NasClient;
use crate::dictionary::{
    ARAP_PASSWORD, CALLING_STATION_ID, CHAP_PASSWORD, EAP_MESSAGE, FRAMED_MTU, NAS_IDENTIFIER,
    STATE, USER_NAME, USER_PASSWORD,
};
use crate::eap::{EapMessage, MalformedEap};
use crate::ms_chap::{self, MsChap2Request};
use crate::packet::{MalformedPacket, Packet};
use crate::password::Password;
use crate::user_password;

/// What the NAS offered as proof of identity.
#[derive(Debug)]
pub enum Credential {
    /// A User-Password, unhidden (RFC 2865 §5.2), trailing NUL padding removed.
    Pap(Password),
    /// CHAP, ARAP, a mix of methods, or none at all: nothing adgate
    /// can verify against the directory, so the handler rejects it.
    Unsupported,
    /// An EAP packet reassembled from EAP-Message (RFC 3579 §3.1), or
    /// EAP-Start (§2.1), with the State the NAS echoed from the previous
    /// Access-Challenge, if any, and the link's Framed-MTU (RFC 3579 §2.2:
    /// EAP packets must fit it).
    Eap {
        message: EapMessage,
        state: Option<Vec<u8>>,
        framed_mtu: Option<u32>,
    },
    /// MS-CHAPv2: MS-CHAP-Challenge and MS-CHAP2-Response (RFC 2548 §2.3).
    MsChapV2(MsChap2Request),
}

/// An Access-Request from a known NAS whose Message-Authenticator, if any,
/// verified.
#[derive(Debug)]
pub struct AccessRequest {
    /// The configured client the request came from.
    pub client: Arc<NasClient>,
    /// The NAS's address and port.
    pub source: SocketAddr,
    /// The packet Identifier (RFC 2865 §3).
    pub identifier: u8,
    /// User-Name (RFC 2865 §5.1) exactly as sent; not necessarily UTF-8.
    pub user_name: Option<Vec<u8>>,
    /// The credential to check.
    pub credential: Credential,
    /// NAS-IP-Address (RFC 2865 §5.4), or else NAS-IPv6-Address (RFC 3162 §2.1).
    pub nas_ip_address: Option<IpAddr>,
    /// NAS-Identifier (RFC 2865 §5.32); invalid UTF-8 is replaced with U+FFFD.
    pub nas_identifier: Option<String>,
    /// Calling-Station-Id (RFC 2865 §5.31); invalid UTF-8 is replaced with U+FFFD.
    pub calling_station_id: Option<String>,
    /// Whether a valid Message-Authenticator (RFC 3579 §3.2) was present.
    pub message_authenticator: bool,
    /// The Request Authenticator, which keys hidden reply attributes such
    /// as the MS-MPPE keys (RFC 2548 §2.4.2).
    pub request_authenticator: [u8; 16],
}

/// Why an authenticated Access-Request still cannot be handed on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum InvalidAccessRequest {
    Malformed(MalformedPacket),
    UndecodablePassword,
    /// Neither NAS-IP-Address nor NAS-Identifier (RFC 2865 §4.1, §5.44).
    MissingNasIdentification,
    /// More than one of User-Password, CHAP-Password, ARAP-Password and
    /// EAP-Message (RFC 2865 §4.1, §5.44; RFC 3579 §3.3).
    ConflictingCredentials,
    MalformedEap(MalformedEap),
}

impl From<MalformedPacket> for InvalidAccessRequest {
    fn from(malformed: MalformedPacket) -> Self {
        Self::Malformed(malformed)
    }
}

impl AccessRequest {
    /// Decodes the attributes of an Access-Request whose Message-Authenticator
    /// policy has been enforced, applying the RFC 2865 §5.44 table: attributes
    /// allowed at most once are refused when repeated (two User-Names could be
    /// read one way by the policy and another by the directory), and
    /// NAS-IP-Address or NAS-Identifier must be present.
    pub(crate) fn decode(
        packet: &Packet<'_>,
        client: Arc<NasClient>,
        source: SocketAddr,
        message_authenticator: bool,
    ) -> Result<Self, InvalidAccessRequest> {
        let user_name = packet
            .at_most_one(USER_NAME)?
            .map(|attribute| attribute.value.to_vec());
        let credential = decode_credential(packet, &client)?;
        let nas_ip_address = nas_ip_address(packet)?;
        let nas_identifier = text(packet, NAS_IDENTIFIER)?;
        if nas_ip_address.is_none() && nas_identifier.is_none() {
            return Err(InvalidAccessRequest::MissingNasIdentification);
        }
        let calling_station_id = text(packet, CALLING_STATION_ID)?;
        Ok(Self {
            client,
            source,
            identifier: packet.identifier(),
            user_name,
            credential,
            nas_ip_address,
            nas_identifier,
            calling_station_id,
            message_authenticator,
            request_authenticator: *packet.authenticator(),
        })
    }
}

/// PAP when User-Password is the credential, EAP when EAP-Message is. RFC 2865
/// §4.1 says a request "MUST NOT contain both a User-Password and a
/// CHAP-Password"; EAP-Message (RFC 3579 §3.3) and ARAP-Password (RFC 2869)
/// are methods of their own, so a request with two of them is refused rather
/// than read as either.
fn decode_credential(
    packet: &Packet<'_>,
    client: &NasClient,
) -> Result<Credential, InvalidAccessRequest> {
    let hidden_password = packet.at_most_one(USER_PASSWORD)?;
    let credentials = [USER_PASSWORD, CHAP_PASSWORD, ARAP_PASSWORD, EAP_MESSAGE]
        .into_iter()
        .filter(|&attribute_type| packet.contains(attribute_type))
        .count()
        + usize::from(ms_chap::present(packet));
    if credentials > 1 {
        return Err(InvalidAccessRequest::ConflictingCredentials);
    }
    match hidden_password {
        Some(hidden) => user_password::unhide(&client.secret, packet.authenticator(), hidden.value)
            .map(Credential::Pap)
            .map_err(|_| InvalidAccessRequest::UndecodablePassword),
        None if packet.contains(EAP_MESSAGE) => decode_eap(packet),
        None => Ok(ms_chap::decode(packet)?.map_or(Credential::Unsupported, Credential::MsChapV2)),
    }
}

/// Joins every EAP-Message in order into one EAP packet (RFC 3579 §3.1), or
/// EAP-Start when they carry nothing (§2.1), and takes the State echoed from
/// the last Access-Challenge (RFC 2865 §5.24).
fn decode_eap(packet: &Packet<'_>) -> Result<Credential, InvalidAccessRequest> {
    let octets: Vec<u8> = packet.values(EAP_MESSAGE).flatten().copied().collect();
    let message = EapMessage::parse(&octets).map_err(InvalidAccessRequest::MalformedEap)?;
    let state = packet
        .at_most_one(STATE)?
        .map(|attribute| attribute.value.to_vec());
    let framed_mtu = integer(packet, FRAMED_MTU)?;
    Ok(Credential::Eap {
        message,
        state,
        framed_mtu,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dictionary::{NAS_IPV6_ADDRESS, NAS_IP_ADDRESS};
    use crate::packet::PacketWriter;
    use crate::secret::SharedSecret;
    use crate::test_vectors::{RFC2865_7_1_REQUEST, SECRET};

    const AUTHENTICATOR: [u8; 16] = [0x24; 16];

    /// Attributes of a test request, as (type, value) pairs.
    type Attributes<'a> = &'a [(u8, &'a [u8])];

    fn client() -> Arc<NasClient> {
        Arc::new(NasClient {
            name: "vpn".to_owned(),
            secret: SharedSecret::new(SECRET.to_vec()),
            require_message_authenticator: crate::clients::MessageAuthenticatorRule::Auto,
            limit_proxy_state: true,
            max_in_flight: 1,
            state: crate::clients::ClientState::default(),
        })
    }

    fn source() -> SocketAddr {
        "192.168.1.16:40000".parse().unwrap()
    }

    /// Decodes a request with these attributes, plus a NAS-Identifier
    /// unless they bring their own.
    fn decode(attributes: Attributes<'_>) -> Result<AccessRequest, InvalidAccessRequest> {
        decode_exactly(attributes, true)
    }

    fn decode_exactly(
        attributes: Attributes<'_>,
        add_nas_identifier: bool,
    ) -> Result<AccessRequest, InvalidAccessRequest> {
        let mut writer = PacketWriter::new(1, 42, &AUTHENTICATOR);
        for (attribute_type, value) in attributes {
            writer.push(*attribute_type, value).unwrap();
        }
        let has_nas_identifier = attributes.iter().any(|(t, _)| *t == NAS_IDENTIFIER);
        if add_nas_identifier && !has_nas_identifier {
            writer.push(NAS_IDENTIFIER, b"nas").unwrap();
        }
        let bytes = writer.into_bytes();
        AccessRequest::decode(&Packet::parse(&bytes).unwrap(), client(), source(), false)
    }

    fn hidden(password: &[u8]) -> Vec<u8> {
        user_password::hide(
            &SharedSecret::new(SECRET.to_vec()),
            &AUTHENTICATOR,
            password,
        )
        .unwrap()
    }

    #[test]
    fn decodes_the_rfc_2865_example() {
        let packet = Packet::parse(&RFC2865_7_1_REQUEST).unwrap();
        let request = AccessRequest::decode(&packet, client(), source(), false).unwrap();
        assert_eq!(request.identifier, 0);
        assert_eq!(request.user_name.as_deref(), Some(&b"nemo"[..]));
        let Credential::Pap(password) = &request.credential else {
            panic!("expected PAP, got {:?}", request.credential);
        };
        assert_eq!(password.expose(), b"arctangent");
        assert_eq!(
            request.nas_ip_address,
            Some("192.168.1.16".parse().unwrap())
        );
        assert_eq!(request.nas_identifier, None);
        assert!(!request.message_authenticator);
    }

    #[test]
    fn decodes_informational_attributes() {
        let request = decode(&[
            (USER_NAME, b"alice\xff"),
            (USER_PASSWORD, &hidden(b"pw")),
            (
                NAS_IPV6_ADDRESS,
                &[0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1],
            ),
            (NAS_IDENTIFIER, b"vpn-1"),
            (CALLING_STATION_ID, b"203.0.113.9\xff"),
        ])
        .unwrap();
        assert_eq!(request.user_name.as_deref(), Some(&b"alice\xff"[..]));
        assert_eq!(request.nas_ip_address, Some("2001:db8::1".parse().unwrap()));
        assert_eq!(request.nas_identifier.as_deref(), Some("vpn-1"));
        assert_eq!(
            request.calling_station_id.as_deref(),
            Some("203.0.113.9\u{fffd}")
        );
    }

    #[test]
    fn prefers_nas_ip_address_over_nas_ipv6_address() {
        let request = decode(&[
            (NAS_IPV6_ADDRESS, &[0; 16]),
            (NAS_IP_ADDRESS, &[192, 0, 2, 1]),
        ])
        .unwrap();
        assert_eq!(request.nas_ip_address, Some("192.0.2.1".parse().unwrap()));
    }

    #[test]
    fn a_user_password_is_pap_and_anything_else_unsupported() {
        let password = hidden(b"secret");
        let request = decode(&[(USER_PASSWORD, &password)]).unwrap();
        assert!(matches!(request.credential, Credential::Pap(ref p) if p.expose() == b"secret"));
        for attributes in [vec![], vec![(CHAP_PASSWORD, &[1u8; 17][..])]] {
            let request = decode(&attributes).unwrap();
            assert!(
                matches!(request.credential, Credential::Unsupported),
                "{attributes:?}"
            );
        }
    }

    #[test]
    fn enforces_the_rfc_2865_attribute_table() {
        let password = hidden(b"secret");
        for other in [
            (CHAP_PASSWORD, &[1u8; 17][..]),
            (EAP_MESSAGE, &[2u8, 0, 0, 4][..]),
            (ARAP_PASSWORD, &[0u8; 16][..]),
        ] {
            assert_eq!(
                decode(&[(USER_PASSWORD, &password), other]).err(),
                Some(InvalidAccessRequest::ConflictingCredentials),
                "{other:?}"
            );
        }
        assert_eq!(
            decode_exactly(&[(USER_NAME, b"alice"), (USER_PASSWORD, &password)], false).err(),
            Some(InvalidAccessRequest::MissingNasIdentification)
        );
        let by_address = [
            (USER_PASSWORD, &password[..]),
            (NAS_IP_ADDRESS, &[192, 0, 2, 1]),
        ];
        assert!(decode_exactly(&by_address, false).is_ok());
    }

    #[test]
    fn eap_messages_are_joined_into_one_eap_packet_with_state_and_mtu() {
        let eap = crate::EapPacket::new(crate::EapCode::Response, 5, 13, &[0x80; 300]).to_bytes();
        let (first, second) = eap.split_at(253);
        let request = decode(&[
            (EAP_MESSAGE, first),
            (STATE, b"conversation-1"),
            (EAP_MESSAGE, second),
            (FRAMED_MTU, &1400u32.to_be_bytes()),
        ])
        .unwrap();
        let Credential::Eap {
            message: EapMessage::Packet(packet),
            state,
            framed_mtu,
        } = request.credential
        else {
            panic!("expected EAP, got {:?}", request.credential);
        };
        assert_eq!(packet.to_bytes(), eap);
        assert_eq!(state.as_deref(), Some(&b"conversation-1"[..]));
        assert_eq!(framed_mtu, Some(1400));
        assert_eq!(request.request_authenticator, AUTHENTICATOR);
    }

    #[test]
    fn an_empty_eap_message_is_eap_start() {
        let request = decode(&[(EAP_MESSAGE, &[])]).unwrap();
        assert!(
            matches!(
                request.credential,
                Credential::Eap {
                    message: EapMessage::Start,
                    state: None,
                    ..
                }
            ),
            "{:?}",
            request.credential
        );
    }

    #[test]
    fn eap_with_another_credential_or_a_bad_length_is_refused() {
        let eap = crate::EapPacket::new(crate::EapCode::Response, 5, 1, b"alice").to_bytes();
        assert_eq!(
            decode(&[(EAP_MESSAGE, &eap), (CHAP_PASSWORD, &[1u8; 17])]).err(),
            Some(InvalidAccessRequest::ConflictingCredentials)
        );
        let mut short = eap.clone();
        short.pop();
        assert!(matches!(
            decode(&[(EAP_MESSAGE, &short)]).err(),
            Some(InvalidAccessRequest::MalformedEap(
                MalformedEap::LengthMismatch
            ))
        ));
        assert!(matches!(
            decode(&[(EAP_MESSAGE, &eap), (STATE, b"a"), (STATE, b"b")]).err(),
            Some(InvalidAccessRequest::Malformed(
                MalformedPacket::RepeatedAttribute(STATE)
            ))
        ));
    }

    #[test]
    fn refuses_what_cannot_be_decoded() {
        let password = hidden(b"secret");
        let cases: [(Attributes<'_>, InvalidAccessRequest); 7] = [
            (
                &[(USER_NAME, b"a"), (USER_NAME, b"b")],
                InvalidAccessRequest::Malformed(MalformedPacket::RepeatedAttribute(USER_NAME)),
            ),
            (
                &[(USER_PASSWORD, &password), (USER_PASSWORD, &password)],
                InvalidAccessRequest::Malformed(MalformedPacket::RepeatedAttribute(USER_PASSWORD)),
            ),
            (
                &[(NAS_IP_ADDRESS, &[10, 0, 0])],
                InvalidAccessRequest::Malformed(MalformedPacket::InvalidAttributeLength(
                    NAS_IP_ADDRESS,
                )),
            ),
            (
                &[
                    (NAS_IP_ADDRESS, &[10, 0, 0, 1]),
                    (NAS_IPV6_ADDRESS, &[0; 4]),
                ],
                InvalidAccessRequest::Malformed(MalformedPacket::InvalidAttributeLength(
                    NAS_IPV6_ADDRESS,
                )),
            ),
            (
                &[(NAS_IPV6_ADDRESS, &[0; 4])],
                InvalidAccessRequest::Malformed(MalformedPacket::InvalidAttributeLength(
                    NAS_IPV6_ADDRESS,
                )),
            ),
            (
                &[(USER_PASSWORD, &[0; 17])],
                InvalidAccessRequest::UndecodablePassword,
            ),
            (
                &[(USER_PASSWORD, &[0; 144])],
                InvalidAccessRequest::UndecodablePassword,
            ),
        ];
        for (attributes, expected) in cases {
            assert_eq!(decode(attributes).err(), Some(expected), "{attributes:?}");
        }
    }
}
