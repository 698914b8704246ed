//! Finding a domain's controllers in DNS, as Windows' DC locator does: every DC registers the
//! SRV record `_ldap._tcp.dc._msdcs.<DNS domain name>` ([MS-NRPC] `NL_DNS_NAME_INFO` lists the
//! locator's records), naming its host and LDAP port. The records are put in the order RFC 2782
//! prescribes: lowest priority first; within one priority, a weighted random order, so that a DC
//! of twice the weight comes first twice as often (and each adgate spreads its load as the
//! domain's administrators weighted it).
//!
//! hickory-resolver gives the records as DNS sent them; the RFC 2782 selection is done here
//! ([`rfc2782_order`]: no maintained crate offers it).
//!
//! The resolver is hickory's, set up from the system's `/etc/resolv.conf`, which is read afresh
//! (off the async workers) for every lookup: a changed resolver configuration is followed, and
//! nothing is cached between lookups, so a lookup after a failure asks DNS again. How often to
//! look again is the caller's business; [`Found::ttl`] says how long the answer may be kept
//! (RFC 1035 §3.2.1).

use std::time::Duration;

use hickory_resolver::net::runtime::TokioRuntimeProvider;
use hickory_resolver::proto::rr::RData;
use hickory_resolver::Resolver;

/// One SRV record's target (RFC 2782: priority, weight, port, target).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SrvTarget {
    pub(crate) priority: u16,
    pub(crate) weight: u16,
    pub(crate) port: u16,
    /// The target host name, without the trailing dot.
    pub(crate) host: String,
}

/// What DNS said: the targets in RFC 2782 order, and how long the answer may be kept.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Found {
    pub(crate) targets: Vec<SrvTarget>,
    /// The smallest TTL of the SRV records.
    pub(crate) ttl: Duration,
}

/// `domain` as the DNS name to look the DCs up under, or what is wrong with it: dot-separated
/// labels of letters, digits and hyphens, none longer than 63 characters nor starting or ending
/// with a hyphen, at most 253 characters in all (RFC 1035 §2.3.1, RFC 1123 §2.1). A trailing
/// dot is dropped and letters are lowercased.
pub(crate) fn domain_name(domain: &str) -> Result<String, &'static str> {
    const PROBLEM: &str = "must be the AD domain's DNS name, such as corp.example.com";
    let domain = domain.strip_suffix('.').unwrap_or(domain);
    let label_ok = |label: &str| {
        (1..=63).contains(&label.len())
            && label
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-')
            && !label.starts_with('-')
            && !label.ends_with('-')
    };
    if domain.len() > 253 || !domain.split('.').all(label_ok) {
        return Err(PROBLEM);
    }
    Ok(domain.to_ascii_lowercase())
}

/// The SRV name the DCs of `domain` are registered under, fully qualified.
pub(crate) fn srv_name(domain: &str) -> String {
    format!("_ldap._tcp.dc._msdcs.{domain}.")
}

/// Where DNS questions go.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Resolvers {
    /// The system's resolvers, from `/etc/resolv.conf`.
    System,
    /// One DNS server on this address (UDP): a test's.
    #[cfg(test)]
    At(std::net::SocketAddr),
}

