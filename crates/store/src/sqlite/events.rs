//! The `events` table: each execution's history, one row per event in the
//! [event format](crate::event_format), appended after the execution's last
//! event (no gaps, no duplicates, nothing after its end) and read back in
//! order.

use super::task_tokens;
use crate::event_format::{self, EventFormatError};
use crate::{ExecutionStatus, StoreError};
use rusqlite::{params, Connection, OptionalExtension, TransactionBehavior};
use stepwasm_engine::{EventKind, HistoryEvent, Scope};

/// The key of the execution whose ARN is `?1`, in SQL: what the `events`
/// table keeps an execution's events under.
pub(super) const KEY_OF_ARN: &str = "(SELECT key FROM executions WHERE arn = ?1)";

/// An event ready for the `events` table.
pub(super) struct PreparedEvent {
    id: u64,
    text: String,
    /// The status and time, if the event ends the execution.
    ends: Option<(ExecutionStatus, i64)>,
}

/// The error of event `id` of `execution_arn` that `error` is: an unknown
/// version as such, anything else as a corrupt event.
pub(super) fn located(error: EventFormatError, execution_arn: &str, id: u64) -> StoreError {
    match error {
        EventFormatError::UnknownVersion { .. } => StoreError::EventFormat { arn: execution_arn.into(), id, source: error },
        other => StoreError::CorruptEvent { arn: execution_arn.into(), id, message: other.to_string() },
    }
}

/// Serialises `events` of `execution_arn` for [`append_prepared`].
pub(super) fn prepare(execution_arn: &str, events: &[HistoryEvent]) -> Result<Vec<PreparedEvent>, StoreError> {
    events
        .iter()
        .map(|event| {
            let text = event_format::encode(event).map_err(|e| located(e, execution_arn, event.id))?;
            Ok(PreparedEvent { id: event.id, text, ends: ExecutionStatus::after(&event.kind).map(|s| (s, event.timestamp_ms)) })
        })
        .collect()
}

/// [`append_prepared`] in a transaction of its own.
pub(super) fn append_in_own_transaction(conn: &mut Connection, execution_arn: &str, events: &[PreparedEvent]) -> Result<(), StoreError> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    append_prepared(&tx, execution_arn, events)?;
    tx.commit()?;
    Ok(())
}

/// Inside an open transaction: appends the events of one running execution
/// after its last one (refusing gaps, duplicates and appends to an ended
/// execution) and updates its status.
pub(super) fn append_prepared(conn: &Connection, execution_arn: &str, events: &[PreparedEvent]) -> Result<(), StoreError> {
    let (key, status, mut last): (i64, String, u64) = conn
        .prepare_cached("SELECT key, status, last_event_id FROM executions WHERE arn = ?1")?
        .query_row(params![execution_arn], |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?)))
        .optional()?
        .ok_or_else(|| StoreError::NoSuchExecution(execution_arn.into()))?;
    let mut status = ExecutionStatus::parse(&status);
    let mut stop_ms = None;
    {
        let mut insert = conn.prepare_cached("INSERT INTO events (execution, id, event) VALUES (?1, ?2, ?3)")?;
        for event in events {
            if status != Some(ExecutionStatus::Running) {
                let status = status.map_or("in an unknown state", ExecutionStatus::as_str);
                return Err(StoreError::Closed { arn: execution_arn.into(), status });
            }
            if event.id != last + 1 {
                return Err(StoreError::OutOfOrder { arn: execution_arn.into(), last, got: event.id });
            }
            insert.execute(params![key, event.id, event.text])?;
            last = event.id;
            if let Some((ended, at_ms)) = event.ends {
                status = Some(ended);
                stop_ms = Some(at_ms);
            }
        }
    }
    if stop_ms.is_some() {
        task_tokens::close_for_execution(conn, execution_arn)?;
    }
    let status = status.map_or("RUNNING", ExecutionStatus::as_str);
    // New events end a park: the wake-up time was about the history before them.
    conn.prepare_cached(
        "UPDATE executions SET last_event_id = ?2, status = ?3, stop_ms = coalesce(?4, stop_ms), wake_ms = NULL WHERE key = ?1",
    )?
    .execute(params![key, last, status, stop_ms])?;
    Ok(())
}

/// Inside an open transaction: writes `kind` as the top-level event after
/// event `last` of `execution_arn`, and returns it (the caller updates the
/// execution's row).
pub(super) fn insert_after(
    conn: &Connection,
    execution_arn: &str,
    last: u64,
    now_ms: i64,
    kind: EventKind,
) -> Result<HistoryEvent, StoreError> {
    let event = HistoryEvent { id: last + 1, previous_event_id: last, timestamp_ms: now_ms, scope: Scope::root(), kind };
    for prepared in prepare(execution_arn, std::slice::from_ref(&event))? {
        conn.prepare_cached(&format!("INSERT INTO events (execution, id, event) VALUES ({KEY_OF_ARN}, ?2, ?3)"))?.execute(params![
            execution_arn,
            prepared.id,
            prepared.text
        ])?;
    }
    Ok(event)
}

