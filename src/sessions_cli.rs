//! `adgate sessions list|disconnect`: reads the config for the control socket's path and asks
//! the running server.

use std::path::{Path, PathBuf};

use anyhow::Context;
use std::process::ExitCode;

use crate::cli::SessionsCommand;
use crate::sessions::{run_client, ControlCommand, SessionSettings};

pub async fn run(command: SessionsCommand) -> anyhow::Result<ExitCode> {
    let (config, command, json) = match command {
        SessionsCommand::List { config, json } => (config, ControlCommand::List, json),
        SessionsCommand::Disconnect {
            config,
            user,
            session,
            reason,
            json,
        } => (
            config,
            ControlCommand::Disconnect {
                user,
                session,
                reason,
            },
            json,
        ),
    };
    let socket = control_socket(&config)?;
    let code = run_client(&socket, command, json).await?;
    Ok(ExitCode::from(u8::try_from(code).unwrap_or(2)))
}

/// `sessions.control_socket` of the config at `path`, or its default. Only that key is read:
/// an admin in adgate's group need not be able to read every secret file the config names.
fn control_socket(path: &Path) -> anyhow::Result<PathBuf> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read config file {}", path.display()))?;
    let table: toml::Table =
        toml::from_str(&text).with_context(|| format!("{}: not valid TOML", path.display()))?;
    match table
        .get("sessions")
        .and_then(|sessions| sessions.get("control_socket"))
    {
        None => Ok(SessionSettings::default().control_socket),
        Some(toml::Value::String(socket)) => Ok(PathBuf::from(socket)),
        Some(_) => anyhow::bail!("{}: sessions.control_socket must be a path", path.display()),
    }
}
