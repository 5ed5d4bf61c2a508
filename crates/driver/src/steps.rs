//! The loop: record what the engine decided, start what can run at once
//! (every Parallel branch's and Map iteration's tasks, callbacks and
//! activity tasks, as concurrent futures), wait for the first of them or of
//! the timers to end, record its events, until the engine says the execution
//! finished, it parks on a long wait, or it was stopped in the store.
//!
//! The engine gives at most one decision per scope (branch or iteration).
//! The loop keeps them in [`Pending`], and after each event asks the engine
//! only for the decisions that event can have changed
//! ([`stepwasm_engine::Execution::decide_after`]), so the cost of an event
//! does not grow with the number of children in flight. A decision replaced
//! by a different one (a branch stopped by its sibling's failure, a Map
//! state that failed, a timeout) drops the work in flight for it; a token it
//! held is closed, so a late answer is refused.

use crate::activity::{await_worker, queue_for_workers};
use crate::callback::await_callback;
use crate::decide::decide;
use crate::pending::{Flight, Pending, Work};
use crate::recorder::Recorder;
use crate::run::{ExecutionRecord, Progress};
use crate::{Clock, DriverError};
use futures_util::future::{AbortHandle, Abortable, BoxFuture};
use futures_util::stream::{FuturesUnordered, StreamExt};
use std::sync::Arc;
use stepwasm_asl::errors;
use stepwasm_engine::{Decision, EventKind, Outcome, Scope, StateType, TaskInvocation, TaskOutcome, TaskRunner, MAX_HISTORY_EVENTS};
use stepwasm_store::{ExecutionStatus, Journal, StoreError};

