//! Change notifications from every domain controller, so that live sessions can be
//! re-checked within seconds of a change in AD rather than at the next periodic sweep.
//!
//! For each DC listed (`directory.urls`, or the DCs DNS names for `directory.domain`, followed
//! as that list changes) a task keeps its own connection, bound as the service
//! account, with one persistent search carrying the LDAP_SERVER_NOTIFICATION_OID control
//! (1.2.840.113556.1.4.528, MS-ADTS 3.1.1.3.4.1.9): base the domain's naming context root
//! (the rootDSE's `defaultNamingContext`), scope subtree, filter `(objectClass=*)` — the only
//! shape Windows accepts for a subtree notification, and only at an NC root — attributes
//! `objectGUID` and `objectClass`. The DC then sends one entry per object that changes, for as
//! long as the search is not abandoned. Every DC is watched, not only the one logins use: a
//! change made on DC2 may reach DC1 by replication only after 15 s or more (`member` changes
//! are not urgently replicated).
//!
//! What the notifications cannot say, and what the consumer must therefore do:
//! - A user leaving a group changes only the group (`memberOf` is a backlink): a change to a
//!   group ([`DirectoryChange::Changed`] with `is_group`) may change anyone's nested
//!   membership.
//! - A deletion is not reported: the object moves to Deleted Objects, which an ordinary
//!   service account may not list (not even with the show-deleted control), and Samba removes
//!   it from its groups without changing the groups' `uSNChanged` (seen in the lab). A deleted
//!   account is found by the periodic re-check of live sessions (`Recheck::Deleted`).
//! - Nothing is replayed: changes made while the search was not registered are lost. Each
//!   (re)registration is reported as [`DirectoryChange::Resynced`], after the DC has taken the
//!   registration, so a re-check of everyone then misses nothing.
//! - Samba 4.17 re-runs pending notification searches every 5 s (100 ms after a write through
//!   its LDAP server process), so a change arrives within about 5 s there.
//!
//! A silent link (a DC that vanished without closing the TCP connection) is found by a
//! rootDSE read every [`WatchSettings::heartbeat`] on the same connection, with the directory's
//! timeout. On any failure the connection is dropped, [`DirectoryChange::Lost`] reported, and a
//! new one made after a back-off of 2 s doubling to 60 s, as for a DC marked down (reset once a
//! registration lasted 60 s). The tasks never panic, never spin, and end when the
//! cancellation token fires or the receiver is dropped.

use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use ldap3::controls::RawControl;
use ldap3::{Ldap, ResultEntry, Scope};
use tokio::sync::mpsc;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tracing::{debug, info, warn};

use crate::change_outbox::{Delivery, Outbox};
use crate::connector::{Connector, FIRST_PROBE, LAST_PROBE};
use crate::dc_list::Servers;
use crate::entry::Entry;
use crate::error::{within, DirectoryError};
use crate::object_ids::guid_text;
use crate::server::Server;
use crate::service_account::ServiceAccount;
use crate::Directory;

/// LDAP_SERVER_NOTIFICATION_OID (MS-ADTS 3.1.1.3.4.1.9).
const NOTIFICATION_CONTROL: &str = "1.2.840.113556.1.4.528";
/// What each notification carries.
const NOTIFICATION_ATTRIBUTES: &[&str] = &["objectGUID", "objectClass"];
/// The operation name of the notification search, in errors.
const NOTIFICATION_SEARCH: &str = "change notification search";

/// Something that happened in AD, or to the watch of one DC. `dc` is the DC's configured URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DirectoryChange {
    /// An object changed: re-check it if it is a live user; a group change may change nested
    /// membership of anyone. `object_guid` is in the text form of
    /// [`AccountSummary::object_guid`](crate::AccountSummary::object_guid).
    Changed {
        dc: String,
        object_guid: String,
        is_group: bool,
    },
    /// Changes may have been missed, so everyone should be re-checked: the DC's notification
    /// stream is (re)registered, or changes could not be delivered one by one (the consumer
    /// lagged and they were coalesced, or a notification could not be read).
    Resynced { dc: String },
    /// A DC's stream is down; it is being retried (back-off 2 s doubling to 60 s).
    Lost { dc: String, error: String },
}

