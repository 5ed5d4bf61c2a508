//! The crash-loop guard's counts, kept in each execution's row (`drives`,
//! `drive_mark`): how many times in a row a host stopped while driving an
//! execution that made no progress, and the failing of one that reached the
//! limit ([`Store::begin_drive`](crate::Store::begin_drive)). The caller
//! writes them unsynced (`SqliteStore::unsynced`).

use super::{events, task_tokens};
use crate::{crash_loop_cause, CrashGuard, DriveStart, StoreError};
use rusqlite::{params, Connection, OptionalExtension, TransactionBehavior};
use stepwasm_asl::errors;
use stepwasm_engine::EventKind;

/// A host begins driving `execution_arn` at `now_ms`: counts the stop this
/// drive may be, or fails the execution once the guard's limit is reached.
pub(super) fn begin(conn: &mut Connection, execution_arn: &str, guard: CrashGuard, now_ms: i64) -> Result<DriveStart, StoreError> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let row: Option<(i64, u32, u64, u64, bool)> = tx
        .prepare_cached(
            "SELECT key, drives, drive_mark, last_event_id,
                    EXISTS (SELECT 1 FROM task_tokens WHERE execution_arn = ?1 AND status = 'WAITING')
             FROM executions WHERE arn = ?1 AND status = 'RUNNING'",
        )?
        .query_row(params![execution_arn], |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?, row.get(3)?, row.get(4)?)))
        .optional()?;
    // Not running (stopped, ended) or not there: the driver finds out.
    let Some((key, drives, mark, last, token_waits)) = row else { return Ok(DriveStart::Go { stops: 0 }) };
    // The latest settled event (any but `TaskStarted`, which a driver
    // records again for each rerun of an interrupted task) and the reruns
    // after it: each rerun is a host stop with that task in flight.
    let (mut reruns, mut settled, mut settled_ms) = (0u32, 0u64, 0i64);
    {
        // Read in place from the JSON of event format version 1.
        let mut stmt = tx.prepare_cached(
            "SELECT id, json_type(event, '$.kind.TaskStarted') IS NOT NULL, coalesce(json_extract(event, '$.timestamp_ms'), 0)
             FROM events WHERE execution = ?1 ORDER BY id DESC",
        )?;
        let mut rows = stmt.query(params![key])?;
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
    let event = events::insert_after(&tx, execution_arn, last, now_ms, failed)?;
    tx.prepare_cached(
        "UPDATE executions SET last_event_id = ?2, status = 'FAILED', stop_ms = ?3, wake_ms = NULL, drives = 0 WHERE arn = ?1",
    )?
    .execute(params![execution_arn, event.id, now_ms])?;
    task_tokens::close_for_execution(&tx, execution_arn)?;
    tx.commit()?;
    Ok(DriveStart::Failed { error, cause })
}

/// A drive ended well without parking or ending the execution: its count starts over.
pub(super) fn end(conn: &Connection, execution_arn: &str) -> Result<(), StoreError> {
    conn.prepare_cached("UPDATE executions SET drives = 0 WHERE arn = ?1")?.execute(params![execution_arn])?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::super::test_support::{event, info};
    use super::super::SqliteStore;
    use crate::{crash_loop_cause, CrashGuard, DriveStart, ExecutionStatus, Journal, Store, TaskResult};
    use serde_json::json;
    use std::sync::Arc;
    use stepwasm_engine::EventKind;

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
        store.append(arn, &event(1, EventKind::ExecutionStarted { input: json!({}).into() })).unwrap();
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
        store.append_all(arn, &[event(1, EventKind::ExecutionStarted { input: json!({}).into() }), started(2)]).unwrap();
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
        store.append(arn, &event(1, EventKind::ExecutionStarted { input: json!({}).into() })).unwrap();
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
}
