//! One domain controller as the connector addresses it: its URL (the name it has in logs and
//! metrics), host and port, and how the connection is protected. Made from a configured URL,
//! or from a name DNS SRV discovery found.

use url::Url;

use crate::ConfigError;

/// The LDAPS port. AD's `_ldap._tcp` SRV records name the LDAP port (389); a DC with a
/// certificate serves LDAPS on 636 as well, and nothing in DNS says so.
pub(crate) const LDAPS_PORT: u16 = 636;

/// How a connection is protected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Transport {
    /// `ldaps://`: TLS from the first byte.
    Ldaps,
    /// `ldap://` upgraded with the StartTLS extended operation.
    StartTls,
    /// `ldap://` in clear text (development only).
    Plain,
}

/// One domain controller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Server {
    pub(crate) url: String,
    pub(crate) host: String,
    pub(crate) port: u16,
    pub(crate) transport: Transport,
}

impl Server {
    /// A configured URL: `ldaps://host[:port]`, or `ldap://host[:port]` with `starttls` (or,
    /// in development, `allow_plain_ldap`), and nothing else.
    pub(crate) fn parse(
        url: &str,
        starttls: bool,
        allow_plain_ldap: bool,
    ) -> Result<Server, ConfigError> {
        let bad = |problem: &str| ConfigError::BadUrl {
            url: url.to_owned(),
            problem: problem.to_owned(),
        };
        let parsed = Url::parse(url).map_err(|e| bad(&e.to_string()))?;
        let transport = match parsed.scheme() {
            "ldaps" => Transport::Ldaps,
            "ldap" if starttls => Transport::StartTls,
            "ldap" if allow_plain_ldap => Transport::Plain,
            "ldap" => {
                return Err(ConfigError::PlainLdapRefused {
                    url: url.to_owned(),
                })
            }
            _ => return Err(bad("the scheme must be ldaps:// or ldap://")),
        };
        let host = match parsed.host_str() {
            Some(host) if !host.is_empty() => host.to_owned(),
            _ => return Err(bad("no host name")),
        };
        if !matches!(parsed.path(), "" | "/")
            || parsed.query().is_some()
            || parsed.fragment().is_some()
            || !parsed.username().is_empty()
            || parsed.password().is_some()
        {
            return Err(bad(
                "only scheme, host and port are allowed (base DN and credentials are separate settings)",
            ));
        }
        let port = parsed.port().unwrap_or(match transport {
            Transport::Ldaps => LDAPS_PORT,
            Transport::StartTls | Transport::Plain => 389,
        });
        Ok(Server {
            url: url.to_owned(),
            host,
            port,
            transport,
        })
    }

    /// A DC that DNS named `host`, with its LDAP service on `ldap_port` (the SRV record's
    /// port): LDAPS to port 636, or with `starttls` LDAP to `ldap_port`, upgraded. The TLS
    /// handshake checks the certificate against `host`, the name DNS gave.
    pub(crate) fn discovered(
        host: &str,
        ldap_port: u16,
        starttls: bool,
    ) -> Result<Server, ConfigError> {
        let url = if starttls {
            format!("ldap://{host}:{ldap_port}")
        } else {
            format!("ldaps://{host}:{LDAPS_PORT}")
        };
        Server::parse(&url, starttls, false)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn url_rules() {
        let ok =
            |url: &str, starttls, plain| Server::parse(url, starttls, plain).unwrap().transport;
        assert_eq!(
            ok("ldaps://dc1.corp.example.test", false, false),
            Transport::Ldaps
        );
        assert_eq!(
            ok("ldaps://dc1.corp.example.test:3269/", false, false),
            Transport::Ldaps
        );
        assert_eq!(
            ok("ldap://dc1.corp.example.test", true, false),
            Transport::StartTls
        );
        assert_eq!(ok("ldaps://dc1", true, false), Transport::Ldaps);
        assert_eq!(ok("ldap://dc1", false, true), Transport::Plain);
        assert!(matches!(
            Server::parse("ldap://dc1", false, false),
            Err(ConfigError::PlainLdapRefused { .. })
        ));
        for bad in [
            "dc1.corp.example.test",
            "https://dc1",
            "ldapi://%2frun%2fldapi",
            "ldaps://",
            "ldaps://dc1/DC=corp,DC=example",
            "ldaps://dc1/??sub",
            "ldaps://user:pw@dc1",
        ] {
            assert!(
                matches!(
                    Server::parse(bad, true, true),
                    Err(ConfigError::BadUrl { .. })
                ),
                "{bad}"
            );
        }
    }

    #[test]
    fn a_discovered_dc_is_reached_over_ldaps_on_636_unless_starttls_is_asked_for() {
        let ldaps = Server::discovered("dc1.corp.example.test", 389, false).unwrap();
        assert_eq!(ldaps.url, "ldaps://dc1.corp.example.test:636");
        assert_eq!(ldaps.host, "dc1.corp.example.test");
        assert_eq!((ldaps.port, ldaps.transport), (636, Transport::Ldaps));
        let starttls = Server::discovered("dc1.corp.example.test", 389, true).unwrap();
        assert_eq!(starttls.url, "ldap://dc1.corp.example.test:389");
        assert_eq!(
            (starttls.port, starttls.transport),
            (389, Transport::StartTls)
        );
        // A name DNS should never give: refused like a bad URL, never connected to.
        assert!(Server::discovered("dc1/evil", 389, false).is_err());
    }
}
