//! Whether the gatekeeper can decide logins now, for `/readyz`: a domain controller must accept
//! a connection, and the last audit record must have been written (a trail that cannot be
//! written rejects every login).

use super::Gatekeeper;
use crate::metrics::Readiness;

/// Ready when a domain controller accepted a connection when the directory's readiness probe
/// last looked (a TCP connect every `adgate_authz::READINESS_PROBE`, in the background: a check
/// opens no connection) and the last audit record could be written.
impl Readiness for Gatekeeper {
    async fn check(&self) -> Result<String, String> {
        let dc = self.authorizer.first_reachable_dc().await;
        let audit_writable = self.metrics.audit_writable();
        match (dc, audit_writable) {
            (Some(dc), true) => Ok(format!(
                "domain controller {dc} reachable, audit trail writable"
            )),
            (None, true) => Err("no domain controller reachable".into()),
            (Some(_), false) => Err("the last audit record could not be written".into()),
            (None, false) => Err(
                "no domain controller reachable; the last audit record could not be written".into(),
            ),
        }
    }
}
