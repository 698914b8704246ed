//! Checking an MS-CHAPv2 NT-Response with the domain: through winbindd on this host, a member
//! of the domain, which asks a DC over NETLOGON (LDAP gives no password material, so nothing
//! else can check it). [`Winbind::check_nt_response`] hands the check to one of a small pool
//! of long-lived `ntlm_auth --helper-protocol=ntlm-server-1 --allow-mschapv2` processes and
//! returns the DC's User-Session-Key — for MS-CHAPv2 the hash of the NT password hash, from
//! which the caller computes the authenticator response and the MPPE keys (RFC 2759 §8.7,
//! RFC 3079 §3.4). Why a helper pool and not libwbclient or winbindd's socket: DESIGN.md.
//!
//! Fail closed, never hang: each check has one deadline covering the wait for a helper, its
//! start and its answer; a check past it, a helper that dies or answers off the protocol, and
//! a winbind that cannot reach a DC all end as [`NtResponseError::Unavailable`], and the helper
//! involved is killed and replaced on the next check. Nothing here logs the challenge, the
//! response or the key.

mod helper;
mod helper_protocol;
mod ntstatus;

use std::path::PathBuf;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use tokio::sync::Semaphore;
use tracing::{debug, warn};
use zeroize::Zeroizing;

use crate::ConfigError;
use helper::{HelperError, NtlmAuthHelper};
use helper_protocol::{request_lines, HelperReply, HelperRequest};
use ntstatus::Verdict;

/// The default number of ntlm_auth processes (each checks ~1000 responses/s).
pub const DEFAULT_WINBIND_HELPERS: usize = 4;
/// The default deadline of one check.
pub const DEFAULT_WINBIND_TIMEOUT: Duration = Duration::from_secs(5);
/// The default ntlm_auth.
pub const DEFAULT_NTLM_AUTH: &str = "/usr/bin/ntlm_auth";
/// The default Samba configuration of the domain member.
pub const DEFAULT_SMB_CONF: &str = "/etc/samba/smb.conf";

/// How to reach winbindd.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WinbindSettings {
    /// The ntlm_auth program and any arguments before the helper-protocol ones: normally just
    /// [`DEFAULT_NTLM_AUTH`]; a wrapper when winbindd's sockets are elsewhere (the lab's).
    pub ntlm_auth: Vec<String>,
    /// The member's smb.conf, given to ntlm_auth as `--configfile`.
    pub smb_conf: PathBuf,
    /// The most ntlm_auth processes at once (checks beyond wait for one).
    pub helpers: usize,
    /// Deadline of one check, from the call to the answer.
    pub timeout: Duration,
}

impl Default for WinbindSettings {
    fn default() -> WinbindSettings {
        WinbindSettings {
            ntlm_auth: vec![DEFAULT_NTLM_AUTH.to_owned()],
            smb_conf: PathBuf::from(DEFAULT_SMB_CONF),
            helpers: DEFAULT_WINBIND_HELPERS,
            timeout: DEFAULT_WINBIND_TIMEOUT,
        }
    }
}

/// One NT-Response to check.
pub struct NtResponseCheck<'a> {
    /// The account's bare sAMAccountName (no `DOMAIN\`, no UPN): winbind fails on other forms.
    pub account: &'a str,
    /// The domain's NetBIOS name.
    pub domain: &'a str,
    /// The 8-octet challenge the response answers: for MS-CHAPv2 the ChallengeHash of
    /// RFC 2759 §8.2.
    pub challenge: [u8; 8],
    /// The peer's 24-octet NT-Response (RFC 2759 §4).
    pub nt_response: [u8; 24],
}

