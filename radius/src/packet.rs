//! The RADIUS packet layout: the 20-octet header of RFC 2865 §3 followed by
//! the type-length-value attributes of RFC 2865 §5.
//!
//! [`Packet`] is the only place untrusted bytes are cut into fields: every
//! bound is checked once here, and everything downstream works on borrowed,
//! already-validated slices. [`PacketWriter`] builds outgoing packets within
//! the same limits.

use std::fmt;

/// Code, Identifier, Length and Authenticator (RFC 2865 §3).
pub(crate) const HEADER_LEN: usize = 20;
/// "The maximum length is 4096" (RFC 2865 §3).
pub(crate) const MAX_PACKET_LEN: usize = 4096;
/// An attribute's Length octet covers Type and Length too (RFC 2865 §5).
pub(crate) const MAX_ATTRIBUTE_VALUE_LEN: usize = 255 - ATTRIBUTE_HEADER_LEN;
/// Where the Authenticator field starts in the header (RFC 2865 §3).
pub(crate) const AUTHENTICATOR_OFFSET: usize = 4;

const ATTRIBUTE_HEADER_LEN: usize = 2;
pub(crate) const LENGTH_OFFSET: usize = 2;

/// The 16-octet Request or Response Authenticator (RFC 2865 §3).
pub(crate) type Authenticator = [u8; 16];

/// Why a datagram is not a well-formed RADIUS packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum MalformedPacket {
    /// Fewer octets than the 20-octet header (RFC 2865 §3).
    ShorterThanHeader,
    /// The Length field is below the 20-octet minimum (RFC 2865 §3).
    LengthBelowHeader,
    /// The Length field exceeds 4096, or the datagram does (RFC 2865 §3).
    LengthAboveMaximum,
    /// The Length field claims more octets than arrived (RFC 2865 §3).
    LengthBeyondDatagram,
    /// A single octet where an attribute's Type and Length should be.
    AttributeHeaderTruncated,
    /// An attribute Length below 2, which cannot cover its own header (RFC 2865 §5).
    AttributeLengthBelowTwo,
    /// An attribute runs past the packet's Length (RFC 2865 §5).
    AttributeOverrunsPacket,
    /// An attribute that may appear at most once appears again
    /// (RFC 2865 §5.44, RFC 3579 §3.2).
    RepeatedAttribute(u8),
    /// An attribute whose value has the wrong size for its type.
    InvalidAttributeLength(u8),
}

impl fmt::Display for MalformedPacket {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::ShorterThanHeader => f.write_str("shorter than the 20-octet header"),
            Self::LengthBelowHeader => f.write_str("Length field below 20"),
            Self::LengthAboveMaximum => f.write_str("longer than 4096 octets"),
            Self::LengthBeyondDatagram => f.write_str("Length field beyond the datagram"),
            Self::AttributeHeaderTruncated => f.write_str("truncated attribute header"),
            Self::AttributeLengthBelowTwo => f.write_str("attribute Length below 2"),
            Self::AttributeOverrunsPacket => f.write_str("attribute overruns the packet"),
            Self::RepeatedAttribute(attribute_type) => {
                write!(f, "attribute {attribute_type} repeated")
            }
            Self::InvalidAttributeLength(attribute_type) => {
                write!(f, "attribute {attribute_type} has an invalid length")
            }
        }
    }
}

/// One attribute of a parsed packet, borrowed from the datagram.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Attribute<'a> {
    pub(crate) attribute_type: u8,
    pub(crate) value: &'a [u8],
    /// Where `value` starts within the packet's octets, for signing
    /// computations that rewrite it (RFC 3579 §3.2).
    pub(crate) value_offset: usize,
}

/// A structurally valid RADIUS packet, borrowed from a received datagram.
#[derive(Debug)]
pub(crate) struct Packet<'a> {
    code: u8,
    identifier: u8,
    authenticator: Authenticator,
    /// The octets up to the Length field, without padding.
    bytes: &'a [u8],
    attributes: Vec<Attribute<'a>>,
}

