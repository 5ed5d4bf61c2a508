//! Where a map run's child executions run.
//!
//! [`StoredChildren`] (`serve`): each child an execution in the store, of
//! the child state machine `<machine>/<label>` (the item processor's
//! definition, stored under that ARN and hidden from ListStateMachines),
//! started with the driver's `start_execution` and driven by `serve` like
//! any other; followed by polling the store; listed by ListExecutions
//! (`mapRunArn`); the run's record (DescribeMapRun) kept up to date and read
//! back for UpdateMapRun's settings.
//!
//! [`InProcessChildren`] (`stepwasm run`, StartSyncExecution, TestState):
//! each child run to its end in this process, by the same task runner, kept
//! nowhere.

use super::results::ChildResult;
use super::run::{Children, Settings};
use crate::api::Api;
use crate::asl::errors;
use crate::asl::StateMachine;
use crate::driver::{Clock, SystemClock};
use crate::engine::map_run::MapRunRequest;
use crate::engine::{EventKind, ExecutionInfo, Outcome, TaskOutcome, TaskRunner};
use crate::store::{ExecutionStatus, ExecutionSummary, Journal as _, MapRunCounts, MapRunRecord, MapRunStatus, Store, StoreError};
use futures_util::future::BoxFuture;
use serde_json::Value;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// The child state machine's name: what follows `stateMachine:` in its ARN.
fn machine_name(request: &MapRunRequest) -> &str {
    request.state_machine_arn.split_once(":stateMachine:").map_or("", |(_, name)| name)
}

/// Child `name`'s execution info: `…:execution:<machine>/<label>:<name>`.
fn child_info(request: &MapRunRequest, name: &str, role_arn: &str) -> ExecutionInfo {
    let prefix = request.state_machine_arn.split_once(":stateMachine:").map_or("", |(prefix, _)| prefix);
    let machine = machine_name(request);
    ExecutionInfo {
        execution_arn: format!("{prefix}:execution:{machine}:{name}"),
        name: name.to_string(),
        state_machine_arn: request.state_machine_arn.clone(),
        state_machine_name: machine.to_string(),
        role_arn: role_arn.to_string(),
        test_case: None,
    }
}

/// How an execution ended, as a result file shows it.
fn ended(info: &ExecutionInfo, input: &Value, start_ms: i64, stop_ms: i64, outcome: &Outcome) -> ChildResult {
    let (status, output, error, cause) = match outcome {
        Outcome::Succeeded { output } => ("SUCCEEDED", Some(output.to_string()), None, None),
        Outcome::Failed { error, cause } => ("FAILED", None, Some(error.clone()), Some(cause.clone())),
        Outcome::TimedOut { error, cause } => ("TIMED_OUT", None, Some(error.clone()), Some(cause.clone())),
        Outcome::Aborted { error, cause } => ("ABORTED", None, Some(error.clone()), Some(cause.clone())),
    };
    ChildResult {
        execution_arn: info.execution_arn.clone(),
        name: info.name.clone(),
        state_machine_arn: info.state_machine_arn.clone(),
        status: status.into(),
        input: input.to_string(),
        output,
        error,
        cause,
        start_ms,
        stop_ms: Some(stop_ms),
    }
}

fn store_failure(e: StoreError) -> TaskOutcome {
    TaskOutcome::StoreUnavailable { cause: format!("the map run's store: {e}") }
}

/// Children kept in `serve`'s store and driven by its host.
pub struct StoredChildren {
    api: Arc<Api>,
    /// The execution whose Map state runs, and its role (the children's).
    parent_arn: String,
    role_arn: String,
    /// The item processor's definition (JSON text).
    definition: String,
    /// The child machine, stored and loaded by [`Children::begin`].
    machine: Mutex<Option<Arc<StateMachine>>>,
    /// When the record was last updated (progress is written at most every
    /// [`PROGRESS_EVERY`], and at the end).
    progress_at: Mutex<Option<Instant>>,
}

/// How often a running map run's record is brought up to date.
const PROGRESS_EVERY: Duration = Duration::from_millis(200);
/// The longest pause between two looks at a running child.
const POLL_AT_MOST: Duration = Duration::from_millis(500);

impl StoredChildren {
    pub fn new(api: Arc<Api>, parent_arn: String, role_arn: String, definition: String) -> StoredChildren {
        StoredChildren { api, parent_arn, role_arn, definition, machine: Mutex::new(None), progress_at: Mutex::new(None) }
    }

    fn settings(record: &MapRunRecord) -> Settings {
        Settings {
            max_concurrency: record.max_concurrency,
            tolerated_failure_count: record.tolerated_failure_count,
            tolerated_failure_percentage: record.tolerated_failure_percentage,
        }
    }

