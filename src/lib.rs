//! adgate: a RADIUS server that decides, for every VPN login, whether this person may work from
//! home right now, by asking Active Directory. The binary (`main.rs`) only calls [`run`], which
//! parses the command line, sets up logging and hands over to the subcommand.
//!
//! A library so that the fuzz targets in `fuzz/` can drive the request path. Everything but
//! [`run`] (and, with the `fuzzing` feature, the `fuzzing` entry point) stays private to it,
//! so the dead-code lint still sees what nothing uses.

mod audit;
mod audit_cli;
mod check_ad;
mod cli;
mod clients;
mod config;
mod config_audit;
mod crl_refresh;
mod current_handler;
mod decision;
mod eap_tls;
mod explain;
mod gatekeeper;
mod metrics;
mod mschapv2;
mod nas;
mod nas_eap_tls;
mod nas_eap_tls_hold;
mod nas_mschapv2;
mod oversight;
mod radsec;
mod reason;
mod reload;
mod reload_signal;
mod report;
mod secret_file;
mod serve;
mod service_manager;
mod sessions;
mod sessions_cli;
mod swappable;
mod syslog;
mod throttle;

#[cfg(feature = "fuzzing")]
#[doc(hidden)]
pub mod fuzzing;

use std::io::IsTerminal;
use std::process::ExitCode;

use clap::Parser;
use tracing_subscriber::EnvFilter;

use cli::{Cli, Command};

/// What `adgate` does: parses the command line, sets up logging, runs the subcommand and says
/// the exit status: the one the subcommand chose, 2 when it failed with an error.
pub fn run() -> ExitCode {
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        // journald and SIEMs read stderr: colour codes only for a person at a terminal.
        .with_ansi(std::io::stderr().is_terminal())
        .with_env_filter(
            EnvFilter::try_from_env("ADGATE_LOG").unwrap_or_else(|_| EnvFilter::new("info")),
        )
        .init();
    // One thread runs every task: a login spends its time waiting on the DC, and a second
    // worker thread only added cross-thread wake-ups (futex, epoll) to each DC answer — the
    // largest share of adgate's CPU per login (docs/development.md, "Where a login's CPU
    // goes"). Blocking work still goes to spawn_blocking's pool, the audit trail to its
    // writer thread.
    let runtime = match tokio::runtime::Builder::new_current_thread()
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
            Command::CheckConfig { config } => serve::check_config(&config)
                .await
                .map(|()| ExitCode::SUCCESS),
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
            Command::CheckAd { config, format } => check_ad::check_ad(&config, format).await,
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
