//! The connections on which users' passwords are checked, kept apart from the service
//! connection.
//!
//! A simple bind changes who a connection is authenticated as. Binding users on the service
//! connection would need a rebind to the service account after every login (two binds, the
//! dominant cost on the DC, and a window in which searches run as the user). Here a pool of
//! connections does nothing but user binds: a connection is reused as is for the next user's
//! bind and never rebound to the service account. Broken connections, and idle ones to a DC no
//! longer preferred (failover, or the preferred DC back), are dropped and replaced; at most
//! `size` binds run at once.

use std::sync::{Arc, Mutex, PoisonError};

use ldap3::LdapResult;
use tokio::sync::Semaphore;
use tracing::debug;

use crate::connector::{Connection, Connector};
use crate::error::{within, DirectoryError};

/// A fixed-size pool of connections used only for user binds.
pub(crate) struct BindPool {
    connector: Arc<Connector>,
    size: usize,
    permits: Semaphore,
    idle: Mutex<Vec<Connection>>,
}

impl BindPool {
    pub(crate) fn new(connector: Arc<Connector>, size: usize) -> BindPool {
        BindPool {
            connector,
            size,
            permits: Semaphore::new(size),
            idle: Mutex::new(Vec::with_capacity(size)),
        }
    }

    /// Simple-bind as `dn` with `password` and return the DC's result, whatever its code.
    ///
    /// A bind on an idle connection that turns out to have been closed meanwhile (the DC
    /// drops idle connections after MaxConnIdleTime) is retried once on a new connection.
    pub(crate) async fn bind(
        &self,
        dn: &str,
        password: &str,
    ) -> Result<LdapResult, DirectoryError> {
        let timeout = self.connector.timeout();
        // Cannot fail: the pool owns its semaphore and never closes it.
        #[allow(clippy::expect_used)]
        let _permit = tokio::time::timeout(timeout, self.permits.acquire())
            .await
            .map_err(|_| DirectoryError::BindPoolBusy {
                size: self.size,
                timeout,
            })?
            .expect("the bind pool's semaphore is never closed");
        let (mut connection, reused) = match self.take_idle() {
            Some(connection) => (connection, true),
            None => (self.open().await?, false),
        };
        let mut result = self.bind_on(&mut connection, dn, password).await;
        if reused && matches!(result, Err(DirectoryError::ConnectionLost { .. })) {
            debug!(dn, "idle bind connection was closed; binding on a new one");
            connection = self.open().await?;
            result = self.bind_on(&mut connection, dn, password).await;
        }
        if result.is_ok() {
            self.idle
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .push(connection);
        }
        result
    }

    async fn bind_on(
        &self,
        connection: &mut Connection,
        dn: &str,
        password: &str,
    ) -> Result<LdapResult, DirectoryError> {
        let bind = connection.ldap.simple_bind(dn, password);
        let result = within(self.connector.timeout(), "user bind", bind).await;
        if let Err(error) = &result {
            self.connector.operation_failed(&connection.dc, error);
        }
        result
    }

    /// An idle connection that is still open and goes to the preferred DC, if any; the
    /// others are closed.
    fn take_idle(&self) -> Option<Connection> {
        let mut idle = self.idle.lock().unwrap_or_else(PoisonError::into_inner);
        idle.retain_mut(|connection| {
            !connection.ldap.is_closed() && self.connector.keeps(&connection.dc)
        });
        idle.pop()
    }

    async fn open(&self) -> Result<Connection, DirectoryError> {
        self.connector
            .open("user-bind connection", |ldap, _url| async { Ok(ldap) })
            .await
    }
}
