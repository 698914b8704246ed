//! The session table at start, rebuilt from the audit trail: the trail is the source of truth,
//! so there is no second database to keep in step, and a restart forgets no live session.
//!
//! Replaying the records in order through the same `SessionTable` methods the live path uses
//! (accepts, accounting linked exactly as it was live, confirmed cuts, dropped sessions) gives
//! the table the running server would have had. What went stale while adgate was down is still
//! in it: the caller drops and records it ([`LiveSessions::expire`](super::LiveSessions::expire)),
//! as the running server would have, so the trail says when each such session stopped being
//! watched, once (the `session_dropped` record keeps it out of the next rebuild).
//!
//! Only the segments written in the last [`REPLAY_STALE_LIMITS`] stale limits are read, so a
//! start takes the same time with a year of trail as with a week of it. A session live now had
//! an accounting record within its stale limit: the configured one, or three Interim-Update
//! gaps, which the two records before it within the window measure again for gaps up to half
//! the configured limit (12 h by default). Every accounting record names the session, its NAS
//! and its AD account, so replaying from inside a session rebuilds it, started as long before
//! the first record read as that record's Acct-Session-Time says. A session whose NAS sends
//! Interim-Updates even less often may be forgotten by a restart until its next one.

use std::net::{IpAddr, Ipv4Addr};
use std::path::Path;

use chrono::{DateTime, Utc};
use serde::Deserialize;

use super::table::{
    AccountingEvent, AccountingUpdate, NasView, PendingAccept, SessionKey, SessionTable, Target,
};
use super::TableLimits;
use crate::audit::{written_since, AccountRecord};

/// How many configured stale limits back the rebuild reads (see the module's doc).
const REPLAY_STALE_LIMITS: u32 = 2;

/// The fields of a trail line the table needs; everything else is ignored.
#[derive(Deserialize)]
struct Line {
    #[serde(rename = "type")]
    kind: String,
    time: DateTime<Utc>,
    #[serde(default)]
    request_id: Option<String>,
    #[serde(default)]
    nas: Option<Nas>,
    #[serde(default)]
    user_name: Option<String>,
    #[serde(default)]
    user_name_hex: Option<String>,
    #[serde(default)]
    calling_station_id: Option<String>,
    #[serde(default)]
    verdict: Option<String>,
    #[serde(default)]
    account: Option<AccountRecord>,
    #[serde(default)]
    accounting: Option<Accounting>,
    #[serde(default)]
    session: Option<Session>,
    #[serde(default)]
    result: Option<String>,
    #[serde(default)]
    error_cause: Option<u32>,
}

#[derive(Deserialize)]
struct Nas {
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    nas_identifier: Option<String>,
    #[serde(default)]
    nas_ip_address: Option<IpAddr>,
}

#[derive(Deserialize)]
struct Accounting {
    status_type: String,
    #[serde(default)]
    session_id: Option<String>,
    #[serde(default)]
    framed_ip_address: Option<Ipv4Addr>,
    #[serde(default)]
    session_time: Option<u32>,
    #[serde(default)]
    decision_request_id: Option<String>,
}

#[derive(Deserialize)]
struct Session {
    client: String,
    #[serde(default)]
    session_id: Option<String>,
    #[serde(default)]
    decision_request_id: Option<String>,
}

/// Reads the recent segments of the trail in `dir` (recent as of `now`) and returns the table
/// they imply, stale sessions included. Lines that are not records this cares about (or not
/// JSON: a torn line) are skipped.
pub fn rebuild(
    dir: &Path,
    limits: TableLimits,
    now: DateTime<Utc>,
) -> anyhow::Result<SessionTable> {
    let span = limits.stale_after.saturating_mul(REPLAY_STALE_LIMITS);
    let since = chrono::TimeDelta::from_std(span)
        .ok()
        .and_then(|span| now.checked_sub_signed(span))
        .unwrap_or(DateTime::<Utc>::MIN_UTC);
    let segments = written_since(dir, since)?;
    let mut table = SessionTable::new(limits);
    let mut replayed = 0usize;
    for segment in &segments {
        for line in segment.lines()? {
            let line = line?;
            let Ok(line) = serde_json::from_slice::<Line>(&line.bytes) else {
                continue;
            };
            replayed += usize::from(replay(&mut table, line));
        }
    }
    tracing::info!(
        segments_read = segments.len(),
        records = replayed,
        sessions = table.session_count(),
        pending_accepts = table.pending_count(),
        "live sessions rebuilt from the audit trail"
    );
    Ok(table)
}

