//! [`Store`] in SQLite: one file in WAL mode, or an in-memory database.
//!
//! Events are kept as the JSON of [`HistoryEvent`] (serde), one row each,
//! keyed by execution and id, so a history reads back exactly as written and
//! the primary key itself refuses a duplicate. Writing transactions begin
//! IMMEDIATE: other processes (`stepwasm task`, `executions stop`) and the kv
//! capability write the same file, and a transaction that read before taking
//! the write lock could be refused it.

use super::group_commit::{GroupCommit, Request};
use super::schema;
use super::{
    crash_loop_cause, ActivityRecord, ActivityTask, Appending, CrashGuard, DriveStart, ExecutionStatus, ExecutionSummary, Redrive,
    StateMachineDetails, StateMachineRecord, Store, StoreError, TaskResourceRecord, TaskResult, TokenState,
};
use rusqlite::{params, Connection, OptionalExtension, TransactionBehavior};
use std::path::Path;
use std::sync::{Arc, Mutex, MutexGuard};
use stepwasm_asl::errors;
use stepwasm_engine::{EventKind, ExecutionInfo, HistoryEvent, Scope};
use stepwasm_sqlite::connection::{open_durable, OpenError};

/// Token statuses in `task_tokens.status`.
const WAITING: &str = "WAITING";
const COMPLETED: &str = "COMPLETED";
const CLOSED: &str = "CLOSED";

/// Closes the tokens an ended execution's tasks still wait for.
const CLOSE_EXECUTION_TOKENS: &str = "UPDATE task_tokens SET status = 'CLOSED' WHERE execution_arn = ?1 AND status = 'WAITING'";

/// The SQLite store.
pub struct SqliteStore {
    conn: Arc<Mutex<Connection>>,
    location: String,
    /// Commits the drivers' batches in groups ([`Store::append_all_async`]).
    group: GroupCommit,
    /// The drivers waiting here for a token's result, woken when it is sent
    /// through this store ([`Store::token_answered`]).
    token_waiters: Waiters,
    /// The activity workers waiting here for a task, by activity ARN
    /// ([`Store::activity_task_queued`]).
    activity_waiters: Waiters,
}

/// Key (a task token, an activity's ARN) -> the wake-up of whoever waits on
/// it. Weak, so waiters that stopped waiting leave only a dead entry, swept
/// as the map grows.
#[derive(Default)]
struct Waiters(Mutex<std::collections::HashMap<String, std::sync::Weak<tokio::sync::Notify>>>);

impl Waiters {
    fn waiter(&self, token: &str) -> Arc<tokio::sync::Notify> {
        let mut waiters = self.0.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(live) = waiters.get(token).and_then(std::sync::Weak::upgrade) {
            return live;
        }
        if waiters.len() >= 64 && waiters.len().is_power_of_two() {
            waiters.retain(|_, waiter| waiter.strong_count() > 0);
        }
        let notify = Arc::new(tokio::sync::Notify::new());
        waiters.insert(token.to_string(), Arc::downgrade(&notify));
        notify
    }

    /// Wakes the one waiter on `token` and forgets the key.
    fn wake(&self, token: &str) {
        let waiter = self.0.lock().unwrap_or_else(|e| e.into_inner()).remove(token).and_then(|w| w.upgrade());
        if let Some(waiter) = waiter {
            // A permit is kept if the driver is not parked on it right now.
            waiter.notify_one();
        }
    }

    /// Wakes one of the waiters on `key`; the others stay registered.
    fn wake_one(&self, key: &str) {
        let waiter = self.0.lock().unwrap_or_else(|e| e.into_inner()).get(key).and_then(std::sync::Weak::upgrade);
        if let Some(waiter) = waiter {
            waiter.notify_one();
        }
    }
}

/// The store's connection with unsynced commits ([`SqliteStore::unsynced`]);
/// synced again when dropped.
struct Unsynced<'a>(MutexGuard<'a, Connection>);

impl Drop for Unsynced<'_> {
    fn drop(&mut self) {
        // Setting the flag does no I/O; it fails only on a misused handle.
        let _ = self.0.pragma_update(None, "synchronous", "FULL");
    }
}

impl std::ops::Deref for Unsynced<'_> {
    type Target = Connection;
    fn deref(&self) -> &Connection {
        &self.0
    }
}

impl std::ops::DerefMut for Unsynced<'_> {
    fn deref_mut(&mut self) -> &mut Connection {
        &mut self.0
    }
}

/// An event ready for the `events` table.
pub(super) struct PreparedEvent {
    id: u64,
    text: String,
    /// The status and time, if the event ends the execution.
    ends: Option<(ExecutionStatus, i64)>,
}

impl SqliteStore {
    /// Hands a batch (and the execution to create first, if any) to the
    /// group committer; the future ends with its group's commit.
    fn submit<'a>(&'a self, execution_arn: &str, create: Option<(ExecutionInfo, i64)>, events: &[HistoryEvent]) -> Appending<'a> {
        let submitted = prepare(execution_arn, events).and_then(|events| {
            let (reply, answer) = tokio::sync::oneshot::channel();
            self.group.submit(Request { arn: execution_arn.to_string(), create, events, reply })?;
            Ok(answer)
        });
        Box::pin(async move { submitted?.await.map_err(|_| StoreError::GroupCommit("the committer stopped without an answer".into()))? })
    }
}

/// Registers a new, running execution of the latest version of its state machine.
pub(super) fn insert_execution(conn: &Connection, info: &ExecutionInfo, start_ms: i64) -> Result<(), StoreError> {
    let inserted = conn
        .prepare_cached(
            "INSERT INTO executions (arn, name, state_machine_arn, state_machine_name, status, start_ms, definition_version)
             VALUES (?1, ?2, ?3, ?4, 'RUNNING', ?5, (SELECT max(version) FROM state_machine_versions WHERE arn = ?3))
             ON CONFLICT (arn) DO NOTHING",
        )?
        .execute(params![info.execution_arn, info.name, info.state_machine_arn, info.state_machine_name, start_ms])?;
    if inserted == 0 {
        return Err(StoreError::ExecutionExists(info.name.clone()));
    }
    Ok(())
}

/// Serialises `events` of `execution_arn` for [`append_prepared`].
fn prepare(execution_arn: &str, events: &[HistoryEvent]) -> Result<Vec<PreparedEvent>, StoreError> {
    events
        .iter()
        .map(|event| {
            let text = serde_json::to_string(event).map_err(|e| StoreError::CorruptEvent {
                arn: execution_arn.into(),
                id: event.id,
                message: format!("cannot be written: {e}"),
            })?;
            Ok(PreparedEvent { id: event.id, text, ends: ExecutionStatus::after(&event.kind).map(|s| (s, event.timestamp_ms)) })
        })
        .collect()
}

/// Inside an open transaction: appends the events of one running execution
/// after its last one (refusing gaps, duplicates and appends to an ended
/// execution) and updates its status.
pub(super) fn append_prepared(conn: &Connection, execution_arn: &str, events: &[PreparedEvent]) -> Result<(), StoreError> {
    let (status, mut last): (String, u64) = conn
        .prepare_cached("SELECT status, last_event_id FROM executions WHERE arn = ?1")?
        .query_row(params![execution_arn], |row| Ok((row.get(0)?, row.get(1)?)))
        .optional()?
        .ok_or_else(|| StoreError::NoSuchExecution(execution_arn.into()))?;
    let mut status = ExecutionStatus::parse(&status);
    let mut stop_ms = None;
    {
        let mut insert = conn.prepare_cached("INSERT INTO events (execution_arn, id, event) VALUES (?1, ?2, ?3)")?;
        for event in events {
            if status != Some(ExecutionStatus::Running) {
                let status = status.map_or("in an unknown state", ExecutionStatus::as_str);
                return Err(StoreError::Closed { arn: execution_arn.into(), status });
            }
            if event.id != last + 1 {
                return Err(StoreError::OutOfOrder { arn: execution_arn.into(), last, got: event.id });
            }
            insert.execute(params![execution_arn, event.id, event.text])?;
            last = event.id;
            if let Some((ended, at_ms)) = event.ends {
                status = Some(ended);
                stop_ms = Some(at_ms);
            }
        }
    }
    if stop_ms.is_some() {
        conn.prepare_cached(CLOSE_EXECUTION_TOKENS)?.execute(params![execution_arn])?;
    }
    let status = status.map_or("RUNNING", ExecutionStatus::as_str);
    // New events end a park: the wake-up time was about the history before them.
    conn.prepare_cached(
        "UPDATE executions SET last_event_id = ?2, status = ?3, stop_ms = coalesce(?4, stop_ms), wake_ms = NULL WHERE arn = ?1",
    )?
    .execute(params![execution_arn, last, status, stop_ms])?;
    Ok(())
}

