//! [`Journal`] for [`SqliteStore`]: each step on the store's connection, its
//! errors naming the file; the drivers' appends through the group committer;
//! the waiters of tokens and activities woken.

use super::{activities, events, executions, task_tokens, SqliteStore};
use crate::{ActivityTask, Appending, ExecutionSummary, Journal, StoreError, TaskResult, TokenState};
use std::future::Future;
use std::pin::Pin;
use stepwasm_engine::{ExecutionInfo, HistoryEvent};

impl Journal for SqliteStore {
    fn create_execution(&self, info: &ExecutionInfo, start_ms: i64) -> Result<(), StoreError> {
        self.located(|| executions::insert(&self.conn(), info, start_ms))
    }

    fn append_all(&self, execution_arn: &str, events: &[HistoryEvent]) -> Result<(), StoreError> {
        self.located(|| {
            let prepared = events::prepare(execution_arn, events)?;
            events::append_in_own_transaction(&mut self.conn(), execution_arn, &prepared)
        })
    }

    fn append_all_async<'a>(&'a self, execution_arn: &'a str, events: &'a [HistoryEvent]) -> Appending<'a> {
        self.submit(execution_arn, None, events)
    }

    fn start_execution_async<'a>(&'a self, info: &'a ExecutionInfo, start_ms: i64, events: &'a [HistoryEvent]) -> Appending<'a> {
        self.submit(&info.execution_arn, Some((info.clone(), start_ms)), events)
    }

    fn history(&self, execution_arn: &str) -> Result<Vec<HistoryEvent>, StoreError> {
        self.located(|| events::history(&self.conn(), execution_arn))
    }

    fn execution(&self, execution_arn: &str) -> Result<Option<ExecutionSummary>, StoreError> {
        self.located(|| executions::get(&self.conn(), execution_arn))
    }

    fn park_execution(&self, execution_arn: &str, last_event_id: u64, until_ms: i64) -> Result<(), StoreError> {
        self.located(|| executions::park(&*self.unsynced()?, execution_arn, last_event_id, until_ms))
    }

    fn queue_activity_task(&self, task: &ActivityTask) -> Result<(), StoreError> {
        self.located(|| {
            activities::queue_task(&self.conn(), task)?;
            self.activity_waiters.wake_one(&task.activity_arn);
            Ok(())
        })
    }

    fn activity_task_worker(&self, token: &str) -> Result<Option<String>, StoreError> {
        self.located(|| activities::worker(&self.conn(), token))
    }

    fn open_task_token(&self, token: &str, execution_arn: &str, now_ms: i64) -> Result<(), StoreError> {
        self.located(|| task_tokens::open(&self.conn(), token, execution_arn, now_ms))
    }

    fn task_token(&self, token: &str) -> Result<Option<TokenState>, StoreError> {
        self.located(|| task_tokens::get(&self.conn(), &self.location, token))
    }

    fn token_answered<'a>(&'a self, token: &'a str) -> Pin<Box<dyn Future<Output = ()> + Send + 'a>> {
        let waiter = self.token_waiters.waiter(token);
        Box::pin(async move { waiter.notified().await })
    }

    fn close_task_token(&self, token: &str) -> Result<Option<TaskResult>, StoreError> {
        self.located(|| task_tokens::close(&self.conn(), &self.location, token))
    }
}
