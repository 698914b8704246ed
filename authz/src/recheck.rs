//! Re-checking the account of a live session: may the tunnel stay up?
//!
//! The binary keeps a table of live VPN sessions and asks, for each, whenever AD may have
//! changed (and periodically): is this account still allowed? The account is named by its
//! objectGUID (the audit trail's `object_guid`), which survives renames and moves. The answer
//! comes from the same [`Check`](crate::Check)s as a login, restricted to those that
//! [end a live session](crate::Check::ends_live_session), via [`revocation_reason`].
//!
//! Cost: with 50 live users re-checked every 5 s, an allowed user costs one search, a base
//! search on `<GUID=…>` whose filter is the in-chain telework membership test and which returns
//! the account's state attributes. An entry means "a member"; its attributes are judged. Only
//! when nothing comes back is a second question asked (the same base, `(objectClass=*)`) to tell
//! an account that left the telework group (judged as a non-member: `telework_off`, or an
//! earlier reason such as `account_disabled`) from one that is gone ([`Recheck::Deleted`]). A
//! `telework_off` is confirmed by a third question, whether the telework group itself exists,
//! so that a misspelt group DN does not cut every session.
//!
//! Failing to get an answer is an [`RecheckError`], never a revocation: a DC outage must not
//! cut sessions.

use tracing::debug;

use crate::account::Account;
use crate::account_directory::AccountDirectory;
use crate::error::DirectoryError;
use crate::object_ids::canonical_guid_text;
use crate::{revocation_reason, Authorizer, Facts, FileTime, Reason, RecheckError};

/// Whether a live session's account may keep its session.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Recheck {
    /// Every check that ends live sessions passes.
    Allowed,
    /// The session must end, for this reason (one of the reasons of the checks that
    /// [end live sessions](crate::Check::ends_live_session)).
    Revoked(Reason),
    /// The object is gone (deleted) or out of the base DN.
    Deleted,
}

impl Recheck {
    /// Why the session must end ([`Reason::AccountDeleted`] for a deleted account), or `None`
    /// if it may go on.
    pub const fn ending_reason(self) -> Option<Reason> {
        match self {
            Recheck::Allowed => None,
            Recheck::Revoked(reason) => Some(reason),
            Recheck::Deleted => Some(Reason::AccountDeleted),
        }
    }
}

impl<D: AccountDirectory> Authorizer<D> {
    /// Re-check the account whose objectGUID is `object_guid` (text form, as
    /// [`AccountSummary::object_guid`](crate::AccountSummary::object_guid) records it) against
    /// the checks that end live sessions, as of now. One search for an allowed account; see the
    /// module documentation. `Err` when AD gave no trustworthy answer: keep the session.
    pub async fn recheck(&self, object_guid: &str) -> Result<Recheck, RecheckError> {
        let guid = canonical_guid_text(object_guid).ok_or_else(|| DirectoryError::NotAGuid {
            text: object_guid.to_owned(),
        })?;
        let group = self.policy.telework_group.as_str();
        let directory = &self.directory;
        if let Some(account) = directory.account_by_guid(&guid, Some(group)).await? {
            return Ok(judge(&guid, account, true));
        }
        let Some(account) = directory.account_by_guid(&guid, None).await? else {
            debug!(guid, "re-check: the account is gone");
            return Ok(Recheck::Deleted);
        };
        let recheck = judge(&guid, account, false);
        if recheck == Recheck::Revoked(Reason::TeleworkOff) && !directory.exists(group).await? {
            return Err(DirectoryError::GroupMissing {
                dn: group.to_owned(),
            }
            .into());
        }
        Ok(recheck)
    }
}

/// The verdict on `account`'s state and its telework membership, as of now.
fn judge(guid: &str, account: Account, telework_member: bool) -> Recheck {
    let facts = Facts {
        account: account.state,
        telework_member,
        now: FileTime::now(),
    };
    let recheck = match revocation_reason(&facts) {
        None => Recheck::Allowed,
        Some(reason) => Recheck::Revoked(reason),
    };
    debug!(guid, dn = %account.summary.dn, ?recheck, "re-checked");
    recheck
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, Instant};

    use super::*;
    use crate::connector::tests::TestCa;
    use crate::test_support::silent_port;
    use crate::{Directory, DirectoryConfig, PolicyConfig};

    #[test]
    fn a_deleted_account_ends_its_session_for_its_own_reason() {
        assert_eq!(Recheck::Allowed.ending_reason(), None);
        assert_eq!(
            Recheck::Revoked(Reason::TeleworkOff).ending_reason(),
            Some(Reason::TeleworkOff)
        );
        assert_eq!(
            Recheck::Deleted.ending_reason(),
            Some(Reason::AccountDeleted)
        );
    }

    fn authorizer(ca: &TestCa, port: u16) -> Authorizer {
        let directory = Directory::new(DirectoryConfig {
            urls: vec![format!("ldaps://127.0.0.1:{port}")],
            domain: None,
            ca_file: ca.file.path().to_owned(),
            bind_dn: "CN=svc-adgate,CN=Users,DC=corp,DC=example,DC=test".into(),
            bind_password: zeroize::Zeroizing::new("service-secret".into()),
            base_dn: "DC=corp,DC=example,DC=test".into(),
            netbios_domain: None,
            timeout: Duration::from_millis(300),
            starttls: false,
            allow_plain_ldap: false,
            user_bind_connections: 1,
        })
        .unwrap();
        Authorizer::new(
            directory,
            PolicyConfig {
                telework_group: "CN=Telework-Allowed,CN=Users,DC=corp,DC=example,DC=test".into(),
                reply: Vec::new(),
            },
        )
    }

    #[tokio::test]
    async fn a_malformed_guid_is_an_error_without_ldap() {
        let ca = TestCa::new("test CA");
        // Any LDAP attempt would cost the 300 ms timeout.
        let authorizer = authorizer(&ca, silent_port().await);
        let started = Instant::now();
        for text in ["", "alice", "{b4237a06-871c-4589-a2ad-81858bb0f248}", "*"] {
            let error = authorizer.recheck(text).await.unwrap_err();
            assert!(
                error.to_string().contains("is not an objectGUID"),
                "{error}"
            );
        }
        assert!(started.elapsed() < Duration::from_millis(200));
    }

    #[tokio::test]
    async fn a_silent_directory_is_an_error_not_a_revocation() {
        let ca = TestCa::new("test CA");
        let authorizer = authorizer(&ca, silent_port().await);
        let result = authorizer
            .recheck("b4237a06-871c-4589-a2ad-81858bb0f248")
            .await;
        assert!(result.is_err(), "{result:?}");
    }
}
