//! The LDAP search filters adgate sends, with every value escaped per RFC 4515.
//!
//! User-Names come from the network, and the telework group DN comes from configuration (a DN
//! may legally contain `\`, `(`, `)` or `*`, e.g. `CN=Telework \(pilot\)…` is written
//! `CN=Telework (pilot)…`); `check-ad` adds a SID. All are inserted only through
//! [`escape_value`] (or, for binary values, [`escape_bytes`]).

use std::fmt::Write;

use crate::user_name::LogonName;

/// The extensible match rule LDAP_MATCHING_RULE_IN_CHAIN: membership through nested groups.
const IN_CHAIN: &str = "1.2.840.113556.1.4.1941";

/// Escape `value` as an RFC 4515 §3 assertion value.
///
/// `*`, `(`, `)`, `\` and NUL must be escaped; in addition every byte outside printable ASCII
/// (controls, DEL, and each byte of a non-ASCII UTF-8 character) is written as `\XX`, so the
/// filter string is plain ASCII and survives any logging or transport untouched. ldap3's
/// `ldap_escape` covers only the five mandatory characters.
pub(crate) fn escape_value(value: &str) -> String {
    let mut escaped = String::with_capacity(value.len());
    for &byte in value.as_bytes() {
        match byte {
            b'*' | b'(' | b')' | b'\\' => push_hex(&mut escaped, byte),
            0x20..=0x7e => escaped.push(char::from(byte)),
            _ => push_hex(&mut escaped, byte),
        }
    }
    escaped
}

/// A binary assertion value (an objectSid) with every byte written as `\XX` (RFC 4515 §3).
pub(crate) fn escape_bytes(value: &[u8]) -> String {
    let mut escaped = String::with_capacity(value.len() * 3);
    for &byte in value {
        push_hex(&mut escaped, byte);
    }
    escaped
}

fn push_hex(out: &mut String, byte: u8) {
    // Writing to a String cannot fail.
    let _ = write!(out, "\\{byte:02x}");
}

/// The user search: person objects of class user whose `attribute` equals the name.
///
/// `objectCategory=person` plus `objectClass=user` excludes computer accounts (class user,
/// category computer) and contacts.
pub(crate) fn user_filter(name: &LogonName) -> String {
    format!(
        "(&(objectCategory=person)(objectClass=user)({}={}))",
        name.attribute(),
        escape_value(name.value())
    )
}

/// A group an account must be in (`member`) or must not be in, nested groups counting.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Membership<'a> {
    pub(crate) group_dn: &'a str,
    pub(crate) member: bool,
}

impl<'a> Membership<'a> {
    /// In `group_dn`.
    pub(crate) fn of(group_dn: &'a str) -> Self {
        Membership {
            group_dn,
            member: true,
        }
    }
}

