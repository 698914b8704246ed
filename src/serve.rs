//! `adgate serve` and `adgate check-config`: load and check the configuration, wire the rooms
//! together (clients → RADIUS server → gatekeeper → AD + audit trail → syslog), listen, and stop
//! cleanly on SIGTERM or Ctrl-C: stop receiving, let requests in flight finish, flush the trail.

use std::path::Path;
use std::sync::Arc;

use adgate_authz::{Authorizer, Directory};
use adgate_certs::TlsServer;
use adgate_radius::{ClientState, ClientTable, NasClient, Service, UdpServer};
use anyhow::Context;
use tokio::net::UdpSocket;
use tokio_util::sync::CancellationToken;

use crate::audit::{AuditTrail, CheckpointSigner};
use crate::config::Config;
use crate::eap_tls::EapTlsLogins;
use crate::gatekeeper::{Gatekeeper, GatekeeperState};
use crate::metrics::{DiscardCounts, Metrics};
use crate::radsec::RadsecListener;
use crate::syslog::spawn_forwarder;
use crate::throttle::Throttle;

/// Checks the config and everything it names, printing a summary.
pub fn check_config(path: &Path) -> anyhow::Result<()> {
    let config = Config::load(path)?;
    Directory::new(config.directory.clone()).context("directory settings")?;
    if let Some(key) = &config.audit.signing_key_file {
        CheckpointSigner::load(key).context("audit.signing_key_file")?;
    }
    if let Some(eap_tls) = &config.eap_tls {
        TlsServer::new(eap_tls.files.clone()).context("eap_tls settings")?;
    }
    if let Some(syslog) = &config.syslog {
        crate::syslog::check_settings(syslog).context("syslog.ca_file")?;
    }
    if let Some(radsec) = config.radsec {
        RadsecListener::new(radsec, &config.clients)?;
    }
    println!(
        "{}: OK ({} client(s), {} listen address(es), {} domain controller URL(s))",
        path.display(),
        config.clients.len(),
        config.auth_listen.len() + config.acct_listen.len(),
        config.directory.urls.len()
    );
    Ok(())
}

pub async fn serve(path: &Path) -> anyhow::Result<()> {
    let config = Config::load(path)?;
    let radsec = config
        .radsec
        .map(|settings| RadsecListener::new(settings, &config.clients))
        .transpose()?;
    let clients = Arc::new(ClientTable::new(
        config
            .clients
            .into_iter()
            .map(|client| {
                let nas = NasClient {
                    name: client.name,
                    secret: client.secret,
                    require_message_authenticator: client.require_message_authenticator,
                    limit_proxy_state: client.limit_proxy_state,
                    max_in_flight: client.max_in_flight,
                    state: ClientState::default(),
                };
                (client.address, Arc::new(nas))
            })
            .collect(),
    ));
    let directory = Directory::new(config.directory).context("directory settings")?;
    let authorizer = Authorizer::new(directory, config.policy);
    let (trail, writer) = AuditTrail::open(config.audit.clone())?;
    let throttle = Throttle::new(config.throttle);
    let mut gatekeeper = Gatekeeper::new(authorizer, trail, throttle);
    if let Some(eap_tls) = config.eap_tls {
        let logins = EapTlsLogins::new(eap_tls).context("eap_tls settings")?;
        tracing::info!("certificate logins (EAP-TLS) enabled");
        gatekeeper = gatekeeper.with_eap_tls(logins);
    }
    let handler = Arc::new(gatekeeper);
    let mut metrics = Metrics::new();
    handler.metrics().register(metrics.registry());
    metrics
        .registry()
        .register_collector(Box::new(GatekeeperState::of(Arc::downgrade(&handler))));

    let shutdown = CancellationToken::new();
    // The forwarder outlives the servers, so that it may send what they recorded last.
    let forwarding_stop = CancellationToken::new();
    let forwarder = config
        .syslog
        .map(|settings| {
            spawn_forwarder(
                settings,
                config.audit.dir.clone(),
                writer.durable_seq(),
                forwarding_stop.clone(),
            )
        })
        .transpose()?
        .map(|(task, forwarding_metrics)| {
            metrics
                .registry()
                .register_collector(Box::new(forwarding_metrics));
            task
        });
    let mut servers = Vec::new();
    let mut discard_counters = Vec::new();
    let listeners = config
        .auth_listen
        .iter()
        .map(|address| (Service::Authentication, address, "server.auth_listen"))
        .chain(
            config
                .acct_listen
                .iter()
                .map(|address| (Service::Accounting, address, "server.acct_listen")),
        );
    for (service, address, key) in listeners {
        let socket = UdpSocket::bind(address)
            .await
            .with_context(|| format!("cannot listen on {address} ({key})"))?;
        let server = UdpServer::serving(
            service,
            socket,
            clients.clone(),
            handler.clone(),
            config.max_in_flight,
        );
        discard_counters.push(server.counters());
        servers.push(tokio::spawn(server.run(shutdown.clone())));
        match service {
            Service::Authentication => {
                tracing::info!(%address, "listening for RADIUS authentication")
            }
            Service::Accounting => tracing::info!(%address, "listening for RADIUS accounting"),
        }
    }
    metrics
        .registry()
        .register_collector(Box::new(DiscardCounts::new(discard_counters)));
    // Probes keep their answers while requests in flight finish: the listener stops with the
    // forwarder, after the trail is flushed. It holds the gatekeeper weakly, as the metrics
    // do: the trail's writer finishes only once the gatekeeper, which feeds it, is gone.
    let metrics_listener = match config.metrics_listen {
        Some(address) => Some(
            crate::metrics::spawn_listener(
                address,
                Arc::new(metrics),
                Arc::new(Arc::downgrade(&handler)),
                forwarding_stop.clone(),
            )
            .await?,
        ),
        None => None,
    };
    if let Some(radsec) = radsec {
        servers.push(radsec.spawn(handler.clone(), shutdown.clone()).await?);
    }
    drop(handler);
    tracing::info!(listeners = servers.len(), "adgate serving");
    crate::service_manager::notify("READY=1");

    wait_for_stop_signal().await?;
    tracing::info!("stopping: finishing requests in flight");
    crate::service_manager::notify("STOPPING=1");
    shutdown.cancel();
    for server in servers {
        server.await.context("server task failed")?;
    }
    tokio::task::spawn_blocking(move || writer.finish())
        .await
        .context("flushing the audit trail")?;
    // Records not yet forwarded wait in the trail and go out after the next start.
    forwarding_stop.cancel();
    if let Some(forwarder) = forwarder {
        forwarder.await.context("syslog forwarder failed")?;
    }
    if let Some(listener) = metrics_listener {
        listener.await.context("metrics listener failed")?;
    }
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
