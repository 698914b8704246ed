//! The MS-CHAP attributes of RFC 2548 §2.3 for MS-CHAPv2 over RADIUS: MS-CHAP-Challenge and
//! MS-CHAP2-Response in an Access-Request, MS-CHAP2-Success in the Access-Accept, MS-CHAP-Error
//! in the Access-Reject. All are Microsoft Vendor-Specific attributes (vendor 311). The
//! arithmetic over their values is in `mschapv2.rs`.

use std::fmt::Write as _;

use crate::handler::{InvalidReplyAttribute, ReplyAttribute};
use crate::packet::{MalformedPacket, Packet};
use crate::vendor_specific::{
    microsoft_attribute, microsoft_value, microsoft_values, MICROSOFT, VENDOR_SPECIFIC,
};

/// RFC 2548 §2.1.5.
const MS_CHAP_ERROR: u8 = 2;
/// RFC 2548 §2.3.1.
const MS_CHAP_CHALLENGE: u8 = 11;
/// RFC 2548 §2.3.2.
const MS_CHAP2_RESPONSE: u8 = 25;
/// RFC 2548 §2.3.3.
const MS_CHAP2_SUCCESS: u8 = 26;
/// MS-CHAP2-Response: Ident, Flags, Peer-Challenge (16), Reserved (8), Response (24).
const MS_CHAP2_RESPONSE_LEN: usize = 50;

/// An MS-CHAPv2 login as an Access-Request carries it (RFC 2548 §2.3.1, §2.3.2).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MsChap2Request {
    /// The Ident of MS-CHAP2-Response, repeated in MS-CHAP2-Success and MS-CHAP-Error.
    pub ident: u8,
    /// MS-CHAP-Challenge: the authenticator (NAS) challenge, 16 octets for MS-CHAPv2.
    pub authenticator_challenge: [u8; 16],
    /// The Peer-Challenge field of MS-CHAP2-Response.
    pub peer_challenge: [u8; 16],
    /// The Response field of MS-CHAP2-Response: the NT-Response (RFC 2759 §4).
    pub nt_response: [u8; 24],
}

/// Whether the request carries any MS-CHAP attribute (to tell MS-CHAP from no credential).
pub(crate) fn present(packet: &Packet<'_>) -> bool {
    [MS_CHAP_CHALLENGE, MS_CHAP2_RESPONSE]
        .iter()
        .any(|&vendor_type| microsoft_values(packet, vendor_type).next().is_some())
}

/// The MS-CHAPv2 login of `packet`: `Ok(None)` when it has neither attribute (or MS-CHAPv1's
/// MS-CHAP-Response instead, which is not supported), an error when one is missing, repeated
/// or of the wrong length.
pub(crate) fn decode(packet: &Packet<'_>) -> Result<Option<MsChap2Request>, MalformedPacket> {
    let challenge = single(packet, MS_CHAP_CHALLENGE)?;
    let response = single(packet, MS_CHAP2_RESPONSE)?;
    let (challenge, response) = match (challenge, response) {
        (None, None) => return Ok(None),
        (Some(challenge), Some(response)) => (challenge, response),
        _ => return Err(MalformedPacket::InvalidAttributeLength(VENDOR_SPECIFIC)),
    };
    let malformed = || MalformedPacket::InvalidAttributeLength(VENDOR_SPECIFIC);
    let authenticator_challenge: [u8; 16] = challenge.try_into().map_err(|_| malformed())?;
    let response: &[u8; MS_CHAP2_RESPONSE_LEN] = response.try_into().map_err(|_| malformed())?;
    let (&[ident, _flags], rest) = response.split_first_chunk::<2>().ok_or_else(malformed)?;
    let (peer_challenge, rest) = rest.split_first_chunk::<16>().ok_or_else(malformed)?;
    let (_reserved, nt_response) = rest.split_first_chunk::<8>().ok_or_else(malformed)?;
    Ok(Some(MsChap2Request {
        ident,
        authenticator_challenge,
        peer_challenge: *peer_challenge,
        nt_response: nt_response.try_into().map_err(|_| malformed())?,
    }))
}