/// Where the watch of one DC stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WatchState {
    /// Connecting, binding or registering the notification search.
    Connecting,
    /// The notification search is registered: changes arrive.
    Watching,
    /// The stream was lost; waiting for the next attempt.
    Down,
}

impl WatchState {
    /// The label value in metrics.
    pub const fn as_str(self) -> &'static str {
        match self {
            WatchState::Connecting => "connecting",
            WatchState::Watching => "watching",
            WatchState::Down => "down",
        }
    }
}

/// One DC's watch, as the metrics show it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WatchStatus {
    /// The configured URL.
    pub url: String,
    /// Where the watch stands now.
    pub state: WatchState,
    /// Changes reported ([`DirectoryChange::Changed`]) since the watch started.
    pub changes: u64,
    /// Times the stream was lost or could not be set up.
    pub losses: u64,
    /// Changes not delivered one by one because the consumer lagged (covered by a
    /// [`DirectoryChange::Resynced`]).
    pub coalesced: u64,
}

/// The watch state of every configured DC, in configured order; cheap to clone (a shared
/// handle).
#[derive(Debug, Clone)]
pub struct WatchStates {
    dcs: Arc<Mutex<Vec<WatchStatus>>>,
}

impl WatchStates {
    /// No DC yet: they are added as the watch learns the list.
    fn new() -> WatchStates {
        WatchStates {
            dcs: Arc::new(Mutex::new(Vec::new())),
        }
    }

    /// Every listed DC's watch, in list order.
    pub fn snapshot(&self) -> Vec<WatchStatus> {
        self.lock().clone()
    }

    /// Track exactly `urls`, in this order: DCs already watched keep their status, new ones
    /// start connecting, and DCs no longer listed are forgotten.
    fn follow<'a>(&self, urls: impl Iterator<Item = &'a str>) {
        let mut dcs = self.lock();
        let mut known = std::mem::take(&mut *dcs);
        for url in urls {
            let status = match known.iter().position(|dc| dc.url == url) {
                Some(index) => known.swap_remove(index),
                None => WatchStatus {
                    url: url.to_owned(),
                    state: WatchState::Connecting,
                    changes: 0,
                    losses: 0,
                    coalesced: 0,
                },
            };
            dcs.push(status);
        }
    }

    fn update(&self, url: &str, change: impl FnOnce(&mut WatchStatus)) {
        if let Some(status) = self.lock().iter_mut().find(|status| status.url == url) {
            change(status);
        }
    }

    fn lock(&self) -> MutexGuard<'_, Vec<WatchStatus>> {
        self.dcs.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// How the watch runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WatchSettings {
    /// How often each connection is tested with a rootDSE read (which must answer within the
    /// directory's timeout).
    pub heartbeat: Duration,
    /// Changes the channel holds before further ones are coalesced.
    pub capacity: usize,
}

impl Default for WatchSettings {
    /// A heartbeat every 30 s; room for 1024 changes.
    fn default() -> WatchSettings {
        WatchSettings {
            heartbeat: Duration::from_secs(30),
            capacity: 1024,
        }
    }
}

impl Directory {
    /// Start watching every listed DC for changes (see the module documentation). Returns
    /// the DCs' watch states and the receiving end of the changes. The watch runs in tasks of
    /// its own (call this inside a tokio runtime), independently of this `Directory`, until
    /// `cancel` fires or the receiver is dropped. DCs found by DNS are watched as they are
    /// found: one that joins the list is watched from then on, one that leaves it no longer.
    pub fn watch_changes(
        &self,
        settings: WatchSettings,
        cancel: CancellationToken,
    ) -> (WatchStates, mpsc::Receiver<DirectoryChange>) {
        let (tx, rx) = mpsc::channel(settings.capacity.max(1));
        let states = WatchStates::new();
        let stop = cancel.child_token();
        let watched = tx.clone();
        let stop_when_unheard = stop.clone();
        tokio::spawn(async move {
            tokio::select! {
                () = watched.closed() => stop_when_unheard.cancel(),
                () = stop_when_unheard.cancelled() => {}
            }
        });
        let watch = Watch {
            connector: self.connector.clone(),
            account: self.account.clone(),
            heartbeat: settings.heartbeat,
            states: states.clone(),
            tx,
            stop,
        };
        tokio::spawn(watch.run());
        (states, rx)
    }
}

