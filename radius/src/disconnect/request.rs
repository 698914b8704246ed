//! The Disconnect-Request on the wire (RFC 5176 §2.3, §3): the profile's
//! identification attributes between a Message-Authenticator, first, and an
//! Event-Timestamp.
//!
//! The Message-Authenticator is optional in RFC 5176 §3.4, but sent first
//! after BlastRADIUS (CVE-2024-3596) so a NAS that checks it can require it.
//! Event-Timestamp is what lets the NAS refuse a replayed request (RFC 5176
//! §6.4, a 300 s window by default), so it is fixed once per disconnect:
//! retransmissions are the same octets (RFC 5080 §2.2.1). The signing order
//! is RFC 5176 §3.4's: the Message-Authenticator over the packet with a zero
//! Authenticator field, then the Request Authenticator (as an
//! Accounting-Request's, RFC 2866 §3) over the final octets.

use std::time::{SystemTime, UNIX_EPOCH};

use crate::dictionary::{DISCONNECT_REQUEST, EVENT_TIMESTAMP, MESSAGE_AUTHENTICATOR};
use crate::message_authenticator;
use crate::packet::{Authenticator, PacketWriter};
use crate::request_authenticator;
use crate::secret::SharedSecret;

use super::outcome::DisconnectError;
use super::profile::{DisconnectProfile, SessionIdentification};

/// A signed Disconnect-Request, ready to be sent and resent unchanged.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct DisconnectRequest {
    pub(crate) bytes: Vec<u8>,
    /// Its Request Authenticator, which keys the answer's authenticators.
    pub(crate) authenticator: Authenticator,
}

impl DisconnectRequest {
    /// Encodes and signs the request that ends `session` on a NAS of
    /// `profile`, stamped with `event_timestamp`.
    pub(crate) fn encode(
        identifier: u8,
        session: &SessionIdentification,
        profile: DisconnectProfile,
        event_timestamp: SystemTime,
        secret: &SharedSecret,
    ) -> Result<Self, DisconnectError> {
        let identification = profile.identification(session)?;
        let event_timestamp = seconds_since_1970(event_timestamp)?;
        let mut writer = PacketWriter::new(DISCONNECT_REQUEST, identifier, &[0; 16]);
        let message_authenticator_offset = push(
            &mut writer,
            MESSAGE_AUTHENTICATOR,
            "Message-Authenticator",
            &[0; message_authenticator::VALUE_LEN],
        )?;
        for attribute in &identification {
            push(
                &mut writer,
                attribute.attribute_type,
                attribute.name,
                &attribute.value,
            )?;
        }
        push(
            &mut writer,
            EVENT_TIMESTAMP,
            "Event-Timestamp",
            &event_timestamp.to_be_bytes(),
        )?;
        let mut bytes = writer.into_bytes();
        let authenticator =
            request_authenticator::seal(secret, &mut bytes, Some(message_authenticator_offset));
        Ok(Self {
            bytes,
            authenticator,
        })
    }
}

/// Appends one attribute. Values were checked to be 1 to 253 octets, and a
/// Disconnect-Request holds at most seven attributes (under 1400 octets),
/// so the writer's limits are never reached; were one, the attribute is
/// named rather than the packet cut short.
fn push(
    writer: &mut PacketWriter,
    attribute_type: u8,
    name: &'static str,
    value: &[u8],
) -> Result<usize, DisconnectError> {
    writer
        .push(attribute_type, value)
        .map_err(|_| DisconnectError::InvalidAttribute {
            attribute: name,
            length: value.len(),
        })
}

/// Event-Timestamp: seconds since 1970-01-01 UTC in 32 bits (RFC 2869 §5.3).
fn seconds_since_1970(time: SystemTime) -> Result<u32, DisconnectError> {
    time.duration_since(UNIX_EPOCH)
        .ok()
        .and_then(|since| u32::try_from(since.as_secs()).ok())
        .ok_or(DisconnectError::ClockOutOfRange)
}

#[cfg(test)]
mod tests {
    use std::net::{IpAddr, Ipv4Addr};
    use std::time::Duration;

    use radius::core::packet::Packet as ReferencePacket;

    use super::*;
    use crate::dictionary::{
        ACCT_SESSION_ID, FRAMED_IP_ADDRESS, NAS_IDENTIFIER, NAS_IP_ADDRESS, USER_NAME,
    };
    use crate::packet::Packet;

    const SECRET: &[u8] = b"dae-secret";

    fn secret() -> SharedSecret {
        SharedSecret::new(SECRET.to_vec())
    }

