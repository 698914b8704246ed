//! Reading a secret (RADIUS shared secret, LDAP service password) from its own file, so secrets
//! stay out of the main config, out of `ps` and out of logs. One trailing newline is forgiven
//! because editors add it; anything else in the file is the secret.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use zeroize::Zeroizing;

/// Reads the secret in `path`. Returns a message fit to follow the config key's name.
pub fn read(path: &Path) -> Result<Zeroizing<Vec<u8>>, String> {
    let mut bytes = Zeroizing::new(
        std::fs::read(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?,
    );
    if bytes.ends_with(b"\n") {
        bytes.pop();
        if bytes.ends_with(b"\r") {
            bytes.pop();
        }
    }
    if bytes.is_empty() {
        return Err(format!("{} is empty", path.display()));
    }
    if let Ok(metadata) = std::fs::metadata(path) {
        if metadata.permissions().mode() & 0o004 != 0 {
            tracing::warn!(
                file = %path.display(),
                "secret file is readable by every user on this machine; chmod o-r it"
            );
        }
    }
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_trailing_newline_is_not_part_of_the_secret() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s");
        std::fs::write(&path, "secret\r\n").unwrap();
        assert_eq!(read(&path).unwrap().as_slice(), b"secret");
        std::fs::write(&path, "secret \n\n").unwrap();
        assert_eq!(read(&path).unwrap().as_slice(), b"secret \n");
    }

    #[test]
    fn an_empty_or_missing_file_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s");
        assert!(read(&path).unwrap_err().contains("cannot read"));
        std::fs::write(&path, "\n").unwrap();
        assert!(read(&path).unwrap_err().contains("is empty"));
    }
}
