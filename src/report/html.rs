//! The access report as one self-contained HTML page: inline CSS, inline SVG charts (logins
//! per day by verdict, refusals by reason, top sources of failures), tables for the rest; no
//! script, and nothing fetched from anywhere (a Content-Security-Policy says so to the
//! browser). Every value from the trail is HTML-escaped: a User-Name is attacker-chosen.

use std::fmt::Write;

use html_escape::encode_safe;

use super::{name_list, svg_chart, Report, ROWS_SHOWN};

/// Sources shown in the "top sources of failures" chart.
const TOP_SOURCES: usize = 10;

const STYLE: &str = "body{font-family:sans-serif;margin:2em;color:#222}\
table{border-collapse:collapse;margin:.5em 0 1.5em}\
td,th{border:1px solid #ccc;padding:.2em .6em;text-align:left;vertical-align:top}\
td.n{text-align:right}\
.warning{background:#b00020;color:#fff;padding:1em;font-weight:bold}\
.verified{background:#e6f4ea;padding:.6em}\
.chart .accepted{fill:#2e7d32}.chart .refused,.chart .reason{fill:#c62828}\
.chart .failure{fill:#ef6c00}.chart text{font-size:11px;fill:#222}\
.chart line.axis{stroke:#888}";

/// The HTML report. A forced report over a broken trail says so in a comment on the first
/// line and in a banner at the top.
pub fn render(report: &Report) -> String {
    let mut out = String::new();
    // Writing to a String cannot fail.
    let _ = write_page(report, &mut out);
    out
}

