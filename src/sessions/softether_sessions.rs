//! SoftEther's live sessions, learnt from the server itself. SoftEther VPN Server sends no
//! accounting, so adgate would otherwise know a SoftEther tunnel only for its accept's grace
//! window. Every `sessions.recheck_interval_s`, each client with `kind = "softether"` is asked
//! for its hub's sessions (`EnumSession`), and the list is held against the table:
//!
//! - a session listed and not in the table started: it is written to the trail as an
//!   Accounting-Start would have been (`source: "session_list"`) and enters the table, tied to
//!   the AD account of the latest accept for that client and user name (within the link
//!   window), exactly as an Accounting-Start without Class is;
//! - a session in the table and no longer listed ended: likewise an Accounting-Stop;
//! - a session still listed is still up (it does not go stale; nothing is written).
//!
//! These records are what the table is rebuilt from at start, so a restart loses nothing the
//! next poll does not put right. A list the server does not give (unreachable, refused)
//! changes nothing: no session is ended or dropped for it; it is counted, and logged once
//! until a list comes again.

use std::collections::HashSet;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use tokio_util::sync::CancellationToken;

use super::softether_rpc::{self, ListedSession, SoftEtherHub};
use super::table::{AccountingEvent, AccountingUpdate, NasView, SessionKey};
use super::{Cuttable, DisconnectDriver, DisconnectTargets, LiveSessions, Target};
use crate::audit::{AccountRecord, AccountingRecord, NasRecord, Record, UserName, Verdict};
use crate::swappable::Swappable;

/// The `source` of the accounting records written here.
const SOURCE: &str = "session_list";

/// Polls the session list of every SoftEther client every `interval` until `cancel`.
pub async fn watch_session_lists(
    sessions: Arc<LiveSessions>,
    targets: Arc<Swappable<DisconnectTargets>>,
    interval: Duration,
    cancel: CancellationToken,
) {
    let mut ticks = tokio::time::interval(interval);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    // Clients whose last list could not be read, to log a change of state once.
    let mut failing = HashSet::new();
    loop {
        tokio::select! {
            () = cancel.cancelled() => break,
            _ = ticks.tick() => {}
        }
        let targets = targets.get();
        let polls = async {
            for (client, target) in &targets.0 {
                if let DisconnectDriver::SoftEther { address, hub } = target {
                    poll(&sessions, client, *address, hub, &mut failing).await;
                }
            }
        };
        tokio::select! {
            () = cancel.cancelled() => break,
            () = polls => {}
        }
    }
}

async fn poll(
    sessions: &LiveSessions,
    client: &str,
    address: SocketAddr,
    hub: &SoftEtherHub,
    failing: &mut HashSet<String>,
) {
    // The table before the list: a session cut while the list is on its way is then seen to
    // end (or to be still up), never taken for a new one.
    let known = known_sessions(sessions, client);
    let listed = softether_rpc::enum_sessions(address, hub).await;
    sessions.metrics().count_session_list(listed.is_ok());
    match listed {
        Ok(listed) => {
            if failing.remove(client) {
                tracing::info!(client, "SoftEther's session list is read again");
            }
            reconcile(sessions, client, address, &known, &listed, Utc::now()).await;
        }
        Err(error) => {
            if failing.insert(client.to_owned()) {
                tracing::warn!(client, %address, %error, "SoftEther's session list cannot be read; its sessions are kept as they were");
            }
        }
    }
}

/// The table's sessions of `client`.
fn known_sessions(sessions: &LiveSessions, client: &str) -> Vec<Cuttable> {
    sessions
        .all(Utc::now())
        .into_iter()
        .filter(|c| matches!(&c.target, Target::Session(key) if key.client == client))
        .collect()
}

