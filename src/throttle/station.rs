//! Where a login comes from, as throttling and familiar stations see it: the Calling-Station-Id
//! (RFC 2865 §5.31), which VPN appliances fill with the client's public address. Values are
//! compared by what they mean, not as sent: strongSwan appends the IKE port
//! (`192.0.2.5[4500]`, with its default `station_id_with_port`), which changes with every NAT
//! mapping, so the port is dropped; and an IPv6 client can take any address of its /64 (privacy
//! addresses rotate, and a guesser has 2^64 of them), so an IPv6 station is its /64. Anything
//! that is not an address (a MAC address from a Wi-Fi controller, a phone number) is kept as
//! sent, lowercased.

use std::fmt;
use std::net::{IpAddr, Ipv6Addr, SocketAddr};

/// A normalized Calling-Station-Id.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Station(String);

/// The prefix an IPv6 station is keyed by: one subnet, as SLAAC hands them out.
const IPV6_STATION_PREFIX: u8 = 64;

impl Station {
    /// The station a Calling-Station-Id names; `None` for an empty or blank one.
    pub fn from_calling_station_id(value: &str) -> Option<Station> {
        let value = value.trim();
        if value.is_empty() {
            return None;
        }
        Some(Station(match address(value) {
            Some(IpAddr::V4(v4)) => v4.to_string(),
            Some(IpAddr::V6(v6)) => subnet(v6),
            None => value.to_lowercase(),
        }))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Station {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The address in `value`: bare, with strongSwan's `[port]` after it, or as `address:port` /
/// `[address]:port`. IPv4-mapped IPv6 addresses are their IPv4 address.
fn address(value: &str) -> Option<IpAddr> {
    let without_bracketed_port = value
        .strip_suffix(']')
        .and_then(|rest| rest.rsplit_once('['))
        .filter(|(_, port)| !port.is_empty() && port.bytes().all(|b| b.is_ascii_digit()))
        .map(|(address, _)| address);
    let address = without_bracketed_port
        .unwrap_or(value)
        .parse::<IpAddr>()
        .ok()
        .or_else(|| value.parse::<SocketAddr>().ok().map(|socket| socket.ip()))?;
    Some(address.to_canonical())
}

fn subnet(address: Ipv6Addr) -> String {
    let bits = u128::from(address) & (u128::MAX << (128 - u32::from(IPV6_STATION_PREFIX)));
    format!("{}/{IPV6_STATION_PREFIX}", Ipv6Addr::from(bits))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn station(value: &str) -> Option<String> {
        Station::from_calling_station_id(value).map(|station| station.0)
    }

    #[test]
    fn an_address_is_the_station_whatever_port_comes_with_it() {
        for value in [
            "203.0.113.9",
            " 203.0.113.9 ",
            "203.0.113.9[4500]",
            "203.0.113.9:61234",
            "::ffff:203.0.113.9",
        ] {
            assert_eq!(station(value).as_deref(), Some("203.0.113.9"), "{value}");
        }
    }

    #[test]
    fn an_ipv6_station_is_its_subnet() {
        for value in [
            "2001:db8:1:2::7",
            "2001:db8:1:2:aaaa:bbbb:cccc:dddd[4500]",
            "[2001:db8:1:2::9]:4500",
        ] {
            assert_eq!(
                station(value).as_deref(),
                Some("2001:db8:1:2::/64"),
                "{value}"
            );
        }
        assert_ne!(station("2001:db8:1:3::7"), station("2001:db8:1:2::7"));
    }

    #[test]
    fn other_identifiers_are_kept_lowercased_and_blanks_are_none() {
        assert_eq!(
            station("00-1A-2B-3C-4D-5E").as_deref(),
            Some("00-1a-2b-3c-4d-5e")
        );
        assert_eq!(station("host[x]").as_deref(), Some("host[x]"));
        assert_eq!(station(""), None);
        assert_eq!(station("   "), None);
    }
}
