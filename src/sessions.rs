//! Live sessions: the policy's core promise that disabling a user in AD, or taking them off
//! telework, ends the VPN tunnel they already have — not only their next login.
//!
//! - `table`: which sessions are up, fed by accepts and accounting, rebuilt from the trail at
//!   start (`rebuild`), so no second database exists;
//! - `revoker`: re-checks the AD account of every live session (on AD change notifications and
//!   every `sessions.recheck_interval_s`) with the same policy as a login, and sends the NAS an
//!   RFC 5176 Disconnect-Request when only an admin's decision says no;
//! - `control`: the local channel behind `adgate sessions list|disconnect`.
//!
//! Every cut, and every session forgotten without a Stop, is recorded in the trail.

mod control;
mod metrics;
mod ocserv_occtl;
mod openvpn_management;
mod rebuild;
mod revoker;
mod settings;
mod softether_rpc;
mod softether_sessions;
mod table;

use std::path::PathBuf;
use std::sync::{Mutex, MutexGuard, PoisonError};

use adgate_radius::{AccessRequest, AccountingRequest, AccountingStatus};
use anyhow::Context;
use chrono::{DateTime, Utc};

use crate::audit::{AccountRecord, AuditTrail, SessionDroppedRecord, SessionOnNas, UserName};
pub use control::{run_client, ControlCommand, ControlServer};
pub use metrics::SessionMetrics;
pub use rebuild::rebuild;
pub use revoker::Revoker;
pub use settings::{DisconnectDriver, DisconnectTargets, SessionSettings};
pub use softether_rpc::{parse_fingerprint, SoftEtherHub, UnusableSetting};
pub use softether_sessions::watch_session_lists;
use table::{AccountingEvent, AccountingUpdate, Dropped, NasView, PendingAccept, SessionTable};
pub use table::{Cuttable, TableLimits, Target};

/// The session table as the gatekeeper and the revoker share it. Its lock is never held across
/// an `.await`.
pub struct LiveSessions {
    table: Mutex<SessionTable>,
    trail: AuditTrail,
    metrics: SessionMetrics,
}

impl LiveSessions {
    pub fn new(table: SessionTable, trail: AuditTrail) -> LiveSessions {
        let sessions = LiveSessions {
            table: Mutex::new(table),
            trail,
            metrics: SessionMetrics::default(),
        };
        sessions.update_gauges(&sessions.lock());
        sessions
    }

    /// The live sessions at start: the table rebuilt from the trail in `dir` (off the async
    /// workers), then what went stale while adgate was down dropped and recorded, as the
    /// running server would have done.
    pub async fn at_start(
        dir: PathBuf,
        limits: TableLimits,
        trail: AuditTrail,
    ) -> anyhow::Result<LiveSessions> {
        let table = tokio::task::spawn_blocking(move || rebuild(&dir, limits, Utc::now()))
            .await
            .context("rebuilding live sessions")??;
        let sessions = LiveSessions::new(table, trail);
        sessions.expire(Utc::now()).await;
        Ok(sessions)
    }

    pub fn metrics(&self) -> &SessionMetrics {
        &self.metrics
    }

    pub(crate) fn trail(&self) -> &AuditTrail {
        &self.trail
    }

    fn lock(&self) -> MutexGuard<'_, SessionTable> {
        self.table.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn update_gauges(&self, table: &SessionTable) {
        self.metrics
            .set_live(table.session_count(), table.pending_count());
    }

    /// Notes an Access-Accept that was recorded as `request_id` for `account`.
    pub async fn accepted(
        &self,
        request: &AccessRequest,
        request_id: &str,
        account: &AccountRecord,
    ) {
        let accept = PendingAccept {
            request_id: request_id.to_owned(),
            client: request.client.name.clone(),
            nas: NasView {
                user_name: request.user_name.clone().unwrap_or_default(),
                nas_ip_address: request.nas_ip_address,
                nas_identifier: request.nas_identifier.clone(),
                framed_ip_address: None,
                calling_station_id: request.calling_station_id.clone(),
            },
            account: account.clone(),
            at: Utc::now(),
        };
        let dropped = {
            let mut table = self.lock();
            let dropped = table.accepted(accept);
            self.update_gauges(&table);
            dropped
        };
        self.record_dropped(dropped).await;
    }

