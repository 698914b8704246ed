//! The live session table: which VPN sessions are up now, and whose they are.
//!
//! It is fed by what adgate already records — accepts, and the NAS's accounting (RFC 2866:
//! Start, Interim-Update, Stop, Accounting-On/Off) — and answers the one question the
//! revoker asks: which sessions belong to this AD account, and how does the NAS name them.
//! A session is keyed by the RADIUS client and its Acct-Session-Id (RFC 2866 §5.5: unique per
//! NAS). An accept with no Accounting-Start yet counts as live for a short grace window, so a
//! user taken off telework right after logging in is still cut.
//!
//! The audit trail is the source of truth (`rebuild` replays it at start); the table holds
//! nothing the trail does not. It is plain data with the time passed in, so every rule here is
//! unit-tested without a clock, a socket or a directory.

use std::collections::{HashMap, VecDeque};
use std::net::{IpAddr, Ipv4Addr};
use std::time::Duration;

use chrono::{DateTime, Utc};

use crate::audit::AccountRecord;

/// How big and how forgetful the table is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TableLimits {
    /// Sessions plus accepts awaiting their Accounting-Start, at most.
    pub max_entries: usize,
    /// How long an accept without Accounting-Start counts as a live session.
    pub accept_grace: Duration,
    /// How long an accept can still be linked to an Accounting-Start that does not echo its
    /// Class (strongSwan does not): the Start is matched by client and User-Name.
    pub link_window: Duration,
    /// A session with no accounting for this long is dropped, unless its NAS sends
    /// Interim-Updates, in which case three of its intervals without one drop it.
    pub stale_after: Duration,
}

impl Default for TableLimits {
    fn default() -> Self {
        TableLimits {
            max_entries: 10_000,
            accept_grace: Duration::from_secs(60),
            link_window: Duration::from_secs(600),
            stale_after: Duration::from_secs(24 * 3600),
        }
    }
}

/// Missed Interim-Updates after which a session is stale.
const MISSED_INTERIMS: u32 = 3;

/// A session: the client it is on and the Acct-Session-Id that client gave it.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SessionKey {
    pub client: String,
    pub session_id: String,
}

/// How the NAS named the user and itself: what a Disconnect-Request must repeat
/// (RFC 5176 §3), exactly as it was sent.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct NasView {
    pub user_name: Vec<u8>,
    pub nas_ip_address: Option<IpAddr>,
    pub nas_identifier: Option<String>,
    pub framed_ip_address: Option<Ipv4Addr>,
    pub calling_station_id: Option<String>,
}

/// A live session.
#[derive(Debug, Clone)]
pub struct LiveSession {
    pub key: SessionKey,
    pub nas: NasView,
    /// The AD account of the access decision that admitted it; `None` when no accept could be
    /// linked (it cannot be re-checked, only cut by hand).
    pub account: Option<AccountRecord>,
    pub decision_request_id: Option<String>,
    pub started: DateTime<Utc>,
    pub last_seen: DateTime<Utc>,
    /// The gap between its last two accounting messages, once it has had an Interim-Update.
    pub interim_gap: Option<Duration>,
}

/// An accept whose Accounting-Start has not come yet.
#[derive(Debug, Clone)]
pub struct PendingAccept {
    pub request_id: String,
    pub client: String,
    pub nas: NasView,
    pub account: AccountRecord,
    pub at: DateTime<Utc>,
}

/// What an accounting message says about a session.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AccountingEvent {
    /// Start or Interim-Update: the session is up.
    Alive,
    /// Stop: it is over.
    Stop,
    /// Accounting-On or -Off: the NAS (re)started or is going down; every session it had is
    /// over (RFC 2866 §5.1).
    NasRestart,
}

/// One accounting message, as the table needs it.
#[derive(Debug, Clone)]
pub struct AccountingUpdate {
    pub client: String,
    pub event: AccountingEvent,
    pub session_id: Option<String>,
    pub nas: NasView,
    pub account: Option<AccountRecord>,
    pub decision_request_id: Option<String>,
    pub at: DateTime<Utc>,
    /// Acct-Session-Time (RFC 2866 §5.7), seconds of service so far: when the first message
    /// the table sees of a session is an Interim-Update (adgate started, or its trail was read,
    /// after the Start), the session began this long before `at`.
    pub session_time: Option<u32>,
}

/// Something to cut: a session, or an accept still waiting for its Accounting-Start.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Target {
    Session(SessionKey),
    Accept { client: String, request_id: String },
}

impl Target {
    pub fn client(&self) -> &str {
        match self {
            Target::Session(key) => &key.client,
            Target::Accept { client, .. } => client,
        }
    }