impl<'a> Packet<'a> {
    /// Checks the header and walks every attribute (RFC 2865 §3, §5).
    pub(crate) fn parse(datagram: &'a [u8]) -> Result<Self, MalformedPacket> {
        if datagram.len() > MAX_PACKET_LEN {
            return Err(MalformedPacket::LengthAboveMaximum);
        }
        let (header, _) = datagram
            .split_first_chunk::<HEADER_LEN>()
            .ok_or(MalformedPacket::ShorterThanHeader)?;
        let [code, identifier, length_high, length_low, authenticator @ ..] = *header;
        let length = usize::from(u16::from_be_bytes([length_high, length_low]));
        if length < HEADER_LEN {
            return Err(MalformedPacket::LengthBelowHeader);
        }
        if length > MAX_PACKET_LEN {
            return Err(MalformedPacket::LengthAboveMaximum);
        }
        // RFC 2865 §3: octets beyond Length are padding and are ignored; a
        // packet shorter than its Length is silently discarded.
        let bytes = datagram
            .get(..length)
            .ok_or(MalformedPacket::LengthBeyondDatagram)?;
        Ok(Self {
            code,
            identifier,
            authenticator,
            bytes,
            attributes: parse_attributes(bytes)?,
        })
    }

    pub(crate) fn code(&self) -> u8 {
        self.code
    }

    pub(crate) fn identifier(&self) -> u8 {
        self.identifier
    }

    pub(crate) fn authenticator(&self) -> &Authenticator {
        &self.authenticator
    }

    /// All attributes in wire order.
    pub(crate) fn attributes(&self) -> &[Attribute<'a>] {
        &self.attributes
    }

    /// The values of every attribute of one type, in wire order.
    pub(crate) fn values(&self, attribute_type: u8) -> impl Iterator<Item = &'a [u8]> + '_ {
        self.attributes
            .iter()
            .filter(move |attribute| attribute.attribute_type == attribute_type)
            .map(|attribute| attribute.value)
    }

    pub(crate) fn contains(&self, attribute_type: u8) -> bool {
        self.values(attribute_type).next().is_some()
    }

    /// The attribute of a type that may appear at most once, if present.
    pub(crate) fn at_most_one(
        &self,
        attribute_type: u8,
    ) -> Result<Option<Attribute<'a>>, MalformedPacket> {
        let mut matching = self
            .attributes
            .iter()
            .filter(|attribute| attribute.attribute_type == attribute_type);
        match (matching.next(), matching.next()) {
            (first, None) => Ok(first.copied()),
            (Some(_), Some(_)) | (None, Some(_)) => {
                Err(MalformedPacket::RepeatedAttribute(attribute_type))
            }
        }
    }

    /// A copy of the packet with another value in the Authenticator field,
    /// as the response signatures of RFC 2865 §3 and RFC 3579 §3.2 require.
    pub(crate) fn with_authenticator(&self, authenticator: &Authenticator) -> Vec<u8> {
        let mut copy = self.bytes.to_vec();
        overwrite(&mut copy, AUTHENTICATOR_OFFSET, authenticator);
        copy
    }
}

fn parse_attributes(packet: &[u8]) -> Result<Vec<Attribute<'_>>, MalformedPacket> {
    let mut attributes = Vec::new();
    let mut offset = HEADER_LEN;
    while let Some(rest) = packet.get(offset..).filter(|rest| !rest.is_empty()) {
        let [attribute_type, length, ..] = *rest else {
            return Err(MalformedPacket::AttributeHeaderTruncated);
        };
        let length = usize::from(length);
        if length < ATTRIBUTE_HEADER_LEN {
            return Err(MalformedPacket::AttributeLengthBelowTwo);
        }
        let value = rest
            .get(ATTRIBUTE_HEADER_LEN..length)
            .ok_or(MalformedPacket::AttributeOverrunsPacket)?;
        attributes.push(Attribute {
            attribute_type,
            value,
            value_offset: offset + ATTRIBUTE_HEADER_LEN,
        });
        offset += length;
    }
    Ok(attributes)
}

/// Copies `with` over `bytes` at `offset`. Callers pass offsets that
/// [`Packet::parse`] or [`PacketWriter::push`] produced, which are in range;
/// were one not, nothing is written and the signature that depends on it
/// fails to verify, rather than the process panicking.
pub(crate) fn overwrite(bytes: &mut [u8], offset: usize, with: &[u8]) {
    let target = offset
        .checked_add(with.len())
        .and_then(|end| bytes.get_mut(offset..end));
    if let Some(target) = target {
        target.copy_from_slice(with);
    }
}

