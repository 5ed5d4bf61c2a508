//! The interpreter as a pure state machine: an execution is a fold over its
//! history events ([`history`]), and [`execution::Execution::decide`] says what
//! must happen next. Each graph (the top level, a Parallel branch, a Map
//! iteration) runs in a frame; Retry/backoff and Catch live there. Running
//! tasks, waiting and storing events are the driver's job.

pub mod dataflow;
pub mod execution;
mod fanout;
mod frame;
pub mod history;

pub use execution::{Decision, Execution, ExecutionInfo, Outcome, ReplayError};
pub use frame::{json_size, retry_delay_ms, MAX_PAYLOAD_BYTES};
pub use history::{ErrorCause, EventKind, HistoryEvent, Payload, Scope, StateType};


/// An ASL error: the name Retry/Catch match on and a human-readable cause.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    pub error: String,
    pub cause: String,
}

impl Failure {
    pub fn new(error: impl Into<String>, cause: impl Into<String>) -> Failure {
        Failure { error: error.into(), cause: cause.into() }
    }
}

/// A task the engine wants run: everything a runtime needs to invoke it.
#[derive(Debug, Clone, PartialEq)]
pub struct TaskInvocation {
    pub resource: String,
    /// The effective input (after InputPath and Parameters).
    pub input: Payload,
    pub execution_id: String,
    pub state_name: String,
    /// 1 for the first attempt, 2 for the first retry, ...
    pub attempt: u32,
    /// The state's `TimeoutSeconds`, when set.
    pub timeout_seconds: Option<u64>,
}
