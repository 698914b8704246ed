//! `[throttle]`: how many bad passwords a user or station may send within a window before
//! logins are refused without asking AD, and how long a station stays familiar to a user.

use std::time::Duration;

use super::file::ThrottleSection;
use super::{ConfigError, Validator};
use crate::throttle::ThrottleSettings;

impl Validator<'_> {
    pub(super) fn throttle(
        &self,
        section: ThrottleSection,
    ) -> Result<ThrottleSettings, ConfigError> {
        let max_failures = *section.max_failures.get_ref();
        if !(1..=1000).contains(&max_failures) {
            return Err(self.invalid(
                section.max_failures.span(),
                "throttle.max_failures",
                "must be between 1 and 1000",
            ));
        }
        let window_s = *section.window_s.get_ref();
        if !(1..=86_400).contains(&window_s) {
            return Err(self.invalid(
                section.window_s.span(),
                "throttle.window_s",
                "must be between 1 and 86400 (one day)",
            ));
        }
        let familiar_days =
            self.within(&section.familiar_days, 0..=365, "throttle.familiar_days")?;
        Ok(ThrottleSettings {
            max_failures,
            window: Duration::from_secs(window_s),
            familiar_for: Duration::from_secs(u64::from(familiar_days) * 86_400),
        })
    }
}