    /// The Acct-Session-Id, when the NAS has given one.
    pub fn session_id(&self) -> Option<&str> {
        match self {
            Target::Session(key) => Some(&key.session_id),
            Target::Accept { .. } => None,
        }
    }
}

/// A target with what is needed to cut it and to record the cut.
#[derive(Debug, Clone)]
pub struct Cuttable {
    pub target: Target,
    pub nas: NasView,
    pub account: Option<AccountRecord>,
    pub since: DateTime<Utc>,
}

/// Why an entry left the table without a Stop or a cut.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DropCause {
    /// No accounting for longer than the stale limit.
    Stale,
    /// The table was full and this was the entry heard from least recently.
    TableFull,
}

impl DropCause {
    pub fn as_str(self) -> &'static str {
        match self {
            DropCause::Stale => "stale",
            DropCause::TableFull => "table_full",
        }
    }
}

/// A session dropped from the table, for its record.
#[derive(Debug, Clone)]
pub struct Dropped {
    pub cause: DropCause,
    pub session: LiveSession,
}

#[derive(Debug)]
pub struct SessionTable {
    limits: TableLimits,
    sessions: HashMap<SessionKey, LiveSession>,
    /// Oldest first.
    accepts: VecDeque<PendingAccept>,
}

impl SessionTable {
    pub fn new(limits: TableLimits) -> SessionTable {
        SessionTable {
            limits,
            sessions: HashMap::new(),
            accepts: VecDeque::new(),
        }
    }

    /// Live sessions (with accounting) now in the table.
    pub fn session_count(&self) -> usize {
        self.sessions.len()
    }

    /// Accepts waiting for their Accounting-Start.
    pub fn pending_count(&self) -> usize {
        self.accepts.len()
    }

    /// Notes an accept. Returns a session dropped to make room, if the table was full.
    pub fn accepted(&mut self, accept: PendingAccept) -> Option<Dropped> {
        let dropped = self.make_room();
        if self.accepts.len() >= self.limits.max_entries {
            self.accepts.pop_front();
        }
        self.accepts.push_back(accept);
        dropped
    }

    /// The AD account and decision an accounting message belongs to, for its record: by the
    /// Class the NAS echoed (`decision_request_id`), else the session already known under
    /// this key, else the latest accept for the same client and User-Name within the link
    /// window (NASes that echo no Class, such as strongSwan).
    pub fn link(
        &self,
        client: &str,
        session_id: Option<&str>,
        user_name: &[u8],
        decision_request_id: Option<&str>,
        at: DateTime<Utc>,
    ) -> Option<(AccountRecord, String)> {
        if let Some(id) = decision_request_id {
            if let Some(accept) = self.accepts.iter().find(|a| a.request_id == id) {
                return Some((accept.account.clone(), accept.request_id.clone()));
            }
        }
        if let Some(session_id) = session_id {
            let key = SessionKey {
                client: client.to_owned(),
                session_id: session_id.to_owned(),
            };
            if let Some(session) = self.sessions.get(&key) {
                if let (Some(account), Some(id)) = (&session.account, &session.decision_request_id)
                {
                    return Some((account.clone(), id.clone()));
                }
            }
        }
        self.accepts
            .iter()
            .rev()
            .filter(|a| a.client == client && a.nas.user_name == user_name)
            .find(|a| age(a.at, at) <= self.limits.link_window)
            .map(|a| (a.account.clone(), a.request_id.clone()))
    }

    /// Applies an accounting message. Returns a session dropped to make room, if any.
    pub fn accounting(&mut self, update: AccountingUpdate) -> Option<Dropped> {
        match update.event {
            AccountingEvent::NasRestart => {
                self.sessions.retain(|key, _| key.client != update.client);
                self.accepts.retain(|a| a.client != update.client);
                None
            }
            AccountingEvent::Stop => {
                if let Some(session_id) = update.session_id {
                    self.sessions.remove(&SessionKey {
                        client: update.client,
                        session_id,
                    });
                }
                None
            }
            AccountingEvent::Alive => {
                // A session the NAS gives no id cannot be told apart from others, nor named in
                // a Disconnect-Request beyond its user: it is left to the accept's grace.
                let session_id = update.session_id?;
                if let Some(id) = &update.decision_request_id {
                    self.accepts.retain(|a| &a.request_id != id);
                }
                let key = SessionKey {
                    client: update.client,
                    session_id,
                };
                if let Some(session) = self.sessions.get_mut(&key) {
                    session.interim_gap = Some(age(session.last_seen, update.at));
                    session.last_seen = update.at;
                    session.nas = update.nas;
                    if update.account.is_some() {
                        session.account = update.account;
                        session.decision_request_id = update.decision_request_id;
                    }
                    return None;
                }
                let dropped = self.make_room();
                let started = update
                    .session_time
                    .and_then(|seconds| {
                        update
                            .at
                            .checked_sub_signed(chrono::TimeDelta::seconds(i64::from(seconds)))
                    })
                    .unwrap_or(update.at);
                self.sessions.insert(
                    key.clone(),
                    LiveSession {
                        key,
                        nas: update.nas,
                        account: update.account,
                        decision_request_id: update.decision_request_id,
                        started,
                        last_seen: update.at,
                        interim_gap: None,
                    },
                );
                dropped
            }
        }
    }

