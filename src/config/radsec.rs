//! `[radsec]`: the RadSec (RFC 6614) listener, its certificates and its bounds.

use std::time::Duration;

use super::file::RadsecSection;
use super::{ConfigError, Validator};
use crate::radsec::RadsecSettings;

impl Validator<'_> {
    pub(super) fn radsec(&self, section: RadsecSection) -> Result<RadsecSettings, ConfigError> {
        let max_connections = self.within(
            &section.max_connections,
            1..=10_000,
            "radsec.max_connections",
        )?;
        let idle_timeout_s = self.within(
            &section.idle_timeout_s,
            10..=86_400,
            "radsec.idle_timeout_s",
        )?;
        Ok(RadsecSettings {
            listen: section.listen,
            certificate_file: section.certificate_file,
            private_key_file: section.private_key_file,
            client_ca_file: section.client_ca_file,
            crl_files: section.crl_files,
            max_connections,
            idle_timeout: Duration::from_secs(idle_timeout_s),
        })
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use crate::config::test_config::{load_error, write_config};
    use crate::config::Config;

    #[test]
    fn radsec_section_and_certificate_names_load() {
        let dir = tempfile::tempdir().unwrap();
        let section = "\n[radsec]\nlisten = \"127.0.0.1:2083\"\ncertificate_file = \"/s.pem\"\nprivate_key_file = \"/s.key\"\nclient_ca_file = \"/ca.pem\"\n";
        let named = |t: String| {
            t.replace(
                "address = \"127.0.0.0/8\"",
                "address = \"127.0.0.0/8\"\nradsec_certificate_name = \"vpn1.corp.example.test\"",
            ) + section
        };
        let config = Config::load(&write_config(dir.path(), named)).unwrap();
        let radsec = config.radsec.unwrap();
        assert_eq!(radsec.listen, "127.0.0.1:2083".parse().unwrap());
        assert_eq!(radsec.max_connections, 64);
        assert_eq!(radsec.idle_timeout, Duration::from_secs(300));
        assert_eq!(
            config.clients[0]
                .radsec_certificate_name
                .as_ref()
                .map(AsRef::as_ref),
            Some("vpn1.corp.example.test")
        );
        let error = load_error(|t| named(t).replace("vpn1.corp.example.test", "not a name"));
        assert!(
            error.contains("clients[0].radsec_certificate_name"),
            "{error}"
        );
        let error = load_error(|t| named(t) + "idle_timeout_s = 0\n");
        assert!(error.contains("radsec.idle_timeout_s"), "{error}");
        // A wildcard is no client's name (RFC 6125 §6.4.3).
        let error = load_error(|t| named(t).replace("vpn1.corp", "*.corp"));
        assert!(
            error.contains("clients[0].radsec_certificate_name"),
            "{error}"
        );
        assert!(radsec.crl_files.is_empty());
        let with_crls = |t: String| named(t) + "crl_files = [\"/a.crl\", \"/b.crl\"]\n";
        let config = Config::load(&write_config(dir.path(), with_crls)).unwrap();
        assert_eq!(config.radsec.unwrap().crl_files.len(), 2);
    }
}
