//! An Accounting-Request (RFC 2866 §4.1) as the handler sees it: its
//! Request Authenticator verified, the attributes an auditor needs decoded.
//! The handler records it; only then does the NAS get its
//! Accounting-Response (RFC 2866 §4.1: a server that cannot record a
//! request MUST NOT answer it).

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;

use crate::attribute_values::{integer, nas_ip_address, octets, text};
use crate::clients::NasClient;
use crate::dictionary::{
    ACCT_DELAY_TIME, ACCT_INPUT_GIGAWORDS, ACCT_INPUT_OCTETS, ACCT_OUTPUT_GIGAWORDS,
    ACCT_OUTPUT_OCTETS, ACCT_SESSION_ID, ACCT_SESSION_TIME, ACCT_STATUS_TYPE, ACCT_TERMINATE_CAUSE,
    CALLING_STATION_ID, CLASS, FRAMED_IP_ADDRESS, NAS_IDENTIFIER, USER_NAME,
};
use crate::packet::{MalformedPacket, Packet};

/// Acct-Status-Type (RFC 2866 §5.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AccountingStatus {
    Start,
    Stop,
    InterimUpdate,
    AccountingOn,
    AccountingOff,
    /// Any other value (e.g. Failed, 15), kept as sent.
    Other(u32),
}

impl AccountingStatus {
    fn from_value(value: u32) -> Self {
        match value {
            1 => Self::Start,
            2 => Self::Stop,
            3 => Self::InterimUpdate,
            7 => Self::AccountingOn,
            8 => Self::AccountingOff,
            other => Self::Other(other),
        }
    }
}

/// An authenticated Accounting-Request from a known NAS.
#[derive(Debug)]
pub struct AccountingRequest {
    /// The configured client the request came from.
    pub client: Arc<NasClient>,
    /// The NAS's address and port.
    pub source: SocketAddr,
    /// The packet Identifier (RFC 2865 §3).
    pub identifier: u8,
    pub status: AccountingStatus,
    /// Acct-Session-Id (RFC 2866 §5.5); invalid UTF-8 is replaced with U+FFFD.
    pub session_id: Option<String>,
    /// User-Name exactly as sent.
    pub user_name: Option<Vec<u8>>,
    /// Framed-IP-Address (RFC 2865 §5.8): the address the VPN gave the user.
    pub framed_ip_address: Option<Ipv4Addr>,
    /// Calling-Station-Id (RFC 2865 §5.31); invalid UTF-8 is replaced with U+FFFD.
    pub calling_station_id: Option<String>,
    /// NAS-IP-Address (RFC 2865 §5.4), or else NAS-IPv6-Address (RFC 3162 §2.1).
    pub nas_ip_address: Option<IpAddr>,
    /// NAS-Identifier (RFC 2865 §5.32); invalid UTF-8 is replaced with U+FFFD.
    pub nas_identifier: Option<String>,
    /// Acct-Session-Time in seconds (RFC 2866 §5.7).
    pub session_time: Option<u32>,
    /// Acct-Input-Octets with Acct-Input-Gigawords as its high word
    /// (RFC 2866 §5.3, RFC 2869 §5.1).
    pub input_octets: Option<u64>,
    /// Acct-Output-Octets with Acct-Output-Gigawords (RFC 2866 §5.4, RFC 2869 §5.2).
    pub output_octets: Option<u64>,
    /// Acct-Terminate-Cause (RFC 2866 §5.10), as its number.
    pub terminate_cause: Option<u32>,
    /// Acct-Delay-Time in seconds (RFC 2866 §5.2).
    pub delay_time: Option<u32>,
    /// Every Class (RFC 2865 §5.25) the NAS echoed from the Access-Accept.
    pub classes: Vec<Vec<u8>>,
}

/// Why an authenticated Accounting-Request still cannot be handed on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum InvalidAccountingRequest {
    Malformed(MalformedPacket),
    /// No Acct-Status-Type (RFC 2866 §5.1), or neither NAS-IP-Address nor
    /// NAS-Identifier (RFC 2866 §4.1).
    MissingAttribute,
}

impl From<MalformedPacket> for InvalidAccountingRequest {
    fn from(malformed: MalformedPacket) -> Self {
        Self::Malformed(malformed)
    }
}

