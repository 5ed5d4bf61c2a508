//! [`Store`](crate::Store) and [`Journal`](crate::Journal) in SQLite: one
//! file in WAL mode, or an in-memory database.
//!
//! Events are kept in the [event format](crate::event_format), one row
//! each, keyed by execution and id, so a history reads back exactly as
//! written and the primary key itself refuses a duplicate. Writing
//! transactions begin IMMEDIATE: other processes (`stepwasm task`,
//! `executions stop`) and the kv capability write the same file, and a
//! transaction that read before taking the write lock could be refused it.
//!
//! The SQL of each group of tables is a module of its own ([`events`],
//! [`executions`], [`drives`], [`task_tokens`], [`activities`],
//! [`state_machines`], [`task_resources`], [`map_runs`]); [`journal`] and
//! [`store`] implement the traits over them: each step on the store's
//! connection, its errors naming the file, its waiters woken.

mod activities;
mod aliases;
mod drives;
mod events;
mod executions;
mod group_commit;
mod journal;
mod map_runs;
mod published_versions;
mod retention;
mod schema;
mod state_machines;
mod store;
mod task_resources;
mod task_tokens;
#[cfg(test)]
mod test_support;
mod waiters;

pub use retention::retention_cutoff_ms;

use crate::{event_format, Appending, StoreError};
use group_commit::{GroupCommit, Request};
use rusqlite::Connection;
use std::path::Path;
use std::sync::{Arc, Mutex, MutexGuard};
use stepwasm_engine::{ExecutionInfo, HistoryEvent};
use stepwasm_sqlite::connection::{open_durable, OpenError};
use stepwasm_sqlite::wal_check::{unmarked_commits, UnmarkedCommits};
use waiters::Waiters;

/// The SQLite store.
pub struct SqliteStore {
    conn: Arc<Mutex<Connection>>,
    location: String,
    /// Commits the drivers' batches in groups ([`Journal::append_all_async`](crate::Journal::append_all_async)).
    group: GroupCommit,
    /// The drivers waiting here for a token's result, woken when it is sent
    /// through this store ([`Journal::token_answered`](crate::Journal::token_answered)).
    token_waiters: Waiters,
    /// The activity workers waiting here for a task, by activity ARN
    /// ([`Store::activity_task_queued`](crate::Store::activity_task_queued)).
    activity_waiters: Waiters,
}

/// The store's connection with unsynced commits ([`SqliteStore::unsynced`]);
/// synced again when dropped. They are not noted in the WAL mark: a mark
/// must not count frames that a power loss can take.
struct Unsynced<'a> {
    conn: MutexGuard<'a, Connection>,
    _unmarked: UnmarkedCommits,
}

impl Drop for Unsynced<'_> {
    fn drop(&mut self) {
        // Setting the flag does no I/O; it fails only on a misused handle.
        let _ = self.conn.pragma_update(None, "synchronous", "FULL");
    }
}

impl std::ops::Deref for Unsynced<'_> {
    type Target = Connection;
    fn deref(&self) -> &Connection {
        &self.conn
    }
}

impl std::ops::DerefMut for Unsynced<'_> {
    fn deref_mut(&mut self) -> &mut Connection {
        &mut self.conn
    }
}

impl std::fmt::Debug for SqliteStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "SqliteStore({})", self.location)
    }
}

impl SqliteStore {
    /// Opens the store file at `path`, creating it on first use, and brings
    /// its layout up to date. Cheap enough for every CLI call: the WAL is
    /// checked against what was acknowledged ([`stepwasm_sqlite::wal_check`]), not the
    /// pages ([`check`](Self::check) does that). A file that is not a SQLite
    /// database, a damaged WAL, or tables of ours in another shape are an
    /// error here naming the file, before anything runs; the file is left as
    /// it was.
    pub fn open(path: &Path) -> Result<SqliteStore, StoreError> {
        let shown = path.display().to_string();
        let conn = open_durable(path).map_err(|e| match e {
            OpenError::Sqlite(source) => StoreError::Open { path: shown.clone(), source },
            other => StoreError::Unreadable { path: shown.clone(), message: other.to_string() },
        })?;
        SqliteStore::init(conn, shown, Some(path.to_path_buf()))
    }

    /// A store that lives as long as this value.
    pub fn in_memory() -> Result<SqliteStore, StoreError> {
        SqliteStore::init(Connection::open_in_memory()?, ":memory:".into(), None)
    }

    fn init(mut conn: Connection, location: String, file: Option<std::path::PathBuf>) -> Result<SqliteStore, StoreError> {
        schema::migrate(&mut conn).map_err(|e| match e {
            schema::SchemaError::Sqlite(source) => StoreError::Open { path: location.clone(), source },
            other => StoreError::Unreadable { path: location.clone(), message: other.to_string() },
        })?;
        let conn = Arc::new(Mutex::new(conn));
        Ok(SqliteStore {
            group: GroupCommit::new(Arc::clone(&conn), file),
            conn,
            location,
            token_waiters: Waiters::default(),
            activity_waiters: Waiters::default(),
        })
    }

