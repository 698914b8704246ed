//! Active Directory held in memory, for tests of the code above this crate (the gatekeeper, the
//! EAP-TLS conversations, live sessions, a fuzz target): the same [`Authorizer`], policy and
//! reasons as over LDAP, with no domain controller. Behind the `testing` feature, so it is never
//! in a release build.
//!
//! It answers as AD does where the decision code can tell: names and e-mail addresses match
//! without regard to case, a search that matches two accounts is ambiguous, group membership
//! is by DN (list nested groups on the user too, as the in-chain rule would find them), an
//! object outside the accounts and groups given does not exist, and a bind with the wrong
//! password is AD's 52e (`bad_password`). It can be made to fail every question, as a domain
//! controller that does not answer, and it counts the questions asked, so a test can assert
//! that a login was refused without asking AD at all.
//!
//! [`Authorizer`]: crate::Authorizer

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use crate::account::Account;
use crate::account_directory::{questions::Questions, AccountDirectory, AccountName};
use crate::directory::Lookup;
use crate::error::DirectoryError;
use crate::filter::Membership;
use crate::user_name::LogonName;
use crate::{AccountState, AccountSummary, CertificateName, Decision, FileTime, Reason};

/// Where [`MemoryUser::new`] puts its users.
const USERS: &str = "CN=Users,DC=corp,DC=example,DC=test";
/// The UPN suffix [`MemoryUser::new`] gives its users.
const UPN_SUFFIX: &str = "corp.example.test";
/// `userAccountControl` NORMAL_ACCOUNT: an enabled user.
const NORMAL_ACCOUNT: u32 = 0x0200;

/// A directory of [`MemoryUser`]s and groups; cheap to clone, and clones share their contents,
/// so a test can keep one to change users after handing another to an `Authorizer`.
#[derive(Clone, Default)]
pub struct MemoryDirectory {
    shared: Arc<Shared>,
}

#[derive(Default)]
struct Shared {
    netbios_domain: Option<String>,
    contents: Mutex<Contents>,
    unavailable: AtomicBool,
    questions: AtomicU64,
}

#[derive(Default)]
struct Contents {
    users: Vec<MemoryUser>,
    groups: Vec<String>,
}

/// One user object.
#[derive(Debug, Clone)]
pub struct MemoryUser {
    pub summary: AccountSummary,
    /// `mail`; certificate logins by e-mail address match it.
    pub mail: Option<String>,
    pub state: AccountState,
    pub password: String,
    /// Every group the user is in, nested ones included.
    pub groups: Vec<String>,
}

impl MemoryUser {
    /// An enabled user `name` (its sAMAccountName) in CN=Users of corp.example.test, with UPN
    /// `name@corp.example.test`, password `password`, in no group, and an objectGUID and
    /// objectSid of its own.
    pub fn new(name: &str, password: &str) -> MemoryUser {
        static NEXT_RID: AtomicU64 = AtomicU64::new(1000);
        let rid = NEXT_RID.fetch_add(1, Ordering::Relaxed);
        MemoryUser {
            summary: AccountSummary {
                dn: format!("CN={name},{USERS}"),
                object_guid: format!("00000000-0000-4000-8000-{rid:012x}"),
                object_sid: format!("S-1-5-21-1-2-3-{rid}"),
                user_principal_name: Some(format!("{name}@{UPN_SUFFIX}")),
                sam_account_name: name.to_owned(),
            },
            mail: None,
            state: AccountState {
                user_account_control: NORMAL_ACCOUNT,
                computed_account_control: 0,
                account_expires: FileTime::NEVER,
                pwd_last_set: FileTime::now(),
                allow_dialin: None,
                logon_hours: None,
            },
            password: password.to_owned(),
            groups: Vec::new(),
        }
    }

    /// The same user, also a member of `group`.
    pub fn member_of(mut self, group: &str) -> MemoryUser {
        self.groups.push(group.to_owned());
        self
    }

    /// The same user, with `mail`.
    pub fn with_mail(mut self, mail: &str) -> MemoryUser {
        self.mail = Some(mail.to_owned());
        self
    }

