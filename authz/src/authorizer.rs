//! One password login, start to finish: parse the name, read the account, apply the policy,
//! and only then check the password.
//!
//! The account state is judged before the bind so that accounts refused anyway never burn a
//! lockout count, and every failure to get an answer from AD refuses the login
//! (`directory_unavailable`); nothing here ever accepts by default.

use std::collections::BTreeSet;

use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use tracing::{debug, error, warn};

use crate::account::Account;
use crate::account_directory::{AccountDirectory, AccountName};
use crate::directory::Lookup;
use crate::error::DirectoryError;
use crate::filter::Membership;
use crate::reply_hints::ReplyHints;
use crate::user_name::{parse_user_name, BadUserName, LogonName};
use crate::{
    decide, reply_groups, AccountSummary, Decision, Directory, DirectoryChange, Explanation, Facts,
    FileTime, Outcome, PolicyConfig, Reason, ReplyAttributes, WatchSettings, WatchStates,
};

/// Decides logins: the directory plus the telework policy. Over LDAP by default; over any
/// [`AccountDirectory`].
pub struct Authorizer<D = Directory> {
    pub(crate) directory: D,
    pub(crate) policy: PolicyConfig,
    /// Which reply groups each name was last in: the question to ask first, never an answer.
    reply_hints: ReplyHints,
}

impl Authorizer<Directory> {
    /// Starts watching every configured DC for changes (see [`Directory::watch_changes`]), so
    /// that live sessions are re-checked as soon as AD changes. LDAP only: AD's change
    /// notifications are a property of its domain controllers, not a question of the
    /// [`AccountDirectory`] seam.
    pub fn watch_changes(
        &self,
        settings: WatchSettings,
        cancel: CancellationToken,
    ) -> (WatchStates, mpsc::Receiver<DirectoryChange>) {
        self.directory.watch_changes(settings, cancel)
    }
}

impl<D: AccountDirectory> Authorizer<D> {
    /// Combine the directory with the policy. The telework group is not looked up here (AD
    /// may be down at startup); a group DN that does not exist is reported on the first login
    /// that is not a member (see `telework_member`).
    pub fn new(directory: D, policy: PolicyConfig) -> Authorizer<D> {
        let groups = reply_groups(&policy.reply)
            .into_iter()
            .map(str::to_owned)
            .collect();
        Authorizer {
            directory,
            policy,
            reply_hints: ReplyHints::new(groups),
        }
    }

    /// Finds now, and logs, what the configuration left to AD: the domain controllers (with
    /// `domain` instead of `urls`, by DNS SRV) and the NetBIOS domain name (without
    /// `netbios_domain`). Logins find both on first need anyway; calling this at start (in the
    /// background: AD may be down, which it then only logs) says them in the log at once and
    /// spares the first login the wait. See [`Directory::discover`].
    pub async fn discover(&self) {
        self.directory.discover().await;
    }

    /// The URL of the first domain controller that accepted a connection when the readiness
    /// probe last looked (every [`READINESS_PROBE`](crate::READINESS_PROBE)), if any.
    pub async fn first_reachable_dc(&self) -> Option<String> {
        self.directory.first_reachable_dc().await
    }