    async fn run_child(&self, request: &MapRunRequest, name: String, input: Value) -> Result<ChildResult, TaskOutcome> {
        let info = child_info(request, &name, &self.role_arn);
        let store = &self.api.store;
        // Started before a crash: found by its name, not started twice.
        if let Some(child) = store.execution(&info.execution_arn).map_err(store_failure)? {
            self.redrive_child(request, &child)?;
        } else {
            let machine = self.machine.lock().unwrap_or_else(|e| e.into_inner()).clone();
            let Some(machine) = machine else {
                return Err(TaskOutcome::Failed {
                    error: errors::RUNTIME.into(),
                    cause: "the map run's child machine is not loaded".into(),
                });
            };
            match crate::driver::start_execution(machine, info.clone(), input.clone(), &SystemClock, &**store).await {
                Ok(()) => {}
                Err(crate::driver::DriverError::Store(StoreError::ExecutionExists(_))) => {}
                Err(e) => {
                    return Err(TaskOutcome::StoreUnavailable { cause: format!("starting child execution {}: {e}", info.execution_arn) })
                }
            }
            self.api.wake_host.notify_one();
        }
        let mut pause = Duration::from_millis(10);
        let summary = loop {
            match store.execution(&info.execution_arn) {
                Ok(Some(child)) if child.status != ExecutionStatus::Running => break child,
                Ok(Some(_)) => {}
                Ok(None) => {
                    let cause = format!("child execution {} is no longer in the store", info.execution_arn);
                    return Err(TaskOutcome::Failed { error: errors::RUNTIME.into(), cause });
                }
                Err(e) if e.is_transient() => {}
                Err(e) => return Err(store_failure(e)),
            }
            tokio::time::sleep(pause).await;
            pause = (pause * 2).min(POLL_AT_MOST);
        };
        let history = store.history(&info.execution_arn).map_err(store_failure)?;
        let input = match history.first().map(|e| &e.kind) {
            Some(EventKind::ExecutionStarted { input }) => Value::clone(input),
            _ => input,
        };
        let outcome = history.last().and_then(|e| Outcome::ended_by(&e.kind)).unwrap_or_else(|| Outcome::Failed {
            error: errors::RUNTIME.into(),
            cause: format!("child execution {} ended without its outcome", info.execution_arn),
        });
        Ok(ended(&info, &input, summary.start_ms, summary.stop_ms.unwrap_or(summary.start_ms), &outcome))
    }

    /// In a redriven map run, a child that did not succeed runs again from
    /// where it failed (RedriveExecution), once per redrive of the run: the
    /// redrive's client token makes a second request after a crash that
    /// same redrive, and a child redriven this time already is left as it is.
    fn redrive_child(&self, request: &MapRunRequest, child: &ExecutionSummary) -> Result<(), TaskOutcome> {
        if request.redrive_count == 0 || !child.status.is_unsuccessful() || child.redrive_count >= request.redrive_count {
            return Ok(());
        }
        let token = format!("map-run-redrive-{}", request.redrive_count);
        match self.api.store.redrive_execution(&child.info.execution_arn, Some(&token), SystemClock.now_ms()) {
            Ok(_) => {
                self.api.wake_host.notify_one();
                Ok(())
            }
            // It stays as it ended (history full, redriven too often): its
            // failure counts again.
            Err(StoreError::NotRedrivable { .. }) => Ok(()),
            Err(e) => Err(store_failure(e)),
        }
    }
}

impl Children for StoredChildren {
    fn begin<'a>(&'a self, request: &'a MapRunRequest, children: u64, items: u64) -> BoxFuture<'a, Result<Settings, TaskOutcome>> {
        Box::pin(async move {
            let store = &self.api.store;
            let name = machine_name(request);
            let version = store.put_state_machine(&request.state_machine_arn, name, &self.definition).map_err(store_failure)?;
            let loaded =
                self.api.machines.load(&request.state_machine_arn, Some(version), &self.definition).map_err(|e| TaskOutcome::Failed {
                    error: errors::RUNTIME.into(),
                    cause: format!("the item processor of map run {}: {e:#}", request.map_run_arn),
                })?;
            *self.machine.lock().unwrap_or_else(|e| e.into_inner()) = Some(Arc::clone(&loaded.0));
            let record = MapRunRecord {
                map_run_arn: request.map_run_arn.clone(),
                execution_arn: self.parent_arn.clone(),
                state_machine_arn: request.state_machine_arn.clone(),
                status: MapRunStatus::Running,
                start_ms: SystemClock.now_ms(),
                stop_ms: None,
                max_concurrency: request.max_concurrency,
                tolerated_failure_count: request.tolerated_failure_count.unwrap_or(0),
                tolerated_failure_percentage: request.tolerated_failure_percentage.unwrap_or(0.0),
                item_counts: MapRunCounts { pending: items, total: items, ..MapRunCounts::default() },
                execution_counts: MapRunCounts { pending: children, total: children, ..MapRunCounts::default() },
                redrive_count: 0,
                redrive_ms: None,
            };
            let mut stored = store.create_map_run(&record).map_err(store_failure)?;
            if request.redrive_count > stored.redrive_count {
                // A redrive of the run: RUNNING again, its children that did not succeed rerun.
                store.redrive_map_run(&request.map_run_arn, request.redrive_count, SystemClock.now_ms()).map_err(store_failure)?;
                stored = store.map_run(&request.map_run_arn).map_err(store_failure)?.unwrap_or(stored);
            }
            Ok(StoredChildren::settings(&stored))
        })
    }

