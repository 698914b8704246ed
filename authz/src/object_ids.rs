//! Text forms of AD's binary identifiers, `objectGUID` and `objectSid`.
//!
//! Both come back from LDAP as raw bytes; the audit trail records them in the forms AD's own
//! tools print, so an administrator can paste them into `Get-ADUser -Identity`.

use std::fmt::Write;

/// `objectGUID` (16 bytes, a Windows GUID struct) as `xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx`.
///
/// The first three fields are little-endian integers (Data1 u32, Data2 u16, Data3 u16); the
/// last eight bytes are printed in stored order. This is what PowerShell and ldp show, and not
/// what a naive hex dump of the bytes gives.
pub(crate) fn guid_text(bytes: &[u8]) -> Result<String, String> {
    let bytes: &[u8; 16] = bytes
        .try_into()
        .map_err(|_| format!("objectGUID is {} bytes, expected 16", bytes.len()))?;
    let data1 = u32::from_le_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]);
    let data2 = u16::from_le_bytes([bytes[4], bytes[5]]);
    let data3 = u16::from_le_bytes([bytes[6], bytes[7]]);
    let mut text = format!("{data1:08x}-{data2:04x}-{data3:04x}-");
    for (i, byte) in bytes[8..].iter().enumerate() {
        if i == 2 {
            text.push('-');
        }
        // Writing to a String cannot fail.
        let _ = write!(text, "{byte:02x}");
    }
    Ok(text)
}

/// The canonical text form of a GUID given as text (`8-4-4-4-12` hex digits, either case), as
/// [`guid_text`] writes it; `None` for anything else (braces, missing dashes, other lengths).
pub(crate) fn canonical_guid_text(text: &str) -> Option<String> {
    const DASHES: [usize; 4] = [8, 13, 18, 23];
    let well_formed = text.len() == 36
        && text.char_indices().all(|(i, c)| {
            if DASHES.contains(&i) {
                c == '-'
            } else {
                c.is_ascii_hexdigit()
            }
        });
    well_formed.then(|| text.to_ascii_lowercase())
}

