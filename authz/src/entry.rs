//! Reading a search result entry without trusting its shape.
//!
//! ldap3's `SearchEntry::construct` panics on a malformed entry; adgate parses the BER
//! structure itself so that a bad answer from a DC becomes an error (and a
//! `directory_unavailable` rejection), never a panic. Values stay bytes; callers decide which
//! attributes are text and which (objectGUID, objectSid) are binary.

use ldap3::asn1::{StructureTag, PL};
use ldap3::ResultEntry;

/// One directory entry: its DN and its attributes with their raw values.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Entry {
    pub(crate) dn: String,
    attributes: Vec<(String, Vec<Vec<u8>>)>,
}

impl Entry {
    /// Parse a SearchResultEntry (RFC 4511 §4.5.2):
    /// `[APPLICATION 4] SEQUENCE { objectName LDAPDN, attributes SEQUENCE OF
    /// SEQUENCE { type, vals SET OF value } }`.
    pub(crate) fn parse(entry: ResultEntry) -> Result<Entry, String> {
        let tag = entry.0;
        if tag.id != 4 {
            return Err(format!(
                "expected a SearchResultEntry, got protocol op {}",
                tag.id
            ));
        }
        let mut parts = constructed(tag, "entry")?.into_iter();
        let dn = text(parts.next().ok_or("entry has no DN")?, "DN")?;
        let attribute_list = parts.next().ok_or("entry has no attribute list")?;
        let mut attributes = vec![];
        for attribute in constructed(attribute_list, "attribute list")? {
            let mut pair = constructed(attribute, "attribute")?.into_iter();
            let name = text(
                pair.next().ok_or("attribute has no type")?,
                "attribute type",
            )?;
            let values = constructed(pair.next().ok_or("attribute has no values")?, "values")?
                .into_iter()
                .map(|value| primitive(value, "attribute value"))
                .collect::<Result<Vec<_>, _>>()?;
            attributes.push((name, values));
        }
        Ok(Entry { dn, attributes })
    }

    /// The values of `name` (attribute names are case-insensitive); empty when absent.
    pub(crate) fn values(&self, name: &str) -> &[Vec<u8>] {
        self.attributes
            .iter()
            .find(|(candidate, _)| candidate.eq_ignore_ascii_case(name))
            .map_or(&[], |(_, values)| values.as_slice())
    }
}

fn constructed(tag: StructureTag, what: &str) -> Result<Vec<StructureTag>, String> {
    match tag.payload {
        PL::C(inner) => Ok(inner),
        PL::P(_) => Err(format!("{what} is not a constructed BER value")),
    }
}

fn primitive(tag: StructureTag, what: &str) -> Result<Vec<u8>, String> {
    match tag.payload {
        PL::P(bytes) => Ok(bytes),
        PL::C(_) => Err(format!("{what} is not a primitive BER value")),
    }
}

fn text(tag: StructureTag, what: &str) -> Result<String, String> {
    String::from_utf8(primitive(tag, what)?).map_err(|_| format!("{what} is not UTF-8"))
}

#[cfg(test)]
pub(crate) mod tests {
    use ldap3::asn1::TagClass;

    use super::*;

    fn octets(bytes: &[u8]) -> StructureTag {
        StructureTag {
            class: TagClass::Universal,
            id: 4,
            payload: PL::P(bytes.to_vec()),
        }
    }

    fn sequence(id: u64, inner: Vec<StructureTag>) -> StructureTag {
        StructureTag {
            class: TagClass::Universal,
            id,
            payload: PL::C(inner),
        }
    }

    /// A SearchResultEntry as the DC would send it.
    pub(crate) fn result_entry(dn: &str, attributes: &[(&str, &[&[u8]])]) -> ResultEntry {
        let attributes = attributes
            .iter()
            .map(|(name, values)| {
                let values = values.iter().map(|v| octets(v)).collect();
                sequence(16, vec![octets(name.as_bytes()), sequence(17, values)])
            })
            .collect();
        ResultEntry::new(StructureTag {
            class: TagClass::Application,
            id: 4,
            payload: PL::C(vec![octets(dn.as_bytes()), sequence(16, attributes)]),
        })
    }

    #[test]
    fn parses_a_well_formed_entry() {
        let entry = Entry::parse(result_entry(
            "CN=alice,CN=Users,DC=x",
            &[
                ("sAMAccountName", &[b"alice"]),
                ("objectGUID", &[&[0xff, 0x00]]),
            ],
        ))
        .unwrap();
        assert_eq!(entry.dn, "CN=alice,CN=Users,DC=x");
        assert_eq!(entry.values("samaccountname"), [b"alice".to_vec()]);
        assert_eq!(entry.values("objectGUID"), [vec![0xff, 0x00]]);
        assert!(entry.values("mail").is_empty());
    }

    #[test]
    fn malformed_entries_are_errors_not_panics() {
        let wrong_op = ResultEntry::new(octets(b"x"));
        assert!(Entry::parse(wrong_op).is_err());
        let primitive_entry = ResultEntry::new(StructureTag {
            class: TagClass::Application,
            id: 4,
            payload: PL::P(vec![]),
        });
        assert!(Entry::parse(primitive_entry).is_err());
        let no_attributes = ResultEntry::new(StructureTag {
            class: TagClass::Application,
            id: 4,
            payload: PL::C(vec![octets(b"CN=x")]),
        });
        assert!(Entry::parse(no_attributes).is_err());
        let bad_dn = ResultEntry::new(StructureTag {
            class: TagClass::Application,
            id: 4,
            payload: PL::C(vec![octets(b"\xff"), sequence(16, vec![])]),
        });
        assert!(Entry::parse(bad_dn).is_err());
        let attribute_without_values = ResultEntry::new(StructureTag {
            class: TagClass::Application,
            id: 4,
            payload: PL::C(vec![
                octets(b"CN=x"),
                sequence(16, vec![sequence(16, vec![octets(b"cn")])]),
            ]),
        });
        assert!(Entry::parse(attribute_without_values).is_err());
    }
}
