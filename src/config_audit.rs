//! The gateway's own configuration, audited: a `config` record in the trail at start and at
//! every reload, applied or refused (file hashes, the keys that changed, who sent the SIGHUP),
//! and a periodic comparison of the files on disk with what runs. A difference nobody applied
//! (drift: an edit without a reload, or a file swapped behind adgate's back) is logged once as
//! a warning, recorded once per change, and shown as `adgate_config_drift` = 1 until the files
//! match what runs again (a reload applies them, or they are put back).

mod previous_run;
mod snapshot;

use std::path::PathBuf;
use std::sync::atomic::AtomicI64;

use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;

use crate::audit::{AuditError, AuditTrail, ConfigRecord, FileRecord, Trigger};
pub use previous_run::{last_recorded, RecordedFiles};
pub use snapshot::Snapshot;
use snapshot::{FileHash, NamedFile};

/// Records configuration events and watches for drift; owned by the reloader.
pub struct ConfigAudit {
    path: PathBuf,
    trail: AuditTrail,
    /// What the running configuration was loaded from.
    running: Snapshot,
    /// The state on disk last recorded (start, reload or drift): drift is recorded once per
    /// change, not at every check.
    recorded: Snapshot,
    drift: Gauge<i64, AtomicI64>,
}

impl ConfigAudit {
    /// Records the start with `loaded`, the snapshot taken when the configuration was read,
    /// and which files differ from `previous`, the previous run's last record, if any.
    pub async fn started(
        path: PathBuf,
        trail: AuditTrail,
        loaded: Snapshot,
        previous: Option<RecordedFiles>,
        registry: &mut Registry,
    ) -> Result<ConfigAudit, AuditError> {
        let drift = Gauge::default();
        registry.register(
            "config_drift",
            "1 while the configuration file, or a file it names (CRLs aside), differs on disk \
             from what the running configuration was loaded from; 0 when they match",
            drift.clone(),
        );
        let mut record = record_of(&loaded, None, "start", "applied", Trigger::named("start"));
        if let Some(previous) = previous {
            let changed = changed_since(&loaded, &previous);
            if previous.config_sha256 != loaded.config.sha256.clone().ok() || !changed.is_empty() {
                tracing::info!(
                    changed_files = %changed.join(","),
                    "the configuration changed since the previous run's last config record"
                );
            }
            record.previous_config_sha256 = previous.config_sha256;
            record.changed_files = Some(changed);
        }
        trail.append_entry(&record).await?;
        Ok(ConfigAudit {
            path,
            trail,
            running: loaded.clone(),
            recorded: loaded,
            drift,
        })
    }

    /// The file the configuration is read from.
    pub fn path(&self) -> &std::path::Path {
        &self.path
    }

    /// Records a reload of `read` (the files as the reload read them): applied, or refused
    /// with `refusal` (a message naming key and line, never a value).
    pub async fn reloaded(&mut self, read: Snapshot, refusal: Option<String>, trigger: Trigger) {
        let result = if refusal.is_some() {
            "refused"
        } else {
            "applied"
        };
        let mut record = record_of(&read, Some(&self.running), "reload", result, trigger);
        record.error = refusal;
        if result == "applied" {
            self.running = read.clone();
        }
        self.drift.set(i64::from(read.drifted_from(&self.running)));
        self.recorded = read;
        self.append(&record).await;
    }

    /// Compares the files on disk with what runs; records and logs a difference once.
    pub async fn check_drift(&mut self) {
        let path = self.path.clone();
        let Ok(on_disk) = tokio::task::spawn_blocking(move || Snapshot::read(&path)).await else {
            tracing::error!("the configuration drift check failed to run");
            return;
        };
        let drifted = on_disk.drifted_from(&self.running);
        self.drift.set(i64::from(drifted));
        if !drifted || !on_disk.drifted_from(&self.recorded) {
            return;
        }
        let record = record_of(
            &on_disk,
            Some(&self.running),
            "drift",
            "not_applied",
            Trigger::named("config_check"),
        );
        tracing::warn!(
            config = %self.path.display(),
            changed_keys = %record.changed_keys.as_deref().map_or("unknown (not TOML)".into(), |keys| keys.join(",")),
            changed_files = %record.changed_files.as_deref().unwrap_or_default().join(","),
            "configuration files differ from the running configuration and nobody applied them \
             (systemctl reload adgate applies them)"
        );
        self.recorded = on_disk;
        self.append(&record).await;
    }

    async fn append(&self, record: &ConfigRecord) {
        if let Err(error) = self.trail.append_entry(record).await {
            tracing::error!(%error, event = record.event, "the config record was not written");
        }
    }
}

/// The record of `snapshot`, with what changed since `running` when there is one.
fn record_of(
    snapshot: &Snapshot,
    running: Option<&Snapshot>,
    event: &'static str,
    result: &'static str,
    trigger: Trigger,
) -> ConfigRecord {
    let mut record = ConfigRecord::new(
        event,
        result,
        trigger,
        file_record(None, &snapshot.config),
        snapshot
            .files
            .iter()
            .map(|NamedFile { key, hash }| file_record(Some(key.clone()), hash))
            .collect(),
    );
    if let Some(running) = running {
        record.changed_keys = snapshot.changed_keys(running);
        record.changed_files = Some(snapshot.changed_files(running));
    }
    record
}

