//! EAP packets as RADIUS carries them (RFC 3748 §4, RFC 3579 §3.1).
//!
//! An EAP packet may be longer than one attribute, so a request's
//! EAP-Message attributes are concatenated in order, and the result must be
//! exactly one EAP packet whose Length field covers it all; anything else is
//! discarded as malformed — except no octets at all, which is EAP-Start
//! (RFC 3579 §2.1). Replies split an EAP packet back into 253-octet
//! EAP-Message attributes. This file knows the EAP header only; what an EAP
//! method carries is its own business.

use std::fmt;

use crate::dictionary::{EAP_MESSAGE, STATE};
use crate::handler::{InvalidReplyAttribute, ReplyAttribute};
use crate::packet::MAX_ATTRIBUTE_VALUE_LEN;

/// Code, Identifier and Length (RFC 3748 §4).
const HEADER_LEN: usize = 4;

/// The four EAP codes (RFC 3748 §4).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EapCode {
    Request,
    Response,
    Success,
    Failure,
}

impl EapCode {
    fn from_octet(octet: u8) -> Option<Self> {
        match octet {
            1 => Some(Self::Request),
            2 => Some(Self::Response),
            3 => Some(Self::Success),
            4 => Some(Self::Failure),
            _ => None,
        }
    }

    fn octet(self) -> u8 {
        match self {
            Self::Request => 1,
            Self::Response => 2,
            Self::Success => 3,
            Self::Failure => 4,
        }
    }
}

/// EAP method types adgate speaks (RFC 3748 §5, RFC 5216 §3.1).
pub mod eap_type {
    /// Identity (RFC 3748 §5.1).
    pub const IDENTITY: u8 = 1;
    /// Nak, Response only (RFC 3748 §5.3.1).
    pub const NAK: u8 = 3;
    /// EAP-TLS (RFC 5216 §3.1, RFC 9190 §2).
    pub const TLS: u8 = 13;
    /// PEAP (draft-josefsson-pppext-eap-tls-eap-06 §2.1, [MS-PEAP] §2.2.2).
    pub const PEAP: u8 = 25;
    /// EAP-MSCHAPv2 (draft-kamath-pppext-eap-mschapv2-02 §2).
    pub const MSCHAPV2: u8 = 26;
    /// Extensions, inside a PEAP tunnel only ([MS-PEAP] §2.2.8).
    pub const EXTENSIONS: u8 = 33;
}

/// Why the EAP-Message attributes of a request are not one EAP packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MalformedEap {
    /// Fewer than the 4 header octets.
    ShorterThanHeader,
    /// A code other than 1 to 4 (RFC 3748 §4).
    UnknownCode(u8),
    /// The Length field disagrees with the octets carried (RFC 3579 §3.1).
    LengthMismatch,
    /// A Request or Response without its Type octet (RFC 3748 §4.1).
    MissingType,
}

impl fmt::Display for MalformedEap {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::ShorterThanHeader => f.write_str("EAP packet shorter than its header"),
            Self::UnknownCode(code) => write!(f, "EAP code {code} unknown"),
            Self::LengthMismatch => f.write_str("EAP Length field disagrees with EAP-Message"),
            Self::MissingType => f.write_str("EAP Request/Response without a Type"),
        }
    }
}

impl std::error::Error for MalformedEap {}

/// What a request's EAP-Message attributes carry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EapMessage {
    /// EAP-Start (RFC 3579 §2.1): an EAP-Message with no data, the NAS asking the server to
    /// begin the conversation with an EAP-Request/Identity.
    Start,
    /// One EAP packet from the peer.
    Packet(EapPacket),
}

impl EapMessage {
    /// Parses the concatenation of a request's EAP-Message values.
    pub fn parse(octets: &[u8]) -> Result<Self, MalformedEap> {
        if octets.is_empty() {
            return Ok(Self::Start);
        }
        EapPacket::parse(octets).map(Self::Packet)
    }
}

/// One EAP packet, owned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EapPacket {
    pub code: EapCode,
    pub identifier: u8,
    /// Type (Request/Response only) and its data; empty for Success/Failure.
    body: Vec<u8>,
}

impl EapPacket {
    /// Parses the concatenation of a request's EAP-Message values.
    pub fn parse(octets: &[u8]) -> Result<Self, MalformedEap> {
        let (header, body) = octets
            .split_first_chunk::<HEADER_LEN>()
            .ok_or(MalformedEap::ShorterThanHeader)?;
        let [code, identifier, length_high, length_low] = *header;
        let code = EapCode::from_octet(code).ok_or(MalformedEap::UnknownCode(code))?;
        if usize::from(u16::from_be_bytes([length_high, length_low])) != octets.len() {
            return Err(MalformedEap::LengthMismatch);
        }
        let has_type = matches!(code, EapCode::Request | EapCode::Response);
        if has_type && body.is_empty() {
            return Err(MalformedEap::MissingType);
        }
        Ok(Self {
            code,
            identifier,
            body: body.to_vec(),
        })
    }

