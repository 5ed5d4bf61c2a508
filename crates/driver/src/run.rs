//! The driver's entry points: run an execution to its end (with or without a
//! store), start one for `serve` to run, resume one from its stored history,
//! or drive a stored one until it ends or parks.

use crate::clock::Clock;
use crate::recorder::Recorder;
use crate::steps::{drive, drive_to_halt};
use crate::DriverError;
use serde_json::Value;
use std::sync::Arc;
use stepwasm_asl::StateMachine;
use stepwasm_engine::{EventKind, ExecutionInfo, HistoryEvent, Outcome, Scope, TaskRunner};
use stepwasm_store::Journal;

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
/// Where [`drive_stored_execution`] left an execution.
#[derive(Debug, Clone, PartialEq)]
pub enum Progress {
    /// It ended (or was found stopped in the store).
    Finished(Outcome),
    /// It waits until `until_ms` (a Wait or a retry's backoff), with all it
    /// did journaled: drive it again then, from the store.
    Parked { until_ms: i64 },
}

/// Runs one execution to its end.
///
/// Errors only if the engine rejects an event the driver itself produced,
/// which would be a bug; every problem of the definition, input or a task is
/// an ordinary failed [`Outcome`].
pub async fn run_execution<R, C>(
    machine: Arc<StateMachine>,
    info: ExecutionInfo,
    input: Value,
    runner: &R,
    clock: &C,
) -> Result<ExecutionRecord, DriverError>
where
    R: TaskRunner + Sync + ?Sized,
    C: Clock + Sync + ?Sized,
{
    drive(begin(machine, info, input, clock)?, runner).await
}

/// [`run_execution`], journaling the execution and every event in `store`
/// as it goes (the execution's name must be new there); many executions on
/// tokio share the store's group commits. The execution is registered with
/// its first batch of events (before its first task or wait), so a name that
/// is taken is refused then, before anything has run.
pub async fn run_recorded<R, C>(
    machine: Arc<StateMachine>,
    info: ExecutionInfo,
    input: Value,
    runner: &R,
    clock: &C,
    store: &dyn Journal,
) -> Result<ExecutionRecord, DriverError>
where
    R: TaskRunner + Sync + ?Sized,
    C: Clock + Sync + ?Sized,
{
    let mut rec = begin(machine, info, input, clock)?;
    rec.journal_in(store);
    drive(rec, runner).await
}

/// Registers a new execution in `store` with its `ExecutionStarted` event,
/// in one step, and returns: whoever resumes the store's running executions
/// (`serve`) runs it.
pub async fn start_execution<C: Clock + ?Sized>(
    machine: Arc<StateMachine>,
    info: ExecutionInfo,
    input: Value,
    clock: &C,
    store: &dyn Journal,
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
    rec.record(Scope::root(), EventKind::ExecutionStarted { input: Arc::new(input) })?;
    Ok(rec)
}

/// Continues a running execution from its history in `store`, journaling
/// what follows. Waits and retry backoffs end at the instants the history
/// implies, so a resumed Wait does not start over.
pub async fn resume_execution<R, C>(
    machine: Arc<StateMachine>,
    info: ExecutionInfo,
    runner: &R,
    clock: &C,
    store: &dyn Journal,
) -> Result<ExecutionRecord, DriverError>
where
    R: TaskRunner + Sync + ?Sized,
    C: Clock + Sync + ?Sized,
{
    // An execution whose history is complete ends at once, recording nothing.
    drive(replayed(machine, info, clock, store)?, runner).await
}

/// [`resume_execution`] for a long-running host (`serve`): journaled
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
    store: &dyn Journal,
    park_waits_over_ms: i64,
) -> Result<Progress, DriverError>
where
    R: TaskRunner + Sync + ?Sized,
    C: Clock + Sync + ?Sized,
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
    store: &'a dyn Journal,
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