/// An execution's history, in order; a stored event that cannot be read,
/// or out of its place, is an error naming it.
pub(super) fn history(conn: &Connection, execution_arn: &str) -> Result<Vec<HistoryEvent>, StoreError> {
    let mut stmt = conn.prepare_cached(&format!("SELECT id, event FROM events WHERE execution = {KEY_OF_ARN} ORDER BY id"))?;
    let mut rows = stmt.query(params![execution_arn])?;
    let mut history = Vec::new();
    while let Some(row) = rows.next()? {
        let id: u64 = row.get(0)?;
        let corrupt = |message: String| StoreError::CorruptEvent { arn: execution_arn.into(), id, message };
        // Bytes, not a String: text that is not UTF-8 is a corrupt event, named.
        let bytes = row.get_ref(1)?.as_bytes().map_err(|e| corrupt(e.to_string()))?;
        let event = event_format::decode(bytes).map_err(|e| located(e, execution_arn, id))?;
        if event.id != id || id != history.len() as u64 + 1 {
            return Err(corrupt(format!("it says it is event {} at position {}", event.id, history.len() + 1)));
        }
        history.push(event);
    }
    Ok(history)
}

#[cfg(test)]
mod tests {
    use super::super::test_support::{event, info};
    use super::super::SqliteStore;
    use crate::event_format::EventFormatError;
    use crate::{ExecutionStatus, Journal, Store, StoreError};
    use serde_json::json;
    use std::sync::Arc;
    use stepwasm_engine::EventKind;

    #[test]
    fn a_history_reads_back_as_written_and_ends_the_execution() {
        let store = SqliteStore::in_memory().unwrap();
        let a = info("a");
        store.create_execution(&a, 1_000).unwrap();
        let events = vec![
            event(1, EventKind::ExecutionStarted { input: json!({"x": 1}).into() }),
            event(2, EventKind::TaskSucceeded { resource: "r".into(), output: Arc::new(json!([1, "two"])) }),
            event(3, EventKind::ExecutionSucceeded { output: json!({"done": true}).into() }),
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
        let started = event(1, EventKind::ExecutionStarted { input: json!({}).into() });
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
        let batch =
            [event(1, EventKind::ExecutionStarted { input: json!({}).into() }), event(2, EventKind::TaskStarted { resource: "r".into() })];
        store.append_all(&a.execution_arn, &batch).unwrap();
        let broken = [event(3, EventKind::TaskStarted { resource: "r".into() }), event(5, EventKind::TaskStarted { resource: "r".into() })];
        assert!(matches!(store.append_all(&a.execution_arn, &broken), Err(StoreError::OutOfOrder { last: 3, got: 5, .. })));
        assert_eq!(store.history(&a.execution_arn).unwrap(), batch, "event 3 went with the refused batch");
        let past_the_end = [
            event(3, EventKind::ExecutionSucceeded { output: json!(1).into() }),
            event(4, EventKind::TaskStarted { resource: "r".into() }),
        ];
        assert!(matches!(store.append_all(&a.execution_arn, &past_the_end), Err(StoreError::Closed { .. })));
        assert_eq!(store.execution(&a.execution_arn).unwrap().unwrap().status, ExecutionStatus::Running);
    }

    #[test]
    fn an_event_of_a_newer_format_is_refused_naming_it() {
        let store = SqliteStore::in_memory().unwrap();
        let a = info("a");
        store.create_execution(&a, 0).unwrap();
        store.append(&a.execution_arn, &event(1, EventKind::ExecutionStarted { input: json!({}).into() })).unwrap();
        let stored: String = store.conn().query_row("SELECT event FROM events WHERE id = 1", [], |row| row.get(0)).unwrap();
        assert_eq!(stored, r#"{"id":1,"previous_event_id":0,"timestamp_ms":1001,"kind":{"ExecutionStarted":{"input":{}}}}"#);
        store.conn().execute("UPDATE events SET event = '2:' || event", []).unwrap();
        let err = store.history(&a.execution_arn).unwrap_err();
        assert!(
            matches!(&err, StoreError::EventFormat { arn, id: 1, source: EventFormatError::UnknownVersion { version: 2 } } if *arn == a.execution_arn),
            "{err:?}"
        );
        assert!(err.to_string().contains("event 1") && err.to_string().contains("version 2"), "{err}");
        let err = store.check(true).unwrap_err();
        assert!(matches!(err, StoreError::EventFormat { .. }), "not damage: {err:?}");
    }
}