/// Inside an open transaction: writes `kind` as the top-level event after
/// event `last` of `execution_arn`, and returns it (the caller updates the
/// execution's row).
fn insert_event_after(conn: &Connection, execution_arn: &str, last: u64, now_ms: i64, kind: EventKind) -> Result<HistoryEvent, StoreError> {
    let event = HistoryEvent { id: last + 1, previous_event_id: last, timestamp_ms: now_ms, scope: Scope::root(), kind };
    for prepared in prepare(execution_arn, std::slice::from_ref(&event))? {
        conn.prepare_cached("INSERT INTO events (execution_arn, id, event) VALUES (?1, ?2, ?3)")?.execute(params![
            execution_arn,
            prepared.id,
            prepared.text
        ])?;
    }
    Ok(event)
}

/// A stored event's text read back, or why it cannot be.
fn parse_event(bytes: &[u8]) -> Result<HistoryEvent, String> {
    let text = std::str::from_utf8(bytes).map_err(|e| format!("it is not UTF-8 text ({e})"))?;
    serde_json::from_str(text).map_err(|e| e.to_string())
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
    /// SQLite found.
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
            let mut stmt = conn.prepare("SELECT execution_arn, id, event FROM events")?;
            let mut rows = stmt.query([]).map_err(|e| damaged(e.to_string()))?;
            while let Some(row) = rows.next().map_err(|e| damaged(e.to_string()))? {
                let (arn, id) = (row.get::<_, String>(0).unwrap_or_default(), row.get::<_, u64>(1).unwrap_or_default());
                let bytes = row.get_ref(2).map_err(|e| damaged(e.to_string()))?.as_bytes().unwrap_or_default();
                parse_event(bytes)
                    .map_err(|message| damaged(format!("execution {arn:?}, event {id}: stored event is corrupt: {message}")))?;
            }
        }
        Ok(())
    }

    /// The store's file (`:memory:` for a store in memory).
    pub fn location(&self) -> &str {
        &self.location
    }

    pub(super) fn conn(&self) -> MutexGuard<'_, Connection> {
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
        Ok(Unsynced(conn))
    }
}

fn summary(row: &rusqlite::Row) -> rusqlite::Result<ExecutionSummary> {
    let status: String = row.get(4)?;
    Ok(ExecutionSummary {
        info: ExecutionInfo {
            execution_arn: row.get(0)?,
            name: row.get(1)?,
            state_machine_arn: row.get(2)?,
            state_machine_name: row.get(3)?,
        },
        status: ExecutionStatus::parse(&status).ok_or_else(|| {
            rusqlite::Error::FromSqlConversionFailure(4, rusqlite::types::Type::Text, format!("unknown status {status:?}").into())
        })?,
        start_ms: row.get(5)?,
        stop_ms: row.get(6)?,
        wake_ms: row.get(7)?,
        redrive_count: row.get(8)?,
        redrive_ms: row.get(9)?,
    })
}

/// Deletes the uploaded modules no registered resource uses any more.
fn forget_unused_modules(tx: &rusqlite::Transaction) -> Result<(), StoreError> {
    tx.prepare_cached(
        "DELETE FROM modules WHERE sha256 NOT IN (SELECT module_sha256 FROM task_resources WHERE module_sha256 IS NOT NULL)",
    )?
    .execute([])?;
    Ok(())
}

/// A state machine with its latest version.
const STATE_MACHINE_QUERY: &str = "SELECT m.arn, m.name, m.definition, m.created_ms, m.details,
        (SELECT max(version) FROM state_machine_versions v WHERE v.arn = m.arn)
     FROM state_machines m";

/// A row of [`STATE_MACHINE_QUERY`], before its details are parsed.
struct StateMachineRow {
    arn: String,
    name: String,
    definition: String,
    created_ms: Option<i64>,
    details: Option<String>,
    version: Option<u32>,
}

fn state_machine_row(row: &rusqlite::Row) -> rusqlite::Result<StateMachineRow> {
    Ok(StateMachineRow {
        arn: row.get(0)?,
        name: row.get(1)?,
        definition: row.get(2)?,
        created_ms: row.get(3)?,
        details: row.get(4)?,
        version: row.get(5)?,
    })
}

impl StateMachineRow {
    fn into_record(self, location: &str) -> Result<StateMachineRecord, StoreError> {
        let details = match &self.details {
            Some(text) => serde_json::from_str(text).map_err(|e| StoreError::Unreadable {
                path: location.to_string(),
                message: format!("state machine {}: its details are corrupt: {e}", self.arn),
            })?,
            None => StateMachineDetails { kind: "STANDARD".into(), ..StateMachineDetails::default() },
        };
        Ok(StateMachineRecord {
            arn: self.arn,
            name: self.name,
            definition: self.definition,
            version: self.version.unwrap_or(1),
            created_ms: self.created_ms,
            details,
        })
    }
}

const SUMMARY_COLUMNS: &str =
    "arn, name, state_machine_arn, state_machine_name, status, start_ms, stop_ms, wake_ms, redrive_count, redrive_ms";

impl Store for SqliteStore {
    fn put_state_machine(&self, arn: &str, name: &str, definition: &str) -> Result<u32, StoreError> {
        self.located(|| {
            let mut conn = self.conn();
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let latest: Option<(u32, String)> = tx
                .prepare_cached("SELECT version, definition FROM state_machine_versions WHERE arn = ?1 ORDER BY version DESC LIMIT 1")?
                .query_row(params![arn], |row| Ok((row.get(0)?, row.get(1)?)))
                .optional()?;
            let version = match latest {
                Some((version, text)) if text == definition => version,
                latest => {
                    let version = latest.map_or(1, |(v, _)| v + 1);
                    tx.prepare_cached("INSERT INTO state_machine_versions (arn, version, definition) VALUES (?1, ?2, ?3)")?
                        .execute(params![arn, version, definition])?;
                    version
                }
            };
            tx.prepare_cached(
                "INSERT INTO state_machines (arn, name, definition, created_ms) VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT (arn) DO UPDATE SET name = excluded.name, definition = excluded.definition",
            )?
            .execute(params![arn, name, definition, chrono::Utc::now().timestamp_millis()])?;
            tx.commit()?;
            Ok(version)
        })
    }

    fn execution_definition(&self, execution_arn: &str) -> Result<Option<(Option<u32>, String)>, StoreError> {
        self.located(|| {
            Ok(self
                .conn()
                .prepare_cached(
                    "SELECT e.definition_version, coalesce(v.definition, m.definition)
                     FROM executions e
                     LEFT JOIN state_machine_versions v ON v.arn = e.state_machine_arn AND v.version = e.definition_version
                     LEFT JOIN state_machines m ON m.arn = e.state_machine_arn
                     WHERE e.arn = ?1",
                )?
                .query_row(params![execution_arn], |row| Ok((row.get(0)?, row.get::<_, Option<String>>(1)?)))
                .optional()?
                .and_then(|(version, text)| text.map(|t| (version, t))))
        })
    }

    fn describe_state_machine(&self, arn: &str) -> Result<Option<StateMachineRecord>, StoreError> {
        self.located(|| {
            let conn = self.conn();
            let mut stmt = conn.prepare_cached(&format!("{STATE_MACHINE_QUERY} WHERE m.arn = ?1"))?;
            let found = stmt.query_row(params![arn], state_machine_row).optional()?;
            found.map(|row| row.into_record(&self.location)).transpose()
        })
    }