    /// Notes that `key` is still up without an accounting message (a VPN server that lists
    /// its sessions instead): it does not go stale, and its Interim-Update gap is untouched.
    pub fn seen(&mut self, key: &SessionKey, at: DateTime<Utc>) {
        if let Some(session) = self.sessions.get_mut(key) {
            session.last_seen = at;
        }
    }

    /// Forgets what has aged out: sessions past their stale limit (returned, to be recorded)
    /// and accepts past the link window.
    pub fn expire(&mut self, now: DateTime<Utc>) -> Vec<Dropped> {
        let link_window = self.limits.link_window;
        self.accepts.retain(|a| age(a.at, now) <= link_window);
        let stale: Vec<SessionKey> = self
            .sessions
            .values()
            .filter(|s| age(s.last_seen, now) > self.stale_limit(s))
            .map(|s| s.key.clone())
            .collect();
        let mut dropped: Vec<Dropped> = stale
            .into_iter()
            .filter_map(|key| self.sessions.remove(&key))
            .map(|session| Dropped {
                cause: DropCause::Stale,
                session,
            })
            .collect();
        dropped.sort_by(|a, b| a.session.key.cmp(&b.session.key));
        dropped
    }

    /// The stale limit of `session`: three Interim-Update intervals when its NAS sends them,
    /// else the configured limit.
    fn stale_limit(&self, session: &LiveSession) -> Duration {
        match session.interim_gap {
            Some(gap) if !gap.is_zero() => gap.saturating_mul(MISSED_INTERIMS),
            _ => self.limits.stale_after,
        }
    }

    /// The AD accounts (objectGUIDs) with a live session or an accept in its grace window.
    pub fn live_accounts(&self, now: DateTime<Utc>) -> Vec<String> {
        let mut guids: Vec<String> = self
            .sessions
            .values()
            .filter_map(|s| s.account.as_ref())
            .chain(self.accepts_in_grace(now).map(|a| &a.account))
            .map(|account| account.object_guid.clone())
            .collect();
        guids.sort();
        guids.dedup();
        guids
    }

    /// Everything live that belongs to the AD account `object_guid`.
    pub fn of_account(&self, object_guid: &str, now: DateTime<Utc>) -> Vec<Cuttable> {
        self.cuttable(now, |account| {
            account.is_some_and(|a| a.object_guid.eq_ignore_ascii_case(object_guid))
        })
    }

    /// Everything live whose User-Name, sAMAccountName or userPrincipalName is `name`
    /// (compared without regard to ASCII case, as AD compares them).
    pub fn named(&self, name: &str, now: DateTime<Utc>) -> Vec<Cuttable> {
        let all = self.cuttable(now, |_| true);
        all.into_iter()
            .filter(|c| {
                let account_names = c.account.iter().flat_map(|a| {
                    std::iter::once(a.sam_account_name.as_str())
                        .chain(a.user_principal_name.as_deref())
                });
                std::str::from_utf8(&c.nas.user_name)
                    .ok()
                    .into_iter()
                    .chain(account_names)
                    .any(|candidate| candidate.eq_ignore_ascii_case(name))
            })
            .collect()
    }

    /// Every live entry, sessions first, in a stable order.
    pub fn all(&self, now: DateTime<Utc>) -> Vec<Cuttable> {
        self.cuttable(now, |_| true)
    }

    /// Forgets a target that was cut (or that the NAS says is gone).
    pub fn remove(&mut self, target: &Target) {
        match target {
            Target::Session(key) => {
                self.sessions.remove(key);
            }
            Target::Accept { request_id, .. } => {
                self.accepts.retain(|a| &a.request_id != request_id);
            }
        }
    }