    /// Decide a PAP login: `user_name` and `password` as the RADIUS request carried them.
    ///
    /// Steps: the name is parsed (malformed → `unknown_user`, no LDAP); an empty or non-UTF-8
    /// password is refused without a bind (the account is still looked up so that the audit
    /// record names it); the account and its telework membership are read; [`decide`] judges
    /// them; only an account that passes is bound as, on a user-bind connection, and the bind
    /// result is the final word — an accept then gets the reply attributes of its groups.
    pub async fn check_password(&self, user_name: &[u8], password: &[u8]) -> Outcome {
        let name = match self.logon_name(user_name).await {
            Ok(name) => name,
            Err(outcome) => return *outcome,
        };
        let password = match password {
            [] => return self.refuse_unbound(&name, Reason::EmptyPassword).await,
            bytes => match std::str::from_utf8(bytes) {
                Ok(password) => password,
                Err(_) => {
                    return self
                        .refuse_unbound(&name, Reason::UnsupportedCredential)
                        .await
                }
            },
        };
        let login = match self.login_account(&name).await {
            Ok(login) => login,
            Err(outcome) => return *outcome,
        };
        let summary = match judge(login.explanation) {
            Ok(summary) => summary,
            Err(outcome) => return *outcome,
        };
        let dn = summary.dn.as_str();
        match self.directory.check_password(dn, password).await {
            Ok(Decision::Accept) => {
                debug!(dn, "password checked");
                self.accept_named(&name, summary, login.reply_groups).await
            }
            Ok(decision) => {
                debug!(dn, ?decision, "password checked");
                Outcome {
                    decision,
                    account: Some(summary),
                    reply: ReplyAttributes::default(),
                }
            }
            Err(error) => unavailable(&error, Some(summary)),
        }
    }

    /// Reads the account's telework membership and judges it with [`decide`]: the account's
    /// summary when every check passes, else the refusal.
    pub(crate) async fn apply_policy(
        &self,
        account: Account,
    ) -> Result<AccountSummary, Box<Outcome>> {
        judge(self.gather_facts(account).await?)
    }

