//! `[directory]`: the domain controllers, how adgate connects and binds to them, and where in
//! AD it looks for accounts.

use std::time::Duration;

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
        section: DirectorySection,
    ) -> Result<adgate_authz::DirectoryConfig, ConfigError> {
        let urls = section.urls;
        if urls.get_ref().is_empty() {
            return Err(self.invalid(
                urls.span(),
                "directory.urls",
                "must list at least one ldaps:// or ldap:// URL",
            ));
        }
        for url in urls.get_ref() {
            let plain = url.starts_with("ldap://");
            if !plain && !url.starts_with("ldaps://") {
                return Err(self.invalid(
                    urls.span(),
                    "directory.urls",
                    format!("has `{url}`, which is neither ldaps:// nor ldap://"),
                ));
            }
            if plain && !section.starttls && !section.allow_plain_ldap {
                return Err(self.invalid(
                    urls.span(),
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
            urls: urls.into_inner(),
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