    fn cuttable(
        &self,
        now: DateTime<Utc>,
        wanted: impl Fn(Option<&AccountRecord>) -> bool,
    ) -> Vec<Cuttable> {
        let mut sessions: Vec<Cuttable> = self
            .sessions
            .values()
            .filter(|s| wanted(s.account.as_ref()))
            .map(|s| Cuttable {
                target: Target::Session(s.key.clone()),
                nas: s.nas.clone(),
                account: s.account.clone(),
                since: s.started,
            })
            .collect();
        sessions.sort_by(|a, b| a.target.cmp(&b.target));
        sessions.extend(
            self.accepts_in_grace(now)
                .filter(|a| wanted(Some(&a.account)))
                .map(|a| Cuttable {
                    target: Target::Accept {
                        client: a.client.clone(),
                        request_id: a.request_id.clone(),
                    },
                    nas: a.nas.clone(),
                    account: Some(a.account.clone()),
                    since: a.at,
                }),
        );
        sessions
    }

    fn accepts_in_grace(&self, now: DateTime<Utc>) -> impl Iterator<Item = &PendingAccept> {
        let grace = self.limits.accept_grace;
        self.accepts.iter().filter(move |a| age(a.at, now) <= grace)
    }

    /// Drops the session heard from least recently if the table is full.
    fn make_room(&mut self) -> Option<Dropped> {
        if self.sessions.len() + self.accepts.len() < self.limits.max_entries {
            return None;
        }
        if self.sessions.len() < self.accepts.len() {
            self.accepts.pop_front();
            return None;
        }
        let oldest = self
            .sessions
            .values()
            .min_by_key(|s| s.last_seen)
            .map(|s| s.key.clone())?;
        self.sessions.remove(&oldest).map(|session| Dropped {
            cause: DropCause::TableFull,
            session,
        })
    }
}

