//! [`Store`] for [`SqliteStore`], beyond its [`Journal`](crate::Journal):
//! each step on the store's connection, its errors naming the file; the
//! waiters of tokens and activities woken.

use super::{
    activities, aliases, drives, executions, map_runs, published_versions, state_machines, task_resources, task_tokens, SqliteStore,
};
use crate::{
    ActivityRecord, ActivityTask, AliasRecord, CrashGuard, DriveStart, ExecutionStatus, ExecutionSummary, MapRunCounts, MapRunRecord,
    MapRunStatus, PublishedVersion, Redrive, StartedThrough, StateMachineDetails, StateMachineRecord, Store, StoreError,
    TaskResourceRecord, TaskResult, VersionDeletion,
};
use std::collections::HashMap;

use std::collections::BTreeMap;
use std::future::Future;
use std::pin::Pin;
use stepwasm_engine::{ExecutionInfo, HistoryEvent};

impl Store for SqliteStore {
    fn put_state_machine(&self, arn: &str, name: &str, definition: &str) -> Result<u32, StoreError> {
        self.located(|| state_machines::put(&mut self.conn(), arn, name, definition))
    }

    fn state_machine(&self, arn: &str) -> Result<Option<String>, StoreError> {
        self.located(|| state_machines::definition(&self.conn(), arn))
    }

    fn describe_state_machine(&self, arn: &str) -> Result<Option<StateMachineRecord>, StoreError> {
        self.located(|| state_machines::describe(&self.conn(), &self.location, arn))
    }

    fn state_machines(&self) -> Result<Vec<StateMachineRecord>, StoreError> {
        self.located(|| state_machines::list(&self.conn(), &self.location))
    }

    fn set_state_machine_details(&self, arn: &str, details: &StateMachineDetails) -> Result<bool, StoreError> {
        self.located(|| state_machines::set_details(&self.conn(), &self.location, arn, details))
    }

    fn delete_state_machine(&self, arn: &str) -> Result<bool, StoreError> {
        self.located(|| state_machines::delete(&self.conn(), arn))
    }

    fn execution_definition(&self, execution_arn: &str) -> Result<Option<(Option<u32>, String)>, StoreError> {
        self.located(|| state_machines::of_execution(&self.conn(), execution_arn))
    }

    fn put_task_resource(&self, record: &TaskResourceRecord, module: Option<&[u8]>) -> Result<(), StoreError> {
        self.located(|| task_resources::put(&mut self.conn(), record, module))
    }

    fn task_resources(&self) -> Result<Vec<TaskResourceRecord>, StoreError> {
        self.located(|| task_resources::list(&self.conn(), &self.location))
    }

    fn delete_task_resource(&self, resource: &str) -> Result<bool, StoreError> {
        self.located(|| task_resources::delete(&mut self.conn(), resource))
    }

    fn module(&self, sha256: &str) -> Result<Option<Vec<u8>>, StoreError> {
        self.located(|| task_resources::module(&self.conn(), sha256))
    }

    fn put_activity(&self, arn: &str, name: &str, tags: &BTreeMap<String, String>, now_ms: i64) -> Result<ActivityRecord, StoreError> {
        self.located(|| activities::put(&self.conn(), &self.location, arn, name, tags, now_ms))
    }

    fn activity(&self, arn: &str) -> Result<Option<ActivityRecord>, StoreError> {
        self.located(|| activities::get(&self.conn(), &self.location, arn))
    }

    fn activities(&self) -> Result<Vec<ActivityRecord>, StoreError> {
        self.located(|| activities::list(&self.conn(), &self.location))
    }

    fn set_activity_tags(&self, arn: &str, tags: &BTreeMap<String, String>) -> Result<bool, StoreError> {
        self.located(|| activities::set_tags(&self.conn(), &self.location, arn, tags))
    }

    fn delete_activity(&self, arn: &str) -> Result<bool, StoreError> {
        self.located(|| activities::delete(&mut self.conn(), arn))
    }

