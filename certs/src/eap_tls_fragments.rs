//! EAP-TLS framing (RFC 5216 §3.1, §2.1.5; unchanged for TLS 1.3 by RFC 9190 §2.1.5): a
//! flags octet (L = length included, M = more fragments, S = start), the four-octet TLS
//! Message Length when L is set, then TLS data. A TLS flight larger than the link allows is
//! cut into fragments; each fragment but the last has M set and is acknowledged by the other
//! side with an EAP-TLS message carrying no data.
//!
//! Both the server session and the test/benchmark peer use these types: [`Inbound`]
//! reassembles what the other side sends, within [`MAX_TLS_MESSAGE`], and [`Outbound`] cuts
//! what we send.

/// L: the TLS Message Length field is present.
const FLAG_LENGTH: u8 = 0x80;
/// M: more fragments follow.
const FLAG_MORE: u8 = 0x40;
/// S: EAP-TLS Start, server to peer only.
const FLAG_START: u8 = 0x20;
const LENGTH_FIELD: usize = 4;

/// The largest TLS flight accepted from the other side. A client certificate chain of a few
/// certificates is well under this; RFC 9190 §2.1.5 notes that 64 KiB is a practical bound.
pub(crate) const MAX_TLS_MESSAGE: usize = 64 * 1024;

/// Why a peer's EAP-TLS framing cannot be accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum BadFraming {
    /// No flags octet.
    Empty,
    /// L set but fewer than four length octets.
    TruncatedLength,
    /// The first fragment of a fragmented message lacks L (RFC 5216 §2.1.5).
    FirstFragmentWithoutLength,
    /// Declared or accumulated length over [`MAX_TLS_MESSAGE`], or more data than declared.
    TooLong,
    /// The last fragment leaves the message shorter than declared.
    TooShort,
}

/// One parsed EAP-TLS Type-Data.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Fragment<'a> {
    pub(crate) start: bool,
    pub(crate) more: bool,
    pub(crate) total_length: Option<u32>,
    pub(crate) data: &'a [u8],
}

impl<'a> Fragment<'a> {
    pub(crate) fn parse(type_data: &'a [u8]) -> Result<Self, BadFraming> {
        let (&flags, rest) = type_data.split_first().ok_or(BadFraming::Empty)?;
        let (total_length, data) = if flags & FLAG_LENGTH != 0 {
            let (length, data) = rest
                .split_first_chunk::<LENGTH_FIELD>()
                .ok_or(BadFraming::TruncatedLength)?;
            (Some(u32::from_be_bytes(*length)), data)
        } else {
            (None, rest)
        };
        Ok(Self {
            start: flags & FLAG_START != 0,
            more: flags & FLAG_MORE != 0,
            total_length,
            data,
        })
    }

    /// An acknowledgement: no data, no more fragments (RFC 5216 §2.1.5).
    pub(crate) fn is_ack(&self) -> bool {
        self.data.is_empty() && !self.more && !self.start
    }
}

/// EAP-TLS Start (RFC 5216 §2.1.1): S set, no data.
pub(crate) fn start() -> Vec<u8> {
    vec![FLAG_START]
}

/// A fragment acknowledgement, or the peer's final empty response: flags 0, no data.
pub(crate) fn ack() -> Vec<u8> {
    vec![0]
}

/// Reassembles one TLS flight from fragments, never holding more than [`MAX_TLS_MESSAGE`].
#[derive(Debug, Default)]
pub(crate) struct Inbound {
    buffer: Vec<u8>,
    declared: Option<usize>,
}

impl Inbound {
    /// Whether no fragment of a flight is waiting for the rest.
    pub(crate) fn is_empty(&self) -> bool {
        self.buffer.is_empty() && self.declared.is_none()
    }

    /// Adds a fragment; returns the whole flight once the last fragment arrived.
    pub(crate) fn add(&mut self, fragment: &Fragment<'_>) -> Result<Option<Vec<u8>>, BadFraming> {
        if self.buffer.is_empty() && self.declared.is_none() {
            match fragment.total_length {
                Some(length) => {
                    let length = usize::try_from(length).map_err(|_| BadFraming::TooLong)?;
                    if length > MAX_TLS_MESSAGE {
                        return Err(BadFraming::TooLong);
                    }
                    self.declared = Some(length);
                }
                None if fragment.more => return Err(BadFraming::FirstFragmentWithoutLength),
                None => {}
            }
        }
        let limit = self.declared.unwrap_or(MAX_TLS_MESSAGE);
        if self.buffer.len() + fragment.data.len() > limit {
            return Err(BadFraming::TooLong);
        }
        self.buffer.extend_from_slice(fragment.data);
        if fragment.more {
            return Ok(None);
        }
        if self
            .declared
            .is_some_and(|declared| declared != self.buffer.len())
        {
            return Err(BadFraming::TooShort);
        }
        self.declared = None;
        Ok(Some(std::mem::take(&mut self.buffer)))
    }
}

