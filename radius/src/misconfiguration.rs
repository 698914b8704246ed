//! The discards that mean an appliance and adgate disagree about their configuration: an
//! address no client entry covers, a missing Message-Authenticator, a Proxy-State under
//! `limit_proxy_state`, a shared secret that does not verify. RFC 2865 §3 makes them silent
//! on the wire, so the appliance only retries and its users see a timeout; the log must say it
//! loudly instead. Each is logged at error level the first time for a client and cause, then at
//! most once per [`ERROR_INTERVAL`], as one line naming the client, what it sent, the
//! configuration that would accept it and what that costs. The setting names are those of the
//! [`NasClient`] fields, which adgate's `[[clients]]` entries carry unchanged.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use tracing::error;

use crate::clients::{MessageAuthenticatorRule, NasClient};
use crate::dictionary::{EAP_MESSAGE, STATUS_SERVER};
use crate::handler::{Discard, DiscardReason};
use crate::packet::Packet;

/// At most one error line per client and cause in this interval.
pub const ERROR_INTERVAL: Duration = Duration::from_secs(60);

/// What a misconfigured NAS did, as far as the discarded packet shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum Misconfiguration {
    /// A source address that no client entry covers (RFC 2865 §3).
    UnknownSource,
    /// An unsigned Access-Request from a client whose rule is `Always`.
    UnsignedWhileRequired,
    /// An unsigned Access-Request from an `Auto` client that has signed before.
    UnsignedAfterSigning,
    /// An unsigned Access-Request carrying EAP-Message (RFC 3579 §3.3): no setting accepts it.
    UnsignedEap,
    /// Proxy-State in an unsigned Access-Request under `limit_proxy_state`.
    UnsignedProxyState,
    /// A Message-Authenticator that does not verify (RFC 3579 §3.2).
    WrongSecret,
    /// An Accounting-Request's Request Authenticator that does not verify (RFC 2866 §3), or a
    /// User-Password that is not whole 16-octet blocks (RFC 2865 §5.2).
    BadRequestAuthenticator,
}

impl Misconfiguration {
    /// The misconfiguration a discard for `reason` of `packet` from `client` points to, if any.
    pub(crate) fn of(
        reason: DiscardReason,
        client: &NasClient,
        packet: &Packet<'_>,
    ) -> Option<Misconfiguration> {
        match reason {
            DiscardReason::UnknownClient => Some(Self::UnknownSource),
            // An unsigned Status-Server is a probe, not a login: RFC 5997 §3 leaves no choice.
            DiscardReason::MissingMessageAuthenticator if packet.code() == STATUS_SERVER => None,
            DiscardReason::MissingMessageAuthenticator if packet.contains(EAP_MESSAGE) => {
                Some(Self::UnsignedEap)
            }
            DiscardReason::MissingMessageAuthenticator => {
                Some(match client.require_message_authenticator {
                    MessageAuthenticatorRule::Always => Self::UnsignedWhileRequired,
                    MessageAuthenticatorRule::Auto | MessageAuthenticatorRule::Never => {
                        Self::UnsignedAfterSigning
                    }
                })
            }
            DiscardReason::ProxyStateWithoutMessageAuthenticator => Some(Self::UnsignedProxyState),
            DiscardReason::BadMessageAuthenticator => Some(Self::WrongSecret),
            DiscardReason::BadRequestAuthenticator => Some(Self::BadRequestAuthenticator),
            DiscardReason::Malformed
            | DiscardReason::UnsupportedCode
            | DiscardReason::UnexpectedResponse
            | DiscardReason::MissingAttribute
            | DiscardReason::ConflictingCredentials => None,
        }
    }

    /// What the NAS sent, in words.
    fn sent(self) -> &'static str {
        match self {
            Self::UnknownSource => "a RADIUS packet from an address no [[clients]] entry covers",
            Self::UnsignedWhileRequired => "an Access-Request without Message-Authenticator",
            Self::UnsignedAfterSigning => {
                "an Access-Request without Message-Authenticator, after signing earlier ones"
            }
            Self::UnsignedEap => "an EAP Access-Request without Message-Authenticator",
            Self::UnsignedProxyState => {
                "an Access-Request with Proxy-State and without Message-Authenticator"
            }
            Self::WrongSecret => "a Message-Authenticator that its shared secret does not verify",
            Self::BadRequestAuthenticator => {
                "a Request Authenticator (accounting) or User-Password its shared secret does not \
                 fit"
            }
        }
    }

    /// The configuration that would accept what was sent, or what to do instead.
    fn fix(self, client: Option<&str>, source: SocketAddr) -> String {
        let name = client.unwrap_or_default();
        match self {
            Self::UnknownSource => {
                let address = source.ip().to_canonical();
                let host_prefix = if address.is_ipv4() { 32 } else { 128 };
                format!(
                    "if {address} is the appliance's address, add a [[clients]] entry with \
                     address = \"{address}/{host_prefix}\" and its shared secret; else correct \
                     the appliance's source address"
                )
            }
            Self::UnsignedWhileRequired => format!(
                "turn on Message-Authenticator on the appliance if it can; else set \
                 require_message_authenticator = \"auto\" in the [[clients]] entry named \"{name}\""
            ),
            Self::UnsignedAfterSigning => format!(
                "this client signed before, so something on the path strips the attribute \
                 (investigate) or the appliance was reconfigured: then set \
                 require_message_authenticator = false in the [[clients]] entry named \"{name}\""
            ),
            Self::UnsignedEap => "no setting accepts it (RFC 3579 §3.3): turn on \
                 Message-Authenticator on the appliance"
                .to_owned(),
            Self::UnsignedProxyState => format!(
                "have the appliance or proxy sign its requests; if it cannot, set \
                 limit_proxy_state = false in the [[clients]] entry named \"{name}\""
            ),
            Self::WrongSecret | Self::BadRequestAuthenticator => format!(
                "give the appliance and the [[clients]] entry named \"{name}\" the same shared \
                 secret (secret_file)"
            ),
        }
    }

    /// What following [`fix`](Self::fix) costs.
    fn cost(self) -> &'static str {
        match self {
            Self::UnknownSource => {
                "whoever sends from that address with the secret is trusted as that appliance"
            }
            Self::UnsignedWhileRequired => {
                "its unsigned requests are authenticated by nothing but the shared secret in \
                 User-Password (RFC 2865 §5.2); with limit_proxy_state = true BlastRADIUS \
                 (CVE-2024-3596) still cannot forge an answer"
            }
            Self::UnsignedAfterSigning => {
                "a stripped Message-Authenticator goes unnoticed; with limit_proxy_state = true \
                 BlastRADIUS (CVE-2024-3596) still cannot forge an answer"
            }
            Self::UnsignedEap | Self::WrongSecret | Self::BadRequestAuthenticator => "nothing",
            Self::UnsignedProxyState => {
                "this client is open to BlastRADIUS (CVE-2024-3596) forgeries by anyone on its \
                 path: keep it on a trusted network or behind RadSec"
            }
        }
    }
}

