//! CRL files as a TLS server uses them: read (PEM, or one CRL in DER as CAs publish them), and
//! watched, so that whatever was built from them (a `ServerConfig`) is rebuilt when one of them
//! changes on disk — a CRL a CA publishes applies to the next handshake without a restart. Both
//! the EAP-TLS server and the RadSec listener build their client verifiers this way.

use std::fmt::Display;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

use rustls::pki_types::CertificateRevocationListDer;
use tracing::{error, info};

use crate::tls_server::{file_error, read_pem, TlsServerError};

/// Every CRL in `files`; an unreadable or empty file is an error.
pub(crate) fn read_crl_files(
    files: &[PathBuf],
) -> Result<Vec<CertificateRevocationListDer<'static>>, TlsServerError> {
    let mut crls = Vec::new();
    for file in files {
        crls.extend(read_crls(file)?);
    }
    Ok(crls)
}

/// CRLs in PEM, or one CRL in DER.
fn read_crls(path: &Path) -> Result<Vec<CertificateRevocationListDer<'static>>, TlsServerError> {
    let bytes = std::fs::read(path).map_err(|error| file_error(path, error.to_string()))?;
    if bytes.starts_with(b"-----") {
        read_pem(path)
    } else {
        Ok(vec![CertificateRevocationListDer::from(bytes)])
    }
}

/// A value built from CRL files, rebuilt when one of them changes. While a rebuild fails there
/// is no value: a revocation must never be skipped for a broken file.
#[derive(Debug)]
pub(crate) struct CrlWatch<T> {
    crl_files: Vec<PathBuf>,
    /// What the CRLs apply to, and what is refused while they cannot be loaded, for the log
    /// ("certificate logins", "RadSec connections").
    refused: &'static str,
    current: Mutex<Current<T>>,
}

#[derive(Debug)]
struct Current<T> {
    stamps: Vec<Option<(SystemTime, u64)>>,
    value: Option<Arc<T>>,
}

impl<T> CrlWatch<T> {
    /// Builds the first value; its error is the caller's (a startup or reload error).
    pub(crate) fn new<E>(
        crl_files: Vec<PathBuf>,
        refused: &'static str,
        build: impl FnOnce() -> Result<Arc<T>, E>,
    ) -> Result<CrlWatch<T>, E> {
        // Stamped before building: a file replaced meanwhile is read again next time.
        let stamps = stamps(&crl_files);
        let value = build()?;
        Ok(CrlWatch {
            crl_files,
            refused,
            current: Mutex::new(Current {
                stamps,
                value: Some(value),
            }),
        })
    }

    /// The current value, rebuilt first with `build` when a CRL file changed since the last
    /// build; `None` while the files cannot be loaded.
    pub(crate) fn get<E: Display>(
        &self,
        build: impl FnOnce() -> Result<Arc<T>, E>,
    ) -> Option<Arc<T>> {
        let mut current = self.current.lock().ok()?;
        let now = stamps(&self.crl_files);
        if now != current.stamps {
            current.stamps = now;
            current.value = match build() {
                Ok(value) => {
                    info!("CRL files changed: reloaded for {}", self.refused);
                    Some(value)
                }
                Err(problem) => {
                    error!(
                        %problem,
                        "CRL files changed but cannot be loaded: refusing {}", self.refused
                    );
                    None
                }
            };
        }
        current.value.clone()
    }
}

/// Modification time and size of each CRL file (None when unreadable).
fn stamps(files: &[PathBuf]) -> Vec<Option<(SystemTime, u64)>> {
    files
        .iter()
        .map(|file| {
            std::fs::metadata(file)
                .and_then(|meta| Ok((meta.modified()?, meta.len())))
                .ok()
        })
        .collect()
}