    fn take_activity_task(&self, activity_arn: &str, worker: &str) -> Result<Option<ActivityTask>, StoreError> {
        self.located(|| activities::take_task(&mut self.conn(), &self.location, activity_arn, worker))
    }

    fn executions(&self, status: Option<ExecutionStatus>) -> Result<Vec<ExecutionSummary>, StoreError> {
        self.located(|| executions::list(&self.conn(), status))
    }

    fn executions_of(&self, state_machine_arn: &str, status: Option<ExecutionStatus>) -> Result<Vec<ExecutionSummary>, StoreError> {
        self.located(|| executions::of_state_machine(&self.conn(), state_machine_arn, status))
    }

    fn executions_started_after(&self, position: i64) -> Result<Vec<(i64, ExecutionSummary)>, StoreError> {
        self.located(|| executions::started_after(&self.conn(), position))
    }

    fn executions_redriven_after(&self, position: i64) -> Result<Vec<(i64, ExecutionSummary)>, StoreError> {
        self.located(|| executions::redriven_after(&self.conn(), position))
    }

    fn executions_stopped_since(&self, since_ms: i64) -> Result<Vec<ExecutionSummary>, StoreError> {
        self.located(|| executions::stopped_since(&self.conn(), since_ms))
    }

    fn begin_drive(&self, execution_arn: &str, guard: CrashGuard, now_ms: i64) -> Result<DriveStart, StoreError> {
        self.located(|| drives::begin(&mut *self.unsynced()?, execution_arn, guard, now_ms))
    }

    fn end_drive(&self, execution_arn: &str) -> Result<(), StoreError> {
        self.located(|| drives::end(&*self.unsynced()?, execution_arn))
    }

    fn stop_execution(&self, execution_arn: &str, error: &str, cause: &str, now_ms: i64) -> Result<HistoryEvent, StoreError> {
        self.located(|| executions::stop(&mut self.conn(), execution_arn, error, cause, now_ms))
    }

    fn redrive_execution(&self, execution_arn: &str, client_token: Option<&str>, now_ms: i64) -> Result<Redrive, StoreError> {
        self.located(|| executions::redrive(&mut self.conn(), execution_arn, client_token, now_ms))
    }

    fn publish_version(
        &self,
        arn: &str,
        definition_version: u32,
        description: Option<&str>,
        details: &StateMachineDetails,
        now_ms: i64,
    ) -> Result<PublishedVersion, StoreError> {
        self.located(|| {
            published_versions::publish(&mut self.conn(), &self.location, arn, definition_version, description, details, now_ms)
        })
    }

    fn published_versions(&self, arn: &str) -> Result<Vec<PublishedVersion>, StoreError> {
        self.located(|| published_versions::list(&self.conn(), &self.location, arn))
    }

    fn published_version(&self, arn: &str, version: u32) -> Result<Option<PublishedVersion>, StoreError> {
        self.located(|| published_versions::get(&self.conn(), &self.location, arn, version))
    }

    fn delete_published_version(&self, arn: &str, version: u32) -> Result<VersionDeletion, StoreError> {
        self.located(|| published_versions::delete(&mut self.conn(), arn, version))
    }

    fn definition_at(&self, arn: &str, definition_version: u32) -> Result<Option<String>, StoreError> {
        self.located(|| published_versions::definition_at(&self.conn(), arn, definition_version))
    }

    fn put_alias(&self, alias: &AliasRecord) -> Result<Result<(), String>, StoreError> {
        self.located(|| aliases::put(&mut self.conn(), &self.location, alias))
    }

    fn alias(&self, arn: &str) -> Result<Option<AliasRecord>, StoreError> {
        self.located(|| aliases::get(&self.conn(), &self.location, arn))
    }

    fn aliases(&self, state_machine_arn: &str) -> Result<Vec<AliasRecord>, StoreError> {
        self.located(|| aliases::list(&self.conn(), &self.location, state_machine_arn))
    }

