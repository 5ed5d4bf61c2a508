//! The loop: decide, record, invoke or wait, until the engine says the
//! execution finished, it parks on a long wait, or it was stopped in the store.

use crate::activity::await_worker;
use crate::callback::await_callback;
use crate::decide::decide;
use crate::recorder::Recorder;
use crate::run::{ExecutionRecord, Progress};
use crate::{Clock, DriverError};
use std::sync::Arc;
use stepwasm_asl::errors;
use stepwasm_engine::{Decision, EventKind, Scope, StateType, TaskOutcome, TaskRunner, MAX_HISTORY_EVENTS};
use stepwasm_store::{ExecutionStatus, StoreError};

/// The loop: decide, record, invoke or wait, until the engine says finished
/// (or the execution was stopped in the store).
pub(crate) async fn drive<R, C>(mut rec: Recorder<'_, C>, runner: &R) -> Result<ExecutionRecord, DriverError>
where
    R: TaskRunner + ?Sized,
    C: Clock + ?Sized,
{
    match drive_to_halt(&mut rec, runner).await? {
        Progress::Finished(outcome) => Ok(ExecutionRecord { info: rec.execution.info().clone(), history: rec.history, outcome }),
        // Only a recorder with `park_waits_over_ms` parks; this one has none.
        Progress::Parked { .. } => Err(DriverError::NotResumable {
            arn: rec.execution.info().execution_arn.clone(),
            reason: "it parked where it should have waited".into(),
        }),
    }
}

/// [`drive_steps`], with a stop found in the store as the outcome.
pub(crate) async fn drive_to_halt<R, C>(rec: &mut Recorder<'_, C>, runner: &R) -> Result<Progress, DriverError>
where
    R: TaskRunner + ?Sized,
    C: Clock + ?Sized,
{
    match drive_steps(rec, runner).await {
        Err(DriverError::Store(StoreError::Closed { status, .. })) if status == ExecutionStatus::Aborted.as_str() => {
            rec.stopped().map(Progress::Finished)
        }
        other => other,
    }
}

async fn drive_steps<R, C>(rec: &mut Recorder<'_, C>, runner: &R) -> Result<Progress, DriverError>
where
    R: TaskRunner + ?Sized,
    C: Clock + ?Sized,
{
    let clock = rec.clock;
    loop {
        let decision = decide(rec).await?;
        if !matches!(decision, Decision::Finished(_)) && rec.len() >= MAX_HISTORY_EVENTS - 1 {
            rec.record(
                Scope::root(),
                EventKind::ExecutionFailed {
                    error: errors::RUNTIME.into(),
                    cause: format!("the execution reached the limit of {MAX_HISTORY_EVENTS} history events"),
                },
            )?;
            continue;
        }
        match decision {
            Decision::Record { scope, event } => rec.record(scope, event)?,
            Decision::RecordAt { scope, event, not_before_ms } => {
                // A Wait state is decided as soon as it is entered (branches and
                // iterations run one after another), so the latest event is its entry.
                let not_before_ms = match &event {
                    EventKind::StateExited { state_type: StateType::Wait, .. } => {
                        clock.wait_state_ends(rec.execution.last_event_ms(), not_before_ms)
                    }
                    _ => not_before_ms,
                };
                if not_before_ms > clock.now_ms() {
                    // A wait can be long: what led to it must survive it.
                    rec.flush_grouped().await?;
                    if rec.park_waits_over_ms.is_some_and(|over| not_before_ms - clock.now_ms() > over) {
                        if let Some(store) = rec.store {
                            // A restarted host keeps it parked without a replay.
                            store.park_execution(&rec.execution.info().execution_arn, rec.len() as u64, not_before_ms)?;
                        }
                        return Ok(Progress::Parked { until_ms: not_before_ms });
                    }
                }
                clock.wait_until(not_before_ms).await;
                rec.record(scope, event)?;
            }
            Decision::Invoke { scope, mut task } => {
                task.journaled = rec.store.is_some();
                let resource = task.resource.clone();
                if stepwasm_asl::is_activity(&resource) {
                    if let Some(outcome) = runner.mocked(&task) {
                        // A mocked activity (SFN Local) is answered with no worker.
                        rec.record(scope.clone(), EventKind::ActivityStarted { resource: resource.clone(), worker_name: None })?;
                        let kind = outcome_event(rec, resource, outcome)?;
                        rec.record(scope, kind)?;
                        continue;
                    }
                    // No module: a worker takes the task (GetActivityTask)
                    // and answers with its token.
                    for kind in await_worker(rec, &task).await? {
                        rec.record(scope.clone(), kind)?;
                    }
                    continue;
                }
                rec.record(scope.clone(), EventKind::TaskStarted { resource: resource.clone() })?;
                // The previous task's result is kept before the next task
                // runs: a crash during this one never repeats that one.
                rec.flush_grouped().await?;
                if let Some(token) = &task.task_token {
                    let Some(store) = rec.store else {
                        let cause = format!("{resource} waits for its task token, which only an execution kept in a store can receive (run --store, or start and serve)");
                        rec.record(scope, EventKind::TaskFailed { resource, error: errors::RUNTIME.into(), cause })?;
                        continue;
                    };
                    // Valid before the module runs, which may send it back itself.
                    store.open_task_token(token, &rec.execution.info().execution_arn, clock.now_ms())?;
                }
                let kind = match runner.run_task(&task).await {
                    TaskOutcome::Succeeded(output) if task.task_token.is_some() => {
                        EventKind::TaskSubmitted { resource, output: Arc::new(output) }
                    }
                    outcome => outcome_event(rec, resource, outcome)?,
                };
                if let (Some(token), Some(store)) = (&task.task_token, rec.store) {
                    if !matches!(kind, EventKind::TaskSubmitted { .. }) {
                        // The attempt failed before it could wait; a retry has a token of its own.
                        store.close_task_token(token)?;
                    }
                }
                rec.record(scope, kind)?;
            }
            Decision::AwaitCallback { scope, callback } => {
                let kind = await_callback(rec, &callback).await?;
                rec.record(scope, kind)?;
            }
            Decision::Finished(outcome) => {
                rec.flush_grouped().await?;
                return Ok(Progress::Finished(outcome));
            }
        }
    }
}

/// The event of a task that ended with `outcome` (one that waits for its
/// token and was only submitted is the caller's); a store that cannot take
/// the task's kv writes stops the drive.
fn outcome_event<C: Clock + ?Sized>(rec: &Recorder<'_, C>, resource: String, outcome: TaskOutcome) -> Result<EventKind, DriverError> {
    Ok(match outcome {
        TaskOutcome::Succeeded(output) | TaskOutcome::Answered(output) => EventKind::TaskSucceeded { resource, output: Arc::new(output) },
        TaskOutcome::Failed { error, cause } => EventKind::TaskFailed { resource, error, cause },
        TaskOutcome::TimedOut { cause } => EventKind::TaskTimedOut { resource, error: errors::TIMEOUT.into(), cause },
        TaskOutcome::StoreUnavailable { cause } => {
            return Err(DriverError::TaskStore { arn: rec.execution.info().execution_arn.clone(), resource, cause })
        }
    })
}
