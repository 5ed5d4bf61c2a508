//! The store's tables and their upgrades: versioned migrations, numbered by
//! SQLite's `user_version`, applied in one `BEGIN IMMEDIATE` transaction so
//! that processes opening (or creating) the same store at once never see a
//! half-made layout or apply a step twice: the first takes the write lock
//! and migrates, the others find the version current once they get it.
//!
//! Version 0 is every store made before versions were numbered (or a new
//! file): migration 1 creates what is missing and adds the columns older
//! layouts lack. A new change to the layout is a new entry in
//! [`MIGRATIONS`]; a store of a later version than this build knows is
//! refused, not guessed at.

use rusqlite::{Connection, TransactionBehavior};

/// The tables of the first numbered layout, created where missing.
const LAYOUT_1: &str = "
CREATE TABLE IF NOT EXISTS state_machines (
    arn TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    definition TEXT NOT NULL
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS state_machine_versions (
    arn TEXT NOT NULL,
    version INTEGER NOT NULL,
    definition TEXT NOT NULL,
    PRIMARY KEY (arn, version)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS task_resources (
    resource TEXT PRIMARY KEY,
    config TEXT NOT NULL,
    module_sha256 TEXT,
    registered_ms INTEGER NOT NULL
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS modules (
    sha256 TEXT PRIMARY KEY,
    bytes BLOB NOT NULL
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS activities (
    arn TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    created_ms INTEGER NOT NULL,
    tags TEXT NOT NULL
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS activity_tasks (
    token TEXT PRIMARY KEY,
    activity_arn TEXT NOT NULL,
    execution_arn TEXT NOT NULL,
    input TEXT NOT NULL,
    created_ms INTEGER NOT NULL,
    worker TEXT
);
CREATE INDEX IF NOT EXISTS activity_tasks_queued ON activity_tasks (activity_arn, worker, created_ms);
CREATE TABLE IF NOT EXISTS executions (
    arn TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    state_machine_arn TEXT NOT NULL,
    state_machine_name TEXT NOT NULL,
    status TEXT NOT NULL,
    start_ms INTEGER NOT NULL,
    stop_ms INTEGER,
    last_event_id INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS executions_by_status ON executions (status);
-- Each redrive of an execution, in order, for the host that drives it on.
CREATE TABLE IF NOT EXISTS redrives (
    position INTEGER PRIMARY KEY AUTOINCREMENT,
    execution_arn TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS executions_by_state_machine ON executions (state_machine_arn, start_ms);
CREATE TABLE IF NOT EXISTS events (
    execution_arn TEXT NOT NULL,
    id INTEGER NOT NULL,
    event TEXT NOT NULL,
    PRIMARY KEY (execution_arn, id)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS task_tokens (
    token TEXT PRIMARY KEY,
    execution_arn TEXT NOT NULL,
    status TEXT NOT NULL,
    heartbeat_ms INTEGER NOT NULL,
    result TEXT
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS task_tokens_by_execution ON task_tokens (execution_arn, status);";

/// Columns that unnumbered stores may lack, added by migration 1: definitions
/// had versions (their executions run the definition kept in
/// `state_machines`, version NULL), parked executions noted a wake-up time,
/// state machines kept details and a creation time, executions were
/// redriven, drives were counted (none yet: nothing is held against an
/// execution of an older store).
const COLUMNS_1: [(&str, &str, &str); 9] = [
    ("executions", "definition_version", "INTEGER"),
    ("executions", "wake_ms", "INTEGER"),
    ("state_machines", "created_ms", "INTEGER"),
    ("state_machines", "details", "TEXT"),
    ("executions", "redrive_count", "INTEGER NOT NULL DEFAULT 0"),
    ("executions", "redrive_ms", "INTEGER"),
    ("executions", "redrive_token", "TEXT"),
    // The crash-loop guard: drives that did not end, counted since the
    // settled event `drive_mark` (see `begin_drive`).
    ("executions", "drives", "INTEGER NOT NULL DEFAULT 0"),
    ("executions", "drive_mark", "INTEGER NOT NULL DEFAULT 0"),
];

/// One step of the layout: from version `n` to `n + 1` (its index + 1).
type Migration = fn(&Connection) -> rusqlite::Result<()>;

/// Every migration, in order; `MIGRATIONS[n]` brings version `n` to `n + 1`.
const MIGRATIONS: [Migration; 6] =
    [numbered_layout, versions_aliases_and_test_cases, map_runs, map_run_redrives, stops_by_time, events_by_execution_key];

/// The version this build writes.
pub const LATEST: i64 = MIGRATIONS.len() as i64;

/// Migration 1: the layout of unnumbered stores, completed.
fn numbered_layout(conn: &Connection) -> rusqlite::Result<()> {
    conn.execute_batch(LAYOUT_1)?;
    for (table, column, kind) in COLUMNS_1 {
        let present = conn.prepare(&format!("SELECT 1 FROM pragma_table_info('{table}') WHERE name = ?1"))?.exists([column])?;
        if !present {
            conn.execute_batch(&format!("ALTER TABLE {table} ADD COLUMN {column} {kind}"))?;
        }
    }
    Ok(())
}

/// The layout of migration 2: AWS's published versions of a state machine
/// (each naming the definition version it froze), aliases routing to them
/// (`routing` is the JSON of AWS's routingConfiguration), and per execution
/// the qualified ARN it was started through (a version or an alias), the
/// role it runs as (`$$.Execution.RoleArn`, kept as it started) and the mock
/// test case it runs (SFN Local's `stateMachineArn#TestCase`).
const LAYOUT_2: &str = "
CREATE TABLE published_versions (
    state_machine_arn TEXT NOT NULL,
    version INTEGER NOT NULL,
    definition_version INTEGER NOT NULL,
    description TEXT,
    created_ms INTEGER NOT NULL,
    details TEXT,
    PRIMARY KEY (state_machine_arn, version)
) WITHOUT ROWID;
CREATE TABLE aliases (
    arn TEXT PRIMARY KEY,
    state_machine_arn TEXT NOT NULL,
    name TEXT NOT NULL,
    description TEXT,
    routing TEXT NOT NULL,
    created_ms INTEGER NOT NULL,
    updated_ms INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX aliases_by_state_machine ON aliases (state_machine_arn, name);
ALTER TABLE executions ADD COLUMN started_through TEXT;
ALTER TABLE executions ADD COLUMN test_case TEXT;
ALTER TABLE executions ADD COLUMN role_arn TEXT;";

/// Migration 2: published versions, aliases, and what an execution was
/// started through (see [`LAYOUT_2`]).
fn versions_aliases_and_test_cases(conn: &Connection) -> rusqlite::Result<()> {
    conn.execute_batch(LAYOUT_2)
}

/// The layout of migration 3: Distributed Map's map runs (their counts are
/// the JSON of [`MapRunCounts`](crate::MapRunCounts)), listed per execution
/// oldest first; and executions by state machine and name, so a map run's
/// children (named `<map run id>-<index>`) are found by a range of names.
const LAYOUT_3: &str = "
CREATE TABLE map_runs (
    arn TEXT PRIMARY KEY,
    execution_arn TEXT NOT NULL,
    state_machine_arn TEXT NOT NULL,
    status TEXT NOT NULL,
    start_ms INTEGER NOT NULL,
    stop_ms INTEGER,
    max_concurrency INTEGER NOT NULL,
    tolerated_failure_count INTEGER NOT NULL,
    tolerated_failure_percentage REAL NOT NULL,
    item_counts TEXT NOT NULL,
    execution_counts TEXT NOT NULL
);
CREATE INDEX map_runs_by_execution ON map_runs (execution_arn, start_ms);
CREATE INDEX executions_by_state_machine_and_name ON executions (state_machine_arn, name);";

/// Migration 3: map runs (see [`LAYOUT_3`]).
fn map_runs(conn: &Connection) -> rusqlite::Result<()> {
    conn.execute_batch(LAYOUT_3)
}

/// Migration 4: how many times each map run was redriven, and when last
/// (DescribeMapRun's `redriveCount` and `redriveDate`).
fn map_run_redrives(conn: &Connection) -> rusqlite::Result<()> {
    conn.execute_batch(
        "ALTER TABLE map_runs ADD COLUMN redrive_count INTEGER NOT NULL DEFAULT 0;
         ALTER TABLE map_runs ADD COLUMN redrive_ms INTEGER;",
    )
}

/// Migration 5: the stopped (ABORTED) executions by stop time, which
/// `serve` asks for at every poll; without it each poll read every ABORTED
/// execution the store ever kept. Partial: only ABORTED rows are in it, so
/// no other execution's writes pay for it.
fn stops_by_time(conn: &Connection) -> rusqlite::Result<()> {
    conn.execute_batch("CREATE INDEX executions_aborted_by_stop ON executions (stop_ms) WHERE status = 'ABORTED';")
}

/// The layout of migration 6: each execution has a key of its own (`key`,
/// the rowid it always had, now named so that no VACUUM renumbers it), and
/// `events` is a log in the order events were appended, found per execution
/// by its key and event id (`events_by_execution`). Events used to be a
/// table ordered by (execution ARN, id): each row ~75 bytes of ARN longer,
/// and each execution's events where its name sorted (anywhere, for
/// generated names), so a group commit wrote a page per execution in flight
/// for a few hundred bytes each. Now a group's events fill the log's last
/// pages, and its index entries (a few bytes each) those of the newest keys.
const LAYOUT_6: &str = "
CREATE TABLE executions_keyed (
    key INTEGER PRIMARY KEY,
    arn TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL,
    state_machine_arn TEXT NOT NULL,
    state_machine_name TEXT NOT NULL,
    status TEXT NOT NULL,
    start_ms INTEGER NOT NULL,
    stop_ms INTEGER,
    last_event_id INTEGER NOT NULL DEFAULT 0,
    definition_version INTEGER,
    wake_ms INTEGER,
    redrive_count INTEGER NOT NULL DEFAULT 0,
    redrive_ms INTEGER,
    redrive_token TEXT,
    drives INTEGER NOT NULL DEFAULT 0,
    drive_mark INTEGER NOT NULL DEFAULT 0,
    started_through TEXT,
    test_case TEXT,
    role_arn TEXT
);
INSERT INTO executions_keyed
    (key, arn, name, state_machine_arn, state_machine_name, status, start_ms, stop_ms, last_event_id, definition_version, wake_ms,
     redrive_count, redrive_ms, redrive_token, drives, drive_mark, started_through, test_case, role_arn)
SELECT rowid, arn, name, state_machine_arn, state_machine_name, status, start_ms, stop_ms, last_event_id, definition_version, wake_ms,
       redrive_count, redrive_ms, redrive_token, drives, drive_mark, started_through, test_case, role_arn
FROM executions;
CREATE TABLE events_keyed (
    execution INTEGER NOT NULL,
    id INTEGER NOT NULL,
    event TEXT NOT NULL
);
CREATE UNIQUE INDEX events_by_execution ON events_keyed (execution, id);
INSERT INTO events_keyed (execution, id, event)
SELECT x.key, e.id, e.event FROM events AS e JOIN executions_keyed AS x ON x.arn = e.execution_arn;
DROP TABLE events;
DROP TABLE executions;
ALTER TABLE executions_keyed RENAME TO executions;
ALTER TABLE events_keyed RENAME TO events;
CREATE INDEX executions_by_status ON executions (status);
CREATE INDEX executions_by_state_machine ON executions (state_machine_arn, start_ms);
CREATE INDEX executions_by_state_machine_and_name ON executions (state_machine_arn, name);
CREATE INDEX executions_aborted_by_stop ON executions (stop_ms) WHERE status = 'ABORTED';";

/// Migration 6: executions keyed by an integer, their events a log indexed
/// by it (see [`LAYOUT_6`]). Events of no execution (none are written so)
/// are dropped.
fn events_by_execution_key(conn: &Connection) -> rusqlite::Result<()> {
    conn.execute_batch(LAYOUT_6)
}

/// Why the layout could not be brought up to date.
#[derive(Debug, thiserror::Error)]
pub enum SchemaError {
    #[error("its layout is version {found}, newer than this stepwasm knows ({LATEST}): use a newer stepwasm")]
    Newer { found: i64 },
    #[error("its layout is not a stepwasm store's: {0}")]
    NotOurs(rusqlite::Error),
    #[error(transparent)]
    Sqlite(#[from] rusqlite::Error),
}

/// Brings the layout of `conn`'s database to [`LATEST`], then proves it is
/// ours. A store already current costs one read of its header.
pub fn migrate(conn: &mut Connection) -> Result<(), SchemaError> {
    let version = user_version(conn)?;
    if version > LATEST {
        return Err(SchemaError::Newer { found: version });
    }
    if version < LATEST {
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        // Read again under the write lock: another process may have migrated meanwhile.
        let version = user_version(&tx)?;
        if version > LATEST {
            return Err(SchemaError::Newer { found: version });
        }
        for migration in &MIGRATIONS[version.max(0) as usize..] {
            migration(&tx).map_err(not_ours)?;
        }
        // Tables of the same names but another shape are not stamped ours.
        prove_layout(&tx).map_err(not_ours)?;
        tx.pragma_update(None, "user_version", LATEST)?;
        tx.commit()?;
        return Ok(());
    }
    prove_layout(conn).map_err(not_ours)
}

/// A plain SQL error (no such table or column) means another layout; any
/// other (a damaged file, a lock) is itself.
fn not_ours(error: rusqlite::Error) -> SchemaError {
    let plain = matches!(error, rusqlite::Error::SqlInputError { .. }) || error.sqlite_error_code() == Some(rusqlite::ErrorCode::Unknown);
    if plain {
        SchemaError::NotOurs(error)
    } else {
        SchemaError::Sqlite(error)
    }
}

fn user_version(conn: &Connection) -> rusqlite::Result<i64> {
    conn.query_row("PRAGMA user_version", [], |row| row.get(0))
}

/// Every table with the columns the store reads: preparing (not running) a
/// query of each proves it without reading a row.
fn prove_layout(conn: &Connection) -> rusqlite::Result<()> {
    const TABLES: [(&str, &str); 13] = [
        ("state_machines", "arn, name, definition, created_ms, details"),
        ("state_machine_versions", "arn, version, definition"),
        ("task_resources", "resource, config, module_sha256, registered_ms"),
        ("modules", "sha256, bytes"),
        ("activities", "arn, name, created_ms, tags"),
        ("activity_tasks", "token, activity_arn, execution_arn, input, created_ms, worker"),
        (
            "executions",
            "key, arn, name, state_machine_arn, state_machine_name, status, start_ms, stop_ms, last_event_id, \
             definition_version, wake_ms, redrive_count, redrive_ms, redrive_token, drives, drive_mark, started_through, test_case, role_arn",
        ),
        ("redrives", "position, execution_arn"),
        ("events", "execution, id, event"),
        ("task_tokens", "token, execution_arn, status, heartbeat_ms, result"),
        ("published_versions", "state_machine_arn, version, definition_version, description, created_ms, details"),
        ("aliases", "arn, state_machine_arn, name, description, routing, created_ms, updated_ms"),
        (
            "map_runs",
            "arn, execution_arn, state_machine_arn, status, start_ms, stop_ms, max_concurrency, tolerated_failure_count, \
             tolerated_failure_percentage, item_counts, execution_counts, redrive_count, redrive_ms",
        ),
    ];
    for (table, columns) in TABLES {
        conn.prepare(&format!("SELECT {columns} FROM {table} LIMIT 0"))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A database in memory with the layout of `version`, stamped so.
    fn store_of_version(version: usize) -> Connection {
        let conn = Connection::open_in_memory().unwrap();
        for migration in &MIGRATIONS[..version] {
            migration(&conn).unwrap();
        }
        conn.pragma_update(None, "user_version", version as i64).unwrap();
        conn
    }

    #[test]
    fn a_new_database_is_migrated_once_and_stamped() {
        let mut conn = Connection::open_in_memory().unwrap();
        migrate(&mut conn).unwrap();
        assert_eq!(user_version(&conn).unwrap(), LATEST);
        migrate(&mut conn).unwrap();
        conn.pragma_update(None, "user_version", LATEST + 1).unwrap();
        let err = migrate(&mut conn).unwrap_err().to_string();
        assert!(err.contains("newer than this stepwasm knows"), "{err}");
    }

    #[test]
    fn a_store_of_version_2_gains_map_runs_and_keeps_its_executions() {
        let mut conn = store_of_version(2);
        conn.execute_batch(
            "INSERT INTO executions (arn, name, state_machine_arn, state_machine_name, status, start_ms)
             VALUES ('arn:e', 'e', 'arn:sm', 'sm', 'RUNNING', 0)",
        )
        .unwrap();
        assert!(conn.prepare("SELECT arn FROM map_runs").is_err(), "version 2 has no map runs");
        migrate(&mut conn).unwrap();
        assert_eq!(user_version(&conn).unwrap(), LATEST);
        let kept: i64 = conn.query_row("SELECT count(*) FROM executions", [], |row| row.get(0)).unwrap();
        assert_eq!(kept, 1);
        let indexed: i64 = conn
            .query_row(
                "SELECT count(*) FROM sqlite_schema WHERE name IN ('map_runs_by_execution', 'executions_by_state_machine_and_name')",
                [],
                |row| row.get(0),
            )
            .unwrap();
        assert_eq!(indexed, 2);
        let redrives: i64 = conn.query_row("SELECT count(redrive_count) FROM map_runs", [], |row| row.get(0)).unwrap();
        assert_eq!(redrives, 0, "map runs have their redrive count");
        conn.pragma_update(None, "user_version", LATEST + 1).unwrap();
        assert!(matches!(migrate(&mut conn), Err(SchemaError::Newer { .. })), "a newer layout is still refused");
    }

    #[test]
    fn a_store_of_version_5_keeps_its_executions_keys_and_histories_under_the_keys() {
        let mut conn = store_of_version(5);
        // Rowids with a gap (a deleted execution), and an event of no execution.
        conn.execute_batch(
            "INSERT INTO executions (rowid, arn, name, state_machine_arn, state_machine_name, status, start_ms, last_event_id, role_arn)
             VALUES (3, 'arn:a', 'a', 'arn:sm', 'sm', 'SUCCEEDED', 0, 2, 'arn:role'), (7, 'arn:b', 'b', 'arn:sm', 'sm', 'RUNNING', 1, 1, NULL);
             INSERT INTO events (execution_arn, id, event) VALUES ('arn:a', 1, 'a1'), ('arn:a', 2, 'a2'), ('arn:b', 1, 'b1'), ('arn:gone', 1, 'x');
             INSERT INTO redrives (execution_arn) VALUES ('arn:b');",
        )
        .unwrap();
        migrate(&mut conn).unwrap();
        assert_eq!(user_version(&conn).unwrap(), LATEST);
        let rows = |sql: &str| -> Vec<String> {
            conn.prepare(sql).unwrap().query_map([], |row| row.get(0)).unwrap().map(Result::unwrap).collect()
        };
        assert_eq!(
            rows("SELECT key || ' ' || arn || ' ' || status || ' ' || coalesce(role_arn, '-') FROM executions ORDER BY key"),
            ["3 arn:a SUCCEEDED arn:role", "7 arn:b RUNNING -"]
        );
        assert_eq!(
            rows("SELECT execution || ' ' || id || ' ' || event FROM events ORDER BY execution, id"),
            ["3 1 a1", "3 2 a2", "7 1 b1"]
        );
        // A new execution gets a key after every earlier one (serve's position).
        conn.execute_batch("INSERT INTO executions (arn, name, state_machine_arn, state_machine_name, status, start_ms) VALUES ('arn:c', 'c', 'arn:sm', 'sm', 'RUNNING', 2)").unwrap();
        assert_eq!(rows("SELECT CAST(key AS TEXT) FROM executions WHERE arn = 'arn:c'"), ["8"]);
        let err = conn.execute_batch("INSERT INTO executions (arn, name, state_machine_arn, state_machine_name, status, start_ms) VALUES ('arn:c', 'c', 'arn:sm', 'sm', 'RUNNING', 2)");
        assert!(err.is_err(), "an ARN is still unique");
        assert!(conn.execute_batch("INSERT INTO events (execution, id, event) VALUES (3, 2, 'again')").is_err(), "so is an event id");
        let indexes = rows(
            "SELECT name FROM sqlite_schema WHERE type = 'index' AND tbl_name IN ('executions', 'events') AND name NOT LIKE 'sqlite_%'
             ORDER BY name",
        );
        assert_eq!(
            indexes,
            [
                "events_by_execution",
                "executions_aborted_by_stop",
                "executions_by_state_machine",
                "executions_by_state_machine_and_name",
                "executions_by_status"
            ]
        );
        let mut explain = conn.prepare("EXPLAIN QUERY PLAN SELECT id, event FROM events WHERE execution = 3 ORDER BY id").unwrap();
        let plan: Vec<String> = explain.query_map([], |row| row.get(3)).unwrap().map(Result::unwrap).collect();
        let plan = plan.join("; ");
        assert!(plan.contains("events_by_execution"), "a history is read by the index, in order: {plan}");
    }

    #[test]
    fn tables_of_another_shape_are_not_ours() {
        let mut conn = Connection::open_in_memory().unwrap();
        conn.execute_batch("CREATE TABLE events (x INTEGER)").unwrap();
        let err = migrate(&mut conn).unwrap_err();
        assert!(matches!(err, SchemaError::NotOurs(_)), "{err}");
        assert_eq!(user_version(&conn).unwrap(), 0, "nothing of a refused migration stays");
    }
}
