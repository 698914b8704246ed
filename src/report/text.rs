//! The access report as plain text, for a terminal or an e-mail: the trail check on the first
//! line, then one section per finding, suspects first. Values from the trail are printed with
//! control characters escaped, so a crafted User-Name cannot rewrite the reader's terminal.

use std::fmt::Write;

use super::{name_list, Report, ROWS_SHOWN};

/// The text report.
pub fn render(report: &Report) -> String {
    let mut out = String::new();
    // Writing to a String cannot fail.
    let _ = write_report(report, &mut out);
    out
}

fn write_report(report: &Report, out: &mut String) -> std::fmt::Result {
    let summary = &report.summary;
    writeln!(out, "{}", report.trail.headline())?;
    writeln!(
        out,
        "adgate access report, {} to {} (end exclusive); days and hours on the {} clock, business hours {} {}",
        report.since.to_rfc3339(),
        report.until.to_rfc3339(),
        report.clock,
        report.business_hours,
        report.business_days,
    )?;
    writeln!(
        out,
        "{} login(s) accepted, {} refused, {} session(s) cut",
        summary.accepted,
        summary.refused,
        summary.disconnects.len()
    )?;

    let window = report.thresholds.window.num_minutes();
    section(
        out,
        &format!(
            "Password spraying suspects (>= {} users failing from one source within {window} min)",
            report.thresholds.spray_users
        ),
        summary.spraying.is_empty(),
    )?;
    for suspect in summary.spraying.iter().take(ROWS_SHOWN) {
        writeln!(
            out,
            "  {}: {} users within {window} min from {}, {} failure(s) in all; users: {}",
            clean(&suspect.station),
            suspect.users_in_window,
            suspect.window_start.to_rfc3339(),
            suspect.failures,
            clean(&name_list(&suspect.users)),
        )?;
    }
    more(out, summary.spraying.len())?;
    section(
        out,
        &format!(
            "Brute-force suspects (>= {} failures of one user within {window} min)",
            report.thresholds.brute_force_failures
        ),
        summary.brute_force.is_empty(),
    )?;
    for suspect in summary.brute_force.iter().take(ROWS_SHOWN) {
        writeln!(
            out,
            "  {}: {} failures within {window} min from {}, {} in all; from: {}",
            clean(&suspect.user),
            suspect.failures_in_window,
            suspect.window_start.to_rfc3339(),
            suspect.failures,
            clean(&name_list(&suspect.stations)),
        )?;
    }
    more(out, summary.brute_force.len())?;

    section(out, "Per user", summary.users.is_empty())?;
    writeln!(
        out,
        "  {:<32} {:>8} {:>8} {:>12}  refusals",
        "user", "accepted", "sessions", "connected"
    )?;
    for user in summary.users.iter().take(ROWS_SHOWN) {
        let refusals: Vec<String> = user
            .refusals
            .iter()
            .map(|(reason, count)| format!("{reason} {count}"))
            .collect();
        writeln!(
            out,
            "  {:<32} {:>8} {:>8} {:>12}  {}",
            clean(&user.user),
            user.accepted,
            user.sessions,
            duration(user.connected_seconds),
            clean(&refusals.join(", ")),
        )?;
    }
    more(out, summary.users.len())?;

    section(
        out,
        "Sources with failed logins",
        summary.sources.is_empty(),
    )?;
    for source in summary.sources.iter().take(ROWS_SHOWN) {
        writeln!(
            out,
            "  {:<40} {:>6} failure(s), {} user(s): {}",
            clean(&source.station),
            source.failures,
            source.users.len(),
            clean(&name_list(&source.users)),
        )?;
    }
    more(out, summary.sources.len())?;

    section(
        out,
        "Refusals by reason",
        summary.refusals_by_reason.is_empty(),
    )?;
    for reason in &summary.refusals_by_reason {
        writeln!(out, "  {:<32} {:>8}", clean(&reason.reason), reason.count)?;
    }

    section(
        out,
        "Logins outside business hours",
        summary.outside_business_hours.is_empty(),
    )?;
    for login in summary.outside_business_hours.iter().take(ROWS_SHOWN) {
        writeln!(
            out,
            "  {}  {}  from {}",
            login.local_time,
            clean(&login.user),
            clean(login.station.as_deref().unwrap_or("-")),
        )?;
    }
    more(out, summary.outside_business_hours.len())?;

    section(
        out,
        "New source addresses (first login from there in the trail)",
        summary.new_sources.is_empty(),
    )?;
    for source in summary.new_sources.iter().take(ROWS_SHOWN) {
        writeln!(
            out,
            "  {}  {}  from {}",
            source.first_login.to_rfc3339(),
            clean(&source.user),
            clean(&source.station),
        )?;
    }
    more(out, summary.new_sources.len())?;

    section(
        out,
        "Sessions cut (Disconnect-Request)",
        summary.disconnects.is_empty(),
    )?;
    for cut in summary.disconnects.iter().take(ROWS_SHOWN) {
        writeln!(
            out,
            "  {}  {}  reason {}  result {}  session {}{}",
            cut.time.to_rfc3339(),
            clean(&cut.user),
            clean(&cut.reason),
            clean(&cut.result),
            clean(cut.session_id.as_deref().unwrap_or("-")),
            cut.requested_by
                .as_deref()
                .map(|who| format!("  asked by {}", clean(who)))
                .unwrap_or_default(),
        )?;
    }
    more(out, summary.disconnects.len())?;

    section(out, "Logins per day", summary.days.is_empty())?;
    for day in &summary.days {
        writeln!(
            out,
            "  {}  accepted {:>6}  refused {:>6}",
            day.day, day.accepted, day.refused
        )?;
    }
    Ok(())
}

/// A section heading, and `none` under it when it is empty.
fn section(out: &mut String, title: &str, empty: bool) -> std::fmt::Result {
    writeln!(out, "\n{title}")?;
    if empty {
        writeln!(out, "  none")?;
    }
    Ok(())
}

/// After a list cut at [`ROWS_SHOWN`]: how many it left out.
fn more(out: &mut String, listed: usize) -> std::fmt::Result {
    if listed > ROWS_SHOWN {
        writeln!(
            out,
            "  … {} more: --format json lists them all",
            listed - ROWS_SHOWN
        )?;
    }
    Ok(())
}

/// `3h 05m 07s`.
fn duration(seconds: u64) -> String {
    format!(
        "{}h {:02}m {:02}s",
        seconds / 3600,
        seconds / 60 % 60,
        seconds % 60
    )
}

/// `text` with control characters (escape sequences, newlines) shown escaped.
fn clean(text: &str) -> String {
    text.chars()
        .flat_map(|c| {
            if c.is_control() {
                c.escape_default().collect::<Vec<_>>()
            } else {
                vec![c]
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_user_name_cannot_smuggle_terminal_escapes_or_lines() {
        assert_eq!(clean("evil\u{1b}[2J\nroot"), "evil\\u{1b}[2J\\nroot");
    }

    #[test]
    fn connected_time_reads_as_hours_minutes_seconds() {
        assert_eq!(duration(7199 + 600), "2h 09m 59s");
    }
}
