//! `adgate serve` and `adgate check-config`: load and check the configuration, wire the rooms
//! together (clients → RADIUS server → gatekeeper → AD + audit trail), listen, and stop cleanly
//! on SIGTERM or Ctrl-C: stop receiving, let requests in flight finish, flush the trail.

use std::path::Path;
use std::sync::Arc;

use adgate_authz::{Authorizer, Directory};
use adgate_certs::TlsServer;
use adgate_radius::{ClientTable, NasClient, UdpServer};
use anyhow::Context;
use tokio::net::UdpSocket;
use tokio_util::sync::CancellationToken;

use crate::audit::AuditTrail;
use crate::config::Config;
use crate::eap_tls::EapTlsLogins;
use crate::gatekeeper::Gatekeeper;

/// Checks the config and everything it names, printing a summary.
pub fn check_config(path: &Path) -> anyhow::Result<()> {
    let config = Config::load(path)?;
    Directory::new(config.directory.clone()).context("directory settings")?;
    if let Some(eap_tls) = &config.eap_tls {
        TlsServer::new(eap_tls.files.clone()).context("eap_tls settings")?;
    }
    println!(
        "{}: OK ({} client(s), {} listen address(es), {} domain controller URL(s))",
        path.display(),
        config.clients.len(),
        config.auth_listen.len(),
        config.directory.urls.len()
    );
    Ok(())
}

pub async fn serve(path: &Path) -> anyhow::Result<()> {
    let config = Config::load(path)?;
    let clients = Arc::new(ClientTable::new(
        config
            .clients
            .into_iter()
            .map(|client| {
                let nas = NasClient {
                    name: client.name,
                    secret: client.secret,
                    require_message_authenticator: client.require_message_authenticator,
                };
                (client.address, Arc::new(nas))
            })
            .collect(),
    ));
    let directory = Directory::new(config.directory).context("directory settings")?;
    let authorizer = Authorizer::new(directory, config.policy);
    let (trail, writer) = AuditTrail::open(&config.audit_dir)?;
    let mut gatekeeper = Gatekeeper::new(authorizer, trail);
    if let Some(eap_tls) = config.eap_tls {
        let logins = EapTlsLogins::new(eap_tls).context("eap_tls settings")?;
        tracing::info!("certificate logins (EAP-TLS) enabled");
        gatekeeper = gatekeeper.with_eap_tls(logins);
    }
    let handler = Arc::new(gatekeeper);

    let shutdown = CancellationToken::new();
    let mut servers = Vec::new();
    for address in &config.auth_listen {
        let socket = UdpSocket::bind(address)
            .await
            .with_context(|| format!("cannot listen on {address} (server.auth_listen)"))?;
        tracing::info!(%address, "listening for RADIUS authentication");
        let server = UdpServer::new(
            socket,
            clients.clone(),
            handler.clone(),
            config.max_in_flight,
        );
        servers.push(tokio::spawn(server.run(shutdown.clone())));
    }
    drop(handler);

    wait_for_stop_signal().await?;
    tracing::info!("stopping: finishing requests in flight");
    shutdown.cancel();
    for server in servers {
        server.await.context("server task failed")?;
    }
    tokio::task::spawn_blocking(move || writer.finish())
        .await
        .context("flushing the audit trail")?;
    tracing::info!("stopped");
    Ok(())
}

async fn wait_for_stop_signal() -> anyhow::Result<()> {
    use tokio::signal::unix::{signal, SignalKind};
    let mut terminate = signal(SignalKind::terminate()).context("installing SIGTERM handler")?;
    tokio::select! {
        _ = terminate.recv() => {}
        result = tokio::signal::ctrl_c() => result.context("installing SIGINT handler")?,
    }
    Ok(())
}
