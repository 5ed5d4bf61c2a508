//! The loop that joins the pieces: it asks the engine what to do, runs tasks on
//! a task runner, waits on a [`Clock`], numbers and timestamps the events,
//! and feeds each one back to the engine. With a [`Store`], the events are
//! journaled in batches, one transaction each, before every task invocation,
//! before every real wait and at the end: so whatever a crash loses can only
//! be redone, never lost, since [`resume_execution_async`] continues an
//! execution from its stored history. A task whose completion is in the
//! history is never run again; one that was in flight is run again with the
//! same attempt number.
//!
//! A `.waitForTaskToken` task runs its module (`TaskSubmitted`), then waits
//! for its token's result in the store (`stepwasm task success|failure`),
//! within its `HeartbeatSeconds` and `TimeoutSeconds`. An execution stopped in
//! the store (`stepwasm executions stop`) ends its driver at the next append
//! or token check, with the stored `ExecutionAborted` as its outcome.
//!
//! The loop is one async function ([`run_execution_async`]), so that many
//! executions can share a few threads on tokio while their tasks run (the
//! WASM runtime yields while a module computes) or wait. [`run_execution`] is
//! the same loop for synchronous callers and runners ([`TaskRunner`]), driven
//! to completion on the calling thread.

use stepwasm_asl::{errors, StateMachine};
use stepwasm_engine::{Callback, Decision, EventKind, Execution, ExecutionInfo, HistoryEvent, Outcome, ReplayError, Scope};
use stepwasm_jsonata::evaluation_budget::{self, Budget, INLINE_EVALUATION_LIMIT, STATE_EVALUATION_LIMIT};
pub mod evaluation_pool;

use crate::evaluation_pool::EvaluationPool;
use serde_json::Value;
use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll, Wake, Waker};
use stepwasm_store::{ActivityTask, ExecutionStatus, Store, StoreError, TaskResult, TokenState};

/// Why the driver stopped without an outcome.
#[derive(Debug, thiserror::Error)]
pub enum DriverError {
    /// The engine refused an event: a bug if the driver made it, a corrupt
    /// or foreign history if it came from the store.
    #[error(transparent)]
    Replay(#[from] ReplayError),
    /// The store could not keep an event; the execution stops there and can
    /// be resumed from what was kept.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A stored history that cannot be resumed.
    #[error("cannot resume execution {arn:?}: {reason}")]
    NotResumable { arn: String, reason: String },
    /// The evaluation pool could not decide the execution's next step.
    #[error("cannot decide the next step of execution {arn:?}: {reason}")]
    Evaluation { arn: String, reason: String },
    /// A task could not keep what it did, for a cause that may pass
    /// ([`TaskOutcome::StoreUnavailable`]); nothing of the attempt was
    /// recorded, so driving the execution again later runs it again.
    #[error("execution {arn:?}: task {resource} could not keep its result: {cause}")]
    TaskStore { arn: String, resource: String, cause: String },
}

pub use stepwasm_engine::{execution_info, AsyncTaskRunner, Blocking, TaskOutcome, TaskRunner, MAX_HISTORY_EVENTS};

/// A boxed future, for the dyn-compatible [`Clock`].
pub type Wait<'a> = Pin<Box<dyn Future<Output = ()> + Send + 'a>>;

/// Time as the driver sees it.
pub trait Clock {
    /// Milliseconds since the Unix epoch.
    fn now_ms(&self) -> i64;
    /// Returns once `now_ms() >= deadline_ms`.
    fn sleep_until(&self, deadline_ms: i64);
    /// Completes once `now_ms() >= deadline_ms`. By default this blocks in
    /// [`Clock::sleep_until`] when called; a clock that can wait without a
    /// thread overrides it.
    fn wait_until(&self, deadline_ms: i64) -> Wait<'_> {
        self.sleep_until(deadline_ms);
        Box::pin(std::future::ready(()))
    }
}

/// The wall clock: waits really wait.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now_ms(&self) -> i64 {
        chrono::Utc::now().timestamp_millis()
    }
    fn sleep_until(&self, deadline_ms: i64) {
        let wait = deadline_ms - self.now_ms();
        if wait > 0 {
            std::thread::sleep(std::time::Duration::from_millis(wait as u64));
        }
    }
    /// On tokio, waits without holding a thread; elsewhere it blocks.
    fn wait_until(&self, deadline_ms: i64) -> Wait<'_> {
        if tokio::runtime::Handle::try_current().is_ok() {
            let wait = std::time::Duration::from_millis((deadline_ms - self.now_ms()).max(0) as u64);
            Box::pin(tokio::time::sleep(wait))
        } else {
            self.sleep_until(deadline_ms);
            Box::pin(std::future::ready(()))
        }
    }
}

/// A clock for tests and `--no-wait` runs: starts at the real time, and a wait
/// jumps straight to its deadline.
#[derive(Debug)]
pub struct VirtualClock(AtomicI64);

impl VirtualClock {
    pub fn new(start_ms: i64) -> VirtualClock {
        VirtualClock(AtomicI64::new(start_ms))
    }
    pub fn starting_now() -> VirtualClock {
        VirtualClock::new(SystemClock.now_ms())
    }
}

impl Clock for VirtualClock {
    fn now_ms(&self) -> i64 {
        self.0.load(Ordering::SeqCst)
    }
    fn sleep_until(&self, deadline_ms: i64) {
        self.0.fetch_max(deadline_ms, Ordering::SeqCst);
    }
}

/// How often, at most, a waiting task's token is checked for a result: the
/// first checks come quickly, later ones back off to this.
const CALLBACK_POLL_MAX_MS: i64 = 1_000;

/// A finished execution: who it was, everything that happened, how it ended.
#[derive(Debug, Clone)]
pub struct ExecutionRecord {
    pub info: ExecutionInfo,
    pub history: Vec<HistoryEvent>,
    pub outcome: Outcome,
}

impl ExecutionRecord {
    /// The name of the last state entered (where the execution ended up).
    pub fn last_state(&self) -> Option<&str> {
        self.history.iter().rev().find_map(|e| match &e.kind {
            EventKind::StateEntered { name, .. } => Some(name.as_str()),
            _ => None,
        })
    }
}

/// Appends events and applies them to the execution.
struct Recorder<'a, C: ?Sized> {
    execution: Execution,
    machine: Arc<StateMachine>,
    /// The last decision needed more than the inline budget: make the next
    /// one on the evaluation pool straight away (see [`decide`]).
    decide_on_pool: bool,
    /// Made on a tokio runtime (where decisions must not hold a worker).
    on_tokio: bool,
    history: Vec<HistoryEvent>,
    /// The latest event id of each scope, for `previous_event_id`.
    latest: HashMap<Scope, u64>,
    clock: &'a C,
    /// Where the events are journaled, if anywhere.
    store: Option<&'a dyn Store>,
    /// How many events of `history` the store already has.
    journaled: usize,
    /// With a store: drop journaled events from memory (`serve`, where an
    /// execution may stay parked for long and nobody reads its record).
    forget_journaled: bool,
    /// How many journaled events were dropped from the front of `history`.
    forgotten: usize,
    /// With a store: a wait longer than this parks the execution instead
    /// ([`Progress::Parked`]) so that it holds no memory while it waits.
    park_waits_over_ms: Option<i64>,
    /// Set while the execution is not registered in the store yet: its first
    /// grouped flush registers it (at this start time) with its first events.
    unregistered_start_ms: Option<i64>,
}