/// Applies one record; whether it mattered.
fn replay(table: &mut SessionTable, line: Line) -> bool {
    match line.kind.as_str() {
        "decision" if line.verdict.as_deref() == Some("accept") => {
            let (Some(request_id), Some(account), Some(client)) =
                (line.request_id.clone(), line.account.clone(), client(&line))
            else {
                return false;
            };
            table.accepted(PendingAccept {
                request_id,
                client,
                nas: nas_view(&line, None),
                account,
                at: line.time,
            });
            true
        }
        "accounting" => {
            let (Some(accounting), Some(client)) = (&line.accounting, client(&line)) else {
                return false;
            };
            let event = match accounting.status_type.as_str() {
                "start" | "interim_update" => AccountingEvent::Alive,
                "stop" => AccountingEvent::Stop,
                "accounting_on" | "accounting_off" => AccountingEvent::NasRestart,
                _ => return false,
            };
            let nas = nas_view(&line, accounting.framed_ip_address);
            let linked = table.link(
                &client,
                accounting.session_id.as_deref(),
                &nas.user_name,
                accounting.decision_request_id.as_deref(),
                line.time,
            );
            let (account, decision_request_id) = match (line.account.clone(), linked) {
                (Some(account), linked) => (Some(account), linked.map(|(_, id)| id)),
                (None, Some((account, id))) => (Some(account), Some(id)),
                (None, None) => (None, None),
            };
            table.accounting(AccountingUpdate {
                client,
                event,
                session_id: accounting.session_id.clone(),
                nas,
                account,
                decision_request_id,
                at: line.time,
                session_time: accounting.session_time,
            });
            true
        }
        "disconnect" => {
            let gone = match line.result.as_deref() {
                Some("ack") => true,
                Some("nak") => line.error_cause == Some(503),
                _ => false,
            };
            match line.session.as_ref().and_then(target) {
                Some(target) if gone => {
                    table.remove(&target);
                    true
                }
                _ => false,
            }
        }
        "session_dropped" => match line.session.as_ref().and_then(target) {
            Some(target) => {
                table.remove(&target);
                true
            }
            None => false,
        },
        _ => false,
    }
}

fn client(line: &Line) -> Option<String> {
    line.nas.as_ref().and_then(|nas| nas.name.clone())
}

/// The table entry a disconnect or drop record names: a session when the NAS had given it an
/// id, else the accept it was still waiting on.
fn target(session: &Session) -> Option<Target> {
    match (&session.session_id, &session.decision_request_id) {
        (Some(session_id), _) => Some(Target::Session(SessionKey {
            client: session.client.clone(),
            session_id: session_id.clone(),
        })),
        (None, Some(request_id)) => Some(Target::Accept {
            client: session.client.clone(),
            request_id: request_id.clone(),
        }),
        (None, None) => None,
    }
}

