//! The schema of one decision record (docs/audit-schema.md). Field names are part of the
//! contract with auditors and their tools: add fields, never rename or reuse them. A password
//! never has a field here. The chain fields (`seq`, `prev`) are put in front by the writer.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};

use serde::Serialize;

use crate::reason::Reason;

/// Version of the record schema written in every record's `schema` field.
pub const SCHEMA_VERSION: u32 = 2;

/// What happened to the request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    Accept,
    Reject,
    /// Dropped without an answer (unknown client, bad authenticator, malformed).
    Discard,
    /// An Accounting-Request, recorded (and then answered).
    Recorded,
}

/// The RADIUS client the request came from.
#[derive(Debug, Clone, Serialize)]
pub struct NasRecord {
    /// Configured client name; absent when the source matched no client.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Source address and port of the datagram.
    pub address: SocketAddr,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub nas_identifier: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub nas_ip_address: Option<IpAddr>,
}

/// User-Name exactly as sent. It is text almost always, but RADIUS allows any octets (some
/// gateways send a DER subject), so bytes that are not UTF-8 are kept, hex-encoded.
#[derive(Debug, Clone, Serialize)]
pub enum UserName {
    #[serde(rename = "user_name")]
    Text(String),
    #[serde(rename = "user_name_hex")]
    Binary(String),
}

impl UserName {
    pub fn from_bytes(bytes: &[u8]) -> UserName {
        match std::str::from_utf8(bytes) {
            Ok(text) => UserName::Text(text.to_owned()),
            Err(_) => UserName::Binary(bytes.iter().map(|b| format!("{b:02x}")).collect()),
        }
    }
}

/// The Active Directory object the request was resolved to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct AccountRecord {
    pub dn: String,
    pub object_guid: String,
    pub object_sid: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user_principal_name: Option<String>,
    pub sam_account_name: String,
}

impl From<&adgate_authz::AccountSummary> for AccountRecord {
    fn from(account: &adgate_authz::AccountSummary) -> Self {
        AccountRecord {
            dn: account.dn.clone(),
            object_guid: account.object_guid.clone(),
            object_sid: account.object_sid.clone(),
            user_principal_name: account.user_principal_name.clone(),
            sam_account_name: account.sam_account_name.clone(),
        }
    }
}

/// What an Accounting-Request (RFC 2866) said about a session.
#[derive(Debug, Clone, Default, Serialize)]
pub struct AccountingRecord {
    /// `start`, `stop`, `interim_update`, `accounting_on`, `accounting_off`, or the number.
    pub status_type: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub session_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub framed_ip_address: Option<Ipv4Addr>,
    /// Seconds.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub session_time: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub input_octets: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub output_octets: Option<u64>,
    /// Acct-Terminate-Cause number (RFC 2866 §5.10).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub terminate_cause: Option<u32>,
    /// Seconds the NAS waited before sending (RFC 2866 §5.2).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub delay_time: Option<u32>,
    /// `request_id` of the access decision that admitted the session, from the Class attribute
    /// adgate put in its Access-Accept.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub decision_request_id: Option<String>,
}

/// The client certificate of an EAP-TLS login and the TLS session it came in.
#[derive(Debug, Clone, Serialize)]
pub struct CertificateRecord {
    /// Subject DN, RFC 4514 text.
    pub subject: String,
    /// Issuer DN, RFC 4514 text.
    pub issuer: String,
    /// Serial number, colon-separated hex.
    pub serial: String,
    /// SHA-256 of the DER certificate, hex.
    pub sha256_fingerprint: String,
    /// Where the identity came from: `san_upn`, `san_email` or `subject_email`; absent when
    /// the certificate names nobody.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub identity_source: Option<&'static str>,
    /// The UPN or e-mail address the certificate names.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub identity: Option<String>,
    /// `TLSv1.2` or `TLSv1.3`.
    pub tls_version: &'static str,
    /// IANA name of the cipher suite.
    pub cipher_suite: String,
}

/// The per-group attributes (`[[policy.reply]]`) an Access-Accept carried.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ReplyRecord {
    /// Filter-Id (RFC 2865 §5.11).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub filter_id: Option<String>,
    /// What followed `adgate:<request_id>:` in the Class (RFC 2865 §5.25).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub class_suffix: Option<String>,
    /// Session-Timeout in seconds (RFC 2865 §5.27).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub session_timeout: Option<u32>,
    /// Framed-Pool (RFC 2869 §5.18).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub framed_pool: Option<String>,
}

impl ReplyRecord {
    /// The record of `reply`, or none when it sets nothing.
    pub fn of(reply: &adgate_authz::ReplyAttributes) -> Option<ReplyRecord> {
        (!reply.is_empty()).then(|| ReplyRecord {
            filter_id: reply.filter_id.clone(),
            class_suffix: reply.class_suffix.clone(),
            session_timeout: reply.session_timeout,
            framed_pool: reply.framed_pool.clone(),
        })
    }
}

