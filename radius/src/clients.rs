//! The NAS clients adgate answers, found by the source address of a
//! datagram (RFC 2865 §3: a server only answers clients it shares a secret
//! with, and silently discards everything else). The table can be replaced
//! while serving (a configuration reload); a request keeps the client it was
//! admitted with until it is answered.

use std::net::IpAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, PoisonError, RwLock};

use ipnet::IpNet;

use crate::request_queue::ClientRequests;
use crate::secret::SharedSecret;

/// One configured NAS, or a network of them sharing a secret.
#[derive(Debug)]
pub struct NasClient {
    /// The configured name, for logs and the audit trail.
    pub name: String,
    /// The shared secret keying every authenticator this client exchanges.
    pub secret: SharedSecret,
    /// When Access-Requests that lack a Message-Authenticator are
    /// discarded: the BlastRADIUS (CVE-2024-3596) mitigation for NASes that
    /// send one.
    pub require_message_authenticator: MessageAuthenticatorRule,
    /// Discard Access-Requests that carry Proxy-State but no
    /// Message-Authenticator: the BlastRADIUS attack smuggles its MD5
    /// collision block in a Proxy-State (FreeRADIUS `limit_proxy_state`).
    pub limit_proxy_state: bool,
    /// Requests from this client decided at once; beyond, its datagrams wait
    /// in its queue (see `request_queue`), so one client cannot take every slot.
    pub max_in_flight: usize,
    /// What the server learns about the client while serving; start with
    /// `ClientState::default()`.
    pub state: ClientState,
}

/// When a client's Access-Requests must carry a Message-Authenticator
/// (RFC 3579 §3.2). Whatever the rule, one that is present must verify, and
/// an Access-Request with EAP-Message needs one (RFC 3579 §3.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum MessageAuthenticatorRule {
    /// Every Access-Request: an unsigned one is discarded.
    Always,
    /// From the first valid one on: a NAS that signs does not stop signing
    /// unless someone in the path strips the attribute, so once a client has
    /// signed, its unsigned requests are discarded (FreeRADIUS 3.2.5
    /// `require_message_authenticator = auto`). A NAS that never signs is
    /// served; with `limit_proxy_state` this is as safe against BlastRADIUS
    /// as [`Always`](Self::Always) (docs/design.md).
    #[default]
    Auto,
    /// Never, apart from EAP: for a NAS that signs only some requests.
    Never,
}

impl NasClient {
    /// Whether an Access-Request without Message-Authenticator must be
    /// discarded, by this client's rule and what it has sent so far.
    pub(crate) fn requires_message_authenticator(&self) -> bool {
        match self.require_message_authenticator {
            MessageAuthenticatorRule::Always => true,
            MessageAuthenticatorRule::Auto => self.has_signed(),
            MessageAuthenticatorRule::Never => false,
        }
    }

    /// Whether this client has sent a valid Message-Authenticator since it
    /// was first configured.
    pub(crate) fn has_signed(&self) -> bool {
        self.state
            .sent_message_authenticator
            .load(Ordering::Relaxed)
    }

    /// Remembers that this client signed a request with a valid
    /// Message-Authenticator.
    pub(crate) fn saw_message_authenticator(&self) {
        self.state
            .sent_message_authenticator
            .store(true, Ordering::Relaxed);
    }
}

/// Per-client facts learned at run time.
#[derive(Debug, Default)]
pub struct ClientState {
    sent_message_authenticator: AtomicBool,
    pub(crate) requests: ClientRequests,
}

/// Maps a source address to its [`NasClient`]; the most specific network wins.
#[derive(Debug)]
pub struct ClientTable {
    /// Sorted by descending prefix length, so the first match is the longest.
    entries: RwLock<Vec<(IpNet, Arc<NasClient>)>>,
}

impl ClientTable {
    /// Builds the table. Host bits in the networks are ignored
    /// (`10.0.0.1/8` is `10.0.0.0/8`); if the same network is listed twice,
    /// the first entry wins.
    pub fn new(entries: Vec<(IpNet, Arc<NasClient>)>) -> Self {
        let mut entries: Vec<_> = entries
            .into_iter()
            .map(|(network, client)| (network.trunc(), client))
            .collect();
        // A stable sort keeps configuration order among equal prefixes.
        entries.sort_by_key(|(network, _)| std::cmp::Reverse(network.prefix_len()));
        Self {
            entries: RwLock::new(entries),
        }
    }

    /// Serves `table`'s clients from now on. Requests already admitted keep
    /// the client (and secret) they came in with. A client listed again under
    /// the same name and network keeps what was learned about it: if it has
    /// signed a request, it must go on signing.
    pub fn replace(&self, table: ClientTable) {
        let new = table
            .entries
            .into_inner()
            .unwrap_or_else(PoisonError::into_inner);
        let mut entries = self.entries.write().unwrap_or_else(PoisonError::into_inner);
        for (network, client) in &new {
            let signed_before = entries.iter().any(|(old_network, old)| {
                old_network == network && old.name == client.name && old.has_signed()
            });
            if signed_before {
                client.saw_message_authenticator();
            }
        }
        *entries = new;
    }

