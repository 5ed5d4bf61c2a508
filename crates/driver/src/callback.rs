//! Waiting for a `.waitForTaskToken` task's result: what was sent back for
//! its token (`SendTaskSuccess`/`Failure`, `stepwasm task`), or a timeout when
//! its heartbeat or its time runs out first.

use crate::{Clock, DriverError};
use std::sync::Arc;
use stepwasm_asl::errors;
use stepwasm_engine::{Callback, EventKind};
use stepwasm_store::{ExecutionStatus, Journal, StoreError, TaskResult, TokenState};

/// How often, at most, a waiting task's token is checked for a result: the
/// first checks come quickly, later ones back off to this.
const CALLBACK_POLL_MAX_MS: i64 = 1_000;

/// The event of a result sent back for a task's token.
pub(crate) fn answered(resource: &str, result: TaskResult) -> EventKind {
    match result {
        TaskResult::Success(output) => EventKind::TaskSucceeded { resource: resource.to_string(), output: Arc::new(output) },
        TaskResult::Failure { error, cause } => EventKind::TaskFailed { resource: resource.to_string(), error, cause },
    }
}

/// Waits for the result of a submitted task's token: what was sent back, or
/// `TaskTimedOut` when its heartbeat or its time runs out first. The caller
/// has journaled the submission (it survives a crash: a resumed driver waits on).
pub(crate) async fn await_callback<C: Clock + Sync + ?Sized>(
    store: &dyn Journal,
    clock: &C,
    arn: String,
    callback: &Callback,
) -> Result<EventKind, DriverError> {
    store.open_task_token(&callback.token, &arn, clock.now_ms())?;
    let resource = &callback.resource;
    let answered = |result: TaskResult| answered(resource, result);
    let mut poll_ms = 50;
    loop {
        let answered_here = store.token_answered(&callback.token);
        let now = clock.now_ms();
        let state = store.task_token(&callback.token)?;
        let heartbeat_deadline = match &state {
            Some(TokenState::Waiting { heartbeat_ms }) => callback.heartbeat_seconds.map(|s| heartbeat_ms.saturating_add(s as i64 * 1000)),
            _ => None,
        };
        let expired = if callback.deadline_ms.is_some_and(|d| now >= d) {
            Some((
                errors::TIMEOUT,
                "no result was sent for the task token before its TimeoutSeconds (or the execution's) ran out".to_string(),
            ))
        } else if heartbeat_deadline.is_some_and(|d| now >= d) {
            let seconds = callback.heartbeat_seconds.unwrap_or_default();
            Some((
                errors::HEARTBEAT_TIMEOUT,
                format!("no heartbeat nor result was sent for the task token for {seconds} s (HeartbeatSeconds)"),
            ))
        } else {
            None
        };
        match state {
            Some(TokenState::Completed(result)) => return Ok(answered(result)),
            Some(TokenState::Closed) | None => {
                let status = store.execution(&arn)?.map(|e| e.status);
                if status != Some(ExecutionStatus::Running) {
                    let status = status.map_or("gone from the store", ExecutionStatus::as_str);
                    return Err(StoreError::Closed { arn, status }.into());
                }
                // A driver that timed the task out stopped before it could
                // record so: record it now.
                let (error, cause) = expired.unwrap_or((errors::TIMEOUT, "the task token was closed before a result came".into()));
                return Ok(EventKind::TaskTimedOut { resource: resource.clone(), error: error.into(), cause });
            }
            Some(TokenState::Waiting { .. }) => {}
        }
        if let Some((error, cause)) = expired {
            // A result that came in the meantime wins over the timeout.
            return Ok(match store.close_task_token(&callback.token)? {
                Some(result) => answered(result),
                None => EventKind::TaskTimedOut { resource: resource.clone(), error: error.into(), cause },
            });
        }
        let wake = [Some(now + poll_ms), callback.deadline_ms, heartbeat_deadline].into_iter().flatten().min().unwrap_or(now + poll_ms);
        // Polling finds results sent by other processes (`stepwasm task`).
        tokio::select! {
            () = clock.wait_until(wake) => {}
            () = answered_here => {}
        }
        poll_ms = (poll_ms * 2).min(CALLBACK_POLL_MAX_MS);
    }
}
