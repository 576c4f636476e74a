//! WAL checkpoints off the commit path.
//!
//! SQLite's automatic checkpoint runs inside the COMMIT that crosses the WAL
//! size threshold, so one commit in a thousand also copies pages into the
//! database file and fsyncs it: the exchanges of that batch wait tens of
//! milliseconds and their replies leave in one burst. The writer connection
//! therefore turns automatic checkpoints off, and this thread runs PASSIVE
//! checkpoints (which never block the writer) on its own connection.

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use rusqlite::Connection;

/// How often the WAL is copied back into the database file.
const EVERY: Duration = Duration::from_millis(500);

/// Stops its thread when dropped.
#[derive(Debug)]
pub(crate) struct Checkpointer {
    stop: Arc<AtomicBool>,
}

impl Drop for Checkpointer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

impl Checkpointer {
    /// Turns automatic checkpoints off on `writer` and starts the thread.
    /// Without a thread (cannot start one), automatic checkpoints stay on.
    pub(crate) fn start(path: &Path, writer: &Connection) -> Option<Self> {
        let conn = Connection::open(path).ok()?;
        conn.busy_timeout(Duration::from_secs(1)).ok()?;
        let stop = Arc::new(AtomicBool::new(false));
        let flag = Arc::clone(&stop);
        std::thread::Builder::new()
            .name("store-checkpoint".into())
            .spawn(move || {
                while !flag.load(Ordering::Relaxed) {
                    std::thread::sleep(EVERY);
                    if let Err(e) = conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(()))
                    {
                        tracing::debug!("WAL checkpoint: {e}");
                    }
                }
            })
            .ok()?;
        if let Err(e) = writer.pragma_update(None, "wal_autocheckpoint", 0) {
            tracing::warn!("cannot move WAL checkpoints off the commit path: {e}");
        }
        Some(Self { stop })
    }
}
