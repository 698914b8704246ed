//! Microsoft's Vendor-Specific attributes (RFC 2865 §5.26, RFC 2548 §2): vendor 311, then
//! sub-attributes of Vendor-Type, Vendor-Length and value. The MPPE keys and the MS-CHAP
//! attributes are built and read here.

use crate::handler::{InvalidReplyAttribute, ReplyAttribute};
use crate::packet::Packet;

/// Vendor-Specific (RFC 2865 §5.26).
pub(crate) const VENDOR_SPECIFIC: u8 = 26;
/// Microsoft's SMI enterprise number (RFC 2548 §2).
pub(crate) const MICROSOFT: u32 = 311;

/// A Microsoft Vendor-Specific attribute holding one sub-attribute (RFC 2548 §2).
pub(crate) fn microsoft_attribute(
    vendor_type: u8,
    value: &[u8],
) -> Result<ReplyAttribute, InvalidReplyAttribute> {
    let vendor_length =
        u8::try_from(2 + value.len()).map_err(|_| InvalidReplyAttribute::InvalidLength)?;
    let mut octets = Vec::with_capacity(6 + value.len());
    octets.extend_from_slice(&MICROSOFT.to_be_bytes());
    octets.extend_from_slice(&[vendor_type, vendor_length]);
    octets.extend_from_slice(value);
    ReplyAttribute::new(VENDOR_SPECIFIC, octets)
}

/// The values of every Microsoft sub-attribute of `vendor_type` in `packet`. A Vendor-Specific
/// attribute may hold several sub-attributes (RFC 2865 §5.26); one whose lengths do not add up
/// ends the walk through its attribute.
pub(crate) fn microsoft_values<'a>(
    packet: &Packet<'a>,
    vendor_type: u8,
) -> impl Iterator<Item = &'a [u8]> + 'a {
    let values: Vec<&'a [u8]> = packet.values(VENDOR_SPECIFIC).collect();
    values.into_iter().flat_map(move |value| {
        let mut found = Vec::new();
        if let Some((vendor, mut rest)) = value.split_first_chunk::<4>() {
            if u32::from_be_bytes(*vendor) == MICROSOFT {
                while let [found_type, length, tail @ ..] = rest {
                    let Some(value_len) = usize::from(*length).checked_sub(2) else {
                        break;
                    };
                    let Some((sub_value, next)) = tail.split_at_checked(value_len) else {
                        break;
                    };
                    if *found_type == vendor_type {
                        found.push(sub_value);
                    }
                    rest = next;
                }
            }
        }
        found
    })
}
