//! The `map_runs` table: each Distributed Map run of an execution, its
//! settings (UpdateMapRun changes them while it runs) and its counts (JSON
//! of [`MapRunCounts`]); and its child executions, found by their names
//! (`<map run id>-<index>`) in the index of executions by state machine
//! and name.

use super::executions::{summary, SUMMARY_COLUMNS};
use crate::{map_run_id, ExecutionSummary, MapRunCounts, MapRunRecord, MapRunStatus, StoreError};
use rusqlite::{params, Connection, OptionalExtension, TransactionBehavior};

const COLUMNS: &str = "arn, execution_arn, state_machine_arn, status, start_ms, stop_ms, max_concurrency, tolerated_failure_count, \
                       tolerated_failure_percentage, item_counts, execution_counts, redrive_count, redrive_ms";

type Row = (String, String, String, String, i64, Option<i64>, u32, i64, f64, String, String, u32, Option<i64>);

fn row(row: &rusqlite::Row) -> rusqlite::Result<Row> {
    Ok((
        row.get(0)?,
        row.get(1)?,
        row.get(2)?,
        row.get(3)?,
        row.get(4)?,
        row.get(5)?,
        row.get(6)?,
        row.get(7)?,
        row.get(8)?,
        row.get(9)?,
        row.get(10)?,
        row.get(11)?,
        row.get(12)?,
    ))
}

fn record(location: &str, row: Row) -> Result<MapRunRecord, StoreError> {
    let (
        map_run_arn,
        execution_arn,
        state_machine_arn,
        status,
        start_ms,
        stop_ms,
        max_concurrency,
        tolerated,
        percentage,
        items,
        executions,
        redrive_count,
        redrive_ms,
    ) = row;
    let corrupt = |what: &str, why: String| StoreError::Unreadable {
        path: location.to_string(),
        message: format!("map run {map_run_arn}: {what} {why}"),
    };
    let counts = |what: &str, text: &str| -> Result<MapRunCounts, StoreError> {
        serde_json::from_str(text).map_err(|e| corrupt(what, format!("are corrupt JSON: {e}")))
    };
    Ok(MapRunRecord {
        status: MapRunStatus::parse(&status).ok_or_else(|| corrupt("status", format!("{status:?} is unknown")))?,
        item_counts: counts("item counts", &items)?,
        execution_counts: counts("execution counts", &executions)?,
        start_ms,
        stop_ms,
        max_concurrency,
        tolerated_failure_count: u64::try_from(tolerated).unwrap_or(0),
        tolerated_failure_percentage: percentage,
        redrive_count,
        redrive_ms,
        map_run_arn,
        execution_arn,
        state_machine_arn,
    })
}

/// A count as SQLite's INTEGER keeps it (beyond `i64::MAX` is no count anyone means).
fn integer(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

fn json(location: &str, counts: &MapRunCounts) -> Result<String, StoreError> {
    serde_json::to_string(counts).map_err(|e| StoreError::Unreadable { path: location.to_string(), message: e.to_string() })
}

/// Keeps `run` unless a run with its ARN is kept already; returns the kept one.
pub(super) fn create(conn: &mut Connection, location: &str, run: &MapRunRecord) -> Result<MapRunRecord, StoreError> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    tx.prepare_cached(&format!(
        "INSERT INTO map_runs ({COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13) ON CONFLICT (arn) DO NOTHING"
    ))?
    .execute(params![
        run.map_run_arn,
        run.execution_arn,
        run.state_machine_arn,
        run.status.as_str(),
        run.start_ms,
        run.stop_ms,
        run.max_concurrency,
        integer(run.tolerated_failure_count),
        run.tolerated_failure_percentage,
        json(location, &run.item_counts)?,
        json(location, &run.execution_counts)?,
        run.redrive_count,
        run.redrive_ms,
    ])?;
    let kept = get(&tx, location, &run.map_run_arn)?;
    tx.commit()?;
    kept.ok_or_else(|| StoreError::Unreadable { path: location.to_string(), message: format!("map run {} was not kept", run.map_run_arn) })
}

pub(super) fn get(conn: &Connection, location: &str, map_run_arn: &str) -> Result<Option<MapRunRecord>, StoreError> {
    let found =
        conn.prepare_cached(&format!("SELECT {COLUMNS} FROM map_runs WHERE arn = ?1"))?.query_row(params![map_run_arn], row).optional()?;
    found.map(|r| record(location, r)).transpose()
}

