//! Turning a RADIUS User-Name into the AD attribute and value to search for.
//!
//! User-Name is untrusted bytes from the network. Anything that is not a plausible logon name is
//! refused here, before a single LDAP packet is sent; what remains is searched for literally
//! (the value is still escaped when it goes into a filter).

/// The longest User-Name accepted, in bytes (RADIUS attributes carry at most 253).
pub(crate) const MAX_USER_NAME_BYTES: usize = 256;

/// Which AD attribute identifies the account, and the value to match.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LogonName {
    /// `user` or `DOMAIN\user`: match `sAMAccountName`.
    SamAccountName(String),
    /// `user@suffix`: match `userPrincipalName`.
    UserPrincipalName(String),
}

impl LogonName {
    /// The LDAP attribute this name is matched against.
    pub(crate) fn attribute(&self) -> &'static str {
        match self {
            LogonName::SamAccountName(_) => "sAMAccountName",
            LogonName::UserPrincipalName(_) => "userPrincipalName",
        }
    }

    /// The value to match (unescaped).
    pub(crate) fn value(&self) -> &str {
        match self {
            LogonName::SamAccountName(value) | LogonName::UserPrincipalName(value) => value,
        }
    }
}

/// Why a User-Name was refused without asking the directory.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub(crate) enum BadUserName {
    #[error("the user name is empty")]
    Empty,
    #[error("the user name is longer than {MAX_USER_NAME_BYTES} bytes")]
    TooLong,
    #[error("the user name is not valid UTF-8")]
    NotUtf8,
    #[error("the user name contains a control character")]
    ControlCharacter,
    #[error("the user name has an empty part around '\\' or '@'")]
    EmptyPart,
    #[error("the user name has more than one '\\'")]
    SeveralBackslashes,
    #[error("the DOMAIN\\ prefix does not name the configured NetBIOS domain")]
    ForeignDomain,
    #[error("a DOMAIN\\ prefix was given but the NetBIOS domain name is not known")]
    DomainNotKnown,
}

/// A User-Name as written: the logon name, and the `DOMAIN\` it carried, if any.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct UserName<'a> {
    pub(crate) domain: Option<&'a str>,
    pub(crate) name: LogonName,
}

impl UserName<'_> {
    /// The logon name, if the `DOMAIN\` it carried (if any) is `netbios_domain` (ASCII
    /// case-insensitively). A `DOMAIN\` when no NetBIOS domain name is known is refused:
    /// adgate cannot tell `CORP\alice` from `EVIL\alice`.
    pub(crate) fn in_domain(self, netbios_domain: Option<&str>) -> Result<LogonName, BadUserName> {
        if let Some(domain) = self.domain {
            let expected = netbios_domain.ok_or(BadUserName::DomainNotKnown)?;
            if !domain.eq_ignore_ascii_case(expected) {
                return Err(BadUserName::ForeignDomain);
            }
        }
        Ok(self.name)
    }
}