    /// How many networks the table holds.
    pub fn len(&self) -> usize {
        self.entries
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .len()
    }

    /// Whether the table holds no client at all.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The client whose network most specifically contains `source`. An
    /// IPv4-mapped IPv6 source (`::ffff:192.0.2.1`, as a dual-stack socket
    /// reports IPv4 peers) is matched as the IPv4 address it carries.
    pub fn find(&self, source: IpAddr) -> Option<Arc<NasClient>> {
        let source = source.to_canonical();
        self.entries
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .iter()
            .find(|(network, _)| network.contains(&source))
            .map(|(_, client)| Arc::clone(client))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn client(name: &str) -> Arc<NasClient> {
        Arc::new(NasClient {
            name: name.to_owned(),
            secret: SharedSecret::new(b"s".to_vec()),
            require_message_authenticator: MessageAuthenticatorRule::Always,
            limit_proxy_state: true,
            max_in_flight: 2,
            state: ClientState::default(),
        })
    }

    fn table() -> ClientTable {
        ClientTable::new(vec![
            ("10.0.0.0/8".parse().unwrap(), client("wide")),
            ("10.1.2.3/32".parse().unwrap(), client("host")),
            ("10.1.0.9/16".parse().unwrap(), client("site")),
            ("10.1.0.0/16".parse().unwrap(), client("site-duplicate")),
            ("2001:db8::/32".parse().unwrap(), client("v6")),
        ])
    }

    fn name_for(table: &ClientTable, source: &str) -> Option<String> {
        table
            .find(source.parse().unwrap())
            .map(|client| client.name.clone())
    }

    #[test]
    fn longest_prefix_wins() {
        let table = table();
        assert_eq!(name_for(&table, "10.1.2.3").as_deref(), Some("host"));
        assert_eq!(name_for(&table, "10.1.2.4").as_deref(), Some("site"));
        assert_eq!(name_for(&table, "10.200.0.1").as_deref(), Some("wide"));
        assert_eq!(name_for(&table, "2001:db8::1").as_deref(), Some("v6"));
        assert_eq!(name_for(&table, "192.0.2.1"), None);
        assert_eq!(name_for(&table, "2001:db9::1"), None);
    }

    #[test]
    fn ipv4_mapped_sources_match_ipv4_networks() {
        let table = table();
        assert_eq!(name_for(&table, "::ffff:10.1.2.3").as_deref(), Some("host"));
        assert_eq!(name_for(&table, "::ffff:192.0.2.1"), None);
    }

    fn client_with(rule: MessageAuthenticatorRule) -> NasClient {
        NasClient {
            name: "legacy".to_owned(),
            secret: SharedSecret::new(b"s".to_vec()),
            require_message_authenticator: rule,
            limit_proxy_state: true,
            max_in_flight: 1,
            state: ClientState::default(),
        }
    }

    #[test]
    fn under_auto_a_client_that_signed_once_must_always_sign() {
        let auto = client_with(MessageAuthenticatorRule::default());
        assert_eq!(
            auto.require_message_authenticator,
            MessageAuthenticatorRule::Auto
        );
        assert!(!auto.requires_message_authenticator());
        auto.saw_message_authenticator();
        assert!(auto.requires_message_authenticator());
    }

    #[test]
    fn always_requires_from_the_start_and_never_does_not_learn() {
        let always = client_with(MessageAuthenticatorRule::Always);
        assert!(always.requires_message_authenticator());
        let never = client_with(MessageAuthenticatorRule::Never);
        never.saw_message_authenticator();
        assert!(!never.requires_message_authenticator());
    }

    #[test]
    fn a_replaced_table_serves_new_clients_and_keeps_what_was_learned() {
        let table = table();
        let host = table.find("10.1.2.3".parse().unwrap()).unwrap();
        host.saw_message_authenticator();
        let lenient = |name: &str| {
            Arc::new(NasClient {
                require_message_authenticator: MessageAuthenticatorRule::Auto,
                ..Arc::into_inner(client(name)).unwrap()
            })
        };
        table.replace(ClientTable::new(vec![
            ("10.1.2.3/32".parse().unwrap(), lenient("host")),
            ("10.1.2.4/32".parse().unwrap(), lenient("new")),
        ]));
        assert_eq!(table.len(), 2);
        assert_eq!(name_for(&table, "10.200.0.1"), None);
        let new = table.find("10.1.2.4".parse().unwrap()).unwrap();
        assert!(!new.requires_message_authenticator());
        let host_again = table.find("10.1.2.3".parse().unwrap()).unwrap();
        assert!(host_again.requires_message_authenticator());
        assert!(!Arc::ptr_eq(&host, &host_again));
    }

    #[test]
    fn empty_table_finds_nothing() {
        assert!(ClientTable::new(Vec::new())
            .find("127.0.0.1".parse().unwrap())
            .is_none());
    }
}
