//! The narrow side of the store that an execution's driver sees: register
//! the execution, journal its events as they happen, read its history back
//! to resume it, note a park, and keep the task tokens and activity tasks of
//! its waiting tasks. Everything else (definitions, listings, stops,
//! redrives, the crash-loop guard) is the wider [`Store`](crate::Store),
//! which extends this trait.
//!
//! Object-safe: a driver holds a `&dyn Journal` (a `&dyn Store` coerces to
//! one); its asynchronous steps return boxed futures ([`Appending`]).

use crate::{ActivityTask, ExecutionSummary, StoreError, TaskResult, TokenState};
use std::future::Future;
use std::pin::Pin;
use stepwasm_engine::{ExecutionInfo, HistoryEvent};

/// An append in progress ([`Journal::append_all_async`]).
pub type Appending<'a> = Pin<Box<dyn Future<Output = Result<(), StoreError>> + Send + 'a>>;

/// An execution's journal. Every method is one atomic step: after a crash
/// the store holds each event either entirely or not at all.
pub trait Journal: Send + Sync {
    /// Registers a new, running execution of the latest version of its state
    /// machine (its events follow with [`append`](Self::append)).
    fn create_execution(&self, info: &ExecutionInfo, start_ms: i64) -> Result<(), StoreError>;

    /// Adds the next events of a running execution's history, all or none,
    /// in one transaction: their ids must follow on from the last one's. An
    /// event that ends the execution sets its status (and must be the last).
    fn append_all(&self, execution_arn: &str, events: &[HistoryEvent]) -> Result<(), StoreError>;

    /// [`append_all`](Self::append_all), waiting without a thread: the store
    /// may commit it in one transaction with other executions' appends
    /// (group commit). Each batch is still kept whole or not at all.
    fn append_all_async<'a>(&'a self, execution_arn: &'a str, events: &'a [HistoryEvent]) -> Appending<'a> {
        Box::pin(std::future::ready(self.append_all(execution_arn, events)))
    }

    /// [`create_execution`](Self::create_execution) and the
    /// [`append_all_async`](Self::append_all_async) of its first events
    /// (`SqliteStore` does both in one step of a group commit).
    fn start_execution_async<'a>(&'a self, info: &'a ExecutionInfo, start_ms: i64, events: &'a [HistoryEvent]) -> Appending<'a> {
        Box::pin(std::future::ready(self.create_execution(info, start_ms).and_then(|()| self.append_all(&info.execution_arn, events))))
    }

    /// [`append_all`](Self::append_all) of one event.
    fn append(&self, execution_arn: &str, event: &HistoryEvent) -> Result<(), StoreError> {
        self.append_all(execution_arn, std::slice::from_ref(event))
    }

    /// An execution's history, in order.
    fn history(&self, execution_arn: &str) -> Result<Vec<HistoryEvent>, StoreError>;

    /// One execution.
    fn execution(&self, execution_arn: &str) -> Result<Option<ExecutionSummary>, StoreError>;

    /// Notes that a running execution whose history ends with event
    /// `last_event_id` waits until `until_ms`, so that a restarted host can
    /// keep it parked without replaying it. Any later event clears the note;
    /// a note about an older history is not taken. The drive ended well: the
    /// crash-loop count ([`Store::begin_drive`](crate::Store::begin_drive)) starts over.
    fn park_execution(&self, execution_arn: &str, last_event_id: u64, until_ms: i64) -> Result<(), StoreError>;

    /// Queues a task for the activity's workers (again: nothing changes, so
    /// a resumed driver can queue it once more).
    fn queue_activity_task(&self, task: &ActivityTask) -> Result<(), StoreError>;

    /// The worker that took the activity task of `token` (GetActivityTask):
    /// the name it gave (`""` when none); `None` while no worker has taken
    /// it (or once the task has left the queue, or in a journal that keeps
    /// no activity tasks).
    fn activity_task_worker(&self, _token: &str) -> Result<Option<String>, StoreError> {
        Ok(None)
    }

    /// Issues `token` for a task of a running execution (again: nothing
    /// changes, so a resumed driver can call it once more).
    fn open_task_token(&self, token: &str, execution_arn: &str, now_ms: i64) -> Result<(), StoreError>;

    /// The state of `token`, if it was ever issued.
    fn task_token(&self, token: &str) -> Result<Option<TokenState>, StoreError>;

    /// Resolves when a result for `token` is sent through this same store
    /// (an answer in-process, such as the HTTP API's), so a waiting driver
    /// need not poll for it; results sent by other processes are only seen
    /// through [`task_token`](Self::task_token). Ask before reading the
    /// token's state: a result sent in between is not missed.
    fn token_answered<'a>(&'a self, _token: &'a str) -> Pin<Box<dyn Future<Output = ()> + Send + 'a>> {
        Box::pin(std::future::pending())
    }

    /// The driver gives up waiting for `token` (a timeout, or the task failed
    /// before it waited): a waiting token is closed and `None` returned; one
    /// whose result came first keeps it and returns it, so a result that won
    /// the race is never lost.
    fn close_task_token(&self, token: &str) -> Result<Option<TaskResult>, StoreError>;
}

#[cfg(test)]
mod tests {
    use super::Journal;
    use crate::{SqliteStore, Store};
    use serde_json::json;
    use stepwasm_engine::{EventKind, HistoryEvent, Scope};

    #[test]
    fn a_store_is_a_journal_a_driver_can_hold_as_a_trait_object() {
        let store = SqliteStore::in_memory().unwrap();
        let as_store: &dyn Store = &store;
        let journal: &dyn Journal = as_store;
        let info = stepwasm_engine::execution_info("sm", "a");
        let started = HistoryEvent {
            id: 1,
            previous_event_id: 0,
            timestamp_ms: 5,
            scope: Scope::root(),
            kind: EventKind::ExecutionStarted { input: json!({}).into() },
        };
        let runtime = tokio::runtime::Builder::new_current_thread().build().unwrap();
        runtime.block_on(journal.start_execution_async(&info, 5, std::slice::from_ref(&started))).unwrap();
        assert_eq!(journal.history(&info.execution_arn).unwrap(), [started]);
        assert_eq!(as_store.executions(None).unwrap().len(), 1);
    }
}
