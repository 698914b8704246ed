//! Keeps the CRLs of a TLS server (EAP-TLS's, RadSec's) current without file I/O on the
//! request path: every [`CRL_CHECK_INTERVAL`] a background task has the server look at its CRL
//! files, off the async workers (`spawn_blocking`), and rebuild its configuration when one
//! changed (`adgate_certs::TlsServer::refresh`). New conversations and connections only take
//! the configuration last built. A changed CRL therefore applies to new conversations and
//! connections within one interval (plus the time to read it); a changed file that cannot be
//! loaded refuses them all within the same time. The task ends with its server (replaced by a
//! reload).

use std::sync::Arc;
use std::time::Duration;

use adgate_certs::TlsServer;
use tokio::time::MissedTickBehavior;

/// How often the CRL files are looked at (a `stat` of each; read only when one changed).
pub const CRL_CHECK_INTERVAL: Duration = Duration::from_secs(2);

/// Watches `server`'s CRL files from a task of its own until `server` is dropped. Must be
/// called within the tokio runtime.
pub fn watch(server: &Arc<TlsServer>) {
    let server = Arc::downgrade(server);
    tokio::spawn(async move {
        let mut interval = tokio::time::interval(CRL_CHECK_INTERVAL);
        interval.set_missed_tick_behavior(MissedTickBehavior::Delay);
        interval.tick().await; // the first tick is immediate, and the server was just built
        loop {
            interval.tick().await;
            let Some(server) = server.upgrade() else {
                return;
            };
            if let Err(error) = tokio::task::spawn_blocking(move || server.refresh()).await {
                tracing::error!(%error, "checking the CRL files failed");
            }
        }
    });
}

#[cfg(test)]
mod tests {
    use std::path::Path;
    use std::time::Instant;

    use adgate_certs::test_pki::TestCa;
    use adgate_certs::{MutualTlsSettings, Rejection};

    use super::*;

    fn server(dir: &Path) -> TlsServer {
        let ca = TestCa::new();
        let issued = ca.issue_server("radius.test");
        let write = |name: &str, text: String| {
            std::fs::write(dir.join(name), text).unwrap();
            dir.join(name)
        };
        let settings = MutualTlsSettings {
            certificate_file: write("server.pem", issued.certificate_pem()),
            private_key_file: write("server.key", issued.key_pem()),
            ca_file: write("ca.pem", ca.pem()),
            crl_files: vec![write("ca.crl", ca.crl_pem(&[66]))],
            require_extended_master_secret: true,
        };
        TlsServer::new(settings, "test connections").unwrap()
    }

    /// Polls `condition` until it holds or `limit` has passed; whether it held.
    async fn eventually(limit: Duration, condition: impl Fn() -> bool) -> bool {
        let deadline = Instant::now() + limit;
        while !condition() {
            if Instant::now() > deadline {
                return false;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        true
    }

    #[tokio::test]
    async fn a_changed_crl_file_is_picked_up_within_the_interval() {
        let dir = tempfile::tempdir().unwrap();
        let server = Arc::new(server(dir.path()));
        watch(&server);
        std::fs::write(dir.path().join("ca.crl"), "not a CRL").unwrap();
        let written = Instant::now();
        let refused = || server.config().err() == Some(Rejection::RevocationUnknown);
        assert!(eventually(3 * CRL_CHECK_INTERVAL, refused).await);
        assert!(written.elapsed() < CRL_CHECK_INTERVAL + Duration::from_secs(1));
    }

    #[tokio::test]
    async fn the_watcher_ends_with_its_server() {
        let dir = tempfile::tempdir().unwrap();
        let server = Arc::new(server(dir.path()));
        let weak = Arc::downgrade(&server);
        watch(&server);
        drop(server);
        // At most a refresh running now still holds it.
        let gone = || weak.strong_count() == 0;
        assert!(eventually(2 * CRL_CHECK_INTERVAL, gone).await);
    }
}