    fn state_machines(&self) -> Result<Vec<StateMachineRecord>, StoreError> {
        self.located(|| {
            let conn = self.conn();
            let mut stmt = conn.prepare_cached(&format!("{STATE_MACHINE_QUERY} ORDER BY m.name, m.arn"))?;
            let rows = stmt.query_map([], state_machine_row)?.collect::<Result<Vec<_>, _>>()?;
            rows.into_iter().map(|row| row.into_record(&self.location)).collect()
        })
    }

    fn set_state_machine_details(&self, arn: &str, details: &StateMachineDetails) -> Result<bool, StoreError> {
        self.located(|| {
            let text = serde_json::to_string(details)
                .map_err(|e| StoreError::Unreadable { path: self.location.clone(), message: e.to_string() })?;
            let changed =
                self.conn().prepare_cached("UPDATE state_machines SET details = ?2 WHERE arn = ?1")?.execute(params![arn, text])?;
            Ok(changed > 0)
        })
    }

    fn delete_state_machine(&self, arn: &str) -> Result<bool, StoreError> {
        self.located(|| Ok(self.conn().prepare_cached("DELETE FROM state_machines WHERE arn = ?1")?.execute(params![arn])? > 0))
    }

    fn put_activity(
        &self,
        arn: &str,
        name: &str,
        tags: &std::collections::BTreeMap<String, String>,
        now_ms: i64,
    ) -> Result<ActivityRecord, StoreError> {
        self.located(|| {
            let tags_text =
                serde_json::to_string(tags).map_err(|e| StoreError::Unreadable { path: self.location.clone(), message: e.to_string() })?;
            self.conn()
                .prepare_cached("INSERT OR IGNORE INTO activities (arn, name, created_ms, tags) VALUES (?1, ?2, ?3, ?4)")?
                .execute(params![arn, name, now_ms, tags_text])?;
            self.activity(arn)?
                .ok_or_else(|| StoreError::Unreadable { path: self.location.clone(), message: format!("activity {arn} vanished") })
        })
    }

