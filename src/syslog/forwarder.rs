//! The forwarding task: follows the trail from the last acknowledged record, sends records in
//! order, and moves the acknowledged position only once the collector's host has acknowledged
//! them. It never holds up logins: the writer does not wait for it, and when the collector is
//! down records simply wait in the trail. Reconnects back off from one second to thirty.

use std::path::PathBuf;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use super::follower::TrailFollower;
use super::message::Origin;
use super::metrics::{ForwardingMetrics, Progress};
use super::spool::Spool;
use super::transport::Connection;
use super::SyslogSettings;

/// Records sent before waiting for their acknowledgement.
const BATCH: usize = 500;
const FIRST_RETRY: Duration = Duration::from_secs(1);
const LAST_RETRY: Duration = Duration::from_secs(30);
/// How often the trail is looked at when no new record was announced (rotation, restart).
const IDLE_POLL: Duration = Duration::from_secs(1);
/// Records sent again on every new connection, before the first unacknowledged one. TCP's
/// acknowledgement proves the collector's kernel got the bytes, not that the collector
/// processed them (RFC 6587 has no application-level acknowledgement): a collector stopped
/// with records in its receive buffer loses them. Re-sending a window closes that gap; the
/// duplicates carry the same `seq`.
const RESEND_ON_CONNECT: u64 = 256;

/// Starts forwarding the trail in `audit_dir`; `durable` announces each newly durable record.
/// Returns the task and its metrics.
pub fn spawn_forwarder(
    settings: SyslogSettings,
    audit_dir: PathBuf,
    durable: watch::Receiver<u64>,
    shutdown: CancellationToken,
) -> anyhow::Result<(tokio::task::JoinHandle<()>, ForwardingMetrics)> {
    let mut spool = Spool::open(&settings.spool_dir).map_err(|e| {
        anyhow::anyhow!(
            "cannot open syslog.spool_dir {}: {e}",
            settings.spool_dir.display()
        )
    })?;
    let head = *durable.borrow();
    if spool.acknowledged > head {
        // A new or replaced trail behind an old position: send all of it rather than nothing.
        tracing::warn!(
            acknowledged = spool.acknowledged,
            trail_head = head,
            "the syslog position is beyond the trail; forwarding the trail from its start"
        );
        spool
            .acknowledge(0)
            .map_err(|e| anyhow::anyhow!("cannot reset the syslog position: {e}"))?;
    }
    let follower = TrailFollower::new(audit_dir, resend_from(spool.acknowledged));
    let progress = Arc::new(Progress::default());
    progress
        .acknowledged
        .store(spool.acknowledged, Ordering::Relaxed);
    let metrics = ForwardingMetrics::new(durable.clone(), progress.clone());
    let forwarder = Forwarder {
        origin: Origin::new(settings.hostname.as_deref()),
        settings,
        spool,
        follower: Arc::new(Mutex::new(follower)),
        durable,
        progress,
    };
    Ok((tokio::spawn(forwarder.run(shutdown)), metrics))
}

/// The first record to send on a new connection.
fn resend_from(acknowledged: u64) -> u64 {
    acknowledged.saturating_sub(RESEND_ON_CONNECT) + 1
}

struct Forwarder {
    settings: SyslogSettings,
    origin: Origin,
    spool: Spool,
    follower: Arc<Mutex<TrailFollower>>,
    durable: watch::Receiver<u64>,
    progress: Arc<Progress>,
}

impl Forwarder {
    async fn run(mut self, shutdown: CancellationToken) {
        let target = format!(
            "{}:{}",
            self.settings.target.host, self.settings.target.port
        );
        let mut retry = FIRST_RETRY;
        loop {
            let connected = tokio::select! {
                _ = shutdown.cancelled() => return,
                connected = Connection::connect(&self.settings) => connected,
            };
            match connected {
                Ok(connection) => {
                    tracing::info!(collector = %target, acknowledged_seq = self.spool.acknowledged, "forwarding the audit trail to syslog");
                    retry = FIRST_RETRY;
                    match self.forward(connection, &shutdown).await {
                        Ok(()) => return,
                        Err(error) => {
                            Progress::count(&self.progress.connection_failures, 1);
                            tracing::warn!(collector = %target, %error, "syslog connection lost; records wait in the trail")
                        }
                    }
                }
                Err(error) => {
                    Progress::count(&self.progress.connection_failures, 1);
                    tracing::warn!(collector = %target, %error, retry_s = retry.as_secs(), "cannot reach the syslog collector; records wait in the trail");
                }
            }
            if let Ok(mut follower) = self.follower.lock() {
                follower.rewind(resend_from(self.spool.acknowledged));
            }
            tokio::select! {
                _ = shutdown.cancelled() => return,
                _ = tokio::time::sleep(retry) => {}
            }
            retry = (retry * 2).min(LAST_RETRY);
        }
    }

    /// Sends until shutdown (Ok) or until the connection fails (Err).
    async fn forward(
        &mut self,
        mut connection: Connection,
        shutdown: &CancellationToken,
    ) -> anyhow::Result<()> {
        loop {
            let durable_seq = *self.durable.borrow_and_update();
            let follower = self.follower.clone();
            let lines = tokio::task::spawn_blocking(move || {
                follower
                    .lock()
                    .map_err(|_| anyhow::anyhow!("trail follower poisoned"))?
                    .next_lines(durable_seq, BATCH)
                    .map_err(|e| anyhow::anyhow!("cannot read the trail: {e}"))
            })
            .await??;
            let Some(last) = lines.last().map(|line| line.seq) else {
                tokio::select! {
                    _ = shutdown.cancelled() => return Ok(()),
                    changed = self.durable.changed() => {
                        if changed.is_err() {
                            // The writer has stopped: nothing more will come.
                            shutdown.cancelled().await;
                            return Ok(());
                        }
                    }
                    _ = tokio::time::sleep(IDLE_POLL) => {}
                }
                continue;
            };
            let mut bytes = Vec::new();
            for line in &lines {
                bytes.extend_from_slice(&self.origin.frame(&line.bytes));
            }
            tokio::select! {
                _ = shutdown.cancelled() => return Ok(()),
                sent = connection.send_acknowledged(&bytes) => sent?,
            }
            self.spool
                .acknowledge(last)
                .map_err(|e| anyhow::anyhow!("cannot save the syslog position: {e}"))?;
            self.progress.acknowledged.store(last, Ordering::Relaxed);
            Progress::count(&self.progress.forwarded, lines.len());
        }
    }
}