    /// Checks every page of the file: SQLite's `quick_check`, or with `full`
    /// its `integrity_check` (indexes against tables too) and every stored
    /// event read back as a history event. For `serve`'s start and
    /// `stepwasm store check`; damage is an error naming the file and what
    /// SQLite found (an event of a newer format is that error, not damage).
    pub fn check(&self, full: bool) -> Result<(), StoreError> {
        let damaged = |message: String| StoreError::Unreadable { path: self.location.clone(), message };
        let conn = self.conn();
        let pragma = if full { "PRAGMA integrity_check(20)" } else { "PRAGMA quick_check(20)" };
        let found = conn
            .prepare(pragma)
            .and_then(|mut stmt| stmt.query_map([], |row| row.get::<_, String>(0))?.collect::<Result<Vec<_>, _>>())
            .map_err(|e| damaged(format!("the database is damaged: {e}")))?;
        if found != ["ok"] {
            return Err(damaged(format!("the database is damaged: {}", found.join("; "))));
        }
        if full {
            // An event of no execution is named by its key.
            let mut stmt = conn.prepare(
                "SELECT coalesce(x.arn, 'execution key ' || e.execution), e.id, e.event FROM events AS e LEFT JOIN executions AS x ON x.key = e.execution",
            )?;
            let mut rows = stmt.query([]).map_err(|e| damaged(e.to_string()))?;
            while let Some(row) = rows.next().map_err(|e| damaged(e.to_string()))? {
                let (arn, id) = (row.get::<_, String>(0).unwrap_or_default(), row.get::<_, u64>(1).unwrap_or_default());
                let bytes = row.get_ref(2).map_err(|e| damaged(e.to_string()))?.as_bytes().unwrap_or_default();
                event_format::decode(bytes).map_err(|e| match events::located(e, &arn, id) {
                    corrupt @ StoreError::CorruptEvent { .. } => damaged(corrupt.to_string()),
                    other => other,
                })?;
            }
        }
        Ok(())
    }

    /// The store's file (`:memory:` for a store in memory).
    pub fn location(&self) -> &str {
        &self.location
    }

    fn conn(&self) -> MutexGuard<'_, Connection> {
        // SQLite rolls back an unfinished transaction, so a panic while the
        // lock was held leaves nothing half-written: the poison is not fatal.
        self.conn.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The connection, its next commits not synced to disk (until the guard
    /// is dropped): for the crash-loop guard's counts and the park notes,
    /// which a host writes for every execution it starts driving and which
    /// need not be durable (a kill -9 keeps them: they are in the OS's
    /// cache; a power loss may take the latest, so a count restarts lower or
    /// a parked execution is replayed). A later synced commit syncs them too.
    fn unsynced(&self) -> Result<Unsynced<'_>, StoreError> {
        let conn = self.conn();
        conn.pragma_update(None, "synchronous", "NORMAL")?;
        Ok(Unsynced { conn, _unmarked: unmarked_commits() })
    }

    /// Runs one step of the store, its SQLite errors naming the file: a
    /// damaged page, a row that is not UTF-8 text, a lock.
    fn located<T>(&self, step: impl FnOnce() -> Result<T, StoreError>) -> Result<T, StoreError> {
        step().map_err(|e| match e {
            StoreError::Query(source) => StoreError::Open { path: self.location.clone(), source },
            other => other,
        })
    }

    /// Hands a batch (and the execution to create first, if any) to the
    /// group committer; the future ends with its group's commit.
    fn submit<'a>(&'a self, execution_arn: &str, create: Option<(ExecutionInfo, i64)>, events: &[HistoryEvent]) -> Appending<'a> {
        let submitted = events::prepare(execution_arn, events).and_then(|events| {
            let (reply, answer) = tokio::sync::oneshot::channel();
            self.group.submit(Request { arn: execution_arn.to_string(), create, events, reply })?;
            Ok(answer)
        });
        Box::pin(async move { submitted?.await.map_err(|_| StoreError::GroupCommit("the committer stopped without an answer".into()))? })
    }
}

#[cfg(test)]
mod tests {
    use super::test_support::{event, info};
    use super::*;
    use crate::{CrashGuard, DriveStart, ExecutionStatus, Journal, Store};
    use rusqlite::params;
    use serde_json::json;
    use stepwasm_engine::EventKind;

