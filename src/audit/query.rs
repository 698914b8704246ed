//! `adgate audit query`: what an auditor asks after an incident — every decision (and
//! accounting record) about one user, in time order: when, the verdict and why, which AD object,
//! from where, through which NAS, with which credential. The user is matched by the name sent
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
        let sent = record["user_name"].as_str().map(str::to_lowercase);
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
    let verdict = match (
        field(record, "/verdict").as_str(),
        field(record, "/reason").as_str(),
    ) {
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
        user = text("/user_name"),
        account = text("/account/dn"),
        from = text("/calling_station_id"),
        nas = text("/nas/name"),
        method = text("/method"),
    )
}

/// The value at `pointer` (RFC 6901) in `record`; null when there is none.
fn field<'a>(record: &'a Value, pointer: &str) -> &'a Value {
    record.pointer(pointer).unwrap_or(&Value::Null)
}
