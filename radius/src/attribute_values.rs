//! Decoding single attribute values by their data type (RFC 8044): the
//! addresses, integers and text that requests carry. Each refuses a repeated
//! attribute (RFC 2865 §5.44 allows these at most once) and a value of the
//! wrong size, so a request is never read one way here and another there.

use std::net::IpAddr;

use crate::dictionary::{NAS_IPV6_ADDRESS, NAS_IP_ADDRESS};
use crate::packet::{MalformedPacket, Packet};

/// NAS-IP-Address if present, else NAS-IPv6-Address; both are validated.
pub(crate) fn nas_ip_address(packet: &Packet<'_>) -> Result<Option<IpAddr>, MalformedPacket> {
    let ipv4 = octets::<4>(packet, NAS_IP_ADDRESS)?.map(IpAddr::from);
    let ipv6 = octets::<16>(packet, NAS_IPV6_ADDRESS)?.map(IpAddr::from);
    Ok(ipv4.or(ipv6))
}

/// A single attribute whose value is exactly `N` octets.
pub(crate) fn octets<const N: usize>(
    packet: &Packet<'_>,
    attribute_type: u8,
) -> Result<Option<[u8; N]>, MalformedPacket> {
    packet
        .at_most_one(attribute_type)?
        .map(|attribute| {
            <[u8; N]>::try_from(attribute.value)
                .map_err(|_| MalformedPacket::InvalidAttributeLength(attribute_type))
        })
        .transpose()
}

/// A single text attribute; invalid UTF-8 is replaced with U+FFFD.
pub(crate) fn text(
    packet: &Packet<'_>,
    attribute_type: u8,
) -> Result<Option<String>, MalformedPacket> {
    Ok(packet
        .at_most_one(attribute_type)?
        .map(|attribute| String::from_utf8_lossy(attribute.value).into_owned()))
}

/// A single 32-bit integer attribute (RFC 8044 §3.1).
pub(crate) fn integer(
    packet: &Packet<'_>,
    attribute_type: u8,
) -> Result<Option<u32>, MalformedPacket> {
    Ok(octets::<4>(packet, attribute_type)?.map(u32::from_be_bytes))
}
