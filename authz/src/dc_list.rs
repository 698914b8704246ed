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
use crate::dc_discovery::{self, Found, Resolvers, SrvTarget};
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
    resolvers: Resolvers,
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
        resolvers: Resolvers,
        starttls: bool,
        timeout: Duration,
        health: DcHealth,
    ) -> DcList {
        let discovery = Discovery {
            domain,
            resolvers,
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

    /// Looks the DCs up now, as the refresher does when its time comes.
    #[cfg(test)]
    pub(crate) async fn look_up_now(&self) {
        self.shared.look_up().await;
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
    /// One lookup, applied: the answer's TTL, or `None` when it failed.
    async fn look_up(&self) -> Option<Duration> {
        let discovery = self.discovery.as_ref()?;
        let lookup =
            dc_discovery::lookup(&discovery.domain, discovery.resolvers, discovery.timeout);
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
                let ttl = found.ttl;
                self.apply(discovery, found);
                Some(ttl)
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

/// Looks the DCs up again when [`Schedule`] says (after `found`, the first lookup's outcome),
/// or sooner when woken (not sooner than [`MIN_REDISCOVERY_GAP`] after the last lookup), until
/// the list is dropped.
fn spawn_refresher(shared: Weak<Shared>, wake: Arc<Notify>, found: Option<Duration>) {
    tokio::spawn(async move {
        let mut schedule = Schedule::default();
        let mut wait = schedule.after(found);
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
            wait = schedule.after(shared.look_up().await);
        }
    });
}

/// When to look the DCs up next: once the answer's TTL runs out, kept between
/// [`MIN_REDISCOVERY`] and [`MAX_REDISCOVERY`]; after a failed lookup, after a back-off that
/// doubles from [`FIRST_PROBE`] to [`LAST_PROBE`] and starts again after a success.
struct Schedule {
    back_off: Duration,
}

impl Default for Schedule {
    fn default() -> Schedule {
        Schedule {
            back_off: FIRST_PROBE,
        }
    }
}

impl Schedule {
    /// The wait after a lookup that found an answer with this TTL (`None`: failed).
    fn after(&mut self, ttl: Option<Duration>) -> Duration {
        match ttl {
            Some(ttl) => {
                self.back_off = FIRST_PROBE;
                ttl.clamp(MIN_REDISCOVERY, MAX_REDISCOVERY)
            }
            None => {
                let wait = self.back_off;
                self.back_off = (self.back_off * 2).min(LAST_PROBE);
                wait
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::{FakeDns, FakeSrv};

    fn discovered(dns: &FakeDns, health: DcHealth) -> DcList {
        DcList::discovered(
            "corp.example.test".into(),
            Resolvers::At(dns.address),
            false,
            Duration::from_secs(2),
            health,
        )
    }

    fn urls(list: &DcList) -> Vec<String> {
        list.servers().iter().map(|s| s.url.clone()).collect()
    }

    fn tracked(health: &DcHealth) -> Vec<String> {
        health.snapshot().into_iter().map(|dc| dc.url).collect()
    }

    const TTL: u32 = 600;

    #[tokio::test]
    async fn the_dcs_dns_names_are_the_list_and_dc_health_follows_it() {
        let dns = FakeDns::start(vec![
            (10, 100, 389, "127.0.0.2", TTL),
            (0, 100, 389, "127.0.0.1", TTL),
        ])
        .await;
        let health = DcHealth::new();
        let list = discovered(&dns, health.clone());
        assert!(
            list.servers().is_empty(),
            "nothing is asked before it is needed"
        );
        list.ready().await;
        let first = ["ldaps://127.0.0.1:636", "ldaps://127.0.0.2:636"];
        assert_eq!(urls(&list), first, "priority 0 first");
        assert_eq!(tracked(&health), first);

        let changes = list.subscribe();
        dns.answer(vec![(0, 100, 389, "127.0.0.3", TTL)]);
        list.look_up_now().await;
        assert!(changes.has_changed().unwrap(), "followers are told");
        assert_eq!(urls(&list), ["ldaps://127.0.0.3:636"]);
        assert_eq!(tracked(&health), ["ldaps://127.0.0.3:636"]);
    }

    #[tokio::test]
    async fn a_failed_lookup_keeps_the_dcs_known_and_says_why_none_is() {
        let dns = FakeDns::start(Vec::new()).await;
        let list = discovered(&dns, DcHealth::new());
        list.ready().await;
        assert!(list.servers().is_empty());
        let error = list.none_known().to_string();
        assert!(
            error.contains(
                "no domain controller found in DNS: _ldap._tcp.dc._msdcs.corp.example.test."
            ),
            "{error}"
        );
        dns.answer(vec![(0, 100, 389, "127.0.0.1", TTL)]);
        list.look_up_now().await;
        assert_eq!(urls(&list), ["ldaps://127.0.0.1:636"]);
        dns.answer(Vec::new());
        list.look_up_now().await;
        assert_eq!(urls(&list), ["ldaps://127.0.0.1:636"], "kept");
    }

    #[tokio::test]
    async fn the_same_answer_keeps_the_order_in_use() {
        // Equal priorities and weights: any order is right, but a new lookup must not reshuffle
        // it (every connection would move for nothing).
        let records: Vec<FakeSrv> = ["127.0.0.1", "127.0.0.2", "127.0.0.3", "127.0.0.4"]
            .into_iter()
            .map(|host| (0, 100, 389, host, TTL))
            .collect();
        let dns = FakeDns::start(records).await;
        let list = discovered(&dns, DcHealth::new());
        list.ready().await;
        let first = urls(&list);
        assert_eq!(first.len(), 4);
        let changes = list.subscribe();
        for _ in 0..10 {
            list.look_up_now().await;
            assert_eq!(urls(&list), first);
        }
        assert!(
            !changes.has_changed().unwrap(),
            "nobody is told of a change"
        );
    }

    #[tokio::test]
    async fn a_target_of_dot_means_no_dc() {
        let dns = FakeDns::start(vec![(0, 0, 0, "", TTL)]).await;
        let list = discovered(&dns, DcHealth::new());
        list.ready().await;
        assert!(list.servers().is_empty());
        assert!(list
            .none_known()
            .to_string()
            .contains("no SRV record names a domain controller"));
    }

    #[test]
    fn the_schedule_follows_the_ttl_and_backs_off_after_failures() {
        let mut schedule = Schedule::default();
        let secs = Duration::from_secs;
        assert_eq!(schedule.after(Some(secs(900))), secs(900));
        assert_eq!(schedule.after(Some(secs(5))), MIN_REDISCOVERY);
        assert_eq!(schedule.after(Some(secs(86_400))), MAX_REDISCOVERY);
        let failures: Vec<u64> = (0..7).map(|_| schedule.after(None).as_secs()).collect();
        assert_eq!(failures, [2, 4, 8, 16, 32, 60, 60]);
        assert_eq!(schedule.after(Some(secs(600))), secs(600));
        assert_eq!(
            schedule.after(None),
            FIRST_PROBE,
            "a success resets the back-off"
        );
    }
}