    /// A Request or Response of `eap_type` carrying `data`.
    pub fn new(code: EapCode, identifier: u8, eap_type: u8, data: &[u8]) -> Self {
        let mut body = Vec::with_capacity(1 + data.len());
        body.push(eap_type);
        body.extend_from_slice(data);
        Self {
            code,
            identifier,
            body,
        }
    }

    /// EAP-Success or EAP-Failure (RFC 3748 §4.2).
    pub fn outcome(success: bool, identifier: u8) -> Self {
        Self {
            code: if success {
                EapCode::Success
            } else {
                EapCode::Failure
            },
            identifier,
            body: Vec::new(),
        }
    }

    /// The Type octet of a Request or Response.
    pub fn eap_type(&self) -> Option<u8> {
        self.body.first().copied()
    }

    /// The Type-Data after the Type octet.
    pub fn type_data(&self) -> &[u8] {
        self.body.get(1..).unwrap_or_default()
    }

    /// The packet's octets. Callers keep packets under 64 KiB, which
    /// EAP-Message splitting into a 4096-octet RADIUS packet requires anyway.
    pub fn to_bytes(&self) -> Vec<u8> {
        let length = u16::try_from(HEADER_LEN + self.body.len()).unwrap_or(u16::MAX);
        let mut octets = Vec::with_capacity(usize::from(length));
        octets.extend_from_slice(&[self.code.octet(), self.identifier]);
        octets.extend_from_slice(&length.to_be_bytes());
        octets.extend_from_slice(&self.body);
        octets
    }

    /// The packet as EAP-Message attributes of at most 253 octets each
    /// (RFC 3579 §3.1).
    pub fn to_attributes(&self) -> Result<Vec<ReplyAttribute>, InvalidReplyAttribute> {
        self.to_bytes()
            .chunks(MAX_ATTRIBUTE_VALUE_LEN)
            .map(|chunk| ReplyAttribute::new(EAP_MESSAGE, chunk.to_vec()))
            .collect()
    }
}

/// The State attribute (RFC 2865 §5.24) a server puts in an
/// Access-Challenge for the NAS to echo in the next Access-Request.
pub fn state_attribute(state: &[u8]) -> Result<ReplyAttribute, InvalidReplyAttribute> {
    ReplyAttribute::new(STATE, state.to_vec())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_splits_at_253_octets() {
        let packet = EapPacket::new(EapCode::Request, 7, eap_type::TLS, &[0xab; 600]);
        let bytes = packet.to_bytes();
        assert_eq!(&bytes[..5], &[1, 7, 0x02, 0x5d, 13]);
        assert_eq!(EapPacket::parse(&bytes), Ok(packet.clone()));
        let attributes = packet.to_attributes().unwrap();
        let lengths: Vec<usize> = attributes.iter().map(|a| a.value().len()).collect();
        assert_eq!(lengths, [253, 253, 99]);
        let joined: Vec<u8> = attributes.iter().flat_map(|a| a.value().to_vec()).collect();
        assert_eq!(joined, bytes);
    }

    #[test]
    fn success_and_failure_have_no_type() {
        assert_eq!(EapPacket::outcome(true, 9).to_bytes(), [3, 9, 0, 4]);
        assert_eq!(EapPacket::outcome(false, 9).to_bytes(), [4, 9, 0, 4]);
        assert_eq!(EapPacket::parse(&[4, 9, 0, 4]).unwrap().eap_type(), None);
    }

    #[test]
    fn no_octets_are_eap_start() {
        assert_eq!(EapMessage::parse(&[]), Ok(EapMessage::Start));
        let identity = [2, 1, 0, 6, 1, b'a'];
        assert_eq!(
            EapMessage::parse(&identity),
            Ok(EapMessage::Packet(EapPacket::parse(&identity).unwrap()))
        );
        assert_eq!(
            EapMessage::parse(&[2, 1, 0]),
            Err(MalformedEap::ShorterThanHeader)
        );
    }

    #[test]
    fn refuses_what_is_not_one_eap_packet() {
        let cases: [(&[u8], MalformedEap); 6] = [
            (&[], MalformedEap::ShorterThanHeader),
            (&[2, 1, 0], MalformedEap::ShorterThanHeader),
            (&[5, 1, 0, 4], MalformedEap::UnknownCode(5)),
            (&[2, 1, 0, 9, 1, b'a'], MalformedEap::LengthMismatch),
            (&[2, 1, 0, 5, 1, b'a'], MalformedEap::LengthMismatch),
            (&[2, 1, 0, 4], MalformedEap::MissingType),
        ];
        for (octets, expected) in cases {
            assert_eq!(EapPacket::parse(octets), Err(expected), "{octets:?}");
        }
    }
}
