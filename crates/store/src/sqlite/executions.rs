//! The `executions` table (and `redrives`): each execution's row, where it
//! stands and when; its listings; a park note; and the steps that end or
//! restart it from outside its driver (stop, redrive).

use super::{events, task_tokens};
use crate::{ExecutionStatus, ExecutionSummary, Redrive, StoreError};
use rusqlite::{params, Connection, OptionalExtension, TransactionBehavior};
use stepwasm_engine::{EventKind, ExecutionInfo, HistoryEvent};

/// The columns [`summary`] reads, in its order; the last is the role the
/// execution runs as: the one it started with, or for an execution of an
/// older store (which kept none) its state machine's `roleArn`.
pub(super) const SUMMARY_COLUMNS: &str =
    "arn, name, state_machine_arn, state_machine_name, status, start_ms, stop_ms, wake_ms, redrive_count, redrive_ms, test_case,
     coalesce(role_arn, (SELECT json_extract(m.details, '$.role_arn') FROM state_machines AS m WHERE m.arn = executions.state_machine_arn))";

/// The index of the first column a query selects after [`SUMMARY_COLUMNS`].
const AFTER_SUMMARY: usize = 12;

pub(super) fn summary(row: &rusqlite::Row) -> rusqlite::Result<ExecutionSummary> {
    let status: String = row.get(4)?;
    let state_machine_arn: String = row.get(2)?;
    // A machine deleted since, or made without a role: the default role.
    let role: Option<String> = row.get(11)?;
    let role_arn = role.filter(|r| !r.is_empty()).unwrap_or_else(|| stepwasm_engine::arn::default_role_arn(&state_machine_arn));
    Ok(ExecutionSummary {
        info: ExecutionInfo {
            execution_arn: row.get(0)?,
            name: row.get(1)?,
            state_machine_arn,
            state_machine_name: row.get(3)?,
            role_arn,
            test_case: row.get(10)?,
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

/// Registers a new, running execution of the latest version of its state
/// machine, with the role it runs as and the mock test case it runs, if any
/// (in the same statement: whoever drives it sees them from the start).
pub(super) fn insert(conn: &Connection, info: &ExecutionInfo, start_ms: i64) -> Result<(), StoreError> {
    let inserted = conn
        .prepare_cached(
            "INSERT INTO executions (arn, name, state_machine_arn, state_machine_name, status, start_ms, definition_version, test_case, role_arn)
             VALUES (?1, ?2, ?3, ?4, 'RUNNING', ?5, (SELECT max(version) FROM state_machine_versions WHERE arn = ?3), ?6, ?7)
             ON CONFLICT (arn) DO NOTHING",
        )?
        .execute(params![info.execution_arn, info.name, info.state_machine_arn, info.state_machine_name, start_ms, info.test_case, info.role_arn])?;
    if inserted == 0 {
        return Err(StoreError::ExecutionExists(info.name.clone()));
    }
    Ok(())
}

pub(super) fn get(conn: &Connection, execution_arn: &str) -> Result<Option<ExecutionSummary>, StoreError> {
    Ok(conn
        .prepare_cached(&format!("SELECT {SUMMARY_COLUMNS} FROM executions WHERE arn = ?1"))?
        .query_row(params![execution_arn], summary)
        .optional()?)
}

/// The executions with `status` (all when `None`), oldest first.
pub(super) fn list(conn: &Connection, status: Option<ExecutionStatus>) -> Result<Vec<ExecutionSummary>, StoreError> {
    let mut stmt =
        conn.prepare_cached(&format!("SELECT {SUMMARY_COLUMNS} FROM executions WHERE ?1 IS NULL OR status = ?1 ORDER BY start_ms, rowid"))?;
    let rows = stmt.query_map(params![status.map(ExecutionStatus::as_str)], summary)?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// The executions of one state machine with `status` (all when `None`), newest first.
pub(super) fn of_state_machine(
    conn: &Connection,
    state_machine_arn: &str,
    status: Option<ExecutionStatus>,
) -> Result<Vec<ExecutionSummary>, StoreError> {
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {SUMMARY_COLUMNS} FROM executions WHERE state_machine_arn = ?1 AND (?2 IS NULL OR status = ?2)
         ORDER BY start_ms DESC, rowid DESC"
    ))?;
    let rows = stmt.query_map(params![state_machine_arn, status.map(ExecutionStatus::as_str)], summary)?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// The RUNNING executions registered after `position`, with their positions.
pub(super) fn started_after(conn: &Connection, position: i64) -> Result<Vec<(i64, ExecutionSummary)>, StoreError> {
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {SUMMARY_COLUMNS}, rowid FROM executions WHERE rowid > ?1 AND status = 'RUNNING' ORDER BY rowid"
    ))?;
    let rows = stmt.query_map(params![position], |row| Ok((row.get(AFTER_SUMMARY)?, summary(row)?)))?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// The still RUNNING executions redriven after `position`, with the
/// positions of their latest redrives.
pub(super) fn redriven_after(conn: &Connection, position: i64) -> Result<Vec<(i64, ExecutionSummary)>, StoreError> {
    let mut stmt = conn.prepare_cached(&redriven_after_query())?;
    let rows = stmt.query_map(params![position], |row| Ok((row.get(AFTER_SUMMARY)?, summary(row)?)))?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// [`redriven_after`]'s query. `CROSS JOIN` keeps the redrives after the
/// position as the outer loop: left to itself, SQLite's planner walks every
/// RUNNING execution by `executions_by_status` and probes the redrives for
/// each, which costs each poll of `serve` a scan of all executions in flight
/// (thousands while a backlog is worked off).
fn redriven_after_query() -> String {
    format!(
        "SELECT {SUMMARY_COLUMNS}, position FROM
           (SELECT execution_arn, max(position) AS position FROM redrives WHERE position > ?1 GROUP BY execution_arn) AS latest
           CROSS JOIN executions ON executions.arn = latest.execution_arn
         WHERE executions.status = 'RUNNING' ORDER BY position"
    )
}

/// The executions stopped (ABORTED) at or after `since_ms`.
pub(super) fn stopped_since(conn: &Connection, since_ms: i64) -> Result<Vec<ExecutionSummary>, StoreError> {
    let mut stmt = conn.prepare_cached(&stopped_since_query())?;
    let rows = stmt.query_map(params![since_ms], summary)?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// [`stopped_since`]'s query: a range of `executions_aborted_by_stop`,
/// named, since the planner (without statistics) would rather walk every
/// ABORTED execution by `executions_by_status`.
fn stopped_since_query() -> String {
    format!("SELECT {SUMMARY_COLUMNS} FROM executions INDEXED BY executions_aborted_by_stop WHERE status = 'ABORTED' AND stop_ms >= ?1")
}

/// Notes the wake-up time of a running execution whose history ends with
/// `last_event_id` (a note about another history is not taken), and starts
/// its crash-loop count over.
pub(super) fn park(conn: &Connection, execution_arn: &str, last_event_id: u64, until_ms: i64) -> Result<(), StoreError> {
    conn.prepare_cached("UPDATE executions SET wake_ms = ?3, drives = 0 WHERE arn = ?1 AND last_event_id = ?2 AND status = 'RUNNING'")?
        .execute(params![execution_arn, last_event_id, until_ms])?;
    Ok(())
}

/// Appends `ExecutionAborted` to a running execution, marks it ABORTED and
/// closes its task tokens, in one transaction.
pub(super) fn stop(conn: &mut Connection, execution_arn: &str, error: &str, cause: &str, now_ms: i64) -> Result<HistoryEvent, StoreError> {
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
    let event = events::insert_after(&tx, execution_arn, last, now_ms, aborted)?;
    tx.prepare_cached("UPDATE executions SET last_event_id = ?2, status = 'ABORTED', stop_ms = ?3 WHERE arn = ?1")?.execute(params![
        execution_arn,
        event.id,
        now_ms
    ])?;
    task_tokens::close_for_execution(&tx, execution_arn)?;
    tx.commit()?;
    Ok(event)
}

/// Appends `ExecutionRedriven` to a redrivable execution and marks it
/// RUNNING, in one transaction (nothing for a repeated `client_token`).
pub(super) fn redrive(conn: &mut Connection, execution_arn: &str, client_token: Option<&str>, now_ms: i64) -> Result<Redrive, StoreError> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    type Row = (String, u64, u32, Option<i64>, Option<i64>, Option<String>);
    let (status, last, count, stop_ms, redrive_ms, last_token): Row = tx
        .prepare_cached("SELECT status, last_event_id, redrive_count, stop_ms, redrive_ms, redrive_token FROM executions WHERE arn = ?1")?
        .query_row(params![execution_arn], |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?, row.get(3)?, row.get(4)?, row.get(5)?)))
        .optional()?
        .ok_or_else(|| StoreError::NoSuchExecution(execution_arn.into()))?;
    if let (Some(token), Some(last_token), Some(redrive_ms)) = (client_token, &last_token, redrive_ms) {
        if token == last_token {
            return Ok(Redrive { redrive_count: count, redrive_ms, repeated: true });
        }
    }
    let refusal = match ExecutionStatus::parse(&status) {
        Some(status) => crate::redrive_refusal(status, stop_ms, last, count, now_ms),
        None => Some(format!("its status {status:?} is unknown")),
    };
    if let Some(reason) = refusal {
        return Err(StoreError::NotRedrivable { arn: execution_arn.into(), reason });
    }
    let event = events::insert_after(&tx, execution_arn, last, now_ms, EventKind::ExecutionRedriven { redrive_count: count + 1 })?;
    tx.prepare_cached(
        "UPDATE executions SET last_event_id = ?2, status = 'RUNNING', stop_ms = NULL, wake_ms = NULL,
         redrive_count = ?3, redrive_ms = ?4, redrive_token = ?5 WHERE arn = ?1",
    )?
    .execute(params![execution_arn, event.id, count + 1, now_ms, client_token])?;
    tx.prepare_cached("INSERT INTO redrives (execution_arn) VALUES (?1)")?.execute(params![execution_arn])?;
    tx.commit()?;
    Ok(Redrive { redrive_count: count + 1, redrive_ms: now_ms, repeated: false })
}

#[cfg(test)]
mod tests {
    use super::super::test_support::{event, info};
    use super::super::SqliteStore;
    use crate::{ExecutionStatus, Journal, Store};
    use serde_json::json;
    use stepwasm_engine::EventKind;

    /// The steps of SQLite's plan for `query`.
    fn plan(store: &SqliteStore, query: &str) -> Vec<String> {
        let conn = store.conn();
        let mut stmt = conn.prepare(&format!("EXPLAIN QUERY PLAN {query}")).unwrap();
        let steps = stmt.query_map([1], |row| row.get::<_, String>(3)).unwrap().map(Result::unwrap).collect();
        steps
    }

    #[test]
    fn polling_for_stops_reads_only_the_recent_stops() {
        let store = SqliteStore::in_memory().unwrap();
        let plan = plan(&store, &super::stopped_since_query());
        assert!(plan.iter().any(|step| step.contains("USING INDEX executions_aborted_by_stop (stop_ms>?)")), "{plan:?}");
        // And the answer is the same: stops at or after the time asked for.
        for (name, stop_ms) in [("early", 10), ("late", 20)] {
            let info = info(name);
            store.create_execution(&info, 0).unwrap();
            store.append(&info.execution_arn, &event(1, EventKind::ExecutionStarted { input: json!({}).into() })).unwrap();
            store.stop_execution(&info.execution_arn, "", "", stop_ms).unwrap();
        }
        let running = info("running");
        store.create_execution(&running, 0).unwrap();
        let stopped: Vec<_> = store.executions_stopped_since(15).unwrap().into_iter().map(|e| e.info.name).collect();
        assert_eq!(stopped, ["late"]);
    }

    #[test]
    fn polling_for_redrives_reads_the_redrives_not_the_running_executions() {
        let store = SqliteStore::in_memory().unwrap();
        let plan = plan(&store, &super::redriven_after_query());
        assert!(plan.iter().any(|step| step.contains("SEARCH redrives USING INTEGER PRIMARY KEY")), "{plan:?}");
        assert!(plan.iter().any(|step| step.contains("SEARCH executions USING INDEX sqlite_autoindex_executions_1 (arn=?)")), "{plan:?}");
        assert!(!plan.iter().any(|step| step.contains("SCAN executions") || step.contains("executions_by_status")), "{plan:?}");
    }

    #[test]
    fn an_execution_keeps_its_mock_test_case_from_its_start() {
        let store = SqliteStore::in_memory().unwrap();
        let mocked = stepwasm_engine::ExecutionInfo { test_case: Some("HappyPath".into()), ..info("mocked") };
        store.create_execution(&mocked, 0).unwrap();
        store.create_execution(&info("plain"), 0).unwrap();
        let started = store.executions_started_after(0).unwrap();
        let test_cases: Vec<_> = started.iter().map(|(_, e)| (e.info.name.as_str(), e.info.test_case.as_deref())).collect();
        assert_eq!(test_cases, [("mocked", Some("HappyPath")), ("plain", None)]);
        assert_eq!(store.execution(&mocked.execution_arn).unwrap().unwrap().info, mocked);
    }

    #[test]
    fn an_execution_keeps_the_role_it_started_with_and_an_older_one_runs_as_its_machines() {
        use crate::StateMachineDetails;
        let store = SqliteStore::in_memory().unwrap();
        let started = stepwasm_engine::ExecutionInfo { role_arn: "arn:aws:iam::000000000000:role/orders".into(), ..info("started") };
        store.create_execution(&started, 0).unwrap();
        let older = info("older");
        store.create_execution(&older, 0).unwrap();
        // An execution from before roles were kept per execution.
        store.conn().execute("UPDATE executions SET role_arn = NULL WHERE arn = ?1", [&older.execution_arn]).unwrap();
        let role = |info: &stepwasm_engine::ExecutionInfo| store.execution(&info.execution_arn).unwrap().unwrap().info.role_arn;
        assert_eq!(role(&older), "arn:aws:iam::000000000000:role/stepwasm-execution", "no such machine: the default role");
        store.put_state_machine(&older.state_machine_arn, "sm", "{}").unwrap();
        assert_eq!(role(&older), "arn:aws:iam::000000000000:role/stepwasm-execution", "a machine without a role");
        let details = StateMachineDetails { role_arn: "arn:aws:iam::000000000000:role/billing".into(), ..StateMachineDetails::default() };
        store.set_state_machine_details(&older.state_machine_arn, &details).unwrap();
        assert_eq!(role(&older), "arn:aws:iam::000000000000:role/billing", "an older execution: its machine's role");
        assert_eq!(role(&started), "arn:aws:iam::000000000000:role/orders", "the role it started with, whatever the machine has now");
    }

    #[test]
    fn a_park_note_holds_until_the_next_event_and_a_stale_one_is_not_taken() {
        let store = SqliteStore::in_memory().unwrap();
        let a = info("a");
        store.create_execution(&a, 0).unwrap();
        store.append(&a.execution_arn, &event(1, EventKind::ExecutionStarted { input: json!({}).into() })).unwrap();
        let wake = || store.execution(&a.execution_arn).unwrap().unwrap().wake_ms;
        store.park_execution(&a.execution_arn, 1, 86_400_000).unwrap();
        assert_eq!(wake(), Some(86_400_000));
        assert_eq!(store.executions_started_after(0).unwrap()[0].1.wake_ms, Some(86_400_000));
        store.append(&a.execution_arn, &event(2, EventKind::TaskStarted { resource: "r".into() })).unwrap();
        assert_eq!(wake(), None, "a new event ends the park");
        store.park_execution(&a.execution_arn, 1, 5).unwrap();
        assert_eq!(wake(), None, "a note about history 1..1 does not fit history 1..2");
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
}