/// The map runs of an execution, oldest first.
pub(super) fn of_execution(conn: &Connection, location: &str, execution_arn: &str) -> Result<Vec<MapRunRecord>, StoreError> {
    let mut stmt = conn.prepare_cached(&format!("SELECT {COLUMNS} FROM map_runs WHERE execution_arn = ?1 ORDER BY start_ms, rowid"))?;
    let rows = stmt.query_map(params![execution_arn], row)?.collect::<Result<Vec<_>, _>>()?;
    rows.into_iter().map(|r| record(location, r)).collect()
}

/// Changes the settings given; false if there is no such run.
pub(super) fn update(
    conn: &Connection,
    map_run_arn: &str,
    max_concurrency: Option<u32>,
    tolerated_failure_count: Option<u64>,
    tolerated_failure_percentage: Option<f64>,
) -> Result<bool, StoreError> {
    let changed = conn
        .prepare_cached(
            "UPDATE map_runs SET max_concurrency = coalesce(?2, max_concurrency),
                 tolerated_failure_count = coalesce(?3, tolerated_failure_count),
                 tolerated_failure_percentage = coalesce(?4, tolerated_failure_percentage)
             WHERE arn = ?1",
        )?
        .execute(params![map_run_arn, max_concurrency, tolerated_failure_count.map(integer), tolerated_failure_percentage])?;
    Ok(changed > 0)
}

pub(super) fn set_progress(
    conn: &Connection,
    location: &str,
    map_run_arn: &str,
    item_counts: &MapRunCounts,
    execution_counts: &MapRunCounts,
) -> Result<(), StoreError> {
    conn.prepare_cached("UPDATE map_runs SET item_counts = ?2, execution_counts = ?3 WHERE arn = ?1")?.execute(params![
        map_run_arn,
        json(location, item_counts)?,
        json(location, execution_counts)?
    ])?;
    Ok(())
}

/// Runs an ended run again as its redrive `redrive_count` (RUNNING, no
/// end); a run already at that count (or past it) is left as it is. False
/// if there is no such run.
pub(super) fn redrive(conn: &Connection, map_run_arn: &str, redrive_count: u32, now_ms: i64) -> Result<bool, StoreError> {
    let exists = conn.prepare_cached("SELECT 1 FROM map_runs WHERE arn = ?1")?.exists(params![map_run_arn])?;
    conn.prepare_cached(
        "UPDATE map_runs SET status = 'RUNNING', stop_ms = NULL, redrive_count = ?2, redrive_ms = ?3
         WHERE arn = ?1 AND redrive_count < ?2",
    )?
    .execute(params![map_run_arn, redrive_count, now_ms])?;
    Ok(exists)
}

/// Ends a RUNNING run; one that ended keeps its end.
pub(super) fn finish(conn: &Connection, map_run_arn: &str, status: MapRunStatus, stop_ms: i64) -> Result<(), StoreError> {
    conn.prepare_cached("UPDATE map_runs SET status = ?2, stop_ms = ?3 WHERE arn = ?1 AND status = 'RUNNING'")?.execute(params![
        map_run_arn,
        status.as_str(),
        stop_ms
    ])?;
    Ok(())
}

/// The executions of the run's child state machine named `<id>-…`, oldest
/// first: the names from `<id>-` up to (not with) `<id>.` (`.` follows `-`
/// in byte order), a range of the index by state machine and name (named:
/// the planner could take the index by start instead, to spare the sort, and
/// read every child of every run of that Map state).
pub(super) fn children(conn: &Connection, map_run_arn: &str) -> Result<Vec<ExecutionSummary>, StoreError> {
    let child_machine: Option<String> = conn
        .prepare_cached("SELECT state_machine_arn FROM map_runs WHERE arn = ?1")?
        .query_row(params![map_run_arn], |row| row.get(0))
        .optional()?;
    let Some(child_machine) = child_machine else { return Ok(Vec::new()) };
    let id = map_run_id(map_run_arn);
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {SUMMARY_COLUMNS} FROM executions INDEXED BY executions_by_state_machine_and_name
         WHERE state_machine_arn = ?1 AND name >= ?2 AND name < ?3 ORDER BY start_ms, rowid"
    ))?;
    let rows = stmt.query_map(params![child_machine, format!("{id}-"), format!("{id}.")], summary)?;
    Ok(rows.collect::<Result<_, _>>()?)
}