fn write_page(report: &Report, out: &mut String) -> std::fmt::Result {
    let summary = &report.summary;
    let headline = report.trail.headline();
    if report.trail.forced {
        // `--` may not occur inside a comment; the headline holds trail values (file names).
        let mut comment = encode_safe(&headline).into_owned();
        while comment.contains("--") {
            comment = comment.replace("--", "- -");
        }
        writeln!(out, "<!-- {comment} -->")?;
    }
    writeln!(out, "<!DOCTYPE html>")?;
    write!(
        out,
        "<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'; img-src data:\">\
         <title>adgate access report {} to {}</title><style>{STYLE}</style></head><body>",
        report.since.date_naive(),
        report.until.date_naive(),
    )?;
    let banner = if report.trail.intact {
        "verified"
    } else {
        "warning"
    };
    write!(
        out,
        "<p class=\"{banner}\" id=\"trail\">{}</p>",
        encode_safe(&headline)
    )?;
    write!(
        out,
        "<h1>adgate access report</h1><p>{} to {} (end exclusive). Days and hours on the {} \
         clock; business hours {} {}. {} login(s) accepted, {} refused, {} session(s) cut.</p>",
        report.since.to_rfc3339(),
        report.until.to_rfc3339(),
        encode_safe(&report.clock),
        encode_safe(&report.business_hours),
        encode_safe(&report.business_days),
        summary.accepted,
        summary.refused,
        summary.disconnects.len(),
    )?;

    write!(
        out,
        "<h2>Logins per day</h2>{}",
        svg_chart::logins_per_day(&summary.days)
    )?;
    let reasons: Vec<(String, u64)> = summary
        .refusals_by_reason
        .iter()
        .map(|r| (r.reason.clone(), r.count))
        .collect();
    write!(
        out,
        "<h2>Refusals by reason</h2>{}",
        svg_chart::horizontal_bars(
            "refusals-by-reason",
            "Refusals by reason",
            "reason",
            &reasons
        )
    )?;
    let sources: Vec<(String, u64)> = summary
        .sources
        .iter()
        .take(TOP_SOURCES)
        .map(|s| (s.station.clone(), s.failures))
        .collect();
    write!(
        out,
        "<h2>Top sources of failures</h2>{}",
        svg_chart::horizontal_bars(
            "top-failure-sources",
            "Top sources of failed logins",
            "failure",
            &sources
        )
    )?;

    let window = report.thresholds.window.num_minutes();
    write!(
        out,
        "<h2>Password spraying suspects</h2><p>{} or more users failing from one source within {window} minutes.</p>",
        report.thresholds.spray_users
    )?;
    table(
        out,
        "spraying",
        &[
            "source",
            "users within the window",
            "window start",
            "failures",
            "users",
        ],
        summary.spraying.iter().map(|s| {
            vec![
                s.station.clone(),
                s.users_in_window.to_string(),
                s.window_start.to_rfc3339(),
                s.failures.to_string(),
                name_list(&s.users),
            ]
        }),
    )?;
    write!(
        out,
        "<h2>Brute-force suspects</h2><p>{} or more failures of one user within {window} minutes.</p>",
        report.thresholds.brute_force_failures
    )?;
    table(
        out,
        "brute-force",
        &[
            "user",
            "failures within the window",
            "window start",
            "failures",
            "sources",
        ],
        summary.brute_force.iter().map(|s| {
            vec![
                s.user.clone(),
                s.failures_in_window.to_string(),
                s.window_start.to_rfc3339(),
                s.failures.to_string(),
                name_list(&s.stations),
            ]
        }),
    )?;
    write!(out, "<h2>Per user</h2>")?;
    table(
        out,
        "users",
        &[
            "user",
            "accepted",
            "sessions",
            "connected",
            "refusals by reason",
        ],
        summary.users.iter().map(|u| {
            vec![
                u.user.clone(),
                u.accepted.to_string(),
                u.sessions.to_string(),
                format!("{:.1} h", u.connected_seconds as f64 / 3600.0),
                u.refusals
                    .iter()
                    .map(|(reason, count)| format!("{reason} {count}"))
                    .collect::<Vec<_>>()
                    .join(", "),
            ]
        }),
    )?;
    write!(out, "<h2>Sources with failed logins</h2>")?;
    table(
        out,
        "sources",
        &["source", "failures", "users tried", "users"],
        summary.sources.iter().map(|s| {
            vec![
                s.station.clone(),
                s.failures.to_string(),
                s.users.len().to_string(),
                name_list(&s.users),
            ]
        }),
    )?;
    write!(out, "<h2>Logins outside business hours</h2>")?;
    table(
        out,
        "outside-business-hours",
        &["local time", "user", "source"],
        summary.outside_business_hours.iter().map(|l| {
            vec![
                l.local_time.clone(),
                l.user.clone(),
                l.station.clone().unwrap_or_default(),
            ]
        }),
    )?;
    write!(out, "<h2>New source addresses</h2><p>A user's first accepted login from a source the trail before the period never saw them log in from.</p>")?;
    table(
        out,
        "new-sources",
        &["first login", "user", "source"],
        summary.new_sources.iter().map(|n| {
            vec![
                n.first_login.to_rfc3339(),
                n.user.clone(),
                n.station.clone(),
            ]
        }),
    )?;
    write!(out, "<h2>Sessions cut</h2>")?;
    table(
        out,
        "disconnects",
        &["time", "user", "reason", "result", "session", "asked by"],
        summary.disconnects.iter().map(|c| {
            vec![
                c.time.to_rfc3339(),
                c.user.clone(),
                c.reason.clone(),
                c.result.clone(),
                c.session_id.clone().unwrap_or_default(),
                c.requested_by.clone().unwrap_or_default(),
            ]
        }),
    )?;
    writeln!(out, "</body></html>")
}

