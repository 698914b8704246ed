//! CRL files as a TLS server uses them: read (PEM, or one CRL in DER as CAs publish them), and
//! watched, so that whatever was built from them (a `ServerConfig`) is rebuilt when one of them
//! changes on disk — a CRL a CA publishes applies to the next handshake without a restart.
//!
//! The request path never touches the files: [`CrlWatch::current`] hands out the value last
//! built (an `Arc` clone under a lock held for no longer than that). [`CrlWatch::refresh`]
//! stats the files and rebuilds when one changed; it does file I/O and parsing, so its caller
//! runs it off the async workers (the binary's watcher task, every few seconds, in
//! `spawn_blocking`).

use std::fmt::Display;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError, RwLock};
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

/// Modification time and size of a file (None when unreadable).
type Stamp = Option<(SystemTime, u64)>;

/// A value built from CRL files, rebuilt by [`CrlWatch::refresh`] when one of them changed.
/// While a rebuild fails there is no value: a revocation must never be skipped for a broken
/// file.
#[derive(Debug)]
pub(crate) struct CrlWatch<T> {
    crl_files: Vec<PathBuf>,
    /// What the CRLs apply to, and what is refused while they cannot be loaded, for the log
    /// ("certificate logins", "RadSec connections").
    serves: &'static str,
    /// The stamps of the files the current value was built from. Only `refresh` takes this
    /// lock, so two refreshes never rebuild at once; the request path never waits for it.
    stamps: Mutex<Vec<Stamp>>,
    /// The value the request path gets.
    current: RwLock<Option<Arc<T>>>,
}

impl<T> CrlWatch<T> {
    /// Builds the first value; its error is the caller's (a startup or reload error).
    pub(crate) fn new<E>(
        crl_files: Vec<PathBuf>,
        serves: &'static str,
        build: impl FnOnce() -> Result<Arc<T>, E>,
    ) -> Result<CrlWatch<T>, E> {
        // Stamped before building: a file replaced meanwhile is read again by the next refresh.
        let stamps = stamps(&crl_files);
        let value = build()?;
        Ok(CrlWatch {
            crl_files,
            serves,
            stamps: Mutex::new(stamps),
            current: RwLock::new(Some(value)),
        })
    }

    /// The value last built; `None` while the files cannot be loaded. No file is touched.
    pub(crate) fn current(&self) -> Option<Arc<T>> {
        self.current
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Stats the CRL files and, when one changed since the last build, rebuilds with `build`
    /// and publishes the result (or nothing, when the rebuild fails). Blocking: file I/O and
    /// parsing.
    pub(crate) fn refresh<E: Display>(&self, build: impl FnOnce() -> Result<Arc<T>, E>) {
        let mut stamps_built = self.stamps.lock().unwrap_or_else(PoisonError::into_inner);
        let now = stamps(&self.crl_files);
        if now == *stamps_built {
            return;
        }
        *stamps_built = now;
        let value = match build() {
            Ok(value) => {
                info!("CRL files changed: reloaded for {}", self.serves);
                Some(value)
            }
            Err(problem) => {
                error!(
                    %problem,
                    "CRL files changed but cannot be loaded: refusing {}", self.serves
                );
                None
            }
        };
        *self.current.write().unwrap_or_else(PoisonError::into_inner) = value;
    }
}

/// The stamp of each CRL file.
fn stamps(files: &[PathBuf]) -> Vec<Stamp> {
    files
        .iter()
        .map(|file| {
            std::fs::metadata(file)
                .and_then(|meta| Ok((meta.modified()?, meta.len())))
                .ok()
        })
        .collect()
}
