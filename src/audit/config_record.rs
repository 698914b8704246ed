//! `type: "config"` (docs/audit-schema.md): the gateway's own configuration, audited. One
//! record at start, one at every reload (applied or refused) and one for each change on disk
//! nobody applied (drift): the SHA-256 of the configuration file and of every file it names,
//! the keys whose values changed (names only, never values: a secret never reaches the trail),
//! and what set it off.

use serde::Serialize;

use super::record::{timestamp, SCHEMA_VERSION};

/// What set a config record off.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Trigger {
    /// `start`, `sighup` or `config_check` (the periodic comparison with the files on disk).
    pub source: &'static str,
    /// `sighup`: the sending process and its user, from the signal's siginfo (`si_pid`,
    /// `si_uid`); absent when the kernel did not say (then `sender` is `unknown`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sender_pid: Option<i32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sender_uid: Option<u32>,
    /// The login name of `sender_uid`, when the system knows it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sender_user: Option<String>,
    /// `unknown` for a SIGHUP whose sender the kernel did not give.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sender: Option<&'static str>,
}

impl Trigger {
    pub fn named(source: &'static str) -> Trigger {
        Trigger {
            source,
            sender_pid: None,
            sender_uid: None,
            sender_user: None,
            sender: None,
        }
    }
}

/// One file and its SHA-256, or why it could not be read.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FileRecord {
    /// The key naming the file (absent for the configuration file itself).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
    pub path: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sha256: Option<String>,
    /// Why it could not be read (e.g. "No such file or directory").
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// `type: "config"`.
#[derive(Debug, Clone, Serialize)]
pub struct ConfigRecord {
    pub schema: u32,
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub time: String,
    /// `start`, `reload` or `drift`.
    pub event: &'static str,
    /// `applied`, `refused` (a reload that kept the running configuration) or `not_applied`
    /// (drift: the files on disk differ from what runs).
    pub result: &'static str,
    /// Why a reload was refused: the key and line, never a value.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    pub trigger: Trigger,
    pub config_file: FileRecord,
    /// Every file the configuration names (keys ending in `_file` or `_files`).
    pub files: Vec<FileRecord>,
    /// Keys whose values differ from the configuration that was running (added, removed or
    /// changed); absent at start, and when the file is not TOML.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub changed_keys: Option<Vec<String>>,
    /// Keys naming the same file as the running configuration (at start: as the previous
    /// run's last config record), whose contents differ.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub changed_files: Option<Vec<String>>,
    /// At start: the configuration file's hash in the previous run's last config record.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub previous_config_sha256: Option<String>,
}

impl ConfigRecord {
    pub fn new(
        event: &'static str,
        result: &'static str,
        trigger: Trigger,
        config_file: FileRecord,
        files: Vec<FileRecord>,
    ) -> ConfigRecord {
        ConfigRecord {
            schema: SCHEMA_VERSION,
            kind: "config",
            time: timestamp(),
            event,
            result,
            error: None,
            trigger,
            config_file,
            files,
            changed_keys: None,
            changed_files: None,
            previous_config_sha256: None,
        }
    }
}