    fn account(&self) -> Account {
        Account {
            summary: self.summary.clone(),
            state: self.state,
        }
    }

    fn is_in(&self, group: &str) -> bool {
        self.groups
            .iter()
            .any(|member_of| same_dn(member_of, group))
    }

    fn is_named(&self, name: AccountName<'_>) -> bool {
        let upn = |upn: &str| {
            self.summary
                .user_principal_name
                .as_deref()
                .is_some_and(|own| same_name(own, upn))
        };
        match name {
            AccountName::Logon(LogonName::SamAccountName(sam)) => {
                same_name(&self.summary.sam_account_name, sam)
            }
            AccountName::Logon(LogonName::UserPrincipalName(name))
            | AccountName::Certificate(CertificateName::Upn(name)) => upn(name),
            AccountName::Certificate(CertificateName::Email(mail)) => {
                self.mail.as_deref().is_some_and(|own| same_name(own, mail))
            }
        }
    }
}

impl MemoryDirectory {
    /// An empty directory that accepts `DOMAIN\user` names only for `netbios_domain`.
    pub fn new(netbios_domain: Option<&str>) -> MemoryDirectory {
        MemoryDirectory {
            shared: Arc::new(Shared {
                netbios_domain: netbios_domain.map(str::to_owned),
                ..Shared::default()
            }),
        }
    }

    /// Adds a group (one that no user is in yet still exists).
    pub fn add_group(&self, dn: &str) {
        self.contents().groups.push(dn.to_owned());
    }

    /// Adds a user, and the groups it is in.
    pub fn add_user(&self, user: MemoryUser) {
        let mut contents = self.contents();
        contents.groups.extend(user.groups.iter().cloned());
        contents.users.push(user);
    }

    /// Changes the users named `sam_account_name` (all of them, if there are duplicates).
    pub fn change_user(&self, sam_account_name: &str, change: impl Fn(&mut MemoryUser)) {
        let mut contents = self.contents();
        for user in &mut contents.users {
            if same_name(&user.summary.sam_account_name, sam_account_name) {
                change(user);
            }
        }
    }

    /// Removes the users named `sam_account_name`, as a deletion in AD.
    pub fn remove_user(&self, sam_account_name: &str) {
        self.contents()
            .users
            .retain(|user| !same_name(&user.summary.sam_account_name, sam_account_name));
    }

    /// From now on, every question fails (or, with `false`, is answered again), as when no
    /// domain controller answers.
    pub fn set_unavailable(&self, unavailable: bool) {
        self.shared
            .unavailable
            .store(unavailable, Ordering::Relaxed);
    }

    /// Searches and binds asked so far.
    pub fn questions_asked(&self) -> u64 {
        self.shared.questions.load(Ordering::Relaxed)
    }

    fn contents(&self) -> MutexGuard<'_, Contents> {
        self.shared
            .contents
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// Counts a question, and fails it when the directory is unavailable.
    fn ask(&self) -> Result<MutexGuard<'_, Contents>, DirectoryError> {
        self.shared.questions.fetch_add(1, Ordering::Relaxed);
        if self.shared.unavailable.load(Ordering::Relaxed) {
            return Err(DirectoryError::Connect {
                url: "memory:".into(),
                detail: "the in-memory directory is set to be unavailable".into(),
            });
        }
        Ok(self.contents())
    }
}

impl AccountDirectory for MemoryDirectory {}

impl Questions for MemoryDirectory {
    async fn netbios_domain(&self) -> Result<Option<&str>, DirectoryError> {
        Ok(self.shared.netbios_domain.as_deref())
    }

    /// Nothing to find: everything is in memory.
    async fn discover(&self) {}

    async fn first_reachable_dc(&self) -> Option<String> {
        let unavailable = self.shared.unavailable.load(Ordering::Relaxed);
        (!unavailable).then(|| "memory:".to_owned())
    }

    async fn find_account(&self, name: AccountName<'_>) -> Result<Lookup, DirectoryError> {
        let contents = self.ask()?;
        let mut found = contents.users.iter().filter(|user| user.is_named(name));
        Ok(match (found.next(), found.next()) {
            (None, _) => Lookup::NotFound,
            (Some(user), None) => Lookup::Found(Box::new(user.account())),
            (Some(_), Some(_)) => Lookup::Ambiguous,
        })
    }

