//! The records of live-session oversight (docs/audit-schema.md): every Disconnect-Request
//! adgate sent (RFC 5176) and what came of it, and every session the table forgot without a
//! Stop. With the accounting records they let an auditor answer "when was this person's tunnel
//! cut, why, who asked, and did the VPN confirm it".

use std::net::SocketAddr;

use serde::Serialize;

use super::record::{timestamp, AccountRecord, UserName, SCHEMA_VERSION};
use crate::reason::Reason;

/// Who asked for a cut by hand (`adgate sessions disconnect`), from the control channel's peer
/// credentials.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Requester {
    pub uid: u32,
    /// The login name of `uid`, when the system knows it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    pub pid: i32,
    /// What the admin wrote (`--reason`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub comment: Option<String>,
}

/// The session a record is about, as the NAS named it.
#[derive(Debug, Clone, Serialize)]
pub struct SessionOnNas {
    /// The configured RADIUS client.
    pub client: String,
    /// Acct-Session-Id; absent for an accept whose Accounting-Start had not come.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub session_id: Option<String>,
    #[serde(flatten)]
    pub user_name: UserName,
    /// `request_id` of the access decision that admitted the session, when known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub decision_request_id: Option<String>,
}

/// `type: "disconnect"`: one Disconnect-Request and its outcome.
#[derive(Debug, Clone, Serialize)]
pub struct DisconnectRecord {
    pub schema: u32,
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub time: String,
    pub request_id: String,
    pub session: SessionOnNas,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub account: Option<AccountRecord>,
    /// Why: a login reason code that ends live sessions, `account_deleted` or `admin_request`.
    pub reason: Reason,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub requested_by: Option<Requester>,
    /// Where the Disconnect-Request went (`[clients.disconnect] address`); absent for a kind
    /// that runs a program instead (ocserv_occtl).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sent_to: Option<SocketAddr>,
    /// `ack`, `nak`, `no_answer`, `not_sent` (the request could not be built or sent) or
    /// `no_disconnect_configured`.
    pub result: &'static str,
    /// Error-Cause of the answer (RFC 5176 §3.5), if it carried one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error_cause: Option<u32>,
    /// Datagrams sent (the first and its retransmissions).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub attempts: Option<u32>,
    /// From the moment adgate learnt the session must end to the NAS's answer (or giving up).
    pub detection_to_result_ms: u64,
}

impl DisconnectRecord {
    pub fn new(session: SessionOnNas, reason: Reason, result: &'static str) -> Self {
        DisconnectRecord {
            schema: SCHEMA_VERSION,
            kind: "disconnect",
            time: timestamp(),
            request_id: uuid::Uuid::now_v7().to_string(),
            session,
            account: None,
            reason,
            requested_by: None,
            sent_to: None,
            result,
            error_cause: None,
            attempts: None,
            detection_to_result_ms: 0,
        }
    }
}

/// `type: "session_dropped"`: a session the table forgot without its Stop.
#[derive(Debug, Clone, Serialize)]
pub struct SessionDroppedRecord {
    pub schema: u32,
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub time: String,
    pub session: SessionOnNas,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub account: Option<AccountRecord>,
    /// `stale` (no accounting for longer than its limit) or `table_full`.
    pub cause: &'static str,
    /// The last accounting message heard for it.
    pub last_seen: String,
}

impl SessionDroppedRecord {
    pub fn new(session: SessionOnNas, cause: &'static str, last_seen: String) -> Self {
        SessionDroppedRecord {
            schema: SCHEMA_VERSION,
            kind: "session_dropped",
            time: timestamp(),
            session,
            account: None,
            cause,
            last_seen,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_disconnect_record_has_the_documented_fields_and_no_secret() {
        let mut record = DisconnectRecord::new(
            SessionOnNas {
                client: "vpn1".into(),
                session_id: Some("1700000000-7".into()),
                user_name: UserName::from_bytes(b"alice"),
                decision_request_id: None,
            },
            Reason::AdminRequest,
            "ack",
        );
        record.requested_by = Some(Requester {
            uid: 0,
            user: Some("root".into()),
            pid: 42,
            comment: Some("stolen laptop".into()),
        });
        record.attempts = Some(1);
        let json: serde_json::Value = serde_json::to_value(&record).unwrap();
        assert_eq!(json["type"], "disconnect");
        assert_eq!(json["session"]["user_name"], "alice");
        assert_eq!(json["session"]["session_id"], "1700000000-7");
        assert_eq!(json["requested_by"]["user"], "root");
        assert_eq!(json["reason"], "admin_request");
        assert_eq!(json["result"], "ack");
        assert_eq!(json["reason"], "admin_request");
        assert!(json.get("secret").is_none());
    }
}