/// A client's name (`None`: unknown sources, one entry for them all, so spoofed addresses
/// cannot flood the log) and a cause: the unit an error line is rate-limited by.
type ClientCause = (Option<String>, Misconfiguration);

/// When each client's misconfigurations were last logged as errors, and how many since.
#[derive(Debug, Default)]
pub(crate) struct MisconfigurationLog {
    /// Bounded by the configured clients times the causes.
    last: Mutex<HashMap<ClientCause, (Instant, u64)>>,
}

impl MisconfigurationLog {
    /// Logs `discard` as an error if its client and cause are due; `false` when it is not, so
    /// that the caller logs it the ordinary way.
    pub(crate) fn report(&self, discard: &Discard, cause: Misconfiguration) -> bool {
        let Some(unlogged) = self.due(discard.client.clone(), cause, Instant::now()) else {
            return false;
        };
        error!(
            client = discard.client.as_deref(),
            source = %discard.source,
            reason = discard.reason.as_str(),
            sent = cause.sent(),
            fix = %cause.fix(discard.client.as_deref(), discard.source),
            cost = cause.cost(),
            unlogged,
            "RADIUS requests from a misconfigured NAS are being discarded: its users cannot log in"
        );
        true
    }

    /// `Some(discards not logged since the last error)` when this client and cause may be
    /// logged now.
    fn due(&self, client: Option<String>, cause: Misconfiguration, now: Instant) -> Option<u64> {
        let mut last = self.last.lock().unwrap_or_else(PoisonError::into_inner);
        match last.get_mut(&(client.clone(), cause)) {
            Some((at, unlogged)) if now.duration_since(*at) < ERROR_INTERVAL => {
                *unlogged += 1;
                None
            }
            Some(entry) => {
                let unlogged = entry.1;
                *entry = (now, 0);
                Some(unlogged)
            }
            None => {
                last.insert((client, cause), (now, 0));
                Some(0)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_client_and_cause_is_logged_once_a_minute() {
        let log = MisconfigurationLog::default();
        let start = Instant::now();
        let vpn = || Some("vpn".to_owned());
        assert_eq!(
            log.due(vpn(), Misconfiguration::UnsignedWhileRequired, start),
            Some(0)
        );
        let soon = start + Duration::from_secs(5);
        assert_eq!(
            log.due(vpn(), Misconfiguration::UnsignedWhileRequired, soon),
            None
        );
        assert_eq!(
            log.due(vpn(), Misconfiguration::UnsignedWhileRequired, soon),
            None
        );
        assert_eq!(log.due(vpn(), Misconfiguration::WrongSecret, soon), Some(0));
        assert_eq!(
            log.due(
                Some("other".to_owned()),
                Misconfiguration::UnsignedWhileRequired,
                soon
            ),
            Some(0)
        );
        assert_eq!(
            log.due(
                vpn(),
                Misconfiguration::UnsignedWhileRequired,
                start + ERROR_INTERVAL
            ),
            Some(2)
        );
    }

    #[test]
    fn the_fix_names_the_client_entry_and_the_setting() {
        let source: SocketAddr = "192.0.2.7:40000".parse().unwrap();
        let fix = Misconfiguration::UnsignedWhileRequired.fix(Some("openvpn"), source);
        assert!(
            fix.contains("require_message_authenticator = \"auto\""),
            "{fix}"
        );
        assert!(fix.contains("named \"openvpn\""), "{fix}");
        let fix = Misconfiguration::UnsignedProxyState.fix(Some("softether"), source);
        assert!(fix.contains("limit_proxy_state = false"), "{fix}");
        let fix = Misconfiguration::UnknownSource.fix(None, source);
        assert!(fix.contains("address = \"192.0.2.7/32\""), "{fix}");
        assert!(Misconfiguration::UnsignedProxyState
            .cost()
            .contains("BlastRADIUS"));
    }
}