/// The keys naming the same file as in `previous` whose hash differs.
fn changed_since(snapshot: &Snapshot, previous: &RecordedFiles) -> Vec<String> {
    snapshot
        .files
        .iter()
        .filter(|file| {
            previous.files.iter().any(|(key, path, sha256)| {
                *key == file.key
                    && *path == file.hash.path.display().to_string()
                    && *sha256 != file.hash.sha256.clone().ok()
            })
        })
        .map(|file| file.key.clone())
        .collect()
}

fn file_record(key: Option<String>, hash: &FileHash) -> FileRecord {
    let (sha256, error) = match &hash.sha256 {
        Ok(sha256) => (Some(sha256.clone()), None),
        Err(error) => (None, Some(error.clone())),
    };
    FileRecord {
        key,
        path: hash.path.display().to_string(),
        sha256,
        error,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::audit::TrailSettings;

    fn records(dir: &std::path::Path) -> Vec<serde_json::Value> {
        std::fs::read_to_string(dir.join("audit.jsonl"))
            .unwrap()
            .lines()
            .map(|line| serde_json::from_str(line).unwrap())
            .filter(|record: &serde_json::Value| record["type"] == "config")
            .collect()
    }

    #[test]
    fn a_file_swapped_between_runs_is_named_at_start() {
        let dir = tempfile::tempdir().unwrap();
        let (config, secret) = (dir.path().join("adgate.toml"), dir.path().join("s"));
        std::fs::write(&secret, "swapped-while-stopped").unwrap();
        let text = format!("[[clients]]\nsecret_file = \"{}\"\n", secret.display());
        std::fs::write(&config, text).unwrap();
        let now = Snapshot::read(&config);
        let recorded = |sha256: &str, path: &str| RecordedFiles {
            config_sha256: None,
            files: vec![(
                "clients[0].secret_file".into(),
                path.into(),
                Some(sha256.into()),
            )],
        };
        let path = secret.display().to_string();
        assert_eq!(
            changed_since(&now, &recorded("0000", &path)),
            ["clients[0].secret_file"]
        );
        let same = now.files[0].hash.sha256.clone().unwrap();
        assert!(changed_since(&now, &recorded(&same, &path)).is_empty());
        // Another path under the key is a changed key, not a changed file.
        assert!(changed_since(&now, &recorded("0000", "/elsewhere")).is_empty());
    }

    #[tokio::test]
    async fn start_reloads_and_drift_are_recorded_once_each() {
        let dir = tempfile::tempdir().unwrap();
        let audit_dir = dir.path().join("audit");
        let config = dir.path().join("adgate.toml");
        let secret = dir.path().join("vpn1.secret");
        std::fs::write(&secret, "first-secret-value").unwrap();
        let text = format!(
            "[[clients]]\nname = \"vpn1\"\nsecret_file = \"{}\"\n",
            secret.display()
        );
        std::fs::write(&config, &text).unwrap();
        let (trail, writer) = AuditTrail::open(TrailSettings::new(audit_dir.clone())).unwrap();
        let mut registry = Registry::default();
        let mut audit = ConfigAudit::started(
            config.clone(),
            trail,
            Snapshot::read(&config),
            None,
            &mut registry,
        )
        .await
        .unwrap();
        audit.check_drift().await;
        assert_eq!(audit.drift.get(), 0);

        std::fs::write(&secret, "second-secret-value").unwrap();
        audit.check_drift().await;
        audit.check_drift().await;
        assert_eq!(audit.drift.get(), 1);

        audit
            .reloaded(Snapshot::read(&config), None, Trigger::named("sighup"))
            .await;
        assert_eq!(audit.drift.get(), 0);
        std::fs::write(&config, "[[clients]\n").unwrap();
        audit
            .reloaded(
                Snapshot::read(&config),
                Some("adgate.toml, line 1: TOML syntax error".into()),
                Trigger::named("sighup"),
            )
            .await;
        audit.check_drift().await;
        assert_eq!(
            audit.drift.get(),
            1,
            "the broken file still differs from what runs"
        );
        tokio::task::spawn_blocking(move || writer.finish())
            .await
            .unwrap();

        let records = records(&audit_dir);
        let events: Vec<(&str, &str)> = records
            .iter()
            .map(|r| (r["event"].as_str().unwrap(), r["result"].as_str().unwrap()))
            .collect();
        assert_eq!(
            events,
            [
                ("start", "applied"),
                ("drift", "not_applied"),
                ("reload", "applied"),
                ("reload", "refused"),
            ]
        );
        assert_eq!(
            records[1]["changed_files"],
            serde_json::json!(["clients[0].secret_file"])
        );
        assert_eq!(records[1]["changed_keys"], serde_json::json!([]));
        assert_eq!(records[1]["trigger"]["source"], "config_check");
        assert!(
            records[3]["changed_keys"].is_null(),
            "a broken file has no keys"
        );
        assert_eq!(
            records[3]["error"],
            "adgate.toml, line 1: TOML syntax error"
        );
        let whole_trail = std::fs::read_to_string(audit_dir.join("audit.jsonl")).unwrap();
        assert!(
            !whole_trail.contains("secret-value"),
            "secret contents never recorded"
        );
    }
}