#[cfg(test)]
mod tests {
    use super::super::SqliteStore;
    use crate::Journal;
    use crate::{ExecutionStatus, MapRunCounts, MapRunRecord, MapRunStatus, Store};

    const PARENT: &str = "arn:aws:states:us-east-1:123456789012:execution:orders:e1";
    const CHILD_MACHINE: &str = "arn:aws:states:us-east-1:123456789012:stateMachine:orders/ProcessItems";

    fn run(id: &str, start_ms: i64) -> MapRunRecord {
        MapRunRecord {
            map_run_arn: format!("arn:aws:states:us-east-1:123456789012:mapRun:orders/ProcessItems:{id}"),
            execution_arn: PARENT.into(),
            state_machine_arn: CHILD_MACHINE.into(),
            status: MapRunStatus::Running,
            start_ms,
            stop_ms: None,
            max_concurrency: 10,
            tolerated_failure_count: 0,
            tolerated_failure_percentage: 0.0,
            item_counts: MapRunCounts { pending: 3, total: 3, ..MapRunCounts::default() },
            execution_counts: MapRunCounts::default(),
            redrive_count: 0,
            redrive_ms: None,
        }
    }

    fn child(store: &SqliteStore, name: &str, start_ms: i64) -> String {
        let info = stepwasm_engine::ExecutionInfo {
            execution_arn: format!("arn:aws:states:us-east-1:123456789012:execution:orders/ProcessItems:{name}"),
            name: name.into(),
            state_machine_arn: CHILD_MACHINE.into(),
            state_machine_name: "orders/ProcessItems".into(),
            ..stepwasm_engine::execution_info("orders", name)
        };
        store.create_execution(&info, start_ms).unwrap();
        info.execution_arn
    }

    #[test]
    fn a_run_created_again_keeps_what_was_kept_and_updates_change_only_what_is_given() {
        let store = SqliteStore::in_memory().unwrap();
        let first = run("r1", 100);
        assert_eq!(store.create_map_run(&first).unwrap(), first);
        assert!(store.update_map_run(&first.map_run_arn, Some(3), None, Some(12.5)).unwrap());
        assert!(!store
            .update_map_run("arn:aws:states:us-east-1:123456789012:mapRun:orders/ProcessItems:none", Some(1), None, None)
            .unwrap());
        // Started again after a crash, with the definition's settings: the kept run wins.
        let again = MapRunRecord { start_ms: 900, max_concurrency: 10, ..first.clone() };
        let kept = store.create_map_run(&again).unwrap();
        assert_eq!(
            (kept.start_ms, kept.max_concurrency, kept.tolerated_failure_count, kept.tolerated_failure_percentage),
            (100, 3, 0, 12.5)
        );
        assert!(store.update_map_run(&first.map_run_arn, None, Some(u64::MAX), None).unwrap());
        let updated = store.map_run(&first.map_run_arn).unwrap().unwrap();
        assert_eq!((updated.max_concurrency, updated.tolerated_failure_count), (3, i64::MAX as u64), "capped at what SQLite keeps");
        assert_eq!(store.map_run("arn:aws:states:us-east-1:123456789012:mapRun:orders/ProcessItems:none").unwrap(), None);
    }

    #[test]
    fn progress_is_kept_and_a_run_finishes_once() {
        let store = SqliteStore::in_memory().unwrap();
        let r = run("r1", 100);
        store.create_map_run(&r).unwrap();
        let items = MapRunCounts { succeeded: 2, failed: 1, total: 3, results_written: 2, ..MapRunCounts::default() };
        let executions = MapRunCounts { succeeded: 2, timed_out: 1, total: 3, ..MapRunCounts::default() };
        store.set_map_run_progress(&r.map_run_arn, &items, &executions).unwrap();
        store.finish_map_run(&r.map_run_arn, MapRunStatus::Failed, 500).unwrap();
        store.finish_map_run(&r.map_run_arn, MapRunStatus::Aborted, 700).unwrap();
        let kept = store.map_run(&r.map_run_arn).unwrap().unwrap();
        assert_eq!((kept.status, kept.stop_ms), (MapRunStatus::Failed, Some(500)), "the first end stays");
        assert_eq!((kept.item_counts, kept.execution_counts), (items, executions));
    }

