//! Active Directory as adgate asks it: find an account, test group membership, check a
//! password. Gathers facts; judges nothing.
//!
//! Searches run on the shared [`ServiceConnection`]; password binds on the separate
//! [`BindPool`]. Nothing is cached: every login reads AD afresh, so disabling an account or
//! removing it from a group takes effect on the very next request.

use std::sync::Arc;

use ldap3::Scope;
use tracing::{debug, info, warn};

use crate::account::{Account, ATTRIBUTES};
use crate::bind_pool::BindPool;
use crate::bind_result::bind_decision;
use crate::connector::{Connector, DcSource};
use crate::dc_discovery::Resolvers;
use crate::dc_health::DcHealth;
use crate::dn;
use crate::entry::Entry;
use crate::error::DirectoryError;
use crate::filter::{member_of_filter, member_user_filter, user_filter, Membership};
use crate::netbios_domain::NetbiosDomain;
use crate::service_account::ServiceAccount;
use crate::service_connection::{Search, ServiceConnection};
use crate::user_name::LogonName;
use crate::{ConfigError, Decision, DirectoryConfig};

/// Ask for no attributes (RFC 4511 §4.5.1.8).
const NO_ATTRIBUTES: &[&str] = &["1.1"];

/// The result of looking a logon name up.
#[derive(Debug)]
pub enum Lookup {
    NotFound,
    /// More than one account matched (the search stops at two).
    Ambiguous,
    Found(Box<Account>),
}

/// A connection to Active Directory: the service connection for searches and a pool for
/// password binds, both connected lazily.
pub struct Directory {
    pub(crate) account: Arc<ServiceAccount>,
    pub(crate) base_dn: String,
    netbios_domain: NetbiosDomain,
    pub(crate) service: ServiceConnection,
    binds: BindPool,
    pub(crate) connector: Arc<Connector>,
    health: DcHealth,
}

impl Directory {
    /// Validate `config` and load the CA. No domain controller is contacted: connections are
    /// made on first use and remade whenever they break, so adgate can start while AD is down.
    pub fn new(config: DirectoryConfig) -> Result<Directory, ConfigError> {
        Directory::with_dc_health(config, DcHealth::new())
    }

    /// As [`Directory::new`], keeping the domain controllers' health in `health`: pass the
    /// handle of the directory this one replaces (configuration reload) so that its error
    /// counts and what it knew about DCs that are down carry over.
    pub fn with_dc_health(
        config: DirectoryConfig,
        health: DcHealth,
    ) -> Result<Directory, ConfigError> {
        Directory::build(config, health, Resolvers::System)
    }

    /// As [`Directory::with_dc_health`], asking `resolvers` for a domain's DCs.
    pub(crate) fn build(
        config: DirectoryConfig,
        health: DcHealth,
        resolvers: Resolvers,
    ) -> Result<Directory, ConfigError> {
        let DirectoryConfig {
            urls,
            domain,
            ca_file,
            bind_dn,
            bind_password,
            base_dn,
            netbios_domain,
            timeout,
            starttls,
            allow_plain_ldap,
            user_bind_connections,
        } = config;
        let invalid = |setting, problem| Err(ConfigError::Invalid { setting, problem });
        if bind_dn.trim().is_empty() {
            return invalid("bind_dn", "must name the service account");
        }
        if bind_password.is_empty() {
            // An empty-password simple bind is an anonymous bind in AD.
            return invalid("bind_password", "must not be empty");
        }
        if !base_dn.contains('=') {
            return invalid("base_dn", "must be a DN such as DC=corp,DC=example,DC=com");
        }
        if let Some(domain) = &netbios_domain {
            if domain.is_empty() || domain.contains(['\\', '@']) {
                return invalid("netbios_domain", "must be a bare NetBIOS name such as CORP");
            }
        }
        if timeout.is_zero() {
            return invalid("timeout", "must be greater than zero");
        }
        if user_bind_connections == 0 {
            return invalid("user_bind_connections", "must be at least 1");
        }
        let source = match (urls.is_empty(), &domain) {
            (true, Some(domain)) => DcSource::Domain { domain, resolvers },
            (false, Some(domain)) => {
                info!(
                    %domain,
                    urls = urls.len(),
                    "directory: both urls and domain are set; the urls are used, DNS is not asked"
                );
                DcSource::Urls(&urls)
            }
            (_, None) => DcSource::Urls(&urls),
        };
        let connector = Connector::new(
            source,
            &ca_file,
            timeout,
            starttls,
            allow_plain_ldap,
            health.clone(),
        )?;
        let account = Arc::new(ServiceAccount::new(bind_dn, bind_password));
        Ok(Directory {
            account: account.clone(),
            base_dn,
            netbios_domain: NetbiosDomain::new(netbios_domain),
            service: ServiceConnection::new(connector.clone(), account.clone()),
            binds: BindPool::new(connector.clone(), user_bind_connections),
            connector,
            health,
        })
    }