    /// The account a logon name names, with its telework membership, as of now, and its reply
    /// groups when the one search could ask for them too.
    ///
    /// One search asks for the account *with* the in-chain telework condition and, when the
    /// name has logged in before, with the reply groups it was in then (see `reply_hints`):
    /// all an accepted login asks before its bind. When that finds nothing, the account is
    /// asked for with the telework condition alone (its reply groups are asked after the bind);
    /// only when that finds nothing either do the plain search and the group's existence (see
    /// `telework_member`) tell `unknown_user` from `telework_off`: refusals cost the DC more,
    /// accepts, which users wait for, less. The answers are those of asking separately:
    /// sAMAccountName is unique in the domain and userPrincipalName in the forest (the DC
    /// refuses a duplicate), so a name that matches a member matches no one else.
    pub(crate) async fn login_account<'a>(
        &'a self,
        name: &LogonName,
    ) -> Result<LoginAccount<'a>, Box<Outcome>> {
        let group = self.policy.telework_group.as_str();
        let telework = Membership::of(group);
        if let Some(reply) = self.reply_hints.expected(name) {
            let mut memberships = vec![telework];
            memberships.extend_from_slice(&reply);
            match self.directory.find_member_account(name, &memberships).await {
                Ok(Lookup::Found(account)) => {
                    let member_of = reply.iter().filter(|m| m.member).map(|m| m.group_dn);
                    return Ok(LoginAccount {
                        explanation: explanation(*account, true),
                        reply_groups: Some(member_of.collect()),
                    });
                }
                // Something changed: ask as if there were no hint.
                Ok(Lookup::NotFound | Lookup::Ambiguous) => {}
                Err(error) => return Err(Box::new(unavailable(&error, None))),
            }
        }
        let lookup = match self.directory.find_member_account(name, &[telework]).await {
            Ok(Lookup::Found(account)) => {
                return Ok(LoginAccount {
                    explanation: explanation(*account, true),
                    reply_groups: None,
                })
            }
            Ok(Lookup::NotFound) => self.directory.find_account(AccountName::Logon(name)).await,
            refused => refused,
        };
        let account = single_account(lookup, name.attribute(), name.value())?;
        match self.telework_group_exists(group).await {
            Ok(()) => Ok(LoginAccount {
                explanation: explanation(*account, false),
                reply_groups: None,
            }),
            Err(error) => Err(Box::new(unavailable(&error, Some(account.summary)))),
        }
    }

    /// An accept for `summary`, the account `name` found, in `reply_groups` when its search
    /// asked them (see `login_account`); otherwise they are asked now, and remembered as what
    /// the name's next login expects.
    pub(crate) async fn accept_named(
        &self,
        name: &LogonName,
        summary: AccountSummary,
        reply_groups: Option<BTreeSet<&str>>,
    ) -> Outcome {
        let member_of = match reply_groups {
            Some(member_of) => Ok(member_of),
            None => self
                .reply_memberships(&summary.dn)
                .await
                .inspect(|member_of| self.reply_hints.remember(name, member_of)),
        };
        self.accept_member_of(summary, member_of)
    }

    /// What a login of `user_name` would find and judge — the account and the [`Facts`] the
    /// policy looks at — without binding as the user, so no lockout count is touched. `Err` is
    /// the refusal a login gets before the policy (`unknown_user`, `ambiguous_user`,
    /// `directory_unavailable`). For `adgate explain`.
    pub async fn explain(&self, user_name: &[u8]) -> Result<Explanation, Box<Outcome>> {
        let name = self.logon_name(user_name).await?;
        Ok(self.login_account(&name).await?.explanation)
    }

    /// The name to look `user_name` up by, or the refusal: `unknown_user` for a malformed name
    /// or a `DOMAIN\` that is not the domain's NetBIOS name (no account is looked up), and
    /// `directory_unavailable` when the NetBIOS name is to be read from AD and AD does not
    /// answer (see `netbios_domain`: read once, then known).
    pub(crate) async fn logon_name(&self, user_name: &[u8]) -> Result<LogonName, Box<Outcome>> {
        let refused = |problem: BadUserName| {
            debug!(%problem, "user name refused without a directory lookup");
            Box::new(reject(Reason::UnknownUser, None))
        };
        let parsed = parse_user_name(user_name).map_err(refused)?;
        let netbios_domain = match parsed.domain {
            None => None,
            Some(_) => self
                .directory
                .netbios_domain()
                .await
                .map_err(|error| Box::new(unavailable(&error, None)))?,
        };
        parsed.in_domain(netbios_domain).map_err(refused)
    }

    /// The account's state plus its telework membership, as of now.
    pub(crate) async fn gather_facts(&self, account: Account) -> Result<Explanation, Box<Outcome>> {
        match self.telework_member(&account.summary.dn).await {
            Ok(member) => Ok(explanation(account, member)),
            Err(error) => Err(Box::new(unavailable(&error, Some(account.summary)))),
        }
    }

    /// Membership in the telework group. A negative answer is double-checked against the
    /// group's existence: a misspelt group DN would otherwise refuse everyone as
    /// `telework_off`, sending administrators to fix memberships that are fine.
    async fn telework_member(&self, dn: &str) -> Result<bool, DirectoryError> {
        let group = self.policy.telework_group.as_str();
        if self.directory.is_member(dn, group).await? {
            return Ok(true);
        }
        self.telework_group_exists(group).await.map(|()| false)
    }

    /// `Ok` if the telework group `group` exists; not being in it means something only then.
    async fn telework_group_exists(&self, group: &str) -> Result<(), DirectoryError> {
        if self.directory.exists(group).await? {
            Ok(())
        } else {
            Err(DirectoryError::GroupMissing {
                dn: group.to_owned(),
            })
        }
    }

    /// Refuse for `reason` without binding, naming the account if a lookup finds exactly one.
    /// A failed lookup does not change the reason: the request was wrong either way.
    async fn refuse_unbound(&self, name: &LogonName, reason: Reason) -> Outcome {
        let account = match self.directory.find_account(AccountName::Logon(name)).await {
            Ok(Lookup::Found(account)) => Some(account.summary),
            Ok(Lookup::NotFound | Lookup::Ambiguous) => None,
            Err(error) => {
                debug!(%error, "lookup for the record failed");
                None
            }
        };
        debug!(dn = account.as_ref().map(|a| a.dn.as_str()), %reason, "refused without a bind");
        reject(reason, account)
    }
}