    #[test]
    fn a_redrive_runs_an_ended_run_again_once_per_count() {
        let store = SqliteStore::in_memory().unwrap();
        let r = run("r1", 100);
        store.create_map_run(&r).unwrap();
        store.finish_map_run(&r.map_run_arn, MapRunStatus::Failed, 500).unwrap();
        assert!(store.redrive_map_run(&r.map_run_arn, 1, 800).unwrap());
        let kept = store.map_run(&r.map_run_arn).unwrap().unwrap();
        assert_eq!((kept.status, kept.stop_ms, kept.redrive_count, kept.redrive_ms), (MapRunStatus::Running, None, 1, Some(800)));
        // The same redrive again (resumed after a crash) changes nothing.
        store.finish_map_run(&r.map_run_arn, MapRunStatus::Succeeded, 900).unwrap();
        assert!(store.redrive_map_run(&r.map_run_arn, 1, 950).unwrap());
        let kept = store.map_run(&r.map_run_arn).unwrap().unwrap();
        assert_eq!((kept.status, kept.redrive_count, kept.redrive_ms), (MapRunStatus::Succeeded, 1, Some(800)));
        assert!(!store.redrive_map_run("arn:aws:states:us-east-1:123456789012:mapRun:orders/ProcessItems:none", 1, 1).unwrap());
    }

    #[test]
    fn an_executions_runs_are_listed_oldest_first() {
        let store = SqliteStore::in_memory().unwrap();
        store.create_map_run(&run("later", 200)).unwrap();
        store.create_map_run(&run("earlier", 100)).unwrap();
        store
            .create_map_run(&MapRunRecord {
                execution_arn: "arn:aws:states:us-east-1:123456789012:execution:orders:e2".into(),
                ..run("other", 50)
            })
            .unwrap();
        let ids: Vec<_> = store.map_runs_of(PARENT).unwrap().into_iter().map(|r| crate::map_run_id(&r.map_run_arn).to_string()).collect();
        assert_eq!(ids, ["earlier", "later"]);
        assert!(store.map_runs_of("arn:aws:states:us-east-1:123456789012:execution:orders:none").unwrap().is_empty());
    }

    #[test]
    fn a_runs_children_are_the_executions_named_after_it_oldest_first() {
        let store = SqliteStore::in_memory().unwrap();
        let r = run("r1", 100);
        store.create_map_run(&r).unwrap();
        store.create_map_run(&run("r10", 100)).unwrap();
        let second = child(&store, "r1-000001", 20);
        let first = child(&store, "r1-000000", 10);
        child(&store, "r10-000000", 5); // another run whose id starts alike
        child(&store, "r1", 5); // not a child: no index
        child(&store, "r1.000000", 5);
        let listed: Vec<_> = store.map_run_children(&r.map_run_arn).unwrap().into_iter().map(|e| e.info.execution_arn).collect();
        assert_eq!(listed, [first.clone(), second]);
        assert_eq!(store.map_run_children(&run("r10", 0).map_run_arn).unwrap().len(), 1);
        assert!(store.map_run_children(&run("none", 0).map_run_arn).unwrap().is_empty(), "no such run: no children");
        assert_eq!(store.map_run_children(&r.map_run_arn).unwrap()[0].status, ExecutionStatus::Running);
    }

    #[test]
    fn deleting_a_closed_execution_deletes_its_runs() {
        let store = SqliteStore::in_memory().unwrap();
        let parent = stepwasm_engine::execution_info("orders", "e1");
        assert_eq!(parent.execution_arn.rsplit(':').next(), Some("e1"));
        store.create_execution(&parent, 0).unwrap();
        let r = MapRunRecord { execution_arn: parent.execution_arn.clone(), ..run("r1", 100) };
        store.create_map_run(&r).unwrap();
        store.stop_execution(&parent.execution_arn, "", "", 1_000).unwrap();
        assert_eq!(store.delete_closed_before(2_000).unwrap(), 1);
        assert_eq!(store.map_run(&r.map_run_arn).unwrap(), None);
    }
}
