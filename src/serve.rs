//! `adgate serve` and `adgate check-config`: load and check the configuration, wire the rooms
//! together (clients → RADIUS server → gatekeeper → AD + audit trail → syslog), listen, reload
//! the configuration on SIGHUP (see `reload`), and stop cleanly on SIGTERM or Ctrl-C: stop
//! receiving, let requests in flight finish (for a bounded time), flush the trail.

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use adgate_authz::{DcHealth, PostureSettings};
use adgate_radius::{Service, UdpServer};
use anyhow::Context;
use tokio::net::UdpSocket;
use tokio::signal::unix::{signal, SignalKind};
use tokio_util::sync::CancellationToken;

use crate::audit::{AuditTrail, CheckpointSigner};
use crate::check_ad::{spawn_periodic_checks, AdCheckMetrics};
use crate::config_audit::{last_recorded, ConfigAudit, Snapshot};
use crate::current_handler::CurrentHandler;
use crate::gatekeeper::{Gatekeeper, GatekeeperState};
use crate::metrics::{ChangeWatch, DelayedRejects, DiscardCounts, DomainControllers, Metrics};
use crate::radsec::RadsecListener;
use crate::reload::{Reloader, Running};
use crate::reload_signal::ReloadSignals;
use crate::sessions::{watch_session_lists, ControlServer, LiveSessions, Revoker};
use crate::swappable::Swappable;
use crate::syslog::spawn_forwarder;
use crate::throttle::{self, Throttle, ThrottleSettings};

/// How long requests in flight may take to finish at shutdown beyond two directory timeouts
/// (a search and one reconnect: the longest a login waits for AD).
const DRAIN_MARGIN: Duration = Duration::from_secs(5);

/// Checks the config and everything it names, printing a summary.
pub async fn check_config(path: &Path) -> anyhow::Result<()> {
    let (start_only, loaded) = crate::reload::load(path, None, DcHealth::new())?;
    if loaded.disconnect_targets.need_accounting() && start_only.acct_listen.is_empty() {
        println!(
            "{}: warning: a client has [clients.disconnect] but server.acct_listen is empty: \
             without accounting, live sessions are known only for sessions.accept_grace_s after \
             each accept",
            path.display()
        );
    }
    if let Some(key) = &start_only.audit.signing_key_file {
        CheckpointSigner::load(key).context("audit.signing_key_file")?;
    }
    if let Some(syslog) = &start_only.syslog {
        crate::syslog::check_settings(syslog).context("syslog.ca_file")?;
    }
    if let Some(winbind) = &loaded.mschapv2 {
        // A warning, not a failure: winbindd may start after adgate, as DCs may be down now.
        match crate::mschapv2::check_winbind(winbind).await {
            Ok(works) => println!("{}: mschapv2: {works}", path.display()),
            Err(problem) => println!("{}: warning: {problem}", path.display()),
        }
    }
    println!(
        "{}: OK ({} client(s), {} listen address(es), {})",
        path.display(),
        loaded.summary.client_names.len(),
        start_only.auth_listen.len() + start_only.acct_listen.len(),
        loaded.summary.directory_dcs
    );
    Ok(())
}

/// The throttle with what the trail in `dir` implies: familiar stations and spent budgets.
fn relearn_throttle(dir: &Path, settings: ThrottleSettings) -> anyhow::Result<Throttle> {
    let throttle = Throttle::new(settings);
    let replayed = throttle::replay(&throttle, dir, Instant::now(), chrono::Utc::now())
        .context("reading the audit trail for familiar stations")?;
    tracing::info!(
        segments = replayed.segments_read,
        accepts = replayed.accepts,
        bad_passwords = replayed.bad_passwords,
        familiar_stations = throttle.familiar_count(chrono::Utc::now()),
        "throttle relearnt from the audit trail"
    );
    Ok(throttle)
}