/// Holds the server's list against the table's sessions of `client` (`known`).
async fn reconcile(
    sessions: &LiveSessions,
    client: &str,
    address: SocketAddr,
    known: &[Cuttable],
    listed: &[ListedSession],
    now: DateTime<Utc>,
) {
    for ended in known.iter().filter(|c| {
        !listed
            .iter()
            .any(|s| c.target.session_id() == Some(&s.name))
    }) {
        let Target::Session(key) = &ended.target else {
            continue;
        };
        let mut record = accounting_record(client, address, "stop", key, &ended.nas.user_name);
        record.account = ended.account.clone();
        if let Some(accounting) = record.accounting.as_mut() {
            accounting.session_time = u32::try_from((now - ended.since).num_seconds()).ok();
        }
        let update = AccountingUpdate {
            client: client.to_owned(),
            event: AccountingEvent::Stop,
            session_id: Some(key.session_id.clone()),
            nas: ended.nas.clone(),
            account: None,
            decision_request_id: None,
            at: now,
            session_time: None,
        };
        record_then_apply(sessions, &record, update).await;
    }
    for session in listed {
        let key = SessionKey {
            client: client.to_owned(),
            session_id: session.name.clone(),
        };
        if known
            .iter()
            .any(|c| c.target == Target::Session(key.clone()))
        {
            sessions.seen(&key, now);
            continue;
        }
        let user_name = session.user_name.as_bytes();
        let linked = sessions
            .lock()
            .link(client, Some(&session.name), user_name, None, now);
        let (account, decision_request_id): (Option<AccountRecord>, _) = linked.unzip();
        let mut record = accounting_record(client, address, "start", &key, user_name);
        record.account = account.clone();
        record.calling_station_id = session.client_ip.map(|ip| ip.to_string());
        let update = AccountingUpdate {
            client: client.to_owned(),
            event: AccountingEvent::Alive,
            session_id: Some(session.name.clone()),
            nas: NasView {
                user_name: user_name.to_vec(),
                calling_station_id: record.calling_station_id.clone(),
                ..NasView::default()
            },
            account,
            decision_request_id,
            at: now,
            session_time: None,
        };
        record_then_apply(sessions, &record, update).await;
    }
}

/// An accounting record as the NAS would have sent it, from `address` (where adgate asked).
fn accounting_record(
    client: &str,
    address: SocketAddr,
    status_type: &str,
    key: &SessionKey,
    user_name: &[u8],
) -> Record {
    let nas = NasRecord {
        name: Some(client.to_owned()),
        address,
        nas_identifier: None,
        nas_ip_address: None,
    };
    let mut record = Record::new(nas, Verdict::Recorded);
    record.source = Some(SOURCE);
    record.user_name = Some(UserName::from_bytes(user_name));
    record.accounting = Some(AccountingRecord {
        status_type: status_type.to_owned(),
        session_id: Some(key.session_id.clone()),
        ..AccountingRecord::default()
    });
    record
}

