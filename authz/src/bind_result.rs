//! What AD's answer to a user's password bind means.
//!
//! AD answers every refused bind with LDAP result 49 (invalidCredentials); the actual reason is
//! the Win32 error code in the diagnostic text, e.g.
//! `80090308: LdapErr: DSID-0C09044E, comment: AcceptSecurityContext error, data 775, v4563`.
//! AD reveals the account state only when the password was right (a disabled account with a
//! wrong password says 52e).

use crate::{Decision, Reason};

/// invalidCredentials (RFC 4511).
const INVALID_CREDENTIALS: u32 = 49;

/// The decision for a bind answered with `rc` and diagnostic `text`, or `None` when the answer
/// is not a verdict on the credentials (any result other than success or invalidCredentials:
/// busy, unwilling to perform, confidentiality required…), which the caller treats as the
/// directory being unavailable.
pub(crate) fn bind_decision(rc: u32, text: &str) -> Option<Decision> {
    match rc {
        0 => Some(Decision::Accept),
        INVALID_CREDENTIALS => Some(Decision::Reject(match ad_data_code(text) {
            Some(0x525) => Reason::UnknownUser, // ERROR_NO_SUCH_USER (deleted since the search)
            Some(0x52e) => Reason::BadPassword, // ERROR_LOGON_FAILURE
            Some(0x530) | Some(0x531) => Reason::LogonRestricted, // logon hours / workstation
            Some(0x52f) | Some(0x534) => Reason::LogonRestricted, // account / logon type restriction
            Some(0x532) => Reason::PasswordExpired,
            Some(0x533) => Reason::AccountDisabled,
            Some(0x701) => Reason::AccountExpired,
            Some(0x773) => Reason::MustChangePassword,
            Some(0x775) => Reason::AccountLocked,
            // invalidCredentials without an AD code we know: the RFC meaning stands.
            _ => Reason::BadPassword,
        })),
        _ => None,
    }
}

/// The hexadecimal code after `data ` in an AD bind diagnostic.
fn ad_data_code(text: &str) -> Option<u32> {
    let (_, after) = text.split_once("data ")?;
    let digits: &str = &after[..after
        .find(|c: char| !c.is_ascii_hexdigit())
        .unwrap_or(after.len())];
    if digits.is_empty() || digits.len() > 8 {
        return None;
    }
    u32::from_str_radix(digits, 16).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ad(code: &str) -> String {
        format!("80090308: LdapErr: DSID-0C09044E, comment: AcceptSecurityContext error, data {code}, v4563\0")
    }

    #[test]
    fn every_ad_code() {
        let cases = [
            ("52e", Reason::BadPassword),
            ("525", Reason::UnknownUser),
            ("530", Reason::LogonRestricted),
            ("531", Reason::LogonRestricted),
            ("52f", Reason::LogonRestricted),
            ("534", Reason::LogonRestricted),
            ("532", Reason::PasswordExpired),
            ("533", Reason::AccountDisabled),
            ("701", Reason::AccountExpired),
            ("773", Reason::MustChangePassword),
            ("775", Reason::AccountLocked),
            ("52E", Reason::BadPassword),
        ];
        for (code, reason) in cases {
            assert_eq!(
                bind_decision(49, &ad(code)),
                Some(Decision::Reject(reason)),
                "{code}"
            );
        }
    }

    #[test]
    fn samba_text_is_understood() {
        let samba = "80090308: LdapErr: DSID-0C0903A9, comment: AcceptSecurityContext error, data 533, v1db1";
        assert_eq!(
            bind_decision(49, samba),
            Some(Decision::Reject(Reason::AccountDisabled))
        );
    }

    #[test]
    fn success_accepts() {
        assert_eq!(bind_decision(0, ""), Some(Decision::Accept));
    }

    #[test]
    fn invalid_credentials_without_known_code_is_bad_password() {
        for text in ["", "Invalid credentials", &ad("zzz"), &ad("123456789")] {
            assert_eq!(
                bind_decision(49, text),
                Some(Decision::Reject(Reason::BadPassword))
            );
        }
    }

    #[test]
    fn other_results_are_not_verdicts() {
        for rc in [1, 8, 13, 51, 52, 53, 80] {
            assert_eq!(bind_decision(rc, &ad("52e")), None, "rc {rc}");
        }
    }
}
