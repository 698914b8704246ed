//! The domain controllers the connector tries, in the order to try them: the configured URLs,
//! fixed for the life of the directory; or the DCs DNS names for the configured domain
//! ([`dc_discovery`](crate::dc_discovery)), which may change while adgate runs.
//!
//! Discovery looks the SRV records up on first need (the first connection, readiness question
//! or change watch; [`Directory::discover`](crate::Directory::discover) at start), then again
//! when the answer's TTL runs out (kept between [`MIN_REDISCOVERY`] and [`MAX_REDISCOVERY`]),
//! and soon after a moment when every DC failed (at most once per [`MIN_REDISCOVERY_GAP`]). A
//! lookup that fails keeps the DCs already known and is retried after a back-off doubling from
//! [`FIRST_PROBE`] to [`LAST_PROBE`], as for a DC that is down. An answer naming the same DCs
//! with the same priorities and weights keeps the order already in use (no reshuffle among
//! equals, so no connection moves for nothing); any other answer replaces the list, is logged
//! with every DC it names, and goes to whoever follows the list: [`DcHealth`] (the metrics'
//! label set), the readiness probe, and the change watch (one watch per DC listed).

use std::sync::{Arc, Mutex, PoisonError, Weak};
use std::time::Duration;

use tokio::sync::{watch, Notify, OnceCell};
use tokio::time::Instant;
use tracing::{info, warn};

use crate::connector::{FIRST_PROBE, LAST_PROBE};
use crate::dc_discovery::{self, Found, SrvTarget};
use crate::dc_health::DcHealth;
use crate::error::DirectoryError;
use crate::server::Server;

/// The shortest time an SRV answer is kept, whatever its TTL.
pub(crate) const MIN_REDISCOVERY: Duration = Duration::from_secs(60);
/// The longest time an SRV answer is kept, whatever its TTL.
pub(crate) const MAX_REDISCOVERY: Duration = Duration::from_secs(3600);
/// After every DC failed, DNS is asked again, but not more often than this.
pub(crate) const MIN_REDISCOVERY_GAP: Duration = Duration::from_secs(10);

/// The DCs, in order; cheap to clone.
pub(crate) type Servers = Arc<[Arc<Server>]>;

/// The current list of DCs, and (for a domain) the discovery that keeps it up to date.
pub(crate) struct DcList {
    shared: Arc<Shared>,
}

struct Shared {
    current: watch::Sender<Servers>,
    discovery: Option<Discovery>,
}

/// What DNS discovery needs and remembers.
struct Discovery {
    domain: String,
    starttls: bool,
    timeout: Duration,
    health: DcHealth,
    /// Set once the first lookup has run and the refresher is started.
    started: OnceCell<()>,
    /// Wakes the refresher early (every DC failed).
    wake: Arc<Notify>,
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    /// The targets of the answer in use, sorted (to compare answers regardless of order).
    targets: Vec<SrvTarget>,
    /// Why the latest lookup failed, if it did.
    last_error: Option<String>,
}

impl DcList {
    /// The configured DCs, in configured order.
    pub(crate) fn configured(servers: Vec<Server>) -> DcList {
        DcList::new(servers.into_iter().map(Arc::new).collect(), None)
    }

    /// The DCs of `domain`, found in DNS on first need; none until then. `health` learns each
    /// list found (keeping what it knew of DCs it already tracked, as on a reload).
    pub(crate) fn discovered(
        domain: String,
        starttls: bool,
        timeout: Duration,
        health: DcHealth,
    ) -> DcList {
        let discovery = Discovery {
            domain,
            starttls,
            timeout,
            health,
            started: OnceCell::new(),
            wake: Arc::new(Notify::new()),
            state: Mutex::new(State::default()),
        };
        DcList::new(Arc::from(Vec::new()), Some(discovery))
    }

    fn new(servers: Servers, discovery: Option<Discovery>) -> DcList {
        DcList {
            shared: Arc::new(Shared {
                current: watch::Sender::new(servers),
                discovery,
            }),
        }
    }

    /// The DCs now, in order.
    pub(crate) fn servers(&self) -> Servers {
        self.shared.current.borrow().clone()
    }

    /// Whether `url` is one of the DCs now.
    pub(crate) fn contains(&self, url: &str) -> bool {
        self.shared
            .current
            .borrow()
            .iter()
            .any(|server| server.url == url)
    }

    /// Every change of the list from now on.
    pub(crate) fn subscribe(&self) -> watch::Receiver<Servers> {
        self.shared.current.subscribe()
    }

