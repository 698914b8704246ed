//! `adgate audit query`: what an auditor asks after an incident — every decision, accounting
//! record and live-session cut about one user, in time order: when, the verdict and why, which
//! AD object, from where, through which NAS, with which credential, and who cut the session. The user is matched by the name sent
//! (with or without `DOMAIN\` or `@suffix`) and by the resolved account's sAMAccountName or UPN.

use std::io::Write;
use std::path::Path;

use chrono::{DateTime, NaiveDate, Utc};
use serde_json::Value;

use super::segment;

/// Which records to show.
#[derive(Debug, Clone)]
pub struct QueryFilter {
    pub user: String,
    pub since: Option<DateTime<Utc>>,
    pub until: Option<DateTime<Utc>>,
}

impl QueryFilter {
    /// Parses a `--since`/`--until` value: RFC 3339, or a date (midnight UTC).
    pub fn parse_time(text: &str) -> Result<DateTime<Utc>, String> {
        if let Ok(time) = DateTime::parse_from_rfc3339(text) {
            return Ok(time.with_timezone(&Utc));
        }
        NaiveDate::parse_from_str(text, "%Y-%m-%d")
            .ok()
            .and_then(|date| date.and_hms_opt(0, 0, 0))
            .map(|time| time.and_utc())
            .ok_or_else(|| format!("{text:?} is neither RFC 3339 nor YYYY-MM-DD"))
    }

    fn matches(&self, record: &Value) -> bool {
        let Some(time) = record["time"]
            .as_str()
            .and_then(|t| DateTime::parse_from_rfc3339(t).ok())
        else {
            return false;
        };
        let time = time.with_timezone(&Utc);
        if self.since.is_some_and(|since| time < since)
            || self.until.is_some_and(|until| time > until)
        {
            return false;
        }
        let wanted = self.user.to_lowercase();
        // Disconnect and dropped-session records name the user inside `session`.
        let sent = field(record, "/user_name")
            .as_str()
            .or_else(|| field(record, "/session/user_name").as_str())
            .map(str::to_lowercase);
        let sent_bare = sent.as_deref().map(|name| {
            let name = name.rsplit('\\').next().unwrap_or(name);
            name.split('@').next().unwrap_or(name).to_owned()
        });
        let account = &record["account"];
        [
            sent,
            sent_bare,
            account["sam_account_name"].as_str().map(str::to_lowercase),
            account["user_principal_name"]
                .as_str()
                .map(str::to_lowercase),
        ]
        .into_iter()
        .flatten()
        .any(|name| name == wanted)
    }
}

/// Prints the records matching `filter` in time order, one per line (a readable summary, or
/// the records themselves with `json`); returns how many.
pub fn query(
    dir: &Path,
    filter: &QueryFilter,
    json: bool,
    out: &mut impl Write,
) -> anyhow::Result<usize> {
    let mut found: Vec<(DateTime<Utc>, Value)> = Vec::new();
    for segment in segment::list(dir)? {
        for line in segment.lines()? {
            let line = line?;
            let Ok(record) = serde_json::from_slice::<Value>(&line.bytes) else {
                continue;
            };
            if filter.matches(&record) {
                let time = field(&record, "/time")
                    .as_str()
                    .and_then(|t| DateTime::parse_from_rfc3339(t).ok())
                    .map(|t| t.with_timezone(&Utc))
                    .unwrap_or_default();
                found.push((time, record));
            }
        }
    }
    found.sort_by_key(|(time, _)| *time);
    for (_, record) in &found {
        if json {
            writeln!(out, "{record}")?;
        } else {
            writeln!(out, "{}", summary_line(record))?;
        }
    }
    Ok(found.len())
}

/// One readable line: time, verdict and reason, name sent, AD object, from where, NAS, method.
fn summary_line(record: &Value) -> String {
    let text = |pointer: &str| field(record, pointer).as_str().unwrap_or("-").to_owned();
    // Disconnect and dropped-session records name the user and the client inside `session`.
    let session = field(record, "/session").is_object();
    let verdict = match (
        field(record, "/verdict").as_str(),
        field(record, "/reason").as_str(),
    ) {
        _ if field(record, "/type") == "disconnect" => format!(
            "disconnect:{}:{} session={} by={}",
            text("/reason"),
            text("/result"),
            text("/session/session_id"),
            text("/requested_by/user"),
        ),
        _ if field(record, "/type") == "session_dropped" => format!(
            "session_dropped:{} session={}",
            text("/cause"),
            text("/session/session_id"),
        ),
        _ if field(record, "/accounting").is_object() => format!(
            "accounting:{} session={} framed_ip={}",
            text("/accounting/status_type"),
            text("/accounting/session_id"),
            text("/accounting/framed_ip_address")
        ),
        (Some(verdict), Some(reason)) => format!("{verdict}:{reason}"),
        (Some(verdict), None) => verdict.to_owned(),
        (None, _) => text("/type"),
    };
    format!(
        "{time}  seq={seq}  {verdict}  user={user}  account={account}  from={from}  nas={nas}  method={method}",
        time = text("/time"),
        seq = field(record, "/seq"),
        user = text(if session { "/session/user_name" } else { "/user_name" }),
        account = text("/account/dn"),
        from = text("/calling_station_id"),
        nas = text(if session { "/session/client" } else { "/nas/name" }),
        method = text("/method"),
    )
}

/// The value at `pointer` (RFC 6901) in `record`; null when there is none.
fn field<'a>(record: &'a Value, pointer: &str) -> &'a Value {
    record.pointer(pointer).unwrap_or(&Value::Null)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn disconnect() -> Value {
        serde_json::json!({
            "seq": 7, "type": "disconnect", "time": "2026-12-02T05:00:00.000Z",
            "session": {"client": "vpn1", "session_id": "1700-3", "user_name": "CORP\\alice"},
            "account": {"dn": "CN=alice,CN=Users,DC=corp,DC=example,DC=test",
                        "sam_account_name": "alice"},
            "reason": "admin_request", "result": "ack",
            "requested_by": {"uid": 0, "user": "root", "pid": 1}
        })
    }

    #[test]
    fn a_cut_is_found_by_the_user_its_session_names_and_says_who_cut_it() {
        let filter = QueryFilter {
            user: "alice".into(),
            since: None,
            until: None,
        };
        assert!(filter.matches(&disconnect()));
        let line = summary_line(&disconnect());
        assert!(
            line.contains("disconnect:admin_request:ack session=1700-3 by=root"),
            "{line}"
        );
        assert!(
            line.contains("user=CORP\\alice") && line.contains("nas=vpn1"),
            "{line}"
        );
    }
}