    async fn find_member_account(
        &self,
        name: &LogonName,
        memberships: &[Membership<'_>],
    ) -> Result<Lookup, DirectoryError> {
        let contents = self.ask()?;
        let mut found = contents.users.iter().filter(|user| {
            user.is_named(AccountName::Logon(name))
                && memberships
                    .iter()
                    .all(|membership| user.is_in(membership.group_dn) == membership.member)
        });
        Ok(match (found.next(), found.next()) {
            (None, _) => Lookup::NotFound,
            (Some(user), None) => Lookup::Found(Box::new(user.account())),
            (Some(_), Some(_)) => Lookup::Ambiguous,
        })
    }

    async fn account_by_guid(
        &self,
        guid: &str,
        member_of: Option<&str>,
    ) -> Result<Option<Account>, DirectoryError> {
        let contents = self.ask()?;
        let user = contents
            .users
            .iter()
            .find(|user| same_name(&user.summary.object_guid, guid));
        Ok(user
            .filter(|user| member_of.is_none_or(|group| user.is_in(group)))
            .map(MemoryUser::account))
    }

    async fn is_member(&self, dn: &str, group_dn: &str) -> Result<bool, DirectoryError> {
        let contents = self.ask()?;
        Ok(contents
            .users
            .iter()
            .any(|user| same_dn(&user.summary.dn, dn) && user.is_in(group_dn)))
    }

    async fn direct_groups(&self, dn: &str) -> Result<Vec<String>, DirectoryError> {
        let contents = self.ask()?;
        let user = contents
            .users
            .iter()
            .find(|user| same_dn(&user.summary.dn, dn));
        Ok(user.map(|user| user.groups.clone()).unwrap_or_default())
    }

    async fn exists(&self, dn: &str) -> Result<bool, DirectoryError> {
        let contents = self.ask()?;
        Ok(contents.groups.iter().any(|group| same_dn(group, dn))
            || contents
                .users
                .iter()
                .any(|user| same_dn(&user.summary.dn, dn)))
    }

    async fn check_password(&self, dn: &str, password: &str) -> Result<Decision, DirectoryError> {
        let contents = self.ask()?;
        let user = contents
            .users
            .iter()
            .find(|user| same_dn(&user.summary.dn, dn));
        Ok(match user {
            Some(user) if user.password == password => Decision::Accept,
            Some(_) => Decision::Reject(Reason::BadPassword),
            // AD's 525: the account was deleted between the search and the bind.
            None => Decision::Reject(Reason::UnknownUser),
        })
    }
}

/// Names and addresses as AD compares them: without regard to case.
fn same_name(a: &str, b: &str) -> bool {
    a.to_lowercase() == b.to_lowercase()
}

/// DNs as AD compares them: without regard to case or to spaces around `,` and `=`.
fn same_dn(a: &str, b: &str) -> bool {
    let normal = |dn: &str| {
        dn.split(',')
            .map(|rdn| rdn.split('=').map(str::trim).collect::<Vec<_>>().join("="))
            .collect::<Vec<_>>()
            .join(",")
            .to_lowercase()
    };
    normal(a) == normal(b)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Authorizer, PolicyConfig};

    const TELEWORK: &str = "CN=Telework-Allowed,CN=Users,DC=corp,DC=example,DC=test";

    fn authorizer(directory: &MemoryDirectory) -> Authorizer<MemoryDirectory> {
        Authorizer::new(
            directory.clone(),
            PolicyConfig {
                telework_group: TELEWORK.into(),
                reply: Vec::new(),
            },
        )
    }