/// The loop: decide, record, invoke or wait, until the engine says finished
/// (or the execution was stopped in the store).
pub(crate) async fn drive<R, C>(mut rec: Recorder<'_, C>, runner: &R) -> Result<ExecutionRecord, DriverError>
where
    R: TaskRunner + Sync + ?Sized,
    C: Clock + Sync + ?Sized,
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
    R: TaskRunner + Sync + ?Sized,
    C: Clock + Sync + ?Sized,
{
    rec.execution.set_map_runs(runner.runs_map_runs());
    match drive_steps(rec, runner).await {
        Err(DriverError::Store(StoreError::Closed { status, .. })) if status == ExecutionStatus::Aborted.as_str() => {
            rec.stopped().map(Progress::Finished)
        }
        other => other,
    }
}

/// How a piece of work ended: its scope, what it was, the events to record.
type Landed = (Scope, Work, Result<Vec<EventKind>, DriverError>);

async fn drive_steps<R, C>(rec: &mut Recorder<'_, C>, runner: &R) -> Result<Progress, DriverError>
where
    R: TaskRunner + Sync + ?Sized,
    C: Clock + Sync + ?Sized,
{
    let (clock, store) = (rec.clock, rec.store);
    let mut pending = Pending::default();
    let mut running: FuturesUnordered<Abortable<BoxFuture<'_, Landed>>> = FuturesUnordered::new();
    let initial = decide(rec, None).await?;
    let dropped = pending.merge(None, initial, |d| due(clock, d));
    close_tokens(rec, dropped)?;
    loop {
        if let Some(outcome) = rec.execution.outcome() {
            let outcome = outcome.clone();
            rec.flush_grouped().await?;
            return Ok(Progress::Finished(outcome));
        }
        if let Some((scope, event)) = pending.take_record() {
            record(rec, &mut pending, scope, event).await?;
            continue;
        }
        if let Some(Decision::Invoke { scope, task }) = pending.take_lone(|d| runs_alone(rec, d)) {
            run_alone(rec, &mut pending, runner, scope, task).await?;
            continue;
        }
        // Start what can start, within the host's cap on work in flight.
        let room = rec.max_children.saturating_sub(pending.in_flight());
        let starting = pending.to_start(room);
        for decision in starting {
            if rec.execution.outcome().is_some() {
                break;
            }
            if let Some((scope, work, future)) = start(rec, &mut pending, Tools { runner, clock, store }, decision).await? {
                // Not polled before the flush below.
                launch(&mut pending, &mut running, scope, work, future);
            }
        }
        if rec.execution.outcome().is_some() || pending.has_record() {
            // Starting recorded events (a task's start, a mocked answer):
            // record what they led to first.
            continue;
        }
        // Everything recorded so far is journaled before any task runs or
        // any wait begins: a crash never repeats a task whose end is recorded.
        rec.flush_grouped().await?;
        let timer = next_timer(rec, &pending);
        if pending.in_flight() == 0 {
            let Some((due_ms, _)) = &timer else {
                // Nothing to do, nothing in flight: a bug, not a hang.
                record(rec, &mut pending, Scope::root(), stepwasm_engine::Execution::nothing_left()).await?;
                continue;
            };
            let due_ms = *due_ms;
            if due_ms > clock.now_ms() && rec.park_waits_over_ms.is_some_and(|over| due_ms - clock.now_ms() > over) {
                if let Some(store) = rec.store {
                    // A restarted host keeps it parked without a replay.
                    store.park_execution(&rec.execution.info().execution_arn, rec.len() as u64, due_ms)?;
                }
                return Ok(Progress::Parked { until_ms: due_ms });
            }
        }
        let landed = match &timer {
            Some((due_ms, _)) if *due_ms <= clock.now_ms() => None,
            // On a clock whose waits jump, work in flight ends first.
            Some(_) if clock.waits_jump() && pending.in_flight() > 0 => running.next().await,
            Some((due_ms, _)) => tokio::select! {
                biased;
                Some(landed) = running.next() => Some(landed),
                () = clock.wait_until(*due_ms) => None,
            },
            None => running.next().await,
        };
        match landed {
            // A timer came due: its event (or the execution's timeout).
            None => {
                let Some((_, due)) = timer else { continue };
                match due {
                    Due::Deadline => record(rec, &mut pending, Scope::root(), rec.execution.timed_out()).await?,
                    Due::Scope(scope) => {
                        if let Some((scope, event)) = pending.take_timer(&scope) {
                            record(rec, &mut pending, scope, event).await?;
                        }
                    }
                }
            }
            // Dropped work (its decision changed) ends as aborted: nothing to record.
            Some(Err(_aborted)) => {}
            Some(Ok((scope, work, result))) => {
                if !pending.land(&scope, &work) {
                    continue;
                }
                for event in result? {
                    if rec.execution.outcome().is_some() {
                        break;
                    }
                    record(rec, &mut pending, scope.clone(), event).await?;
                }
            }
        }
    }
}

/// Which timer comes due first.
enum Due {
    /// The top-level `TimeoutSeconds`.
    Deadline,
    /// The `RecordAt` decision of this scope (a Wait, a retry's backoff).
    Scope(Scope),
}

/// The earliest timer: the decisions to record at an instant, and the
/// execution's deadline.
fn next_timer<C: Clock + ?Sized>(rec: &Recorder<'_, C>, pending: &Pending) -> Option<(i64, Due)> {
    let deadline = rec.execution.deadline_ms().map(|deadline| (deadline, Due::Deadline));
    match (pending.next_timer(), deadline) {
        (Some((at, scope)), Some((deadline, _))) if at < deadline => Some((at, Due::Scope(scope))),
        (Some((at, scope)), None) => Some((at, Due::Scope(scope))),
        (_, deadline) => deadline,
    }
}

/// When a `RecordAt` decision comes due: a Wait state ends when the clock
/// says (it may scale waits).
fn due<C: Clock + ?Sized>(clock: &C, decision: &Decision) -> i64 {
    match decision {
        Decision::RecordAt { event: EventKind::StateExited { state_type: StateType::Wait, .. }, not_before_ms, since_ms, .. } => {
            clock.wait_state_ends(*since_ms, *not_before_ms)
        }
        Decision::RecordAt { not_before_ms, .. } => *not_before_ms,
        _ => i64::MAX,
    }
}

/// Records `event` in `scope` (the history's limit permitting), then takes
/// in the decisions it changed.
async fn record<C: Clock + ?Sized>(
    rec: &mut Recorder<'_, C>,
    pending: &mut Pending,
    scope: Scope,
    event: EventKind,
) -> Result<(), DriverError> {
    let (mut scope, mut event) = (scope, event);
    loop {
        if rec.len() >= MAX_HISTORY_EVENTS - 1 && Outcome::ended_by(&event).is_none() {
            let cause = format!("the execution reached the limit of {MAX_HISTORY_EVENTS} history events");
            (scope, event) = (Scope::root(), EventKind::ExecutionFailed { error: errors::RUNTIME.into(), cause });
        }
        // A task's start changes no decision: its scope still wants the same
        // work (now in flight), and nothing above it counts starts.
        let started = matches!(event, EventKind::TaskStarted { .. });
        rec.record(scope, event)?;
        if started {
            return Ok(());
        }
        if rec.execution.outcome().is_some() {
            // Nothing is decided after the end: the loop returns the outcome.
            let dropped = pending.abandon();
            return close_tokens(rec, dropped);
        }
        let changed = rec.history.last().map(stepwasm_engine::Execution::changed_scope);
        if changed.as_ref().is_some_and(Scope::is_root) && pending.in_flight() == 0 {
            // An event of the top level replaces every decision, and there
            // is no work in flight to drop: what `merge` would do, at no cost.
            pending.clear();
        }
        let mut decisions = decide(rec, changed.clone()).await?;
        // Nothing else pending, and the one thing to do is to record an
        // event of the top level (a state entered, exited, ...): recorded at
        // once, as the loop would, without the bookkeeping of many scopes.
        if pending.is_empty() && decisions.len() == 1 {
            if let Some(Decision::Record { scope: next, event: next_event }) =
                decisions.pop_if(|d| matches!(d, Decision::Record { scope, .. } if scope.is_root()))
            {
                (scope, event) = (next, next_event);
                continue;
            }
        }
        let clock = rec.clock;
        let dropped = pending.merge(changed.as_ref(), decisions, |d| due(clock, d));
        return close_tokens(rec, dropped);
    }
}

/// A decision the loop carries out on its own, as one awaited call: a
/// task of the top level that is all there is to do (the whole of a
/// workflow without Parallel or Map) and that needs nothing but its module
/// (no activity worker, no token, no map run), in an execution without a
/// deadline that could end it first.
fn runs_alone<C: Clock + ?Sized>(rec: &Recorder<'_, C>, decision: &Decision) -> bool {
    matches!(decision, Decision::Invoke { scope, task }
        if scope.is_root()
            && task.task_token.is_none()
            && task.map_run.is_none()
            && !stepwasm_asl::is_activity(&task.resource)
            && rec.execution.deadline_ms().is_none())
}

/// Runs a task [`runs_alone`] accepted and records how it ended: what
/// [`start`] and the loop do for work in flight, without the bookkeeping
/// that lets several run at once.
async fn run_alone<R, C>(
    rec: &mut Recorder<'_, C>,
    pending: &mut Pending,
    runner: &R,
    scope: Scope,
    mut task: TaskInvocation,
) -> Result<(), DriverError>
where
    R: TaskRunner + Sync + ?Sized,
    C: Clock + Sync + ?Sized,
{
    task.journaled = rec.store.is_some();
    let resource = task.resource.clone();
    record(rec, pending, scope.clone(), EventKind::TaskStarted { resource: resource.clone() }).await?;
    if rec.execution.outcome().is_some() {
        // The history's limit ended it.
        return Ok(());
    }
    // Journaled before the task runs, as for work in flight.
    rec.flush_grouped().await?;
    let outcome = runner.run_task(&task).await;
    let event = outcome_event(&rec.execution.info().execution_arn, resource, outcome)?;
    record(rec, pending, scope, event).await
}

/// Work dropped because its decision changed: a token it held is closed,
/// so an answer that comes later is refused.
fn close_tokens<C: Clock + ?Sized>(rec: &Recorder<'_, C>, dropped: Vec<Flight>) -> Result<(), DriverError> {
    let Some(store) = rec.store else { return Ok(()) };
    for flight in dropped {
        if let Some(token) = &flight.token {
            store.close_task_token(token)?;
        }
    }
    Ok(())
}

/// A future that has not been launched yet: its scope, its work, itself.
type Starting<'f> = (Scope, Work, BoxFuture<'f, Landed>);

/// What the futures of work in flight borrow.
struct Tools<'f, R: ?Sized, C: ?Sized> {
    runner: &'f R,
    clock: &'f C,
    store: Option<&'f dyn Journal>,
}

