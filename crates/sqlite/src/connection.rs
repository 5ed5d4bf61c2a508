//! Opening a connection to a store file, the same way for the execution
//! store and the kv capability (which share the file under `--store`): the
//! WAL is checked before SQLite reads it ([`crate::wal_check`]), then the
//! file is put in WAL mode with every commit synced (`synchronous=FULL`: a
//! commit acknowledged is on disk), the WAL's size bounded, and each commit
//! noted in the WAL mark.

use crate::wal_check::{self, WalDamage};
use rusqlite::{Connection, ErrorCode};
use std::path::Path;
use std::time::{Duration, Instant};

/// How long a connection waits for another's lock before SQLITE_BUSY.
pub const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// The WAL file is truncated back to this size when SQLite restarts it
/// (`journal_size_limit`); the commit hook (and the store's background
/// checkpointer) force a TRUNCATE checkpoint once it is larger
/// ([`wal_check::note_commits`]).
pub const WAL_SIZE_LIMIT: u64 = 64 << 20;

/// Why a store file could not be opened.
#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    /// The WAL lost committed transactions (see [`wal_check`]).
    #[error(transparent)]
    Damaged(#[from] WalDamage),
    /// The WAL could not be read to check it.
    #[error("cannot read its write-ahead log to check it: {0}")]
    Unchecked(std::io::Error),
    #[error(transparent)]
    Sqlite(#[from] rusqlite::Error),
}

/// Opens the store file at `path` (created on first use) as described above.
pub fn open_durable(path: &Path) -> Result<Connection, OpenError> {
    wal_check::verify(path).map_err(OpenError::Unchecked)??;
    let conn = Connection::open(path)?;
    conn.busy_timeout(BUSY_TIMEOUT)?;
    enter_wal_mode(&conn)?;
    conn.pragma_update(None, "synchronous", "FULL")?;
    conn.pragma_update(None, "journal_size_limit", WAL_SIZE_LIMIT as i64)?;
    wal_check::note_commits(&conn);
    Ok(conn)
}

/// `journal_mode=WAL`, retried while another process holds the file: the
/// switch of a new file takes an exclusive lock, and SQLite may answer
/// SQLITE_BUSY at once (without its busy handler) when two processes create
/// the same store together.
fn enter_wal_mode(conn: &Connection) -> rusqlite::Result<()> {
    let deadline = Instant::now() + BUSY_TIMEOUT;
    let mut pause = Duration::from_millis(2);
    loop {
        match conn.pragma_update_and_check(None, "journal_mode", "WAL", |row| row.get::<_, String>(0)) {
            Ok(mode) if mode.eq_ignore_ascii_case("wal") => return Ok(()),
            Ok(mode) => {
                return Err(rusqlite::Error::SqliteFailure(
                    rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_CANTOPEN),
                    Some(format!("the file stays in journal mode {mode:?}, not WAL")),
                ))
            }
            Err(e) if is_busy(&e) && Instant::now() < deadline => {
                std::thread::sleep(pause);
                pause = (pause * 2).min(Duration::from_millis(50));
            }
            Err(e) => return Err(e),
        }
    }
}

/// SQLITE_BUSY or SQLITE_LOCKED: another connection holds the lock.
pub fn is_busy(error: &rusqlite::Error) -> bool {
    matches!(error.sqlite_error_code(), Some(ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked))
}
