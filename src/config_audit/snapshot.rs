//! What a configuration is, as far as an auditor is concerned: the SHA-256 of the file and of
//! every file it names (any key ending in `_file`, or `_files` for lists: CAs, certificates,
//! keys, secret files, CRLs), and a digest of each key's value, so that two snapshots say which
//! keys changed without either keeping a value. The digests stay in memory; records carry only
//! key names and file hashes, never a value, so a secret written inline (`secret = "..."`)
//! never reaches the trail.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

/// The SHA-256 of a file, or why it could not be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileHash {
    pub path: PathBuf,
    pub sha256: Result<String, String>,
}

impl FileHash {
    pub fn of(path: &Path) -> FileHash {
        FileHash {
            path: path.to_owned(),
            sha256: std::fs::read(path)
                .map(|bytes| hex::encode(Sha256::digest(&bytes)))
                .map_err(|error| error.to_string()),
        }
    }
}

/// A file the configuration names, under the key that names it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NamedFile {
    /// `directory.bind_password_file`, `clients[0].secret_file`, `eap_tls.crl_files[1]`.
    pub key: String,
    pub hash: FileHash,
}

impl NamedFile {
    /// CRLs are re-read by the running server when they change (docs/eap-tls.md), so a new
    /// CRL on disk is applied, not drift.
    pub fn followed_while_running(&self) -> bool {
        self.key.contains("crl_files[")
    }
}

/// The configuration file and the files it names, as they are now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Snapshot {
    pub config: FileHash,
    pub files: Vec<NamedFile>,
    /// Key path → SHA-256 of its value's TOML text; `None` when the file is not TOML.
    values: Option<BTreeMap<String, [u8; 32]>>,
}

impl Snapshot {
    /// Reads `path` and the files it names. Never fails: what cannot be read is said so in
    /// the snapshot (an unreadable or broken file is what a refused reload records).
    pub fn read(path: &Path) -> Snapshot {
        // Read once: the hash and the keys describe the same bytes.
        let bytes = std::fs::read(path);
        let config = FileHash {
            path: path.to_owned(),
            sha256: bytes
                .as_ref()
                .map(|bytes| hex::encode(Sha256::digest(bytes)))
                .map_err(ToString::to_string),
        };
        let mut files = Vec::new();
        let values = bytes
            .ok()
            .and_then(|bytes| String::from_utf8(bytes).ok())
            .and_then(|text| text.parse::<toml::Table>().ok())
            .map(|table| {
                let mut values = BTreeMap::new();
                for (key, value) in &table {
                    flatten(key.clone(), value, &mut values, &mut files);
                }
                values
            });
        let files = files
            .into_iter()
            .map(|(key, file)| NamedFile {
                key,
                hash: FileHash::of(&file),
            })
            .collect();
        Snapshot {
            config,
            files,
            values,
        }
    }

    /// The keys whose values differ from `before` (added, removed or changed), in key order;
    /// `None` when either file is not TOML (there are no keys to compare).
    pub fn changed_keys(&self, before: &Snapshot) -> Option<Vec<String>> {
        let (now, before) = (self.values.as_ref()?, before.values.as_ref()?);
        let mut keys: Vec<String> = now
            .iter()
            .filter(|(key, digest)| before.get(*key) != Some(digest))
            .map(|(key, _)| key.clone())
            .chain(before.keys().filter(|key| !now.contains_key(*key)).cloned())
            .collect();
        keys.sort();
        Some(keys)
    }

    /// The keys naming the same file as in `before` whose contents differ.
    pub fn changed_files(&self, before: &Snapshot) -> Vec<String> {
        self.files
            .iter()
            .filter(|file| {
                before.files.iter().any(|old| {
                    old.key == file.key
                        && old.hash.path == file.hash.path
                        && old.hash.sha256 != file.hash.sha256
                })
            })
            .map(|file| file.key.clone())
            .collect()
    }

    /// Whether this (on disk) differs from `loaded` (running) in anything a reload would
    /// apply: the configuration file, or a file it names other than a CRL.
    pub fn drifted_from(&self, loaded: &Snapshot) -> bool {
        let relevant = |snapshot: &Snapshot| -> Vec<(String, FileHash)> {
            snapshot
                .files
                .iter()
                .filter(|file| !file.followed_while_running())
                .map(|file| (file.key.clone(), file.hash.clone()))
                .collect()
        };
        self.config.sha256 != loaded.config.sha256 || relevant(self) != relevant(loaded)
    }
}