/// The watch of every listed DC: one [`DcWatcher`] per DC, started and stopped as the list
/// changes.
struct Watch {
    connector: Arc<Connector>,
    account: Arc<ServiceAccount>,
    heartbeat: Duration,
    states: WatchStates,
    tx: mpsc::Sender<DirectoryChange>,
    stop: CancellationToken,
}

impl Watch {
    async fn run(self) {
        let mut changes = self.connector.servers_changes();
        let mut servers = tokio::select! {
            () = self.stop.cancelled() => return,
            servers = self.connector.servers() => servers,
        };
        let mut watching = Vec::new();
        loop {
            self.follow(&servers, &mut watching);
            tokio::select! {
                () = self.stop.cancelled() => return,
                changed = changes.changed() => match changed {
                    Ok(()) => servers = changes.borrow_and_update().clone(),
                    // The list can no longer change.
                    Err(_) => return self.stop.cancelled().await,
                },
            }
        }
    }

    /// Watch exactly the DCs in `servers`: stop the watches of DCs no longer listed, start
    /// those of DCs new to the list. `watching` holds each watched DC's URL and stop token.
    fn follow(&self, servers: &Servers, watching: &mut Vec<(String, CancellationToken)>) {
        watching.retain(|(url, stop)| {
            let listed = servers.iter().any(|server| &server.url == url);
            if !listed {
                info!(%url, "no longer a listed domain controller; its change watch stops");
                stop.cancel();
            }
            listed
        });
        self.states
            .follow(servers.iter().map(|server| server.url.as_str()));
        for server in servers.iter() {
            if watching.iter().any(|(url, _)| url == &server.url) {
                continue;
            }
            let stop = self.stop.child_token();
            let watcher = DcWatcher {
                dc: server.clone(),
                connector: self.connector.clone(),
                account: self.account.clone(),
                heartbeat: self.heartbeat,
                states: self.states.clone(),
                outbox: Outbox::new(server.url.clone(), self.tx.clone()),
                stop: stop.clone(),
            };
            tokio::spawn(watcher.run());
            watching.push((server.url.clone(), stop));
        }
    }
}

/// Why one connection's watch ended.
enum Ended {
    /// Cancelled, or nobody listens.
    Stopped,
    /// The connection or the search failed; `watched` is how long the search was registered.
    Lost {
        error: DirectoryError,
        watched: Duration,
    },
}

impl Ended {
    fn before_watching(error: DirectoryError) -> Ended {
        Ended::Lost {
            error,
            watched: Duration::ZERO,
        }
    }
}

/// The watch of one DC.
struct DcWatcher {
    dc: Arc<Server>,
    connector: Arc<Connector>,
    account: Arc<ServiceAccount>,
    heartbeat: Duration,
    states: WatchStates,
    outbox: Outbox,
    stop: CancellationToken,
}

impl DcWatcher {
    /// Watch, reconnecting after each loss, until stopped.
    async fn run(mut self) {
        let mut retry = FIRST_PROBE;
        loop {
            self.states
                .update(&self.dc.url, |s| s.state = WatchState::Connecting);
            let (error, watched) = match self.watch().await {
                Ended::Stopped => return,
                Ended::Lost { error, watched } => (error, watched),
            };
            if watched >= LAST_PROBE {
                retry = FIRST_PROBE;
            }
            self.states.update(&self.dc.url, |s| {
                s.state = WatchState::Down;
                s.losses += 1;
            });
            warn!(url = %self.dc.url, %error, retry_in = ?retry, "directory change notifications lost");
            self.deliver(DirectoryChange::Lost {
                dc: self.dc.url.clone(),
                error: error.to_string(),
            });
            let pause = tokio::time::sleep(retry);
            if attend(&self.stop, &mut self.outbox, pause).await.is_none() {
                return;
            }
            retry = (retry * 2).min(LAST_PROBE);
        }
    }