    #[test]
    fn a_store_from_before_versions_is_upgraded_in_place() {
        let dir = std::env::temp_dir().join(format!("stepwasm-store-upgrade-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("old.sqlite");
        let _ = std::fs::remove_file(&path);
        let a = info("a");
        {
            let conn = Connection::open(&path).unwrap();
            conn.execute_batch(
                "CREATE TABLE state_machines (arn TEXT PRIMARY KEY, name TEXT NOT NULL, definition TEXT NOT NULL) WITHOUT ROWID;
                 CREATE TABLE executions (arn TEXT PRIMARY KEY, name TEXT NOT NULL, state_machine_arn TEXT NOT NULL,
                     state_machine_name TEXT NOT NULL, status TEXT NOT NULL, start_ms INTEGER NOT NULL, stop_ms INTEGER,
                     last_event_id INTEGER NOT NULL DEFAULT 0);",
            )
            .unwrap();
            conn.execute("INSERT INTO state_machines VALUES (?1, 'sm', '{\"old\": true}')", params![a.state_machine_arn]).unwrap();
            conn.execute(
                "INSERT INTO executions (arn, name, state_machine_arn, state_machine_name, status, start_ms) VALUES (?1, 'a', ?2, 'sm', 'RUNNING', 0)",
                params![a.execution_arn, a.state_machine_arn],
            )
            .unwrap();
        }
        let store = SqliteStore::open(&path).unwrap();
        assert_eq!(store.execution_definition(&a.execution_arn).unwrap(), Some((None, "{\"old\": true}".to_string())));
        assert_eq!(store.executions(Some(ExecutionStatus::Running)).unwrap().len(), 1);
        // Nothing is held against an execution of an older store; then it is counted.
        let guard = CrashGuard { limit: 1, waits_up_to_ms: 0 };
        assert_eq!(store.begin_drive(&a.execution_arn, guard, 0).unwrap(), DriveStart::Go { stops: 0 });
        assert!(matches!(store.begin_drive(&a.execution_arn, guard, 0).unwrap(), DriveStart::Failed { .. }));
        drop(store);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_file_keeps_everything_and_damage_is_refused_without_touching_it() {
        let dir = std::env::temp_dir().join(format!("stepwasm-store-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("store.sqlite");
        let a = info("a");
        {
            let store = SqliteStore::open(&path).unwrap();
            assert_eq!(store.put_state_machine("arn:sm", "sm", "{\"StartAt\":\"S\"}").unwrap(), 1);
            store.create_execution(&a, 5).unwrap();
            store.append(&a.execution_arn, &event(1, EventKind::ExecutionStarted { input: json!({"k": "v"}).into() })).unwrap();
        }
        let store = SqliteStore::open(&path).unwrap();
        assert_eq!(store.state_machine("arn:sm").unwrap().as_deref(), Some("{\"StartAt\":\"S\"}"));
        assert_eq!(store.history(&a.execution_arn).unwrap().len(), 1);
        store.check(true).unwrap();
        drop(store);

        let junk = dir.join("junk.sqlite");
        std::fs::write(&junk, vec![b'x'; 8192]).unwrap();
        let err = SqliteStore::open(&junk).unwrap_err().to_string();
        assert!(err.contains("junk.sqlite") && err.contains("not a database"), "{err}");
        assert_eq!(std::fs::read(&junk).unwrap(), vec![b'x'; 8192], "the file is left as it was");

        // A stored event that no longer parses is named, not skipped.
        let conn = Connection::open(&path).unwrap();
        conn.execute("UPDATE events SET event = '{\"id\": 1, \"kind\": 7}'", []).unwrap();
        drop(conn);
        let err = SqliteStore::open(&path).unwrap().history(&a.execution_arn).unwrap_err().to_string();
        assert!(err.contains("event 1") && err.contains("corrupt"), "{err}");
        let err = SqliteStore::open(&path).unwrap().check(true).unwrap_err();
        assert!(
            matches!(&err, StoreError::Unreadable { message, .. } if message.contains("event 1") && message.contains("corrupt")),
            "{err}"
        );
        // So is one whose text is not UTF-8.
        let conn = Connection::open(&path).unwrap();
        conn.execute("UPDATE events SET event = CAST(X'7B22FF22' AS TEXT)", []).unwrap();
        let (root, page_size): (u64, u64) = conn
            .query_row("SELECT rootpage, (SELECT page_size FROM pragma_page_size) FROM sqlite_schema WHERE name = 'events'", [], |r| {
                Ok((r.get(0)?, r.get(1)?))
            })
            .unwrap();
        drop(conn);
        let err = SqliteStore::open(&path).unwrap().history(&a.execution_arn).unwrap_err().to_string();
        assert!(err.contains("event 1") && err.contains("not UTF-8"), "{err}");

        // A damaged page: the cheap open does not read it; `check` refuses
        // the file, and a read that meets it names the file.
        let file = std::fs::OpenOptions::new().write(true).open(&path).unwrap();
        std::os::unix::fs::FileExt::write_all_at(&file, &[0xEE; 64], (root - 1) * page_size).unwrap();
        let store = SqliteStore::open(&path).unwrap();
        let err = store.check(false).unwrap_err().to_string();
        assert!(err.contains("store.sqlite") && err.contains("damaged"), "{err}");
        let err = store.history(&a.execution_arn).unwrap_err().to_string();
        assert!(err.contains("store.sqlite") && err.contains("malformed"), "{err}");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
