//! A certificate login, after EAP-TLS proved the client holds the certificate's key: find the
//! one AD account the certificate's UPN or e-mail address names, then apply the same account
//! and telework rules as a password login. There is no bind — the certificate was the proof —
//! so an account refused by policy is refused, and one that passes is accepted (with the reply
//! attributes of its groups).

use tracing::debug;

use crate::account::Account;
use crate::account_directory::{AccountDirectory, AccountName};
use crate::authorizer::{judge, reject, single_account};
use crate::filter::escape_value;
use crate::user_name::LogonName;
use crate::{Authorizer, Explanation, Outcome, Reason};

/// The name a client certificate gave, as the directory should match it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CertificateName {
    /// A UPN (subjectAltName otherName): matches `userPrincipalName`.
    Upn(String),
    /// An e-mail address: matches `mail`, or an `smtp:` entry of `proxyAddresses`
    /// (Exchange's primary `SMTP:` and secondary `smtp:` addresses alike; AD compares
    /// the values without regard to case).
    Email(String),
}

impl CertificateName {
    /// The user search, every value escaped (RFC 4515).
    pub(crate) fn filter(&self) -> String {
        let person = "(objectCategory=person)(objectClass=user)";
        match self {
            CertificateName::Upn(upn) => {
                format!("(&{person}(userPrincipalName={}))", escape_value(upn))
            }
            CertificateName::Email(email) => {
                let email = escape_value(email);
                format!("(&{person}(|(mail={email})(proxyAddresses=smtp:{email})))")
            }
        }
    }

    fn attribute(&self) -> &'static str {
        match self {
            CertificateName::Upn(_) => "userPrincipalName",
            CertificateName::Email(_) => "mail/proxyAddresses",
        }
    }

    fn value(&self) -> &str {
        match self {
            CertificateName::Upn(value) | CertificateName::Email(value) => value,
        }
    }
}

impl<D: AccountDirectory> Authorizer<D> {
    /// Decide a certificate login for the name the (already verified) certificate carries:
    /// exactly one account (`unknown_user`, `ambiguous_user`), then [`decide`](crate::decide)
    /// on its state and telework membership; an accept gets the reply attributes of its groups.
    /// AD unreachable → `directory_unavailable`.
    ///
    /// A UPN is unique in the forest (the DC refuses a duplicate), so a UPN certificate's
    /// account is found as a password login's `user@suffix` is: one search with the in-chain
    /// telework condition and, for a name seen before, the expected reply groups (see
    /// `login_account`). An e-mail address may be shared by several accounts, which must be
    /// `ambiguous_user` whatever their groups: it is looked up plainly, membership after.
    pub async fn check_certificate_name(&self, name: &CertificateName) -> Outcome {
        if let CertificateName::Upn(upn) = name {
            if !upn.is_empty() {
                let logon = LogonName::UserPrincipalName(upn.clone());
                let login = match self.login_account(&logon).await {
                    Ok(login) => login,
                    Err(outcome) => return *outcome,
                };
                return match judge(login.explanation) {
                    Ok(summary) => {
                        debug!(dn = %summary.dn, "certificate login passes the policy");
                        self.accept_named(&logon, summary, login.reply_groups).await
                    }
                    Err(outcome) => *outcome,
                };
            }
        }
        let account = match self.certificate_account(name).await {
            Ok(account) => account,
            Err(outcome) => return *outcome,
        };
        match self.apply_policy(*account).await {
            Ok(summary) => {
                debug!(dn = %summary.dn, "certificate login passes the policy");
                self.accept(summary).await
            }
            Err(outcome) => *outcome,
        }
    }
}

impl<D: AccountDirectory> Authorizer<D> {
    /// What a certificate login for `name` would find and judge — the account and the
    /// [`Facts`](crate::Facts) — for `adgate explain --cert`. `Err` is the refusal a login gets
    /// before the policy (`unknown_user`, `ambiguous_user`, `directory_unavailable`).
    pub async fn explain_certificate(
        &self,
        name: &CertificateName,
    ) -> Result<Explanation, Box<Outcome>> {
        let account = self.certificate_account(name).await?;
        self.gather_facts(*account).await
    }

    /// The one account `name` matches, or the refusal.
    async fn certificate_account(
        &self,
        name: &CertificateName,
    ) -> Result<Box<Account>, Box<Outcome>> {
        if name.value().is_empty() {
            return Err(Box::new(reject(Reason::UnknownUser, None)));
        }
        let lookup = self
            .directory
            .find_account(AccountName::Certificate(name))
            .await;
        single_account(lookup, name.attribute(), name.value())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filters_escape_the_certificate_name() {
        assert_eq!(
            CertificateName::Upn("a*)(cn=*@x.test".into()).filter(),
            "(&(objectCategory=person)(objectClass=user)(userPrincipalName=a\\2a\\29\\28cn=\\2a@x.test))"
        );
        assert_eq!(
            CertificateName::Email("shared@corp.example.test".into()).filter(),
            "(&(objectCategory=person)(objectClass=user)(|(mail=shared@corp.example.test)(proxyAddresses=smtp:shared@corp.example.test)))"
        );
        for name in [
            CertificateName::Upn("*)(|(objectClass=*".into()),
            CertificateName::Email("x)(mail=*".into()),
        ] {
            assert!(ldap3::parse_filter(name.filter()).is_ok());
            assert!(!name.filter().contains("=*"), "{}", name.filter());
        }
    }
}