pub async fn serve(path: &Path) -> anyhow::Result<()> {
    // First, so that a SIGHUP during the start waits for the reload loop instead of ending
    // adgate (its default action).
    let mut reload = ReloadSignals::install().context("installing SIGHUP handler")?;
    let mut terminate = signal(SignalKind::terminate()).context("installing SIGTERM handler")?;
    let mut interrupt = signal(SignalKind::interrupt()).context("installing SIGINT handler")?;
    let dc_health = DcHealth::new();
    let read = {
        let path = path.to_owned();
        tokio::task::spawn_blocking(move || Snapshot::read(&path))
            .await
            .context("reading the configuration files")?
    };
    let (start_only, loaded) = crate::reload::load(path, None, dc_health.clone())?;
    let clients = Arc::new(loaded.clients);
    let (trail, writer) = AuditTrail::open(start_only.audit.clone())?;
    let live_sessions = Arc::new(
        LiveSessions::at_start(
            start_only.audit.dir.clone(),
            start_only.sessions.limits,
            trail.clone(),
        )
        .await?,
    );
    let control = ControlServer::bind(
        &start_only.sessions.control_socket,
        &start_only.sessions.control_group,
    )?;
    let throttle = {
        let (dir, settings) = (start_only.audit.dir.clone(), loaded.throttle);
        tokio::task::spawn_blocking(move || relearn_throttle(&dir, settings))
            .await
            .context("relearning the throttle")??
    };
    let mut gatekeeper = Gatekeeper::new(
        loaded.authorizer,
        trail.clone(),
        throttle,
        live_sessions.clone(),
    );
    if let Some(eap_tls) = loaded.eap_tls {
        tracing::info!(methods = %eap_tls.methods(), "EAP logins enabled");
        gatekeeper = gatekeeper.with_eap_tls(eap_tls);
    }
    if let Some(winbind) = loaded.mschapv2 {
        tracing::info!(
            smb_conf = %winbind.settings().smb_conf.display(),
            helpers = winbind.settings().helpers,
            "MS-CHAPv2 logins enabled (NT-Responses checked through winbind)"
        );
        gatekeeper = gatekeeper.with_mschapv2(winbind);
    }
    let mut metrics = Metrics::new();
    // The trail's first record of this run: what it was started with, and which files changed
    // since the previous run recorded them.
    let previous = {
        let dir = start_only.audit.dir.clone();
        tokio::task::spawn_blocking(move || last_recorded(&dir))
            .await
            .context("reading the trail for the previous configuration")?
            .unwrap_or_else(|error| {
                tracing::warn!(%error, "the previous run's configuration could not be read back");
                None
            })
    };
    let config_audit = ConfigAudit::started(
        path.to_owned(),
        trail.clone(),
        read,
        previous,
        metrics.registry(),
    )
    .await?;
    gatekeeper.metrics().register(metrics.registry());
    live_sessions.metrics().register(metrics.registry());
    let handler = Arc::new(CurrentHandler::new(gatekeeper));
    handler.get().discover_in_background();
    handler.register(metrics.registry());
    metrics
        .registry()
        .register_collector(Box::new(GatekeeperState::of(Arc::downgrade(&handler))));
    metrics
        .registry()
        .register_collector(Box::new(DomainControllers::new(dc_health.clone())));

    let shutdown = CancellationToken::new();
    // The forwarder outlives the servers, so that it may send what they recorded last.
    let forwarding_stop = CancellationToken::new();
    let forwarder = start_only
        .syslog
        .clone()
        .map(|settings| {
            spawn_forwarder(
                settings,
                start_only.audit.dir.clone(),
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
    let listeners = start_only
        .auth_listen
        .iter()
        .map(|address| (Service::Authentication, address, "server.auth_listen"))
        .chain(
            start_only
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
            start_only.max_in_flight,
        )
        .with_reject_delay(start_only.reject_delay)
        .with_queue_limits(start_only.queue_limits);
        discard_counters.push(server.counters());
        servers.push(tokio::spawn(server.run(shutdown.clone())));
        match service {
            Service::Authentication => {
                tracing::info!(%address, "listening for RADIUS authentication")
            }
            Service::Accounting => tracing::info!(%address, "listening for RADIUS accounting"),
        }
    }
    let mut radsec_trust = None;
    if let (Some(settings), Some(trust)) = (&start_only.radsec, loaded.radsec) {
        let listener = RadsecListener::new(settings.clone(), trust);
        radsec_trust = Some(listener.trust());
        metrics
            .registry()
            .register_collector(Box::new(listener.refusal_metric()));
        let spawned = listener.spawn(handler.clone(), start_only.reject_delay, shutdown.clone());
        let (server, counters) = spawned.await?;
        servers.push(server);
        discard_counters.push(counters);
    }
    let disconnect_targets = Arc::new(Swappable::new(loaded.disconnect_targets));
    let revoker = Arc::new(Revoker::new(
        live_sessions.clone(),
        handler.clone(),
        disconnect_targets.clone(),
        start_only.sessions.recheck_interval,
    ));
    metrics
        .registry()
        .register_collector(Box::new(ChangeWatch::new(revoker.watch_states())));
    let watching = CancellationToken::new();
    let revoking = tokio::spawn(revoker.clone().run(watching.clone()));
    let ad_checks = start_only.oversight.ad_check_every.map(|every| {
        let ad_check_metrics = Arc::new(AdCheckMetrics::default());
        ad_check_metrics.register(metrics.registry());
        let settings = PostureSettings {
            inactive_after_days: start_only.oversight.inactive_after_days,
        };
        spawn_periodic_checks(
            handler.clone(),
            trail.clone(),
            every,
            settings,
            ad_check_metrics,
            watching.clone(),
        )
    });
    let listing = tokio::spawn(watch_session_lists(
        live_sessions.clone(),
        disconnect_targets.clone(),
        start_only.sessions.recheck_interval,
        watching.clone(),
    ));
    let controlling = tokio::spawn(control.run(live_sessions, revoker, watching.clone()));
    metrics
        .registry()
        .register_collector(Box::new(DelayedRejects::new(discard_counters.clone())));
    metrics
        .registry()
        .register_collector(Box::new(DiscardCounts::new(discard_counters)));
    let running = Running {
        clients,
        handler: handler.clone(),
        radsec: radsec_trust,
        disconnect_targets,
        dc_health,
    };
    let metrics_listen = start_only.metrics_listen;
    let config_check_every = start_only.oversight.config_check_every;
    let mut reloader = Reloader::new(
        config_audit,
        start_only,
        loaded.summary,
        running,
        metrics.registry(),
    );
    // Probes keep their answers while requests in flight finish: the listener stops with the
    // forwarder, after the trail is flushed. They hold the handler weakly, as the metrics do:
    // once the requests in flight are done and it is dropped, /readyz says "stopping".
    let metrics_listener = match metrics_listen {
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
    tracing::info!(listeners = servers.len(), "adgate serving");
    crate::service_manager::notify("READY=1");

    let mut config_check = tokio::time::interval(config_check_every);
    config_check.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    config_check.reset();
    loop {
        tokio::select! {
            trigger = reload.recv() => reloader.reload(trigger).await,
            _ = config_check.tick() => reloader.check_drift().await,
            _ = terminate.recv() => break,
            _ = interrupt.recv() => break,
        }
    }
    shutdown.cancel();
    // Live sessions are no longer watched: a cut under way is abandoned (its NAS may still
    // act on what it received) and the trail keeps what the next start rebuilds from.
    watching.cancel();
    // Logged once no server reads another request.
    tracing::info!("stopping: no new requests; finishing requests in flight");
    crate::service_manager::notify("STOPPING=1");
    let drain_bound = 2 * reloader.directory_timeout() + DRAIN_MARGIN;
    drop(reloader);
    let drained = tokio::time::timeout(drain_bound, async {
        for server in servers {
            server.await.context("server task failed")?;
        }
        anyhow::Ok(())
    })
    .await;
    match drained {
        Ok(result) => result?,
        Err(_) => tracing::error!(
            abandoned = handler.in_flight(),
            "requests still in flight after {drain_bound:?} abandoned (their NAS gets no \
             answer and retries elsewhere)"
        ),
    }
    for task in [revoking, listing, controlling]
        .into_iter()
        .chain(ad_checks)
    {
        task.await.context("live session task failed")?;
    }
    drop(handler);
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
