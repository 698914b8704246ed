//! The revoker: re-checks the AD account of every live session and cuts the sessions of an
//! account that an admin's decision no longer allows, with an RFC 5176 Disconnect-Request to
//! the NAS (or, for a VPN server without RFC 5176, through its own control interface).
//!
//! When: every `sessions.recheck_interval_s` (the safety net, which also catches what writes
//! nothing to AD: an `accountExpires` or logon-hours boundary passing), at once for a user when
//! AD's change notification names them, and for everyone when a group changes (nested
//! membership may have) or a DC's notifications were re-registered (changes may have been
//! missed). The judgement is `authz`'s, the same `Check`s as a login; only those an admin
//! decides end a live session (disabled, expired, dial-in denied, off telework, outside logon
//! hours, deleted) — a lockout does not, or a guesser could cut a colleague's tunnel.
//!
//! A re-check AD cannot answer keeps the session (a DC outage never cuts anyone) and is
//! counted; the next one asks again. A Disconnect-Request the NAS ACKs, or NAKs with
//! Error-Cause 503 (no such session), ends the session in the table; any other answer, or
//! none, is recorded and the next re-check tries again.

use std::collections::{HashMap, HashSet};
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use adgate_authz::{DirectoryChange, WatchSettings, WatchStates};
use adgate_radius::{
    DisconnectOutcome, DisconnectSender, RetransmitSchedule, SessionIdentification, SharedSecret,
};
use chrono::Utc;
use tokio::sync::mpsc;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use super::{ocserv_occtl, openvpn_management, softether_rpc};
use super::{Cuttable, DisconnectDriver, DisconnectTargets, LiveSessions, Target};
use crate::audit::{DisconnectRecord, Requester, SessionOnNas, UserName};
use crate::current_handler::CurrentHandler;
use crate::gatekeeper::Gatekeeper;
use crate::reason::Reason;
use crate::swappable::Swappable;

/// Re-checks running at once, so 50 users do not become 50 simultaneous searches.
const CONCURRENT_RECHECKS: usize = 8;

/// What one cut came to, for the admin who asked.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct CutReport {
    pub client: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub session_id: Option<String>,
    pub user_name: String,
    pub result: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error_cause: Option<u32>,
    /// Whether the session is over: ACKed, NAKed as unknown (Error-Cause 503), or an accept
    /// without accounting that the NAS does not know.
    pub ended: bool,
}

pub struct Revoker {
    sessions: Arc<LiveSessions>,
    handler: Arc<CurrentHandler<Gatekeeper>>,
    targets: Arc<Swappable<DisconnectTargets>>,
    interval: Duration,
    /// Targets with a Disconnect-Request under way: never two at once for one session.
    in_progress: Mutex<HashSet<Target>>,
    /// Targets already recorded as having no `[clients.disconnect]`: recorded once.
    unconfigured: Mutex<HashSet<Target>>,
    /// One sender (one socket, one Identifier space) per NAS disconnect address, for the
    /// targets they were made for (a reload with new secrets makes new ones).
    senders: Mutex<Senders>,
    /// Ends the senders' receive tasks.
    shutdown: CancellationToken,
    /// The AD change notification streams of the directory in use, for the metrics.
    watch_states: Arc<Swappable<Option<WatchStates>>>,
    /// Whether the last re-check got an answer, to log a change of state once.
    directory_answering: AtomicBool,
}

impl Revoker {
    pub fn new(
        sessions: Arc<LiveSessions>,
        handler: Arc<CurrentHandler<Gatekeeper>>,
        targets: Arc<Swappable<DisconnectTargets>>,
        interval: Duration,
    ) -> Revoker {
        Revoker {
            sessions,
            handler,
            targets,
            interval,
            in_progress: Mutex::default(),
            unconfigured: Mutex::default(),
            senders: Mutex::default(),
            shutdown: CancellationToken::new(),
            watch_states: Arc::new(Swappable::new(None)),
            directory_answering: AtomicBool::new(true),
        }
    }

    /// The state of AD change notifications, for the metrics.
    pub fn watch_states(&self) -> Arc<Swappable<Option<WatchStates>>> {
        self.watch_states.clone()
    }

