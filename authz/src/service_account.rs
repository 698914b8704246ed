//! The service account adgate searches AD as: its credentials and its bind, used by every
//! connection that searches (the shared service connection and the change watcher's one
//! connection per domain controller).

use std::time::Duration;

use ldap3::Ldap;
use tracing::{debug, error, warn};
use zeroize::Zeroizing;

use crate::error::{within, DirectoryError};

/// LDAP result code success (RFC 4511 §4.1.9).
const SUCCESS: u32 = 0;
/// LDAP result code invalidCredentials.
const INVALID_CREDENTIALS: u32 = 49;

/// The service account's DN and password.
pub(crate) struct ServiceAccount {
    bind_dn: String,
    bind_password: Zeroizing<String>,
}

impl ServiceAccount {
    pub(crate) fn new(bind_dn: String, bind_password: Zeroizing<String>) -> ServiceAccount {
        ServiceAccount {
            bind_dn,
            bind_password,
        }
    }

    /// Bind `ldap`, a new connection to `url`, as the service account within `timeout`. A
    /// refused bind is logged (at error level for invalid credentials: the configuration is
    /// wrong) and returned as [`DirectoryError::ServiceBindRefused`].
    pub(crate) async fn bind(
        &self,
        mut ldap: Ldap,
        url: String,
        timeout: Duration,
    ) -> Result<Ldap, DirectoryError> {
        let bind_dn = self.bind_dn.as_str();
        let bind = ldap.simple_bind(bind_dn, self.bind_password.as_str());
        let result = within(timeout, "service bind", bind).await?;
        if result.rc == SUCCESS {
            debug!(%url, bind_dn, "service account bound");
            return Ok(ldap);
        }
        let refused = DirectoryError::ServiceBindRefused {
            url,
            bind_dn: bind_dn.to_owned(),
            diagnostic: format!("LDAP result {}: {}", result.rc, result.text),
        };
        if result.rc == INVALID_CREDENTIALS {
            error!(%refused, "check bind_dn and bind_password");
        } else {
            warn!(%refused);
        }
        Err(refused)
    }
}