/// How long ago `then` was at `now`; zero if `then` is in the future (a clock step back).
fn age(then: DateTime<Utc>, now: DateTime<Utc>) -> Duration {
    (now - then).to_std().unwrap_or(Duration::ZERO)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(seconds: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_800_000_000 + seconds, 0).unwrap()
    }

    fn account(name: &str) -> AccountRecord {
        AccountRecord {
            dn: format!("CN={name},CN=Users,DC=corp,DC=example,DC=test"),
            object_guid: format!("guid-{name}"),
            object_sid: "S-1-5-21-1-2-3-1105".into(),
            user_principal_name: Some(format!("{name}@corp.example.test")),
            sam_account_name: name.into(),
        }
    }

    fn nas(user: &str) -> NasView {
        NasView {
            user_name: user.as_bytes().to_vec(),
            nas_identifier: Some("strongswan-gw".into()),
            ..NasView::default()
        }
    }

    fn accept(id: &str, user: &str, at: DateTime<Utc>) -> PendingAccept {
        PendingAccept {
            request_id: id.into(),
            client: "vpn1".into(),
            nas: nas(user),
            account: account(user),
            at,
        }
    }

    fn update(
        event: AccountingEvent,
        session: &str,
        user: &str,
        at: DateTime<Utc>,
    ) -> AccountingUpdate {
        AccountingUpdate {
            client: "vpn1".into(),
            event,
            session_id: Some(session.into()),
            nas: nas(user),
            account: Some(account(user)),
            decision_request_id: Some(format!("accept-{user}")),
            at,
            session_time: None,
        }
    }

    fn table() -> SessionTable {
        SessionTable::new(TableLimits::default())
    }

    #[test]
    fn an_accept_is_live_for_its_grace_window_only() {
        let mut table = table();
        table.accepted(accept("a1", "alice", t(0)));
        assert_eq!(table.live_accounts(t(59)), ["guid-alice"]);
        assert_eq!(table.of_account("guid-alice", t(60)).len(), 1);
        assert!(table.live_accounts(t(61)).is_empty());
    }

    #[test]
    fn a_start_without_class_is_linked_to_the_latest_accept_of_that_user_on_that_client() {
        let mut table = table();
        table.accepted(accept("a1", "alice", t(0)));
        table.accepted(accept("a2", "alice", t(5)));
        table.accepted(accept("b1", "bob", t(6)));
        let (account, id) = table
            .link("vpn1", Some("s1"), b"alice", None, t(7))
            .unwrap();
        assert_eq!(
            (account.sam_account_name.as_str(), id.as_str()),
            ("alice", "a2")
        );
        assert!(table
            .link("vpn2", Some("s1"), b"alice", None, t(7))
            .is_none());
        assert!(table
            .link("vpn1", Some("s1"), b"alice", None, t(606))
            .is_none());
    }

    #[test]
    fn the_class_wins_over_the_user_name() {
        let mut table = table();
        table.accepted(accept("a1", "alice", t(0)));
        table.accepted(accept("a2", "alice", t(5)));
        let (_, id) = table
            .link("vpn1", Some("s1"), b"alice", Some("a1"), t(7))
            .unwrap();
        assert_eq!(id, "a1");
    }

    #[test]
    fn start_interim_stop() {
        let mut table = table();
        table.accepted(accept("accept-alice", "alice", t(0)));
        table.accounting(update(AccountingEvent::Alive, "s1", "alice", t(1)));
        assert_eq!(table.session_count(), 1);
        assert_eq!(table.pending_count(), 0, "the Start consumed the accept");
        let cut = table.of_account("guid-alice", t(2));
        assert_eq!(
            cut.iter().map(|c| c.target.clone()).collect::<Vec<_>>(),
            [Target::Session(SessionKey {
                client: "vpn1".into(),
                session_id: "s1".into()
            })]
        );
        table.accounting(update(AccountingEvent::Alive, "s1", "alice", t(301)));
        assert_eq!(table.of_account("guid-alice", t(302))[0].since, t(1));
        table.accounting(update(AccountingEvent::Stop, "s1", "alice", t(400)));
        assert_eq!(table.session_count(), 0);
        assert!(table.live_accounts(t(401)).is_empty());
    }

    #[test]
    fn accounting_on_or_off_ends_every_session_of_that_nas_only() {
        let mut table = table();
        table.accounting(update(AccountingEvent::Alive, "s1", "alice", t(0)));
        table.accounting(update(AccountingEvent::Alive, "s2", "bob", t(0)));
        let mut other = update(AccountingEvent::Alive, "s1", "carol", t(0));
        other.client = "vpn2".into();
        table.accounting(other);
        let mut restart = update(AccountingEvent::NasRestart, "", "", t(5));
        restart.session_id = None;
        table.accounting(restart);
        assert_eq!(table.live_accounts(t(6)), ["guid-carol"]);
    }

    #[test]
    fn sessions_go_stale_after_three_interims_or_the_default_limit() {
        let mut table = table();
        table.accounting(update(AccountingEvent::Alive, "quiet", "alice", t(0)));
        table.accounting(update(AccountingEvent::Alive, "chatty", "bob", t(0)));
        table.accounting(update(AccountingEvent::Alive, "chatty", "bob", t(60)));
        assert!(table.expire(t(240)).is_empty(), "3 × 60 s not yet passed");
        let dropped = table.expire(t(241));
        assert_eq!(dropped.len(), 1);
        assert_eq!(dropped[0].cause, DropCause::Stale);
        assert_eq!(dropped[0].session.key.session_id, "chatty");
        assert!(table.expire(t(24 * 3600)).is_empty());
        assert_eq!(table.expire(t(24 * 3600 + 1)).len(), 1);
    }

    #[test]
    fn a_full_table_drops_the_session_heard_from_least_recently() {
        let mut table = SessionTable::new(TableLimits {
            max_entries: 2,
            ..TableLimits::default()
        });
        table.accounting(update(AccountingEvent::Alive, "s1", "alice", t(0)));
        table.accounting(update(AccountingEvent::Alive, "s2", "bob", t(1)));
        table.accounting(update(AccountingEvent::Alive, "s1", "alice", t(2)));
        let dropped = table
            .accounting(update(AccountingEvent::Alive, "s3", "carol", t(3)))
            .unwrap();
        assert_eq!(dropped.cause, DropCause::TableFull);
        assert_eq!(dropped.session.key.session_id, "s2");
        assert_eq!(table.session_count(), 2);
    }

    #[test]
    fn names_match_the_user_name_sent_or_the_account_names() {
        let mut table = table();
        let mut session = update(AccountingEvent::Alive, "s1", "alice", t(0));
        session.nas.user_name = b"CORP\\alice".to_vec();
        table.accounting(session);
        for name in ["CORP\\alice", "alice", "ALICE", "alice@corp.example.test"] {
            assert_eq!(table.named(name, t(1)).len(), 1, "{name}");
        }
        assert!(table.named("bob", t(1)).is_empty());
    }

    #[test]
    fn a_removed_target_is_gone() {
        let mut table = table();
        table.accepted(accept("a1", "alice", t(0)));
        table.accounting(update(AccountingEvent::Alive, "s1", "alice", t(1)));
        for cut in table.of_account("guid-alice", t(2)) {
            table.remove(&cut.target);
        }
        assert!(table.live_accounts(t(3)).is_empty());
    }
}
