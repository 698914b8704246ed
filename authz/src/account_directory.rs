//! The seam between the access decision and the directory it reads: every question
//! [`Authorizer`](crate::Authorizer) asks AD, as a trait, so the same decision code runs over
//! LDAP ([`Directory`]) or, in tests of the code above this crate, over accounts held in memory
//! (`MemoryDirectory`, feature `testing`) — as hickory-dns serves a zone from a file or from
//! memory behind one `ZoneHandler` trait.
//!
//! The trait is sealed: its questions are asked in this crate's own vocabulary (an account as
//! read from AD, a lookup's outcome, what kept the directory from answering), which stays
//! private. Outside the crate a directory is something to build an `Authorizer` over, nothing
//! more. [`Directory`] answers each question exactly as it did before the seam existed: the
//! same searches, the same binds, no more.

use std::future::Future;

use crate::account::Account;
use crate::certificate_login::CertificateName;
use crate::directory::Lookup;
use crate::error::DirectoryError;
use crate::filter::{member_of_filter, Membership};
use crate::user_name::LogonName;
use crate::{Decision, Directory};

/// A directory an [`Authorizer`](crate::Authorizer) can decide logins with: the LDAP
/// [`Directory`], or `MemoryDirectory` for tests (feature `testing`).
pub trait AccountDirectory: questions::Questions {}

impl AccountDirectory for Directory {}

/// The name an account is looked up by.
#[derive(Debug, Clone, Copy)]
pub enum AccountName<'a> {
    /// A User-Name: sAMAccountName or userPrincipalName.
    Logon(&'a LogonName),
    /// A client certificate's UPN or e-mail address.
    Certificate(&'a CertificateName),
}

pub(crate) mod questions {
    use super::*;

    /// What the decision code asks the directory. Nominally public so that it can bound the
    /// public [`AccountDirectory`]; unreachable outside the crate, which seals it. The types
    /// it names (`Account`, `Lookup`, `DirectoryError`, `LogonName`) are likewise declared
    /// `pub` inside private modules: nameable here, by nobody outside.
    pub trait Questions: Send + Sync + 'static {
        /// The NetBIOS domain a `DOMAIN\user` name may carry: configured, or read from the
        /// directory on first need; `None` if there is none.
        fn netbios_domain(
            &self,
        ) -> impl Future<Output = Result<Option<&str>, DirectoryError>> + Send;

        /// Finds now what the configuration left to the directory (the DCs, the NetBIOS
        /// domain name) and logs it; logins find it on first need otherwise.
        fn discover(&self) -> impl Future<Output = ()> + Send;

        /// The first domain controller that accepts a connection now, for readiness.
        fn first_reachable_dc(&self) -> impl Future<Output = Option<String>> + Send;

        /// The one user account `name` matches under the base DN.
        fn find_account(
            &self,
            name: AccountName<'_>,
        ) -> impl Future<Output = Result<Lookup, DirectoryError>> + Send;

        /// The one user account `name` matches whose memberships are `memberships` (nested
        /// groups count), in one question: a login's account with its telework membership,
        /// and with the reply groups a hint expects. `NotFound` when there is no such account
        /// or one membership differs.
        fn find_member_account(
            &self,
            name: &LogonName,
            memberships: &[Membership<'_>],
        ) -> impl Future<Output = Result<Lookup, DirectoryError>> + Send;

        /// The user account whose objectGUID is `guid` (canonical text) under the base DN, if
        /// it exists and, with `member_of`, is a member of that group (nested groups count).
        fn account_by_guid(
            &self,
            guid: &str,
            member_of: Option<&str>,
        ) -> impl Future<Output = Result<Option<Account>, DirectoryError>> + Send;

        /// Whether the object `dn` is a member of `group_dn`, directly or through nested
        /// groups.
        fn is_member(
            &self,
            dn: &str,
            group_dn: &str,
        ) -> impl Future<Output = Result<bool, DirectoryError>> + Send;

        /// The groups `dn` is a direct member of (for `explain`'s group path only).
        fn direct_groups(
            &self,
            dn: &str,
        ) -> impl Future<Output = Result<Vec<String>, DirectoryError>> + Send;

        /// Whether the object `dn` exists (and is visible).
        fn exists(&self, dn: &str) -> impl Future<Output = Result<bool, DirectoryError>> + Send;

        /// The verdict of a bind as `dn` with `password`.
        fn check_password(
            &self,
            dn: &str,
            password: &str,
        ) -> impl Future<Output = Result<Decision, DirectoryError>> + Send;
    }
}

/// What the re-check of a live session filters its search by `<GUID=…>` with: membership in a
/// group, or (to tell a departed member from a deleted account) any object.
const ANY_OBJECT: &str = "(objectClass=*)";

impl questions::Questions for Directory {
    async fn netbios_domain(&self) -> Result<Option<&str>, DirectoryError> {
        Directory::netbios_domain(self).await
    }

    async fn discover(&self) {
        Directory::discover(self).await;
    }

    async fn first_reachable_dc(&self) -> Option<String> {
        Directory::first_reachable_dc(self).await
    }

    async fn find_account(&self, name: AccountName<'_>) -> Result<Lookup, DirectoryError> {
        match name {
            AccountName::Logon(name) => Directory::find_account(self, name).await,
            AccountName::Certificate(name) => self.find_account_matching(&name.filter()).await,
        }
    }

    async fn find_member_account(
        &self,
        name: &LogonName,
        memberships: &[Membership<'_>],
    ) -> Result<Lookup, DirectoryError> {
        Directory::find_member_account(self, name, memberships).await
    }

    async fn account_by_guid(
        &self,
        guid: &str,
        member_of: Option<&str>,
    ) -> Result<Option<Account>, DirectoryError> {
        let filter = member_of.map_or_else(|| ANY_OBJECT.to_owned(), member_of_filter);
        Directory::account_by_guid(self, guid, &filter).await
    }

    async fn is_member(&self, dn: &str, group_dn: &str) -> Result<bool, DirectoryError> {
        Directory::is_member(self, dn, group_dn).await
    }

    async fn direct_groups(&self, dn: &str) -> Result<Vec<String>, DirectoryError> {
        Directory::direct_groups(self, dn).await
    }

    async fn exists(&self, dn: &str) -> Result<bool, DirectoryError> {
        Directory::exists(self, dn).await
    }

    async fn check_password(&self, dn: &str, password: &str) -> Result<Decision, DirectoryError> {
        Directory::check_password(self, dn, password).await
    }
}