/// `objectSid` (a binary SID, MS-DTYP 2.4.2.2) as `S-1-5-21-…`.
///
/// Layout: revision (1), sub-authority count n (1), identifier authority (6, big-endian),
/// then n sub-authorities (4 each, little-endian).
pub(crate) fn sid_text(bytes: &[u8]) -> Result<String, String> {
    let (&revision, rest) = bytes.split_first().ok_or("objectSid is empty")?;
    if revision != 1 {
        return Err(format!("objectSid has revision {revision}, expected 1"));
    }
    let (&count, rest) = rest.split_first().ok_or("objectSid is truncated")?;
    let count = usize::from(count);
    if rest.len() != 6 + 4 * count {
        return Err(format!(
            "objectSid is {} bytes, expected {} for {count} sub-authorities",
            bytes.len(),
            8 + 4 * count
        ));
    }
    let (authority, sub_authorities) = rest.split_at(6);
    let authority = authority
        .iter()
        .fold(0u64, |acc, &byte| (acc << 8) | u64::from(byte));
    // MS-DTYP 2.4.2.1: authorities that do not fit 32 bits are printed in hex.
    let mut text = if authority >> 32 == 0 {
        format!("S-{revision}-{authority}")
    } else {
        format!("S-{revision}-0x{authority:012X}")
    };
    for sub in sub_authorities.chunks_exact(4) {
        let Ok(sub) = <[u8; 4]>::try_from(sub) else {
            continue; // chunks_exact(4) yields 4 octets
        };
        let value = u32::from_le_bytes(sub);
        let _ = write!(text, "-{value}");
    }
    Ok(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn guid_uses_ad_mixed_endian_order() {
        // Bytes as stored; GUID as Get-ADUser prints it.
        let bytes = [
            0x33, 0x22, 0x11, 0x00, 0x55, 0x44, 0x77, 0x66, 0x88, 0x99, 0xaa, 0xbb, 0xcc, 0xdd,
            0xee, 0xff,
        ];
        assert_eq!(
            guid_text(&bytes).unwrap(),
            "00112233-4455-6677-8899-aabbccddeeff"
        );
    }

    #[test]
    fn guid_of_a_real_object() {
        // Well-known: the schemaIDGUID of the "user" class, bf967aba-0de6-11d0-a285-00aa003049e2,
        // is stored as these bytes.
        let bytes = [
            0xba, 0x7a, 0x96, 0xbf, 0xe6, 0x0d, 0xd0, 0x11, 0xa2, 0x85, 0x00, 0xaa, 0x00, 0x30,
            0x49, 0xe2,
        ];
        assert_eq!(
            guid_text(&bytes).unwrap(),
            "bf967aba-0de6-11d0-a285-00aa003049e2"
        );
    }

    #[test]
    fn guid_text_is_checked_and_made_canonical() {
        let text = "b4237a06-871c-4589-a2ad-81858bb0f248";
        assert_eq!(canonical_guid_text(text).as_deref(), Some(text));
        assert_eq!(
            canonical_guid_text(&text.to_ascii_uppercase()).as_deref(),
            Some(text)
        );
        let bytes = [
            0x06, 0x7a, 0x23, 0xb4, 0x1c, 0x87, 0x89, 0x45, 0xa2, 0xad, 0x81, 0x85, 0x8b, 0xb0,
            0xf2, 0x48,
        ];
        assert_eq!(guid_text(&bytes).unwrap(), text, "alice in the lab");
        for bad in [
            "",
            "{b4237a06-871c-4589-a2ad-81858bb0f248}",
            "b4237a06871c4589a2ad81858bb0f248",
            "b4237a06-871c-4589-a2ad-81858bb0f24",
            "b4237a06-871c-4589-a2ad-81858bb0f2488",
            "b4237a06-871c-4589-a2ad_81858bb0f248",
            "g4237a06-871c-4589-a2ad-81858bb0f248",
            "b4237a06-871c-4589-a2ad-81858bb0f24\u{e9}",
            "b4237a0-6871c-4589-a2ad-81858bb0f248",
            ">,CN=x<GUID=b4237a06-871c-4589-a2ad",
        ] {
            assert_eq!(canonical_guid_text(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn guid_of_wrong_length_is_an_error() {
        assert!(guid_text(&[0; 15]).is_err());
        assert!(guid_text(&[0; 17]).is_err());
        assert!(guid_text(&[]).is_err());
    }

    #[test]
    fn domain_user_sid() {
        // S-1-5-21-3623811015-3361044348-30300820-1013
        let bytes = [
            0x01, 0x05, 0x00, 0x00, 0x00, 0x00, 0x00, 0x05, // rev 1, 5 subs, NT authority
            0x15, 0x00, 0x00, 0x00, // 21
            0xc7, 0xf7, 0xfe, 0xd7, // 3623811015
            0x7c, 0x77, 0x55, 0xc8, // 3361044348
            0x94, 0x5a, 0xce, 0x01, // 30300820
            0xf5, 0x03, 0x00, 0x00, // 1013
        ];
        assert_eq!(
            sid_text(&bytes).unwrap(),
            "S-1-5-21-3623811015-3361044348-30300820-1013"
        );
    }

    #[test]
    fn well_known_sids() {
        // Everyone: S-1-1-0; Local System: S-1-5-18; a SID with no sub-authority.
        assert_eq!(
            sid_text(&[1, 1, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0]).unwrap(),
            "S-1-1-0"
        );
        assert_eq!(
            sid_text(&[1, 1, 0, 0, 0, 0, 0, 5, 18, 0, 0, 0]).unwrap(),
            "S-1-5-18"
        );
        assert_eq!(sid_text(&[1, 0, 0, 0, 0, 0, 0, 5]).unwrap(), "S-1-5");
    }

    #[test]
    fn large_authority_is_hex() {
        assert_eq!(
            sid_text(&[1, 0, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06]).unwrap(),
            "S-1-0x010203040506"
        );
    }

    #[test]
    fn malformed_sids_are_errors() {
        assert!(sid_text(&[]).is_err());
        assert!(sid_text(&[1]).is_err());
        assert!(sid_text(&[2, 0, 0, 0, 0, 0, 0, 5]).is_err(), "revision 2");
        assert!(
            sid_text(&[1, 1, 0, 0, 0, 0, 0, 5]).is_err(),
            "missing sub-authority"
        );
        assert!(
            sid_text(&[1, 0, 0, 0, 0, 0, 0, 5, 0]).is_err(),
            "trailing byte"
        );
        assert!(
            sid_text(&[1, 255, 0, 0, 0, 0, 0, 5]).is_err(),
            "count beyond data"
        );
    }
}
