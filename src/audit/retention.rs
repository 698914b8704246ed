//! Retention: the telework policy keeps VPN logs at least a year. Closed segments younger than
//! `retention_days` are never deleted; older ones only when `delete_expired_segments` is set,
//! oldest first, and only after a `retention` record saying which segments went and where the
//! kept chain begins is durable — so `verify` can tell a retention deletion from a removed
//! segment.

use std::path::Path;
use std::time::{Duration, SystemTime};

use serde::{Deserialize, Serialize};

use super::chain::ChainFields;
use super::segment::{self, Segment};

/// How long segments are kept and whether expired ones are deleted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Retention {
    pub days: u32,
    pub delete_expired: bool,
}

/// A `retention` record's body.
#[derive(Debug, Serialize, Deserialize)]
pub struct RetentionRecord {
    pub schema: u32,
    #[serde(rename = "type")]
    pub kind: String,
    pub time: String,
    /// File names of the deleted segments.
    pub deleted: Vec<String>,
    /// Sequence number of the first record kept.
    pub first_kept_seq: u64,
    /// `prev` of that record: the hash of the last deleted one.
    pub first_kept_prev: String,
}

/// Closed segments that retention may delete now, and the record announcing it; `None` if
/// nothing has expired or deletion is not configured.
pub fn plan(
    dir: &Path,
    retention: Retention,
    schema: u32,
) -> std::io::Result<Option<(RetentionRecord, Vec<Segment>)>> {
    if !retention.delete_expired {
        return Ok(None);
    }
    let cutoff = SystemTime::now()
        .checked_sub(Duration::from_secs(u64::from(retention.days) * 86_400))
        .unwrap_or(SystemTime::UNIX_EPOCH);
    let segments = segment::list(dir)?;
    let mut expired = Vec::new();
    let mut first_kept = None;
    for segment in segments {
        let closed_before_cutoff =
            segment.first_seq.is_some() && std::fs::metadata(&segment.path)?.modified()? < cutoff;
        if !closed_before_cutoff {
            first_kept = Some(segment);
            break;
        }
        expired.push(segment);
    }
    let Some(first_kept) = first_kept else {
        return Ok(None);
    };
    if expired.is_empty() {
        return Ok(None);
    }
    let Some(first_fields) = first_kept
        .lines()?
        .next()
        .transpose()?
        .and_then(|line| ChainFields::parse(&line.bytes))
    else {
        return Ok(None);
    };
    let record = RetentionRecord {
        schema,
        kind: "retention".into(),
        time: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        deleted: expired.iter().map(Segment::name).collect(),
        first_kept_seq: first_fields.seq,
        first_kept_prev: first_fields.prev,
    };
    Ok(Some((record, expired)))
}

/// Deletes the segments of a plan whose record is durable.
pub fn delete(segments: &[Segment]) -> std::io::Result<()> {
    for segment in segments {
        std::fs::remove_file(&segment.path)?;
        tracing::info!(segment = %segment.name(), "deleted by retention");
    }
    if let Some(first) = segments.first() {
        segment::sync_dir(&first.path)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::audit::test_trail::{record, write};
    use crate::audit::verify::verify;
    use crate::audit::{TrailSettings, Verdict};

    async fn write_records(settings: TrailSettings, count: u8) {
        write(
            settings,
            (0..count).map(|n| record(Verdict::Accept, n)).collect(),
        )
        .await;
    }

    fn settings(dir: &Path, delete_expired: bool) -> TrailSettings {
        let mut settings = TrailSettings::new(dir.to_owned());
        settings.segment_max_bytes = 1024;
        settings.retention = Retention {
            days: 400,
            delete_expired,
        };
        settings
    }

    /// Backdates the two oldest closed segments by 500 days; returns their names.
    fn age_two_oldest(dir: &Path) -> Vec<String> {
        let old = SystemTime::now() - Duration::from_secs(500 * 86_400);
        segment::list(dir).unwrap()[..2]
            .iter()
            .map(|segment| {
                let file = std::fs::File::open(&segment.path).unwrap();
                file.set_modified(old).unwrap();
                segment.name()
            })
            .collect()
    }

    #[tokio::test]
    async fn expired_segments_go_only_when_configured_and_the_trail_still_verifies() {
        let dir = tempfile::tempdir().unwrap();
        write_records(settings(dir.path(), false), 12).await;
        let aged = age_two_oldest(dir.path());
        write_records(settings(dir.path(), false), 1).await;
        assert!(aged.iter().all(|name| dir.path().join(name).exists()));

        write_records(settings(dir.path(), true), 1).await;
        assert!(aged.iter().all(|name| !dir.path().join(name).exists()));
        let verification = verify(dir.path(), None, None).unwrap().unwrap();
        assert!(verification.first_seq > 1);
        assert_eq!(
            verification.last_seq, 15,
            "12 + 1 + the retention record + 1"
        );
    }
}
