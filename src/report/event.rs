//! What the access report needs from one trail line: who, when, from where, and what happened
//! (a login decided, an accounting message, a live session cut). The line is untrusted input
//! even after `verify` (a `--force`d report reads a broken trail): anything that is not a
//! record the report knows is skipped, never a panic.

use chrono::{DateTime, Utc};
use serde::Deserialize;

/// One trail record the report counts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrailEvent {
    pub seq: u64,
    pub time: DateTime<Utc>,
    /// The person: the AD account's sAMAccountName (lower case) when the record names one,
    /// else the User-Name as sent (`hex:…` when it was not UTF-8).
    pub user: String,
    /// Calling-Station-Id as the NAS sent it (the user's public address, for most VPNs).
    pub station: Option<String>,
    pub what: What,
}

/// What a record says happened.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum What {
    /// An Access-Request answered with Access-Accept.
    Accepted,
    /// An Access-Request answered with Access-Reject, with its reason code.
    Refused { reason: String },
    /// An Accounting-Request (RFC 2866) about a session.
    Accounting {
        /// The NAS (configured client name, else its address) and Acct-Session-Id: together
        /// they name one session.
        session: (String, String),
        /// Acct-Session-Time, seconds (RFC 2866 §5.7).
        session_time: Option<u64>,
    },
    /// A Disconnect-Request (RFC 5176) adgate sent, and its outcome.
    Disconnect {
        reason: String,
        result: String,
        session_id: Option<String>,
        /// The admin who asked (`adgate sessions disconnect`), when one did.
        requested_by: Option<String>,
    },
}

/// The fields of a trail line the report reads (docs/audit-schema.md); the rest is ignored.
#[derive(Deserialize)]
struct Line {
    seq: u64,
    #[serde(rename = "type")]
    kind: String,
    time: String,
    user_name: Option<String>,
    user_name_hex: Option<String>,
    calling_station_id: Option<String>,
    verdict: Option<String>,
    reason: Option<String>,
    account: Option<Account>,
    nas: Option<Nas>,
    accounting: Option<Accounting>,
    session: Option<Session>,
    result: Option<String>,
    requested_by: Option<Requester>,
}

#[derive(Deserialize)]
struct Account {
    sam_account_name: String,
}

#[derive(Deserialize)]
struct Nas {
    name: Option<String>,
    address: Option<String>,
}

#[derive(Deserialize)]
struct Accounting {
    session_id: Option<String>,
    session_time: Option<u64>,
}

#[derive(Deserialize)]
struct Session {
    user_name: Option<String>,
    user_name_hex: Option<String>,
    session_id: Option<String>,
}

#[derive(Deserialize)]
struct Requester {
    user: Option<String>,
    uid: Option<u32>,
}

impl TrailEvent {
    /// The event in one trail line, or `None` for lines the report does not count (discards,
    /// checkpoints, seals, summaries, accounting without a session id, torn or foreign lines).
    pub fn parse(bytes: &[u8]) -> Option<TrailEvent> {
        let line: Line = serde_json::from_slice(bytes).ok()?;
        let time = DateTime::parse_from_rfc3339(&line.time)
            .ok()?
            .with_timezone(&Utc);
        let sent_name = |text: Option<String>, hex: Option<String>| {
            text.or_else(|| hex.map(|hex| format!("hex:{hex}")))
        };
        let account = line.account.map(|a| a.sam_account_name.to_lowercase());
        let (user, what) = match line.kind.as_str() {
            "decision" => {
                let what = match line.verdict.as_deref()? {
                    "accept" => What::Accepted,
                    "reject" => What::Refused {
                        reason: line.reason?,
                    },
                    _ => return None,
                };
                (
                    account.or(sent_name(line.user_name, line.user_name_hex))?,
                    what,
                )
            }
            "accounting" => {
                let accounting = line.accounting?;
                let nas = line.nas?;
                let nas = nas.name.or(nas.address)?;
                let what = What::Accounting {
                    session: (nas, accounting.session_id?),
                    session_time: accounting.session_time,
                };
                (
                    account.or(sent_name(line.user_name, line.user_name_hex))?,
                    what,
                )
            }
            "disconnect" => {
                let session = line.session?;
                // The login name, else the uid (a uid without a name in /etc/passwd).
                let requested_by = line
                    .requested_by
                    .and_then(|who| who.user.or_else(|| who.uid.map(|uid| format!("uid {uid}"))));
                let what = What::Disconnect {
                    reason: line.reason?,
                    result: line.result?,
                    session_id: session.session_id,
                    requested_by,
                };
                (
                    account.or(sent_name(session.user_name, session.user_name_hex))?,
                    what,
                )
            }
            _ => return None,
        };
        Some(TrailEvent {
            seq: line.seq,
            time,
            user,
            station: line.calling_station_id,
            what,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_refusal_names_the_account_when_the_record_has_one_else_the_name_sent() {
        let known = br#"{"seq":3,"prev":"","schema":2,"type":"decision","time":"2026-12-01T08:00:00.000Z","request_id":"r","nas":{"name":"vpn1","address":"192.0.2.1:1812"},"user_name":"CORP\\Alice","calling_station_id":"198.51.100.7","method":"pap","verdict":"reject","reason":"bad_password","account":{"dn":"CN=Alice","object_guid":"g","object_sid":"s","sam_account_name":"Alice"}}"#;
        let event = TrailEvent::parse(known).unwrap();
        assert_eq!(event.user, "alice");
        assert_eq!(event.station.as_deref(), Some("198.51.100.7"));
        assert_eq!(
            event.what,
            What::Refused {
                reason: "bad_password".into()
            }
        );
        let unknown = br#"{"seq":4,"type":"decision","time":"2026-12-01T08:00:01.000Z","user_name_hex":"ff00","verdict":"reject","reason":"unknown_user"}"#;
        assert_eq!(TrailEvent::parse(unknown).unwrap().user, "hex:ff00");
    }

    #[test]
    fn lines_the_report_does_not_count_are_skipped_not_fatal() {
        for line in [
            &br#"{"seq":1,"type":"checkpoint","time":"2026-12-01T08:00:00.000Z"}"#[..],
            br#"{"seq":2,"type":"decision","time":"2026-12-01T08:00:00.000Z","user_name":"x","verdict":"discard","reason":"malformed"}"#,
            br#"{"seq":3,"type":"decision","time":"yesterday","user_name":"x","verdict":"accept"}"#,
            br#"{"seq":4,"type":"decis"#,
            b"not json at all",
        ] {
            assert_eq!(TrailEvent::parse(line), None);
        }
    }

    #[test]
    fn a_cut_says_who_asked_for_it() {
        let line = br#"{"seq":9,"type":"disconnect","time":"2026-12-01T09:00:00.000Z","session":{"client":"vpn1","session_id":"s-1","user_name":"alice"},"reason":"admin_request","result":"ack","requested_by":{"uid":0,"user":"root","pid":1}}"#;
        let event = TrailEvent::parse(line).unwrap();
        assert_eq!(event.user, "alice");
        assert_eq!(
            event.what,
            What::Disconnect {
                reason: "admin_request".into(),
                result: "ack".into(),
                session_id: Some("s-1".into()),
                requested_by: Some("root".into()),
            }
        );
    }
}
