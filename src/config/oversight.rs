//! `[oversight]`: the AD checks `serve` runs on its own, and the watch over its configuration
//! files.

use std::time::Duration;

use super::file::OversightSection;
use super::{ConfigError, Validator};
use crate::oversight::OversightSettings;

impl Validator<'_> {
    pub(super) fn oversight(
        &self,
        section: Option<OversightSection>,
    ) -> Result<OversightSettings, ConfigError> {
        let section = section.unwrap_or_default();
        let mut settings = OversightSettings::default();
        if let Some(seconds) = &section.ad_check_interval_s {
            settings.ad_check_every = match *seconds.get_ref() {
                0 => None,
                _ => Some(Duration::from_secs(self.within(
                    seconds,
                    60..=7 * 86_400,
                    "oversight.ad_check_interval_s (0 = never)",
                )?)),
            };
        }
        if let Some(days) = &section.inactive_days {
            settings.inactive_after_days =
                self.within(days, 1..=3650, "oversight.inactive_days")?;
        }
        if let Some(seconds) = &section.config_check_interval_s {
            settings.config_check_every = Duration::from_secs(self.within(
                seconds,
                5..=3600,
                "oversight.config_check_interval_s",
            )?);
        }
        Ok(settings)
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_config::{load_error, write_config};
    use super::*;
    use crate::config::Config;

    #[test]
    fn oversight_defaults_and_limits() {
        let dir = tempfile::tempdir().unwrap();
        let defaults = Config::load(&write_config(dir.path(), |t| t)).unwrap();
        assert_eq!(defaults.oversight, OversightSettings::default());
        assert_eq!(
            defaults.oversight.ad_check_every,
            Some(Duration::from_secs(3600))
        );
        let set = Config::load(&write_config(dir.path(), |t| {
            t + "\n[oversight]\nad_check_interval_s = 0\ninactive_days = 30\n\
                 config_check_interval_s = 10\n"
        }))
        .unwrap();
        assert_eq!(
            set.oversight,
            OversightSettings {
                ad_check_every: None,
                inactive_after_days: 30,
                config_check_every: Duration::from_secs(10),
            }
        );
        let error = load_error(|t| t + "\n[oversight]\nad_check_interval_s = 5\n");
        assert!(
            error.contains("oversight.ad_check_interval_s (0 = never)` must be between 60"),
            "{error}"
        );
        let error = load_error(|t| t + "\n[oversight]\ninactive_days = 0\n");
        assert!(error.contains("oversight.inactive_days"), "{error}");
    }
}
