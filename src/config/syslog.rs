//! `[syslog]`: the collector records are forwarded to, and how adgate proves itself to it.

use super::file::SyslogSection;
use super::{ConfigError, Validator};
use crate::syslog::{ClientCertificate, SyslogSettings, Target};

impl Validator<'_> {
    pub(super) fn syslog(&self, section: SyslogSection) -> Result<SyslogSettings, ConfigError> {
        let span = section.url.span();
        let target = Target::parse(section.url.get_ref())
            .map_err(|problem| self.invalid(span.clone(), "syslog.url", problem))?;
        if target.tls && section.ca_file.is_none() {
            return Err(self.invalid(
                span,
                "syslog.url",
                "is tls:// but syslog.ca_file is not set (the collector's CA is pinned)",
            ));
        }
        let client_certificate = match (section.certificate_file, section.private_key_file) {
            (Some(certificate_file), Some(private_key_file)) if target.tls => {
                Some(ClientCertificate {
                    certificate_file,
                    private_key_file,
                })
            }
            (None, None) => None,
            _ => {
                return Err(self.invalid(
                    span,
                    "syslog.certificate_file",
                    "and syslog.private_key_file go together, and only with a tls:// url",
                ))
            }
        };
        Ok(SyslogSettings {
            target,
            ca_file: section.ca_file,
            client_certificate,
            spool_dir: section.spool_dir,
            hostname: section.hostname,
        })
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use crate::config::test_config::{load_error, write_config};
    use crate::config::Config;

    #[test]
    fn syslog_over_tls_needs_the_collector_ca() {
        let error = load_error(|t| {
            t + "\n[syslog]\nurl = \"tls://collector.example.test:6514\"\nspool_dir = \"/tmp/s\"\n"
        });
        assert!(error.contains("syslog.url"), "{error}");
        assert!(error.contains("ca_file"), "{error}");
    }

    #[test]
    fn a_syslog_client_certificate_needs_its_key_and_tls() {
        let dir = tempfile::tempdir().unwrap();
        let tls = "\n[syslog]\nurl = \"tls://collector.example.test:6514\"\nca_file = \"/ca.pem\"\nspool_dir = \"/tmp/s\"\n";
        let both = "certificate_file = \"/c.pem\"\nprivate_key_file = \"/c.key\"\n";
        let config = Config::load(&write_config(dir.path(), |t| t + tls + both)).unwrap();
        let client = config.syslog.unwrap().client_certificate.unwrap();
        assert_eq!(client.certificate_file, Path::new("/c.pem"));
        let error = load_error(|t| t + tls + "certificate_file = \"/c.pem\"\n");
        assert!(error.contains("syslog.certificate_file"), "{error}");
        let error = load_error(|t| t + &tls.replace("tls://", "tcp://") + both);
        assert!(error.contains("syslog.certificate_file"), "{error}");
    }
}
