//! The engine's task vocabulary, shared by whoever runs tasks (the WASM
//! runtime, native functions, test scripts) and the driver that asks them:
//! how a task ended ([`TaskOutcome`]) and what can run one ([`TaskRunner`]). The invocation itself is [`crate::TaskInvocation`].

use crate::TaskInvocation;
use serde_json::Value;
use std::future::Future;

/// How a task ended, as the runtime reports it.
#[derive(Debug, Clone, PartialEq)]
pub enum TaskOutcome {
    /// The task ran; a `.waitForTaskToken` task now waits for its token.
    Succeeded(Value),
    /// The whole task's result, a `.waitForTaskToken` one's included: no
    /// token is waited for (a mocked response, as SFN Local answers one).
    Answered(Value),
    Failed {
        error: String,
        cause: String,
    },
    /// The task ran out of wall-clock time (`States.Timeout`).
    TimedOut {
        cause: String,
    },
    /// The task ran but its kv writes could not be committed, for a cause
    /// that may pass (the disk is full, the store locked): the attempt left
    /// no trace. Not the task's failure: the driver records nothing and
    /// stops (the driver's `DriverError::TaskStore`) for the execution to be driven again.
    StoreUnavailable {
        cause: String,
    },
}

/// Something that can run a Task state's resource: the WASM runtime, native
/// functions (the benchmark's baseline), or a script in tests. The task is a
/// future, so that a module computing or waiting yields its thread; a runner
/// that answers at once returns a ready one.
pub trait TaskRunner {
    fn run_task<'a>(&'a self, task: &'a TaskInvocation) -> impl Future<Output = TaskOutcome> + Send + 'a;

    /// An answer that stands in for the whole task without running it (a
    /// mocked state), asked where the driver would not call [`Self::run_task`]:
    /// before an activity's task is queued for its workers. `None`, the
    /// default, lets the task go its usual way.
    fn mocked(&self, _task: &TaskInvocation) -> Option<TaskOutcome> {
        None
    }

    /// Whether this runner runs a `DISTRIBUTED` Map's map run (a task on
    /// [`crate::map_run::MAP_RUN_RESOURCE`]) as child executions; `false`,
    /// the default, has such a Map run its iterations inline.
    fn runs_map_runs(&self) -> bool {
        false
    }
}