/// What a login found before its bind: what the policy judges, and the reply groups the
/// account is in when the same search asked (`None`: to be asked after the bind).
pub(crate) struct LoginAccount<'a> {
    pub(crate) explanation: Explanation,
    pub(crate) reply_groups: Option<BTreeSet<&'a str>>,
}

/// What the policy judges of `account`, a member of the telework group or not.
fn explanation(account: Account, telework_member: bool) -> Explanation {
    Explanation {
        account: account.summary,
        facts: Facts {
            account: account.state,
            telework_member,
            now: FileTime::now(),
        },
    }
}

/// The account's summary when [`decide`] passes every check, else the refusal.
pub(crate) fn judge(
    Explanation { account, facts }: Explanation,
) -> Result<AccountSummary, Box<Outcome>> {
    if let Decision::Reject(reason) = decide(&facts) {
        debug!(dn = %account.dn, %reason, ?facts, "refused by policy");
        return Err(Box::new(reject(reason, Some(account))));
    }
    Ok(account)
}

/// Exactly one account, or the refusal: `unknown_user`, `ambiguous_user` or
/// `directory_unavailable`.
pub(crate) fn single_account(
    lookup: Result<Lookup, DirectoryError>,
    attribute: &str,
    value: &str,
) -> Result<Box<Account>, Box<Outcome>> {
    match lookup {
        Ok(Lookup::Found(account)) => Ok(account),
        Ok(Lookup::NotFound) => {
            debug!(attribute, "no such account");
            Err(Box::new(reject(Reason::UnknownUser, None)))
        }
        Ok(Lookup::Ambiguous) => {
            warn!(
                attribute,
                value, "several accounts match; make the attribute unique"
            );
            Err(Box::new(reject(Reason::AmbiguousUser, None)))
        }
        Err(error) => Err(Box::new(unavailable(&error, None))),
    }
}

pub(crate) fn reject(reason: Reason, account: Option<AccountSummary>) -> Outcome {
    Outcome {
        decision: Decision::Reject(reason),
        account,
        reply: ReplyAttributes::default(),
    }
}