/// Why an outgoing packet could not be built.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum EncodeError {
    /// An attribute value longer than 253 octets (RFC 2865 §5).
    AttributeValueTooLong,
    /// The packet would exceed 4096 octets (RFC 2865 §3).
    PacketTooLarge,
}

impl fmt::Display for EncodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::AttributeValueTooLong => f.write_str("attribute value longer than 253 octets"),
            Self::PacketTooLarge => f.write_str("packet longer than 4096 octets"),
        }
    }
}

/// Builds an outgoing packet; the Length field is kept current after every
/// attribute, so the bytes are a complete packet at any point.
pub(crate) struct PacketWriter {
    bytes: Vec<u8>,
}

impl PacketWriter {
    pub(crate) fn new(code: u8, identifier: u8, authenticator: &Authenticator) -> Self {
        let mut bytes = Vec::with_capacity(MAX_PACKET_LEN);
        bytes.extend_from_slice(&[code, identifier]);
        bytes.extend_from_slice(&(HEADER_LEN as u16).to_be_bytes());
        bytes.extend_from_slice(authenticator);
        Self { bytes }
    }

    /// Appends one attribute and returns the offset of its value in the packet.
    pub(crate) fn push(&mut self, attribute_type: u8, value: &[u8]) -> Result<usize, EncodeError> {
        let attribute_length = u8::try_from(ATTRIBUTE_HEADER_LEN + value.len())
            .map_err(|_| EncodeError::AttributeValueTooLong)?;
        let value_offset = self.bytes.len() + ATTRIBUTE_HEADER_LEN;
        let packet_length = u16::try_from(value_offset + value.len())
            .ok()
            .filter(|&length| usize::from(length) <= MAX_PACKET_LEN)
            .ok_or(EncodeError::PacketTooLarge)?;
        self.bytes
            .extend_from_slice(&[attribute_type, attribute_length]);
        self.bytes.extend_from_slice(value);
        overwrite(&mut self.bytes, LENGTH_OFFSET, &packet_length.to_be_bytes());
        Ok(value_offset)
    }

