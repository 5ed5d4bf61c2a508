//! An activity's task: no module runs it. It is queued for the activity's
//! workers (GetActivityTask) with its token open, and starts when a worker
//! takes it (`ActivityStarted`, naming the worker); from there its token is
//! awaited as a `.waitForTaskToken` task's is ([`crate::callback`]). Its
//! `TimeoutSeconds` counts from its scheduling, so it also runs out while no
//! worker comes (`ActivityTimedOut`).

use crate::callback::answered;
use crate::{Clock, DriverError};
use stepwasm_asl::errors;
use stepwasm_engine::{EventKind, TaskInvocation};
use stepwasm_store::{ActivityTask, ExecutionStatus, Journal, StoreError, TokenState};

/// How often, at most, the store is asked whether a worker took the task
/// (a worker in another process cannot wake this driver).
const WORKER_POLL_MAX_MS: i64 = 1_000;

/// Queues `task` for its activity's workers, its token open. The caller
/// journals what led to it next, so a history showing the task scheduled
/// means a worker can take it; a resumed driver queues it again (a no-op).
pub(crate) fn queue_for_workers<C: Clock + ?Sized>(
    store: &dyn Journal,
    clock: &C,
    arn: &str,
    task: &TaskInvocation,
    token: &str,
) -> Result<(), DriverError> {
    store.open_task_token(token, arn, clock.now_ms())?;
    let queued = ActivityTask {
        token: token.to_string(),
        activity_arn: task.resource.clone(),
        execution_arn: arn.to_string(),
        input: (*task.input).clone(),
        created_ms: clock.now_ms(),
    };
    Ok(store.queue_activity_task(&queued)?)
}

/// Waits until a worker takes the queued `task`: the events to record, in
/// order (`ActivityStarted`; with the answer too when it came as the task's
/// time ran out; `TaskTimedOut` when no worker came in time).
pub(crate) async fn await_worker<C: Clock + Sync + ?Sized>(
    store: &dyn Journal,
    clock: &C,
    arn: String,
    task: &TaskInvocation,
    token: &str,
) -> Result<Vec<EventKind>, DriverError> {
    let resource = task.resource.clone();
    let started = |worker: Option<String>| EventKind::ActivityStarted {
        resource: resource.clone(),
        worker_name: worker.filter(|name| !name.is_empty()),
    };
    let deadline_ms = task.timeout_seconds.map(|seconds| clock.now_ms().saturating_add((seconds as i64).saturating_mul(1000)));
    let mut poll_ms = 50;
    loop {
        let answered_here = store.token_answered(token);
        if let Some(worker) = store.activity_task_worker(token)? {
            return Ok(vec![started(Some(worker))]);
        }
        match store.task_token(token)? {
            // Answered before this driver saw who took it: the answer is
            // recorded next, as a callback's.
            Some(TokenState::Completed(_)) => return Ok(vec![started(None)]),
            Some(TokenState::Closed) | None => {
                let status = store.execution(&arn)?.map(|e| e.status);
                if status != Some(ExecutionStatus::Running) {
                    let status = status.map_or("gone from the store", ExecutionStatus::as_str);
                    return Err(StoreError::Closed { arn, status }.into());
                }
                let cause = "the activity task's token was closed before a worker took the task".to_string();
                return Ok(vec![EventKind::TaskTimedOut { resource: resource.clone(), error: errors::TIMEOUT.into(), cause }]);
            }
            Some(TokenState::Waiting { .. }) => {}
        }
        let now = clock.now_ms();
        if deadline_ms.is_some_and(|deadline| now >= deadline) {
            // A result that came in the meantime wins over the timeout.
            return Ok(match store.close_task_token(token)? {
                Some(result) => vec![started(store.activity_task_worker(token)?), answered(&resource, result)],
                None => {
                    let cause = "no worker took the activity's task before its TimeoutSeconds (or the execution's) ran out".to_string();
                    vec![EventKind::TaskTimedOut { resource: resource.clone(), error: errors::TIMEOUT.into(), cause }]
                }
            });
        }
        let wake = deadline_ms.map_or(now + poll_ms, |deadline| deadline.min(now + poll_ms));
        tokio::select! {
            () = clock.wait_until(wake) => {}
            () = answered_here => {}
        }
        poll_ms = (poll_ms * 2).min(WORKER_POLL_MAX_MS);
    }
}