/// Walks `value` at `key`: a digest for every leaf (arrays of scalars are one leaf), and the
/// files `*_file` / `*_files` keys name.
fn flatten(
    key: String,
    value: &toml::Value,
    values: &mut BTreeMap<String, [u8; 32]>,
    files: &mut Vec<(String, PathBuf)>,
) {
    match value {
        toml::Value::Table(table) => {
            for (name, inner) in table {
                flatten(format!("{key}.{name}"), inner, values, files);
            }
        }
        toml::Value::Array(items)
            if items.iter().all(toml::Value::is_table) && !items.is_empty() =>
        {
            for (index, item) in items.iter().enumerate() {
                flatten(format!("{key}[{index}]"), item, values, files);
            }
        }
        leaf => {
            if key.ends_with("_file") {
                if let Some(path) = leaf.as_str() {
                    files.push((key.clone(), PathBuf::from(path)));
                }
            }
            if key.ends_with("_files") {
                for (index, path) in leaf.as_array().into_iter().flatten().enumerate() {
                    if let Some(path) = path.as_str() {
                        files.push((format!("{key}[{index}]"), PathBuf::from(path)));
                    }
                }
            }
            values.insert(key, Sha256::digest(leaf.to_string().as_bytes()).into());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sha256(bytes: &[u8]) -> String {
        hex::encode(Sha256::digest(bytes))
    }

    struct Files {
        dir: tempfile::TempDir,
    }

    impl Files {
        fn new() -> Files {
            Files {
                dir: tempfile::tempdir().unwrap(),
            }
        }

        fn write(&self, name: &str, text: &str) -> PathBuf {
            let path = self.dir.path().join(name);
            std::fs::write(&path, text).unwrap();
            path
        }

        fn config(&self, text: &str) -> PathBuf {
            let secret = self.dir.path().join("vpn1.secret");
            let crl = self.dir.path().join("user.crl");
            self.write(
                "adgate.toml",
                &text
                    .replace("SECRET", &secret.display().to_string())
                    .replace("CRL", &crl.display().to_string()),
            )
        }
    }

    const CONFIG: &str = r#"
[server]
auth_listen = ["127.0.0.1:1812"]

[[clients]]
name = "vpn1"
secret_file = "SECRET"

[[clients]]
name = "vpn2"
secret = "an-inline-secret-value"

[eap_tls]
crl_files = ["CRL"]
"#;

    #[test]
    fn hashes_the_file_and_every_file_it_names() {
        let files = Files::new();
        files.write("vpn1.secret", "s3cret-s3cret-s3cret");
        let path = files.config(CONFIG);
        let snapshot = Snapshot::read(&path);
        assert_eq!(
            snapshot.config.sha256,
            Ok(sha256(&std::fs::read(&path).unwrap()))
        );
        let keys: Vec<&str> = snapshot.files.iter().map(|f| f.key.as_str()).collect();
        assert_eq!(keys, ["clients[0].secret_file", "eap_tls.crl_files[0]"]);
        assert_eq!(
            snapshot.files[0].hash.sha256,
            Ok(sha256(b"s3cret-s3cret-s3cret"))
        );
        assert!(snapshot.files[1].hash.sha256.is_err(), "no CRL written");
        assert!(snapshot.files[1].followed_while_running());
        // Nothing of a value is kept: only digests under key names.
        let debug = format!("{snapshot:?}");
        assert!(!debug.contains("an-inline-secret-value"), "{debug}");
    }

    #[test]
    fn names_the_keys_and_files_that_changed() {
        let files = Files::new();
        files.write("vpn1.secret", "first-secret-value");
        let path = files.config(CONFIG);
        let before = Snapshot::read(&path);
        files.write("vpn1.secret", "second-secret-value");
        files.config(
            &(CONFIG
                .replace("an-inline-secret-value", "another-inline-secret")
                .replace("name = \"vpn1\"", "name = \"vpn1\"\nmax_in_flight = 8")
                + "\n[throttle]\nmax_failures = 3\n"),
        );
        let after = Snapshot::read(&path);
        assert_eq!(
            after.changed_keys(&before).unwrap(),
            [
                "clients[0].max_in_flight",
                "clients[1].secret",
                "throttle.max_failures"
            ]
        );
        assert_eq!(after.changed_files(&before), ["clients[0].secret_file"]);
        assert!(after.drifted_from(&before));
        assert_eq!(before.changed_keys(&before), Some(vec![]));
        assert!(!before.drifted_from(&before));
    }

    #[test]
    fn a_new_crl_is_not_drift_but_a_new_secret_is() {
        let files = Files::new();
        files.write("vpn1.secret", "first-secret-value");
        let path = files.config(CONFIG);
        let loaded = Snapshot::read(&path);
        files.write("user.crl", "a new CRL");
        let crl_changed = Snapshot::read(&path);
        assert!(!crl_changed.drifted_from(&loaded));
        files.write("vpn1.secret", "second-secret-value");
        assert!(Snapshot::read(&path).drifted_from(&loaded));
    }

    #[test]
    fn a_broken_file_is_hashed_but_names_nothing() {
        let files = Files::new();
        let path = files.write("adgate.toml", "[server\nauth_listen = ");
        let snapshot = Snapshot::read(&path);
        assert_eq!(
            snapshot.config.sha256,
            Ok(sha256(b"[server\nauth_listen = "))
        );
        assert!(snapshot.files.is_empty());
        assert_eq!(snapshot.changed_keys(&snapshot), None);
        let missing = Snapshot::read(&files.dir.path().join("nowhere.toml"));
        assert!(missing.config.sha256.is_err());
    }
}