/// A table with `id`, its header, and one escaped row per item (the first [`ROWS_SHOWN`]);
/// "none" when there are none.
fn table(
    out: &mut String,
    id: &str,
    header: &[&str],
    rows: impl Iterator<Item = Vec<String>>,
) -> std::fmt::Result {
    write!(out, "<table id=\"{id}\"><tr>")?;
    for column in header {
        write!(out, "<th>{column}</th>")?;
    }
    write!(out, "</tr>")?;
    let mut count = 0;
    for row in rows {
        count += 1;
        if count > ROWS_SHOWN {
            continue;
        }
        write!(out, "<tr>")?;
        for cell in row {
            let numeric = !cell.is_empty() && cell.chars().all(|c| c.is_ascii_digit());
            let class = if numeric { " class=\"n\"" } else { "" };
            write!(out, "<td{class}>{}</td>", encode_safe(&cell))?;
        }
        write!(out, "</tr>")?;
    }
    if count == 0 {
        write!(out, "<tr><td colspan=\"{}\">none</td></tr>", header.len())?;
    }
    if count > ROWS_SHOWN {
        write!(
            out,
            "<tr><td colspan=\"{}\">… {} more: the JSON format lists them all</td></tr>",
            header.len(),
            count - ROWS_SHOWN
        )?;
    }
    write!(out, "</table>")
}

#[cfg(test)]
mod tests {
    use chrono::{TimeDelta, Utc};

    use super::*;
    use crate::report::summary::{SourceFailures, Summary, SuspectThresholds, UserActivity};
    use crate::report::TrailCheck;

    fn report(summary: Summary, trail: TrailCheck) -> Report {
        Report {
            trail,
            since: Utc::now() - TimeDelta::days(1),
            until: Utc::now(),
            clock: "UTC".into(),
            business_hours: "07:00-19:00".into(),
            business_days: "mon-fri".into(),
            thresholds: SuspectThresholds {
                window: TimeDelta::hours(1),
                brute_force_failures: 10,
                spray_users: 5,
            },
            summary,
        }
    }

    fn intact() -> TrailCheck {
        TrailCheck {
            intact: true,
            forced: false,
            verified_up_to_seq: Some(42),
            signatures_checked: false,
            problem: None,
        }
    }

    #[test]
    fn every_value_from_the_trail_is_escaped() {
        let evil = "<img src=x onerror=alert(1)>\"'&";
        let summary = Summary {
            users: vec![UserActivity {
                user: evil.into(),
                ..UserActivity::default()
            }],
            sources: vec![SourceFailures {
                station: evil.into(),
                failures: 1,
                users: vec![evil.into()],
            }],
            ..Summary::default()
        };
        let page = render(&report(summary, intact()));
        assert!(!page.contains("<img"), "{page}");
        assert!(
            page.contains("&lt;img src=x onerror=alert(1)&gt;&quot;&#x27;&amp;"),
            "{page}"
        );
        assert!(!page.contains("<script"), "no script at all");
        assert!(page.contains("verified intact up to seq 42"));
    }

    #[test]
    fn a_long_table_shows_its_first_rows_and_counts_the_rest() {
        let summary = Summary {
            sources: (0..ROWS_SHOWN + 50)
                .map(|n| SourceFailures {
                    station: format!("198.51.100.{n}"),
                    failures: 1,
                    users: vec!["alice".into()],
                })
                .collect(),
            ..Summary::default()
        };
        let page = render(&report(summary, intact()));
        assert!(page.contains("… 50 more: the JSON format lists them all"));
        let table = &page[page.find("<table id=\"sources\">").unwrap()..];
        let table = &table[..table.find("</table>").unwrap()];
        assert_eq!(
            table.matches("<tr>").count(),
            1 + ROWS_SHOWN + 1,
            "header, rows, the rest"
        );
    }

    #[test]
    fn a_forced_report_says_so_on_its_first_line_and_in_a_banner() {
        let broken = TrailCheck {
            intact: false,
            forced: true,
            verified_up_to_seq: Some(6),
            signatures_checked: false,
            problem: Some("audit.jsonl, line 7 (seq 7): prev is not the hash --> x".into()),
        };
        let page = render(&report(Summary::default(), broken));
        let first = page.lines().next().unwrap();
        assert!(
            first.starts_with("<!-- WARNING: THE TRAIL IS BROKEN"),
            "{first}"
        );
        let inside = first
            .strip_prefix("<!--")
            .unwrap()
            .strip_suffix("-->")
            .unwrap();
        assert!(!inside.contains("--"), "{first}");
        assert!(page.contains("class=\"warning\""));
    }
}