    /// 2023-11-14 22:13:20 UTC.
    fn timestamp() -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(1_700_000_000)
    }

    fn session() -> SessionIdentification {
        SessionIdentification {
            user_name: b"alice".to_vec(),
            acct_session_id: Some("1700000000-7".to_owned()),
            nas_ip_address: Some(IpAddr::from([192, 0, 2, 10])),
            nas_identifier: Some("vpn-gw".to_owned()),
            framed_ip_address: Some(Ipv4Addr::new(10, 8, 0, 5)),
            calling_station_id: None,
        }
    }

    fn encode(profile: DisconnectProfile) -> DisconnectRequest {
        DisconnectRequest::encode(42, &session(), profile, timestamp(), &secret()).unwrap()
    }

    fn types(bytes: &[u8]) -> Vec<u8> {
        Packet::parse(bytes)
            .unwrap()
            .attributes()
            .iter()
            .map(|attribute| attribute.attribute_type)
            .collect()
    }

    /// The User-Name profile's request for "alice", identifier 42, at
    /// [`timestamp`] (0x6553f100), secret "dae-secret". Both authenticators
    /// were derived independently with OpenSSL, in RFC 5176 §3.4's order:
    ///
    /// ```text
    /// $ Z=00000000000000000000000000000000
    /// $ echo 282a0033${Z}5012${Z}0107616c69636537066553f100 | xxd -r -p > zeroed.bin
    /// $ openssl dgst -md5 -hmac dae-secret zeroed.bin
    /// HMAC-MD5(zeroed.bin)= aa1f25023731519674b8ad603e6c5ff2
    /// $ echo 282a0033${Z}5012aa1f25023731519674b8ad603e6c5ff20107616c69636537066553f100 \
    ///     | xxd -r -p > signed.bin
    /// $ (cat signed.bin; printf dae-secret) | openssl dgst -md5
    /// MD5(stdin)= 7317453931c25e8c47199729819bd46e
    /// ```
    const USER_NAME_REQUEST: [u8; 51] = [
        0x28, 0x2a, 0x00, 0x33, 0x73, 0x17, 0x45, 0x39, 0x31, 0xc2, 0x5e, 0x8c, 0x47, 0x19, 0x97,
        0x29, 0x81, 0x9b, 0xd4, 0x6e, 0x50, 0x12, 0xaa, 0x1f, 0x25, 0x02, 0x37, 0x31, 0x51, 0x96,
        0x74, 0xb8, 0xad, 0x60, 0x3e, 0x6c, 0x5f, 0xf2, 0x01, 0x07, 0x61, 0x6c, 0x69, 0x63, 0x65,
        0x37, 0x06, 0x65, 0x53, 0xf1, 0x00,
    ];

    #[test]
    fn matches_the_openssl_derived_request() {
        assert_eq!(encode(DisconnectProfile::UserName).bytes, USER_NAME_REQUEST);
    }

    #[test]
    fn message_authenticator_first_event_timestamp_last() {
        for (profile, identification) in [
            (DisconnectProfile::UserName, vec![USER_NAME]),
            (
                DisconnectProfile::UserNameFramedIp,
                vec![USER_NAME, FRAMED_IP_ADDRESS],
            ),
            (
                DisconnectProfile::Default,
                vec![
                    USER_NAME,
                    ACCT_SESSION_ID,
                    NAS_IP_ADDRESS,
                    NAS_IDENTIFIER,
                    FRAMED_IP_ADDRESS,
                ],
            ),
        ] {
            let request = encode(profile);
            let mut expected = vec![MESSAGE_AUTHENTICATOR];
            expected.extend(identification);
            expected.push(EVENT_TIMESTAMP);
            assert_eq!(types(&request.bytes), expected, "{}", profile.name());
            let packet = Packet::parse(&request.bytes).unwrap();
            assert_eq!(packet.code(), DISCONNECT_REQUEST);
            assert_eq!(packet.identifier(), 42);
            assert_eq!(
                packet.values(EVENT_TIMESTAMP).next().unwrap(),
                1_700_000_000u32.to_be_bytes()
            );
        }
    }

    #[test]
    fn radius_rs_accepts_the_request_authenticator() {
        for profile in DisconnectProfile::ALL {
            let request = encode(profile);
            assert!(ReferencePacket::is_authentic_request(
                &request.bytes,
                SECRET
            ));
            assert!(!ReferencePacket::is_authentic_request(
                &request.bytes,
                b"other-secret"
            ));
            assert_eq!(request.bytes[4..20], request.authenticator);
        }
    }

    #[test]
    fn the_message_authenticator_covers_a_zero_authenticator_field() {
        let request = encode(DisconnectProfile::Default);
        let packet = Packet::parse(&request.bytes).unwrap();
        let signature = message_authenticator::find(&packet).unwrap().unwrap();
        assert_eq!(signature.value_offset, 22);
        assert!(message_authenticator::verify(
            &secret(),
            &packet,
            &signature,
            &[0; 16]
        ));
        assert!(!message_authenticator::verify(
            &secret(),
            &packet,
            &signature,
            &request.authenticator
        ));
    }

    #[test]
    fn refuses_what_cannot_be_encoded() {
        let long_name = SessionIdentification {
            user_name: vec![b'a'; 254],
            ..session()
        };
        let too_long = DisconnectRequest::encode(
            1,
            &long_name,
            DisconnectProfile::UserName,
            timestamp(),
            &secret(),
        );
        assert!(matches!(
            too_long,
            Err(DisconnectError::InvalidAttribute {
                attribute: "User-Name",
                length: 254
            })
        ));
        let before_1970 = DisconnectRequest::encode(
            1,
            &session(),
            DisconnectProfile::UserName,
            UNIX_EPOCH - Duration::from_secs(1),
            &secret(),
        );
        assert!(matches!(before_1970, Err(DisconnectError::ClockOutOfRange)));
        let after_2106 = DisconnectRequest::encode(
            1,
            &session(),
            DisconnectProfile::UserName,
            UNIX_EPOCH + Duration::from_secs(u64::from(u32::MAX) + 1),
            &secret(),
        );
        assert!(matches!(after_2106, Err(DisconnectError::ClockOutOfRange)));
    }
}