    /// The AD account and access decision an Accounting-Request belongs to, for its record
    /// (see `SessionTable::link`).
    pub fn link(
        &self,
        request: &AccountingRequest,
        decision_request_id: Option<&str>,
    ) -> Option<(AccountRecord, String)> {
        self.lock().link(
            &request.client.name,
            request.session_id.as_deref(),
            request.user_name.as_deref().unwrap_or_default(),
            decision_request_id,
            Utc::now(),
        )
    }

    /// Applies a recorded Accounting-Request, linked to `account` and `decision_request_id`.
    pub async fn accounting(
        &self,
        request: &AccountingRequest,
        account: Option<AccountRecord>,
        decision_request_id: Option<String>,
    ) {
        let event = match request.status {
            AccountingStatus::Start | AccountingStatus::InterimUpdate => AccountingEvent::Alive,
            AccountingStatus::Stop => AccountingEvent::Stop,
            AccountingStatus::AccountingOn | AccountingStatus::AccountingOff => {
                AccountingEvent::NasRestart
            }
            AccountingStatus::Other(_) => return,
        };
        let update = AccountingUpdate {
            client: request.client.name.clone(),
            event,
            session_id: request.session_id.clone(),
            nas: NasView {
                user_name: request.user_name.clone().unwrap_or_default(),
                nas_ip_address: request.nas_ip_address,
                nas_identifier: request.nas_identifier.clone(),
                framed_ip_address: request.framed_ip_address,
                calling_station_id: request.calling_station_id.clone(),
            },
            account,
            decision_request_id,
            at: Utc::now(),
            session_time: request.session_time,
        };
        self.apply(update).await;
    }

    /// Applies an accounting event, from a NAS or seen by adgate itself.
    async fn apply(&self, update: AccountingUpdate) {
        let dropped = {
            let mut table = self.lock();
            let dropped = table.accounting(update);
            self.update_gauges(&table);
            dropped
        };
        self.record_dropped(dropped).await;
    }

    /// Notes that a listed session is still up (see `SessionTable::seen`).
    fn seen(&self, key: &table::SessionKey, at: DateTime<Utc>) {
        self.lock().seen(key, at);
    }

    /// Drops and records sessions past their stale limit.
    pub async fn expire(&self, now: DateTime<Utc>) {
        let dropped = {
            let mut table = self.lock();
            let dropped = table.expire(now);
            self.update_gauges(&table);
            dropped
        };
        for dropped in dropped {
            self.record_dropped(Some(dropped)).await;
        }
    }

    /// The objectGUIDs of AD accounts with something live.
    pub fn live_accounts(&self, now: DateTime<Utc>) -> Vec<String> {
        self.lock().live_accounts(now)
    }

    pub fn of_account(&self, object_guid: &str, now: DateTime<Utc>) -> Vec<Cuttable> {
        self.lock().of_account(object_guid, now)
    }

    pub fn named(&self, name: &str, now: DateTime<Utc>) -> Vec<Cuttable> {
        self.lock().named(name, now)
    }

    pub fn all(&self, now: DateTime<Utc>) -> Vec<Cuttable> {
        self.lock().all(now)
    }

    /// Forgets `target`: the NAS confirmed it is gone.
    pub fn remove(&self, target: &Target) {
        let mut table = self.lock();
        table.remove(target);
        self.update_gauges(&table);
    }

