//! What winbind's refusal texts mean. ntlm_auth's helper protocol reports a failed check as
//! the *text* Samba gives the NTSTATUS (`get_friendly_nt_error_msg`, the Windows message
//! texts), not its number; these texts are stable across Samba releases because they are
//! Windows' own. Each status is matched by its texts as Samba 4.17 prints them (measured in the
//! lab, see `docs/mschapv2.md`), by its shorter friendly text where Samba has one, and by its
//! `NT_STATUS_…` name (what Samba prints for a status without a text).
//!
//! A status that says winbind could not ask a DC (winbindd not running, no logon server, the
//! machine trust broken) is not a refusal of the user: the login fails closed as
//! unavailable, and no account state is claimed.

use super::NtResponseRefusal;

/// What a refusal text tells.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Verdict {
    /// The DC judged the account or the response.
    Refused(NtResponseRefusal),
    /// Winbind or the DC could not be asked.
    Unavailable,
}

/// What `text`, an `Authentication-Error`, means; a text not known here is
/// [`NtResponseRefusal::Other`] (the login is refused, the text logged).
pub(crate) fn verdict(text: &str) -> Verdict {
    let text = text.trim();
    let refusal = match text {
        "When trying to update a password, this return status indicates that the value \
         provided as the current password is not correct."
        | "NT_STATUS_WRONG_PASSWORD" => NtResponseRefusal::WrongPassword,
        "The specified account does not exist." | "NT_STATUS_NO_SUCH_USER" => {
            NtResponseRefusal::NoSuchUser
        }
        "The referenced account is currently disabled and cannot be logged on to."
        | "Logon failure: Account currently disabled."
        | "NT_STATUS_ACCOUNT_DISABLED" => NtResponseRefusal::AccountDisabled,
        "The user's account has expired."
        | "The user account has expired."
        | "NT_STATUS_ACCOUNT_EXPIRED" => NtResponseRefusal::AccountExpired,
        "The user account has been automatically locked because too many invalid logon \
         attempts or password change attempts have been requested."
        | "The referenced account is currently locked out and cannot be logged on to."
        | "NT_STATUS_ACCOUNT_LOCKED_OUT" => NtResponseRefusal::AccountLockedOut,
        "The user account password has expired."
        | "Logon failure: The specified account password has expired."
        | "NT_STATUS_PASSWORD_EXPIRED" => NtResponseRefusal::PasswordExpired,
        "The user password must be changed before logging on the first time."
        | "The user's password must be changed before logging on the first time."
        | "NT_STATUS_PASSWORD_MUST_CHANGE" => NtResponseRefusal::PasswordMustChange,
        "The user account has time restrictions and cannot be logged onto at this time."
        | "Logon failure: Account logon time restriction violation."
        | "NT_STATUS_INVALID_LOGON_HOURS" => NtResponseRefusal::InvalidLogonHours,
        "The user account is restricted so that it cannot be used to log on from the source \
         workstation."
        | "Indicates a referenced user name and authentication information are valid, but some \
           user account restriction has prevented successful authentication (such as \
           time-of-day restrictions)."
        | "NT_STATUS_INVALID_WORKSTATION"
        | "NT_STATUS_ACCOUNT_RESTRICTION" => NtResponseRefusal::AccountRestriction,
        // ntlm_auth's own text when winbindd does not answer on its socket; then no logon
        // server, no DC found, the machine trust broken, timeouts.
        "Reading winbind reply failed!"
        | "No logon servers are currently available to service the logon request."
        | "There are currently no logon servers available to service the logon request."
        | "NT_STATUS_NO_LOGON_SERVERS"
        | "A domain controller for this domain was not found."
        | "NT_STATUS_DOMAIN_CONTROLLER_NOT_FOUND"
        | "The logon request failed because the trust relationship between this workstation \
           and the primary domain failed."
        | "NT_STATUS_TRUSTED_RELATIONSHIP_FAILURE"
        | "The SAM database on the Windows Server does not have a computer account for this \
           workstation trust relationship."
        | "NT_STATUS_NO_TRUST_SAM_ACCOUNT"
        | "The workstation does not have a trust secret for the primary domain in the local \
           LSA database."
        | "NT_STATUS_NO_TRUST_LSA_SECRET"
        | "NT_STATUS_IO_TIMEOUT"
        | "NT_STATUS_CONNECTION_REFUSED"
        | "NT_STATUS_UNSUCCESSFUL" => return Verdict::Unavailable,
        other => NtResponseRefusal::Other(other.to_owned()),
    };
    Verdict::Refused(refusal)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_texts_samba_prints_name_their_status() {
        // As measured against Samba 4.17 in the lab (deploy/lab.sh's member).
        let cases = [
            (
                "When trying to update a password, this return status indicates that the value \
                 provided as the current password is not correct.",
                NtResponseRefusal::WrongPassword,
            ),
            (
                "The specified account does not exist.",
                NtResponseRefusal::NoSuchUser,
            ),
            (
                "The user account has been automatically locked because too many invalid logon \
                 attempts or password change attempts have been requested.",
                NtResponseRefusal::AccountLockedOut,
            ),
            (
                "The referenced account is currently disabled and cannot be logged on to.",
                NtResponseRefusal::AccountDisabled,
            ),
            (
                "The user password must be changed before logging on the first time.",
                NtResponseRefusal::PasswordMustChange,
            ),
            (
                "NT_STATUS_ACCOUNT_EXPIRED",
                NtResponseRefusal::AccountExpired,
            ),
            (
                "The user account password has expired.",
                NtResponseRefusal::PasswordExpired,
            ),
            (
                "The user account has time restrictions and cannot be logged onto at this time.",
                NtResponseRefusal::InvalidLogonHours,
            ),
            (
                "NT_STATUS_INVALID_WORKSTATION",
                NtResponseRefusal::AccountRestriction,
            ),
        ];
        for (text, refusal) in cases {
            assert_eq!(verdict(text), Verdict::Refused(refusal), "{text}");
        }
    }

    #[test]
    fn texts_saying_no_dc_was_asked_are_unavailable_not_refusals() {
        for text in [
            "Reading winbind reply failed!",
            "No logon servers are currently available to service the logon request.",
            "NT_STATUS_NO_LOGON_SERVERS",
            "NT_STATUS_IO_TIMEOUT",
        ] {
            assert_eq!(verdict(text), Verdict::Unavailable, "{text}");
        }
    }

    #[test]
    fn an_unknown_text_is_a_refusal_that_keeps_the_text() {
        assert_eq!(
            verdict("Something new happened. "),
            Verdict::Refused(NtResponseRefusal::Other("Something new happened.".into()))
        );
    }
}