/// The two Vendor-Specific attributes (type 26 and value) carrying `request`, as a NAS sends
/// them: for the NAS simulator and the tests, which play the peer's side.
pub fn request_attributes(request: &MsChap2Request) -> [(u8, Vec<u8>); 2] {
    let mut response = Vec::with_capacity(MS_CHAP2_RESPONSE_LEN);
    response.extend_from_slice(&[request.ident, 0]);
    response.extend_from_slice(&request.peer_challenge);
    response.extend_from_slice(&[0; 8]);
    response.extend_from_slice(&request.nt_response);
    // 16 and 50 octets: well within Vendor-Length.
    let value = |vendor_type, value: &[u8]| microsoft_value(vendor_type, value).unwrap_or_default();
    [
        (
            VENDOR_SPECIFIC,
            value(MS_CHAP_CHALLENGE, &request.authenticator_challenge),
        ),
        (VENDOR_SPECIFIC, value(MS_CHAP2_RESPONSE, &response)),
    ]
}

/// The value of the Microsoft sub-attribute `vendor_type` in a response's attributes (as the
/// client gives them): MS-CHAP2-Success or MS-CHAP-Error, without the Ident. For the NAS side.
pub fn response_text(attributes: &[(u8, Vec<u8>)], success: bool) -> Option<Vec<u8>> {
    let wanted = if success {
        MS_CHAP2_SUCCESS
    } else {
        MS_CHAP_ERROR
    };
    attributes
        .iter()
        .filter(|(attribute_type, _)| *attribute_type == VENDOR_SPECIFIC)
        .find_map(|(_, value)| {
            let (vendor, rest) = value.split_first_chunk::<4>()?;
            let [found, length, _ident, text @ ..] = rest else {
                return None;
            };
            (u32::from_be_bytes(*vendor) == MICROSOFT
                && *found == wanted
                && usize::from(*length) == rest.len())
            .then(|| text.to_vec())
        })
}

fn single<'a>(packet: &Packet<'a>, vendor_type: u8) -> Result<Option<&'a [u8]>, MalformedPacket> {
    let mut values = microsoft_values(packet, vendor_type);
    let first = values.next();
    if values.next().is_some() {
        return Err(MalformedPacket::RepeatedAttribute(VENDOR_SPECIFIC));
    }
    Ok(first)
}

/// MS-CHAP2-Success (RFC 2548 §2.3.3): the Ident and the authenticator response `S=…`.
pub fn ms_chap2_success(
    ident: u8,
    authenticator_response: &str,
) -> Result<ReplyAttribute, InvalidReplyAttribute> {
    let mut value = Vec::with_capacity(1 + authenticator_response.len());
    value.push(ident);
    value.extend_from_slice(authenticator_response.as_bytes());
    microsoft_attribute(MS_CHAP2_SUCCESS, &value)
}

/// The error codes of MS-CHAP-Error (RFC 2759 §6, RFC 2548 §2.1.5).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MsChapErrorCode {
    /// 646 ERROR_RESTRICTED_LOGON_HOURS.
    RestrictedLogonHours,
    /// 647 ERROR_ACCT_DISABLED.
    AccountDisabled,
    /// 648 ERROR_PASSWD_EXPIRED.
    PasswordExpired,
    /// 649 ERROR_NO_DIALIN_PERMISSION.
    NoDialinPermission,
    /// 691 ERROR_AUTHENTICATION_FAILURE.
    AuthenticationFailure,
}

impl MsChapErrorCode {
    /// The decimal code.
    pub const fn code(self) -> u16 {
        match self {
            MsChapErrorCode::RestrictedLogonHours => 646,
            MsChapErrorCode::AccountDisabled => 647,
            MsChapErrorCode::PasswordExpired => 648,
            MsChapErrorCode::NoDialinPermission => 649,
            MsChapErrorCode::AuthenticationFailure => 691,
        }
    }
}

/// The failure packet's text of RFC 2759 §6, `E=<code> R=0 C=<challenge> V=3`: no retry (R=0;
/// adgate's refusals are final), `C` a new 16-octet challenge as the format requires, version 3
/// (MS-CHAPv2). MS-CHAP-Error carries it, and EAP-MSCHAPv2's Failure-Request with a message.
pub fn failure_text(error: MsChapErrorCode, new_challenge: &[u8; 16]) -> String {
    let mut text = format!("E={} R=0 C=", error.code());
    for octet in new_challenge {
        let _ = write!(text, "{octet:02X}");
    }
    text.push_str(" V=3");
    text
}