    #[tokio::test]
    async fn the_policy_runs_over_memory_as_over_ldap() {
        let directory = MemoryDirectory::new(Some("CORP"));
        directory.add_group(TELEWORK);
        directory.add_user(MemoryUser::new("alice", "right").member_of(TELEWORK));
        directory.add_user(MemoryUser::new("bob", "right"));
        let authorizer = authorizer(&directory);
        let decision = |user: &'static str, password: &'static str| {
            let authorizer = &authorizer;
            async move {
                authorizer
                    .check_password(user.as_bytes(), password.as_bytes())
                    .await
                    .decision
            }
        };
        assert_eq!(decision("CORP\\Alice", "right").await, Decision::Accept);
        assert_eq!(
            decision("alice@CORP.example.test", "right").await,
            Decision::Accept
        );
        assert_eq!(
            decision("alice", "wrong").await,
            Decision::Reject(Reason::BadPassword)
        );
        assert_eq!(
            decision("bob", "right").await,
            Decision::Reject(Reason::TeleworkOff)
        );
        assert_eq!(
            decision("OTHER\\alice", "right").await,
            Decision::Reject(Reason::UnknownUser)
        );
        directory.change_user("alice", |alice| alice.state.user_account_control |= 2);
        assert_eq!(
            decision("alice", "right").await,
            Decision::Reject(Reason::AccountDisabled)
        );
        directory.set_unavailable(true);
        assert_eq!(
            decision("alice", "right").await,
            Decision::Reject(Reason::DirectoryUnavailable)
        );
        assert_eq!(authorizer.first_reachable_dc().await, None);
    }

    #[tokio::test]
    async fn an_accept_asks_one_search_and_one_bind_and_refusals_keep_their_reasons() {
        let directory = MemoryDirectory::new(None);
        directory.add_group(TELEWORK);
        directory.add_user(MemoryUser::new("alice", "right").member_of(TELEWORK));
        directory.add_user(MemoryUser::new("bob", "right"));
        let authorizer = authorizer(&directory);
        let asked = |user: &[u8], password: &[u8]| {
            let (authorizer, directory) = (&authorizer, &directory);
            let (user, password) = (user.to_vec(), password.to_vec());
            async move {
                let before = directory.questions_asked();
                let decision = authorizer.check_password(&user, &password).await.decision;
                (decision, directory.questions_asked() - before)
            }
        };
        // The account with its telework membership in one search, then the bind.
        assert_eq!(asked(b"alice", b"right").await, (Decision::Accept, 2));
        // Refusals may ask more: which of unknown_user and telework_off it is.
        assert_eq!(
            asked(b"bob", b"right").await,
            (Decision::Reject(Reason::TeleworkOff), 3)
        );
        assert_eq!(
            asked(b"nobody", b"right").await,
            (Decision::Reject(Reason::UnknownUser), 2)
        );
        // Nothing is remembered: out of the group, the very next login is refused.
        directory.change_user("alice", |alice| alice.groups.clear());
        assert_eq!(
            asked(b"alice", b"right").await.0,
            Decision::Reject(Reason::TeleworkOff)
        );
    }

    #[tokio::test]
    async fn duplicates_are_ambiguous_and_a_missing_telework_group_is_unavailable() {
        let directory = MemoryDirectory::new(None);
        directory.add_user(MemoryUser::new("carol", "pw").with_mail("c@corp.example.test"));
        let authorizer = authorizer(&directory);
        // No telework group object: the login cannot be judged (a misspelt group DN).
        assert_eq!(
            authorizer.check_password(b"carol", b"pw").await.decision,
            Decision::Reject(Reason::DirectoryUnavailable)
        );
        let by_mail = CertificateName::Email("C@CORP.example.test".into());
        directory.add_group(TELEWORK);
        assert_eq!(
            authorizer.check_certificate_name(&by_mail).await.decision,
            Decision::Reject(Reason::TeleworkOff)
        );
        directory.add_user(MemoryUser::new("carol", "other"));
        assert_eq!(
            authorizer.check_password(b"carol", b"pw").await.decision,
            Decision::Reject(Reason::AmbiguousUser)
        );
        let asked = directory.questions_asked();
        assert_eq!(
            authorizer.check_password(b"carol", b"").await.decision,
            Decision::Reject(Reason::EmptyPassword)
        );
        assert_eq!(
            directory.questions_asked(),
            asked + 1,
            "one search, no bind"
        );
    }
}
