//! The engine's task vocabulary, shared by whoever runs tasks (the WASM
//! runtime, native functions, test scripts) and the driver that asks them:
//! how a task ended ([`TaskOutcome`]) and what can run one ([`TaskRunner`],
//! [`AsyncTaskRunner`]). The invocation itself is [`crate::TaskInvocation`].

use crate::TaskInvocation;
use serde_json::Value;
use std::future::Future;

/// How a task ended, as the runtime reports it.
#[derive(Debug, Clone, PartialEq)]
pub enum TaskOutcome {
    Succeeded(Value),
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

/// Something that can run a Task state's resource: the WASM runtime, or native
/// functions (the benchmark's baseline), or a script in tests.
pub trait TaskRunner {
    fn run_task(&self, task: &TaskInvocation) -> TaskOutcome;
}

/// A runner whose tasks are futures (the WASM runtime on tokio).
pub trait AsyncTaskRunner {
    fn run_task_async<'a>(&'a self, task: &'a TaskInvocation) -> impl Future<Output = TaskOutcome> + Send + 'a;
}

/// A synchronous runner used by the async loop: each task runs to its end
/// when it is asked for.
pub struct Blocking<'a, R: ?Sized>(pub &'a R);

impl<R: TaskRunner + ?Sized> AsyncTaskRunner for Blocking<'_, R> {
    fn run_task_async<'a>(&'a self, task: &'a TaskInvocation) -> impl Future<Output = TaskOutcome> + Send + 'a {
        std::future::ready(self.0.run_task(task))
    }
}