    /// Watches until `cancel`: re-checks on every interval and on AD's change notifications,
    /// re-registering the notifications when a reload brings a new directory.
    pub async fn run(self: Arc<Self>, cancel: CancellationToken) {
        let mut ticks = tokio::time::interval(self.interval);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut watching: Option<(Arc<Gatekeeper>, CancellationToken, mpsc::Receiver<_>)> = None;
        // Whether the current watch still reports; one that ended is not re-registered until a
        // reload brings a new directory (the interval still re-checks everyone).
        let mut reporting = false;
        loop {
            let current = self.handler.get();
            if !watching
                .as_ref()
                .is_some_and(|(watched, _, _)| Arc::ptr_eq(watched, &current))
            {
                if let Some((_, stop, _)) = watching.take() {
                    stop.cancel();
                }
                let stop = cancel.child_token();
                let (states, changes) = current
                    .authorizer()
                    .watch_changes(WatchSettings::default(), stop.clone());
                self.watch_states.replace(Some(states));
                watching = Some((current, stop, changes));
                reporting = true;
            }
            let Some((_, _, changes)) = watching.as_mut() else {
                continue;
            };
            tokio::select! {
                () = cancel.cancelled() => break,
                _ = ticks.tick() => {
                    self.sessions.expire(Utc::now()).await;
                    self.clone().recheck_all().await;
                }
                change = changes.recv(), if reporting => match change {
                    Some(change) => self.clone().on_change(change).await,
                    None => {
                        tracing::warn!("AD change notifications ended; re-checking every interval");
                        reporting = false;
                    }
                },
            }
        }
        if let Some((_, stop, _)) = watching {
            stop.cancel();
        }
        self.shutdown.cancel();
    }

    async fn on_change(self: Arc<Self>, change: DirectoryChange) {
        match change {
            DirectoryChange::Changed {
                object_guid,
                is_group: false,
                ..
            } => {
                if self
                    .sessions
                    .live_accounts(Utc::now())
                    .iter()
                    .any(|guid| guid.eq_ignore_ascii_case(&object_guid))
                {
                    self.recheck(object_guid, Instant::now()).await;
                }
            }
            DirectoryChange::Changed { is_group: true, .. } | DirectoryChange::Resynced { .. } => {
                self.recheck_all().await;
            }
            DirectoryChange::Lost { dc, error } => {
                tracing::warn!(%dc, %error, "AD change notifications lost; re-checking every interval until they are back");
            }
        }
    }

    /// Re-checks every account with something live, a few at a time.
    async fn recheck_all(self: Arc<Self>) {
        let detected = Instant::now();
        // What is no longer live needs no note that it could not be cut.
        let live: HashSet<Target> = self
            .sessions
            .all(Utc::now())
            .into_iter()
            .map(|cuttable| cuttable.target)
            .collect();
        self.unconfigured
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .retain(|target| live.contains(target));
        let mut accounts = self.sessions.live_accounts(Utc::now()).into_iter();
        let mut running = JoinSet::new();
        loop {
            while running.len() < CONCURRENT_RECHECKS {
                let Some(guid) = accounts.next() else { break };
                let revoker = self.clone();
                running.spawn(async move { revoker.recheck(guid, detected).await });
            }
            if running.join_next().await.is_none() {
                break;
            }
        }
    }

    /// Asks AD about one account and cuts its sessions if it may no longer telework.
    async fn recheck(self: &Arc<Self>, object_guid: String, detected: Instant) {
        let answer = self.handler.get().authorizer().recheck(&object_guid).await;
        self.sessions.metrics().count_recheck(answer.is_ok());
        let reason = match answer {
            Ok(recheck) => recheck.ending_reason().map(Reason::from),
            Err(error) => {
                if self.directory_answering.swap(false, Ordering::Relaxed) {
                    tracing::warn!(%error, "live sessions cannot be re-checked: AD does not answer; sessions are kept");
                }
                return;
            }
        };
        if !self.directory_answering.swap(true, Ordering::Relaxed) {
            tracing::info!("live sessions are re-checked again: AD answers");
        }
        let Some(reason) = reason else { return };
        for cuttable in self.sessions.of_account(&object_guid, Utc::now()) {
            let revoker = self.clone();
            tokio::spawn(async move { revoker.cut(cuttable, reason, None, detected).await });
        }
    }