impl<'a, C: Clock + ?Sized> Recorder<'a, C> {
    fn new(machine: Arc<StateMachine>, info: ExecutionInfo, clock: &'a C, store: Option<&'a dyn Store>) -> Self {
        Recorder {
            execution: Execution::new(Arc::clone(&machine), info),
            machine,
            decide_on_pool: false,
            on_tokio: tokio::runtime::Handle::try_current().is_ok(),
            history: Vec::new(),
            latest: HashMap::new(),
            clock,
            store,
            journaled: 0,
            forget_journaled: false,
            forgotten: 0,
            park_waits_over_ms: None,
            unregistered_start_ms: None,
        }
    }

    /// Events recorded so far, forgotten ones included.
    fn len(&self) -> usize {
        self.forgotten + self.history.len()
    }

    /// Drops the journaled events from memory, if this recorder forgets them.
    fn forget(&mut self) {
        if self.forget_journaled && self.store.is_some() {
            self.forgotten += self.journaled;
            self.history.drain(..self.journaled);
            self.journaled = 0;
        }
    }

    /// Journals this new, unjournaled execution in `store`: it is registered
    /// there with its first batch of events, in one step.
    fn journal_in(&mut self, store: &'a dyn Store) {
        self.store = Some(store);
        self.journaled = 0;
        self.unregistered_start_ms = self.history.first().map(|e| e.timestamp_ms);
    }

    /// Writes the events the store does not have yet, all or none, through
    /// the store's group commit: the transaction may be shared with other
    /// executions' batches, and the wait holds no thread.
    async fn flush_grouped(&mut self) -> Result<(), DriverError> {
        if let Some(store) = self.store {
            if self.journaled < self.history.len() {
                let (info, events) = (self.execution.info(), &self.history[self.journaled..]);
                match self.unregistered_start_ms.take() {
                    Some(start_ms) => store.start_execution_async(info, start_ms, events).await?,
                    None => store.append_all_async(&info.execution_arn, events).await?,
                }
            }
        }
        self.journaled = self.history.len();
        self.forget();
        Ok(())
    }

    /// An execution stopped in the store while this driver ran it: its
    /// history becomes the stored one, which ends with `ExecutionAborted`,
    /// and that event's outcome is returned.
    fn stopped(&mut self) -> Result<Outcome, DriverError> {
        let arn = self.execution.info().execution_arn.clone();
        let history = match self.store {
            Some(store) => store.history(&arn)?,
            None => Vec::new(),
        };
        let Some(outcome) = history.last().and_then(|e| Outcome::ended_by(&e.kind)) else {
            return Err(DriverError::NotResumable { arn, reason: "it was stopped, but its stored history does not end".into() });
        };
        self.journaled = history.len();
        self.forgotten = 0;
        self.history = history;
        self.forget();
        Ok(outcome)
    }

    /// Folds an event that is already recorded (replay) into the state.
    fn replay(&mut self, event: HistoryEvent) -> Result<(), ReplayError> {
        self.execution.apply(&event)?;
        self.latest.insert(event.scope.clone(), event.id);
        self.history.push(event);
        self.journaled = self.history.len();
        Ok(())
    }

    fn record(&mut self, scope: Scope, kind: EventKind) -> Result<(), DriverError> {
        let id = self.len() as u64 + 1;
        // An event follows the latest one of its own branch or iteration; the
        // first of a branch follows its parent's latest (…StateStarted).
        let mut previous_event_id = 0;
        let mut ancestor = scope.clone();
        loop {
            if let Some(&latest) = self.latest.get(&ancestor) {
                previous_event_id = latest;
                break;
            }
            if ancestor.is_root() {
                break;
            }
            ancestor = ancestor.parent();
        }
        let event = HistoryEvent { id, previous_event_id, timestamp_ms: self.clock.now_ms(), scope, kind };
        // Applied first, so a bad event never reaches the store.
        self.execution.apply(&event)?;
        self.latest.insert(event.scope.clone(), id);
        self.history.push(event);
        Ok(())
    }
}

/// Runs one execution to its end on the calling thread, tasks and waits
/// included (see [`run_execution_async`]).
pub fn run_execution(
    machine: Arc<StateMachine>,
    info: ExecutionInfo,
    input: Value,
    runner: &dyn TaskRunner,
    clock: &dyn Clock,
) -> Result<ExecutionRecord, DriverError> {
    block_on(run_execution_async(machine, info, input, &Blocking(runner), clock))
}

/// [`run_execution`], journaling the execution and every event in `store`
/// as it goes (the execution's name must be new there).
pub fn run_recorded(
    machine: Arc<StateMachine>,
    info: ExecutionInfo,
    input: Value,
    runner: &dyn TaskRunner,
    clock: &dyn Clock,
    store: &dyn Store,
) -> Result<ExecutionRecord, DriverError> {
    block_on(run_recorded_async(machine, info, input, &Blocking(runner), clock, store))
}

/// [`run_recorded`] as a future: many executions on tokio share the store's
/// group commits. The execution is registered with its first batch of
/// events (before its first task or wait), so a name that is taken is
/// refused then, before anything has run.
pub async fn run_recorded_async<R, C>(
    machine: Arc<StateMachine>,
    info: ExecutionInfo,
    input: Value,
    runner: &R,
    clock: &C,
    store: &dyn Store,
) -> Result<ExecutionRecord, DriverError>
where
    R: AsyncTaskRunner + ?Sized,
    C: Clock + ?Sized,
{
    let mut rec = begin(machine, info, input, clock)?;
    rec.journal_in(store);
    drive(rec, runner).await
}

/// [`resume_execution_async`] on the calling thread.
pub fn resume_execution(
    machine: Arc<StateMachine>,
    info: ExecutionInfo,
    runner: &dyn TaskRunner,
    clock: &dyn Clock,
    store: &dyn Store,
) -> Result<ExecutionRecord, DriverError> {
    block_on(resume_execution_async(machine, info, &Blocking(runner), clock, store))
}

/// Runs one execution to its end.
///
/// Errors only if the engine rejects an event the driver itself produced,
/// which would be a bug; every problem of the definition, input or a task is
/// an ordinary failed [`Outcome`].
pub async fn run_execution_async<R, C>(
    machine: Arc<StateMachine>,
    info: ExecutionInfo,
    input: Value,
    runner: &R,
    clock: &C,
) -> Result<ExecutionRecord, DriverError>
where
    R: AsyncTaskRunner + ?Sized,
    C: Clock + ?Sized,
{
    drive(begin(machine, info, input, clock)?, runner).await
}