pub(crate) fn unavailable(error: &DirectoryError, account: Option<AccountSummary>) -> Outcome {
    match error {
        DirectoryError::GroupMissing { .. } => {
            error!(%error, "login refused: directory_unavailable; check telework_group")
        }
        _ => warn!(%error, "login refused: directory_unavailable"),
    }
    reject(Reason::DirectoryUnavailable, account)
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::time::{Duration, Instant};

    use zeroize::Zeroizing;

    use super::*;
    use crate::connector::tests::TestCa;
    use crate::test_support::{refused_port, silent_port};
    use crate::DirectoryConfig;

    fn config(ca: &TestCa, urls: Vec<String>, timeout: Duration) -> DirectoryConfig {
        DirectoryConfig {
            urls,
            domain: None,
            ca_file: ca.file.path().to_owned(),
            bind_dn: "CN=svc-adgate,CN=Users,DC=corp,DC=example,DC=test".into(),
            bind_password: Zeroizing::new("service-secret".into()),
            base_dn: "DC=corp,DC=example,DC=test".into(),
            netbios_domain: Some("CORP".into()),
            timeout,
            starttls: false,
            allow_plain_ldap: false,
            user_bind_connections: 2,
        }
    }

    fn policy() -> PolicyConfig {
        PolicyConfig {
            telework_group: "CN=Telework-Allowed,CN=Users,DC=corp,DC=example,DC=test".into(),
            reply: Vec::new(),
        }
    }

    fn authorizer(config: DirectoryConfig) -> Authorizer {
        Authorizer::new(Directory::new(config).unwrap(), policy())
    }

    /// An authorizer whose only DC accepts TCP and never answers.
    async fn silent_authorizer(ca: &TestCa, timeout: Duration) -> Authorizer {
        let port = silent_port().await;
        authorizer(config(
            ca,
            vec![format!("ldaps://127.0.0.1:{port}")],
            timeout,
        ))
    }

    #[tokio::test]
    async fn malformed_names_are_refused_without_ldap() {
        let ca = TestCa::new("test CA");
        // A DC that would hang for a minute: any LDAP attempt would show in the elapsed time.
        let authorizer = silent_authorizer(&ca, Duration::from_secs(60)).await;
        let started = Instant::now();
        for name in [
            &b""[..],
            b"al\xffice",
            b"alice\0",
            b"alice\r\n",
            b"\\",
            b"EVIL\\alice",
            b"@corp.example.test",
            &[b'a'; 300],
        ] {
            let outcome = authorizer.check_password(name, b"secret").await;
            assert_eq!(
                outcome.decision,
                Decision::Reject(Reason::UnknownUser),
                "{name:?}"
            );
            assert_eq!(outcome.account, None);
        }
        assert!(started.elapsed() < Duration::from_secs(1));
    }

    #[tokio::test]
    async fn empty_and_non_utf8_passwords_are_refused_even_when_ad_is_down() {
        let ca = TestCa::new("test CA");
        let port = refused_port().await;
        let authorizer = authorizer(config(
            &ca,
            vec![format!("ldaps://127.0.0.1:{port}")],
            Duration::from_secs(1),
        ));
        let outcome = authorizer.check_password(b"alice", b"").await;
        assert_eq!(outcome.decision, Decision::Reject(Reason::EmptyPassword));
        let outcome = authorizer.check_password(b"alice", b"\xff\xfe").await;
        assert_eq!(
            outcome.decision,
            Decision::Reject(Reason::UnsupportedCredential)
        );
    }

    #[tokio::test]
    async fn unreachable_directory_fails_closed() {
        let ca = TestCa::new("test CA");
        let refused = refused_port().await;
        let authorizer = authorizer(config(
            &ca,
            vec![format!("ldaps://127.0.0.1:{refused}")],
            Duration::from_secs(1),
        ));
        let outcome = authorizer.check_password(b"alice", b"secret").await;
        assert_eq!(
            outcome.decision,
            Decision::Reject(Reason::DirectoryUnavailable)
        );
        assert_eq!(outcome.account, None);
    }

    #[tokio::test]
    async fn an_accept_whose_reply_groups_cannot_be_read_is_refused() {
        let ca = TestCa::new("test CA");
        let port = refused_port().await;
        let directory = Directory::new(config(
            &ca,
            vec![format!("ldaps://127.0.0.1:{port}")],
            Duration::from_secs(1),
        ))
        .unwrap();
        let mut policy = policy();
        policy.reply = vec![crate::ReplyRule {
            group: "CN=VPN-Engineering,CN=Users,DC=corp,DC=example,DC=test".into(),
            attributes: crate::ReplyAttributes {
                session_timeout: Some(3600),
                ..crate::ReplyAttributes::default()
            },
        }];
        let summary = AccountSummary {
            dn: "CN=heidi,CN=Users,DC=corp,DC=example,DC=test".into(),
            object_guid: String::new(),
            object_sid: String::new(),
            user_principal_name: None,
            sam_account_name: "heidi".into(),
        };
        // The DC went away after the policy and the bind passed: no accept without the limit.
        let outcome = Authorizer::new(directory, policy)
            .accept(summary.clone())
            .await;
        assert_eq!(
            outcome.decision,
            Decision::Reject(Reason::DirectoryUnavailable)
        );
        assert_eq!(outcome.account, Some(summary.clone()));
        assert!(outcome.reply.is_empty());
        // Without reply entries nothing more is asked: the same dead DC does not matter.
        let outcome = authorizer(config(
            &ca,
            vec![format!("ldaps://127.0.0.1:{port}")],
            Duration::from_secs(1),
        ))
        .accept(summary)
        .await;
        assert_eq!(outcome.decision, Decision::Accept);
    }

    #[tokio::test]
    async fn silent_directory_fails_closed_within_the_timeout() {
        let ca = TestCa::new("test CA");
        let authorizer = silent_authorizer(&ca, Duration::from_millis(300)).await;
        let started = Instant::now();
        let outcome = authorizer.check_password(b"alice", b"secret").await;
        assert_eq!(
            outcome.decision,
            Decision::Reject(Reason::DirectoryUnavailable)
        );
        assert!(
            started.elapsed() < Duration::from_millis(900),
            "{:?}",
            started.elapsed()
        );
    }

    #[tokio::test]
    async fn concurrent_logins_share_one_failed_reconnect() {
        let ca = TestCa::new("test CA");
        let authorizer = Arc::new(silent_authorizer(&ca, Duration::from_millis(300)).await);
        let started = Instant::now();
        // Spawning also proves check_password's future is Send, as the RADIUS server needs.
        let mut logins = tokio::task::JoinSet::new();
        for _ in 0..20 {
            let authorizer = authorizer.clone();
            logins.spawn(async move { authorizer.check_password(b"alice", b"secret").await });
        }
        while let Some(outcome) = logins.join_next().await {
            let outcome = outcome.unwrap();
            assert_eq!(
                outcome.decision,
                Decision::Reject(Reason::DirectoryUnavailable)
            );
        }
        // One reconnect attempt for all twenty, not twenty attempts one after another.
        assert!(
            started.elapsed() < Duration::from_millis(1500),
            "{:?}",
            started.elapsed()
        );
    }

    #[tokio::test]
    async fn the_domain_finds_the_dcs_unless_urls_are_given() {
        let ca = TestCa::new("test CA");
        let url = "ldaps://dc1.corp.example.test".to_owned();
        let mut both = config(&ca, vec![url.clone()], Duration::from_secs(1));
        both.domain = Some("corp.example.test".into());
        let directory = Directory::new(both).unwrap();
        let servers = directory.connector.servers().await;
        let urls: Vec<&str> = servers.iter().map(|server| server.url.as_str()).collect();
        assert_eq!(urls, [url.as_str()], "urls win over domain");

        // A domain alone: nothing is looked up before the directory is used.
        let mut domain_only = config(&ca, Vec::new(), Duration::from_secs(1));
        domain_only.domain = Some("Corp.Example.Test.".into());
        let directory = Directory::new(domain_only).unwrap();
        assert!(directory.dc_health().snapshot().is_empty());
    }

    #[test]
    fn configuration_mistakes_are_startup_errors() {
        let ca = TestCa::new("test CA");
        let good = || {
            config(
                &ca,
                vec!["ldaps://dc1.corp.example.test".into()],
                Duration::from_secs(1),
            )
        };
        assert!(Directory::new(good()).is_ok());
        type Breaker = fn(&mut DirectoryConfig);
        let broken: [(&str, Breaker); 10] = [
            ("bind_password", |c| {
                c.bind_password = Zeroizing::new(String::new())
            }),
            ("bind_dn", |c| c.bind_dn = " ".into()),
            ("base_dn", |c| c.base_dn = "corp.example.test".into()),
            ("netbios_domain", |c| {
                c.netbios_domain = Some("CORP\\".into())
            }),
            ("timeout", |c| c.timeout = Duration::ZERO),
            ("user_bind_connections", |c| c.user_bind_connections = 0),
            ("ca_file", |c| c.ca_file = "/nonexistent/ca.pem".into()),
            ("clear text", |c| {
                c.urls = vec!["ldap://dc1.corp.example.test".into()]
            }),
            ("set urls (the DCs' LDAP URLs), or domain", |c| {
                c.urls.clear()
            }),
            ("domain: must be the AD domain's DNS name", |c| {
                c.urls.clear();
                c.domain = Some("ldaps://dc1.corp.example.test".into());
            }),
        ];
        for (what, breaker) in broken {
            let mut config = good();
            breaker(&mut config);
            let error = Directory::new(config).err().expect(what).to_string();
            assert!(error.contains(what), "{what}: {error}");
        }
    }
}
