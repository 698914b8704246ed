//! The one long-lived connection bound as the service account, on which all searches run.
//!
//! ldap3 multiplexes: every request clones the handle and runs its searches concurrently on
//! the same TCP/TLS session, so the DC pays for one TLS handshake and one bind in total. The
//! connection is made lazily and replaced when it breaks; only one request at a time
//! reconnects, and requests that waited for a reconnect that failed are refused at once
//! instead of each trying again (the DC being down should not multiply the wait). It is also
//! replaced when new connections would go to another DC (failover, or the preferred DC back).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use ldap3::adapters::{Adapter, EntriesOnly, PagedResults};
use ldap3::{Ldap, ResultEntry, Scope, SearchOptions};
use tokio::sync::Mutex;
use tracing::debug;

use crate::connector::{Connection, Connector};
use crate::error::{within, DirectoryError};
use crate::server::Server;
use crate::service_account::ServiceAccount;

/// Entries per page of an unlimited search.
const PAGE_SIZE: i32 = 500;

/// LDAP result codes a search may end with and still have answered the question.
const SUCCESS: u32 = 0;
const SIZE_LIMIT_EXCEEDED: u32 = 4;
const NO_SUCH_OBJECT: u32 = 32;

/// A search to run on the service connection.
pub(crate) struct Search<'a> {
    /// What the search is for, in log and error messages.
    pub(crate) operation: &'static str,
    pub(crate) base: &'a str,
    pub(crate) scope: Scope,
    pub(crate) filter: &'a str,
    pub(crate) attributes: &'a [&'a str],
    /// Stop after this many entries (the DC then reports sizeLimitExceeded); 0: every entry,
    /// fetched in pages (RFC 2696) so that the DC's own limit (AD's MaxPageSize, 1000) does not
    /// cut the answer short, which is then an error rather than a silently partial answer.
    pub(crate) size_limit: i32,
}

/// The shared, service-account-bound connection.
pub(crate) struct ServiceConnection {
    connector: Arc<Connector>,
    account: Arc<ServiceAccount>,
    current: Mutex<Current>,
    /// Counts reconnect attempts; a waiter that sees it move knows someone just tried.
    attempts: AtomicU64,
}

#[derive(Default)]
struct Current {
    /// The live connection and its attempt number (to replace only the one that broke).
    connection: Option<(u64, Connection)>,
    /// Why the latest reconnect attempt failed, if it did.
    last_failure: Option<DirectoryError>,
}

impl ServiceConnection {
    pub(crate) fn new(
        connector: Arc<Connector>,
        account: Arc<ServiceAccount>,
    ) -> ServiceConnection {
        ServiceConnection {
            connector,
            account,
            current: Mutex::new(Current::default()),
            attempts: AtomicU64::new(0),
        }
    }

    /// Run `search` and return its entries. Search references are ignored (never chased); a
    /// base object that does not exist yields no entries. A search that fails on a reused
    /// connection because the connection broke is retried once on a fresh one.
    pub(crate) async fn search(
        &self,
        search: &Search<'_>,
    ) -> Result<Vec<ResultEntry>, DirectoryError> {
        let (id, dc, ldap, reused) = self.handle().await?;
        match self.search_on(ldap, search).await {
            Err(error) if error.breaks_connection() => {
                self.forget(id, &dc, &error).await;
                if !reused || matches!(error, DirectoryError::Timeout { .. }) {
                    return Err(error);
                }
                debug!(operation = search.operation, %error, "retrying on a new connection");
                let (id, dc, ldap, _) = self.handle().await?;
                let result = self.search_on(ldap, search).await;
                if let Err(error) = &result {
                    if error.breaks_connection() {
                        self.forget(id, &dc, error).await;
                    }
                }
                result
            }
            result => result,
        }
    }

    async fn search_on(
        &self,
        mut ldap: Ldap,
        search: &Search<'_>,
    ) -> Result<Vec<ResultEntry>, DirectoryError> {
        let timeout = self.connector.timeout();
        // The server-side limit matches ours, so the DC gives up when we do.
        let time_limit = i32::try_from(timeout.as_secs().max(1)).unwrap_or(i32::MAX);
        let options = SearchOptions::new()
            .sizelimit(search.size_limit)
            .timelimit(time_limit);
        debug!(
            operation = search.operation,
            base = search.base,
            "directory search"
        );
        let unlimited = search.size_limit == 0;
        let mut adapters: Vec<Box<dyn Adapter<'_, &str, Vec<&str>>>> =
            vec![Box::new(EntriesOnly::new())];
        if unlimited {
            adapters.push(Box::new(PagedResults::new(PAGE_SIZE)));
        }
        let run = async {
            let mut stream = ldap
                .with_search_options(options)
                .streaming_search_with(
                    adapters,
                    search.base,
                    search.scope,
                    search.filter,
                    search.attributes.to_vec(),
                )
                .await?;
            let mut entries = Vec::new();
            while let Some(entry) = stream.next().await? {
                entries.push(entry);
            }
            Ok((entries, stream.finish().await))
        };
        let (entries, done) = within(timeout, search.operation, run).await?;
        match done.rc {
            SUCCESS => Ok(entries),
            SIZE_LIMIT_EXCEEDED if !unlimited => Ok(entries),
            NO_SUCH_OBJECT => Ok(Vec::new()),
            rc => Err(DirectoryError::Refused {
                operation: search.operation,
                rc,
                text: done.text,
            }),
        }
    }

    /// The live connection (its id, its DC, a handle, whether it was used before), connecting
    /// (and binding) first when there is none or it goes to a DC no longer preferred.
    async fn handle(&self) -> Result<(u64, Arc<Server>, Ldap, bool), DirectoryError> {
        let seen = self.attempts.load(Ordering::Acquire);
        let mut current = self.current.lock().await;
        if let Some((id, connection)) = current.connection.as_mut() {
            if !connection.ldap.is_closed() && self.connector.keeps(&connection.dc) {
                return Ok((*id, connection.dc.clone(), connection.ldap.clone(), true));
            }
            current.connection = None;
        }
        if self.attempts.load(Ordering::Acquire) != seen {
            if let Some(failure) = &current.last_failure {
                return Err(DirectoryError::RecentFailure(Box::new(failure.clone())));
            }
        }
        let id = self.attempts.fetch_add(1, Ordering::AcqRel) + 1;
        current.last_failure = None;
        match self.connect().await {
            Ok(connection) => {
                let (dc, ldap) = (connection.dc.clone(), connection.ldap.clone());
                current.connection = Some((id, connection));
                Ok((id, dc, ldap, false))
            }
            Err(failure) => {
                current.last_failure = Some(failure.clone());
                Err(failure)
            }
        }
    }

    /// Connection `id` to `dc` broke with `error`: tell the connector, and drop the connection
    /// if it is still the current one; the next search reconnects.
    async fn forget(&self, id: u64, dc: &Arc<Server>, error: &DirectoryError) {
        self.connector.operation_failed(dc, error);
        let mut current = self.current.lock().await;
        if matches!(current.connection, Some((current_id, _)) if current_id == id) {
            current.connection = None;
        }
    }

    async fn connect(&self) -> Result<Connection, DirectoryError> {
        let timeout = self.connector.timeout();
        let account = &self.account;
        self.connector
            .open("service connection", |ldap, url| {
                account.bind(ldap, url, timeout)
            })
            .await
    }
}
