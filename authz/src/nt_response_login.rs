//! One MS-CHAPv2 login on the account side: the name is found as for PAP (`sAMAccountName`,
//! `DOMAIN\user`, UPN), the account judged by [`decide`](crate::decide) — and only an account
//! that passes has its NT-Response checked by a DC through winbind. So a disabled, expired,
//! non-telework or locked account never costs a lockout count, and an accept gets the reply
//! attributes of its groups, as a PAP accept does.
//!
//! Winbind's refusals become the reasons an LDAP bind's would; winbind unreachable, or an
//! answer not understood, is `directory_unavailable` (fail closed).

use tracing::{debug, warn};
use zeroize::Zeroizing;

use crate::account_directory::{AccountDirectory, AccountName};
use crate::authorizer::{reject, single_account, unavailable};
use crate::{
    Authorizer, Decision, NtResponseCheck, NtResponseError, NtResponseRefusal, Outcome, Reason,
    Winbind,
};

/// The decision on an MS-CHAPv2 login, and on an accept the key the DC returned.
pub struct NtResponseOutcome {
    /// The decision, the account and the reply attributes, as for PAP.
    pub outcome: Outcome,
    /// On an accept only: the DC's User-Session-Key, the hash of the NT password hash
    /// (RFC 2759 §8.4), from which the authenticator response and the MPPE keys come.
    pub password_hash_hash: Option<Zeroizing<[u8; 16]>>,
}

impl From<Outcome> for NtResponseOutcome {
    fn from(outcome: Outcome) -> NtResponseOutcome {
        NtResponseOutcome {
            outcome,
            password_hash_hash: None,
        }
    }
}

impl<D: AccountDirectory> Authorizer<D> {
    /// Decides an MS-CHAPv2 login of `user_name` (as the request carried it) whose
    /// `nt_response` answers `challenge` (the RFC 2759 §8.2 ChallengeHash, computed by the
    /// caller from the name without its domain), asking `winbind` only once the policy passed.
    pub async fn check_nt_response(
        &self,
        user_name: &[u8],
        winbind: &Winbind,
        challenge: [u8; 8],
        nt_response: [u8; 24],
    ) -> NtResponseOutcome {
        let name = match self.logon_name(user_name).await {
            Ok(name) => name,
            Err(outcome) => return (*outcome).into(),
        };
        let lookup = self.directory.find_account(AccountName::Logon(&name)).await;
        let account = match single_account(lookup, name.attribute(), name.value()) {
            Ok(account) => account,
            Err(outcome) => return (*outcome).into(),
        };
        let summary = match self.apply_policy(*account).await {
            Ok(summary) => summary,
            Err(outcome) => return (*outcome).into(),
        };
        let domain = match self.directory.netbios_domain().await {
            Ok(Some(domain)) => domain,
            Ok(None) => {
                warn!("login refused: directory_unavailable; the NetBIOS domain winbind needs is unknown (set directory.netbios_domain)");
                return reject(Reason::DirectoryUnavailable, Some(summary)).into();
            }
            Err(error) => return unavailable(&error, Some(summary)).into(),
        };
        let check = NtResponseCheck {
            account: &summary.sam_account_name,
            domain,
            challenge,
            nt_response,
        };
        match winbind.check_nt_response(&check).await {
            Ok(key) => {
                debug!(dn = %summary.dn, "NT-Response checked");
                let outcome = self.accept(summary).await;
                let password_hash_hash = (outcome.decision == Decision::Accept).then_some(key);
                NtResponseOutcome {
                    outcome,
                    password_hash_hash,
                }
            }
            Err(NtResponseError::Refused(refusal)) => {
                let reason = refusal_reason(&refusal);
                if let NtResponseRefusal::Other(text) = &refusal {
                    warn!(dn = %summary.dn, winbind = %text, "login refused: directory_unavailable; winbind's answer is not understood");
                } else {
                    debug!(dn = %summary.dn, ?refusal, "NT-Response refused");
                }
                reject(reason, Some(summary)).into()
            }
            Err(NtResponseError::Unavailable(why)) => {
                warn!(dn = %summary.dn, winbind = %why, "login refused: directory_unavailable");
                reject(Reason::DirectoryUnavailable, Some(summary)).into()
            }
        }
    }
}

/// The reason an LDAP bind refused for the same account state would give.
fn refusal_reason(refusal: &NtResponseRefusal) -> Reason {
    match refusal {
        NtResponseRefusal::WrongPassword => Reason::BadPassword,
        // Found over LDAP a moment ago: a DC that has not replicated the account yet.
        NtResponseRefusal::NoSuchUser => Reason::UnknownUser,
        NtResponseRefusal::AccountDisabled => Reason::AccountDisabled,
        NtResponseRefusal::AccountExpired => Reason::AccountExpired,
        NtResponseRefusal::AccountLockedOut => Reason::AccountLocked,
        NtResponseRefusal::PasswordExpired => Reason::PasswordExpired,
        NtResponseRefusal::PasswordMustChange => Reason::MustChangePassword,
        NtResponseRefusal::InvalidLogonHours | NtResponseRefusal::AccountRestriction => {
            Reason::LogonRestricted
        }
        NtResponseRefusal::Other(_) => Reason::DirectoryUnavailable,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn winbind_refusals_give_the_reasons_a_bind_would() {
        let cases = [
            (NtResponseRefusal::WrongPassword, Reason::BadPassword),
            (NtResponseRefusal::NoSuchUser, Reason::UnknownUser),
            (NtResponseRefusal::AccountDisabled, Reason::AccountDisabled),
            (NtResponseRefusal::AccountExpired, Reason::AccountExpired),
            (NtResponseRefusal::AccountLockedOut, Reason::AccountLocked),
            (NtResponseRefusal::PasswordExpired, Reason::PasswordExpired),
            (
                NtResponseRefusal::PasswordMustChange,
                Reason::MustChangePassword,
            ),
            (
                NtResponseRefusal::InvalidLogonHours,
                Reason::LogonRestricted,
            ),
            (
                NtResponseRefusal::AccountRestriction,
                Reason::LogonRestricted,
            ),
            (
                NtResponseRefusal::Other("new".into()),
                Reason::DirectoryUnavailable,
            ),
        ];
        for (refusal, reason) in cases {
            assert_eq!(refusal_reason(&refusal), reason, "{refusal:?}");
        }
    }
}
