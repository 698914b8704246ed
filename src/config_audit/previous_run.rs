//! The configuration the previous run recorded last, read back from the trail at start, so that
//! the start's `config` record says which files changed while adgate was stopped (a secret or CA
//! swapped between runs is otherwise only visible to someone comparing records by hand). Only
//! hashes are compared: the previous run's values were never recorded.

use std::path::Path;

use serde_json::Value;

use crate::audit::list_segments;

/// What the last `config` record of an earlier run said about the files.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordedFiles {
    pub config_sha256: Option<String>,
    /// `(key, path, sha256)` of each named file.
    pub files: Vec<(String, String, Option<String>)>,
}

impl RecordedFiles {
    fn of(record: &Value) -> RecordedFiles {
        let text = |value: &Value, pointer: &str| {
            value
                .pointer(pointer)
                .and_then(Value::as_str)
                .map(str::to_owned)
        };
        RecordedFiles {
            config_sha256: text(record, "/config_file/sha256"),
            files: record
                .pointer("/files")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .filter_map(|file| {
                    Some((
                        text(file, "/key")?,
                        text(file, "/path")?,
                        text(file, "/sha256"),
                    ))
                })
                .collect(),
        }
    }
}

/// The last `config` record in the trail in `dir`, newest segment first (it is almost always in
/// the open one); `None` for a trail that has none.
pub fn last_recorded(dir: &Path) -> std::io::Result<Option<RecordedFiles>> {
    const MARK: &[u8] = b"\"type\":\"config\"";
    for segment in list_segments(dir)?.iter().rev() {
        let mut last = None;
        for line in segment.lines()? {
            let line = line?;
            if !line.bytes.windows(MARK.len()).any(|window| window == MARK) {
                continue;
            }
            if let Ok(record) = serde_json::from_slice::<Value>(&line.bytes) {
                if record.pointer("/type").and_then(Value::as_str) == Some("config") {
                    last = Some(RecordedFiles::of(&record));
                }
            }
        }
        if last.is_some() {
            return Ok(last);
        }
    }
    Ok(None)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_last_config_record_of_the_newest_segment_wins() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(last_recorded(dir.path()).unwrap(), None);
        let record = |sha: &str| {
            serde_json::json!({"seq": 1, "type": "config",
                "config_file": {"path": "/etc/adgate/adgate.toml", "sha256": sha},
                "files": [{"key": "directory.ca_file", "path": "/etc/adgate/ca.pem",
                           "sha256": "cafe"},
                          {"key": "clients[0].secret_file", "path": "/gone", "error": "missing"}]})
            .to_string()
        };
        let decision = r#"{"seq":2,"type":"decision","verdict":"accept"}"#;
        std::fs::write(
            dir.path().join("audit.jsonl"),
            format!("{}\n{}\n{decision}\n", record("aaaa"), record("bbbb")),
        )
        .unwrap();
        let last = last_recorded(dir.path()).unwrap().unwrap();
        assert_eq!(last.config_sha256.as_deref(), Some("bbbb"));
        assert_eq!(
            last.files,
            [
                (
                    "directory.ca_file".to_owned(),
                    "/etc/adgate/ca.pem".to_owned(),
                    Some("cafe".to_owned())
                ),
                ("clients[0].secret_file".into(), "/gone".into(), None),
            ]
        );
    }
}