/// Looks up the DCs of `domain` (`corp.example.test`) and orders them (RFC 2782). Each DNS
/// query waits at most `timeout`. `Err` says why there is no usable answer, in words for the
/// log: no resolver configuration, no answer, no such record, or only the "decidedly not
/// available" target `.`.
pub(crate) async fn lookup(
    domain: &str,
    resolvers: Resolvers,
    timeout: Duration,
) -> Result<Found, String> {
    let name = srv_name(domain);
    let (config, mut options) = match resolvers {
        Resolvers::System => {
            tokio::task::spawn_blocking(hickory_resolver::system_conf::read_system_conf)
                .await
                .map_err(|error| format!("reading /etc/resolv.conf: {error}"))?
                .map_err(|error| format!("/etc/resolv.conf: {error}"))?
        }
        #[cfg(test)]
        Resolvers::At(address) => {
            let mut server = hickory_resolver::config::NameServerConfig::udp(address.ip());
            for connection in &mut server.connections {
                connection.port = address.port();
            }
            (
                hickory_resolver::config::ResolverConfig::from_name_servers(vec![server]),
                hickory_resolver::config::ResolverOpts::default(),
            )
        }
    };
    options.timeout = timeout;
    let resolver = Resolver::builder_with_config(config, TokioRuntimeProvider::default())
        .with_options(options)
        .build()
        .map_err(|error| format!("resolver: {error}"))?;
    let answer = resolver
        .srv_lookup(name.as_str())
        .await
        .map_err(|error| format!("{name}: {error}"))?;
    let mut ttl = u32::MAX;
    let mut targets = Vec::new();
    for record in answer.answers() {
        let RData::SRV(srv) = &record.data else {
            continue;
        };
        ttl = ttl.min(record.ttl);
        let host = srv.target.to_ascii();
        let host = host.strip_suffix('.').unwrap_or(&host);
        if host.is_empty() {
            // RFC 2782: a target of "." means the service is decidedly not available here.
            continue;
        }
        targets.push(SrvTarget {
            priority: srv.priority,
            weight: srv.weight,
            port: srv.port,
            host: host.to_owned(),
        });
    }
    if targets.is_empty() {
        return Err(format!("{name}: no SRV record names a domain controller"));
    }
    Ok(Found {
        targets: rfc2782_order(targets, |total| rand::random_range(0..=total)),
        ttl: Duration::from_secs(u64::from(ttl)),
    })
}

/// `targets` in the order to try them (RFC 2782, "Usage rules"): by priority, lowest first;
/// within one priority, repeatedly the target whose running sum of weights is the first to
/// reach a number `pick(total)` chose uniformly from 0 to the total weight of those left, with
/// the weight-0 targets placed first so that they are chosen only when the number is 0.
/// `pick(total)` must return a number in `0..=total`.
pub(crate) fn rfc2782_order(
    mut targets: Vec<SrvTarget>,
    mut pick: impl FnMut(u32) -> u32,
) -> Vec<SrvTarget> {
    targets.sort_by_key(|target| (target.priority, target.weight != 0));
    let mut ordered = Vec::with_capacity(targets.len());
    while let Some(first) = targets.first() {
        let priority = first.priority;
        let mut group: Vec<SrvTarget> = Vec::new();
        while targets.first().is_some_and(|t| t.priority == priority) {
            group.push(targets.remove(0));
        }
        while !group.is_empty() {
            let total: u32 = group.iter().map(|t| u32::from(t.weight)).sum();
            let chosen = pick(total).min(total);
            let mut running = 0;
            let index = group
                .iter()
                .position(|t| {
                    running += u32::from(t.weight);
                    running >= chosen
                })
                .unwrap_or(0);
            ordered.push(group.remove(index));
        }
    }
    ordered
}

#[cfg(test)]
mod tests {
    use super::*;

    fn target(host: &str, priority: u16, weight: u16) -> SrvTarget {
        SrvTarget {
            priority,
            weight,
            port: 389,
            host: host.into(),
        }
    }

    fn hosts(targets: &[SrvTarget]) -> Vec<&str> {
        targets.iter().map(|t| t.host.as_str()).collect()
    }

    #[test]
    fn lower_priority_comes_first_whatever_the_weights() {
        let targets = vec![
            target("backup", 10, 100),
            target("main", 0, 1),
            target("spare", 20, 0),
            target("second", 5, 50),
        ];
        for pick in [|_| 0, |total| total] {
            let ordered = rfc2782_order(targets.clone(), pick);
            assert_eq!(hosts(&ordered), ["main", "second", "backup", "spare"]);
        }
    }

    #[test]
    fn the_pick_selects_by_running_sum_of_weights() {
        // Weights 10, 30, 60 in one priority: running sums 10, 40, 100.
        let targets = vec![target("a", 0, 10), target("b", 0, 30), target("c", 0, 60)];
        let first = |number: u32| {
            let mut picks = vec![number];
            let ordered = rfc2782_order(targets.clone(), move |_| picks.pop().unwrap_or(0));
            ordered[0].host.clone()
        };
        assert_eq!(first(1), "a");
        assert_eq!(first(10), "a");
        assert_eq!(first(11), "b");
        assert_eq!(first(40), "b");
        assert_eq!(first(41), "c");
        assert_eq!(first(100), "c");
    }