/// One line of the trail.
#[derive(Debug, Clone, Serialize)]
pub struct Record {
    pub schema: u32,
    /// Record type, from the verdict: `accounting` for a recorded Accounting-Request, else
    /// `decision` (the writer adds checkpoints, seals, summaries).
    #[serde(rename = "type")]
    pub kind: &'static str,
    /// UTC, RFC 3339 with milliseconds.
    pub time: String,
    /// Unique, time-ordered (UUIDv7); quoted in adgate's log line for the same request.
    pub request_id: String,
    pub nas: NasRecord,
    /// RADIUS Identifier of the request, to match packet captures.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub radius_identifier: Option<u8>,
    #[serde(flatten, skip_serializing_if = "Option::is_none")]
    pub user_name: Option<UserName>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub calling_station_id: Option<String>,
    /// `pap`, `eap-tls`, `mschapv2`, `eap-mschapv2`, `peap-mschapv2`, or `unsupported` for a
    /// request carrying no credential adgate accepts.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub method: Option<&'static str>,
    pub verdict: Verdict,
    /// Reason code (docs/reasons.md); absent on accept.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<Reason>,
    /// With reason `throttled`: which budget was spent (`user`, `user_at_station`, `station`).
    /// Added within schema 2.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub throttled_by: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub account: Option<AccountRecord>,
    /// Whether the request carried a valid Message-Authenticator.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message_authenticator: Option<bool>,
    /// Present on records of Accounting-Requests.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub accounting: Option<AccountingRecord>,
    /// Accounting records adgate wrote itself, for a VPN server that sends no accounting:
    /// where it saw the session start or end (`session_list`: in the server's own list of
    /// sessions). Absent on a NAS's Accounting-Request. Added within schema 2.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source: Option<&'static str>,
    /// EAP-TLS logins that got as far as a certificate.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub certificate: Option<CertificateRecord>,
    /// PEAP logins that got as far as the identity inside the tunnel: that identity, the one
    /// checked (`user_name` is the outer one, which may be anonymous). Added within schema 2.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub inner_identity: Option<String>,
    /// Accepts that carried per-group reply attributes: which. Added within schema 2.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reply: Option<ReplyRecord>,
}

/// Now, as every record's `time`: UTC, RFC 3339 with milliseconds.
pub fn timestamp() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

impl Record {
    /// A record stamped now with a fresh request id; the caller fills in the rest.
    pub fn new(nas: NasRecord, verdict: Verdict) -> Record {
        Record {
            schema: SCHEMA_VERSION,
            kind: match verdict {
                Verdict::Recorded => "accounting",
                Verdict::Accept | Verdict::Reject | Verdict::Discard => "decision",
            },
            time: timestamp(),
            request_id: uuid::Uuid::now_v7().to_string(),
            nas,
            radius_identifier: None,
            user_name: None,
            calling_station_id: None,
            method: None,
            verdict,
            reason: None,
            throttled_by: None,
            account: None,
            message_authenticator: None,
            accounting: None,
            source: None,
            certificate: None,
            inner_identity: None,
            reply: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn nas() -> NasRecord {
        NasRecord {
            name: Some("vpn1".into()),
            address: "127.0.0.1:40000".parse().unwrap(),
            nas_identifier: None,
            nas_ip_address: None,
        }
    }

    #[test]
    fn a_record_is_one_json_object_with_the_documented_fields() {
        let mut record = Record::new(nas(), Verdict::Reject);
        record.user_name = Some(UserName::from_bytes(b"alice"));
        record.reason = Some(Reason::TeleworkOff);
        let json: serde_json::Value = serde_json::to_value(&record).unwrap();
        assert_eq!(json["schema"], 2);
        assert_eq!(json["type"], "decision");
        assert_eq!(json["user_name"], "alice");
        assert_eq!(json["verdict"], "reject");
        assert_eq!(json["reason"], "telework_off");
        assert_eq!(json["nas"]["name"], "vpn1");
        assert!(json["time"].as_str().unwrap().ends_with('Z'));
        assert!(json.get("account").is_none());
    }

    #[test]
    fn a_user_name_that_is_not_utf8_is_kept_as_hex() {
        let mut record = Record::new(nas(), Verdict::Discard);
        record.user_name = Some(UserName::from_bytes(&[0x30, 0xff, 0x00]));
        let json: serde_json::Value = serde_json::to_value(&record).unwrap();
        assert_eq!(json["user_name_hex"], "30ff00");
        assert!(json.get("user_name").is_none());
    }
}
