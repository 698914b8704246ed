//! Which `[[policy.reply]]` groups an account about to be accepted is in, and the accept that
//! carries their attributes.
//!
//! Membership is asked of AD at the end of a login that passed everything else (after the
//! policy, and after the bind for a password), so refused logins cost the DC nothing more. Each
//! group is one base search on the user with the in-chain matching rule
//! (`memberOf:1.2.840.113556.1.4.1941:=`), exactly as telework membership is asked: nested
//! groups count, no answer is kept, and a group change applies at the next login. A password
//! login of a name seen before asks the same conditions within its account search instead
//! (see `reply_hints`), and comes here only with the answer.

use std::collections::BTreeSet;

use tracing::debug;

use crate::account_directory::AccountDirectory;
use crate::authorizer::unavailable;
use crate::error::DirectoryError;
use crate::{reply_groups, select_reply, AccountSummary, Authorizer, Decision, Outcome};

impl<D: AccountDirectory> Authorizer<D> {
    /// An accept for `summary`'s account with the reply attributes of its groups. If AD cannot
    /// say which groups those are, the login is refused (`directory_unavailable`): an accept
    /// without the filter or session limit the admin configured would let in more than meant.
    pub(crate) async fn accept(&self, summary: AccountSummary) -> Outcome {
        let member_of = self.reply_memberships(&summary.dn).await;
        self.accept_member_of(summary, member_of)
    }

    /// An accept for `summary`'s account, in the reply groups `member_of` as AD answered.
    pub(crate) fn accept_member_of(
        &self,
        summary: AccountSummary,
        member_of: Result<BTreeSet<&str>, DirectoryError>,
    ) -> Outcome {
        match member_of {
            Ok(member_of) => {
                let reply = select_reply(&self.policy.reply, &member_of);
                debug!(dn = %summary.dn, ?member_of, ?reply, "reply attributes selected");
                Outcome {
                    decision: Decision::Accept,
                    account: Some(summary),
                    reply,
                }
            }
            Err(error) => unavailable(&error, Some(summary)),
        }
    }

    /// The `[[policy.reply]]` groups the object `dn` is in, directly or through nested groups.
    pub(crate) async fn reply_memberships(
        &self,
        dn: &str,
    ) -> Result<BTreeSet<&str>, DirectoryError> {
        let mut member_of = BTreeSet::new();
        for group in reply_groups(&self.policy.reply) {
            if self.directory.is_member(dn, group).await? {
                member_of.insert(group);
            }
        }
        Ok(member_of)
    }

    /// The reply groups `account` is in, for `adgate explain`; `Err` is the refusal a login
    /// would get when AD cannot say (`directory_unavailable`).
    pub async fn explain_reply_groups(
        &self,
        account: &AccountSummary,
    ) -> Result<BTreeSet<String>, Box<Outcome>> {
        match self.reply_memberships(&account.dn).await {
            Ok(member_of) => Ok(member_of.into_iter().map(str::to_owned).collect()),
            Err(error) => Err(Box::new(unavailable(&error, Some(account.clone())))),
        }
    }
}