    /// The configured domain controllers' health and error counts (for metrics).
    pub fn dc_health(&self) -> DcHealth {
        self.health.clone()
    }

    /// The URL of the first domain controller that accepted a connection when the readiness
    /// probe last looked, at most [`READINESS_PROBE`](crate::READINESS_PROBE) ago, if any (for
    /// readiness probes; see `Connector::reachable`).
    pub async fn first_reachable_dc(&self) -> Option<String> {
        self.connector.reachable().await
    }

    /// The NetBIOS domain name `DOMAIN\user` names may carry: configured, or read from AD on
    /// first need (see `netbios_domain.rs`); `None` when AD names none.
    pub(crate) async fn netbios_domain(&self) -> Result<Option<&str>, DirectoryError> {
        self.netbios_domain.get(&self.service).await
    }

    /// Finds now what the configuration left to AD, logging what it finds: the domain
    /// controllers of `domain` (DNS SRV; logged by the discovery) and the NetBIOS domain name
    /// (read from AD unless `netbios_domain` is set). Never fails: what cannot be found now is
    /// logged and looked for again when a login needs it.
    pub async fn discover(&self) {
        if self.connector.servers().await.is_empty() {
            return;
        }
        if let Err(error) = self.netbios_domain().await {
            warn!(
                %error,
                "NetBIOS domain name not read from AD yet; the first DOMAIN\\user login reads it"
            );
        }
    }

    /// Find the user account for `name` under the base DN.
    pub(crate) async fn find_account(&self, name: &LogonName) -> Result<Lookup, DirectoryError> {
        self.find_account_matching(&user_filter(name)).await
    }