    pub(crate) fn into_bytes(self) -> Vec<u8> {
        self.bytes
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_vectors::RFC2865_7_1_REQUEST;

    fn header(length: u16) -> Vec<u8> {
        let mut bytes = vec![1, 7];
        bytes.extend_from_slice(&length.to_be_bytes());
        bytes.extend_from_slice(&[0xaa; 16]);
        bytes
    }

    fn with_attributes(attributes: &[u8]) -> Vec<u8> {
        let length = u16::try_from(HEADER_LEN + attributes.len()).unwrap();
        let mut bytes = header(length);
        bytes.extend_from_slice(attributes);
        bytes
    }

    #[test]
    fn parses_the_rfc_2865_example() {
        let packet = Packet::parse(&RFC2865_7_1_REQUEST).unwrap();
        assert_eq!(packet.code(), 1);
        assert_eq!(packet.identifier(), 0);
        assert_eq!(packet.authenticator()[..2], [0x0f, 0x40]);
        let types: Vec<u8> = packet
            .attributes()
            .iter()
            .map(|a| a.attribute_type)
            .collect();
        assert_eq!(types, [1, 2, 4, 5]);
        assert_eq!(packet.values(1).collect::<Vec<_>>(), [b"nemo"]);
        assert_eq!(packet.attributes()[0].value_offset, 22);
    }

    #[test]
    fn rejects_malformed_datagrams() {
        let mut too_large = header(20);
        too_large.resize(MAX_PACKET_LEN + 1, 0);
        let mut declared_too_large = header(4097);
        declared_too_large.resize(4097, 0);
        let cases: Vec<(&str, Vec<u8>, MalformedPacket)> = vec![
            ("empty", vec![], MalformedPacket::ShorterThanHeader),
            (
                "truncated header",
                header(20)[..19].to_vec(),
                MalformedPacket::ShorterThanHeader,
            ),
            ("length 0", header(0), MalformedPacket::LengthBelowHeader),
            ("length 19", header(19), MalformedPacket::LengthBelowHeader),
            (
                "length 4097",
                declared_too_large,
                MalformedPacket::LengthAboveMaximum,
            ),
            (
                "length 65535",
                header(u16::MAX),
                MalformedPacket::LengthAboveMaximum,
            ),
            (
                "length beyond datagram",
                header(21),
                MalformedPacket::LengthBeyondDatagram,
            ),
            (
                "datagram over 4096",
                too_large,
                MalformedPacket::LengthAboveMaximum,
            ),
            (
                "lone attribute type",
                with_attributes(&[1]),
                MalformedPacket::AttributeHeaderTruncated,
            ),
            (
                "attribute length 0",
                with_attributes(&[1, 0]),
                MalformedPacket::AttributeLengthBelowTwo,
            ),
            (
                "attribute length 1",
                with_attributes(&[1, 1, 0]),
                MalformedPacket::AttributeLengthBelowTwo,
            ),
            (
                "attribute overruns",
                with_attributes(&[1, 6, b'a', b'b']),
                MalformedPacket::AttributeOverrunsPacket,
            ),
            (
                "second attribute overruns",
                with_attributes(&[1, 3, b'a', 2, 255]),
                MalformedPacket::AttributeOverrunsPacket,
            ),
        ];
        for (name, datagram, expected) in cases {
            assert_eq!(Packet::parse(&datagram).err(), Some(expected), "{name}");
        }
    }

    #[test]
    fn attribute_bounds_follow_the_length_field_not_the_datagram() {
        // Length says 22 (one empty attribute); the trailing octets are
        // padding (RFC 2865 §3), even though they look like an attribute.
        let mut datagram = header(22);
        datagram.extend_from_slice(&[1, 2, 1, 200, 0]);
        let packet = Packet::parse(&datagram).unwrap();
        assert_eq!(packet.bytes.len(), 22);
        assert_eq!(packet.attributes().len(), 1);
        assert!(packet.attributes()[0].value.is_empty());
    }

    #[test]
    fn accepts_the_largest_packet() {
        let mut writer = PacketWriter::new(1, 0, &[0; 16]);
        while writer.push(26, &[0xee; MAX_ATTRIBUTE_VALUE_LEN]).is_ok() {}
        let remaining = MAX_PACKET_LEN - writer.bytes.len() - ATTRIBUTE_HEADER_LEN;
        writer.push(26, &vec![0xee; remaining]).unwrap();
        let bytes = writer.into_bytes();
        assert_eq!(bytes.len(), MAX_PACKET_LEN);
        assert!(Packet::parse(&bytes).is_ok());
    }

    #[test]
    fn at_most_one_flags_repetition() {
        let packet = with_attributes(&[1, 3, b'a', 1, 3, b'b', 4, 6, 1, 2, 3, 4]);
        let packet = Packet::parse(&packet).unwrap();
        assert_eq!(
            packet.at_most_one(1).err(),
            Some(MalformedPacket::RepeatedAttribute(1))
        );
        assert_eq!(packet.at_most_one(4).unwrap().unwrap().value, [1, 2, 3, 4]);
        assert!(packet.at_most_one(5).unwrap().is_none());
    }

    #[test]
    fn writer_round_trips_and_enforces_limits() {
        let mut writer = PacketWriter::new(2, 9, &[0x11; 16]);
        assert_eq!(writer.push(18, b"hello"), Ok(22));
        assert_eq!(
            writer.push(18, &[0; 254]),
            Err(EncodeError::AttributeValueTooLong)
        );
        let bytes = writer.into_bytes();
        let packet = Packet::parse(&bytes).unwrap();
        assert_eq!((packet.code(), packet.identifier()), (2, 9));
        assert_eq!(packet.values(18).collect::<Vec<_>>(), [b"hello"]);

        let mut writer = PacketWriter::new(2, 9, &[0x11; 16]);
        for _ in 0..15 {
            writer.push(18, &[0; MAX_ATTRIBUTE_VALUE_LEN]).unwrap();
        }
        // 20 + 15 * 255 = 3845 octets; another 255 would make 4100.
        assert_eq!(writer.push(18, &[0; 253]), Err(EncodeError::PacketTooLarge));
    }

    #[test]
    fn overwrite_ignores_out_of_range_offsets() {
        let mut bytes = [0u8; 4];
        overwrite(&mut bytes, 2, &[1, 2]);
        assert_eq!(bytes, [0, 0, 1, 2]);
        overwrite(&mut bytes, 3, &[9, 9]);
        overwrite(&mut bytes, usize::MAX, &[9]);
        assert_eq!(bytes, [0, 0, 1, 2]);
    }
}
