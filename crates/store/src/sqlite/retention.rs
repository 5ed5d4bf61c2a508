//! Retention: the histories of executions that ended long ago are deleted,
//! as AWS keeps a closed execution's history for 90 days. Running
//! executions are never touched, however old.
//!
//! Deleting is done in small batches, each its own transaction, so that the
//! store's write lock (and this store's connection, which its committer
//! shares) is never held long: drivers' appends go on in between.

use super::SqliteStore;
use crate::StoreError;
use rusqlite::{params, TransactionBehavior};

/// Executions deleted per transaction.
const BATCH: usize = 50;

const DAY_MS: i64 = 24 * 3600 * 1000;

/// The cutoff for keeping closed executions `retain_days` days at `now_ms`:
/// those that ended before it go ([`SqliteStore::delete_closed_before`]).
pub fn retention_cutoff_ms(retain_days: u32, now_ms: i64) -> i64 {
    now_ms - i64::from(retain_days) * DAY_MS
}

impl SqliteStore {
    /// Deletes every execution that ended (succeeded, failed, timed out,
    /// stopped) before `cutoff_ms` (milliseconds since the Unix epoch):
    /// its history events, task tokens, queued activity tasks, redrives, map
    /// runs and its row (a map run's children are executions of their own,
    /// deleted when they are old enough). Returns how many executions were
    /// deleted. The file does not shrink; SQLite reuses the freed pages.
    pub fn delete_closed_before(&self, cutoff_ms: i64) -> Result<usize, StoreError> {
        let mut deleted = 0;
        loop {
            let batch = self.delete_batch(cutoff_ms)?;
            deleted += batch;
            if batch < BATCH {
                return Ok(deleted);
            }
        }
    }

    /// Deletes up to [`BATCH`] executions closed before `cutoff_ms`, in one transaction.
    fn delete_batch(&self, cutoff_ms: i64) -> Result<usize, StoreError> {
        let located = |source| StoreError::Open { path: self.location().to_string(), source };
        let mut conn = self.conn();
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate).map_err(located)?;
        let closed: Vec<(i64, String)> = tx
            .prepare_cached("SELECT key, arn FROM executions WHERE status <> 'RUNNING' AND stop_ms < ?1 LIMIT ?2")
            .and_then(|mut stmt| stmt.query_map(params![cutoff_ms, BATCH as i64], |row| Ok((row.get(0)?, row.get(1)?)))?.collect())
            .map_err(located)?;
        for (key, arn) in &closed {
            // The events are kept under the execution's key, the rest under its ARN.
            tx.prepare_cached("DELETE FROM events WHERE execution = ?1")
                .and_then(|mut stmt| stmt.execute(params![key]))
                .map_err(located)?;
            for delete in [
                "DELETE FROM task_tokens WHERE execution_arn = ?1",
                "DELETE FROM activity_tasks WHERE execution_arn = ?1",
                "DELETE FROM redrives WHERE execution_arn = ?1",
                "DELETE FROM map_runs WHERE execution_arn = ?1",
                "DELETE FROM executions WHERE arn = ?1",
            ] {
                tx.prepare_cached(delete).and_then(|mut stmt| stmt.execute(params![arn])).map_err(located)?;
            }
        }
        tx.commit().map_err(located)?;
        Ok(closed.len())
    }
}

#[cfg(test)]
mod tests {
    use crate::{ExecutionStatus, Journal, SqliteStore, Store, TaskResult, TokenState};
    use serde_json::json;
    use stepwasm_engine::{EventKind, HistoryEvent, Scope};

    fn event(id: u64, kind: EventKind) -> HistoryEvent {
        HistoryEvent { id, previous_event_id: id - 1, timestamp_ms: id as i64, scope: Scope::root(), kind }
    }

    #[test]
    fn closed_executions_older_than_the_cutoff_go_with_their_history_and_running_ones_stay() {
        let store = SqliteStore::in_memory().unwrap();
        let mut names = Vec::new();
        for n in 0..120 {
            let info = stepwasm_engine::execution_info("sm", &format!("e{n}"));
            store.create_execution(&info, 0).unwrap();
            store.append(&info.execution_arn, &event(1, EventKind::ExecutionStarted { input: json!({}).into() })).unwrap();
            store.open_task_token(&format!("swt{n}"), &info.execution_arn, 0).unwrap();
            // 0..100 stopped at 1_000 + n, the rest running.
            if n < 100 {
                store.stop_execution(&info.execution_arn, "", "", 1_000 + n).unwrap();
            }
            names.push(info.execution_arn);
        }
        assert_eq!(store.delete_closed_before(1_070).unwrap(), 70, "in batches, every one stopped before the cutoff");
        assert_eq!(store.delete_closed_before(1_070).unwrap(), 0);
        assert_eq!(store.execution(&names[69]).unwrap(), None);
        assert!(store.history(&names[69]).unwrap().is_empty());
        assert_eq!(store.task_token("swt69").unwrap(), None);
        assert_eq!(store.execution(&names[70]).unwrap().unwrap().status, ExecutionStatus::Aborted);
        assert_eq!(store.history(&names[70]).unwrap().len(), 2);
        assert_eq!(store.task_token("swt70").unwrap(), Some(TokenState::Closed));
        assert_eq!(store.delete_closed_before(i64::MAX).unwrap(), 30);
        assert_eq!(store.executions(None).unwrap().len(), 20, "running executions stay");
        store.send_task_result("swt110", &TaskResult::Success(json!(1))).unwrap();
    }
}
