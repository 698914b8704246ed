//! `adgate audit verify|query|report|keygen`: the auditor's tools. They read the trail (untrusted
//! input: a tampered file is a finding, never a crash) and print for people; exit codes say
//! the outcome for scripts.

use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::process::ExitCode;

use anyhow::Context;

use crate::audit::{self, QueryFilter};
use crate::cli::AuditCommand;

pub fn run(command: AuditCommand) -> anyhow::Result<ExitCode> {
    match command {
        AuditCommand::Verify {
            dir,
            checkpoints,
            pubkey,
        } => match audit::verify(&dir, checkpoints.as_deref(), pubkey.as_deref())? {
            Ok(verification) => {
                println!(
                    "{}: intact: {} record(s), seq {}..={}, {} segment(s), {} signed checkpoint(s) \
                     checked in the trail, {} from outside, {} sealed torn line(s)",
                    dir.display(),
                    verification.records,
                    verification.first_seq,
                    verification.last_seq,
                    verification.segments,
                    verification.signed_checkpoints,
                    verification.external_checkpoints,
                    verification.sealed_torn_lines,
                );
                if pubkey.is_none() {
                    println!("note: without --pubkey, checkpoint signatures were not checked");
                }
                Ok(ExitCode::SUCCESS)
            }
            Err(trail_break) => {
                println!("{}: BROKEN: {trail_break}", dir.display());
                Ok(ExitCode::from(1))
            }
        },
        AuditCommand::Query {
            dir,
            user,
            kind,
            since,
            until,
            json,
        } => {
            let parse = |value: Option<String>| {
                value
                    .map(|text| QueryFilter::parse_time(&text))
                    .transpose()
                    .map_err(anyhow::Error::msg)
            };
            let filter = QueryFilter {
                user,
                kind,
                since: parse(since)?,
                until: parse(until)?,
            };
            let mut out = std::io::stdout().lock();
            let found = audit::query(&dir, &filter, json, &mut out)?;
            if found == 0 {
                match (&filter.user, &filter.kind) {
                    (Some(user), _) => eprintln!("no records for {user:?}"),
                    (None, kind) => {
                        eprintln!(
                            "no records of type {:?}",
                            kind.as_deref().unwrap_or_default()
                        )
                    }
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        AuditCommand::Report(args) => crate::report::run(*args),
        AuditCommand::Keygen { key, pubkey } => {
            let (private_pem, public_pem) = audit::generate_key_pair()?;
            let mut file = std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o600)
                .open(&key)
                .with_context(|| format!("cannot create {}", key.display()))?;
            file.write_all(private_pem.as_bytes())?;
            file.sync_all()?;
            std::fs::write(&pubkey, public_pem)
                .with_context(|| format!("cannot write {}", pubkey.display()))?;
            println!(
                "private key: {} (set audit.signing_key_file; keep it outside audit.dir)\npublic key: {} (for audit verify --pubkey)",
                key.display(),
                pubkey.display()
            );
            Ok(ExitCode::SUCCESS)
        }
    }
}