    /// One connection: connect, bind, register, then report changes until something fails.
    async fn watch(&mut self) -> Ended {
        let timeout = self.connector.timeout();
        let account = &self.account;
        let open = self
            .connector
            .open_dc(&self.dc, "change notifications", |ldap, url| {
                account.bind(ldap, url, timeout)
            });
        let mut ldap = match attend(&self.stop, &mut self.outbox, open).await {
            None => return Ended::Stopped,
            Some(Err(error)) => return Ended::before_watching(error),
            Some(Ok(connection)) => connection.ldap,
        };
        let naming_context = naming_context(&ldap, timeout);
        let base = match attend(&self.stop, &mut self.outbox, naming_context).await {
            None => return Ended::Stopped,
            Some(Err(error)) => return self.failed(error),
            Some(Ok(base)) => base,
        };
        let notification = RawControl {
            ctype: NOTIFICATION_CONTROL.into(),
            crit: true,
            val: None,
        };
        // No timeout on this search: one would end the stream client-side (ldap3 scrubs the
        // message id when a stream's timeout expires). The heartbeat watches the link instead.
        let register = ldap.with_controls(notification).streaming_search(
            &base,
            Scope::Subtree,
            "(objectClass=*)",
            NOTIFICATION_ATTRIBUTES.to_vec(),
        );
        let mut stream = match attend(&self.stop, &mut self.outbox, register).await {
            None => return Ended::Stopped,
            Some(Err(error)) => {
                return self.failed(DirectoryError::from_ldap(NOTIFICATION_SEARCH, error))
            }
            Some(Ok(stream)) => stream,
        };
        let search_id = stream.ldap_handle().last_id();
        // The DC has taken the notification search once it answers a request sent after it on
        // the same connection (Samba and AD answer a connection's requests in order, so a
        // refusal of the search is read here; one that came later would be a loss like any).
        match attend(&self.stop, &mut self.outbox, heartbeat(&ldap, timeout)).await {
            None => return self.close(ldap, search_id).await,
            Some(Err(error)) => return self.failed(error),
            Some(Ok(())) => {}
        }
        let refused = tokio::select! {
            biased;
            item = stream.next() => Some(item),
            () = std::future::ready(()) => None,
        };
        let first = match refused {
            None => None,
            Some(Ok(Some(entry))) => Some(entry),
            Some(Ok(None)) => return self.failed(refusal(stream.finish().await)),
            Some(Err(error)) => {
                return self.failed(DirectoryError::from_ldap(NOTIFICATION_SEARCH, error))
            }
        };
        let since = Instant::now();
        self.states
            .update(&self.dc.url, |s| s.state = WatchState::Watching);
        info!(url = %self.dc.url, base = %base, "watching directory changes");
        self.deliver(DirectoryChange::Resynced {
            dc: self.dc.url.clone(),
        });
        if let Some(entry) = first {
            self.report(entry);
        }
        let mut beat = tokio::time::interval_at(since + self.heartbeat, self.heartbeat);
        beat.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let error = loop {
            tokio::select! {
                biased;
                () = self.stop.cancelled() => return self.close(ldap, search_id).await,
                item = stream.next() => match item {
                    Ok(Some(entry)) => self.report(entry),
                    Ok(None) => break refusal(stream.finish().await),
                    Err(error) => break DirectoryError::from_ldap(NOTIFICATION_SEARCH, error),
                },
                _ = beat.tick() => {
                    let alive = heartbeat(&ldap, timeout);
                    match attend(&self.stop, &mut self.outbox, alive).await {
                        None => return self.close(ldap, search_id).await,
                        Some(Err(error)) => break error,
                        Some(Ok(())) => {}
                    }
                }
                () = self.outbox.flush(), if self.outbox.owes_resync() => {}
            }
        };
        self.connector.operation_failed(&self.dc, &error);
        Ended::Lost {
            error,
            watched: since.elapsed(),
        }
    }

    /// An open connection failed: tell the connector (a timeout marks the DC down).
    fn failed(&self, error: DirectoryError) -> Ended {
        self.connector.operation_failed(&self.dc, &error);
        Ended::before_watching(error)
    }