/// Does what starting `decision`'s work takes before it can run (a task's
/// `TaskStarted`, a token opened, an activity's task queued) and returns its
/// future; or answers it at once (a mocked activity, a task with a token and
/// no store), returning None.
async fn start<'f, R, C>(
    rec: &mut Recorder<'_, C>,
    pending: &mut Pending,
    tools: Tools<'f, R, C>,
    decision: Decision,
) -> Result<Option<Starting<'f>>, DriverError>
where
    R: TaskRunner + Sync + ?Sized,
    C: Clock + Sync + ?Sized,
{
    let Some(work) = Work::of(&decision) else { return Ok(None) };
    // Starting an earlier one may have changed this decision.
    if !pending.wants(decision.scope(), &work) {
        return Ok(None);
    }
    let Tools { runner, clock, store } = tools;
    let arn = rec.execution.info().execution_arn.clone();
    match decision {
        Decision::Invoke { scope, mut task } => {
            task.journaled = rec.store.is_some();
            let resource = task.resource.clone();
            if stepwasm_asl::is_activity(&resource) {
                if let Some(outcome) = runner.mocked(&task) {
                    // A mocked activity (SFN Local) is answered with no worker.
                    record(rec, pending, scope.clone(), EventKind::ActivityStarted { resource: resource.clone(), worker_name: None })
                        .await?;
                    let kind = outcome_event(&arn, resource, outcome)?;
                    record(rec, pending, scope, kind).await?;
                    return Ok(None);
                }
                let (Some(store), Some(token)) = (store, task.task_token.clone()) else {
                    let cause = format!(
                        "{resource} is an activity: its task is handed to a worker only by an execution kept in a store (start it and serve)"
                    );
                    record(rec, pending, scope, EventKind::TaskFailed { resource, error: errors::RUNTIME.into(), cause }).await?;
                    return Ok(None);
                };
                // No module: a worker takes the task (GetActivityTask) and answers with its token.
                queue_for_workers(store, clock, &arn, &task, &token)?;
                let (at, key) = (scope.clone(), work.clone());
                let future: BoxFuture<'f, Landed> = Box::pin(async move {
                    let landed = await_worker(store, clock, arn, &task, &token).await;
                    (scope, key, landed)
                });
                return Ok(Some((at, work, future)));
            }
            // A map run's MapRunStarted was its scheduling: it has no TaskStarted.
            if task.map_run.is_none() {
                record(rec, pending, scope.clone(), EventKind::TaskStarted { resource: resource.clone() }).await?;
            }
            if let Some(token) = &task.task_token {
                let Some(store) = store else {
                    let cause = format!("{resource} waits for its task token, which only an execution kept in a store can receive (run --store, or start and serve)");
                    record(rec, pending, scope, EventKind::TaskFailed { resource, error: errors::RUNTIME.into(), cause }).await?;
                    return Ok(None);
                };
                // Valid before the module runs, which may send it back itself.
                store.open_task_token(token, &arn, clock.now_ms())?;
            }
            let (at, key) = (scope.clone(), work.clone());
            let future: BoxFuture<'f, Landed> = Box::pin(async move {
                let landed = async {
                    let kind = match runner.run_task(&task).await {
                        TaskOutcome::Succeeded(output) if task.task_token.is_some() => {
                            EventKind::TaskSubmitted { resource: resource.clone(), output: Arc::new(output) }
                        }
                        outcome if task.map_run.is_some() => map_run_event(&arn, resource.clone(), outcome)?,
                        outcome => outcome_event(&arn, resource.clone(), outcome)?,
                    };
                    if let (Some(token), Some(store)) = (&task.task_token, store) {
                        if !matches!(kind, EventKind::TaskSubmitted { .. }) {
                            // The attempt failed before it could wait; a retry has a token of its own.
                            store.close_task_token(token)?;
                        }
                    }
                    Ok(vec![kind])
                }
                .await;
                (scope, key, landed)
            });
            Ok(Some((at, work, future)))
        }
        Decision::AwaitCallback { scope, callback } => {
            let Some(store) = store else {
                return Err(DriverError::NotResumable {
                    arn,
                    reason: "a task waits for its token, and there is no store to receive it".into(),
                });
            };
            let (at, key) = (scope.clone(), work.clone());
            let future: BoxFuture<'f, Landed> = Box::pin(async move {
                let landed = await_callback(store, clock, arn, &callback).await.map(|kind| vec![kind]);
                (scope, key, landed)
            });
            Ok(Some((at, work, future)))
        }
        _ => Ok(None),
    }
}

