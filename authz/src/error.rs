//! Everything that can go wrong while asking the directory, in words an administrator can act
//! on.
//!
//! Every one of these turns a login into a `directory_unavailable` rejection (fail closed) and
//! is logged; none of them ever leads to an accept. A re-check of a live session that meets one
//! keeps the session (an outage must not cut tunnels): see [`RecheckError`]. The errors are
//! `Clone` because a failed reconnect is reported to every request that waited for it.

use std::future::Future;
use std::time::Duration;

use ldap3::LdapError;

/// A failure to get a trustworthy answer from the directory.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DirectoryError {
    #[error("{url}: cannot connect: {detail}")]
    Connect { url: String, detail: String },

    #[error("{url}: cannot connect: no answer within {timeout:?}")]
    ConnectTimeout { url: String, timeout: Duration },

    #[error(
        "{url}: the DC certificate is not valid for the name {host}. rustls checks only the \
         certificate's subjectAltName extension, never the subject CN: the DC certificate needs \
         subjectAltName {san} (AD CS's Kerberos Authentication / Domain Controller \
         Authentication templates include the DC's DNS name), or the URL must use a name the \
         certificate lists"
    )]
    CertificateLacksName {
        url: String,
        host: String,
        san: String,
    },

    #[error(
        "{url}: the DC certificate was not issued by a CA in ca_file {ca_file}; put the CA that \
         issued the DC certificate (PEM) in that file"
    )]
    UntrustedCertificate { url: String, ca_file: String },

    #[error("{url}: TLS handshake failed: {detail}")]
    Tls { url: String, detail: String },

    #[error("{url}: the directory refused the service account {bind_dn}: {diagnostic}")]
    ServiceBindRefused {
        url: String,
        bind_dn: String,
        diagnostic: String,
    },

    #[error("{operation} timed out after {timeout:?}")]
    Timeout {
        operation: &'static str,
        timeout: Duration,
    },

    #[error("{operation}: the connection to the directory was lost: {detail}")]
    ConnectionLost {
        operation: &'static str,
        detail: String,
    },

    #[error("{operation}: the directory answered with LDAP result {rc}: {text}")]
    Refused {
        operation: &'static str,
        rc: u32,
        text: String,
    },

    #[error("{operation}: unusable answer from the directory: {detail}")]
    Malformed {
        operation: &'static str,
        detail: String,
    },

    #[error(
        "{dn}: attribute {attribute} was not returned (is it readable by the service account?)"
    )]
    MissingAttribute { dn: String, attribute: &'static str },

    #[error("{dn}: attribute {attribute} is malformed: {detail}")]
    MalformedAttribute {
        dn: String,
        attribute: &'static str,
        detail: String,
    },

    #[error("the telework group {dn} does not exist (or the service account cannot read it)")]
    GroupMissing { dn: String },

    #[error("all {size} user-bind connections stayed busy for {timeout:?}")]
    BindPoolBusy { size: usize, timeout: Duration },

    #[error("no domain controller found in DNS: {detail}")]
    NoDcFound { detail: String },

    #[error("no directory server usable: {}", join(.failures))]
    NoServer { failures: Vec<DirectoryError> },

    #[error("not retried: the reconnect a moment ago failed: {0}")]
    RecentFailure(Box<DirectoryError>),

    #[error("{text:?} is not an objectGUID in text form (8-4-4-4-12 hex digits)")]
    NotAGuid { text: String },
}

/// Why [`Authorizer::recheck`](crate::Authorizer::recheck) has no answer: no domain controller
/// answered in time, an answer could not be trusted (an attribute missing or malformed), the
/// telework group does not exist, or the GUID given is not one. The message names the cause.
/// The caller keeps the session and asks again later.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(transparent)]
pub struct RecheckError(#[from] DirectoryError);

/// Why [`Authorizer::read_posture`](crate::Authorizer::read_posture) could not read what
/// `check-ad` judges: AD could not be asked, an attribute is missing or malformed, or the
/// telework group does not exist. The message names the cause.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(transparent)]
pub struct PostureReadError(#[from] DirectoryError);

fn join(failures: &[DirectoryError]) -> String {
    let texts: Vec<String> = failures.iter().map(ToString::to_string).collect();
    texts.join("; ")
}

impl DirectoryError {
    /// Translate an ldap3 error from `operation` on an established connection.
    pub(crate) fn from_ldap(operation: &'static str, error: LdapError) -> DirectoryError {
        match error {
            LdapError::LdapResult { result } => DirectoryError::Refused {
                operation,
                rc: result.rc,
                text: result.text,
            },
            error @ (LdapError::Io { .. }
            | LdapError::OpSend { .. }
            | LdapError::ResultRecv { .. }
            | LdapError::EndOfStream
            | LdapError::Timeout { .. }) => DirectoryError::ConnectionLost {
                operation,
                detail: error.to_string(),
            },
            error => DirectoryError::Malformed {
                operation,
                detail: error.to_string(),
            },
        }
    }

    /// Whether the connection the error came from can no longer be trusted and must be
    /// replaced. Only a complete LDAP answer (a result code) leaves the connection usable.
    pub(crate) fn breaks_connection(&self) -> bool {
        !matches!(self, DirectoryError::Refused { .. })
    }
}

/// Run one LDAP operation under `timeout`, translating its error.
pub(crate) async fn within<T>(
    timeout: Duration,
    operation: &'static str,
    future: impl Future<Output = Result<T, LdapError>>,
) -> Result<T, DirectoryError> {
    match tokio::time::timeout(timeout, future).await {
        Ok(Ok(value)) => Ok(value),
        Ok(Err(error)) => Err(DirectoryError::from_ldap(operation, error)),
        Err(_) => Err(DirectoryError::Timeout { operation, timeout }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn within_times_out() {
        let slow = async {
            tokio::time::sleep(Duration::from_secs(10)).await;
            Ok::<(), LdapError>(())
        };
        let error = within(Duration::from_secs(1), "user search", slow)
            .await
            .unwrap_err();
        assert_eq!(error.to_string(), "user search timed out after 1s");
        assert!(error.breaks_connection());
    }

    #[test]
    fn only_a_result_code_keeps_the_connection() {
        let refused = DirectoryError::from_ldap(
            "user search",
            LdapError::LdapResult {
                result: ldap3::LdapResult {
                    rc: 50,
                    matched: String::new(),
                    text: "insufficient access".into(),
                    refs: vec![],
                    ctrls: vec![],
                },
            },
        );
        assert!(!refused.breaks_connection());
        assert_eq!(
            refused.to_string(),
            "user search: the directory answered with LDAP result 50: insufficient access"
        );
        let lost = DirectoryError::from_ldap("user bind", LdapError::EndOfStream);
        assert!(matches!(lost, DirectoryError::ConnectionLost { .. }));
        assert!(lost.breaks_connection());
    }

    #[test]
    fn no_server_lists_every_failure() {
        let error = DirectoryError::NoServer {
            failures: vec![
                DirectoryError::Connect {
                    url: "ldaps://dc1:636".into(),
                    detail: "connection refused".into(),
                },
                DirectoryError::Connect {
                    url: "ldaps://dc2:636".into(),
                    detail: "no answer within 2s".into(),
                },
            ],
        };
        assert_eq!(
            error.to_string(),
            "no directory server usable: ldaps://dc1:636: cannot connect: connection refused; \
             ldaps://dc2:636: cannot connect: no answer within 2s"
        );
    }
}
