//! `[mschapv2]`: MS-CHAPv2 logins, whose NT-Responses a domain controller checks through
//! winbindd on this host (a domain member): the member's smb.conf, the ntlm_auth command, how
//! many ntlm_auth processes and how long one check may take.

use std::time::Duration;

use adgate_authz::WinbindSettings;

use super::file::MsChapV2Section;
use super::{ConfigError, Validator};

impl Validator<'_> {
    pub(super) fn mschapv2(
        &self,
        section: MsChapV2Section,
    ) -> Result<WinbindSettings, ConfigError> {
        let helpers = self.within(&section.helpers, 1..=64, "mschapv2.helpers")?;
        let timeout_ms = self.within(&section.timeout_ms, 100..=30_000, "mschapv2.timeout_ms")?;
        let ntlm_auth = section.ntlm_auth.get_ref();
        if ntlm_auth
            .first()
            .is_none_or(|program| program.trim().is_empty())
        {
            return Err(self.invalid(
                section.ntlm_auth.span(),
                "mschapv2.ntlm_auth",
                "must name the ntlm_auth program (and any arguments before adgate's)",
            ));
        }
        Ok(WinbindSettings {
            ntlm_auth: section.ntlm_auth.into_inner(),
            smb_conf: section.smb_conf,
            helpers,
            timeout: Duration::from_millis(timeout_ms),
        })
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use crate::config::test_config::{load_error, write_config};
    use crate::config::Config;

    #[test]
    fn mschapv2_section_has_defaults_and_checked_ranges() {
        let dir = tempfile::tempdir().unwrap();
        let config = Config::load(&write_config(dir.path(), |t| t + "\n[mschapv2]\n")).unwrap();
        let winbind = config.mschapv2.unwrap();
        assert_eq!(winbind.ntlm_auth, ["/usr/bin/ntlm_auth"]);
        assert_eq!(winbind.smb_conf.to_str(), Some("/etc/samba/smb.conf"));
        assert_eq!(winbind.helpers, 4);
        assert_eq!(winbind.timeout, Duration::from_secs(5));

        let without = Config::load(&write_config(dir.path(), |t| t)).unwrap();
        assert!(without.mschapv2.is_none(), "absent: MS-CHAPv2 is off");

        for (line, key) in [
            ("helpers = 0", "mschapv2.helpers"),
            ("timeout_ms = 10", "mschapv2.timeout_ms"),
            ("ntlm_auth = []", "mschapv2.ntlm_auth"),
            ("ntlm_auth = [\"\"]", "mschapv2.ntlm_auth"),
        ] {
            let error = load_error(|t| format!("{t}\n[mschapv2]\n{line}\n"));
            assert!(error.contains(key), "{line}: {error}");
        }
    }
}