/// Puts a started future in flight, unless its decision changed meanwhile.
fn launch<'f>(
    pending: &mut Pending,
    running: &mut FuturesUnordered<Abortable<BoxFuture<'f, Landed>>>,
    scope: Scope,
    work: Work,
    future: BoxFuture<'f, Landed>,
) {
    if !pending.wants(&scope, &work) {
        return;
    }
    let (abort, registration) = AbortHandle::new_pair();
    let token = match &work {
        Work::Task { .. } => pending.task_token(&scope),
        Work::Activity(token) | Work::Callback(token) => Some(token.clone()),
    };
    pending.launch(scope, Flight { work, token, abort });
    running.push(Abortable::new(future, registration));
}

/// The event of a task that ended with `outcome` (one that waits for its
/// token and was only submitted is the caller's); a store that cannot take
/// the task's kv writes stops the drive.
fn outcome_event(arn: &str, resource: String, outcome: TaskOutcome) -> Result<EventKind, DriverError> {
    Ok(match outcome {
        TaskOutcome::Succeeded(output) | TaskOutcome::Answered(output) => EventKind::TaskSucceeded { resource, output: Arc::new(output) },
        TaskOutcome::Failed { error, cause } => EventKind::TaskFailed { resource, error, cause },
        TaskOutcome::TimedOut { cause } => EventKind::TaskTimedOut { resource, error: errors::TIMEOUT.into(), cause },
        TaskOutcome::StoreUnavailable { cause } => return Err(DriverError::TaskStore { arn: arn.to_string(), resource, cause }),
    })
}

/// The event of a map run that ended with `outcome` (the engine's
/// `MapRunSucceeded` carries the Map state's result).
fn map_run_event(arn: &str, resource: String, outcome: TaskOutcome) -> Result<EventKind, DriverError> {
    Ok(match outcome {
        TaskOutcome::Succeeded(output) | TaskOutcome::Answered(output) => EventKind::MapRunSucceeded { output: Arc::new(output) },
        TaskOutcome::Failed { error, cause } => EventKind::MapRunFailed { error, cause },
        TaskOutcome::TimedOut { cause } => EventKind::MapRunFailed { error: errors::TIMEOUT.into(), cause },
        TaskOutcome::StoreUnavailable { cause } => return Err(DriverError::TaskStore { arn: arn.to_string(), resource, cause }),
    })
}