    async fn record_dropped(&self, dropped: Option<Dropped>) {
        let Some(Dropped { cause, session }) = dropped else {
            return;
        };
        self.metrics.count_dropped(cause.as_str());
        tracing::warn!(
            client = %session.key.client,
            session_id = %session.key.session_id,
            user = %String::from_utf8_lossy(&session.nas.user_name),
            cause = cause.as_str(),
            last_seen = %session.last_seen,
            "live session dropped without a Stop; it is no longer watched"
        );
        let mut record = SessionDroppedRecord::new(
            SessionOnNas {
                client: session.key.client,
                session_id: Some(session.key.session_id),
                user_name: UserName::from_bytes(&session.nas.user_name),
                decision_request_id: session.decision_request_id,
            },
            cause.as_str(),
            session
                .last_seen
                .to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        );
        record.account = session.account;
        if let Err(error) = self.trail.append_entry(&record).await {
            tracing::error!(%error, "dropped session not recorded");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::audit::test_trail;
    use crate::audit::{AccountingRecord, NasRecord, Record, TrailSettings, Verdict};

    /// Stops the trail's writer, once the last handle is gone.
    type StopWriter = Box<dyn FnOnce() + Send>;

    /// Alice's Accounting-Start for session `s1` on `vpn1`, `hours_ago` hours back.
    fn start_record(hours_ago: i64) -> Record {
        let nas = NasRecord {
            name: Some("vpn1".into()),
            address: "192.0.2.1:1813".parse().unwrap(),
            nas_identifier: None,
            nas_ip_address: None,
        };
        let mut record = Record::new(nas, Verdict::Recorded);
        record.time = (Utc::now() - chrono::TimeDelta::hours(hours_ago))
            .to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
        record.user_name = Some(UserName::from_bytes(b"alice"));
        record.accounting = Some(AccountingRecord {
            status_type: "start".into(),
            session_id: Some("s1".into()),
            ..AccountingRecord::default()
        });
        record
    }

    /// Starts the live sessions as `serve` does, on the trail in `audit`.
    async fn start(audit: &std::path::Path) -> (LiveSessions, StopWriter) {
        let (trail, writer) = AuditTrail::open(TrailSettings::new(audit.to_owned())).unwrap();
        let sessions = LiveSessions::at_start(audit.to_owned(), TableLimits::default(), trail)
            .await
            .unwrap();
        (sessions, Box::new(move || writer.finish()))
    }

    async fn stop(sessions: LiveSessions, stop_writer: StopWriter) {
        drop(sessions);
        tokio::task::spawn_blocking(stop_writer).await.unwrap();
    }

    fn dropped_records(audit: &std::path::Path) -> Vec<serde_json::Value> {
        std::fs::read_to_string(audit.join(crate::audit::OPEN_SEGMENT))
            .unwrap()
            .lines()
            .filter_map(|line| serde_json::from_str::<serde_json::Value>(line).ok())
            .filter(|record| record["type"] == "session_dropped")
            .collect()
    }

    #[tokio::test]
    async fn a_session_gone_stale_while_adgate_was_down_is_dropped_and_recorded_once_at_start() {
        let dir = tempfile::tempdir().unwrap();
        let audit = dir.path().join("audit");
        // A day and a half without accounting: past the default 24 h stale limit.
        test_trail::write(TrailSettings::new(audit.clone()), vec![start_record(36)]).await;

        let (sessions, writer) = start(&audit).await;
        assert!(sessions.all(Utc::now()).is_empty());
        stop(sessions, writer).await;
        let dropped = dropped_records(&audit);
        assert_eq!(dropped.len(), 1, "{dropped:?}");
        assert_eq!(dropped[0]["session"]["session_id"], "s1");
        assert_eq!(dropped[0]["cause"], "stale");

        // The next start replays the drop: nothing is dropped twice.
        let (sessions, writer) = start(&audit).await;
        stop(sessions, writer).await;
        assert_eq!(dropped_records(&audit).len(), 1);
    }
}