/// Why the DC refused a response, as winbind says it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NtResponseRefusal {
    /// NT_STATUS_WRONG_PASSWORD: the response does not match the password. Counts towards
    /// lockout at the DC.
    WrongPassword,
    /// NT_STATUS_NO_SUCH_USER.
    NoSuchUser,
    /// NT_STATUS_ACCOUNT_DISABLED (only with the right password; a wrong one is WrongPassword).
    AccountDisabled,
    /// NT_STATUS_ACCOUNT_EXPIRED.
    AccountExpired,
    /// NT_STATUS_ACCOUNT_LOCKED_OUT.
    AccountLockedOut,
    /// NT_STATUS_PASSWORD_EXPIRED.
    PasswordExpired,
    /// NT_STATUS_PASSWORD_MUST_CHANGE.
    PasswordMustChange,
    /// NT_STATUS_INVALID_LOGON_HOURS.
    InvalidLogonHours,
    /// NT_STATUS_INVALID_WORKSTATION or NT_STATUS_ACCOUNT_RESTRICTION.
    AccountRestriction,
    /// A text this crate does not know, as winbind gave it.
    Other(String),
}

/// A check that did not succeed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NtResponseError {
    /// The DC refused it.
    #[error("refused: {0:?}")]
    Refused(NtResponseRefusal),
    /// No answer from a DC: winbindd not running or not answering in time, no DC reachable,
    /// ntlm_auth missing or broken. The login must fail closed.
    #[error("winbind unavailable: {0}")]
    Unavailable(String),
}

/// The pool of ntlm_auth helpers. Cheap to clone; clones share the pool.
#[derive(Clone)]
pub struct Winbind {
    inner: Arc<Pool>,
}

struct Pool {
    settings: WinbindSettings,
    /// One permit per helper that may exist.
    permits: Semaphore,
    /// Helpers waiting for a check (at most `settings.helpers`).
    idle: Mutex<Vec<NtlmAuthHelper>>,
}

impl Winbind {
    /// A pool with `settings`; no process is started before the first check.
    pub fn new(settings: WinbindSettings) -> Result<Winbind, ConfigError> {
        let invalid = |setting, problem| ConfigError::Invalid { setting, problem };
        if settings
            .ntlm_auth
            .first()
            .is_none_or(|program| program.trim().is_empty())
        {
            return Err(invalid("ntlm_auth", "name the ntlm_auth program"));
        }
        if settings.helpers == 0 {
            return Err(invalid("helpers", "at least 1"));
        }
        if settings.timeout.is_zero() {
            return Err(invalid("timeout", "must be above zero"));
        }
        Ok(Winbind {
            inner: Arc::new(Pool {
                permits: Semaphore::new(settings.helpers),
                idle: Mutex::new(Vec::with_capacity(settings.helpers)),
                settings,
            }),
        })
    }

    /// The settings this pool was made with.
    pub fn settings(&self) -> &WinbindSettings {
        &self.inner.settings
    }

    /// Asks the DC, through winbind, whether `check.nt_response` answers `check.challenge` for
    /// the account; on success returns the User-Session-Key (the password hash hash).
    pub async fn check_nt_response(
        &self,
        check: &NtResponseCheck<'_>,
    ) -> Result<Zeroizing<[u8; 16]>, NtResponseError> {
        let request = HelperRequest {
            account: check.account,
            domain: check.domain,
            challenge: &check.challenge,
            nt_response: &check.nt_response,
        };
        let Ok(request) = request_lines(&request) else {
            // A control character: no AD account has such a name.
            return Err(NtResponseError::Refused(NtResponseRefusal::NoSuchUser));
        };
        let timeout = self.inner.settings.timeout;
        let reply = match tokio::time::timeout(timeout, self.inner.exchange(&request)).await {
            Ok(reply) => reply,
            Err(_) => {
                warn!(
                    timeout_ms = timeout.as_millis(),
                    "winbind did not answer in time; its ntlm_auth is replaced"
                );
                return Err(NtResponseError::Unavailable(format!(
                    "no answer from winbind within {} ms",
                    timeout.as_millis()
                )));
            }
        };
        match reply {
            Ok(HelperReply::Authenticated(key)) => Ok(key),
            Ok(HelperReply::Refused(text)) => match ntstatus::verdict(&text) {
                Verdict::Refused(refusal) => {
                    debug!(account = check.account, ?refusal, "winbind refused");
                    Err(NtResponseError::Refused(refusal))
                }
                Verdict::Unavailable => {
                    warn!(winbind = %text, "winbind could not ask a domain controller");
                    Err(NtResponseError::Unavailable(text))
                }
            },
            Err(error) => {
                warn!(%error, "no answer from ntlm_auth; it is replaced");
                Err(NtResponseError::Unavailable(error.to_string()))
            }
        }
    }
}

