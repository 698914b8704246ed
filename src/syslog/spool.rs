//! The forwarder's position, kept in `spool_dir`: the sequence number up to which the collector
//! has acknowledged records. The records themselves wait in the trail (already durable), so the
//! position is all that must survive a restart. It is replaced atomically (write, sync, rename);
//! losing it would only cause records to be sent again, never lost.

use std::io::Write;
use std::os::unix::fs::DirBuilderExt;
use std::path::{Path, PathBuf};

const POSITION_FILE: &str = "forwarded-seq";

pub struct Spool {
    path: PathBuf,
    /// Last sequence number the collector acknowledged (0: none yet).
    pub acknowledged: u64,
}

impl Spool {
    pub fn open(dir: &Path) -> std::io::Result<Spool> {
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)?;
        let path = dir.join(POSITION_FILE);
        let acknowledged = match std::fs::read_to_string(&path) {
            Ok(text) => text.trim().parse().unwrap_or_else(|_| {
                tracing::warn!(path = %path.display(), "unreadable syslog position; sending the whole trail again");
                0
            }),
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => 0,
            Err(error) => return Err(error),
        };
        Ok(Spool { path, acknowledged })
    }

    pub fn acknowledge(&mut self, seq: u64) -> std::io::Result<()> {
        let temporary = self.path.with_extension("tmp");
        let mut file = std::fs::File::create(&temporary)?;
        writeln!(file, "{seq}")?;
        file.sync_data()?;
        std::fs::rename(&temporary, &self.path)?;
        self.acknowledged = seq;
        Ok(())
    }
}
