//! One AD user object as adgate needs it: who it is (for the audit trail) and the state
//! attributes the policy judges.
//!
//! Attributes the policy depends on must be present: AD always maintains them on user objects,
//! so an absent one means the service account may not read it, and reading "absent" as "no
//! flags set" would let a disabled account in. Only `msNPAllowDialin` and `logonHours` are
//! legitimately absent (not set on the account); an absent `logonHours` allows every hour, so
//! the service account must be able to read it (docs/configuration.md, "Domain controllers",
//! says which attributes the service account reads).

use crate::entry::Entry;
use crate::error::DirectoryError;
use crate::object_ids::{guid_text, sid_text};
use crate::{AccountState, AccountSummary, FileTime, LogonHours, LOGON_HOURS_OCTETS};

/// The attributes the user search asks for.
pub(crate) const ATTRIBUTES: &[&str] = &[
    "distinguishedName",
    "objectGUID",
    "objectSid",
    "userPrincipalName",
    "sAMAccountName",
    "userAccountControl",
    "msDS-User-Account-Control-Computed",
    "accountExpires",
    "pwdLastSet",
    "msNPAllowDialin",
    "logonHours",
];

/// A user object: identity and state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Account {
    pub(crate) summary: AccountSummary,
    pub(crate) state: AccountState,
}

impl Account {
    /// Read an account from a user search entry.
    pub(crate) fn from_entry(entry: &Entry) -> Result<Account, DirectoryError> {
        let reader = Reader::new(entry);
        let summary = AccountSummary {
            dn: entry.dn.clone(),
            object_guid: reader.binary("objectGUID", guid_text)?,
            object_sid: reader.binary("objectSid", sid_text)?,
            user_principal_name: reader.optional_text("userPrincipalName")?,
            sam_account_name: reader.text("sAMAccountName")?,
        };
        let state = AccountState {
            user_account_control: reader.integer("userAccountControl")?,
            computed_account_control: reader.integer("msDS-User-Account-Control-Computed")?,
            account_expires: FileTime(reader.integer("accountExpires")?),
            pwd_last_set: FileTime(reader.integer("pwdLastSet")?),
            allow_dialin: reader.optional_boolean("msNPAllowDialin")?,
            logon_hours: reader.optional_logon_hours("logonHours")?,
        };
        Ok(Account { summary, state })
    }
}

/// Typed access to single-valued attributes, with errors naming the DN and attribute.
pub(crate) struct Reader<'a> {
    entry: &'a Entry,
}

