//! `[eap_tls]`: certificate logins — the TLS server's files, fragment size, identity rules and
//! the bounds of the conversation table.

use std::time::Duration;

use super::file::EapTlsSection;
use super::{ConfigError, Validator};
use crate::eap_tls::{AllowedMethods, EapTlsLoginSettings};

impl Validator<'_> {
    /// `[eap_tls]`, for the EAP `methods` allowed.
    pub(super) fn eap_tls(
        &self,
        section: EapTlsSection,
        methods: AllowedMethods,
    ) -> Result<EapTlsLoginSettings, ConfigError> {
        // An Access-Challenge with a whole fragment must fit 4096 octets.
        let fragment_size =
            self.within(&section.fragment_size, 64..=3000, "eap_tls.fragment_size")?;
        let max_conversations = self.within(
            &section.max_conversations,
            1..=100_000,
            "eap_tls.max_conversations",
        )?;
        let timeout_s = self.within(
            &section.conversation_timeout_s,
            1..=600,
            "eap_tls.conversation_timeout_s",
        )?;
        Ok(EapTlsLoginSettings {
            tls: Some(adgate_certs::MutualTlsSettings {
                certificate_file: section.certificate_file,
                private_key_file: section.private_key_file,
                ca_file: section.ca_file,
                crl_files: section.crl_files,
                require_extended_master_secret: section.tls12_require_extended_master_secret,
            }),
            fragment_size,
            identity_policy: adgate_certs::IdentityPolicy {
                subject_email: section.subject_email_identity,
            },
            allow_anonymous_identity: section.allow_anonymous_identity,
            max_conversations,
            conversation_timeout: Duration::from_secs(timeout_s),
            methods,
        })
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use crate::config::test_config::{load_error, write_config};
    use crate::config::Config;

    #[test]
    fn eap_tls_section_has_defaults_and_checked_ranges() {
        let dir = tempfile::tempdir().unwrap();
        let section = "\n[eap_tls]\ncertificate_file = \"/s.pem\"\nprivate_key_file = \"/s.key\"\nca_file = \"/ca.pem\"\n";
        let config = Config::load(&write_config(dir.path(), |t| t + section)).unwrap();
        let eap_tls = config.eap_tls.unwrap();
        let tls = eap_tls.tls.unwrap();
        assert_eq!(eap_tls.fragment_size, 1024);
        assert_eq!(eap_tls.max_conversations, 256);
        assert_eq!(eap_tls.conversation_timeout, Duration::from_secs(30));
        assert!(tls.crl_files.is_empty());
        assert!(!eap_tls.identity_policy.subject_email && !eap_tls.allow_anonymous_identity);
        assert!(tls.require_extended_master_secret);
        let error = load_error(|t| t + section + "fragment_size = 4000\n");
        assert!(error.contains("eap_tls.fragment_size"), "{error}");
        assert!(error.contains("between 64 and 3000"), "{error}");
        assert!(error.contains("line 27"), "{error}");
        let error = load_error(|t| t + section + "ocsp = true\n");
        assert!(error.contains("unknown field `ocsp`"), "{error}");
    }
}