/// The user search narrowed by `memberships` (nested groups count): a login's account, its
/// telework membership and, when a hint says what to expect, its reply groups in one search.
/// AD evaluates the indexed name first, then the in-chain conditions on that one entry, so it
/// costs the DC what the membership tests alone did, without a request for each.
pub(crate) fn member_user_filter(name: &LogonName, memberships: &[Membership<'_>]) -> String {
    let mut filter = format!(
        "(&{PERSON}({}={})",
        name.attribute(),
        escape_value(name.value())
    );
    for membership in memberships {
        let condition = member_of_filter(membership.group_dn);
        if membership.member {
            filter.push_str(&condition);
        } else {
            // Writing to a String cannot fail.
            let _ = write!(filter, "(!{condition})");
        }
    }
    filter.push(')');
    filter
}

/// The membership test, used as a base-scope search on the user's DN: it matches the user
/// entry iff the user is a member of `group_dn`, directly or through nested groups.
pub(crate) fn member_of_filter(group_dn: &str) -> String {
    format!("(memberOf:{IN_CHAIN}:={})", escape_value(group_dn))
}

/// Person objects of class user (not computers, not contacts), as the user search finds them.
const PERSON: &str = "(objectCategory=person)(objectClass=user)";

/// The user accounts that are members of `group_dn`, directly or through nested groups: the
/// same in-chain rule a login's membership test uses.
pub(crate) fn members_filter(group_dn: &str) -> String {
    format!("(&{PERSON}{})", member_of_filter(group_dn))
}

/// The object whose objectSid is `sid` (binary).
pub(crate) fn sid_filter(sid: &[u8]) -> String {
    format!("(objectSid={})", escape_bytes(sid))
}

/// Every user account a certificate login could find by its UPN or e-mail address.
pub(crate) const CERTIFICATE_NAMES_FILTER: &str = "(&(objectCategory=person)(objectClass=user)\
     (|(userPrincipalName=*)(mail=*)(proxyAddresses=smtp:*)))";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mandatory_escapes() {
        assert_eq!(escape_value("*"), "\\2a");
        assert_eq!(escape_value("("), "\\28");
        assert_eq!(escape_value(")"), "\\29");
        assert_eq!(escape_value("\\"), "\\5c");
        assert_eq!(escape_value("\0"), "\\00");
        assert_eq!(escape_value("a*"), "a\\2a");
        assert_eq!(escape_value("alice)(cn=*"), "alice\\29\\28cn=\\2a");
    }

    #[test]
    fn non_printable_and_non_ascii_are_hex() {
        assert_eq!(escape_value("a\tb\x7f"), "a\\09b\\7f");
        assert_eq!(escape_value("jürgen"), "j\\c3\\bcrgen");
        assert_eq!(escape_value("€"), "\\e2\\82\\ac");
    }

    #[test]
    fn ordinary_names_are_unchanged() {
        let plain = "heidi.jones@corp.example.test";
        assert_eq!(escape_value(plain), plain);
        assert_eq!(escape_value("CN=x,DC=y"), "CN=x,DC=y");
        assert_eq!(escape_value(""), "");
    }

    #[test]
    fn escaped_output_is_ascii_without_metacharacters() {
        let nasty = "*)(|(objectClass=*))\0\\é\u{1}";
        let escaped = escape_value(nasty);
        assert!(escaped.is_ascii());
        assert!(!escaped.contains(['*', '(', ')', '\0']));
        // Every backslash starts a two-digit hex escape.
        let bytes = escaped.as_bytes();
        for (i, &b) in bytes.iter().enumerate() {
            if b == b'\\' {
                assert!(bytes[i + 1].is_ascii_hexdigit() && bytes[i + 2].is_ascii_hexdigit());
            }
        }
    }

    #[test]
    fn escaping_round_trips_through_ldap3_unescape() {
        for value in [
            "alice)(cn=*",
            "\\",
            "a\0b",
            "jürgen",
            "CN=Telework \\(pilot\\),DC=x",
        ] {
            let escaped = escape_value(value);
            assert_eq!(ldap3::ldap_unescape(escaped.as_str()).unwrap(), value);
        }
    }

    #[test]
    fn user_filters() {
        assert_eq!(
            user_filter(&LogonName::SamAccountName("alice)(cn=*".into())),
            "(&(objectCategory=person)(objectClass=user)(sAMAccountName=alice\\29\\28cn=\\2a))"
        );
        assert_eq!(
            user_filter(&LogonName::UserPrincipalName("h@corp.example.test".into())),
            "(&(objectCategory=person)(objectClass=user)(userPrincipalName=h@corp.example.test))"
        );
    }

    #[test]
    fn injection_attempts_stay_one_equality_match() {
        for value in [
            "*",
            "alice)(cn=*",
            "\\",
            "a\0b",
            "a*",
            "*)(|(objectClass=*",
            "jürgen",
        ] {
            let filter = user_filter(&LogonName::SamAccountName(value.into()));
            // The same filter with every byte of the value hex-escaped: if ours parses to the
            // identical BER, the value stayed one equality assertion holding exactly the input.
            let hex: String = value.bytes().map(|b| format!("\\{b:02x}")).collect();
            let reference =
                format!("(&(objectCategory=person)(objectClass=user)(sAMAccountName={hex}))");
            assert_eq!(
                ldap3::parse_filter(&filter),
                ldap3::parse_filter(&reference),
                "{filter}"
            );
            assert!(ldap3::parse_filter(&filter).is_ok(), "{filter}");
        }
        let group = "CN=a)(b*\\,DC=x";
        let hex: String = group.bytes().map(|b| format!("\\{b:02x}")).collect();
        assert_eq!(
            ldap3::parse_filter(member_of_filter(group)),
            ldap3::parse_filter(format!("(memberOf:{IN_CHAIN}:={hex})"))
        );
    }

    #[test]
    fn check_ad_filters_escape_what_they_insert() {
        assert_eq!(escape_bytes(&[1, 0x2a, 0xff]), "\\01\\2a\\ff");
        assert_eq!(sid_filter(&[1, 5]), "(objectSid=\\01\\05)");
        assert_eq!(
            members_filter("CN=T(1),DC=x"),
            "(&(objectCategory=person)(objectClass=user)\
             (memberOf:1.2.840.113556.1.4.1941:=CN=T\\281\\29,DC=x))"
        );
        for filter in [
            members_filter("CN=a)(b*\\,DC=x"),
            sid_filter(&[0, 40, 41, 42, 92]),
            CERTIFICATE_NAMES_FILTER.to_owned(),
        ] {
            assert!(ldap3::parse_filter(&filter).is_ok(), "{filter}");
        }
    }

    #[test]
    fn the_member_user_filter_escapes_every_value() {
        let name = LogonName::SamAccountName("alice)(cn=*".into());
        let group = "CN=a)(b*\\,DC=x";
        let other = "CN=(other),DC=x";
        let hex = |value: &str| -> String { value.bytes().map(|b| format!("\\{b:02x}")).collect() };
        let reference = format!(
            "(&(objectCategory=person)(objectClass=user)(sAMAccountName={})\
             (memberOf:{IN_CHAIN}:={})(!(memberOf:{IN_CHAIN}:={})))",
            hex("alice)(cn=*"),
            hex(group),
            hex(other)
        );
        let memberships = [
            Membership::of(group),
            Membership {
                group_dn: other,
                member: false,
            },
        ];
        let filter = member_user_filter(&name, &memberships);
        assert!(ldap3::parse_filter(&filter).is_ok(), "{filter}");
        assert_eq!(
            ldap3::parse_filter(&filter),
            ldap3::parse_filter(&reference)
        );
    }

    #[test]
    fn group_dn_is_escaped_as_a_filter_value() {
        assert_eq!(
            member_of_filter("CN=Telework-Allowed,CN=Users,DC=corp,DC=example,DC=test"),
            "(memberOf:1.2.840.113556.1.4.1941:=CN=Telework-Allowed,CN=Users,DC=corp,DC=example,DC=test)"
        );
        // A DN with an escaped comma and parentheses (RFC 4514 escapes are themselves escaped).
        assert_eq!(
            member_of_filter("CN=Home \\, Office (pilot),DC=x"),
            "(memberOf:1.2.840.113556.1.4.1941:=CN=Home \\5c, Office \\28pilot\\29,DC=x)"
        );
    }
}