impl<'a> Reader<'a> {
    pub(crate) fn new(entry: &'a Entry) -> Reader<'a> {
        Reader { entry }
    }

    fn single(&self, attribute: &'static str) -> Result<Option<&[u8]>, DirectoryError> {
        match self.entry.values(attribute) {
            [] => Ok(None),
            [value] => Ok(Some(value)),
            values => {
                Err(self.malformed(attribute, format!("{} values, expected one", values.len())))
            }
        }
    }

    pub(crate) fn required(&self, attribute: &'static str) -> Result<&[u8], DirectoryError> {
        self.single(attribute)?
            .ok_or_else(|| DirectoryError::MissingAttribute {
                dn: self.entry.dn.clone(),
                attribute,
            })
    }

    pub(crate) fn binary(
        &self,
        attribute: &'static str,
        format: fn(&[u8]) -> Result<String, String>,
    ) -> Result<String, DirectoryError> {
        format(self.required(attribute)?).map_err(|detail| self.malformed(attribute, detail))
    }

    pub(crate) fn text(&self, attribute: &'static str) -> Result<String, DirectoryError> {
        self.utf8(attribute, self.required(attribute)?)
    }

    pub(crate) fn optional_text(
        &self,
        attribute: &'static str,
    ) -> Result<Option<String>, DirectoryError> {
        self.single(attribute)?
            .map(|value| self.utf8(attribute, value))
            .transpose()
    }

    fn utf8(&self, attribute: &'static str, value: &[u8]) -> Result<String, DirectoryError> {
        String::from_utf8(value.to_vec()).map_err(|_| self.malformed(attribute, "not UTF-8".into()))
    }

    /// An LDAP Integer (decimal text) that must fit `T`: userAccountControl is a 32-bit flag
    /// set (negative when bit 31 is set), FILETIMEs are 64-bit.
    pub(crate) fn integer<T: FromLdapInteger>(
        &self,
        attribute: &'static str,
    ) -> Result<T, DirectoryError> {
        let text = self.text(attribute)?;
        T::from_ldap_integer(&text)
            .ok_or_else(|| self.malformed(attribute, format!("{text:?} is not an integer")))
    }

    /// As [`Reader::integer`], `None` when the attribute is absent.
    pub(crate) fn optional_integer<T: FromLdapInteger>(
        &self,
        attribute: &'static str,
    ) -> Result<Option<T>, DirectoryError> {
        if self.single(attribute)?.is_none() {
            return Ok(None);
        }
        self.integer(attribute).map(Some)
    }

    fn optional_boolean(&self, attribute: &'static str) -> Result<Option<bool>, DirectoryError> {
        match self.single(attribute)? {
            None => Ok(None),
            Some(b"TRUE") => Ok(Some(true)),
            Some(b"FALSE") => Ok(Some(false)),
            Some(other) => Err(self.malformed(
                attribute,
                format!("{:?} is not TRUE or FALSE", String::from_utf8_lossy(other)),
            )),
        }
    }

    /// 21 octets when present; any other length is malformed (AD writes only 21), never read
    /// as "no restriction".
    fn optional_logon_hours(
        &self,
        attribute: &'static str,
    ) -> Result<Option<LogonHours>, DirectoryError> {
        self.single(attribute)?
            .map(|value| {
                LogonHours::from_octets(value).ok_or_else(|| {
                    self.malformed(
                        attribute,
                        format!("{} octets, expected {LOGON_HOURS_OCTETS}", value.len()),
                    )
                })
            })
            .transpose()
    }

    fn malformed(&self, attribute: &'static str, detail: String) -> DirectoryError {
        DirectoryError::MalformedAttribute {
            dn: self.entry.dn.clone(),
            attribute,
            detail,
        }
    }
}

/// Integer attribute types: AD writes 32-bit flag sets as signed decimals.
pub(crate) trait FromLdapInteger: Sized {
    fn from_ldap_integer(text: &str) -> Option<Self>;
}

impl FromLdapInteger for u32 {
    fn from_ldap_integer(text: &str) -> Option<u32> {
        // Same bits, whichever way AD printed them.
        text.parse::<u32>()
            .ok()
            .or_else(|| text.parse::<i32>().ok().map(|signed| signed as u32))
    }
}

impl FromLdapInteger for i64 {
    fn from_ldap_integer(text: &str) -> Option<i64> {
        text.parse().ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::entry::tests::result_entry;

    const GUID: &[u8] = &[
        0x33, 0x22, 0x11, 0x00, 0x55, 0x44, 0x77, 0x66, 0x88, 0x99, 0xaa, 0xbb, 0xcc, 0xdd, 0xee,
        0xff,
    ];
    const SID: &[u8] = &[1, 1, 0, 0, 0, 0, 0, 5, 18, 0, 0, 0];

    fn entry(overrides: &[(&str, Option<&[u8]>)]) -> Entry {
        let mut attributes: Vec<(&str, Vec<&[u8]>)> = vec![
            ("objectGUID", vec![GUID]),
            ("objectSid", vec![SID]),
            ("userPrincipalName", vec![b"alice@corp.example.test"]),
            ("sAMAccountName", vec![b"alice"]),
            ("userAccountControl", vec![b"512"]),
            ("msDS-User-Account-Control-Computed", vec![b"0"]),
            ("accountExpires", vec![b"9223372036854775807"]),
            ("pwdLastSet", vec![b"133485408000000000"]),
        ];
        for (name, value) in overrides {
            attributes.retain(|(n, _)| n != name);
            if let Some(value) = value {
                attributes.push((name, vec![value]));
            }
        }
        let attributes: Vec<(&str, &[&[u8]])> =
            attributes.iter().map(|(n, v)| (*n, v.as_slice())).collect();
        Entry::parse(result_entry("CN=alice,CN=Users,DC=corp", &attributes)).unwrap()
    }

    #[test]
    fn reads_a_complete_account() {
        let account = Account::from_entry(&entry(&[])).unwrap();
        assert_eq!(
            account.summary,
            AccountSummary {
                dn: "CN=alice,CN=Users,DC=corp".into(),
                object_guid: "00112233-4455-6677-8899-aabbccddeeff".into(),
                object_sid: "S-1-5-18".into(),
                user_principal_name: Some("alice@corp.example.test".into()),
                sam_account_name: "alice".into(),
            }
        );
        assert_eq!(
            account.state,
            AccountState {
                user_account_control: 512,
                computed_account_control: 0,
                account_expires: FileTime::NEVER,
                pwd_last_set: FileTime(133_485_408_000_000_000),
                allow_dialin: None,
                logon_hours: None,
            }
        );
    }

    #[test]
    fn logon_hours_values() {
        let hours = |value: &[u8]| {
            Account::from_entry(&entry(&[("logonHours", Some(value))])).map(|a| a.state.logon_hours)
        };
        let mut weekdays = [0u8; 21];
        weekdays[3..18].fill(0xff);
        assert_eq!(hours(&weekdays).unwrap(), Some(LogonHours::new(weekdays)));
        assert_eq!(hours(&[0; 21]).unwrap(), Some(LogonHours::new([0; 21])));
        for length in [0, 20, 22] {
            let error = hours(&vec![0xff; length]).unwrap_err();
            assert!(
                matches!(&error, DirectoryError::MalformedAttribute { attribute: "logonHours", detail, .. } if detail.contains("expected 21")),
                "{length}: {error}"
            );
        }
    }

    #[test]
    fn dialin_values() {
        let dialin = |value: &[u8]| {
            Account::from_entry(&entry(&[("msNPAllowDialin", Some(value))]))
                .map(|a| a.state.allow_dialin)
        };
        assert_eq!(dialin(b"TRUE").unwrap(), Some(true));
        assert_eq!(dialin(b"FALSE").unwrap(), Some(false));
        assert!(dialin(b"maybe").is_err());
    }

    #[test]
    fn upn_is_optional() {
        let account = Account::from_entry(&entry(&[("userPrincipalName", None)])).unwrap();
        assert_eq!(account.summary.user_principal_name, None);
    }

    #[test]
    fn negative_user_account_control_keeps_its_bits() {
        let account =
            Account::from_entry(&entry(&[("userAccountControl", Some(b"-2147483646"))])).unwrap();
        assert_eq!(account.state.user_account_control, 0x8000_0002);
    }

    #[test]
    fn missing_state_attributes_fail_closed() {
        for attribute in [
            "objectGUID",
            "objectSid",
            "sAMAccountName",
            "userAccountControl",
            "msDS-User-Account-Control-Computed",
            "accountExpires",
            "pwdLastSet",
        ] {
            let error = Account::from_entry(&entry(&[(attribute, None)])).unwrap_err();
            assert!(
                matches!(error, DirectoryError::MissingAttribute { attribute: a, .. } if a == attribute),
                "{attribute}: {error}"
            );
            assert!(error
                .to_string()
                .contains("readable by the service account"));
        }
    }

    #[test]
    fn malformed_values_fail_closed() {
        for (attribute, value) in [
            ("userAccountControl", &b"0x200"[..]),
            ("userAccountControl", b"99999999999"),
            ("accountExpires", b"never"),
            ("pwdLastSet", b""),
            ("objectGUID", b"short"),
            ("logonHours", b"\xff\xff"),
            ("objectSid", b"\x02"),
            ("sAMAccountName", b"\xff"),
        ] {
            assert!(
                matches!(
                    Account::from_entry(&entry(&[(attribute, Some(value))])),
                    Err(DirectoryError::MalformedAttribute { .. })
                ),
                "{attribute}={value:?}"
            );
        }
    }
}
