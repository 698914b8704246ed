//! One trail record as a syslog message: RFC 5424 §6 format, framed for a stream transport by
//! octet counting (RFC 6587 §3.4.1; RFC 5425 §4.3 uses the same framing over TLS).

use serde::Deserialize;

/// Facility 13, "log audit" (RFC 5424 §6.2.1, Table 1).
const FACILITY_LOG_AUDIT: u8 = 13;
/// APP-NAME (RFC 5424 §6.2.5).
const APP_NAME: &str = "adgate";

/// The fields of a record the header is made from.
#[derive(Deserialize)]
struct RecordHeader<'a> {
    #[serde(rename = "type")]
    kind: Option<&'a str>,
    time: Option<&'a str>,
}

/// Header fields that are the same for every message of this process.
pub struct Origin {
    /// HOSTNAME (§6.2.4): PRINTUSASCII, at most 255 characters.
    hostname: String,
    /// PROCID (§6.2.6).
    procid: u32,
}

impl Origin {
    pub fn new(hostname: Option<&str>) -> Origin {
        let hostname = hostname
            .map(str::to_owned)
            .or_else(|| std::fs::read_to_string("/proc/sys/kernel/hostname").ok())
            .map(|name| printusascii(name.trim(), 255))
            .filter(|name| !name.is_empty())
            .unwrap_or_else(|| "-".into());
        Origin {
            hostname,
            procid: std::process::id(),
        }
    }

    /// The framed message for one trail line: `MSG-LEN SP SYSLOG-MSG`.
    pub fn frame(&self, line: &[u8]) -> Vec<u8> {
        let header: Option<RecordHeader> = serde_json::from_slice(line).ok();
        let kind = header.as_ref().and_then(|h| h.kind).unwrap_or("record");
        // TIMESTAMP (§6.2.3): the record's own time, already RFC 3339 UTC with milliseconds.
        let timestamp = header.as_ref().and_then(|h| h.time).unwrap_or("-");
        let severity = match kind {
            "seal" => 4, // warning: a crash cut a write short
            // notice: the chain vouched for or shortened, a live session cut or forgotten, the
            // configuration loaded or drifting, where AD stands against the policy
            "checkpoint" | "retention" | "disconnect" | "session_dropped" | "config"
            | "ad_check" => 5,
            _ => 6, // informational
        };
        let priority = FACILITY_LOG_AUDIT * 8 + severity;
        // VERSION 1, no STRUCTURED-DATA; MSG is UTF-8 and so starts with a BOM (§6.4).
        let mut message = format!(
            "<{priority}>1 {timestamp} {host} {APP_NAME} {procid} {msgid} - \u{feff}",
            host = self.hostname,
            procid = self.procid,
            msgid = printusascii(kind, 32),
        )
        .into_bytes();
        message.extend_from_slice(line);
        let mut framed = format!("{} ", message.len()).into_bytes();
        framed.extend_from_slice(&message);
        framed
    }
}

/// `text` cut to `max` characters of PRINTUSASCII (%d33-126), as header fields require.
fn printusascii(text: &str, max: usize) -> String {
    text.chars()
        .filter(|c| ('!'..='~').contains(c))
        .take(max)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_record_becomes_an_octet_counted_rfc5424_message() {
        let origin = Origin::new(Some("gw1.example.test"));
        let line = br#"{"seq":7,"prev":"00","schema":2,"type":"decision","time":"2026-01-02T03:04:05.678Z"}"#;
        let framed = origin.frame(line);
        let text = String::from_utf8(framed).unwrap();
        let (length, message) = text.split_once(' ').unwrap();
        assert_eq!(length.parse::<usize>().unwrap(), message.len());
        let pid = std::process::id();
        assert_eq!(
            message,
            format!(
                "<110>1 2026-01-02T03:04:05.678Z gw1.example.test adgate {pid} decision - \u{feff}{}",
                std::str::from_utf8(line).unwrap()
            )
        );
    }
}