    fn activity(&self, arn: &str) -> Result<Option<ActivityRecord>, StoreError> {
        self.located(|| {
            let conn = self.conn();
            let mut stmt = conn.prepare_cached("SELECT arn, name, created_ms, tags FROM activities WHERE arn = ?1")?;
            let row =
                stmt.query_row(params![arn], |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?, row.get::<_, String>(3)?))).optional()?;
            row.map(|row| self.activity_record(row)).transpose()
        })
    }

    fn activities(&self) -> Result<Vec<ActivityRecord>, StoreError> {
        self.located(|| {
            let conn = self.conn();
            let mut stmt = conn.prepare_cached("SELECT arn, name, created_ms, tags FROM activities ORDER BY name, arn")?;
            let rows = stmt
                .query_map([], |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?, row.get::<_, String>(3)?)))?
                .collect::<Result<Vec<_>, _>>()?;
            rows.into_iter().map(|row| self.activity_record(row)).collect()
        })
    }

    fn set_activity_tags(&self, arn: &str, tags: &std::collections::BTreeMap<String, String>) -> Result<bool, StoreError> {
        self.located(|| {
            let text =
                serde_json::to_string(tags).map_err(|e| StoreError::Unreadable { path: self.location.clone(), message: e.to_string() })?;
            Ok(self.conn().prepare_cached("UPDATE activities SET tags = ?2 WHERE arn = ?1")?.execute(params![arn, text])? > 0)
        })
    }

    fn delete_activity(&self, arn: &str) -> Result<bool, StoreError> {
        self.located(|| {
            let mut conn = self.conn();
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let deleted = tx.prepare_cached("DELETE FROM activities WHERE arn = ?1")?.execute(params![arn])? > 0;
            tx.prepare_cached("DELETE FROM activity_tasks WHERE activity_arn = ?1")?.execute(params![arn])?;
            tx.commit()?;
            Ok(deleted)
        })
    }

    fn queue_activity_task(&self, task: &ActivityTask) -> Result<(), StoreError> {
        self.located(|| {
            self.conn()
                .prepare_cached(
                    "INSERT OR IGNORE INTO activity_tasks (token, activity_arn, execution_arn, input, created_ms) VALUES (?1, ?2, ?3, ?4, ?5)",
                )?
                .execute(params![task.token, task.activity_arn, task.execution_arn, task.input.to_string(), task.created_ms])?;
            self.activity_waiters.wake_one(&task.activity_arn);
            Ok(())
        })
    }

    fn take_activity_task(&self, activity_arn: &str, worker: &str) -> Result<Option<ActivityTask>, StoreError> {
        self.located(|| {
            let mut conn = self.conn();
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
            // Tasks whose token no longer waits (answered, timed out, stopped) go.
            tx.prepare_cached(
                "DELETE FROM activity_tasks WHERE activity_arn = ?1
                 AND token NOT IN (SELECT token FROM task_tokens WHERE status = 'WAITING')",
            )?
            .execute(params![activity_arn])?;
            let next = tx
                .prepare_cached(
                    "SELECT token, execution_arn, input, created_ms FROM activity_tasks
                     WHERE activity_arn = ?1 AND worker IS NULL ORDER BY created_ms, rowid LIMIT 1",
                )?
                .query_row(params![activity_arn], |row| Ok((row.get::<_, String>(0)?, row.get(1)?, row.get::<_, String>(2)?, row.get(3)?)))
                .optional()?;
            let Some((token, execution_arn, input, created_ms)) = next else { return Ok(None) };
            tx.prepare_cached("UPDATE activity_tasks SET worker = ?2 WHERE token = ?1")?.execute(params![token, worker])?;
            tx.commit()?;
            let input = serde_json::from_str(&input).map_err(|e| StoreError::Unreadable {
                path: self.location.clone(),
                message: format!("activity task {token}: its input is corrupt: {e}"),
            })?;
            Ok(Some(ActivityTask { token, activity_arn: activity_arn.to_string(), execution_arn, input, created_ms }))
        })
    }

    fn put_task_resource(&self, record: &TaskResourceRecord, module: Option<&[u8]>) -> Result<(), StoreError> {
        self.located(|| {
            let mut conn = self.conn();
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
            if let (Some(sha256), Some(bytes)) = (&record.module_sha256, module) {
                tx.prepare_cached("INSERT OR IGNORE INTO modules (sha256, bytes) VALUES (?1, ?2)")?.execute(params![sha256, bytes])?;
            }
            tx.prepare_cached(
                "INSERT INTO task_resources (resource, config, module_sha256, registered_ms) VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT (resource) DO UPDATE SET config = excluded.config, module_sha256 = excluded.module_sha256,
                     registered_ms = excluded.registered_ms",
            )?
            .execute(params![record.resource, record.config.to_string(), record.module_sha256, record.registered_ms])?;
            forget_unused_modules(&tx)?;
            tx.commit()?;
            Ok(())
        })
    }

    fn task_resources(&self) -> Result<Vec<TaskResourceRecord>, StoreError> {
        self.located(|| {
            let conn = self.conn();
            let mut stmt =
                conn.prepare_cached("SELECT resource, config, module_sha256, registered_ms FROM task_resources ORDER BY resource")?;
            let rows = stmt.query_map([], |row| Ok((row.get::<_, String>(0)?, row.get::<_, String>(1)?, row.get(2)?, row.get(3)?)))?;
            let mut records = Vec::new();
            for row in rows {
                let (resource, config, module_sha256, registered_ms) = row?;
                let config = serde_json::from_str(&config).map_err(|e| StoreError::Unreadable {
                    path: self.location.clone(),
                    message: format!("task resource {resource:?}: its config is corrupt: {e}"),
                })?;
                records.push(TaskResourceRecord { resource, config, module_sha256, registered_ms });
            }
            Ok(records)
        })
    }

    fn delete_task_resource(&self, resource: &str) -> Result<bool, StoreError> {
        self.located(|| {
            let mut conn = self.conn();
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let deleted = tx.prepare_cached("DELETE FROM task_resources WHERE resource = ?1")?.execute(params![resource])? > 0;
            forget_unused_modules(&tx)?;
            tx.commit()?;
            Ok(deleted)
        })
    }

    fn module(&self, sha256: &str) -> Result<Option<Vec<u8>>, StoreError> {
        self.located(|| {
            Ok(self
                .conn()
                .prepare_cached("SELECT bytes FROM modules WHERE sha256 = ?1")?
                .query_row(params![sha256], |row| row.get(0))
                .optional()?)
        })
    }

    fn state_machine(&self, arn: &str) -> Result<Option<String>, StoreError> {
        self.located(|| {
            Ok(self
                .conn()
                .prepare_cached("SELECT definition FROM state_machines WHERE arn = ?1")?
                .query_row(params![arn], |row| row.get(0))
                .optional()?)
        })
    }

    fn create_execution(&self, info: &ExecutionInfo, start_ms: i64) -> Result<(), StoreError> {
        self.located(|| insert_execution(&self.conn(), info, start_ms))
    }

    fn append_all(&self, execution_arn: &str, events: &[HistoryEvent]) -> Result<(), StoreError> {
        self.located(|| {
            let prepared = prepare(execution_arn, events)?;
            let mut conn = self.conn();
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
            append_prepared(&tx, execution_arn, &prepared)?;
            tx.commit()?;
            Ok(())
        })
    }

    fn append_all_async<'a>(&'a self, execution_arn: &'a str, events: &'a [HistoryEvent]) -> Appending<'a> {
        self.submit(execution_arn, None, events)
    }

    fn start_execution_async<'a>(&'a self, info: &'a ExecutionInfo, start_ms: i64, events: &'a [HistoryEvent]) -> Appending<'a> {
        self.submit(&info.execution_arn, Some((info.clone(), start_ms)), events)
    }

    fn history(&self, execution_arn: &str) -> Result<Vec<HistoryEvent>, StoreError> {
        self.located(|| {
            let conn = self.conn();
            let mut stmt = conn.prepare_cached("SELECT id, event FROM events WHERE execution_arn = ?1 ORDER BY id")?;
            let mut rows = stmt.query(params![execution_arn])?;
            let mut history = Vec::new();
            while let Some(row) = rows.next()? {
                let id: u64 = row.get(0)?;
                let corrupt = |message: String| StoreError::CorruptEvent { arn: execution_arn.into(), id, message };
                // Bytes, not a String: text that is not UTF-8 is a corrupt event, named.
                let event = parse_event(row.get_ref(1)?.as_bytes().map_err(|e| corrupt(e.to_string()))?).map_err(corrupt)?;
                if event.id != id || id != history.len() as u64 + 1 {
                    return Err(corrupt(format!("it says it is event {} at position {}", event.id, history.len() + 1)));
                }
                history.push(event);
            }
            Ok(history)
        })
    }

    fn execution(&self, execution_arn: &str) -> Result<Option<ExecutionSummary>, StoreError> {
        self.located(|| {
            Ok(self
                .conn()
                .prepare_cached(&format!("SELECT {SUMMARY_COLUMNS} FROM executions WHERE arn = ?1"))?
                .query_row(params![execution_arn], summary)
                .optional()?)
        })
    }

    fn executions(&self, status: Option<ExecutionStatus>) -> Result<Vec<ExecutionSummary>, StoreError> {
        self.located(|| {
            let conn = self.conn();
            let mut stmt = conn.prepare_cached(&format!(
                "SELECT {SUMMARY_COLUMNS} FROM executions WHERE ?1 IS NULL OR status = ?1 ORDER BY start_ms, rowid"
            ))?;
            let rows = stmt.query_map(params![status.map(ExecutionStatus::as_str)], summary)?;
            Ok(rows.collect::<Result<_, _>>()?)
        })
    }

    fn executions_of(&self, state_machine_arn: &str, status: Option<ExecutionStatus>) -> Result<Vec<ExecutionSummary>, StoreError> {
        self.located(|| {
            let conn = self.conn();
            let mut stmt = conn.prepare_cached(&format!(
                "SELECT {SUMMARY_COLUMNS} FROM executions WHERE state_machine_arn = ?1 AND (?2 IS NULL OR status = ?2)
                 ORDER BY start_ms DESC, rowid DESC"
            ))?;
            let rows = stmt.query_map(params![state_machine_arn, status.map(ExecutionStatus::as_str)], summary)?;
            Ok(rows.collect::<Result<_, _>>()?)
        })
    }

    fn executions_started_after(&self, position: i64) -> Result<Vec<(i64, ExecutionSummary)>, StoreError> {
        self.located(|| {
            let conn = self.conn();
            let mut stmt = conn.prepare_cached(&format!(
                "SELECT {SUMMARY_COLUMNS}, rowid FROM executions WHERE rowid > ?1 AND status = 'RUNNING' ORDER BY rowid"
            ))?;
            let rows = stmt.query_map(params![position], |row| Ok((row.get(10)?, summary(row)?)))?;
            Ok(rows.collect::<Result<_, _>>()?)
        })
    }

    fn executions_redriven_after(&self, position: i64) -> Result<Vec<(i64, ExecutionSummary)>, StoreError> {
        self.located(|| {
            let conn = self.conn();
            let mut stmt = conn.prepare_cached(&format!(
                "SELECT {SUMMARY_COLUMNS}, position FROM executions JOIN
                   (SELECT execution_arn, max(position) AS position FROM redrives WHERE position > ?1 GROUP BY execution_arn)
                 ON arn = execution_arn WHERE status = 'RUNNING' ORDER BY position"
            ))?;
            let rows = stmt.query_map(params![position], |row| Ok((row.get(10)?, summary(row)?)))?;
            Ok(rows.collect::<Result<_, _>>()?)
        })
    }

    fn executions_stopped_since(&self, since_ms: i64) -> Result<Vec<ExecutionSummary>, StoreError> {
        self.located(|| {
            let conn = self.conn();
            let mut stmt =
                conn.prepare_cached(&format!("SELECT {SUMMARY_COLUMNS} FROM executions WHERE status = 'ABORTED' AND stop_ms >= ?1"))?;
            let rows = stmt.query_map(params![since_ms], summary)?;
            Ok(rows.collect::<Result<_, _>>()?)
        })
    }

    fn park_execution(&self, execution_arn: &str, last_event_id: u64, until_ms: i64) -> Result<(), StoreError> {
        self.located(|| {
            self.unsynced()?
                .prepare_cached(
                    "UPDATE executions SET wake_ms = ?3, drives = 0 WHERE arn = ?1 AND last_event_id = ?2 AND status = 'RUNNING'",
                )?
                .execute(params![execution_arn, last_event_id, until_ms])?;
            Ok(())
        })
    }

    fn begin_drive(&self, execution_arn: &str, guard: CrashGuard, now_ms: i64) -> Result<DriveStart, StoreError> {
        self.located(|| {
            let mut conn = self.unsynced()?;
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let row: Option<(u32, u64, u64, bool)> = tx
                .prepare_cached(
                    "SELECT drives, drive_mark, last_event_id,
                            EXISTS (SELECT 1 FROM task_tokens WHERE execution_arn = ?1 AND status = 'WAITING')
                     FROM executions WHERE arn = ?1 AND status = 'RUNNING'",
                )?
                .query_row(params![execution_arn], |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?, row.get(3)?)))
                .optional()?;
            // Not running (stopped, ended) or not there: the driver finds out.
            let Some((drives, mark, last, token_waits)) = row else { return Ok(DriveStart::Go { stops: 0 }) };
            // The latest settled event (any but `TaskStarted`, which a driver
            // records again for each rerun of an interrupted task) and the reruns
            // after it: each rerun is a host stop with that task in flight.
            let (mut reruns, mut settled, mut settled_ms) = (0u32, 0u64, 0i64);
            {
                let mut stmt = tx.prepare_cached(
                    "SELECT id, json_type(event, '$.kind.TaskStarted') IS NOT NULL, coalesce(json_extract(event, '$.timestamp_ms'), 0)
                     FROM events WHERE execution_arn = ?1 ORDER BY id DESC",
                )?;
                let mut rows = stmt.query(params![execution_arn])?;
                while let Some(row) = rows.next()? {
                    if row.get::<_, bool>(1)? {
                        reruns += 1;
                    } else {
                        (settled, settled_ms) = (row.get(0)?, row.get(2)?);
                        break;
                    }
                }
            }
            // Progress since the last drive started the count over; so did a
            // drive that ended well (parked, given up).
            let before = if settled == mark { drives } else { 0 };
            // A drive begun soon after the settled event may spend that time in
            // a short wait, so its stop is not held against the execution; one
            // begun later evaluates at once. A task waiting for its token's
            // answer is not counted at all: the host only waits there.
            let counts = !token_waits && reruns == 0 && now_ms.saturating_sub(settled_ms) >= guard.waits_up_to_ms;
            let stops = if token_waits { 0 } else { reruns.max(before) };
            if guard.limit == 0 || stops < guard.limit {
                let drives = if token_waits { 0 } else { before + u32::from(counts) };
                tx.prepare_cached("UPDATE executions SET drives = ?2, drive_mark = ?3 WHERE arn = ?1")?.execute(params![
                    execution_arn,
                    drives,
                    settled
                ])?;
                tx.commit()?;
                return Ok(DriveStart::Go { stops });
            }
            let (error, cause) = (errors::RUNTIME.to_string(), crash_loop_cause(stops, last));
            let failed = EventKind::ExecutionFailed { error: error.clone(), cause: cause.clone() };
            let event = insert_event_after(&tx, execution_arn, last, now_ms, failed)?;
            tx.prepare_cached(
                "UPDATE executions SET last_event_id = ?2, status = 'FAILED', stop_ms = ?3, wake_ms = NULL, drives = 0 WHERE arn = ?1",
            )?
            .execute(params![execution_arn, event.id, now_ms])?;
            tx.prepare_cached(CLOSE_EXECUTION_TOKENS)?.execute(params![execution_arn])?;
            tx.commit()?;
            Ok(DriveStart::Failed { error, cause })
        })
    }

    fn end_drive(&self, execution_arn: &str) -> Result<(), StoreError> {
        self.located(|| {
            self.unsynced()?.prepare_cached("UPDATE executions SET drives = 0 WHERE arn = ?1")?.execute(params![execution_arn])?;
            Ok(())
        })
    }

    fn stop_execution(&self, execution_arn: &str, error: &str, cause: &str, now_ms: i64) -> Result<HistoryEvent, StoreError> {
        self.located(|| {
            let mut conn = self.conn();
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let (status, last): (String, u64) = tx
                .prepare_cached("SELECT status, last_event_id FROM executions WHERE arn = ?1")?
                .query_row(params![execution_arn], |row| Ok((row.get(0)?, row.get(1)?)))
                .optional()?
                .ok_or_else(|| StoreError::NoSuchExecution(execution_arn.into()))?;
            let status = ExecutionStatus::parse(&status);
            if status != Some(ExecutionStatus::Running) {
                return Err(StoreError::Closed {
                    arn: execution_arn.into(),
                    status: status.map_or("in an unknown state", ExecutionStatus::as_str),
                });
            }
            let aborted = EventKind::ExecutionAborted { error: error.into(), cause: cause.into() };
            let event = insert_event_after(&tx, execution_arn, last, now_ms, aborted)?;
            tx.prepare_cached("UPDATE executions SET last_event_id = ?2, status = 'ABORTED', stop_ms = ?3 WHERE arn = ?1")?
                .execute(params![execution_arn, event.id, now_ms])?;
            tx.prepare_cached(CLOSE_EXECUTION_TOKENS)?.execute(params![execution_arn])?;
            tx.commit()?;
            Ok(event)
        })
    }

    fn redrive_execution(&self, execution_arn: &str, client_token: Option<&str>, now_ms: i64) -> Result<Redrive, StoreError> {
        self.located(|| {
            let mut conn = self.conn();
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
            type Row = (String, u64, u32, Option<i64>, Option<i64>, Option<String>);
            let (status, last, count, stop_ms, redrive_ms, last_token): Row = tx
                .prepare_cached(
                    "SELECT status, last_event_id, redrive_count, stop_ms, redrive_ms, redrive_token FROM executions WHERE arn = ?1",
                )?
                .query_row(params![execution_arn], |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?, row.get(3)?, row.get(4)?, row.get(5)?)))
                .optional()?
                .ok_or_else(|| StoreError::NoSuchExecution(execution_arn.into()))?;
            if let (Some(token), Some(last_token), Some(redrive_ms)) = (client_token, &last_token, redrive_ms) {
                if token == last_token {
                    return Ok(Redrive { redrive_count: count, redrive_ms, repeated: true });
                }
            }
            let refusal = match ExecutionStatus::parse(&status) {
                Some(status) => super::redrive_refusal(status, stop_ms, last, count, now_ms),
                None => Some(format!("its status {status:?} is unknown")),
            };
            if let Some(reason) = refusal {
                return Err(StoreError::NotRedrivable { arn: execution_arn.into(), reason });
            }
            let event = insert_event_after(&tx, execution_arn, last, now_ms, EventKind::ExecutionRedriven { redrive_count: count + 1 })?;
            tx.prepare_cached(
                "UPDATE executions SET last_event_id = ?2, status = 'RUNNING', stop_ms = NULL, wake_ms = NULL,
                 redrive_count = ?3, redrive_ms = ?4, redrive_token = ?5 WHERE arn = ?1",
            )?
            .execute(params![execution_arn, event.id, count + 1, now_ms, client_token])?;
            tx.prepare_cached("INSERT INTO redrives (execution_arn) VALUES (?1)")?.execute(params![execution_arn])?;
            tx.commit()?;
            Ok(Redrive { redrive_count: count + 1, redrive_ms: now_ms, repeated: false })
        })
    }

    fn open_task_token(&self, token: &str, execution_arn: &str, now_ms: i64) -> Result<(), StoreError> {
        self.located(|| {
            self.conn()
                .prepare_cached(
                    "INSERT INTO task_tokens (token, execution_arn, status, heartbeat_ms) VALUES (?1, ?2, 'WAITING', ?3)
                     ON CONFLICT (token) DO NOTHING",
                )?
                .execute(params![token, execution_arn, now_ms])?;
            Ok(())
        })
    }

    fn task_token(&self, token: &str) -> Result<Option<TokenState>, StoreError> {
        self.located(|| {
            let row: Option<(String, i64, Option<String>)> = self
                .conn()
                .prepare_cached("SELECT status, heartbeat_ms, result FROM task_tokens WHERE token = ?1")?
                .query_row(params![token], |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?)))
                .optional()?;
            let Some((status, heartbeat_ms, result)) = row else { return Ok(None) };
            let corrupt = |message: String| StoreError::Unreadable {
                path: self.location.clone(),
                message: format!("task token {token:?}: {message}"),
            };
            Ok(Some(match (status.as_str(), result) {
                (WAITING, _) => TokenState::Waiting { heartbeat_ms },
                (COMPLETED, Some(text)) => TokenState::Completed(serde_json::from_str(&text).map_err(|e| corrupt(e.to_string()))?),
                (CLOSED, _) => TokenState::Closed,
                (other, _) => return Err(corrupt(format!("unknown status {other:?}"))),
            }))
        })
    }

    fn send_task_result(&self, token: &str, result: &TaskResult) -> Result<(), StoreError> {
        self.located(|| {
            let text = serde_json::to_string(result)
                .map_err(|e| StoreError::Unreadable { path: self.location.clone(), message: e.to_string() })?;
            self.update_waiting_token(
                "UPDATE task_tokens SET status = 'COMPLETED', result = ?2 WHERE token = ?1 AND status = 'WAITING'",
                token,
                text,
            )?;
            self.token_waiters.wake(token);
            Ok(())
        })
    }

    fn token_answered<'a>(&'a self, token: &'a str) -> std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send + 'a>> {
        let waiter = self.token_waiters.waiter(token);
        Box::pin(async move { waiter.notified().await })
    }

    fn activity_task_queued<'a>(&'a self, activity_arn: &'a str) -> std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send + 'a>> {
        let waiter = self.activity_waiters.waiter(activity_arn);
        Box::pin(async move { waiter.notified().await })
    }

    fn send_task_heartbeat(&self, token: &str, now_ms: i64) -> Result<(), StoreError> {
        self.located(|| {
            self.update_waiting_token(
                "UPDATE task_tokens SET heartbeat_ms = max(heartbeat_ms, ?2) WHERE token = ?1 AND status = 'WAITING'",
                token,
                now_ms,
            )
        })
    }

    fn close_task_token(&self, token: &str) -> Result<Option<TaskResult>, StoreError> {
        self.located(|| {
            let updated = self
                .conn()
                .prepare_cached("UPDATE task_tokens SET status = 'CLOSED' WHERE token = ?1 AND status = 'WAITING'")?
                .execute(params![token])?;
            if updated > 0 {
                return Ok(None);
            }
            Ok(match self.task_token(token)? {
                Some(TokenState::Completed(result)) => Some(result),
                _ => None,
            })
        })
    }
}