/// Registers a new execution in `store` with its `ExecutionStarted` event,
/// in one step, and returns: whoever resumes the store's running executions
/// (`serve`) runs it.
pub fn start_execution<C: Clock + ?Sized>(
    machine: Arc<StateMachine>,
    info: ExecutionInfo,
    input: Value,
    clock: &C,
    store: &dyn Store,
) -> Result<(), DriverError> {
    block_on(start_execution_async(machine, info, input, clock, store))
}

/// [`start_execution`] as a future (the HTTP API's StartExecution).
pub async fn start_execution_async<C: Clock + ?Sized>(
    machine: Arc<StateMachine>,
    info: ExecutionInfo,
    input: Value,
    clock: &C,
    store: &dyn Store,
) -> Result<(), DriverError> {
    let mut rec = begin(machine, info, input, clock)?;
    rec.journal_in(store);
    rec.flush_grouped().await
}

/// A new execution with its `ExecutionStarted` event, not journaled yet.
fn begin<C: Clock + ?Sized>(
    machine: Arc<StateMachine>,
    info: ExecutionInfo,
    input: Value,
    clock: &C,
) -> Result<Recorder<'_, C>, DriverError> {
    let mut rec = Recorder::new(machine, info, clock, None);
    rec.record(Scope::root(), EventKind::ExecutionStarted { input })?;
    Ok(rec)
}

/// Continues a running execution from its history in `store`, journaling
/// what follows. Waits and retry backoffs end at the instants the history
/// implies, so a resumed Wait does not start over.
pub async fn resume_execution_async<R, C>(
    machine: Arc<StateMachine>,
    info: ExecutionInfo,
    runner: &R,
    clock: &C,
    store: &dyn Store,
) -> Result<ExecutionRecord, DriverError>
where
    R: AsyncTaskRunner + ?Sized,
    C: Clock + ?Sized,
{
    // An execution whose history is complete ends at once, recording nothing.
    drive(replayed(machine, info, clock, store)?, runner).await
}

/// [`resume_execution_async`] for a long-running host (`serve`): journaled
/// events are not kept in memory, and a wait longer than
/// `park_waits_over_ms` parks the execution: it returns
/// [`Progress::Parked`], so that a day-long Wait costs the host a timer, not
/// an execution in memory; driving it again at that time replays it from the
/// store and goes on. The history is in the store, so only the outcome is
/// returned.
pub async fn drive_stored_execution<R, C>(
    machine: Arc<StateMachine>,
    info: ExecutionInfo,
    runner: &R,
    clock: &C,
    store: &dyn Store,
    park_waits_over_ms: i64,
) -> Result<Progress, DriverError>
where
    R: AsyncTaskRunner + ?Sized,
    C: Clock + ?Sized,
{
    let mut rec = replayed(machine, info, clock, store)?;
    rec.forget_journaled = true;
    rec.park_waits_over_ms = Some(park_waits_over_ms);
    rec.forget();
    drive_to_halt(&mut rec, runner).await
}

/// A recorder holding the execution's stored history, replayed.
fn replayed<'a, C: Clock + ?Sized>(
    machine: Arc<StateMachine>,
    info: ExecutionInfo,
    clock: &'a C,
    store: &'a dyn Store,
) -> Result<Recorder<'a, C>, DriverError> {
    let arn = info.execution_arn.clone();
    let history = store.history(&arn)?;
    if history.is_empty() {
        return Err(DriverError::NotResumable { arn, reason: "its history is empty".into() });
    }
    let mut rec = Recorder::new(machine, info, clock, Some(store));
    for event in history {
        rec.replay(event)?;
    }
    Ok(rec)
}

/// Where [`drive_stored_execution`] left an execution.
#[derive(Debug, Clone, PartialEq)]
pub enum Progress {
    /// It ended (or was found stopped in the store).
    Finished(Outcome),
    /// It waits until `until_ms` (a Wait or a retry's backoff), with all it
    /// did journaled: drive it again then, from the store.
    Parked { until_ms: i64 },
}