    /// Cuts everything live named `name` (User-Name as sent, sAMAccountName or UPN) or, with
    /// `session_id`, that one session, because an admin asked; waits for the NAS's answers.
    pub async fn disconnect_by_hand(
        self: &Arc<Self>,
        name: Option<&str>,
        session_id: Option<&str>,
        requester: Requester,
    ) -> Vec<CutReport> {
        let now = Utc::now();
        let chosen: Vec<Cuttable> = match (name, session_id) {
            (Some(name), _) => self.sessions.named(name, now),
            (None, _) => self.sessions.all(now),
        }
        .into_iter()
        .filter(|c| session_id.is_none_or(|id| c.target.session_id() == Some(id)))
        .collect();
        let detected = Instant::now();
        let mut cuts = JoinSet::new();
        for cuttable in chosen {
            let revoker = self.clone();
            let requester = requester.clone();
            cuts.spawn(async move {
                revoker
                    .cut(cuttable, Reason::AdminRequest, Some(requester), detected)
                    .await
            });
        }
        let mut reports = Vec::new();
        while let Some(report) = cuts.join_next().await {
            reports.extend(report.ok().flatten());
        }
        reports.sort_by(|a, b| (&a.client, &a.session_id).cmp(&(&b.client, &b.session_id)));
        reports
    }

    /// Sends one Disconnect-Request and records what came of it; `None` if a cut of this
    /// target is already under way.
    async fn cut(
        self: Arc<Self>,
        cuttable: Cuttable,
        reason: Reason,
        requester: Option<Requester>,
        detected: Instant,
    ) -> Option<CutReport> {
        let _guard = InProgress::take(&self.in_progress, &cuttable.target)?;
        let targets = self.targets.get();
        let target = targets.get(cuttable.target.client()).cloned();
        let mut record = DisconnectRecord::new(
            SessionOnNas {
                client: cuttable.target.client().to_owned(),
                session_id: cuttable.target.session_id().map(str::to_owned),
                user_name: UserName::from_bytes(&cuttable.nas.user_name),
                decision_request_id: match &cuttable.target {
                    Target::Accept { request_id, .. } => Some(request_id.clone()),
                    Target::Session(_) => None,
                },
            },
            reason,
            "no_disconnect_configured",
        );
        record.account = cuttable.account.clone();
        record.requested_by = requester;
        let outcome = match &target {
            None => {
                let first = self
                    .unconfigured
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .insert(cuttable.target.clone());
                if !first && record.requested_by.is_none() {
                    return None;
                }
                tracing::warn!(
                    client = cuttable.target.client(),
                    user = %String::from_utf8_lossy(&cuttable.nas.user_name),
                    reason = reason.as_str(),
                    "live session must end but its client has no [clients.disconnect]"
                );
                None
            }
            Some(target) => {
                record.sent_to = target.address();
                let identification = SessionIdentification {
                    user_name: cuttable.nas.user_name.clone(),
                    acct_session_id: cuttable.target.session_id().map(str::to_owned),
                    nas_ip_address: cuttable.nas.nas_ip_address,
                    nas_identifier: cuttable.nas.nas_identifier.clone(),
                    framed_ip_address: cuttable.nas.framed_ip_address,
                    calling_station_id: cuttable.nas.calling_station_id.clone(),
                };
                let sent = match target {
                    DisconnectDriver::Rfc5176 {
                        address,
                        secret,
                        profile,
                    } => match self.sender(&targets, *address, secret) {
                        Ok(sender) => sender
                            .disconnect(&identification, *profile)
                            .await
                            .map_err(|error| error.to_string()),
                        Err(error) => Err(format!("cannot open a socket: {error}")),
                    },
                    DisconnectDriver::OpenVpnManagement { address, password } => {
                        openvpn_management::kill(
                            *address,
                            password.as_deref(),
                            &identification.user_name,
                        )
                        .await
                        .map_err(|error| error.to_string())
                    }
                    DisconnectDriver::OcservOcctl { program, socket } => ocserv_occtl::disconnect(
                        program,
                        socket.as_deref(),
                        &identification.user_name,
                    )
                    .await
                    .map_err(|error| error.to_string()),
                    DisconnectDriver::SoftEther { address, hub } => softether_rpc::disconnect(
                        *address,
                        hub,
                        cuttable.target.session_id(),
                        &identification.user_name,
                    )
                    .await
                    .map_err(|error| error.to_string()),
                };
                match sent {
                    Ok(outcome) => Some(outcome),
                    Err(error) => {
                        tracing::error!(client = cuttable.target.client(), %error, "disconnect not sent");
                        record.result = "not_sent";
                        None
                    }
                }
            }
        };
        match outcome {
            Some(DisconnectOutcome::Ack { error_cause }) => {
                record.result = "ack";
                record.error_cause = error_cause;
            }
            Some(DisconnectOutcome::Nak { error_cause }) => {
                record.result = "nak";
                record.error_cause = error_cause;
            }
            Some(DisconnectOutcome::NoAnswer { attempts }) => {
                record.result = "no_answer";
                record.attempts = Some(attempts);
            }
            None => {}
        }
        // An accept whose Accounting-Start never came is, to a NAS that NAKs, no session at
        // all (strongSwan NAKs without an Error-Cause when nothing matches): it is over too.
        let ended = match (&cuttable.target, outcome) {
            (_, Some(outcome)) if outcome.session_ended() => true,
            (Target::Accept { .. }, Some(DisconnectOutcome::Nak { .. })) => true,
            _ => false,
        };
        if ended {
            self.sessions.remove(&cuttable.target);
        }
        let elapsed = detected.elapsed();
        record.detection_to_result_ms = u64::try_from(elapsed.as_millis()).unwrap_or(u64::MAX);
        self.sessions
            .metrics()
            .count_disconnect(reason, record.result, elapsed.as_secs_f64());
        let user = String::from_utf8_lossy(&cuttable.nas.user_name).into_owned();
        tracing::info!(
            request_id = %record.request_id,
            client = cuttable.target.client(),
            session_id = cuttable.target.session_id().unwrap_or("-"),
            user = %user,
            dn = cuttable.account.as_ref().map_or("-", |a| a.dn.as_str()),
            reason = reason.as_str(),
            result = record.result,
            error_cause = record.error_cause.map_or_else(|| "-".to_owned(), |c| c.to_string()),
            elapsed_ms = record.detection_to_result_ms,
            "live session disconnect"
        );
        if let Err(error) = self.sessions.trail().append_entry(&record).await {
            tracing::error!(%error, "disconnect not recorded");
        }
        Some(CutReport {
            client: record.session.client,
            session_id: record.session.session_id,
            user_name: user,
            result: record.result.to_owned(),
            error_cause: record.error_cause,
            ended,
        })
    }