impl SqliteStore {
    /// Runs one step of the store, its SQLite errors naming the file: a
    /// damaged page, a row that is not UTF-8 text, a lock.
    fn located<T>(&self, step: impl FnOnce() -> Result<T, StoreError>) -> Result<T, StoreError> {
        step().map_err(|e| match e {
            StoreError::Query(source) => StoreError::Open { path: self.location.clone(), source },
            other => other,
        })
    }

    fn activity_record(&self, (arn, name, created_ms, tags): (String, String, i64, String)) -> Result<ActivityRecord, StoreError> {
        let tags = serde_json::from_str(&tags).map_err(|e| StoreError::Unreadable {
            path: self.location.clone(),
            message: format!("activity {arn}: its tags are corrupt: {e}"),
        })?;
        Ok(ActivityRecord { arn, name, created_ms, tags })
    }

    /// Runs `update` (`?1` the token, `?2` the value) on a waiting token;
    /// when no row changed, says whether the token is unknown or not waiting.
    fn update_waiting_token(&self, update: &str, token: &str, value: impl rusqlite::ToSql) -> Result<(), StoreError> {
        let conn = self.conn();
        if conn.prepare_cached(update)?.execute(params![token, value])? > 0 {
            return Ok(());
        }
        let known = conn.prepare_cached("SELECT 1 FROM task_tokens WHERE token = ?1")?.exists(params![token])?;
        Err(if known { StoreError::TaskNotWaiting(token.into()) } else { StoreError::InvalidToken(token.into()) })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use std::sync::Arc;
    use stepwasm_engine::{EventKind, Scope};

    fn info(name: &str) -> ExecutionInfo {
        stepwasm_engine::execution_info("sm", name)
    }

    fn event(id: u64, kind: EventKind) -> HistoryEvent {
        HistoryEvent { id, previous_event_id: id.saturating_sub(1), timestamp_ms: 1_000 + id as i64, scope: Scope::root(), kind }
    }

    #[test]
    fn a_history_reads_back_as_written_and_ends_the_execution() {
        let store = SqliteStore::in_memory().unwrap();
        let a = info("a");
        store.create_execution(&a, 1_000).unwrap();
        let events = vec![
            event(1, EventKind::ExecutionStarted { input: json!({"x": 1}) }),
            event(2, EventKind::TaskSucceeded { resource: "r".into(), output: Arc::new(json!([1, "two"])) }),
            event(3, EventKind::ExecutionSucceeded { output: json!({"done": true}) }),
        ];
        for e in &events[..2] {
            store.append(&a.execution_arn, e).unwrap();
        }
        assert_eq!(store.executions(Some(ExecutionStatus::Running)).unwrap().len(), 1);
        store.append(&a.execution_arn, &events[2]).unwrap();
        assert_eq!(store.history(&a.execution_arn).unwrap(), events);
        let done = store.execution(&a.execution_arn).unwrap().unwrap();
        assert_eq!((done.status, done.start_ms, done.stop_ms), (ExecutionStatus::Succeeded, 1_000, Some(1_003)));
        assert!(store.executions(Some(ExecutionStatus::Running)).unwrap().is_empty());
        let err = store.append(&a.execution_arn, &event(4, EventKind::TaskStarted { resource: "r".into() })).unwrap_err();
        assert!(err.to_string().contains("is SUCCEEDED"), "{err}");
    }

    #[test]
    fn gaps_duplicates_unknown_executions_and_reused_names_are_refused() {
        let store = SqliteStore::in_memory().unwrap();
        let a = info("a");
        store.create_execution(&a, 0).unwrap();
        assert!(matches!(store.create_execution(&a, 0), Err(StoreError::ExecutionExists(_))));
        let started = event(1, EventKind::ExecutionStarted { input: json!({}) });
        store.append(&a.execution_arn, &started).unwrap();
        let dup = store.append(&a.execution_arn, &started).unwrap_err();
        assert!(matches!(dup, StoreError::OutOfOrder { last: 1, got: 1, .. }), "{dup}");
        let gap = store.append(&a.execution_arn, &event(3, EventKind::TaskStarted { resource: "r".into() })).unwrap_err();
        assert!(matches!(gap, StoreError::OutOfOrder { last: 1, got: 3, .. }), "{gap}");
        assert!(matches!(store.append("nope", &started), Err(StoreError::NoSuchExecution(_))));
        assert_eq!(store.history(&a.execution_arn).unwrap(), vec![started]);
    }

    #[test]
    fn a_batch_is_kept_whole_or_not_at_all() {
        let store = SqliteStore::in_memory().unwrap();
        let a = info("a");
        store.create_execution(&a, 0).unwrap();
        let batch = [event(1, EventKind::ExecutionStarted { input: json!({}) }), event(2, EventKind::TaskStarted { resource: "r".into() })];
        store.append_all(&a.execution_arn, &batch).unwrap();
        let broken = [event(3, EventKind::TaskStarted { resource: "r".into() }), event(5, EventKind::TaskStarted { resource: "r".into() })];
        assert!(matches!(store.append_all(&a.execution_arn, &broken), Err(StoreError::OutOfOrder { last: 3, got: 5, .. })));
        assert_eq!(store.history(&a.execution_arn).unwrap(), batch, "event 3 went with the refused batch");
        let past_the_end =
            [event(3, EventKind::ExecutionSucceeded { output: json!(1) }), event(4, EventKind::TaskStarted { resource: "r".into() })];
        assert!(matches!(store.append_all(&a.execution_arn, &past_the_end), Err(StoreError::Closed { .. })));
        assert_eq!(store.execution(&a.execution_arn).unwrap().unwrap().status, ExecutionStatus::Running);
    }

    #[test]
    fn grouped_appends_are_each_kept_or_refused_on_their_own() {
        let runtime = tokio::runtime::Builder::new_current_thread().build().unwrap();
        let block_on = |appending| runtime.block_on(appending);
        let store = SqliteStore::in_memory().unwrap();
        let infos: Vec<ExecutionInfo> = (0..12).map(|i| info(&format!("g{i}"))).collect();
        let started = [event(1, EventKind::ExecutionStarted { input: json!({}) })];
        let next = [event(2, EventKind::TaskStarted { resource: "r".into() })];
        let gap = [event(5, EventKind::TaskStarted { resource: "r".into() })];
        // Everything is handed over before the first answer is awaited, so
        // the committer takes several batches in one group.
        let first: Vec<_> = infos.iter().map(|i| store.start_execution_async(i, 0, &started)).collect();
        let taken = store.start_execution_async(&infos[0], 0, &started);
        assert!(first.into_iter().all(|f| block_on(f).is_ok()));
        assert!(matches!(block_on(taken), Err(StoreError::ExecutionExists(_))));
        let seconds: Vec<_> = infos
            .iter()
            .enumerate()
            .map(|(i, info)| store.append_all_async(&info.execution_arn, if i == 3 { &gap } else { &next }))
            .collect();
        let results: Vec<_> = seconds.into_iter().map(block_on).collect();
        for (i, result) in results.iter().enumerate() {
            let history = store.history(&infos[i].execution_arn).unwrap();
            if i == 3 {
                assert!(matches!(result, Err(StoreError::OutOfOrder { last: 1, got: 5, .. })), "{result:?}");
                assert_eq!(history.len(), 1, "the refused batch left nothing");
            } else {
                assert!(result.is_ok(), "{result:?}");
                assert_eq!(history.len(), 2);
            }
        }
    }

    #[test]
    fn a_park_note_holds_until_the_next_event_and_a_stale_one_is_not_taken() {
        let store = SqliteStore::in_memory().unwrap();
        let a = info("a");
        store.create_execution(&a, 0).unwrap();
        store.append(&a.execution_arn, &event(1, EventKind::ExecutionStarted { input: json!({}) })).unwrap();
        let wake = || store.execution(&a.execution_arn).unwrap().unwrap().wake_ms;
        store.park_execution(&a.execution_arn, 1, 86_400_000).unwrap();
        assert_eq!(wake(), Some(86_400_000));
        assert_eq!(store.executions_started_after(0).unwrap()[0].1.wake_ms, Some(86_400_000));
        store.append(&a.execution_arn, &event(2, EventKind::TaskStarted { resource: "r".into() })).unwrap();
        assert_eq!(wake(), None, "a new event ends the park");
        store.park_execution(&a.execution_arn, 1, 5).unwrap();
        assert_eq!(wake(), None, "a note about history 1..1 does not fit history 1..2");
    }

    /// The guard `serve` uses: 3 stops, waits of up to 4 s not counted.
    const GUARD: CrashGuard = CrashGuard { limit: 3, waits_up_to_ms: 4_000 };
    /// Times soon after the test events (1,001, ...) and long after them.
    const SOON: i64 = 2_000;
    const LATER: i64 = 100_000;

    fn go(stops: u32) -> DriveStart {
        DriveStart::Go { stops }
    }

    #[test]
    fn stops_while_evaluating_are_counted_and_past_the_limit_the_execution_is_failed() {
        let store = SqliteStore::in_memory().unwrap();
        let a = info("a");
        let arn = &a.execution_arn;
        store.create_execution(&a, 0).unwrap();
        store.append(arn, &event(1, EventKind::ExecutionStarted { input: json!({}) })).unwrap();
        let begin = |now_ms| store.begin_drive(arn, GUARD, now_ms).unwrap();
        // Begun soon after its latest event, a drive may have stopped in a short wait: not counted.
        assert_eq!([begin(SOON), begin(SOON), begin(LATER), begin(LATER), begin(LATER)], [0, 0, 0, 1, 2].map(go));
        // Progress (a settled event) starts the count over.
        store.append(arn, &event(2, EventKind::TaskSucceeded { resource: "r".into(), output: Arc::new(json!(1)) })).unwrap();
        assert_eq!([begin(LATER), begin(LATER), begin(LATER)], [0, 1, 2].map(go));
        // The host stopped 3 times in a row driving it since event 2: failed, as a stop is written.
        let DriveStart::Failed { error, cause } = begin(LATER) else { panic!("not failed") };
        assert_eq!(error, "States.Runtime");
        assert_eq!(cause, crash_loop_cause(3, 2));
        assert!(cause.contains("stopped 3 times in a row") && cause.contains("event 2"), "{cause}");
        let history = store.history(arn).unwrap();
        assert_eq!(history.len(), 3);
        assert_eq!((history[2].id, history[2].previous_event_id, history[2].timestamp_ms), (3, 2, LATER));
        assert_eq!(history[2].kind, EventKind::ExecutionFailed { error, cause });
        let summary = store.execution(arn).unwrap().unwrap();
        assert_eq!((summary.status, summary.stop_ms), (ExecutionStatus::Failed, Some(LATER)));
        let late = store.append(arn, &event(3, EventKind::TaskStarted { resource: "r".into() })).unwrap_err();
        assert!(late.to_string().contains("is FAILED"), "a driver still running it is refused: {late}");
        assert_eq!(begin(LATER), go(0), "an ended execution is not counted, nor failed again");
        assert_eq!(store.history(arn).unwrap().len(), 3);
        // Redriven: its history grew, so the count starts over.
        store.redrive_execution(arn, None, LATER).unwrap();
        assert_eq!(begin(LATER), go(0));
    }

    #[test]
    fn each_rerun_of_an_interrupted_task_is_a_stop_however_soon() {
        let store = SqliteStore::in_memory().unwrap();
        let a = info("a");
        let arn = &a.execution_arn;
        store.create_execution(&a, 0).unwrap();
        let started = |id| event(id, EventKind::TaskStarted { resource: "r".into() });
        store.append_all(arn, &[event(1, EventKind::ExecutionStarted { input: json!({}) }), started(2)]).unwrap();
        let begin = || store.begin_drive(arn, GUARD, SOON).unwrap();
        assert_eq!(begin(), go(1), "the host stopped while its task ran");
        store
            .append_all(arn, &[event(3, EventKind::TaskSucceeded { resource: "r".into(), output: Arc::new(json!(1)) }), started(4)])
            .unwrap();
        assert_eq!(begin(), go(1), "the task ended: only the next one's run counts");
        store.append(arn, &started(5)).unwrap();
        assert_eq!(begin(), go(2));
        store.append(arn, &started(6)).unwrap();
        let DriveStart::Failed { cause, .. } = begin() else { panic!("not failed") };
        assert_eq!(cause, crash_loop_cause(3, 6));
        assert_eq!(store.execution(arn).unwrap().unwrap().status, ExecutionStatus::Failed);
    }

    #[test]
    fn a_park_an_ended_drive_or_a_waiting_token_start_the_count_over_and_limit_zero_never_fails() {
        let store = SqliteStore::in_memory().unwrap();
        let a = info("a");
        let arn = &a.execution_arn;
        store.create_execution(&a, 0).unwrap();
        store.append(arn, &event(1, EventKind::ExecutionStarted { input: json!({}) })).unwrap();
        let begin = |limit| store.begin_drive(arn, CrashGuard { limit, ..GUARD }, LATER).unwrap();
        assert_eq!([begin(3), begin(3), begin(3)], [0, 1, 2].map(go));
        store.park_execution(arn, 1, 86_400_000).unwrap();
        assert_eq!([begin(3), begin(3)], [0, 1].map(go), "parked: that drive ended well");
        store.end_drive(arn).unwrap();
        assert_eq!(begin(3), go(0), "given up without the host stopping");
        // Waiting for a token's answer, across any number of restarts.
        store.open_task_token("swt01", arn, 0).unwrap();
        for _ in 0..5 {
            assert_eq!(begin(3), go(0));
        }
        store.send_task_result("swt01", &TaskResult::Success(json!(1))).unwrap();
        assert_eq!([begin(3), begin(3), begin(3)], [0, 1, 2].map(go), "answered: counted again");
        assert_eq!(begin(0), go(3), "limit 0: counted, never failed");
        assert!(matches!(begin(3), DriveStart::Failed { .. }));
        assert_eq!(store.begin_drive("arn:none", GUARD, LATER).unwrap(), go(0), "no such execution: the driver says so");
    }

    #[test]
    fn each_execution_runs_the_definition_version_it_started_with() {
        let store = SqliteStore::in_memory().unwrap();
        let (v1, v2) = (r#"{"v": 1}"#, r#"{"v": 2}"#);
        let (a, b) = (info("a"), info("b"));
        assert_eq!(store.put_state_machine(&a.state_machine_arn, "sm", v1).unwrap(), 1);
        assert_eq!(store.put_state_machine(&a.state_machine_arn, "sm", v1).unwrap(), 1, "unchanged text, same version");
        store.create_execution(&a, 0).unwrap();
        assert_eq!(store.put_state_machine(&a.state_machine_arn, "sm", v2).unwrap(), 2);
        store.create_execution(&b, 0).unwrap();
        assert_eq!(store.execution_definition(&a.execution_arn).unwrap(), Some((Some(1), v1.to_string())));
        assert_eq!(store.execution_definition(&b.execution_arn).unwrap(), Some((Some(2), v2.to_string())));
        assert_eq!(store.state_machine(&a.state_machine_arn).unwrap().as_deref(), Some(v2));
        assert_eq!(store.execution_definition("arn:none").unwrap(), None);
    }

    #[test]
    fn a_result_sent_through_the_store_wakes_the_driver_waiting_on_its_token() {
        let store = SqliteStore::in_memory().unwrap();
        let a = info("a");
        store.create_execution(&a, 0).unwrap();
        store.open_task_token("swt01", &a.execution_arn, 0).unwrap();
        store.open_task_token("swt02", &a.execution_arn, 0).unwrap();
        let mut context = std::task::Context::from_waker(std::task::Waker::noop());
        let mut first = store.token_answered("swt01");
        let mut second = store.token_answered("swt02");
        assert!(first.as_mut().poll(&mut context).is_pending());
        store.send_task_result("swt01", &TaskResult::Success(serde_json::json!(1))).unwrap();
        assert!(first.as_mut().poll(&mut context).is_ready(), "answered");
        assert!(second.as_mut().poll(&mut context).is_pending(), "another token is not woken");
        // Answered before anyone polled the wait: the wake-up is kept.
        store.send_task_result("swt02", &TaskResult::Success(serde_json::json!(2))).unwrap();
        assert!(second.as_mut().poll(&mut context).is_ready());
    }

    #[test]
    fn a_task_queued_through_the_store_wakes_a_worker_waiting_on_its_activity() {
        let store = SqliteStore::in_memory().unwrap();
        let (approve, ship) = ("arn:aws:states:local:000000000000:activity:approve", "arn:aws:states:local:000000000000:activity:ship");
        let a = info("a");
        store.create_execution(&a, 0).unwrap();
        let queue = |token: &str, activity: &str| {
            store.open_task_token(token, &a.execution_arn, 0).unwrap();
            let task = ActivityTask {
                token: token.into(),
                activity_arn: activity.into(),
                execution_arn: a.execution_arn.clone(),
                input: serde_json::json!({}),
                created_ms: 1,
            };
            store.queue_activity_task(&task).unwrap();
        };
        let mut context = std::task::Context::from_waker(std::task::Waker::noop());
        let mut first = store.activity_task_queued(approve);
        let mut second = store.activity_task_queued(approve);
        let mut shipping = store.activity_task_queued(ship);
        assert!(first.as_mut().poll(&mut context).is_pending());
        assert!(second.as_mut().poll(&mut context).is_pending());
        queue("swt01", approve);
        let woken = [first.as_mut().poll(&mut context).is_ready(), second.as_mut().poll(&mut context).is_ready()];
        assert_eq!(woken.iter().filter(|w| **w).count(), 1, "one task wakes one worker: {woken:?}");
        assert!(shipping.as_mut().poll(&mut context).is_pending(), "another activity's worker is not woken");
        // Queued before the other worker polled again: the wake-up is kept.
        queue("swt02", approve);
        let still_waiting = if woken[0] { &mut second } else { &mut first };
        assert!(still_waiting.as_mut().poll(&mut context).is_ready());
    }

    #[test]
    fn a_state_machines_executions_are_listed_newest_first() {
        let store = SqliteStore::in_memory().unwrap();
        let (a, b) = (info("a"), info("b"));
        let other = stepwasm_engine::execution_info("other", "c");
        store.create_execution(&a, 10).unwrap();
        store.create_execution(&b, 20).unwrap();
        store.create_execution(&other, 30).unwrap();
        store.stop_execution(&a.execution_arn, "", "", 40).unwrap();
        let names =
            |status| store.executions_of(&a.state_machine_arn, status).unwrap().into_iter().map(|e| e.info.name).collect::<Vec<_>>();
        assert_eq!(names(None), ["b", "a"]);
        assert_eq!(names(Some(ExecutionStatus::Aborted)), ["a"]);
        assert_eq!(names(Some(ExecutionStatus::Succeeded)), Vec::<String>::new());
    }

    #[test]
    fn activity_tasks_go_to_one_worker_each_while_their_token_waits() {
        let store = SqliteStore::in_memory().unwrap();
        let arn = "arn:aws:states:local:000000000000:activity:approve";
        let made = store.put_activity(arn, "approve", &Default::default(), 5).unwrap();
        assert_eq!(store.put_activity(arn, "approve", &Default::default(), 9).unwrap(), made, "again: unchanged");
        let a = info("a");
        store.create_execution(&a, 0).unwrap();
        let task = |token: &str, at: i64| ActivityTask {
            token: token.into(),
            activity_arn: arn.into(),
            execution_arn: a.execution_arn.clone(),
            input: serde_json::json!({"at": at}),
            created_ms: at,
        };
        for (token, at) in [("swt01", 1), ("swt02", 2), ("swt03", 3)] {
            store.open_task_token(token, &a.execution_arn, 0).unwrap();
            store.queue_activity_task(&task(token, at)).unwrap();
        }
        store.queue_activity_task(&task("swt01", 1)).unwrap();
        store.send_task_result("swt01", &TaskResult::Success(serde_json::json!(1))).unwrap();
        let taken = store.take_activity_task(arn, "w1").unwrap().unwrap();
        assert_eq!(taken, task("swt02", 2), "the oldest whose token still waits");
        assert_eq!(store.take_activity_task(arn, "w2").unwrap().unwrap().token, "swt03");
        assert_eq!(store.take_activity_task(arn, "w3").unwrap(), None, "each is handed out once");
        assert!(store.delete_activity(arn).unwrap());
        assert_eq!(store.activity(arn).unwrap(), None);
    }

    #[test]
    fn registered_resources_keep_their_modules_until_no_resource_uses_them() {
        let store = SqliteStore::in_memory().unwrap();
        let record = |resource: &str, sha: Option<&str>| TaskResourceRecord {
            resource: resource.into(),
            config: serde_json::json!({"fuel": 5}),
            module_sha256: sha.map(str::to_string),
            registered_ms: 7,
        };
        store.put_task_resource(&record("arn:a", Some("aa")), Some(b"module a")).unwrap();
        store.put_task_resource(&record("arn:b", Some("aa")), Some(b"module a")).unwrap();
        store.put_task_resource(&record("arn:c", None), None).unwrap();
        assert_eq!(store.task_resources().unwrap(), vec![record("arn:a", Some("aa")), record("arn:b", Some("aa")), record("arn:c", None)]);
        assert!(store.delete_task_resource("arn:a").unwrap());
        assert!(!store.delete_task_resource("arn:a").unwrap());
        assert_eq!(store.module("aa").unwrap().as_deref(), Some(&b"module a"[..]), "arn:b still uses it");
        store.put_task_resource(&record("arn:b", Some("bb")), Some(b"module b")).unwrap();
        assert_eq!(store.module("aa").unwrap(), None, "replaced, so no longer used");
        assert_eq!(store.module("bb").unwrap().as_deref(), Some(&b"module b"[..]));
    }

    #[test]
    fn state_machines_keep_details_and_a_deleted_ones_executions_keep_their_definition() {
        let store = SqliteStore::in_memory().unwrap();
        let a = info("a");
        let arn = &a.state_machine_arn;
        assert!(!store.set_state_machine_details(arn, &StateMachineDetails::default()).unwrap(), "no such machine yet");
        store.put_state_machine(arn, "sm", r#"{"v": 1}"#).unwrap();
        let fresh = store.describe_state_machine(arn).unwrap().unwrap();
        assert_eq!((fresh.name.as_str(), fresh.version, fresh.details.kind.as_str()), ("sm", 1, "STANDARD"));
        assert!(fresh.created_ms.is_some());
        let details = StateMachineDetails {
            kind: "EXPRESS".into(),
            role_arn: "arn:aws:iam::1:role/r".into(),
            tags: [("team".to_string(), "orders".to_string())].into(),
        };
        assert!(store.set_state_machine_details(arn, &details).unwrap());
        store.put_state_machine(arn, "sm", r#"{"v": 2}"#).unwrap();
        let updated = store.describe_state_machine(arn).unwrap().unwrap();
        assert_eq!((updated.version, &updated.details, updated.created_ms), (2, &details, fresh.created_ms));
        assert_eq!(store.state_machines().unwrap(), vec![updated]);
        store.create_execution(&a, 0).unwrap();
        assert!(store.delete_state_machine(arn).unwrap());
        assert!(!store.delete_state_machine(arn).unwrap());
        assert_eq!(store.describe_state_machine(arn).unwrap(), None);
        assert_eq!(store.execution_definition(&a.execution_arn).unwrap(), Some((Some(2), r#"{"v": 2}"#.to_string())));
    }

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
            store.append(&a.execution_arn, &event(1, EventKind::ExecutionStarted { input: json!({"k": "v"}) })).unwrap();
        }
        let store = SqliteStore::open(&path).unwrap();
        assert_eq!(store.state_machine("arn:sm").unwrap().as_deref(), Some("{\"StartAt\":\"S\"}"));
        assert_eq!(store.history(&a.execution_arn).unwrap().len(), 1);
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