    #[test]
    fn weight_zero_is_chosen_only_when_the_number_is_zero() {
        let targets = vec![target("heavy", 0, 100), target("zero", 0, 0)];
        assert_eq!(
            hosts(&rfc2782_order(targets.clone(), |_| 0)),
            ["zero", "heavy"]
        );
        assert_eq!(
            hosts(&rfc2782_order(targets.clone(), |total| total)),
            ["heavy", "zero"]
        );
        // All weights zero: every order is as good; each target is used once.
        let zeros = vec![target("x", 0, 0), target("y", 0, 0)];
        let mut ordered = hosts(&rfc2782_order(zeros, |_| 0))
            .into_iter()
            .map(str::to_owned)
            .collect::<Vec<_>>();
        ordered.sort();
        assert_eq!(ordered, ["x", "y"]);
    }

    #[test]
    fn every_target_appears_once_and_the_total_shrinks_as_targets_are_taken() {
        let targets = vec![
            target("a", 0, 10),
            target("b", 0, 30),
            target("c", 0, 60),
            target("d", 1, 5),
        ];
        let mut totals = Vec::new();
        let ordered = rfc2782_order(targets, |total| {
            totals.push(total);
            total
        });
        // Always the last by running sum: c (60), then b, then a; d alone in priority 1.
        assert_eq!(hosts(&ordered), ["c", "b", "a", "d"]);
        assert_eq!(totals, [100, 40, 10, 5]);
    }

    #[test]
    fn weights_share_first_place_in_proportion() {
        let targets = vec![target("light", 0, 1), target("heavy", 0, 3)];
        let mut heavy_first = 0;
        for _ in 0..4000 {
            let ordered = rfc2782_order(targets.clone(), |total| rand::random_range(0..=total));
            if ordered[0].host == "heavy" {
                heavy_first += 1;
            }
        }
        // The number is drawn from 0..=4 and light's running sum is 1: heavy is first for 2, 3
        // and 4, 3 times in 5 (RFC 2782's inclusive 0 gives the first in line one extra chance).
        assert!((2250..=2550).contains(&heavy_first), "{heavy_first}");
    }

    #[test]
    fn domain_names_are_checked() {
        assert_eq!(
            domain_name("Corp.Example.TEST.").unwrap(),
            "corp.example.test"
        );
        assert_eq!(domain_name("corp").unwrap(), "corp");
        assert_eq!(domain_name("a-1.example").unwrap(), "a-1.example");
        let long_label = "a".repeat(64);
        let too_long = vec!["abcdefgh"; 29].join(".");
        for bad in [
            "",
            ".",
            "corp..example",
            ".corp",
            "-corp.example",
            "corp-.example",
            "corp_1.example",
            "ldaps://dc1.corp.example",
            "dc1.corp.example:636",
            "corp example",
            "CORP\\",
            long_label.as_str(),
            too_long.as_str(),
        ] {
            assert!(domain_name(bad).is_err(), "{bad:?}");
        }
    }

    #[tokio::test]
    async fn a_lookup_orders_the_targets_and_keeps_the_smallest_ttl() {
        let dns = crate::test_support::FakeDns::start(vec![
            (5, 0, 389, "dc2.corp.example.test", 900),
            (1, 0, 389, "dc1.corp.example.test", 300),
        ])
        .await;
        let found = lookup(
            "corp.example.test",
            Resolvers::At(dns.address),
            Duration::from_secs(2),
        )
        .await
        .unwrap();
        assert_eq!(found.ttl, Duration::from_secs(300));
        assert_eq!(
            found.targets,
            [
                SrvTarget {
                    priority: 1,
                    weight: 0,
                    port: 389,
                    host: "dc1.corp.example.test".into()
                },
                SrvTarget {
                    priority: 5,
                    weight: 0,
                    port: 389,
                    host: "dc2.corp.example.test".into()
                },
            ]
        );
    }

    #[test]
    fn the_srv_name_is_the_dc_locators() {
        assert_eq!(
            srv_name("corp.example.test"),
            "_ldap._tcp.dc._msdcs.corp.example.test."
        );
    }
}