    /// Stopped while watching: abandon the search and unbind, as a courtesy to the DC.
    async fn close(&self, mut ldap: Ldap, search_id: i32) -> Ended {
        let timeout = self.connector.timeout();
        let goodbye = async {
            ldap.abandon(search_id).await?;
            ldap.unbind().await
        };
        if let Err(error) = within(timeout, "closing the notification search", goodbye).await {
            debug!(url = %self.dc.url, %error, "notification search not closed cleanly");
        }
        Ended::Stopped
    }

    /// Report one notification. An entry that cannot be read still says something changed:
    /// everyone is re-checked.
    fn report(&mut self, entry: ResultEntry) {
        if entry.is_ref() || entry.is_intermediate() {
            return;
        }
        let change = match changed_object(entry) {
            Ok((object_guid, is_group)) => {
                debug!(url = %self.dc.url, object_guid, is_group, "directory object changed");
                DirectoryChange::Changed {
                    dc: self.dc.url.clone(),
                    object_guid,
                    is_group,
                }
            }
            Err(problem) => {
                warn!(url = %self.dc.url, %problem, "unreadable change notification; re-checking everyone");
                DirectoryChange::Resynced {
                    dc: self.dc.url.clone(),
                }
            }
        };
        let counts = matches!(change, DirectoryChange::Changed { .. });
        match self.outbox.send(change) {
            Delivery::Queued if counts => self.states.update(&self.dc.url, |s| s.changes += 1),
            Delivery::Coalesced => self.states.update(&self.dc.url, |s| s.coalesced += 1),
            Delivery::Queued | Delivery::Closed => {}
        }
    }

    fn deliver(&mut self, change: DirectoryChange) {
        if self.outbox.send(change) == Delivery::Coalesced {
            self.states.update(&self.dc.url, |s| s.coalesced += 1);
        }
    }
}

/// Run `work` until it completes (`Some`), or until `stop` fires (`None`); meanwhile deliver a
/// resync the outbox owes as soon as the channel has room.
async fn attend<F: std::future::Future>(
    stop: &CancellationToken,
    outbox: &mut Outbox,
    work: F,
) -> Option<F::Output> {
    tokio::pin!(work);
    loop {
        tokio::select! {
            biased;
            () = stop.cancelled() => return None,
            output = &mut work => return Some(output),
            () = outbox.flush(), if outbox.owes_resync() => {}
        }
    }
}

/// The naming context the notification search watches: the rootDSE's
/// `defaultNamingContext`, the root of the domain (Windows allows a subtree notification
/// search only at an NC root; the telework group may live anywhere in the domain).
async fn naming_context(ldap: &Ldap, timeout: Duration) -> Result<String, DirectoryError> {
    const OPERATION: &str = "rootDSE read";
    let mut ldap = ldap.clone();
    let search = async {
        ldap.search(
            "",
            Scope::Base,
            "(objectClass=*)",
            vec!["defaultNamingContext"],
        )
        .await?
        .success()
    };
    let (entries, _) = within(timeout, OPERATION, search).await?;
    let malformed = |detail: &str| DirectoryError::Malformed {
        operation: OPERATION,
        detail: detail.to_owned(),
    };
    let entry = entries
        .into_iter()
        .next()
        .ok_or_else(|| malformed("no rootDSE entry"))?;
    let entry = Entry::parse(entry).map_err(|detail| malformed(&detail))?;
    match entry.values("defaultNamingContext") {
        [value] => String::from_utf8(value.clone())
            .map_err(|_| malformed("defaultNamingContext is not UTF-8")),
        _ => Err(malformed("no single defaultNamingContext")),
    }
}

/// A rootDSE read, on a clone of the connection's handle, that must answer within `timeout`.
async fn heartbeat(ldap: &Ldap, timeout: Duration) -> Result<(), DirectoryError> {
    let mut ldap = ldap.clone();
    let search = async {
        ldap.search("", Scope::Base, "(objectClass=*)", vec!["1.1"])
            .await?
            .success()
    };
    within(timeout, "heartbeat", search).await.map(drop)
}