    /// The sender for `address`, bound on first use from the unspecified address of its
    /// family; the senders made for an earlier configuration's targets are let go.
    fn sender(
        &self,
        targets: &Arc<DisconnectTargets>,
        address: SocketAddr,
        secret: &SharedSecret,
    ) -> std::io::Result<DisconnectSender> {
        let mut senders = self.senders.lock().unwrap_or_else(PoisonError::into_inner);
        if !senders
            .made_for
            .as_ref()
            .is_some_and(|made_for| Arc::ptr_eq(made_for, targets))
        {
            *senders = Senders {
                made_for: Some(targets.clone()),
                by_address: HashMap::new(),
            };
        }
        if let Some(sender) = senders.by_address.get(&address) {
            return Ok(sender.clone());
        }
        let local = match address {
            SocketAddr::V4(_) => SocketAddr::from((Ipv4Addr::UNSPECIFIED, 0)),
            SocketAddr::V6(_) => SocketAddr::from((Ipv6Addr::UNSPECIFIED, 0)),
        };
        let sender = DisconnectSender::bind(
            local,
            address,
            SharedSecret::new(secret.expose().to_vec()),
            RetransmitSchedule::default(),
            &self.shutdown,
        )?;
        senders.by_address.insert(address, sender.clone());
        Ok(sender)
    }
}

/// The Disconnect senders of one configuration's targets.
#[derive(Default)]
struct Senders {
    made_for: Option<Arc<DisconnectTargets>>,
    by_address: HashMap<SocketAddr, DisconnectSender>,
}

/// A target marked as being cut until dropped.
struct InProgress<'a> {
    set: &'a Mutex<HashSet<Target>>,
    target: Target,
}

impl<'a> InProgress<'a> {
    fn take(set: &'a Mutex<HashSet<Target>>, target: &Target) -> Option<InProgress<'a>> {
        let fresh = set
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(target.clone());
        fresh.then(|| InProgress {
            set,
            target: target.clone(),
        })
    }
}

impl Drop for InProgress<'_> {
    fn drop(&mut self) {
        self.set
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(&self.target);
    }
}