    /// Find the user account for `name` under the base DN if its memberships are
    /// `memberships`, nested groups counting: one indexed search with in-chain conditions.
    pub(crate) async fn find_member_account(
        &self,
        name: &LogonName,
        memberships: &[Membership<'_>],
    ) -> Result<Lookup, DirectoryError> {
        self.find_account_matching(&member_user_filter(name, memberships))
            .await
    }

    /// Find the one user account `filter` matches under the base DN.
    pub(crate) async fn find_account_matching(
        &self,
        filter: &str,
    ) -> Result<Lookup, DirectoryError> {
        debug!(%filter, "searching for the account");
        let mut entries = self
            .service
            .search(&Search {
                operation: "user search",
                base: &self.base_dn,
                scope: Scope::Subtree,
                filter,
                attributes: ATTRIBUTES,
                size_limit: 2,
            })
            .await?;
        match entries.len() {
            0 => Ok(Lookup::NotFound),
            1 => {
                let entry = Entry::parse(entries.remove(0)).map_err(|detail| {
                    DirectoryError::Malformed {
                        operation: "user search",
                        detail,
                    }
                })?;
                let account = Account::from_entry(&entry)?;
                debug!(dn = %account.summary.dn, "account found");
                Ok(Lookup::Found(Box::new(account)))
            }
            _ => Ok(Lookup::Ambiguous),
        }
    }

    /// The user account whose objectGUID is `guid` (canonical text form) if it matches `filter`:
    /// one base search on `<GUID=…>` (MS-ADTS 3.1.1.3.1.2.4; AD and Samba take the dashed
    /// form). `None` when nothing matches, when no such object exists (deleted objects are not
    /// found without the show-deleted control), and when the object lies outside the base DN,
    /// where a login's user search would not find it either.
    pub(crate) async fn account_by_guid(
        &self,
        guid: &str,
        filter: &str,
    ) -> Result<Option<Account>, DirectoryError> {
        const OPERATION: &str = "search by objectGUID";
        let base = format!("<GUID={guid}>");
        let entries = self
            .service
            .search(&Search {
                operation: OPERATION,
                base: &base,
                scope: Scope::Base,
                filter,
                attributes: ATTRIBUTES,
                size_limit: 1,
            })
            .await?;
        let Some(entry) = entries.into_iter().next() else {
            return Ok(None);
        };
        let entry = Entry::parse(entry).map_err(|detail| DirectoryError::Malformed {
            operation: OPERATION,
            detail,
        })?;
        if !dn::is_within(&entry.dn, &self.base_dn) {
            debug!(guid, dn = %entry.dn, base_dn = %self.base_dn, "object outside the base DN");
            return Ok(None);
        }
        Account::from_entry(&entry).map(Some)
    }

    /// Whether the object `dn` is a member of `group_dn`, directly or through nested groups.
    pub(crate) async fn is_member(&self, dn: &str, group_dn: &str) -> Result<bool, DirectoryError> {
        let filter = member_of_filter(group_dn);
        let entries = self
            .service
            .search(&Search {
                operation: "membership search",
                base: dn,
                scope: Scope::Base,
                filter: &filter,
                attributes: NO_ATTRIBUTES,
                size_limit: 1,
            })
            .await?;
        debug!(
            dn,
            group_dn,
            member = !entries.is_empty(),
            "membership checked"
        );
        Ok(!entries.is_empty())
    }

    /// The groups the object `dn` is a direct member of (`memberOf`; AD does not list the
    /// primary group there). For `explain`'s group path, never on the login path.
    pub(crate) async fn direct_groups(&self, dn: &str) -> Result<Vec<String>, DirectoryError> {
        const OPERATION: &str = "group path search";
        let entries = self
            .service
            .search(&Search {
                operation: OPERATION,
                base: dn,
                scope: Scope::Base,
                filter: "(objectClass=*)",
                attributes: &["memberOf"],
                size_limit: 1,
            })
            .await?;
        let malformed = |detail| DirectoryError::Malformed {
            operation: OPERATION,
            detail,
        };
        let Some(entry) = entries.into_iter().next() else {
            return Ok(Vec::new());
        };
        let entry = Entry::parse(entry).map_err(malformed)?;
        entry
            .values("memberOf")
            .iter()
            .map(|value| {
                String::from_utf8(value.clone())
                    .map_err(|_| malformed("memberOf is not UTF-8".into()))
            })
            .collect()
    }

    /// Whether an object `dn` exists (and is visible to the service account).
    pub(crate) async fn exists(&self, dn: &str) -> Result<bool, DirectoryError> {
        let entries = self
            .service
            .search(&Search {
                operation: "existence check",
                base: dn,
                scope: Scope::Base,
                filter: "(objectClass=*)",
                attributes: NO_ATTRIBUTES,
                size_limit: 1,
            })
            .await?;
        Ok(!entries.is_empty())
    }

    /// Check `password` with a simple bind as `dn` on a user-bind connection.
    pub(crate) async fn check_password(
        &self,
        dn: &str,
        password: &str,
    ) -> Result<Decision, DirectoryError> {
        debug!(dn, "binding as the user");
        let result = self.binds.bind(dn, password).await?;
        debug!(dn, rc = result.rc, diagnostic = %result.text, "user bind answered");
        bind_decision(result.rc, &result.text).ok_or(DirectoryError::Refused {
            operation: "user bind",
            rc: result.rc,
            text: result.text,
        })
    }
}