/// The end of a notification search: the DC refused it or ended it.
fn refusal(done: ldap3::LdapResult) -> DirectoryError {
    DirectoryError::Refused {
        operation: NOTIFICATION_SEARCH,
        rc: done.rc,
        text: done.text,
    }
}

/// The objectGUID (text form) of a notification entry and whether it is a group.
fn changed_object(entry: ResultEntry) -> Result<(String, bool), String> {
    let entry = Entry::parse(entry)?;
    let guid = match entry.values("objectGUID") {
        [guid] => guid_text(guid)?,
        values => return Err(format!("{}: {} objectGUID values", entry.dn, values.len())),
    };
    let is_group = entry
        .values("objectClass")
        .iter()
        .any(|class| class.eq_ignore_ascii_case(b"group"));
    Ok((guid, is_group))
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use zeroize::Zeroizing;

    use super::*;
    use crate::connector::tests::TestCa;
    use crate::dc_discovery::Resolvers;
    use crate::entry::tests::result_entry;
    use crate::test_support::{refused_port, silent_port, FakeDns};
    use crate::{DcHealth, DirectoryConfig};

    fn directory(ca: &TestCa, urls: Vec<String>) -> Directory {
        Directory::new(config(ca, urls)).unwrap()
    }

    fn config(ca: &TestCa, urls: Vec<String>) -> DirectoryConfig {
        DirectoryConfig {
            urls,
            domain: None,
            ca_file: ca.file.path().to_owned(),
            bind_dn: "CN=svc-adgate,CN=Users,DC=corp,DC=example,DC=test".into(),
            bind_password: Zeroizing::new("service-secret".into()),
            base_dn: "DC=corp,DC=example,DC=test".into(),
            netbios_domain: None,
            timeout: Duration::from_millis(300),
            starttls: false,
            allow_plain_ldap: false,
            user_bind_connections: 1,
        }
    }

    #[test]
    fn notifications_name_the_object_and_whether_it_is_a_group() {
        let guid: &[u8] = &[
            0x06, 0x7a, 0x23, 0xb4, 0x1c, 0x87, 0x89, 0x45, 0xa2, 0xad, 0x81, 0x85, 0x8b, 0xb0,
            0xf2, 0x48,
        ];
        let group = result_entry(
            "CN=Telework-Allowed,CN=Users,DC=corp",
            &[
                ("objectGUID", &[guid]),
                ("objectClass", &[b"top", b"group"]),
            ],
        );
        assert_eq!(
            changed_object(group).unwrap(),
            ("b4237a06-871c-4589-a2ad-81858bb0f248".into(), true)
        );
        let user = result_entry(
            "CN=alice,CN=Users,DC=corp",
            &[
                (
                    "objectClass",
                    &[b"top", b"person", b"organizationalPerson", b"user"],
                ),
                ("objectGUID", &[guid]),
            ],
        );
        assert!(!changed_object(user).unwrap().1);
        for broken in [
            result_entry("CN=x", &[("objectClass", &[b"user"])]),
            result_entry("CN=x", &[("objectGUID", &[b"short"])]),
            result_entry("CN=x", &[("objectGUID", &[guid, guid])]),
        ] {
            assert!(changed_object(broken).is_err());
        }
    }

    #[tokio::test]
    async fn an_unreachable_dc_is_reported_lost_and_retried_with_back_off() {
        let ca = TestCa::new("test CA");
        let url = format!("ldaps://127.0.0.1:{}", refused_port().await);
        let directory = directory(&ca, vec![url.clone()]);
        let cancel = CancellationToken::new();
        let (states, mut changes) =
            directory.watch_changes(WatchSettings::default(), cancel.clone());
        let started = Instant::now();
        match changes.recv().await {
            Some(DirectoryChange::Lost { dc, error }) => {
                assert_eq!(dc, url);
                assert!(error.contains("cannot connect"), "{error}");
            }
            other => panic!("{other:?}"),
        }
        let snapshot = states.snapshot();
        assert_eq!(snapshot[0].url, url);
        assert_eq!(snapshot[0].state, WatchState::Down);
        assert_eq!(snapshot[0].losses, 1);
        // The next attempt comes after the first back-off, not at once.
        assert!(matches!(
            changes.recv().await,
            Some(DirectoryChange::Lost { .. })
        ));
        assert!(started.elapsed() >= FIRST_PROBE, "{:?}", started.elapsed());
        cancel.cancel();
        assert_eq!(
            tokio::time::timeout(Duration::from_secs(1), changes.recv())
                .await
                .unwrap(),
            None,
            "the watch ends when cancelled"
        );
    }

    #[tokio::test]
    async fn each_dc_is_watched_on_its_own() {
        let ca = TestCa::new("test CA");
        let refused = format!("ldaps://127.0.0.1:{}", refused_port().await);
        let silent = format!("ldaps://127.0.0.1:{}", silent_port().await);
        let directory = directory(&ca, vec![silent.clone(), refused.clone()]);
        let cancel = CancellationToken::new();
        let (states, mut changes) =
            directory.watch_changes(WatchSettings::default(), cancel.clone());
        let mut lost = Vec::new();
        while lost.len() < 2 {
            match changes.recv().await {
                Some(DirectoryChange::Lost { dc, error }) => lost.push((dc, error)),
                other => panic!("{other:?}"),
            }
        }
        // The refused DC does not wait for the silent one's timeout.
        assert_eq!(lost[0].0, refused);
        assert_eq!(lost[1].0, silent);
        assert!(
            lost[1].1.contains("no answer within 300ms"),
            "{}",
            lost[1].1
        );
        assert!(states
            .snapshot()
            .iter()
            .all(|status| status.state == WatchState::Down));
        cancel.cancel();
    }

    #[tokio::test]
    async fn the_watch_follows_the_dcs_dns_names() {
        let ca = TestCa::new("test CA");
        let dns = FakeDns::start(vec![(0, 100, 389, "127.0.0.1", 600)]).await;
        let mut config = config(&ca, Vec::new());
        config.domain = Some("corp.example.test".into());
        let directory =
            Directory::build(config, DcHealth::new(), Resolvers::At(dns.address)).unwrap();
        let cancel = CancellationToken::new();
        let (states, mut changes) =
            directory.watch_changes(WatchSettings::default(), cancel.clone());
        let (first, second) = ("ldaps://127.0.0.1:636", "ldaps://127.0.0.2:636");
        // No DC listens on port 636 here: each watch is lost at once, and says so.
        match changes.recv().await {
            Some(DirectoryChange::Lost { dc, .. }) => assert_eq!(dc, first),
            other => panic!("{other:?}"),
        }
        dns.answer(vec![(0, 100, 389, "127.0.0.2", 600)]);
        directory.connector.look_up_now().await;
        match changes.recv().await {
            Some(DirectoryChange::Lost { dc, .. }) => assert_eq!(dc, second),
            other => panic!("{other:?}"),
        }
        let watched: Vec<String> = states.snapshot().into_iter().map(|s| s.url).collect();
        assert_eq!(watched, [second]);
        // The first DC's watch was stopped: its retry (due FIRST_PROBE after its loss) never
        // comes; the second's does.
        let deadline = Instant::now() + FIRST_PROBE + Duration::from_millis(500);
        while let Ok(Some(change)) = tokio::time::timeout_at(deadline, changes.recv()).await {
            match change {
                DirectoryChange::Lost { dc, .. } => {
                    assert_eq!(dc, second, "only the listed DC is watched")
                }
                other => panic!("{other:?}"),
            }
        }
        cancel.cancel();
    }

    #[tokio::test]
    async fn dropping_the_receiver_stops_the_watch() {
        let ca = TestCa::new("test CA");
        let url = format!("ldaps://127.0.0.1:{}", refused_port().await);
        let directory = directory(&ca, vec![url]);
        let cancel = CancellationToken::new();
        let (states, changes) = directory.watch_changes(WatchSettings::default(), cancel.clone());
        drop(changes);
        // The tasks hold the states handle until they end.
        let deadline = Instant::now() + Duration::from_secs(2);
        while Arc::strong_count(&states.dcs) > 1 {
            assert!(Instant::now() < deadline, "the watch did not stop");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        assert!(!cancel.is_cancelled(), "the caller's token is left alone");
    }
}