    fn delete_alias(&self, arn: &str) -> Result<bool, StoreError> {
        self.located(|| aliases::delete(&self.conn(), arn))
    }

    fn delete_versions_and_aliases(&self, state_machine_arn: &str) -> Result<(), StoreError> {
        self.located(|| published_versions::delete_all(&mut self.conn(), state_machine_arn))
    }

    fn start_execution_through(
        &self,
        info: &ExecutionInfo,
        start_ms: i64,
        events: &[HistoryEvent],
        definition_version: u32,
        through: &StartedThrough,
    ) -> Result<(), StoreError> {
        self.located(|| {
            published_versions::start_through(&mut self.conn(), &self.location, info, start_ms, events, definition_version, through)
        })
    }

    fn started_through(&self, execution_arn: &str) -> Result<Option<StartedThrough>, StoreError> {
        self.located(|| published_versions::started_through(&self.conn(), &self.location, execution_arn))
    }

    fn executions_started_through(&self, state_machine_arn: &str) -> Result<HashMap<String, StartedThrough>, StoreError> {
        self.located(|| published_versions::executions_through(&self.conn(), &self.location, state_machine_arn))
    }

    fn send_task_result(&self, token: &str, result: &TaskResult) -> Result<(), StoreError> {
        self.located(|| {
            task_tokens::send_result(&self.conn(), &self.location, token, result)?;
            self.token_waiters.wake(token);
            Ok(())
        })
    }

    fn activity_task_queued<'a>(&'a self, activity_arn: &'a str) -> Pin<Box<dyn Future<Output = ()> + Send + 'a>> {
        let waiter = self.activity_waiters.waiter(activity_arn);
        Box::pin(async move { waiter.notified().await })
    }

    fn send_task_heartbeat(&self, token: &str, now_ms: i64) -> Result<(), StoreError> {
        self.located(|| task_tokens::heartbeat(&self.conn(), token, now_ms))
    }

    fn create_map_run(&self, record: &MapRunRecord) -> Result<MapRunRecord, StoreError> {
        self.located(|| map_runs::create(&mut self.conn(), &self.location, record))
    }

    fn map_run(&self, map_run_arn: &str) -> Result<Option<MapRunRecord>, StoreError> {
        self.located(|| map_runs::get(&self.conn(), &self.location, map_run_arn))
    }

    fn map_runs_of(&self, execution_arn: &str) -> Result<Vec<MapRunRecord>, StoreError> {
        self.located(|| map_runs::of_execution(&self.conn(), &self.location, execution_arn))
    }

    fn update_map_run(
        &self,
        map_run_arn: &str,
        max_concurrency: Option<u32>,
        tolerated_failure_count: Option<u64>,
        tolerated_failure_percentage: Option<f64>,
    ) -> Result<bool, StoreError> {
        self.located(|| map_runs::update(&self.conn(), map_run_arn, max_concurrency, tolerated_failure_count, tolerated_failure_percentage))
    }

    fn set_map_run_progress(
        &self,
        map_run_arn: &str,
        item_counts: &MapRunCounts,
        execution_counts: &MapRunCounts,
    ) -> Result<(), StoreError> {
        self.located(|| map_runs::set_progress(&self.conn(), &self.location, map_run_arn, item_counts, execution_counts))
    }

    fn redrive_map_run(&self, map_run_arn: &str, redrive_count: u32, now_ms: i64) -> Result<bool, StoreError> {
        self.located(|| map_runs::redrive(&self.conn(), map_run_arn, redrive_count, now_ms))
    }

    fn finish_map_run(&self, map_run_arn: &str, status: MapRunStatus, stop_ms: i64) -> Result<(), StoreError> {
        self.located(|| map_runs::finish(&self.conn(), map_run_arn, status, stop_ms))
    }

    fn map_run_children(&self, map_run_arn: &str) -> Result<Vec<ExecutionSummary>, StoreError> {
        self.located(|| map_runs::children(&self.conn(), map_run_arn))
    }
}