/// MS-CHAP-Error (RFC 2548 §2.1.5) with the failure packet's text of RFC 2759 §6:
/// `E=<code> R=0 C=<challenge> V=3` — no retry (R=0; adgate's refusals are final), `C` a new
/// 16-octet challenge as the format requires, version 3 (MS-CHAPv2).
pub fn ms_chap_error(
    ident: u8,
    error: MsChapErrorCode,
    new_challenge: &[u8; 16],
) -> Result<ReplyAttribute, InvalidReplyAttribute> {
    let text = failure_text(error, new_challenge);
    let mut value = Vec::with_capacity(1 + text.len());
    value.push(ident);
    value.extend_from_slice(text.as_bytes());
    microsoft_attribute(MS_CHAP_ERROR, &value)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::packet::PacketWriter;

    fn vsa(vendor_type: u8, value: &[u8]) -> Vec<u8> {
        let mut octets = 311u32.to_be_bytes().to_vec();
        octets.push(vendor_type);
        octets.push(u8::try_from(value.len() + 2).unwrap());
        octets.extend_from_slice(value);
        octets
    }

    fn packet(attributes: &[(u8, Vec<u8>)]) -> Vec<u8> {
        let mut writer = PacketWriter::new(1, 7, &[0; 16]);
        for (attribute_type, value) in attributes {
            writer.push(*attribute_type, value).unwrap();
        }
        writer.into_bytes()
    }

    fn response_value() -> Vec<u8> {
        let mut value = vec![0x42, 0];
        value.extend_from_slice(&[0x21; 16]);
        value.extend_from_slice(&[0; 8]);
        value.extend_from_slice(&[0x82; 24]);
        value
    }

    #[test]
    fn challenge_and_response_are_cut_into_their_fields() {
        let bytes = packet(&[(26, vsa(11, &[0x5b; 16])), (26, vsa(25, &response_value()))]);
        let packet = Packet::parse(&bytes).unwrap();
        assert!(present(&packet));
        assert_eq!(
            decode(&packet).unwrap(),
            Some(MsChap2Request {
                ident: 0x42,
                authenticator_challenge: [0x5b; 16],
                peer_challenge: [0x21; 16],
                nt_response: [0x82; 24],
            })
        );
    }

    #[test]
    fn what_the_peer_side_sends_is_what_the_server_reads() {
        let request = MsChap2Request {
            ident: 9,
            authenticator_challenge: [1; 16],
            peer_challenge: [2; 16],
            nt_response: [3; 24],
        };
        let attributes = request_attributes(&request);
        let bytes = packet(&attributes);
        assert_eq!(decode(&Packet::parse(&bytes).unwrap()), Ok(Some(request)));
        let success = ms_chap2_success(9, "S=AB").unwrap();
        let received = vec![(26, success.value().to_vec())];
        assert_eq!(response_text(&received, true), Some(b"S=AB".to_vec()));
        assert_eq!(response_text(&received, false), None);
    }

    #[test]
    fn missing_repeated_or_mis_sized_attributes_are_malformed() {
        let cases = [
            vec![(26, vsa(11, &[0x5b; 16]))],
            vec![(26, vsa(25, &response_value()))],
            vec![(26, vsa(11, &[0x5b; 8])), (26, vsa(25, &response_value()))],
            vec![(26, vsa(11, &[0x5b; 16])), (26, vsa(25, &[0; 49]))],
            vec![
                (26, vsa(11, &[0x5b; 16])),
                (26, vsa(11, &[0x5b; 16])),
                (26, vsa(25, &response_value())),
            ],
        ];
        for attributes in cases {
            let bytes = packet(&attributes);
            assert!(decode(&Packet::parse(&bytes).unwrap()).is_err());
        }
        let bytes = packet(&[(26, vsa(1, b"other")), (26, vec![0, 0, 0, 9, 11, 3, 0])]);
        let packet = Packet::parse(&bytes).unwrap();
        assert!(!present(&packet), "another vendor, another Microsoft type");
        assert_eq!(decode(&packet), Ok(None));
    }

    #[test]
    fn success_and_error_carry_the_ident_and_rfc_2759_texts() {
        let success = ms_chap2_success(0x42, "S=0123456789ABCDEF0123456789ABCDEF01234567").unwrap();
        assert_eq!(
            success.value(),
            [&vsa(26, b"\x42S=0123456789ABCDEF0123456789ABCDEF01234567")[..]].concat()
        );
        let error = ms_chap_error(0x42, MsChapErrorCode::AuthenticationFailure, &[0xab; 16]);
        assert_eq!(
            error.unwrap().value(),
            vsa(
                2,
                format!("\x42E=691 R=0 C={} V=3", "AB".repeat(16)).as_bytes()
            )
        );
        assert_eq!(
            [
                MsChapErrorCode::RestrictedLogonHours,
                MsChapErrorCode::AccountDisabled,
                MsChapErrorCode::PasswordExpired,
                MsChapErrorCode::NoDialinPermission,
            ]
            .map(MsChapErrorCode::code),
            [646, 647, 648, 649]
        );
    }
}