    /// For a domain: the first lookup has been made (callers at the same time wait for it, with
    /// at most the directory's timeout) and the refresher runs. Configured URLs: nothing to do.
    pub(crate) async fn ready(&self) {
        let Some(discovery) = &self.shared.discovery else {
            return;
        };
        discovery
            .started
            .get_or_init(|| async {
                let found = self.shared.look_up().await;
                spawn_refresher(Arc::downgrade(&self.shared), discovery.wake.clone(), found);
            })
            .await;
    }

    /// Every DC failed: for a domain, ask DNS again soon (the DCs may have moved).
    pub(crate) fn all_failed(&self) {
        if let Some(discovery) = &self.shared.discovery {
            discovery.wake.notify_one();
        }
    }

    /// The error for a connection asked for while no DC is known: discovery found none (a
    /// configured list is never empty).
    pub(crate) fn none_known(&self) -> DirectoryError {
        let detail = match &self.shared.discovery {
            Some(discovery) => discovery.lock().last_error.clone().unwrap_or_else(|| {
                format!(
                    "{}: not looked up yet",
                    dc_discovery::srv_name(&discovery.domain)
                )
            }),
            None => "no domain controller configured".into(),
        };
        DirectoryError::NoDcFound { detail }
    }
}

impl Discovery {
    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl Shared {
    /// One lookup, applied: how long its answer may be kept, or `None` when it failed.
    async fn look_up(&self) -> Option<Duration> {
        let discovery = self.discovery.as_ref()?;
        let lookup = dc_discovery::lookup(&discovery.domain, discovery.timeout);
        let found = match tokio::time::timeout(discovery.timeout, lookup).await {
            Ok(found) => found,
            Err(_) => Err(format!(
                "{}: no answer within {:?}",
                dc_discovery::srv_name(&discovery.domain),
                discovery.timeout
            )),
        };
        match found {
            Ok(found) => {
                let keep = found.ttl.clamp(MIN_REDISCOVERY, MAX_REDISCOVERY);
                self.apply(discovery, found);
                Some(keep)
            }
            Err(error) => {
                let known = self.current.borrow().len();
                warn!(
                    domain = %discovery.domain,
                    %error,
                    known,
                    "domain controllers not found in DNS; keeping those known, trying again"
                );
                discovery.lock().last_error = Some(error);
                None
            }
        }
    }

    /// Use the DCs `found` names, unless they are the ones in use.
    fn apply(&self, discovery: &Discovery, found: Found) {
        let mut sorted = found.targets.clone();
        sorted.sort_by(|a, b| {
            (&a.host, a.port, a.priority, a.weight).cmp(&(&b.host, b.port, b.priority, b.weight))
        });
        {
            let mut state = discovery.lock();
            state.last_error = None;
            if state.targets == sorted {
                return;
            }
            state.targets = sorted;
        }
        let mut servers = Vec::new();
        let mut described = Vec::new();
        for target in &found.targets {
            match Server::discovered(&target.host, target.port, discovery.starttls) {
                Ok(server) => {
                    described.push(format!(
                        "{} (priority {}, weight {})",
                        server.url, target.priority, target.weight
                    ));
                    servers.push(Arc::new(server));
                }
                Err(error) => {
                    warn!(domain = %discovery.domain, %error, "SRV target not usable; skipped")
                }
            }
        }
        let urls: Vec<String> = servers.iter().map(|server| server.url.clone()).collect();
        discovery.health.track(&urls);
        info!(
            domain = %discovery.domain,
            srv = %dc_discovery::srv_name(&discovery.domain),
            dcs = %described.join(", "),
            "domain controllers found in DNS"
        );
        self.current.send_replace(Arc::from(servers));
    }
}

/// Looks the DCs up again once the last answer (`found`: how long it may be kept, `None` if
/// the lookup failed) runs out, or sooner when woken (not sooner than [`MIN_REDISCOVERY_GAP`]
/// after the last lookup), until the list is dropped. Failed lookups are retried after a
/// back-off doubling from [`FIRST_PROBE`] to [`LAST_PROBE`].
fn spawn_refresher(shared: Weak<Shared>, wake: Arc<Notify>, found: Option<Duration>) {
    tokio::spawn(async move {
        let mut back_off = FIRST_PROBE;
        let mut next = |found: Option<Duration>| match found {
            Some(keep) => {
                back_off = FIRST_PROBE;
                keep
            }
            None => {
                let wait = back_off;
                back_off = (back_off * 2).min(LAST_PROBE);
                wait
            }
        };
        let mut wait = next(found);
        let mut last = Instant::now();
        loop {
            tokio::select! {
                () = tokio::time::sleep(wait) => {}
                () = wake.notified() => {
                    tokio::time::sleep_until(last + MIN_REDISCOVERY_GAP).await;
                }
            }
            let Some(shared) = shared.upgrade() else {
                return;
            };
            last = Instant::now();
            wait = next(shared.look_up().await);
        }
    });
}
