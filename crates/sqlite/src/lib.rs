//! SQLite files opened for durability, shared by the execution store and the
//! kv capability (which may live in the same file): WAL mode with every
//! commit synced (`synchronous=FULL`), the WAL checked against its mark
//! before SQLite reads it ([`wal_check`]), the switch to WAL retried while
//! another process holds the file ([`connection`]); and which SQLite errors
//! may pass ([`is_transient_sqlite`]).

pub mod connection;
pub mod wal_check;

/// Whether a SQLite error may pass: disk full, busy or locked, an I/O error,
/// a file that cannot be opened or written now, out of memory.
pub fn is_transient_sqlite(error: &rusqlite::Error) -> bool {
    use rusqlite::ErrorCode::*;
    matches!(
        error.sqlite_error_code(),
        Some(DiskFull | DatabaseBusy | DatabaseLocked | SystemIoFailure | CannotOpen | ReadOnly | OutOfMemory)
    )
}
