//! The loop that joins the pieces: it asks the engine what to do, runs tasks on
//! a task runner, waits on a [`Clock`], numbers and timestamps the events,
//! and feeds each one back to the engine. The branches of a Parallel state
//! and the iterations of a Map state run at the same time: their tasks,
//! callbacks and timers are concurrent futures of one drive, and their
//! events are recorded in the order they happen. With a store, the events are
//! journaled in batches, one transaction each, before every task invocation,
//! before every real wait and at the end: so whatever a crash loses can only
//! be redone, never lost, since [`resume_execution`] continues an
//! execution from its stored history. A task whose completion is in the
//! history is never run again; one that was in flight is run again with the
//! same attempt number.
//!
//! A `.waitForTaskToken` task runs its module (`TaskSubmitted`), then waits
//! for its token's result in the store (`stepwasm task success|failure`),
//! within its `HeartbeatSeconds` and `TimeoutSeconds`. An activity's task is
//! queued for its workers instead, and starts when one takes it. An execution stopped in
//! the store (`stepwasm executions stop`) ends its driver at the next append
//! or token check, with the stored `ExecutionAborted` as its outcome.
//!
//! The API is async, and expects a tokio runtime: many executions share a
//! few threads while their tasks run (the WASM runtime yields while a module
//! computes) or wait. A synchronous caller (the CLI) runs the future on its
//! own runtime.
//!
//! Files: [`run`] (the entry points), [`steps`] (the loop), [`pending`] (its decisions and work in flight, indexed), [`decide`]
//! (decisions within the evaluation budget), [`callback`] (waiting for a
//! task token), [`activity`] (an activity's task queued until a worker takes it), [`recorder`] (numbering, applying and journaling events),
//! [`clock`], [`evaluation_pool`], [`error`].

mod activity;
mod callback;
mod clock;
mod decide;
mod error;
pub mod evaluation_pool;
mod pending;
mod recorder;
mod run;
mod steps;

pub use clock::{Clock, ScaledWaits, SystemClock, VirtualClock, Wait};
pub use error::DriverError;
pub use run::{drive_stored_execution, resume_execution, run_execution, run_recorded, start_execution, ExecutionRecord, Progress};
pub use stepwasm_engine::{execution_info, TaskOutcome, TaskRunner, MAX_HISTORY_EVENTS};

use std::sync::atomic::{AtomicUsize, Ordering};

/// The host-wide cap on children in flight per execution
/// ([`set_max_concurrent_children`]).
static MAX_CONCURRENT_CHILDREN: AtomicUsize = AtomicUsize::new(stepwasm_engine::DEFAULT_MAX_CHILDREN);

/// Caps, for every execution this process drives from now on, the Map
/// iterations one Map state runs at once when its `MaxConcurrency` is 0,
/// absent or larger, and the tasks, callbacks and activity tasks one
/// execution has in flight at once (at least 1; default
/// [`stepwasm_engine::DEFAULT_MAX_CHILDREN`]): `serve`/`run --max-concurrent-children`.
pub fn set_max_concurrent_children(max: usize) {
    MAX_CONCURRENT_CHILDREN.store(max.max(1), Ordering::Relaxed);
}

/// The cap [`set_max_concurrent_children`] set.
pub fn max_concurrent_children() -> usize {
    MAX_CONCURRENT_CHILDREN.load(Ordering::Relaxed)
}

#[cfg(test)]
mod tests;