/// Parse a User-Name.
///
/// * `DOMAIN\user` → `sAMAccountName=user`, with `DOMAIN` to check against the NetBIOS
///   domain name ([`UserName::in_domain`]).
/// * `user@suffix` → `userPrincipalName=user@suffix` (the whole value; UPN suffixes vary).
/// * anything else → `sAMAccountName=value`.
pub(crate) fn parse_user_name(raw: &[u8]) -> Result<UserName<'_>, BadUserName> {
    if raw.is_empty() {
        return Err(BadUserName::Empty);
    }
    if raw.len() > MAX_USER_NAME_BYTES {
        return Err(BadUserName::TooLong);
    }
    let name = std::str::from_utf8(raw).map_err(|_| BadUserName::NotUtf8)?;
    if name.chars().any(char::is_control) {
        return Err(BadUserName::ControlCharacter);
    }
    if let Some((domain, user)) = name.split_once('\\') {
        if domain.is_empty() || user.is_empty() {
            return Err(BadUserName::EmptyPart);
        }
        if user.contains('\\') {
            return Err(BadUserName::SeveralBackslashes);
        }
        return Ok(UserName {
            domain: Some(domain),
            name: LogonName::SamAccountName(user.to_owned()),
        });
    }
    let name = match name.split_once('@') {
        Some((local, suffix)) if local.is_empty() || suffix.is_empty() => {
            return Err(BadUserName::EmptyPart)
        }
        Some(_) => LogonName::UserPrincipalName(name.to_owned()),
        None => LogonName::SamAccountName(name.to_owned()),
    };
    Ok(UserName { domain: None, name })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(raw: &[u8]) -> Result<LogonName, BadUserName> {
        parse_user_name(raw)?.in_domain(Some("CORP"))
    }

    #[test]
    fn plain_names_are_sam_account_names() {
        assert_eq!(
            parse(b"alice"),
            Ok(LogonName::SamAccountName("alice".into()))
        );
        assert_eq!(
            parse("jürgen".as_bytes()),
            Ok(LogonName::SamAccountName("jürgen".into()))
        );
    }

    #[test]
    fn domain_prefix_must_be_the_configured_domain() {
        let alice = Ok(LogonName::SamAccountName("alice".into()));
        assert_eq!(parse(b"CORP\\alice"), alice);
        assert_eq!(parse(b"corp\\alice"), alice);
        assert_eq!(parse(b"EVIL\\alice"), Err(BadUserName::ForeignDomain));
        assert_eq!(
            parse(b"CORP.EXAMPLE\\alice"),
            Err(BadUserName::ForeignDomain)
        );
        assert_eq!(
            parse_user_name(b"CORP\\alice").unwrap().in_domain(None),
            Err(BadUserName::DomainNotKnown)
        );
        assert_eq!(
            parse_user_name(b"CORP\\alice").unwrap().domain,
            Some("CORP")
        );
        // Without a prefix the NetBIOS domain name is not needed.
        assert_eq!(parse_user_name(b"alice").unwrap().domain, None);
        assert_eq!(
            parse_user_name(b"alice").unwrap().in_domain(None),
            Ok(LogonName::SamAccountName("alice".into()))
        );
        assert_eq!(parse(b"\\alice"), Err(BadUserName::EmptyPart));
        assert_eq!(parse(b"CORP\\"), Err(BadUserName::EmptyPart));
        assert_eq!(parse(b"CORP\\a\\b"), Err(BadUserName::SeveralBackslashes));
    }

    #[test]
    fn at_sign_means_user_principal_name() {
        assert_eq!(
            parse(b"heidi.jones@corp.example.test"),
            Ok(LogonName::UserPrincipalName(
                "heidi.jones@corp.example.test".into()
            ))
        );
        assert_eq!(parse(b"@corp.example.test"), Err(BadUserName::EmptyPart));
        assert_eq!(parse(b"alice@"), Err(BadUserName::EmptyPart));
        // A domain prefix wins: sAMAccountName may contain '@'.
        assert_eq!(
            parse(b"CORP\\a@b"),
            Ok(LogonName::SamAccountName("a@b".into()))
        );
    }

    #[test]
    fn malformed_names_are_refused() {
        assert_eq!(parse(b""), Err(BadUserName::Empty));
        assert_eq!(parse(&[b'a'; 257]), Err(BadUserName::TooLong));
        assert!(parse(&[b'a'; 256]).is_ok());
        assert_eq!(parse(b"al\xffice"), Err(BadUserName::NotUtf8));
        assert_eq!(parse(b"alice\0"), Err(BadUserName::ControlCharacter));
        assert_eq!(parse(b"alice\n"), Err(BadUserName::ControlCharacter));
        assert_eq!(parse(b"al\x7fice"), Err(BadUserName::ControlCharacter));
        assert_eq!(
            parse("al\u{85}ice".as_bytes()),
            Err(BadUserName::ControlCharacter)
        );
    }

    #[test]
    fn filter_metacharacters_pass_parsing_and_are_escaped_later() {
        for raw in [&b"*"[..], b"alice)(cn=*", b"a*", b"\\\\"] {
            let parsed = parse(raw);
            assert!(
                matches!(parsed, Ok(_) | Err(BadUserName::EmptyPart)),
                "{raw:?} → {parsed:?}"
            );
        }
        assert_eq!(parse(b"a*"), Ok(LogonName::SamAccountName("a*".into())));
    }

    #[test]
    fn attribute_names() {
        assert_eq!(parse(b"alice").unwrap().attribute(), "sAMAccountName");
        assert_eq!(parse(b"a@b").unwrap().attribute(), "userPrincipalName");
        assert_eq!(parse(b"a@b").unwrap().value(), "a@b");
    }
}
