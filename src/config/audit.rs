//! `[audit]`: where the trail lives, how big a segment grows, how long segments are kept and how
//! often checkpoints are signed.

use std::time::Duration;

use super::file::AuditSection;
use super::{ConfigError, Validator};
use crate::audit::{Retention, TrailSettings};

/// Smallest segment size accepted (tests use small segments to see rotation).
const MIN_SEGMENT_BYTES: u64 = 1024;
/// The telework policy keeps VPN logs at least a year.
const POLICY_RETENTION_DAYS: u32 = 365;

impl Validator<'_> {
    pub(super) fn audit(&self, section: AuditSection) -> Result<TrailSettings, ConfigError> {
        let segment_max_bytes = *section.segment_max_bytes.get_ref();
        if segment_max_bytes < MIN_SEGMENT_BYTES {
            return Err(self.invalid(
                section.segment_max_bytes.span(),
                "audit.segment_max_bytes",
                format!("must be at least {MIN_SEGMENT_BYTES} (the policy suggests 50-100 MB)"),
            ));
        }
        let retention_days = *section.retention_days.get_ref();
        if retention_days < POLICY_RETENTION_DAYS && !section.allow_short_retention {
            return Err(self.invalid(
                section.retention_days.span(),
                "audit.retention_days",
                format!(
                    "is below the policy's {POLICY_RETENTION_DAYS} days; set \
                     audit.allow_short_retention = true if that is really intended"
                ),
            ));
        }
        if retention_days == 0 {
            return Err(self.invalid(
                section.retention_days.span(),
                "audit.retention_days",
                "must be at least 1",
            ));
        }
        for (value, key) in [
            (
                &section.checkpoint_every_records,
                "audit.checkpoint_every_records",
            ),
            (&section.checkpoint_every_s, "audit.checkpoint_every_s"),
        ] {
            if *value.get_ref() == 0 {
                return Err(self.invalid(value.span(), key, "must be at least 1"));
            }
        }
        let mut settings = TrailSettings::new(section.dir);
        settings.segment_max_bytes = segment_max_bytes;
        settings.retention = Retention {
            days: retention_days,
            delete_expired: section.delete_expired_segments,
        };
        settings.signing_key_file = section.signing_key_file;
        settings.checkpoint_every_records = section.checkpoint_every_records.into_inner();
        settings.checkpoint_every = Duration::from_secs(section.checkpoint_every_s.into_inner());
        Ok(settings)
    }
}

#[cfg(test)]
mod tests {
    use crate::config::test_config::{load_error, write_config};
    use crate::config::Config;

    #[test]
    fn retention_below_a_year_needs_an_explicit_choice() {
        let short = |t: String| t.replace("dir = ", "retention_days = 30\ndir = ");
        let error = load_error(short);
        assert!(error.contains("audit.retention_days"), "{error}");
        assert!(error.contains("allow_short_retention"), "{error}");
        let dir = tempfile::tempdir().unwrap();
        let allowed =
            |t: String| short(t).replace("dir = ", "allow_short_retention = true\ndir = ");
        let config = Config::load(&write_config(dir.path(), allowed)).unwrap();
        assert_eq!(config.audit.retention.days, 30);
    }
}
