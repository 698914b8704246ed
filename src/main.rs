//! adgate: a RADIUS server that decides, for every VPN login, whether this person may work from
//! home right now, by asking Active Directory. This file only parses the command line, sets up
//! logging and hands over to the subcommand.

mod audit;
mod audit_cli;
mod cli;
mod clients;
mod config;
mod crl_refresh;
mod current_handler;
mod decision;
mod eap_tls;
mod explain;
mod gatekeeper;
mod metrics;
mod nas;
mod nas_eap_tls;
mod radsec;
mod reason;
mod reload;
mod secret_file;
mod serve;
mod service_manager;
mod sessions;
mod sessions_cli;
mod swappable;
mod syslog;
mod throttle;

use std::io::IsTerminal;
use std::process::ExitCode;

use clap::Parser;
use tracing_subscriber::EnvFilter;

use cli::{Cli, Command};

fn main() -> ExitCode {
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        // journald and SIEMs read stderr: colour codes only for a person at a terminal.
        .with_ansi(std::io::stderr().is_terminal())
        .with_env_filter(
            EnvFilter::try_from_env("ADGATE_LOG").unwrap_or_else(|_| EnvFilter::new("info")),
        )
        .init();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("adgate: cannot start the async runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(async {
        match cli.command {
            Command::Serve { config } => serve::serve(&config).await.map(|()| ExitCode::SUCCESS),
            Command::CheckConfig { config } => {
                serve::check_config(&config).map(|()| ExitCode::SUCCESS)
            }
            Command::Explain {
                config,
                user,
                cert,
                password_prompt,
            } => {
                let subject = match (user, cert) {
                    (_, Some(certificate)) => explain::Subject::Certificate(certificate),
                    (user, None) => explain::Subject::User(user.unwrap_or_default()),
                };
                explain::explain(&config, subject, password_prompt).await
            }
            Command::Audit(command) => audit_cli::run(command),
            Command::Sessions(command) => sessions_cli::run(command).await,
            Command::Nas(command) => nas::run(*command).await,
        }
    });
    match result {
        Ok(code) => code,
        Err(error) => {
            eprintln!("adgate: {error:#}");
            ExitCode::from(2)
        }
    }
}
