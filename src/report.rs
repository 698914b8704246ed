//! `adgate audit report`: what happened at the VPN gate over a period, for people who were not
//! watching — who logged in and for how long, who was refused and why, which sources guessed
//! passwords, logins at odd hours or from new places, sessions cut. It verifies the trail
//! first and refuses a broken one (unless `--force`, which every format then states first), and
//! counts only records up to the last one verified. The reading of the trail is here, the
//! arithmetic in `summary` (a pure function), the layouts in `text` and `html`.

mod business_hours;
mod event;
mod html;
mod summary;
mod svg_chart;
mod text;

use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;
use std::process::ExitCode;

use anyhow::Context;
use chrono::{DateTime, TimeDelta, Utc};
use serde::Serialize;

use crate::audit::{self, QueryFilter};
use crate::cli::{ReportArgs, ReportFormat};
use business_hours::BusinessHours;
use event::TrailEvent;
use summary::{summarise, ReportSettings, Summary, SuspectThresholds};

/// Rows a list shows in the text and HTML reports; the JSON format has them all.
const ROWS_SHOWN: usize = 200;
/// Names a cell shows (the users a source tried, the sources of a user's failures).
const NAMES_SHOWN: usize = 20;

/// `names` joined for one cell: the first [`NAMES_SHOWN`], then how many more.
fn name_list(names: &[String]) -> String {
    let mut text = names
        .iter()
        .take(NAMES_SHOWN)
        .map(String::as_str)
        .collect::<Vec<_>>()
        .join(", ");
    if names.len() > NAMES_SHOWN {
        text.push_str(&format!(" … {} more", names.len() - NAMES_SHOWN));
    }
    text
}

/// Everything a report says; the JSON format is this, serialized, on one line.
#[derive(Debug, Serialize)]
pub struct Report {
    /// First, so that a forced report over a broken trail says so before anything else.
    pub trail: TrailCheck,
    pub since: DateTime<Utc>,
    pub until: DateTime<Utc>,
    /// The clock days and business hours are read on: `local` or an offset.
    pub clock: String,
    pub business_hours: String,
    pub business_days: String,
    pub thresholds: SuspectThresholds,
    pub summary: Summary,
}

/// What `verify` found before the report was made.
#[derive(Debug, Serialize)]
pub struct TrailCheck {
    pub intact: bool,
    /// Made from a broken trail because of `--force`.
    pub forced: bool,
    /// The last record the chain vouches for; the report counts no record after it (when
    /// intact: records written while the report ran wait for the next one).
    pub verified_up_to_seq: Option<u64>,
    /// Whether checkpoint signatures were checked (`--pubkey`).
    pub signatures_checked: bool,
    /// Where and how the trail is broken.
    pub problem: Option<String>,
}

impl TrailCheck {
    /// The report's first line.
    pub fn headline(&self) -> String {
        let vouched = match self.verified_up_to_seq {
            Some(seq) => format!("intact up to seq {seq}"),
            None => "intact for no record".to_owned(),
        };
        match &self.problem {
            None => format!(
                "Trail verified {vouched}{}.",
                if self.signatures_checked {
                    ", checkpoint signatures checked"
                } else {
                    " (checkpoint signatures not checked: no --pubkey)"
                }
            ),
            Some(problem) => format!(
                "WARNING: THE TRAIL IS BROKEN; report made anyway (--force). Chain {vouched}; \
                 first break: {problem}. Records from the break on may be forged, altered or \
                 missing."
            ),
        }
    }
}