impl AccountingRequest {
    /// Decodes a request whose Request Authenticator has been verified.
    pub(crate) fn decode(
        packet: &Packet<'_>,
        client: Arc<NasClient>,
        source: SocketAddr,
    ) -> Result<Self, InvalidAccountingRequest> {
        let status = integer(packet, ACCT_STATUS_TYPE)?
            .map(AccountingStatus::from_value)
            .ok_or(InvalidAccountingRequest::MissingAttribute)?;
        let nas_ip_address = nas_ip_address(packet)?;
        let nas_identifier = text(packet, NAS_IDENTIFIER)?;
        if nas_ip_address.is_none() && nas_identifier.is_none() {
            return Err(InvalidAccountingRequest::MissingAttribute);
        }
        Ok(Self {
            client,
            source,
            identifier: packet.identifier(),
            status,
            session_id: text(packet, ACCT_SESSION_ID)?,
            user_name: packet
                .at_most_one(USER_NAME)?
                .map(|attribute| attribute.value.to_vec()),
            framed_ip_address: octets::<4>(packet, FRAMED_IP_ADDRESS)?.map(Ipv4Addr::from),
            calling_station_id: text(packet, CALLING_STATION_ID)?,
            nas_ip_address,
            nas_identifier,
            session_time: integer(packet, ACCT_SESSION_TIME)?,
            input_octets: counter(packet, ACCT_INPUT_OCTETS, ACCT_INPUT_GIGAWORDS)?,
            output_octets: counter(packet, ACCT_OUTPUT_OCTETS, ACCT_OUTPUT_GIGAWORDS)?,
            terminate_cause: integer(packet, ACCT_TERMINATE_CAUSE)?,
            delay_time: integer(packet, ACCT_DELAY_TIME)?,
            classes: packet.values(CLASS).map(<[u8]>::to_vec).collect(),
        })
    }
}

/// A 64-bit octet count: the low word and its Gigawords high word.
fn counter(packet: &Packet<'_>, low: u8, high: u8) -> Result<Option<u64>, MalformedPacket> {
    let low = integer(packet, low)?;
    let high = integer(packet, high)?;
    Ok(low.map(|low| u64::from(high.unwrap_or(0)) << 32 | u64::from(low)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clients::ClientState;
    use crate::dictionary::NAS_IP_ADDRESS;
    use crate::packet::PacketWriter;
    use crate::secret::SharedSecret;

    fn decode(attributes: &[(u8, &[u8])]) -> Result<AccountingRequest, InvalidAccountingRequest> {
        let mut writer = PacketWriter::new(4, 9, &[0; 16]);
        for (attribute_type, value) in attributes {
            writer.push(*attribute_type, value).unwrap();
        }
        let bytes = writer.into_bytes();
        let client = Arc::new(NasClient {
            name: "vpn".to_owned(),
            secret: SharedSecret::new(b"s".to_vec()),
            require_message_authenticator: crate::clients::MessageAuthenticatorRule::Always,
            limit_proxy_state: true,
            max_in_flight: 1,
            state: ClientState::default(),
        });
        AccountingRequest::decode(
            &Packet::parse(&bytes).unwrap(),
            client,
            "192.0.2.1:1646".parse().unwrap(),
        )
    }

    #[test]
    fn decodes_a_stop_with_counters_past_four_gigabytes() {
        let request = decode(&[
            (ACCT_STATUS_TYPE, &2u32.to_be_bytes()),
            (ACCT_SESSION_ID, b"4711"),
            (USER_NAME, b"alice"),
            (FRAMED_IP_ADDRESS, &[10, 8, 0, 2]),
            (NAS_IDENTIFIER, b"vpn-1"),
            (ACCT_SESSION_TIME, &3600u32.to_be_bytes()),
            (ACCT_INPUT_OCTETS, &5u32.to_be_bytes()),
            (ACCT_INPUT_GIGAWORDS, &1u32.to_be_bytes()),
            (ACCT_OUTPUT_OCTETS, &7u32.to_be_bytes()),
            (ACCT_TERMINATE_CAUSE, &1u32.to_be_bytes()),
            (CLASS, b"one"),
            (CLASS, b"two"),
        ])
        .unwrap();
        assert_eq!(request.status, AccountingStatus::Stop);
        assert_eq!(request.session_id.as_deref(), Some("4711"));
        assert_eq!(request.framed_ip_address, Some(Ipv4Addr::new(10, 8, 0, 2)));
        assert_eq!(request.session_time, Some(3600));
        assert_eq!(request.input_octets, Some((1 << 32) + 5));
        assert_eq!(request.output_octets, Some(7));
        assert_eq!(request.terminate_cause, Some(1));
        assert_eq!(request.classes, [b"one".to_vec(), b"two".to_vec()]);
    }

    #[test]
    fn refuses_what_rfc_2866_requires_and_is_missing() {
        let status = 7u32.to_be_bytes();
        assert_eq!(
            decode(&[(NAS_IDENTIFIER, b"vpn-1")]).err(),
            Some(InvalidAccountingRequest::MissingAttribute)
        );
        assert_eq!(
            decode(&[(ACCT_STATUS_TYPE, &status)]).err(),
            Some(InvalidAccountingRequest::MissingAttribute)
        );
        assert_eq!(
            decode(&[(ACCT_STATUS_TYPE, &[0, 1]), (NAS_IDENTIFIER, b"n")]).err(),
            Some(InvalidAccountingRequest::Malformed(
                MalformedPacket::InvalidAttributeLength(ACCT_STATUS_TYPE)
            ))
        );
        let on = decode(&[
            (ACCT_STATUS_TYPE, &status),
            (NAS_IP_ADDRESS, &[192, 0, 2, 1]),
        ]);
        assert_eq!(on.unwrap().status, AccountingStatus::AccountingOn);
    }
}