/// Our TLS flight, handed out one fragment at a time.
#[derive(Debug)]
pub(crate) struct Outbound {
    flight: Vec<u8>,
    sent: usize,
    fragment_size: usize,
}

impl Outbound {
    /// `fragment_size` is the TLS data per fragment (at least 1).
    pub(crate) fn new(flight: Vec<u8>, fragment_size: usize) -> Self {
        Self {
            flight,
            sent: 0,
            fragment_size: fragment_size.max(1),
        }
    }

    /// The next fragment's Type-Data. The first carries L with the flight's length; every
    /// one but the last carries M.
    pub(crate) fn next_fragment(&mut self) -> Vec<u8> {
        let end = self.flight.len().min(self.sent + self.fragment_size);
        let chunk = self.flight.get(self.sent..end).unwrap_or_default();
        let first = self.sent == 0;
        let more = end < self.flight.len();
        let mut flags = 0;
        if first {
            flags |= FLAG_LENGTH;
        }
        if more {
            flags |= FLAG_MORE;
        }
        let mut type_data = Vec::with_capacity(1 + LENGTH_FIELD + chunk.len());
        type_data.push(flags);
        if first {
            let total = u32::try_from(self.flight.len()).unwrap_or(u32::MAX);
            type_data.extend_from_slice(&total.to_be_bytes());
        }
        type_data.extend_from_slice(chunk);
        self.sent = end;
        type_data
    }

    /// Whether every fragment has been handed out.
    pub(crate) fn is_done(&self) -> bool {
        self.sent >= self.flight.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_flight_survives_fragmentation_and_reassembly() {
        let flight: Vec<u8> = (0..2500u32).map(|i| i as u8).collect();
        let mut outbound = Outbound::new(flight.clone(), 1000);
        let mut inbound = Inbound::default();
        let mut fragments = Vec::new();
        while !outbound.is_done() {
            fragments.push(outbound.next_fragment());
        }
        assert_eq!(fragments.len(), 3);
        assert_eq!(fragments[0][..5], [0xc0, 0, 0, 0x09, 0xc4]);
        assert_eq!(fragments[1][0], 0x40);
        assert_eq!(fragments[2][0], 0x00);
        let mut whole = None;
        for fragment in &fragments {
            whole = inbound.add(&Fragment::parse(fragment).unwrap()).unwrap();
        }
        assert_eq!(whole, Some(flight));
    }

    #[test]
    fn a_small_flight_is_one_fragment_with_length() {
        let mut outbound = Outbound::new(vec![7; 10], 1000);
        assert_eq!(outbound.next_fragment()[..5], [0x80, 0, 0, 0, 10]);
        assert!(outbound.is_done());
    }

    #[test]
    fn flags_and_acks() {
        assert!(Fragment::parse(&start()).unwrap().start);
        assert!(Fragment::parse(&ack()).unwrap().is_ack());
        assert!(!Fragment::parse(&[0x40]).unwrap().is_ack());
        assert!(!Fragment::parse(&[0x00, 1]).unwrap().is_ack());
    }

    #[test]
    fn refuses_bad_framing() {
        let over = u32::try_from(MAX_TLS_MESSAGE + 1).unwrap().to_be_bytes();
        let cases: Vec<(Vec<Vec<u8>>, BadFraming)> = vec![
            (vec![vec![]], BadFraming::Empty),
            (vec![vec![0x80, 0, 0]], BadFraming::TruncatedLength),
            (
                vec![vec![0x40, 1, 2]],
                BadFraming::FirstFragmentWithoutLength,
            ),
            (vec![[&[0xc0][..], &over].concat()], BadFraming::TooLong),
            (vec![vec![0x80, 0, 0, 0, 1, 1, 2]], BadFraming::TooLong),
            (
                vec![vec![0xc0, 0, 0, 0, 3, 1], vec![0x00, 2]],
                BadFraming::TooShort,
            ),
            (
                vec![vec![0xc0, 0, 0, 0, 2, 1], vec![0x40, 2], vec![0x00, 3]],
                BadFraming::TooLong,
            ),
        ];
        for (fragments, expected) in cases {
            let mut inbound = Inbound::default();
            let mut result = Ok(None);
            for fragment in &fragments {
                result = Fragment::parse(fragment).and_then(|f| inbound.add(&f));
                if result.is_err() {
                    break;
                }
            }
            assert_eq!(result, Err(expected), "{fragments:?}");
        }
    }

    #[test]
    fn unfragmented_data_without_length_is_bounded() {
        let mut inbound = Inbound::default();
        let big = vec![0u8; MAX_TLS_MESSAGE + 2];
        let fragment = Fragment::parse(&big).unwrap();
        assert_eq!(inbound.add(&fragment), Err(BadFraming::TooLong));
    }
}
