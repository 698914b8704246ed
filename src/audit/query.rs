//! `adgate audit query`: what an auditor asks after an incident — every decision, accounting
//! record and live-session cut about one user, in time order: when, the verdict and why, which
//! AD object, from where, through which NAS, with which credential, and who cut the session.
//! The user is matched by the name sent (with or without `DOMAIN\` or `@suffix`) and by the
//! resolved account's sAMAccountName or UPN. With `--type`, only records of that type: `config`
//! is the history of the gateway's own configuration, `ad_check` that of the AD checks.

use std::io::Write;
use std::path::Path;

use chrono::{DateTime, NaiveDate, Utc};
use serde_json::Value;

use super::segment;

/// Which records to show.
#[derive(Debug, Clone)]
pub struct QueryFilter {
    /// The user the records are about; `None`: any (then `kind` says which records).
    pub user: Option<String>,
    /// The record `type`; `None`: any.
    pub kind: Option<String>,
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
        if self
            .kind
            .as_deref()
            .is_some_and(|kind| record["type"].as_str() != Some(kind))
        {
            return false;
        }
        let Some(user) = &self.user else {
            return true;
        };
        let wanted = user.to_lowercase();
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
        _ if field(record, "/type") == "config" => return config_line(record),
        _ if field(record, "/type") == "ad_check" => format!(
            "ad_check:{} fail={} warn={} pass={}",
            text("/result"),
            field(record, "/counts/fail"),
            field(record, "/counts/warn"),
            field(record, "/counts/pass"),
        ),
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

/// A config record: event and result, what set it off, the file's hash, what changed.
fn config_line(record: &Value) -> String {
    let text = |pointer: &str| field(record, pointer).as_str().unwrap_or("-").to_owned();
    let list = |pointer: &str| match field(record, pointer).as_array() {
        Some(items) => items
            .iter()
            .filter_map(Value::as_str)
            .collect::<Vec<_>>()
            .join(","),
        None => "-".to_owned(),
    };
    let by = match field(record, "/trigger/sender_pid").as_i64() {
        Some(pid) => format!(
            "{} pid={pid} uid={} user={}",
            text("/trigger/source"),
            field(record, "/trigger/sender_uid"),
            text("/trigger/sender_user"),
        ),
        None => match field(record, "/trigger/sender").as_str() {
            Some(sender) => format!("{} sender={sender}", text("/trigger/source")),
            None => text("/trigger/source"),
        },
    };
    let mut line = format!(
        "{time}  seq={seq}  config:{event}:{result}  by={by}  sha256={sha256}  \
         changed_keys={keys}  changed_files={files}",
        time = text("/time"),
        seq = field(record, "/seq"),
        event = text("/event"),
        result = text("/result"),
        sha256 = text("/config_file/sha256"),
        keys = list("/changed_keys"),
        files = list("/changed_files"),
    );
    if let Some(error) = field(record, "/error").as_str() {
        line += &format!("  error={error}");
    }
    line
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
            user: Some("alice".into()),
            kind: None,
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

    #[test]
    fn type_config_lists_the_configuration_history_with_who_and_what() {
        let reload = serde_json::json!({
            "seq": 9, "type": "config", "time": "2026-12-02T06:00:00.000Z",
            "event": "reload", "result": "refused", "error": "adgate.toml, line 3: `x` is bad",
            "trigger": {"source": "sighup", "sender_pid": 77, "sender_uid": 0,
                        "sender_user": "root"},
            "config_file": {"path": "/etc/adgate/adgate.toml", "sha256": "ab12"},
            "files": [], "changed_keys": ["throttle.max_failures"], "changed_files": []
        });
        let only_config = QueryFilter {
            user: None,
            kind: Some("config".into()),
            since: None,
            until: None,
        };
        assert!(only_config.matches(&reload));
        assert!(!only_config.matches(&disconnect()));
        assert_eq!(
            summary_line(&reload),
            "2026-12-02T06:00:00.000Z  seq=9  config:reload:refused  by=sighup pid=77 uid=0 \
             user=root  sha256=ab12  changed_keys=throttle.max_failures  changed_files=  \
             error=adgate.toml, line 3: `x` is bad"
        );
    }
}
