//! What travels inside a PEAPv0 tunnel ([MS-PEAP] §3.1.5.6 and §2.2.8, draft-kamath-pppext-
//! peapv0-00): EAP packets whose 4-octet header is left off — Type and Type-Data only, the
//! receiver restoring the header from the outer packet's Code and Identifier — except the
//! Extensions packets (Type 33), which keep their header and carry the Result TLV that ends
//! the inner conversation. This is how Windows, hostapd and wpa_supplicant frame PEAPv0;
//! the TLS tunnel itself is `adgate_certs`' business.

use crate::eap::{eap_type, EapCode, EapPacket, MalformedEap};

/// The Result TLV (MS-PEAP §2.2.8.1): the M (mandatory) bit, Type 3, Length 2, then Status.
const RESULT_TLV: [u8; 4] = [0x80, 0x03, 0x00, 0x02];
const STATUS_SUCCESS: u8 = 1;
const STATUS_FAILURE: u8 = 2;

/// The octets an inner Request travels as: header-less, except an Extensions packet.
pub fn inner_octets(packet: &EapPacket) -> Vec<u8> {
    let octets = packet.to_bytes();
    if packet.eap_type() == Some(eap_type::EXTENSIONS) {
        return octets;
    }
    octets.get(4..).unwrap_or_default().to_vec()
}

/// The peer's header-less inner Response, its header restored with the outer `identifier`.
pub fn headerless_response(octets: &[u8], identifier: u8) -> Result<EapPacket, MalformedEap> {
    let (&inner_type, data) = octets.split_first().ok_or(MalformedEap::MissingType)?;
    Ok(EapPacket::new(
        EapCode::Response,
        identifier,
        inner_type,
        data,
    ))
}

/// The Extensions Request carrying the Result TLV: Success after the inner method succeeded,
/// Failure after it failed.
pub fn result_request(identifier: u8, success: bool) -> EapPacket {
    let status = if success {
        STATUS_SUCCESS
    } else {
        STATUS_FAILURE
    };
    let mut tlv = RESULT_TLV.to_vec();
    tlv.extend_from_slice(&[0, status]);
    EapPacket::new(EapCode::Request, identifier, eap_type::EXTENSIONS, &tlv)
}

/// The Status of the Result TLV in the peer's Extensions Response (a whole EAP packet):
/// `Some(true)` for Success, `Some(false)` for Failure, `None` for anything else.
pub fn result_response(octets: &[u8]) -> Option<bool> {
    let packet = EapPacket::parse(octets).ok()?;
    if packet.code != EapCode::Response || packet.eap_type() != Some(eap_type::EXTENSIONS) {
        return None;
    }
    match packet.type_data() {
        [a, b, c, d, 0, status] if [*a & 0x7f, *b, *c, *d] == [0, 3, 0, 2] => match *status {
            STATUS_SUCCESS => Some(true),
            STATUS_FAILURE => Some(false),
            _ => None,
        },
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inner_requests_travel_without_their_header_except_extensions() {
        let identity = EapPacket::new(EapCode::Request, 5, eap_type::IDENTITY, &[]);
        assert_eq!(inner_octets(&identity), [1]);
        let challenge = EapPacket::new(EapCode::Request, 6, eap_type::MSCHAPV2, &[1, 6, 0, 4]);
        assert_eq!(inner_octets(&challenge), [26, 1, 6, 0, 4]);
        let result = result_request(7, true);
        assert_eq!(
            inner_octets(&result),
            [1, 7, 0, 11, 33, 0x80, 3, 0, 2, 0, 1]
        );
        assert_eq!(
            result_request(7, false).to_bytes(),
            [1, 7, 0, 11, 33, 0x80, 3, 0, 2, 0, 2]
        );
    }

    #[test]
    fn a_headerless_response_gets_the_outer_identifier() {
        let packet = headerless_response(&[1, b'a', b'l'], 9).unwrap();
        assert_eq!(packet.to_bytes(), [2, 9, 0, 7, 1, b'a', b'l']);
        assert_eq!(headerless_response(&[], 9), Err(MalformedEap::MissingType));
    }

    #[test]
    fn the_peers_result_tlv_is_read_and_nothing_else_passes_for_it() {
        assert_eq!(
            result_response(&[2, 7, 0, 11, 33, 0x80, 3, 0, 2, 0, 1]),
            Some(true)
        );
        assert_eq!(
            result_response(&[2, 7, 0, 11, 33, 0x00, 3, 0, 2, 0, 1]),
            Some(true)
        );
        assert_eq!(
            result_response(&[2, 7, 0, 11, 33, 0x80, 3, 0, 2, 0, 2]),
            Some(false)
        );
        for other in [
            &[1, 7, 0, 11, 33, 0x80, 3, 0, 2, 0, 1][..],
            &[2, 7, 0, 11, 26, 0x80, 3, 0, 2, 0, 1],
            &[2, 7, 0, 11, 33, 0x80, 4, 0, 2, 0, 1],
            &[2, 7, 0, 11, 33, 0x80, 3, 0, 2, 0, 3],
            &[2, 7, 0, 12, 33, 0x80, 3, 0, 2, 0, 1],
            &[33, 0x80, 3, 0, 2, 0, 1],
        ] {
            assert_eq!(result_response(other), None, "{other:?}");
        }
    }
}
