//! `[directory]`: the domain controllers (listed, or found in DNS for the domain), how adgate
//! connects and binds to them, and where in AD it looks for accounts.

use std::time::Duration;

use toml::Spanned;
use zeroize::Zeroizing;

use super::file::DirectorySection;
use super::{ConfigError, Validator};
use crate::secret_file;

/// One second: the time limit adgate asks the domain controller to search within is a whole
/// number of seconds (RFC 4511 §4.5.1.5 `timeLimit`), at least one.
const MIN_TIMEOUT_MS: u64 = 1000;
/// A minute: a DC slower than that is down for a login's purposes.
const MAX_TIMEOUT_MS: u64 = 60_000;

impl Validator<'_> {
    pub(super) fn directory(
        &self,
        section: Spanned<DirectorySection>,
    ) -> Result<adgate_authz::DirectoryConfig, ConfigError> {
        let section_span = section.span();
        let section = section.into_inner();
        let (urls, domain) = (section.urls, section.domain);
        match (&urls, &domain) {
            (Some(urls), _) if urls.get_ref().is_empty() => {
                return Err(self.invalid(
                    urls.span(),
                    "directory.urls",
                    "must list at least one ldaps:// or ldap:// URL (or leave urls out and set \
                     directory.domain to find the domain controllers in DNS)",
                ))
            }
            (None, None) => {
                return Err(self.invalid(
                    section_span.clone(),
                    "directory.urls / directory.domain",
                    "one is needed: urls lists the domain controllers' LDAP URLs; domain (the AD \
                     domain's DNS name, e.g. \"corp.example.com\") finds them in DNS",
                ))
            }
            (Some(_), Some(_)) | (Some(_), None) | (None, Some(_)) => {}
        }
        let urls_span = urls.as_ref().map_or(section_span, Spanned::span);
        let urls = urls.map(Spanned::into_inner).unwrap_or_default();
        for url in &urls {
            let plain = url.starts_with("ldap://");
            if !plain && !url.starts_with("ldaps://") {
                return Err(self.invalid(
                    urls_span.clone(),
                    "directory.urls",
                    format!("has `{url}`, which is neither ldaps:// nor ldap://"),
                ));
            }
            if plain && !section.starttls && !section.allow_plain_ldap {
                return Err(self.invalid(
                    urls_span.clone(),
                    "directory.urls",
                    format!(
                        "has `{url}`: plain LDAP sends passwords in clear; use ldaps://, set \
                         `starttls = true`, or (lab only) `allow_plain_ldap = true`"
                    ),
                ));
            }
        }
        for (value, key) in [
            (&section.bind_dn, "directory.bind_dn"),
            (&section.base_dn, "directory.base_dn"),
        ] {
            if value.get_ref().trim().is_empty() {
                return Err(self.invalid(value.span(), key, "must not be empty"));
            }
        }
        let password_span = section.bind_password_file.span();
        let bind_password = secret_file::read(section.bind_password_file.get_ref())
            .map_err(|e| self.invalid(password_span.clone(), "directory.bind_password_file", e))?;
        let bind_password = String::from_utf8(bind_password.to_vec()).map_err(|_| {
            self.invalid(
                password_span,
                "directory.bind_password_file",
                "does not hold UTF-8 text",
            )
        })?;
        let timeout_ms = *section.timeout_ms.get_ref();
        if timeout_ms < MIN_TIMEOUT_MS {
            return Err(self.invalid(
                section.timeout_ms.span(),
                "directory.timeout_ms",
                format!(
                    "must be at least {MIN_TIMEOUT_MS}: a search's time limit on the domain \
                     controller is whole seconds (RFC 4511 §4.5.1.5), so a shorter timeout \
                     gives up before AD does"
                ),
            ));
        }
        if timeout_ms > MAX_TIMEOUT_MS {
            return Err(self.invalid(
                section.timeout_ms.span(),
                "directory.timeout_ms",
                format!("must be between {MIN_TIMEOUT_MS} and {MAX_TIMEOUT_MS}"),
            ));
        }
        let user_bind_connections = *section.user_bind_connections.get_ref();
        if !(1..=64).contains(&user_bind_connections) {
            return Err(self.invalid(
                section.user_bind_connections.span(),
                "directory.user_bind_connections",
                "must be between 1 and 64",
            ));
        }
        Ok(adgate_authz::DirectoryConfig {
            urls,
            domain: domain.map(Spanned::into_inner),
            ca_file: section.ca_file,
            bind_dn: section.bind_dn.into_inner(),
            bind_password: Zeroizing::new(bind_password),
            base_dn: section.base_dn.into_inner(),
            netbios_domain: section.netbios_domain,
            timeout: Duration::from_millis(timeout_ms),
            starttls: section.starttls,
            allow_plain_ldap: section.allow_plain_ldap,
            user_bind_connections,
        })
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use crate::config::test_config::{load_error, write_config};
    use crate::config::Config;

    #[test]
    fn plain_ldap_needs_an_explicit_choice() {
        let error = load_error(|t| t.replace("ldaps://dc1.corp.example.test:636", "ldap://dc1"));
        assert!(error.contains("directory.urls"), "{error}");
        assert!(error.contains("allow_plain_ldap"), "{error}");
    }

    #[test]
    fn a_domain_without_urls_loads_and_neither_is_an_error_naming_both_keys() {
        let dir = tempfile::tempdir().unwrap();
        let domain_only = |t: String| {
            t.replace(
                "urls = [\"ldaps://dc1.corp.example.test:636\"]",
                "domain = \"corp.example.test\"",
            )
        };
        let config = Config::load(&write_config(dir.path(), domain_only)).unwrap();
        assert!(config.directory.urls.is_empty());
        assert_eq!(
            config.directory.domain.as_deref(),
            Some("corp.example.test")
        );

        let both = |t: String| {
            t.replace(
                "[directory]\n",
                "[directory]\ndomain = \"corp.example.test\"\n",
            )
        };
        let config = Config::load(&write_config(dir.path(), both)).unwrap();
        assert_eq!(config.directory.urls, ["ldaps://dc1.corp.example.test:636"]);
        assert_eq!(
            config.directory.domain.as_deref(),
            Some("corp.example.test")
        );

        let error =
            load_error(|t| t.replace("urls = [\"ldaps://dc1.corp.example.test:636\"]\n", ""));
        assert!(
            error.contains("directory.urls / directory.domain"),
            "{error}"
        );
        assert!(error.contains("finds them in DNS"), "{error}");
        assert!(error.contains("line 9"), "{error}");

        let error = load_error(|t| {
            t.replace(
                "urls = [\"ldaps://dc1.corp.example.test:636\"]",
                "urls = []",
            )
        });
        assert!(error.contains("directory.urls"), "{error}");
        assert!(error.contains("directory.domain"), "{error}");
    }

    #[test]
    fn a_sub_second_timeout_is_refused_and_whole_seconds_load() {
        let error = load_error(|t| t.replace("timeout_ms = 3000", "timeout_ms = 999"));
        assert!(error.contains("directory.timeout_ms"), "{error}");
        assert!(error.contains("at least 1000"), "{error}");
        assert!(error.contains("whole seconds"), "{error}");
        assert!(error.contains("line 15"), "{error}");
        let error = load_error(|t| t.replace("timeout_ms = 3000", "timeout_ms = 60001"));
        assert!(error.contains("between 1000 and 60000"), "{error}");
        let dir = tempfile::tempdir().unwrap();
        for ms in [1000, 1500, 60_000] {
            let path = write_config(dir.path(), |t| {
                t.replace("timeout_ms = 3000", &format!("timeout_ms = {ms}"))
            });
            let config = Config::load(&path).unwrap();
            assert_eq!(config.directory.timeout, Duration::from_millis(ms));
        }
    }
}
