//! What `[oversight]` sets: how often `serve` holds AD against the telework policy (the checks
//! of `adgate check-ad`, see `check_ad`) and how often it compares the configuration files on
//! disk with what it loaded (see `config_audit`). Start-only, like the other background work.

use std::time::Duration;

use adgate_authz::DEFAULT_INACTIVE_AFTER_DAYS;

/// `[oversight]`, checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OversightSettings {
    /// How often `serve` runs the AD checks; `None`: never (`ad_check_interval_s = 0`).
    pub ad_check_every: Option<Duration>,
    /// A telework member without a logon for longer is reported inactive.
    pub inactive_after_days: u32,
    /// How often the configuration files on disk are compared with what was loaded.
    pub config_check_every: Duration,
}

impl Default for OversightSettings {
    fn default() -> Self {
        OversightSettings {
            ad_check_every: Some(Duration::from_secs(3600)),
            inactive_after_days: DEFAULT_INACTIVE_AFTER_DAYS,
            config_check_every: Duration::from_secs(60),
        }
    }
}