fn nas_view(line: &Line, framed_ip_address: Option<Ipv4Addr>) -> NasView {
    let user_name = match (&line.user_name, &line.user_name_hex) {
        (Some(text), _) => text.as_bytes().to_vec(),
        (None, Some(hex)) => hex::decode(hex).unwrap_or_default(),
        (None, None) => Vec::new(),
    };
    let nas = line.nas.as_ref();
    NasView {
        user_name,
        nas_ip_address: nas.and_then(|n| n.nas_ip_address),
        nas_identifier: nas.and_then(|n| n.nas_identifier.clone()),
        framed_ip_address,
        calling_station_id: line.calling_station_id.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ALICE: &str = r#""account":{"dn":"CN=alice,CN=Users,DC=corp,DC=example,DC=test","object_guid":"guid-alice","object_sid":"S-1-5-21-1","sam_account_name":"alice"}"#;

    fn trail(lines: &[String]) -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("audit.jsonl"), lines.join("\n") + "\n").unwrap();
        dir
    }

    fn accept(time: &str) -> String {
        format!(
            r#"{{"type":"decision","time":"{time}","request_id":"accept-1","nas":{{"name":"vpn1","address":"127.0.0.1:1"}},"user_name":"alice","verdict":"accept",{ALICE}}}"#
        )
    }

    fn accounting(time: &str, status: &str) -> String {
        format!(
            r#"{{"type":"accounting","time":"{time}","nas":{{"name":"vpn1","address":"127.0.0.1:1"}},"user_name":"alice","verdict":"recorded","accounting":{{"status_type":"{status}","session_id":"s1"}}}}"#
        )
    }

    fn at(time: &str) -> DateTime<Utc> {
        time.parse().unwrap()
    }

    /// An accounting record as the live path writes it once the session is linked: with the
    /// AD account.
    fn linked_accounting(time: DateTime<Utc>, status: &str, session_time: u32) -> String {
        format!(
            r#"{{"type":"accounting","time":"{}","nas":{{"name":"vpn1","address":"127.0.0.1:1"}},"user_name":"alice","verdict":"recorded",{ALICE},"accounting":{{"status_type":"{status}","session_id":"s1","session_time":{session_time}}}}}"#,
            time.to_rfc3339()
        )
    }

    #[test]
    fn a_session_started_and_not_stopped_is_live_again_linked_to_its_accept() {
        let dir = trail(&[
            accept("2026-12-02T08:00:00Z"),
            accounting("2026-12-02T08:00:01Z", "start"),
            "not json: a torn line".into(),
        ]);
        let table = rebuild(
            dir.path(),
            TableLimits::default(),
            at("2026-12-02T09:00:00Z"),
        )
        .unwrap();
        let live = table.all(at("2026-12-02T09:00:00Z"));
        assert_eq!(live.len(), 1, "{live:?}");
        assert_eq!(live[0].account.as_ref().unwrap().object_guid, "guid-alice");
        assert_eq!(live[0].target.session_id(), Some("s1"));
    }

    #[test]
    fn stopped_cut_and_stale_sessions_stay_gone() {
        let stopped = [
            accept("2026-12-02T08:00:00Z"),
            accounting("2026-12-02T08:00:01Z", "start"),
            accounting("2026-12-02T08:30:00Z", "stop"),
        ];
        let cut = [
            accept("2026-12-02T08:00:00Z"),
            accounting("2026-12-02T08:00:01Z", "start"),
            r#"{"type":"disconnect","time":"2026-12-02T08:10:00Z","session":{"client":"vpn1","session_id":"s1","user_name":"alice"},"reason":"telework_off","result":"ack","detection_to_result_ms":9}"#.into(),
        ];
        for lines in [&stopped[..], &cut[..]] {
            let dir = trail(lines);
            let table = rebuild(
                dir.path(),
                TableLimits::default(),
                at("2026-12-02T09:00:00Z"),
            )
            .unwrap();
            assert!(table.all(at("2026-12-02T09:00:00Z")).is_empty());
        }
        let dir = trail(&[
            accept("2026-12-01T08:00:00Z"),
            accounting("2026-12-01T08:00:01Z", "start"),
        ]);
        let mut table = rebuild(
            dir.path(),
            TableLimits::default(),
            at("2026-12-02T09:00:00Z"),
        )
        .unwrap();
        let stale = table.expire(at("2026-12-02T09:00:00Z"));
        assert_eq!(
            stale.len(),
            1,
            "a day without accounting: stale, for the caller to record"
        );
        assert_eq!(table.session_count(), 0);
    }

    #[test]
    fn old_segments_are_not_read_and_a_session_comes_back_from_its_interim_updates() {
        let now = Utc::now();
        let days_ago = |days| now - chrono::TimeDelta::days(days);
        let dir = tempfile::tempdir().unwrap();
        // Alice's accept and Accounting-Start three days ago, in a segment closed then; and a
        // session s2 that would be live if that segment were read (its records are recent, but
        // the file says it was last written three days ago, so the rebuild skips it).
        let closed = dir.path().join("audit-00000000000000000001.jsonl");
        let lines = [
            accept(&days_ago(3).to_rfc3339()),
            linked_accounting(days_ago(3), "start", 0),
            linked_accounting(now, "start", 0).replace(r#""s1""#, r#""s2""#),
        ];
        std::fs::write(&closed, lines.join("\n") + "\n").unwrap();
        let file = std::fs::File::options().write(true).open(&closed).unwrap();
        file.set_modified(days_ago(3).into()).unwrap();
        // Her Interim-Updates of the last twenty minutes, in the open segment.
        let recent = [
            linked_accounting(
                now - chrono::TimeDelta::minutes(20),
                "interim_update",
                3 * 86400,
            ),
            linked_accounting(
                now - chrono::TimeDelta::minutes(10),
                "interim_update",
                3 * 86400 + 600,
            ),
        ];
        std::fs::write(dir.path().join("audit.jsonl"), recent.join("\n") + "\n").unwrap();

        let table = rebuild(dir.path(), TableLimits::default(), now).unwrap();

        let live = table.all(now);
        assert_eq!(live.len(), 1, "only s1, from the open segment: {live:?}");
        assert_eq!(live[0].target.session_id(), Some("s1"));
        assert_eq!(live[0].account.as_ref().unwrap().object_guid, "guid-alice");
        assert_eq!(
            live[0].since.timestamp(),
            (now - chrono::TimeDelta::minutes(20) - chrono::TimeDelta::days(3)).timestamp(),
            "since: the first record read less its Acct-Session-Time"
        );
    }
}