/// The loop: decide, record, invoke or wait, until the engine says finished
/// (or the execution was stopped in the store).
async fn drive<R, C>(mut rec: Recorder<'_, C>, runner: &R) -> Result<ExecutionRecord, DriverError>
where
    R: AsyncTaskRunner + ?Sized,
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
async fn drive_to_halt<R, C>(rec: &mut Recorder<'_, C>, runner: &R) -> Result<Progress, DriverError>
where
    R: AsyncTaskRunner + ?Sized,
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
    R: AsyncTaskRunner + ?Sized,
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
                    if stepwasm_asl::is_activity(&resource) {
                        // No module: a worker takes the task (GetActivityTask)
                        // and answers with its token.
                        let queued = ActivityTask {
                            token: token.clone(),
                            activity_arn: resource.clone(),
                            execution_arn: rec.execution.info().execution_arn.clone(),
                            input: (*task.input).clone(),
                            created_ms: clock.now_ms(),
                        };
                        store.queue_activity_task(&queued)?;
                        rec.record(scope, EventKind::TaskSubmitted { resource, output: Arc::new(Value::Null) })?;
                        continue;
                    }
                }
                let kind = match runner.run_task_async(&task).await {
                    TaskOutcome::Succeeded(output) if task.task_token.is_some() => {
                        EventKind::TaskSubmitted { resource, output: Arc::new(output) }
                    }
                    TaskOutcome::Succeeded(output) => EventKind::TaskSucceeded { resource, output: Arc::new(output) },
                    TaskOutcome::Failed { error, cause } => EventKind::TaskFailed { resource, error, cause },
                    TaskOutcome::TimedOut { cause } => EventKind::TaskTimedOut { resource, error: errors::TIMEOUT.into(), cause },
                    TaskOutcome::StoreUnavailable { cause } => {
                        return Err(DriverError::TaskStore { arn: rec.execution.info().execution_arn.clone(), resource, cause })
                    }
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

/// The engine's next decision, made within the evaluation budget of one
/// state ([`evaluation_budget`]) and never holding an async worker for long.
///
/// On tokio, the decision is made here under the small inline budget
/// ([`INLINE_EVALUATION_LIMIT`]): nearly all are, at no cost but a clock
/// read. One that runs out of it is abandoned (`decide` is pure, so making
/// it again is safe) and made again on the [`EvaluationPool`] under the full
/// budget ([`STATE_EVALUATION_LIMIT`]); the execution's next decision then
/// goes to the pool at once, until one is fast again. Outside tokio (the
/// CLI) the decision is made here under the full budget.
///
/// Past the full budget, the state fails: the evaluator that found it says
/// so in its error (`States.QueryEvaluationError`, `States.IntrinsicFailure`,
/// or `States.Runtime` for a Choice rule), and any other outcome (a path
/// that stopped selecting) becomes the execution's failure with
/// `States.Runtime`.
async fn decide<C: Clock + ?Sized>(rec: &mut Recorder<'_, C>) -> Result<Decision, DriverError> {
    if !rec.on_tokio {
        let budget = Budget::start(STATE_EVALUATION_LIMIT);
        let decision = rec.execution.decide();
        return Ok(within_budget(decision, budget.exceeded()));
    }
    if !rec.decide_on_pool {
        let budget = Budget::start(INLINE_EVALUATION_LIMIT);
        let decision = rec.execution.decide();
        if !budget.exceeded() {
            return Ok(decision);
        }
    }
    let info = rec.execution.info().clone();
    let arn = info.execution_arn.clone();
    // The execution goes to the pool and comes back (no copy of its state).
    let execution = std::mem::replace(&mut rec.execution, Execution::new(Arc::clone(&rec.machine), info));
    let pool = EvaluationPool::shared().map_err(|e| DriverError::Evaluation { arn: arn.clone(), reason: e.to_string() })?;
    let decided = pool
        .run(move || {
            let started = std::time::Instant::now();
            let budget = Budget::start(STATE_EVALUATION_LIMIT);
            let decision = execution.decide();
            let exceeded = budget.exceeded();
            (execution, decision, exceeded, started.elapsed())
        })
        .await;
    let (execution, decision, exceeded, took) = decided.map_err(|e| DriverError::Evaluation { arn, reason: e.to_string() })?;
    rec.execution = execution;
    rec.decide_on_pool = took >= INLINE_EVALUATION_LIMIT;
    Ok(within_budget(decision, exceeded))
}

/// A decision made past the evaluation budget: kept when it is the failure
/// an evaluator raised for it, else the execution fails with `States.Runtime`.
fn within_budget(decision: Decision, exceeded: bool) -> Decision {
    if !exceeded || format!("{decision:?}").contains(evaluation_budget::MARKER) {
        return decision;
    }
    let cause = evaluation_budget::Exceeded { limit: STATE_EVALUATION_LIMIT }.to_string();
    Decision::Record { scope: Scope::root(), event: EventKind::ExecutionFailed { error: errors::RUNTIME.into(), cause } }
}

/// Waits for the result of a submitted task's token: what was sent back, or
/// `TaskTimedOut` when its heartbeat or its time runs out first.
async fn await_callback<C: Clock + ?Sized>(rec: &mut Recorder<'_, C>, callback: &Callback) -> Result<EventKind, DriverError> {
    let arn = rec.execution.info().execution_arn.clone();
    let Some(store) = rec.store else {
        return Err(DriverError::NotResumable { arn, reason: "a task waits for its token, and there is no store to receive it".into() });
    };
    // The submission survives a crash; a resumed driver waits on.
    rec.flush_grouped().await?;
    let clock = rec.clock;
    store.open_task_token(&callback.token, &arn, clock.now_ms())?;
    let resource = &callback.resource;
    let answered = |result: TaskResult| match result {
        TaskResult::Success(output) => EventKind::TaskSucceeded { resource: resource.clone(), output: Arc::new(output) },
        TaskResult::Failure { error, cause } => EventKind::TaskFailed { resource: resource.clone(), error, cause },
    };
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

/// Wakes the thread that is blocked in [`block_on`].
struct ThreadWaker(std::thread::Thread);

impl Wake for ThreadWaker {
    fn wake(self: Arc<Self>) {
        self.0.unpark();
    }
}

/// Drives `future` to completion on the calling thread, parking between polls.
pub fn block_on<F: Future>(future: F) -> F::Output {
    let mut future = std::pin::pin!(future);
    let waker = Waker::from(Arc::new(ThreadWaker(std::thread::current())));
    let mut cx = Context::from_waker(&waker);
    loop {
        if let Poll::Ready(out) = future.as_mut().poll(&mut cx) {
            return out;
        }
        std::thread::park();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use std::cell::RefCell;
    use stepwasm_asl::parse_definition;
    use stepwasm_engine::TaskInvocation;

    /// Answers each invocation from a script, recording what it was asked.
    struct Scripted {
        answers: RefCell<Vec<TaskOutcome>>,
        calls: RefCell<Vec<TaskInvocation>>,
    }

    impl Scripted {
        fn new(answers: Vec<TaskOutcome>) -> Scripted {
            Scripted { answers: RefCell::new(answers), calls: RefCell::new(Vec::new()) }
        }
    }

    impl TaskRunner for Scripted {
        fn run_task(&self, task: &TaskInvocation) -> TaskOutcome {
            self.calls.borrow_mut().push(task.clone());
            self.answers.borrow_mut().remove(0)
        }
    }

    fn run(def: serde_json::Value, input: serde_json::Value, runner: &Scripted, clock: &VirtualClock) -> ExecutionRecord {
        let machine = Arc::new(parse_definition(&def.to_string()).unwrap());
        run_execution(machine, execution_info("sm", "e1"), input, runner, clock).unwrap()
    }

    /// A JSONata Pass state whose Output has `fields` fields, each an
    /// expression of about 700,000 steps (under each expression's own caps).
    fn heavy_jsonata(fields: usize) -> serde_json::Value {
        let output: serde_json::Map<String, Value> = (0..fields)
            .map(|i| (format!("f{i}"), json!(format!("{{% $reduce([1..100000], function($a, $b) {{ $a + $b }}) + {i} %}}"))))
            .collect();
        json!({"QueryLanguage": "JSONata", "StartAt": "Heavy", "States": {"Heavy": {"Type": "Pass", "Output": output, "End": true}}})
    }

    #[test]
    fn a_state_evaluated_past_its_budget_fails_naming_the_limit() {
        // Each expression is under its step budget; together they run for
        // many seconds, and the state's budget ends them after 1 s.
        let started = std::time::Instant::now();
        let rec = run(heavy_jsonata(400), json!({}), &Scripted::new(vec![]), &VirtualClock::new(0));
        let Outcome::Failed { error, cause } = &rec.outcome else { panic!("{:?}", rec.outcome) };
        assert_eq!(error, errors::QUERY_EVALUATION_ERROR);
        assert!(cause.contains("took longer than 1 s") && cause.contains(evaluation_budget::MARKER), "{cause}");
        assert!(started.elapsed() < std::time::Duration::from_secs(30), "{:?}", started.elapsed());
    }

    #[test]
    fn paths_past_the_budget_fail_the_execution_with_states_runtime() {
        // Thousands of recursive descents over a big input: no evaluator
        // error names the budget (a path just stops selecting), so the
        // driver does.
        let input = json!({"items": (0..10_000).map(|i| json!({"id": i, "tags": ["a", "b"]})).collect::<Vec<_>>()});
        let parameters: serde_json::Map<String, Value> = (0..10_000).map(|i| (format!("f{i}.$"), json!("$..missing"))).collect();
        let def = json!({"StartAt": "Scan", "States": {"Scan": {"Type": "Pass", "Parameters": parameters, "End": true}}});
        let rec = run(def, input, &Scripted::new(vec![]), &VirtualClock::new(0));
        let Outcome::Failed { error, cause } = &rec.outcome else { panic!("{:?}", rec.outcome) };
        assert_eq!(
            (error.as_str(), cause.split(" (").next()),
            (errors::RUNTIME, Some("the evaluation of this state took longer than 1 s")),
            "{cause}"
        );
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_decision_over_the_inline_budget_is_made_again_on_the_pool() {
        let pooled = crate::evaluation_pool::jobs_run();
        let machine = Arc::new(parse_definition(&heavy_jsonata(3).to_string()).unwrap());
        let runner = Scripted::new(vec![]);
        let rec =
            run_execution_async(machine, execution_info("sm", "e1"), json!({}), &Blocking(&runner), &VirtualClock::new(0)).await.unwrap();
        let total: i64 = (1..=100_000).sum();
        assert_eq!(rec.outcome, Outcome::Succeeded { output: json!({"f0": total, "f1": total + 1, "f2": total + 2}) });
        assert!(crate::evaluation_pool::jobs_run() > pooled, "the decision was not made on the pool");
    }

    fn types(rec: &ExecutionRecord) -> Vec<&'static str> {
        rec.history.iter().map(|e| e.kind.type_name()).collect()
    }

    fn failed(error: &str) -> TaskOutcome {
        TaskOutcome::Failed { error: error.into(), cause: format!("{error} happened") }
    }

    /// A store holding the first `keep` events of `full` only: what a crash
    /// right after event `keep` leaves behind.
    fn crashed_after(full: &ExecutionRecord, keep: usize) -> stepwasm_store::SqliteStore {
        use stepwasm_store::Store;
        let store = stepwasm_store::SqliteStore::in_memory().unwrap();
        store.create_execution(&full.info, full.history[0].timestamp_ms).unwrap();
        for event in &full.history[..keep] {
            store.append(&full.info.execution_arn, event).unwrap();
        }
        store
    }

    const TWO_TASKS_AND_A_WAIT: &str = r#"{"StartAt": "A", "States": {
        "A": {"Type": "Task", "Resource": "a", "ResultPath": "$.a", "Next": "W"},
        "W": {"Type": "Wait", "Seconds": 60, "Next": "B"},
        "B": {"Type": "Task", "Resource": "b", "ResultPath": "$.b", "End": true}}}"#;

    #[test]
    fn a_recorded_run_journals_every_event_and_ends_the_execution() {
        use stepwasm_store::{ExecutionStatus, Store};
        let machine = Arc::new(parse_definition(TWO_TASKS_AND_A_WAIT).unwrap());
        let store = stepwasm_store::SqliteStore::in_memory().unwrap();
        let runner = Scripted::new(vec![TaskOutcome::Succeeded(json!(1)), TaskOutcome::Succeeded(json!(2))]);
        let info = execution_info("sm", "journaled");
        let rec = run_recorded(machine.clone(), info.clone(), json!({}), &runner, &VirtualClock::new(0), &store).unwrap();
        assert_eq!(store.history(&info.execution_arn).unwrap(), rec.history);
        assert_eq!(store.execution(&info.execution_arn).unwrap().unwrap().status, ExecutionStatus::Succeeded);
        let again = run_recorded(machine, info, json!({}), &runner, &VirtualClock::new(0), &store).unwrap_err();
        assert!(again.to_string().contains("already exists"), "{again}");
    }

    #[test]
    fn a_redriven_execution_reruns_only_the_state_that_failed_and_can_fail_again() {
        use stepwasm_store::{ExecutionStatus, Store, StoreError};
        let machine = Arc::new(parse_definition(TWO_TASKS_AND_A_WAIT).unwrap());
        let store = stepwasm_store::SqliteStore::in_memory().unwrap();
        let info = execution_info("sm", "redriven");
        let first = Scripted::new(vec![TaskOutcome::Succeeded(json!(1)), failed("Boom")]);
        let rec = run_recorded(machine.clone(), info.clone(), json!({"n": 7}), &first, &VirtualClock::new(0), &store).unwrap();
        assert!(matches!(&rec.outcome, Outcome::Failed { error, .. } if error == "Boom"), "{:?}", rec.outcome);
        let b_input = first.calls.borrow()[1].input.clone();

        // Redriven: B runs again with the input it had, A does not; it fails again.
        let redriven = store.redrive_execution(&info.execution_arn, Some("t1"), 100_000).unwrap();
        assert_eq!(redriven, stepwasm_store::Redrive { redrive_count: 1, redrive_ms: 100_000, repeated: false });
        // The same request again (a client's retry): that redrive, nothing more.
        let repeated = store.redrive_execution(&info.execution_arn, Some("t1"), 100_500).unwrap();
        assert_eq!(repeated, stepwasm_store::Redrive { redrive_count: 1, redrive_ms: 100_000, repeated: true });
        assert_eq!(store.execution(&info.execution_arn).unwrap().unwrap().status, ExecutionStatus::Running);
        let again = Scripted::new(vec![failed("Boom")]);
        let rec = resume_execution(machine.clone(), info.clone(), &again, &VirtualClock::new(100_000), &store).unwrap();
        assert!(matches!(&rec.outcome, Outcome::Failed { .. }));
        assert_eq!(again.calls.borrow().len(), 1);
        assert_eq!(again.calls.borrow()[0].resource, "b");
        assert_eq!(again.calls.borrow()[0].input, b_input);

        // The second redrive succeeds; the history tells it all, in order.
        store.redrive_execution(&info.execution_arn, Some("t2"), 200_000).unwrap();
        let fixed = Scripted::new(vec![TaskOutcome::Succeeded(json!(2))]);
        let rec = resume_execution(machine, info.clone(), &fixed, &VirtualClock::new(200_000), &store).unwrap();
        assert_eq!(rec.outcome, Outcome::Succeeded { output: json!({"n": 7, "a": 1, "b": 2}) });
        let tail: Vec<_> = types(&rec).into_iter().skip_while(|t| *t != "ExecutionRedriven").collect();
        assert_eq!(
            tail,
            [
                "ExecutionRedriven",
                "TaskStateEntered",
                "TaskScheduled",
                "TaskStarted",
                "TaskFailed",
                "ExecutionFailed",
                "ExecutionRedriven",
                "TaskStateEntered",
                "TaskScheduled",
                "TaskStarted",
                "TaskSucceeded",
                "TaskStateExited",
                "ExecutionSucceeded",
            ]
        );
        let summary = store.execution(&info.execution_arn).unwrap().unwrap();
        assert_eq!((summary.status, summary.redrive_count, summary.redrive_ms), (ExecutionStatus::Succeeded, 2, Some(200_000)));

        // A succeeded (or running, or unknown) execution is not redriven.
        let refused = store.redrive_execution(&info.execution_arn, None, 300_000).unwrap_err();
        assert!(matches!(&refused, StoreError::NotRedrivable { reason, .. } if reason.contains("SUCCEEDED")), "{refused}");
        assert!(matches!(store.redrive_execution("arn:none", None, 0), Err(StoreError::NoSuchExecution(_))));
    }

    #[test]
    fn a_redriven_parallel_state_runs_all_its_branches_again() {
        use stepwasm_store::Store;
        let definition = r#"{"StartAt": "Both", "States": {"Both": {"Type": "Parallel", "End": true, "Branches": [
            {"StartAt": "L", "States": {"L": {"Type": "Task", "Resource": "l", "End": true}}},
            {"StartAt": "R", "States": {"R": {"Type": "Task", "Resource": "r", "End": true}}}]}}}"#;
        let machine = Arc::new(parse_definition(definition).unwrap());
        let store = stepwasm_store::SqliteStore::in_memory().unwrap();
        let info = execution_info("sm", "parallel");
        let first = Scripted::new(vec![TaskOutcome::Succeeded(json!("l1")), failed("Boom")]);
        let rec = run_recorded(machine.clone(), info.clone(), json!({}), &first, &VirtualClock::new(0), &store).unwrap();
        assert!(matches!(&rec.outcome, Outcome::Failed { error, .. } if error == "Boom"), "{:?}", rec.outcome);
        let fifteen_days_on = 15 * 24 * 3600 * 1000;
        let too_late = store.redrive_execution(&info.execution_arn, None, fifteen_days_on).unwrap_err();
        assert!(too_late.to_string().contains("redrivable period exceeded"), "{too_late}");
        store.redrive_execution(&info.execution_arn, None, 1_000).unwrap();
        let second = Scripted::new(vec![TaskOutcome::Succeeded(json!("l2")), TaskOutcome::Succeeded(json!("r2"))]);
        let rec = resume_execution(machine, info, &second, &VirtualClock::new(1_000), &store).unwrap();
        assert_eq!(rec.outcome, Outcome::Succeeded { output: json!(["l2", "r2"]) });
        let resources: Vec<String> = second.calls.borrow().iter().map(|t| t.resource.clone()).collect();
        assert_eq!(resources, ["l", "r"]);
    }

    #[test]
    fn redriving_needs_an_execution_that_ended_unsuccessfully() {
        let machine = Arc::new(parse_definition(TWO_TASKS_AND_A_WAIT).unwrap());
        let mut execution = stepwasm_engine::Execution::new(machine, execution_info("sm", "e"));
        let event = |id, kind| HistoryEvent { id, previous_event_id: id - 1, timestamp_ms: 0, scope: Scope::root(), kind };
        let redriven = || EventKind::ExecutionRedriven { redrive_count: 1 };
        let refused = execution.apply(&event(1, redriven())).unwrap_err();
        assert!(refused.reason.contains("ended"), "{refused}");
        execution.apply(&event(1, EventKind::ExecutionStarted { input: json!({}) })).unwrap();
        assert!(execution.apply(&event(2, redriven())).unwrap_err().reason.contains("ended"));
        execution.apply(&event(2, EventKind::ExecutionSucceeded { output: json!({}) })).unwrap();
        assert!(execution.apply(&event(3, redriven())).unwrap_err().reason.contains("succeeded"));
    }

    #[test]
    fn resuming_never_reruns_a_recorded_completion_and_reruns_what_was_in_flight() {
        let machine = Arc::new(parse_definition(TWO_TASKS_AND_A_WAIT).unwrap());
        let clock = VirtualClock::new(1_000_000);
        let both = || Scripted::new(vec![TaskOutcome::Succeeded(json!(1)), TaskOutcome::Succeeded(json!(2))]);
        let full = run_execution(machine.clone(), execution_info("sm", "e"), json!({}), &both(), &clock).unwrap();
        let position = |ty: &str, nth: usize| full.history.iter().filter(|e| e.kind.type_name() == ty).nth(nth).unwrap().id as usize;

        // Crash after A's result was recorded, during the Wait: only B runs,
        // and the Wait ends when it would have (60 s after it began).
        let store = crashed_after(&full, position("WaitStateEntered", 0));
        let runner = Scripted::new(vec![TaskOutcome::Succeeded(json!(2))]);
        let resumed_clock = VirtualClock::new(1_000_000 + 5_000);
        let resumed = resume_execution(machine.clone(), full.info.clone(), &runner, &resumed_clock, &store).unwrap();
        assert_eq!(resumed.outcome, full.outcome);
        assert_eq!(runner.calls.borrow().iter().map(|c| c.resource.as_str()).collect::<Vec<_>>(), ["b"]);
        let wait_exit = resumed.history.iter().find(|e| e.kind.type_name() == "WaitStateExited").unwrap();
        let wait_entry = &full.history[position("WaitStateEntered", 0) - 1];
        assert_eq!(wait_exit.timestamp_ms - wait_entry.timestamp_ms, 60_000);
        assert!(resumed.history.iter().enumerate().all(|(i, e)| e.id == i as u64 + 1), "no gaps, no duplicates");
        assert_eq!(stepwasm_store::Store::history(&store, &full.info.execution_arn).unwrap(), resumed.history);

        // Crash while A was running: A runs again, as the same attempt.
        let store = crashed_after(&full, position("TaskStarted", 0));
        let runner = both();
        let resumed = resume_execution(machine.clone(), full.info.clone(), &runner, &VirtualClock::new(1_000_000), &store).unwrap();
        assert_eq!(resumed.outcome, full.outcome);
        let calls: Vec<(String, u32)> = runner.calls.borrow().iter().map(|c| (c.resource.clone(), c.attempt)).collect();
        assert_eq!(calls, [("a".to_string(), 1), ("b".to_string(), 1)]);

        // A finished execution resumes to its outcome without running anything.
        let store = crashed_after(&full, full.history.len());
        let runner = Scripted::new(vec![]);
        let resumed = resume_execution(machine, full.info.clone(), &runner, &clock, &store).unwrap();
        assert_eq!((resumed.outcome, resumed.history.len()), (full.outcome.clone(), full.history.len()));
        assert!(runner.calls.borrow().is_empty());
    }

    #[test]
    fn task_then_pass_with_data_flow() {
        let def = json!({"StartAt": "T", "States": {
            "T": {"Type": "Task", "Resource": "r", "Parameters": {"n.$": "$.n"}, "ResultPath": "$.t", "Next": "P"},
            "P": {"Type": "Pass", "Result": {"done": true}, "ResultPath": "$.p", "End": true}}});
        let runner = Scripted::new(vec![TaskOutcome::Succeeded(json!(42))]);
        let rec = run(def, json!({"n": 1}), &runner, &VirtualClock::new(0));
        assert_eq!(rec.outcome, Outcome::Succeeded { output: json!({"n": 1, "t": 42, "p": {"done": true}}) });
        assert_eq!(
            types(&rec),
            [
                "ExecutionStarted",
                "TaskStateEntered",
                "TaskScheduled",
                "TaskStarted",
                "TaskSucceeded",
                "TaskStateExited",
                "PassStateEntered",
                "PassStateExited",
                "ExecutionSucceeded"
            ]
        );
        let call = &runner.calls.borrow()[0];
        assert_eq!(((*call.input).clone(), call.attempt, call.state_name.as_str()), (json!({"n": 1}), 1, "T"));
        // Ids are consecutive and each points at its predecessor.
        assert!(rec.history.iter().enumerate().all(|(i, e)| e.id == i as u64 + 1 && e.previous_event_id == i as u64));
    }

    #[test]
    fn retries_back_off_on_the_clock_then_catch() {
        let def = json!({"StartAt": "T", "States": {
            "T": {"Type": "Task", "Resource": "r",
                  "Retry": [{"ErrorEquals": ["Flaky"], "IntervalSeconds": 2, "MaxAttempts": 2, "BackoffRate": 3}],
                  "Catch": [{"ErrorEquals": ["States.ALL"], "ResultPath": "$.error", "Next": "Handle"}],
                  "End": true},
            "Handle": {"Type": "Pass", "End": true}}});
        let runner = Scripted::new(vec![failed("Flaky"), failed("Flaky"), failed("Flaky")]);
        let clock = VirtualClock::new(1_000_000);
        let rec = run(def, json!({"id": 7}), &runner, &clock);
        assert_eq!(rec.outcome, Outcome::Succeeded { output: json!({"id": 7, "error": {"Error": "Flaky", "Cause": "Flaky happened"}}) });
        let attempts: Vec<u32> = runner.calls.borrow().iter().map(|c| c.attempt).collect();
        assert_eq!(attempts, [1, 2, 3]);
        // 2 s, then 2 × 3 = 6 s of backoff, on the virtual clock.
        assert_eq!(clock.now_ms(), 1_000_000 + 2_000 + 6_000);
        assert_eq!(rec.last_state(), Some("Handle"));
    }

    #[test]
    fn max_attempts_zero_and_uncaught_errors_fail_the_execution() {
        let def = json!({"StartAt": "T", "States": {
            "T": {"Type": "Task", "Resource": "r", "Retry": [{"ErrorEquals": ["States.ALL"], "MaxAttempts": 0}], "End": true}}});
        let runner = Scripted::new(vec![failed("Boom")]);
        let rec = run(def, json!({}), &runner, &VirtualClock::new(0));
        assert_eq!(rec.outcome, Outcome::Failed { error: "Boom".into(), cause: "Boom happened".into() });
        assert_eq!(runner.calls.borrow().len(), 1);
        assert_eq!(types(&rec).last(), Some(&"ExecutionFailed"));
    }

    #[test]
    fn timeouts_are_states_timeout_and_not_task_failed() {
        let def = json!({"StartAt": "T", "States": {
            "T": {"Type": "Task", "Resource": "r",
                  "Catch": [{"ErrorEquals": ["States.TaskFailed"], "Next": "Wrong"}, {"ErrorEquals": ["States.Timeout"], "Next": "Right"}],
                  "End": true},
            "Wrong": {"Type": "Fail", "Error": "Wrong"}, "Right": {"Type": "Succeed"}}});
        let runner = Scripted::new(vec![TaskOutcome::TimedOut { cause: "too slow".into() }]);
        let rec = run(def, json!({}), &runner, &VirtualClock::new(0));
        assert!(types(&rec).contains(&"TaskTimedOut"));
        assert_eq!(rec.last_state(), Some("Right"));
    }

    #[test]
    fn choice_routes_and_reports_no_match() {
        let def = json!({"StartAt": "C", "States": {
            "C": {"Type": "Choice", "Choices": [{"Variable": "$.n", "NumericGreaterThan": 10, "Next": "Big"}]},
            "Big": {"Type": "Succeed"}}});
        let rec = run(def.clone(), json!({"n": 11}), &Scripted::new(vec![]), &VirtualClock::new(0));
        assert_eq!(rec.last_state(), Some("Big"));
        let rec = run(def, json!({"n": 1}), &Scripted::new(vec![]), &VirtualClock::new(0));
        assert!(matches!(&rec.outcome, Outcome::Failed { error, .. } if error == "States.NoChoiceMatched"));
    }

    #[test]
    fn fail_state_and_runtime_errors() {
        let def = json!({"StartAt": "F", "States": {"F": {"Type": "Fail", "Error": "Nope", "Cause": "because"}}});
        let rec = run(def, json!({}), &Scripted::new(vec![]), &VirtualClock::new(0));
        assert_eq!(rec.outcome, Outcome::Failed { error: "Nope".into(), cause: "because".into() });
        assert_eq!(types(&rec), ["ExecutionStarted", "FailStateEntered", "ExecutionFailed"]);
        // States.Runtime is not caught by States.ALL.
        let def = json!({"StartAt": "T", "States": {
            "T": {"Type": "Task", "Resource": "r", "InputPath": "$.missing",
                  "Catch": [{"ErrorEquals": ["States.ALL"], "Next": "S"}], "End": true},
            "S": {"Type": "Succeed"}}});
        let rec = run(def, json!({}), &Scripted::new(vec![]), &VirtualClock::new(0));
        assert!(matches!(&rec.outcome, Outcome::Failed { error, .. } if error == "States.Runtime"));
    }

    #[test]
    fn wait_states_wait_on_the_clock() {
        let def = json!({"StartAt": "W1", "States": {
            "W1": {"Type": "Wait", "Seconds": 90, "Next": "W2"},
            "W2": {"Type": "Wait", "SecondsPath": "$.delay", "Next": "W3"},
            "W3": {"Type": "Wait", "TimestampPath": "$.until", "OutputPath": "$.delay", "End": true}}});
        let clock = VirtualClock::new(1_000_000);
        let until = "1970-01-01T00:30:00Z"; // 1,800,000 ms
        let rec = run(def, json!({"delay": 10, "until": until}), &Scripted::new(vec![]), &clock);
        assert_eq!(rec.outcome, Outcome::Succeeded { output: json!(10) });
        assert_eq!(clock.now_ms(), 1_800_000);
        let exits: Vec<i64> = rec.history.iter().filter(|e| e.kind.type_name() == "WaitStateExited").map(|e| e.timestamp_ms).collect();
        assert_eq!(exits, [1_090_000, 1_100_000, 1_800_000]);
        // A timestamp in the past does not wait.
        let def = json!({"StartAt": "W", "States": {"W": {"Type": "Wait", "Timestamp": "2000-01-01T00:00:00Z", "End": true}}});
        let clock = VirtualClock::new(2_000_000_000_000);
        run(def, json!({}), &Scripted::new(vec![]), &clock);
        assert_eq!(clock.now_ms(), 2_000_000_000_000);
        // A bad SecondsPath value is States.Runtime.
        let def = json!({"StartAt": "W", "States": {"W": {"Type": "Wait", "SecondsPath": "$.s", "End": true}}});
        let rec = run(def, json!({"s": "soon"}), &Scripted::new(vec![]), &VirtualClock::new(0));
        assert!(matches!(&rec.outcome, Outcome::Failed { error, .. } if error == "States.Runtime"));
    }

    #[test]
    fn fail_paths_and_timeout_paths_read_the_input() {
        let def = json!({"StartAt": "F", "States": {"F": {"Type": "Fail", "ErrorPath": "$.e", "CausePath": "$.c"}}});
        let rec = run(def.clone(), json!({"e": "Custom", "c": "why"}), &Scripted::new(vec![]), &VirtualClock::new(0));
        assert_eq!(rec.outcome, Outcome::Failed { error: "Custom".into(), cause: "why".into() });
        let rec = run(def, json!({"e": 1, "c": "why"}), &Scripted::new(vec![]), &VirtualClock::new(0));
        assert!(matches!(&rec.outcome, Outcome::Failed { error, .. } if error == "States.Runtime"));

        let def = json!({"StartAt": "T", "States": {"T": {"Type": "Task", "Resource": "r", "TimeoutSecondsPath": "$.t",
            "Retry": [{"ErrorEquals": ["X"]}], "End": true}}});
        let runner = Scripted::new(vec![failed("X"), TaskOutcome::Succeeded(json!(1))]);
        run(def, json!({"t": 7}), &runner, &VirtualClock::new(0));
        let timeouts: Vec<Option<u64>> = runner.calls.borrow().iter().map(|c| c.timeout_seconds).collect();
        assert_eq!(timeouts, [Some(7), Some(7)], "the retry keeps the resolved timeout");
    }

    #[test]
    fn execution_timeout_cuts_waits_and_bounds_tasks() {
        let def = json!({"TimeoutSeconds": 10, "StartAt": "T", "States": {
            "T": {"Type": "Task", "Resource": "r", "TimeoutSeconds": 60, "Next": "W"},
            "W": {"Type": "Wait", "Seconds": 100, "End": true}}});
        let runner = Scripted::new(vec![TaskOutcome::Succeeded(json!(1))]);
        let clock = VirtualClock::new(5_000);
        let rec = run(def, json!({}), &runner, &clock);
        assert_eq!(runner.calls.borrow()[0].timeout_seconds, Some(10), "the task gets only the time left");
        assert!(matches!(&rec.outcome, Outcome::TimedOut { error, .. } if error == "States.Timeout"), "{:?}", rec.outcome);
        assert_eq!(types(&rec).last(), Some(&"ExecutionTimedOut"));
        assert_eq!(clock.now_ms(), 15_000, "timed out at the deadline, not after the 100 s wait");
        // Without the deadline being reached, nothing changes.
        let def = json!({"TimeoutSeconds": 1000, "StartAt": "W", "States": {"W": {"Type": "Wait", "Seconds": 100, "End": true}}});
        let rec = run(def, json!({}), &Scripted::new(vec![]), &VirtualClock::new(0));
        assert!(matches!(rec.outcome, Outcome::Succeeded { .. }));
    }

    #[test]
    fn payloads_over_256_kib_fail_with_data_limit_exceeded() {
        let big = "x".repeat(300 * 1024);
        // A state output over the limit fails the execution.
        let def = json!({"StartAt": "P", "States": {
            "P": {"Type": "Pass", "Result": big, "End": true}}});
        let rec = run(def, json!({}), &Scripted::new(vec![]), &VirtualClock::new(0));
        assert!(
            matches!(&rec.outcome, Outcome::Failed { error, cause } if error == "States.DataLimitExceeded" && cause.contains("output")),
            "{:?}",
            rec.outcome
        );
        // Task parameters over the limit (from an input within it): a catcher
        // that names the error takes it.
        let def = json!({"StartAt": "T", "States": {
            "T": {"Type": "Task", "Resource": "r", "Parameters": {"a.$": "$.blob", "b.$": "$.blob"},
                  "Catch": [{"ErrorEquals": ["States.DataLimitExceeded"], "ResultPath": null, "Next": "Handled"}, {"ErrorEquals": ["States.ALL"], "Next": "Wrong"}],
                  "End": true},
            "Wrong": {"Type": "Fail", "Error": "Wrong"},
            "Handled": {"Type": "Pass", "Result": "handled", "End": true}}});
        let runner = Scripted::new(vec![]);
        let rec = run(def, json!({"blob": "y".repeat(200 * 1024)}), &runner, &VirtualClock::new(0));
        assert!(runner.calls.borrow().is_empty(), "the task never ran");
        assert_eq!(rec.outcome, Outcome::Succeeded { output: json!("handled") }, "{:?}", rec.outcome);
    }

    #[test]
    fn endless_loops_stop_at_the_history_limit() {
        // A loop with an exit that this input never takes.
        let def = json!({"StartAt": "A", "States": {
            "A": {"Type": "Pass", "Next": "C"},
            "C": {"Type": "Choice", "Choices": [{"Variable": "$.stop", "IsPresent": true, "Next": "Done"}], "Default": "A"},
            "Done": {"Type": "Succeed"}}});
        let rec = run(def, json!({}), &Scripted::new(vec![]), &VirtualClock::new(0));
        assert_eq!(rec.history.len(), MAX_HISTORY_EVENTS);
        assert!(matches!(&rec.outcome, Outcome::Failed { cause, .. } if cause.contains("25000")));
    }

    #[test]
    fn replaying_a_history_rebuilds_the_same_decisions() {
        let def = json!({"StartAt": "T", "States": {
            "T": {"Type": "Task", "Resource": "r", "Retry": [{"ErrorEquals": ["Flaky"]}], "Next": "P"},
            "P": {"Type": "Pass", "End": true}}});
        let runner = Scripted::new(vec![failed("Flaky"), TaskOutcome::Succeeded(json!({"ok": 1}))]);
        let machine = Arc::new(parse_definition(&def.to_string()).unwrap());
        let rec = run_execution(machine.clone(), execution_info("sm", "e1"), json!({}), &runner, &VirtualClock::new(0)).unwrap();
        // Cut the history at every point: the replayed execution must decide
        // exactly the event that was recorded next.
        for cut in 1..rec.history.len() {
            let mut exec = Execution::new(machine.clone(), rec.info.clone());
            for e in &rec.history[..cut] {
                exec.apply(e).unwrap();
            }
            let next = &rec.history[cut].kind;
            match exec.decide() {
                Decision::Record { event, .. } | Decision::RecordAt { event, .. } => assert_eq!(&event, next, "cut {cut}"),
                // An invocation is recorded as TaskStarted; a task in flight at
                // the cut is invoked again, and what follows is its outcome.
                Decision::Invoke { .. } => {
                    let expected: &[&str] = if rec.history[cut - 1].kind.type_name() == "TaskStarted" {
                        &["TaskSucceeded", "TaskFailed", "TaskTimedOut"]
                    } else {
                        &["TaskStarted"]
                    };
                    assert!(expected.contains(&next.type_name()), "cut {cut}: {}", next.type_name());
                }
                Decision::AwaitCallback { .. } => panic!("no task here waits for a token (cut {cut})"),
                Decision::Finished(_) => panic!("finished early at cut {cut}"),
            }
        }
        // A history that does not fit is rejected, not panicked on.
        let mut exec = Execution::new(machine, rec.info.clone());
        let err = exec.apply(&rec.history[2]).unwrap_err();
        assert!(err.to_string().contains("has not started"), "{err}");
    }
}