/// Runs `adgate audit report`: exit 0 with the report, 1 when the trail is broken (without
/// `--force`), an error (exit 2) when it could not be read or the arguments are wrong.
pub fn run(args: ReportArgs) -> anyhow::Result<ExitCode> {
    let parse_time = |text: &str| QueryFilter::parse_time(text).map_err(anyhow::Error::msg);
    let since = parse_time(&args.since)?;
    let until = args
        .until
        .as_deref()
        .map(parse_time)
        .transpose()?
        .unwrap_or_else(Utc::now);
    anyhow::ensure!(since < until, "--since must be before --until");
    let settings = ReportSettings {
        since,
        until,
        business_hours: BusinessHours::parse(&args.business_hours, &args.business_days, &args.tz)
            .map_err(anyhow::Error::msg)?,
        suspects: SuspectThresholds {
            window: TimeDelta::minutes(i64::from(args.window_minutes.max(1))),
            brute_force_failures: args.brute_force_failures.max(1),
            spray_users: args.spray_users.max(2),
        },
    };
    let trail = match audit::verify(
        &args.dir,
        args.checkpoints.as_deref(),
        args.pubkey.as_deref(),
    )? {
        Ok(verification) => TrailCheck {
            intact: true,
            forced: false,
            verified_up_to_seq: Some(verification.last_seq),
            signatures_checked: args.pubkey.is_some(),
            problem: None,
        },
        Err(trail_break) if args.force => TrailCheck {
            intact: false,
            forced: true,
            // A break at seq N may be the record before it altered (its hash no longer what
            // N's `prev` says): the chain vouches for the records up to N - 2.
            verified_up_to_seq: trail_break
                .seq
                .and_then(|seq| seq.checked_sub(2))
                .filter(|seq| *seq > 0),
            signatures_checked: args.pubkey.is_some(),
            problem: Some(trail_break.to_string()),
        },
        Err(trail_break) => {
            eprintln!(
                "adgate: no report: the trail in {} is broken: {trail_break}. Records may have \
                 been forged, altered or removed; `adgate audit verify` names the break. \
                 --force makes the report anyway, saying so on its first line.",
                args.dir.display()
            );
            return Ok(ExitCode::from(1));
        }
    };
    // A forced report counts every readable record: it is evidence to look at, marked as such.
    let last_counted = if trail.intact {
        trail.verified_up_to_seq
    } else {
        None
    };
    let events = read_events(&args.dir, last_counted)?;
    let report = Report {
        trail,
        since,
        until,
        clock: args.tz.clone(),
        business_hours: args.business_hours.clone(),
        business_days: args.business_days.clone(),
        thresholds: settings.suspects,
        summary: summarise(events, &settings),
    };
    let rendered = match args.format {
        ReportFormat::Text => text::render(&report),
        ReportFormat::Json => format!("{}\n", serde_json::to_string(&report)?),
        ReportFormat::Html => html::render(&report),
    };
    match &args.out {
        Some(path) => write_private(path, &rendered)
            .with_context(|| format!("cannot write {}", path.display()))?,
        None => print!("{rendered}"),
    }
    if report.trail.forced {
        eprintln!("adgate: {}", report.trail.headline());
    }
    Ok(ExitCode::SUCCESS)
}

/// Writes the report to `path`, readable by its owner and group only (like the trail it comes
/// from, it names people and their addresses).
fn write_private(path: &Path, text: &str) -> std::io::Result<()> {
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o640)
        .open(path)?;
    file.write_all(text.as_bytes())
}

/// Every event of the trail in `dir`, up to `last_seq` when given.
fn read_events(dir: &Path, last_seq: Option<u64>) -> anyhow::Result<Vec<TrailEvent>> {
    let mut events = Vec::new();
    for segment in audit::list_segments(dir)? {
        for line in segment.lines()? {
            let Some(event) = TrailEvent::parse(&line?.bytes) else {
                continue;
            };
            if last_seq.is_some_and(|last| event.seq > last) {
                return Ok(events);
            }
            events.push(event);
        }
    }
    Ok(events)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_long_list_of_names_shows_the_first_and_counts_the_rest() {
        let names: Vec<String> = (1..=25).map(|n| format!("user{n}")).collect();
        let text = name_list(&names);
        assert!(text.starts_with("user1, user2, "), "{text}");
        assert!(text.ends_with("user20 … 5 more"), "{text}");
        assert_eq!(name_list(&names[..2]), "user1, user2");
    }
}