impl Pool {
    /// One exchange on a helper of the pool. A helper that answered by the protocol goes back
    /// to the pool (unless its answer says winbind itself is unreachable: its successor starts
    /// afresh); any other is dropped, which kills it — also when the caller's deadline drops
    /// this future mid-exchange.
    async fn exchange(&self, request: &str) -> Result<HelperReply, HelperError> {
        let _permit = self
            .permits
            .acquire()
            .await
            .map_err(|_| HelperError::Gone("the pool is closed".into()))?;
        let mut helper = match self.take_idle() {
            Some(helper) => helper,
            None => NtlmAuthHelper::spawn(&self.settings)?,
        };
        let reply = match helper.exchange(request).await {
            // The helper died while idle: the request never reached winbind, so one retry on
            // a new helper cannot count twice towards a lockout.
            Err(HelperError::Gone(_)) => {
                helper = NtlmAuthHelper::spawn(&self.settings)?;
                helper.exchange(request).await?
            }
            reply => reply?,
        };
        let keep = match &reply {
            HelperReply::Refused(text) => ntstatus::verdict(text) != Verdict::Unavailable,
            HelperReply::Authenticated(_) => true,
        };
        if keep {
            self.idle
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .push(helper);
        }
        Ok(reply)
    }

    /// An idle helper whose process still runs; exited ones are dropped.
    fn take_idle(&self) -> Option<NtlmAuthHelper> {
        let mut idle = self.idle.lock().unwrap_or_else(PoisonError::into_inner);
        while let Some(mut helper) = idle.pop() {
            if !helper.has_exited() {
                return Some(helper);
            }
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use std::time::Instant;

    use super::*;

    /// A pool whose "ntlm_auth" is `script` run by sh (our arguments follow as $1…); the file
    /// `spawns` gets a line for every process started.
    fn fake(script: &str, timeout: Duration) -> (Winbind, tempfile::TempDir) {
        let dir = tempfile::tempdir().unwrap();
        let spawns = dir.path().join("spawns");
        let script = format!("echo started >> '{}'\n{script}", spawns.display());
        let winbind = Winbind::new(WinbindSettings {
            ntlm_auth: vec!["sh".into(), "-c".into(), script, "fake-ntlm_auth".into()],
            smb_conf: "/nonexistent/smb.conf".into(),
            helpers: 2,
            timeout,
        })
        .unwrap();
        (winbind, dir)
    }

    fn spawns(dir: &tempfile::TempDir) -> usize {
        std::fs::read_to_string(dir.path().join("spawns"))
            .unwrap_or_default()
            .lines()
            .count()
    }

    const CHECK: NtResponseCheck<'static> = NtResponseCheck {
        account: "alice",
        domain: "CORP",
        challenge: [1; 8],
        nt_response: [2; 24],
    };

    /// Answers every request with `reply` (printf format, \n escapes).
    fn answering(reply: &str) -> String {
        format!("while read -r line; do [ \"$line\" = . ] && printf '{reply}'; done")
    }

    #[tokio::test]
    async fn an_accept_returns_the_key_and_the_helper_is_kept() {
        let (winbind, dir) = fake(
            &answering(
                "Authenticated: Yes\\nUser-Session-Key: 000102030405060708090a0b0c0d0e0f\\n.\\n",
            ),
            Duration::from_secs(5),
        );
        for _ in 0..3 {
            let key = winbind.check_nt_response(&CHECK).await.unwrap();
            assert_eq!(*key, core::array::from_fn::<u8, 16, _>(|i| i as u8));
        }
        assert_eq!(spawns(&dir), 1, "one process served all three checks");
    }

    #[tokio::test]
    async fn a_refusal_is_mapped_and_its_second_dot_read() {
        let (winbind, dir) = fake(
            &answering(
                "Authenticated: No\\nAuthentication-Error: The specified account does not \
                 exist.\\n.\\n.\\n",
            ),
            Duration::from_secs(5),
        );
        for _ in 0..2 {
            assert_eq!(
                winbind.check_nt_response(&CHECK).await,
                Err(NtResponseError::Refused(NtResponseRefusal::NoSuchUser))
            );
        }
        assert_eq!(spawns(&dir), 1);
    }

    #[tokio::test]
    async fn winbindd_not_answering_is_unavailable_and_the_helper_replaced() {
        let (winbind, dir) = fake(
            &answering(
                "Authenticated: No\\nAuthentication-Error: Reading winbind reply failed!\\n.\\n.\\n",
            ),
            Duration::from_secs(5),
        );
        for _ in 0..2 {
            assert!(matches!(
                winbind.check_nt_response(&CHECK).await,
                Err(NtResponseError::Unavailable(_))
            ));
        }
        assert_eq!(
            spawns(&dir),
            2,
            "a fresh helper after winbindd was unreachable"
        );
    }

    #[tokio::test]
    async fn a_hung_helper_is_unavailable_within_the_timeout_and_replaced() {
        let (winbind, dir) = fake("sleep 30", Duration::from_millis(300));
        let started = Instant::now();
        let results = tokio::join!(
            winbind.check_nt_response(&CHECK),
            winbind.check_nt_response(&CHECK),
            winbind.check_nt_response(&CHECK),
        );
        assert!(
            started.elapsed() < Duration::from_millis(1500),
            "{:?}",
            started.elapsed()
        );
        for result in [results.0, results.1, results.2] {
            assert!(matches!(result, Err(NtResponseError::Unavailable(_))));
        }
        // The third waited for a helper (the pool holds two) and ran out of time doing so, or
        // got one freed at the deadline: never more than the three calls.
        let before = spawns(&dir);
        assert!((2..=3).contains(&before), "{before}");
        let _ = winbind.check_nt_response(&CHECK).await;
        assert_eq!(spawns(&dir), before + 1, "the hung helpers were not reused");
    }

    #[tokio::test]
    async fn a_helper_that_died_is_replaced_without_failing_the_check() {
        // Answers one request, then exits.
        let (winbind, dir) = fake(
            "while read -r line; do [ \"$line\" = . ] && break; done; \
             printf 'Authenticated: Yes\\nUser-Session-Key: 000102030405060708090a0b0c0d0e0f\\n.\\n'",
            Duration::from_secs(5),
        );
        assert!(winbind.check_nt_response(&CHECK).await.is_ok());
        tokio::time::sleep(Duration::from_millis(100)).await;
        assert!(winbind.check_nt_response(&CHECK).await.is_ok());
        assert_eq!(spawns(&dir), 2);
    }

    #[tokio::test]
    async fn a_missing_program_is_unavailable() {
        let winbind = Winbind::new(WinbindSettings {
            ntlm_auth: vec!["/nonexistent/ntlm_auth".into()],
            ..WinbindSettings::default()
        })
        .unwrap();
        let error = winbind.check_nt_response(&CHECK).await.unwrap_err();
        assert!(
            matches!(&error, NtResponseError::Unavailable(why) if why.contains("/nonexistent/ntlm_auth")),
            "{error:?}"
        );
    }

    #[tokio::test]
    async fn off_protocol_replies_are_unavailable() {
        let (winbind, _dir) = fake(
            &answering("Error: Parameter not found!\\n.\\n"),
            Duration::from_secs(5),
        );
        assert!(matches!(
            winbind.check_nt_response(&CHECK).await,
            Err(NtResponseError::Unavailable(_))
        ));
    }

    #[test]
    fn settings_that_cannot_work_are_refused() {
        let good = WinbindSettings::default;
        assert!(Winbind::new(good()).is_ok());
        for settings in [
            WinbindSettings {
                ntlm_auth: Vec::new(),
                ..good()
            },
            WinbindSettings {
                ntlm_auth: vec![" ".into()],
                ..good()
            },
            WinbindSettings {
                helpers: 0,
                ..good()
            },
            WinbindSettings {
                timeout: Duration::ZERO,
                ..good()
            },
        ] {
            assert!(Winbind::new(settings).is_err());
        }
    }
}