/// The trail first, as for a NAS's accounting: what could not be recorded is not applied, so
/// the next poll finds the same difference and tries again.
async fn record_then_apply(sessions: &LiveSessions, record: &Record, update: AccountingUpdate) {
    if let Err(error) = sessions.trail().append(record).await {
        tracing::error!(client = %update.client, %error, "session seen in a session list not recorded");
        return;
    }
    tracing::info!(
        request_id = %record.request_id,
        client = %update.client,
        session_id = update.session_id.as_deref().unwrap_or("-"),
        status_type = record.accounting.as_ref().map_or("-", |a| a.status_type.as_str()),
        user = %String::from_utf8_lossy(&update.nas.user_name),
        "session list: a session was seen to start or end"
    );
    sessions.apply(update).await;
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::super::table::{PendingAccept, SessionTable};
    use super::super::{rebuild, TableLimits};
    use super::*;
    use crate::audit::{AuditTrail, TrailSettings};
    use adgate_radius::SharedSecret;

    const CLIENT: &str = "softether";

    fn address() -> SocketAddr {
        "127.0.0.1:5555".parse().unwrap()
    }

    fn tovpn() -> AccountRecord {
        AccountRecord {
            dn: "CN=tovpn,CN=Users,DC=corp,DC=example,DC=test".into(),
            object_guid: "guid-tovpn".into(),
            object_sid: "S-1-5-21-1-2-3-1120".into(),
            user_principal_name: None,
            sam_account_name: "tovpn".into(),
        }
    }

    fn listed(name: &str) -> ListedSession {
        ListedSession {
            name: name.into(),
            user_name: "tovpn".into(),
            client_ip: Some("10.99.3.2".parse().unwrap()),
        }
    }

    /// The live sessions over a real trail in `dir` after tovpn's accept on the client and a
    /// list showing tovpn's session SID-TOVPN-1; the trail's writer, to keep while the trail
    /// is written.
    async fn tovpn_listed(dir: &Path) -> (LiveSessions, impl Sized) {
        let (trail, writer) = AuditTrail::open(TrailSettings::new(dir.to_owned())).unwrap();
        let sessions = LiveSessions::new(SessionTable::new(TableLimits::default()), trail);
        sessions.lock().accepted(PendingAccept {
            request_id: "accept-tovpn".into(),
            client: CLIENT.into(),
            nas: NasView {
                user_name: b"tovpn".to_vec(),
                ..NasView::default()
            },
            account: tovpn(),
            at: Utc::now(),
        });
        show(&sessions, &["SID-TOVPN-1"]).await;
        (sessions, writer)
    }

    /// A list of tovpn's sessions `names`, held against the table.
    async fn show(sessions: &LiveSessions, names: &[&str]) {
        let list: Vec<ListedSession> = names.iter().map(|name| listed(name)).collect();
        let known = known_sessions(sessions, CLIENT);
        reconcile(sessions, CLIENT, address(), &known, &list, Utc::now()).await;
    }

    fn accounting_records(dir: &Path) -> Vec<serde_json::Value> {
        std::fs::read_to_string(dir.join("audit.jsonl"))
            .unwrap()
            .lines()
            .map(|line| serde_json::from_str::<serde_json::Value>(line).unwrap())
            .filter(|record| record["type"] == "accounting")
            .collect()
    }

    fn session_ids(cuttables: &[Cuttable]) -> Vec<Option<&str>> {
        cuttables.iter().map(|c| c.target.session_id()).collect()
    }

    #[tokio::test]
    async fn a_listed_session_is_live_for_the_accepted_account_until_no_longer_listed() {
        let dir = tempfile::tempdir().unwrap();
        let (sessions, _writer) = tovpn_listed(dir.path()).await;
        let live = sessions.of_account("guid-tovpn", Utc::now());
        assert_eq!(
            session_ids(&live),
            [Some("SID-TOVPN-1")],
            "the accept became the session"
        );
        show(&sessions, &["SID-TOVPN-1"]).await;
        assert_eq!(
            accounting_records(dir.path()).len(),
            1,
            "still listed: nothing new"
        );

        // A restart rebuilds the table from the trail: the session is there again.
        let rebuilt = rebuild(dir.path(), TableLimits::default(), Utc::now()).unwrap();
        let restored = rebuilt.of_account("guid-tovpn", Utc::now());
        assert_eq!(session_ids(&restored), [Some("SID-TOVPN-1")]);

        show(&sessions, &[]).await;
        assert!(sessions.all(Utc::now()).is_empty());
        let records = accounting_records(dir.path());
        let statuses: Vec<&serde_json::Value> = records
            .iter()
            .map(|r| &r["accounting"]["status_type"])
            .collect();
        assert_eq!(statuses, ["start", "stop"], "{records:?}");
        for record in &records {
            assert_eq!(record["source"], "session_list", "{record}");
            assert_eq!(record["nas"]["name"], CLIENT, "{record}");
            assert_eq!(record["user_name"], "tovpn", "{record}");
            assert_eq!(
                record["accounting"]["session_id"], "SID-TOVPN-1",
                "{record}"
            );
            assert_eq!(record["account"]["object_guid"], "guid-tovpn", "{record}");
        }
        assert_eq!(records[0]["calling_station_id"], "10.99.3.2");
        let rebuilt = rebuild(dir.path(), TableLimits::default(), Utc::now()).unwrap();
        assert!(
            rebuilt.all(Utc::now()).is_empty(),
            "the Stop ends it for good"
        );
    }

    #[tokio::test]
    async fn a_session_cut_while_the_list_was_on_its_way_is_not_taken_for_a_new_one() {
        let dir = tempfile::tempdir().unwrap();
        let (sessions, _writer) = tovpn_listed(dir.path()).await;
        let known = known_sessions(&sessions, CLIENT);
        // The revoker's cut is ACKed after the table was read, before the list is held to it.
        sessions.remove(&known[0].target);

        let list = [listed("SID-TOVPN-1")];
        reconcile(&sessions, CLIENT, address(), &known, &list, Utc::now()).await;
        assert!(sessions.all(Utc::now()).is_empty());
        assert_eq!(accounting_records(dir.path()).len(), 1, "no second start");
    }

    #[tokio::test]
    async fn a_list_that_cannot_be_read_ends_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let (sessions, _writer) = tovpn_listed(dir.path()).await;

        // A port nobody listens on: the server is down.
        let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let down = closed.local_addr().unwrap();
        drop(closed);
        let hub = SoftEtherHub::new(
            "DEFAULT".into(),
            Arc::new(SharedSecret::new(b"hub-password".to_vec())),
            [0; 32],
        )
        .unwrap();
        let mut failing = HashSet::new();
        poll(&sessions, CLIENT, down, &hub, &mut failing).await;
        poll(&sessions, CLIENT, down, &hub, &mut failing).await;

        assert_eq!(failing, HashSet::from([CLIENT.to_owned()]));
        let live = sessions.of_account("guid-tovpn", Utc::now());
        assert_eq!(session_ids(&live), [Some("SID-TOVPN-1")]);
        assert_eq!(accounting_records(dir.path()).len(), 1, "no Stop written");
    }
}
