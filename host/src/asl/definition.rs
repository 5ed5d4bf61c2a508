//! The parsed model of a state machine definition.
//!
//! Built only by [`crate::asl::parse`], which guarantees what the types cannot:
//! every `Next`/`Default` names a state, paths are valid, templates are well
//! formed, every state is reachable. The engine relies on that.

use super::choice::ChoiceRule;
use super::path::Path;
use super::template::Template;
use indexmap::IndexMap;
use serde_json::Value;

/// A whole state machine: `StartAt`, `States` and the top-level options.
#[derive(Debug, Clone)]
pub struct StateMachine {
    pub comment: Option<String>,
    pub start_at: String,
    pub states: IndexMap<String, State>,
    pub timeout_seconds: Option<u64>,
    pub version: Option<String>,
}

impl StateMachine {
    /// The state named `name`; parsing guarantees every transition target exists.
    pub fn state(&self, name: &str) -> Option<&State> {
        self.states.get(name)
    }

    /// Every Task state's `Resource`, with the state's name, in definition order.
    pub fn task_resources(&self) -> impl Iterator<Item = (&str, &str)> {
        self.states.iter().filter_map(|(name, state)| match &state.kind {
            StateKind::Task(task) => Some((name.as_str(), task.resource.as_str())),
            _ => None,
        })
    }
}

/// One named state.
#[derive(Debug, Clone)]
pub struct State {
    pub name: String,
    pub comment: Option<String>,
    pub kind: StateKind,
}

impl State {
    /// The `Type` as written in ASL (`"Task"`, `"Pass"`, ...), also the prefix
    /// of the state's history event names (`TaskStateEntered`).
    pub fn type_name(&self) -> &'static str {
        match self.kind {
            StateKind::Task(_) => "Task",
            StateKind::Pass(_) => "Pass",
            StateKind::Choice(_) => "Choice",
            StateKind::Succeed(_) => "Succeed",
            StateKind::Fail(_) => "Fail",
            StateKind::Wait(_) => "Wait",
        }
    }
}

/// The state types stepwasm runs today. Parallel and Map are parsed far
/// enough to give a clear "not supported yet" error.
#[derive(Debug, Clone)]
pub enum StateKind {
    Task(TaskState),
    Pass(PassState),
    Choice(ChoiceState),
    Succeed(SucceedState),
    Fail(FailState),
    Wait(WaitState),
}

/// Where a state goes when it completes normally.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Transition {
    Next(String),
    End,
}

/// `InputPath` / `OutputPath`: absent means `$`; JSON `null` means `{}`.
#[derive(Debug, Clone, PartialEq)]
pub enum PathSetting {
    Default,
    Null,
    Path(Path),
}

/// `ResultPath`: absent means `$` (replace); `null` discards the result.
#[derive(Debug, Clone, PartialEq)]
pub enum ResultPathSetting {
    Default,
    Discard,
    Path(Path),
}

/// The input/output processing fields a state may carry.
#[derive(Debug, Clone)]
pub struct IoSettings {
    pub input_path: PathSetting,
    pub output_path: PathSetting,
    pub result_path: ResultPathSetting,
    pub parameters: Option<Template>,
    pub result_selector: Option<Template>,
}

impl Default for IoSettings {
    fn default() -> Self {
        IoSettings {
            input_path: PathSetting::Default,
            output_path: PathSetting::Default,
            result_path: ResultPathSetting::Default,
            parameters: None,
            result_selector: None,
        }
    }
}

#[derive(Debug, Clone)]
pub struct TaskState {
    pub resource: String,
    pub io: IoSettings,
    pub retry: Vec<Retrier>,
    pub catch: Vec<Catcher>,
    pub timeout_seconds: Option<u64>,
    /// `TimeoutSecondsPath`: read from the state's input when it is entered.
    pub timeout_seconds_path: Option<Path>,
    pub heartbeat_seconds: Option<u64>,
    pub heartbeat_seconds_path: Option<Path>,
    pub transition: Transition,
}

#[derive(Debug, Clone)]
pub struct PassState {
    pub io: IoSettings,
    pub result: Option<Value>,
    pub transition: Transition,
}

#[derive(Debug, Clone)]
pub struct ChoiceState {
    pub io: IoSettings,
    pub choices: Vec<ChoiceRule>,
    pub default: Option<String>,
}

#[derive(Debug, Clone)]
pub struct SucceedState {
    pub io: IoSettings,
}

#[derive(Debug, Clone)]
pub struct FailState {
    pub error: Option<String>,
    pub cause: Option<String>,
    /// `ErrorPath` / `CausePath`: a reference path or an intrinsic function,
    /// evaluated on the state's input.
    pub error_path: Option<Template>,
    pub cause_path: Option<Template>,
}

/// How long a Wait state waits.
#[derive(Debug, Clone, PartialEq)]
pub enum WaitFor {
    Seconds(u64),
    SecondsPath(Path),
    /// An absolute instant, as epoch milliseconds (parsed from RFC 3339).
    Timestamp(i64),
    TimestampPath(Path),
}

#[derive(Debug, Clone)]
pub struct WaitState {
    pub io: IoSettings,
    pub wait: WaitFor,
    pub transition: Transition,
}

/// `JitterStrategy` of a retrier.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Jitter {
    None,
    Full,
}

/// One entry of a state's `Retry`.
#[derive(Debug, Clone)]
pub struct Retrier {
    pub error_equals: Vec<String>,
    pub interval_seconds: u64,
    pub max_attempts: u32,
    pub backoff_rate: f64,
    pub max_delay_seconds: Option<u64>,
    pub jitter: Jitter,
}

/// One entry of a state's `Catch`.
#[derive(Debug, Clone)]
pub struct Catcher {
    pub error_equals: Vec<String>,
    pub next: String,
    pub result_path: ResultPathSetting,
}
