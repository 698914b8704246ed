//! The settings of the directory connection and of the policy, and what is wrong with them.
//!
//! The binary fills these from its configuration file; [`Directory::new`](crate::Directory::new)
//! validates the directory settings at startup so that a typo is a startup error, not a stream
//! of rejected logins.

use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

use zeroize::Zeroizing;

use crate::ReplyRule;

/// The default size of the user-bind connection pool.
pub const DEFAULT_USER_BIND_CONNECTIONS: usize = 4;

/// How to reach and authenticate to Active Directory.
#[derive(Clone)]
pub struct DirectoryConfig {
    /// LDAP URLs of the domain controllers, tried in order (failover): `ldaps://host[:port]`, or
    /// `ldap://host[:port]` with `starttls` (or, for development only, `allow_plain_ldap`).
    /// May be empty when `domain` is set; when both are set, the URLs are used.
    pub urls: Vec<String>,
    /// The AD domain's DNS name (`corp.example.test`): without `urls`, the domain controllers
    /// are the ones DNS names in the SRV records `_ldap._tcp.dc._msdcs.<domain>`, reached over
    /// LDAPS on port 636 (or with `starttls`, on the port the record names), kept up to date.
    pub domain: Option<String>,
    /// PEM file with the CA certificate(s) that issued the DC certificates. It is the only
    /// trust anchor: the system's CA store is not used.
    pub ca_file: PathBuf,
    /// DN of the service account used to look users up.
    pub bind_dn: String,
    /// Password of the service account.
    pub bind_password: Zeroizing<String>,
    /// Where users are searched (subtree), e.g. `DC=corp,DC=example,DC=test`.
    pub base_dn: String,
    /// The domain's NetBIOS name (e.g. `CORP`); `DOMAIN\user` names are accepted only for it.
    /// `None`: read from AD (the domain's crossRef `nETBIOSName`) on first need.
    pub netbios_domain: Option<String>,
    /// Limit for each step: connecting (TCP + TLS) to one server, and each LDAP operation.
    pub timeout: Duration,
    /// Upgrade `ldap://` URLs with StartTLS.
    pub starttls: bool,
    /// Permit `ldap://` without StartTLS (passwords in clear text!). Development only.
    pub allow_plain_ldap: bool,
    /// Connections kept for password binds ([`DEFAULT_USER_BIND_CONNECTIONS`] is a good start).
    pub user_bind_connections: usize,
}

impl fmt::Debug for DirectoryConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DirectoryConfig")
            .field("urls", &self.urls)
            .field("domain", &self.domain)
            .field("ca_file", &self.ca_file)
            .field("bind_dn", &self.bind_dn)
            .field("bind_password", &"<redacted>")
            .field("base_dn", &self.base_dn)
            .field("netbios_domain", &self.netbios_domain)
            .field("timeout", &self.timeout)
            .field("starttls", &self.starttls)
            .field("allow_plain_ldap", &self.allow_plain_ldap)
            .field("user_bind_connections", &self.user_bind_connections)
            .finish()
    }
}

/// The access policy's settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyConfig {
    /// DN of the group whose (nested) members may work from home.
    pub telework_group: String,
    /// Attributes accepted logins carry by group (`[[policy.reply]]`), in file order.
    pub reply: Vec<ReplyRule>,
}

/// A setting that cannot work, said so that the administrator knows what to change.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// Neither `urls` nor `domain` is set.
    #[error(
        "no domain controller configured: set urls (the DCs' LDAP URLs), or domain (the AD \
         domain's DNS name, to find the DCs in DNS)"
    )]
    NoUrls,
    /// A URL does not parse, is not `ldap://` / `ldaps://` with a host and nothing else, or is
    /// listed twice.
    #[error("directory URL {url:?}: {problem}")]
    BadUrl {
        /// The URL as configured.
        url: String,
        /// What is wrong with it.
        problem: String,
    },
    /// An `ldap://` URL without StartTLS, and plain LDAP is not allowed.
    #[error(
        "directory URL {url:?} would send passwords in clear text: use ldaps://, or set \
         starttls = true (allow_plain_ldap exists for development only)"
    )]
    PlainLdapRefused {
        /// The URL as configured.
        url: String,
    },
    /// The CA file cannot be read or holds no usable certificate.
    #[error("ca_file {path}: {problem}")]
    CaFile {
        /// The configured path.
        path: PathBuf,
        /// What is wrong with it.
        problem: String,
    },
    /// A required text setting is empty or malformed.
    #[error("{setting}: {problem}")]
    Invalid {
        /// The setting's name.
        setting: &'static str,
        /// What is wrong with it.
        problem: &'static str,
    },
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_redacts_the_bind_password() {
        let config = DirectoryConfig {
            urls: vec!["ldaps://dc1.corp.example.test".into()],
            domain: None,
            ca_file: "/etc/adgate/ca.pem".into(),
            bind_dn: "CN=svc-adgate,CN=Users,DC=corp".into(),
            bind_password: Zeroizing::new("hunter2-secret".into()),
            base_dn: "DC=corp".into(),
            netbios_domain: Some("CORP".into()),
            timeout: Duration::from_secs(3),
            starttls: false,
            allow_plain_ldap: false,
            user_bind_connections: DEFAULT_USER_BIND_CONNECTIONS,
        };
        let debug = format!("{config:?}");
        assert!(!debug.contains("hunter2"), "{debug}");
        assert!(debug.contains("<redacted>"));
        assert!(debug.contains("svc-adgate"));
    }
}