    fn run<'a>(&'a self, request: &'a MapRunRequest, name: String, input: Value) -> BoxFuture<'a, Result<ChildResult, TaskOutcome>> {
        Box::pin(self.run_child(request, name, input))
    }

    fn progress(&self, request: &MapRunRequest, items: &MapRunCounts, executions: &MapRunCounts) -> Option<Settings> {
        let mut at = self.progress_at.lock().unwrap_or_else(|e| e.into_inner());
        let finished = executions.pending == 0 && executions.running == 0;
        if !finished && at.is_some_and(|t| t.elapsed() < PROGRESS_EVERY) {
            return None;
        }
        *at = Some(Instant::now());
        let store = &self.api.store;
        // Progress is for DescribeMapRun: a store that cannot take it now
        // takes the next one.
        let _ = store.set_map_run_progress(&request.map_run_arn, items, executions);
        // Children ended (this is called as they do): the parent progresses
        // though its own history does not grow, so host stops during a long
        // map run do not count against it as a crash loop.
        let _ = store.end_drive(&self.parent_arn);
        store.map_run(&request.map_run_arn).ok().flatten().map(|record| StoredChildren::settings(&record))
    }

    fn finish(&self, request: &MapRunRequest, status: MapRunStatus, stop: &[String]) {
        let store = &self.api.store;
        let now = SystemClock.now_ms();
        for name in stop {
            let info = child_info(request, name, &self.role_arn);
            let cause = format!("map run {} failed", request.map_run_arn);
            // One that ended meanwhile is refused: nothing to stop.
            let _ = store.stop_execution(&info.execution_arn, "States.Aborted", &cause, now);
        }
        if !stop.is_empty() {
            self.api.wake_host.notify_one();
        }
        let _ = store.finish_map_run(&request.map_run_arn, status, now);
    }
}

/// Children run in this process by `runner`, kept nowhere.
pub struct InProcessChildren<'r, R: TaskRunner + Sync + ?Sized> {
    pub runner: &'r R,
    pub machine: Arc<StateMachine>,
    pub role_arn: String,
}

impl<R: TaskRunner + Sync + ?Sized> Children for InProcessChildren<'_, R> {
    fn begin<'a>(&'a self, request: &'a MapRunRequest, _children: u64, _items: u64) -> BoxFuture<'a, Result<Settings, TaskOutcome>> {
        // Nothing can change these while the run goes on (no UpdateMapRun here).
        let settings = Settings { max_concurrency: request.max_concurrency, tolerated_failure_count: 0, tolerated_failure_percentage: 0.0 };
        Box::pin(std::future::ready(Ok(settings)))
    }

    fn run<'a>(&'a self, request: &'a MapRunRequest, name: String, input: Value) -> BoxFuture<'a, Result<ChildResult, TaskOutcome>> {
        Box::pin(async move {
            let info = child_info(request, &name, &self.role_arn);
            let start_ms = SystemClock.now_ms();
            let ran = crate::driver::run_execution(Arc::clone(&self.machine), info.clone(), input.clone(), self.runner, &SystemClock).await;
            match ran {
                Ok(record) => Ok(ended(&info, &input, start_ms, SystemClock.now_ms(), &record.outcome)),
                Err(e) => Err(TaskOutcome::Failed {
                    error: errors::RUNTIME.into(),
                    cause: format!("child execution {}: {e}", info.execution_arn),
                }),
            }
        })
    }

    fn progress(&self, _request: &MapRunRequest, _items: &MapRunCounts, _executions: &MapRunCounts) -> Option<Settings> {
        None
    }

    fn finish(&self, _request: &MapRunRequest, _status: MapRunStatus, _stop: &[String]) {}
}

/// The running map runs of `execution_arn`, stopped with it: their running
/// children stopped, the runs `ABORTED`. Best effort: a store that refuses
/// now leaves them to end on their own.
pub fn abort_runs_of(store: &dyn Store, execution_arn: &str) {
    let Ok(runs) = store.map_runs_of(execution_arn) else { return };
    let now = SystemClock.now_ms();
    for run in runs.iter().filter(|run| run.status == MapRunStatus::Running) {
        // The run's end first: the parent's task may still be running for a
        // moment (its abort takes effect at its next await), and if it saw a
        // child stopped here before the run was ABORTED, it would end the run
        // as FAILED (a run ends once: `finish_map_run` changes only a RUNNING one).
        let _ = store.finish_map_run(&run.map_run_arn, MapRunStatus::Aborted, now);
        let cause = format!("execution {execution_arn}, which runs map run {}, was stopped", run.map_run_arn);
        for child in store.map_run_children(&run.map_run_arn).unwrap_or_default() {
            if child.status == ExecutionStatus::Running {
                let _ = store.stop_execution(&child.info.execution_arn, "States.Aborted", &cause, now);
            }
        }
    }
}
