//! `adgate explain`: why would this login be accepted or refused right now? Asks AD exactly as
//! a login does (the same lookup, the same facts, the same ordered checks from `authz`), without
//! a NAS, and prints every step an admin needs: for a certificate, each check the EAP-TLS
//! handshake runs and the identity it names; which AD object the name resolves to, each
//! account-state attribute as AD stores it, telework membership and the group path to it,
//! every check in policy order, the `[[policy.reply]]` attributes an accept would carry, and
//! the verdict with its reason. For a user name it also shows the throttle: the user's
//! familiar stations and bad-password budgets, as the audit trail implies them. Without
//! `--password-prompt` it never binds as the user, so AD's bad-password count is never touched.

mod certificate;
mod groups;
mod throttle;

use std::io::{BufRead, IsTerminal};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use adgate_authz::{decide, Authorizer, Check, Decision, Directory, Explanation, FileTime};
use anyhow::Context;
use zeroize::Zeroizing;

use crate::config::Config;

/// Whose login to explain.
pub enum Subject {
    /// A user name as a NAS sends it (a PAP login).
    User(String),
    /// A client certificate file (an EAP-TLS login).
    Certificate(PathBuf),
}

pub async fn explain(
    config: &Path,
    subject: Subject,
    password_prompt: bool,
) -> anyhow::Result<ExitCode> {
    let config = Config::load(config)?;
    let eap_tls = config.eap_tls;
    let (audit_dir, throttle_settings) = (config.audit.dir.clone(), config.throttle);
    let policy = config.policy.clone();
    let directory = Directory::new(config.directory).context("directory settings")?;
    let authorizer = Authorizer::new(directory, config.policy);
    let password = match password_prompt {
        true => Some(read_password()?),
        false => None,
    };
    let found = match &subject {
        Subject::User(user) => {
            println!("user:      {user}");
            throttle::print(&audit_dir, throttle_settings, user);
            authorizer.explain(user.as_bytes()).await
        }
        Subject::Certificate(file) => {
            let eap_tls = eap_tls
                .filter(|eap| eap.tls.is_some())
                .context("--cert needs an [eap_tls] section in the config")?;
            match certificate::explain(&eap_tls, file)? {
                Ok(name) => authorizer.explain_certificate(&name).await,
                Err(reason) => {
                    println!("verdict:   reject ({reason}, before any account check)");
                    return Ok(ExitCode::FAILURE);
                }
            }
        }
    };
    let explanation = match found {
        Ok(explanation) => explanation,
        Err(refusal) => {
            println!("found as:  -");
            return Ok(verdict(refusal.decision, "before any account check"));
        }
    };
    print_account(&explanation, &policy.telework_group);
    let account = &explanation.account;
    if explanation.facts.telework_member {
        groups::print_path(&authorizer, account, &policy.telework_group, "    ").await;
    }
    println!("checks, in policy order:");
    for check in Check::ORDER {
        match check.passes(&explanation.facts) {
            true => println!("  pass  {}", check.name()),
            false => println!("  FAIL  {} -> {}", check.name(), check.reason().as_str()),
        }
    }
    let policy_decision = decide(&explanation.facts);
    if let Decision::Reject(_) = policy_decision {
        if matches!(subject, Subject::User(_)) {
            println!("password:  not checked (the account is refused before any bind)");
        }
        return Ok(verdict(policy_decision, "after the checks"));
    }
    if let Err(refusal) = groups::print_reply(&authorizer, account, &policy.reply).await {
        return Ok(verdict(refusal.decision, "reading the reply groups"));
    }
    let decision = match (&subject, password) {
        (Subject::Certificate(_), _) => {
            println!("password:  none (the certificate is the proof; no bind)");
            Decision::Accept
        }
        (Subject::User(_), None) => {
            println!(
                "password:  not checked (no --password-prompt: no bind, lockout count untouched)"
            );
            println!("verdict:   accept if the password is right");
            return Ok(ExitCode::SUCCESS);
        }
        (Subject::User(user), Some(password)) => {
            let outcome = authorizer
                .check_password(user.as_bytes(), password.as_bytes())
                .await;
            println!("password:  checked by a bind as {}", account.dn);
            outcome.decision
        }
    };
    Ok(verdict(decision, "after the checks"))
}

/// The account found, its state attributes as AD stores them, its telework membership.
fn print_account(explanation: &Explanation, telework_group: &str) {
    let (account, facts) = (&explanation.account, &explanation.facts);
    println!(
        "found as:  {} (sAMAccountName {}, userPrincipalName {})",
        account.dn,
        account.sam_account_name,
        account.user_principal_name.as_deref().unwrap_or("-")
    );
    let state = &facts.account;
    println!("AD says:");
    println!(
        "  userAccountControl                  0x{:08x}",
        state.user_account_control
    );
    println!(
        "  msDS-User-Account-Control-Computed  0x{:08x}",
        state.computed_account_control
    );
    println!(
        "  accountExpires                      {}",
        file_time(state.account_expires)
    );
    println!(
        "  pwdLastSet                          {}",
        file_time(state.pwd_last_set)
    );
    println!(
        "  msNPAllowDialin                     {}",
        match state.allow_dialin {
            Some(true) => "TRUE",
            Some(false) => "FALSE",
            None => "not set (network policy decides; allowed)",
        }
    );
    println!(
        "  logonHours                          {}",
        match &state.logon_hours {
            Some(hours) => format!(
                "{} (a bit an hour from Sunday 00:00 UTC, least significant first)",
                hex::encode(hours.octets())
            ),
            None => "not set (every hour allowed)".to_owned(),
        }
    );
    println!(
        "  member of {telework_group} (directly or nested): {}",
        if facts.telework_member { "yes" } else { "no" }
    );
}

/// Prints the final line; exit 0 for accept, 1 for reject.
fn verdict(decision: Decision, when: &str) -> ExitCode {
    match decision {
        Decision::Accept => {
            println!("verdict:   accept");
            ExitCode::SUCCESS
        }
        Decision::Reject(reason) => {
            println!("verdict:   reject ({}, {when})", reason.as_str());
            ExitCode::FAILURE
        }
    }
}

/// A FILETIME as AD stores it, with what it means.
fn file_time(time: FileTime) -> String {
    match time {
        FileTime(0) => "0".to_owned(),
        FileTime::NEVER => format!("{} (never)", FileTime::NEVER.0),
        FileTime(ticks) => {
            let unix_seconds = ticks / 10_000_000 - 11_644_473_600;
            format!("{ticks} ({})", utc(unix_seconds))
        }
    }
}

/// Seconds since 1970 as RFC 3339 UTC.
fn utc(unix_seconds: i64) -> String {
    chrono::DateTime::from_timestamp(unix_seconds, 0)
        .map(|when| when.format("%Y-%m-%dT%H:%M:%SZ").to_string())
        .unwrap_or_else(|| "out of range".to_owned())
}

/// One line from stdin; on a terminal, prompted and read there without echo (`rpassword`).
fn read_password() -> anyhow::Result<Zeroizing<String>> {
    let stdin = std::io::stdin();
    if stdin.is_terminal() {
        let password = rpassword::prompt_password("password for the bind: ")
            .context("reading the password")?;
        return Ok(Zeroizing::new(password));
    }
    let mut line = Zeroizing::new(String::new());
    stdin
        .lock()
        .read_line(&mut line)
        .context("reading the password")?;
    let password = line.trim_end_matches(['\r', '\n']).to_owned();
    Ok(Zeroizing::new(password))
}
