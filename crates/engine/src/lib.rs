//! The interpreter as a pure state machine: an execution is a fold over its
//! history events ([`history`]), and [`execution::Execution::decide`] says what
//! must happen next. Each graph (the top level, a Parallel branch, a Map
//! iteration) runs in a frame, which applies Retry and Catch; what they use
//! lives beside it: retry matching and backoff ([`retry_delay_ms`]), the
//! context object, Wait arithmetic, data limits. Running tasks, waiting and
//! storing events are the driver's job.

pub mod arn;
mod context_object;
mod data_limits;
pub mod dataflow;
pub mod execution;
mod fanout;
mod frame;
pub mod history;
pub mod limits;
pub mod map_run;
mod retry;
pub mod task;
mod wait;

pub use arn::execution_info;
pub use execution::{Decision, Execution, ExecutionInfo, Outcome, ReplayError, DEFAULT_MAX_CHILDREN};
pub use history::{ErrorCause, EventKind, HistoryEvent, Payload, Scope, StateType};
pub use limits::{check_error_and_cause, ErrorCauseTooLong, MAX_CAUSE_CHARS, MAX_ERROR_CHARS, MAX_HISTORY_EVENTS, MAX_PAYLOAD_BYTES};
pub use retry::retry_delay_ms;
pub use task::{TaskOutcome, TaskRunner};

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
    /// How many times this execution scheduled this state's task before this
    /// attempt (0 the first time; retries and re-entries count, across Map
    /// iterations too): what picks a mocked response (SFN Local's
    /// `"0"`, `"1-2"` keys). Counted from the history, so a resumed
    /// execution picks the same one.
    pub invocation: u32,
    /// The state's `TimeoutSeconds`, when set.
    pub timeout_seconds: Option<u64>,
    /// For a `.waitForTaskToken` task: its token (`$$.Task.Token`). The
    /// token is valid from before the module runs, so the module's own
    /// callback cannot arrive too early.
    pub task_token: Option<String>,
    /// The id of the state's `…StateEntered` event: with the execution and
    /// the attempt, it names this attempt uniquely ([`Self::attempt_key`]).
    pub entered_event_id: u64,
    /// Set by the driver when the outcome is journaled in a store: after a
    /// crash this attempt may be run again, so the runtime records its kv
    /// commit to apply it only once.
    pub journaled: bool,
    /// A Distributed Map's map run ([`map_run::MAP_RUN_RESOURCE`]): the
    /// state's settings; `input` is its [`map_run::MapRunRequest`].
    pub map_run: Option<map_run::MapRunSpec>,
}

impl TaskInvocation {
    /// Names this attempt: the same when a crash makes it run again, unique
    /// otherwise (a state entered twice has two entry events).
    pub fn attempt_key(&self) -> String {
        format!("{}#{}.{}", self.execution_id, self.entered_event_id, self.attempt)
    }
}

/// A `.waitForTaskToken` task whose module has run: it waits for its token.
#[derive(Debug, Clone, PartialEq)]
pub struct Callback {
    pub resource: String,
    pub token: String,
    /// The task fails with `States.HeartbeatTimeout` when no heartbeat (nor
    /// the result) comes for this long; the submission counts as the first.
    pub heartbeat_seconds: Option<u64>,
    /// When the task fails with `States.Timeout` (its `TimeoutSeconds`,
    /// counted from its start, or the execution's deadline).
    pub deadline_ms: Option<i64>,
}

/// The token of a `.waitForTaskToken` task: names the execution, the entry
/// into the state (its `…StateEntered` event) and the attempt, so it is the
/// same when a history is replayed and different for every attempt.
/// Hex, so that it is one word in a shell.
pub fn task_token(execution_arn: &str, entered_event_id: u64, attempt: u32) -> String {
    let plain = format!("{entered_event_id}.{attempt}.{execution_arn}");
    let mut token = String::with_capacity(3 + plain.len() * 2);
    token.push_str("swt");
    for byte in plain.bytes() {
        token.push_str(&format!("{byte:02x}"));
    }
    token
}
