//! `adgate check-ad`: where the domain stands against the telework policy, read with the
//! service account and judged by `authz` (one finding per policy item: pass, warn or fail, what
//! was found, the accounts it names). Text for a person, JSON for tools; exit 1 when anything
//! fails, 2 when AD could not be checked. `serve` runs the same checks on its own (`periodic`).

mod periodic;

use std::io::Write;
use std::path::Path;
use std::process::ExitCode;

use adgate_authz::{
    judge_posture, AdPosture, Authorizer, Directory, FileTime, Finding, FindingStatus,
    PostureReadError, PostureSettings,
};
use anyhow::Context;
use clap::ValueEnum;

use crate::audit::{FindingRecord, StatusCounts};
use crate::config::Config;

pub use periodic::{spawn_periodic_checks, AdCheckMetrics};

/// How `check-ad` prints its findings.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum CheckAdFormat {
    /// One block per check, failures first.
    Text,
    /// An array of `{"check", "status", "detail", "accounts"}`.
    Json,
}

/// Reads AD with `authorizer` and judges it now.
pub async fn run_checks(
    authorizer: &Authorizer<Directory>,
    settings: PostureSettings,
) -> Result<(AdPosture, Vec<Finding>), PostureReadError> {
    let posture = authorizer.read_posture().await?;
    let findings = judge_posture(&posture, &settings, FileTime::now());
    Ok((posture, findings))
}

pub async fn check_ad(config: &Path, format: CheckAdFormat) -> anyhow::Result<ExitCode> {
    let config = Config::load(config)?;
    let settings = PostureSettings {
        inactive_after_days: config.oversight.inactive_after_days,
    };
    let telework_group = config.policy.telework_group.clone();
    let directory = Directory::new(config.directory).context("directory settings")?;
    let authorizer = Authorizer::new(directory, config.policy);
    let (posture, findings) = run_checks(&authorizer, settings)
        .await
        .context("cannot check AD")?;
    let mut out = std::io::stdout().lock();
    match format {
        CheckAdFormat::Json => print_json(&findings, &mut out)?,
        CheckAdFormat::Text => print_text(&posture, &telework_group, &findings, &mut out)?,
    }
    let failed = findings.iter().any(|f| f.status == FindingStatus::Fail);
    Ok(if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}

fn print_json(findings: &[Finding], out: &mut impl Write) -> anyhow::Result<()> {
    let records: Vec<FindingRecord> = findings.iter().map(FindingRecord::from).collect();
    serde_json::to_writer_pretty(&mut *out, &records)?;
    writeln!(out)?;
    Ok(())
}

/// Failures first, then warnings, then what passed; each with its accounts on the next line.
fn print_text(
    posture: &AdPosture,
    telework_group: &str,
    findings: &[Finding],
    out: &mut impl Write,
) -> anyhow::Result<()> {
    writeln!(out, "domain:         {}", posture.domain_dn)?;
    writeln!(
        out,
        "telework group: {telework_group} ({} members, nested included)",
        posture.telework_members.len()
    )?;
    writeln!(out)?;
    for status in [
        FindingStatus::Fail,
        FindingStatus::Warn,
        FindingStatus::Pass,
    ] {
        for finding in findings.iter().filter(|f| f.status == status) {
            writeln!(
                out,
                "{:<4}  {:<40}  {}",
                status.as_str().to_uppercase(),
                finding.check.as_str(),
                finding.detail
            )?;
            if !finding.accounts.is_empty() {
                writeln!(out, "      accounts: {}", finding.accounts.join(", "))?;
            }
        }
    }
    let counts = StatusCounts::of(findings);
    writeln!(
        out,
        "\n{} fail, {} warn, {} pass",
        counts.fail, counts.warn, counts.pass
    )?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use adgate_authz::{AdInterval, PasswordPolicy, PostureCheck};

    use super::*;

    fn findings() -> Vec<Finding> {
        vec![
            Finding {
                check: PostureCheck::MinPasswordLength,
                status: FindingStatus::Pass,
                detail: "domain: minimum password length 12 (policy: at least 12)".into(),
                accounts: vec![],
            },
            Finding {
                check: PostureCheck::TeleworkMembersDisabled,
                status: FindingStatus::Warn,
                detail: "1 of the 2 telework members: disabled".into(),
                accounts: vec!["bob".into()],
            },
            Finding {
                check: PostureCheck::AdministratorRenamed,
                status: FindingStatus::Fail,
                detail: "still named Administrator".into(),
                accounts: vec!["Administrator".into()],
            },
        ]
    }

    #[test]
    fn json_is_an_array_of_the_documented_objects() {
        let mut out = Vec::new();
        print_json(&findings(), &mut out).unwrap();
        let json: serde_json::Value = serde_json::from_slice(&out).unwrap();
        assert_eq!(json.as_array().unwrap().len(), 3);
        assert_eq!(
            json[1],
            serde_json::json!({"check": "telework_members_disabled", "status": "warn",
                "detail": "1 of the 2 telework members: disabled", "accounts": ["bob"]})
        );
    }

    #[test]
    fn text_puts_failures_first_and_names_the_accounts() {
        let posture = AdPosture {
            domain_dn: "DC=corp".into(),
            domain_policy: PasswordPolicy {
                min_length: 12,
                lockout_threshold: 10,
                lockout_duration: AdInterval(i64::MIN),
                observation_window: AdInterval(i64::MIN),
            },
            fine_grained: vec![],
            administrator: None,
            guest: None,
            telework_members: vec![],
            certificate_names: vec![],
        };
        let mut out = Vec::new();
        print_text(&posture, "CN=T,DC=corp", &findings(), &mut out).unwrap();
        let text = String::from_utf8(out).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines[0], "domain:         DC=corp");
        assert!(
            lines[3].starts_with("FAIL  administrator_renamed"),
            "{text}"
        );
        assert_eq!(lines[4], "      accounts: Administrator");
        assert!(
            lines[5].starts_with("WARN  telework_members_disabled"),
            "{text}"
        );
        assert!(lines[7].starts_with("PASS  min_password_length"), "{text}");
        assert_eq!(lines.last().unwrap(), &"1 fail, 1 warn, 1 pass");
    }
}
