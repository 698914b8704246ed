//! The domain's NetBIOS name (`CORP`), the only `DOMAIN\` a `CORP\alice` User-Name may carry:
//! configured (`netbios_domain`, which wins and is never looked up), or read from AD — as an
//! AD admin expects, since AD knows it. The domain's crossRef object, in the Partitions
//! container of the configuration naming context, holds it in `nETBIOSName` (MS-ADTS, crossRef
//! objects); the domain is the rootDSE's `defaultNamingContext` on the DC the service
//! connection uses, matched by the crossRef's `nCName`.
//!
//! The name is read once, on first need: at start when [`Directory::discover`] runs, or by the
//! first `DOMAIN\user` login, with the directory's timeout for each of its two searches
//! (rootDSE, crossRef) on the service connection. Concurrent askers wait for the one read. A
//! read that fails (AD down) is not remembered: the login that needed it is refused as
//! `directory_unavailable`, as any login is while AD is down, and the next one reads again.
//! Once read, the name is kept for the life of the directory (a reload reads it again), so a
//! `DOMAIN\user` login costs no more searches than any other.
//!
//! [`Directory::discover`]: crate::Directory::discover

use ldap3::Scope;
use tokio::sync::OnceCell;
use tracing::{info, warn};

use crate::entry::Entry;
use crate::error::DirectoryError;
use crate::filter::escape_value;
use crate::service_connection::{Search, ServiceConnection};

const ROOT_DSE_READ: &str = "rootDSE read";
const CROSS_REF_SEARCH: &str = "NetBIOS domain name search";

/// The NetBIOS domain name: configured, or read from AD on first need.
pub(crate) enum NetbiosDomain {
    Configured(String),
    /// `None` inside once AD was asked and has no NetBIOS name for the domain.
    FromDirectory(OnceCell<Option<String>>),
}

impl NetbiosDomain {
    pub(crate) fn new(configured: Option<String>) -> NetbiosDomain {
        match configured {
            Some(name) => NetbiosDomain::Configured(name),
            None => NetbiosDomain::FromDirectory(OnceCell::new()),
        }
    }

    /// The name, read from AD over `service` if it is not configured and not read yet.
    pub(crate) async fn get(
        &self,
        service: &ServiceConnection,
    ) -> Result<Option<&str>, DirectoryError> {
        match self {
            NetbiosDomain::Configured(name) => Ok(Some(name)),
            NetbiosDomain::FromDirectory(read) => read
                .get_or_try_init(|| read_from_directory(service))
                .await
                .map(Option::as_deref),
        }
    }
}

/// Reads the NetBIOS name of the domain the service connection's DC holds; `None` (and a
/// warning) when no crossRef names one.
async fn read_from_directory(
    service: &ServiceConnection,
) -> Result<Option<String>, DirectoryError> {
    let root_dse = service
        .search(&Search {
            operation: ROOT_DSE_READ,
            base: "",
            scope: Scope::Base,
            filter: "(objectClass=*)",
            attributes: &["configurationNamingContext", "defaultNamingContext"],
            size_limit: 1,
        })
        .await?;
    let root_dse = only_entry(ROOT_DSE_READ, root_dse)?;
    let configuration = single_text(ROOT_DSE_READ, &root_dse, "configurationNamingContext")?;
    let domain = single_text(ROOT_DSE_READ, &root_dse, "defaultNamingContext")?;
    let partitions = format!("CN=Partitions,{configuration}");
    let filter = format!(
        "(&(objectClass=crossRef)(nCName={})(nETBIOSName=*))",
        escape_value(&domain)
    );
    let cross_refs = service
        .search(&Search {
            operation: CROSS_REF_SEARCH,
            base: &partitions,
            scope: Scope::OneLevel,
            filter: &filter,
            attributes: &["nETBIOSName"],
            size_limit: 1,
        })
        .await?;
    let Some(cross_ref) = cross_refs.into_iter().next() else {
        warn!(
            naming_context = %domain,
            partitions = %partitions,
            "AD names no NetBIOS name for the domain: DOMAIN\\user names are refused; set \
             directory.netbios_domain"
        );
        return Ok(None);
    };
    let cross_ref = parse(CROSS_REF_SEARCH, cross_ref)?;
    let name = single_text(CROSS_REF_SEARCH, &cross_ref, "nETBIOSName")?;
    if name.is_empty() || name.contains(['\\', '@']) {
        return Err(DirectoryError::MalformedAttribute {
            dn: cross_ref.dn,
            attribute: "nETBIOSName",
            detail: format!("{name:?} is not a NetBIOS domain name"),
        });
    }
    info!(
        netbios_domain = %name,
        naming_context = %domain,
        "NetBIOS domain name read from AD: DOMAIN\\user names are accepted for it"
    );
    Ok(Some(name))
}

fn only_entry(
    operation: &'static str,
    entries: Vec<ldap3::ResultEntry>,
) -> Result<Entry, DirectoryError> {
    let entry = entries
        .into_iter()
        .next()
        .ok_or_else(|| DirectoryError::Malformed {
            operation,
            detail: "no entry".into(),
        })?;
    parse(operation, entry)
}

fn parse(operation: &'static str, entry: ldap3::ResultEntry) -> Result<Entry, DirectoryError> {
    Entry::parse(entry).map_err(|detail| DirectoryError::Malformed { operation, detail })
}

/// The one value of `attribute`, as text.
fn single_text(
    operation: &'static str,
    entry: &Entry,
    attribute: &'static str,
) -> Result<String, DirectoryError> {
    match entry.values(attribute) {
        [value] => String::from_utf8(value.clone()).map_err(|_| DirectoryError::Malformed {
            operation,
            detail: format!("{attribute} is not UTF-8"),
        }),
        values => Err(DirectoryError::Malformed {
            operation,
            detail: format!("{} values of {attribute}, expected one", values.len()),
        }),
    }
}
