//! The parsed model of a state machine definition.
//!
//! Built only by [`crate::parse`], which guarantees what the types cannot:
//! every `Next`/`Default` names a state, paths are valid, templates are well
//! formed, every state is reachable. The engine relies on that.

use super::choice::ChoiceRule;
use super::path::Path;
use super::template::Template;
use indexmap::IndexMap;
use serde_json::Value;
use std::sync::Arc;

/// A whole state machine: its top-level graph and options.
#[derive(Debug, Clone)]
pub struct StateMachine {
    pub comment: Option<String>,
    pub root: Arc<Graph>,
    pub timeout_seconds: Option<u64>,
    pub version: Option<String>,
}

/// `StartAt` and `States`: the top level, a Parallel branch, or a Map's
/// item processor. Transitions never leave their graph.
#[derive(Debug, Clone)]
pub struct Graph {
    pub start_at: String,
    pub states: StateMap,
}

/// A graph's states by name, in definition order (looked up on every event).
pub type StateMap = IndexMap<String, State, foldhash::fast::RandomState>;

impl Graph {
    /// The state named `name`; parsing guarantees every transition target exists.
    pub fn state(&self, name: &str) -> Option<&State> {
        self.states.get(name)
    }

    /// Every state of this graph and of the graphs nested in it, depth first.
    pub fn all_states(&self) -> Vec<&State> {
        let mut out = Vec::new();
        for state in self.states.values() {
            out.push(state);
            match &state.kind {
                StateKind::Parallel(p) => p.branches.iter().for_each(|b| out.extend(b.all_states())),
                StateKind::Map(m) => out.extend(m.processor.all_states()),
                _ => {}
            }
        }
        out
    }
}

impl StateMachine {
    pub fn start_at(&self) -> &str {
        &self.root.start_at
    }

    /// The Task resources a module runs: all but activities.
    pub fn module_resources(&self) -> Vec<(&str, &str)> {
        self.task_resources().into_iter().filter(|(_, resource)| !is_activity(resource)).collect()
    }

    /// The Task states a module runs (all but activities' tasks), with
    /// their names, in definition order.
    pub fn module_tasks(&self) -> Vec<(&str, &TaskState)> {
        self.root
            .all_states()
            .into_iter()
            .filter_map(|state| match &state.kind {
                StateKind::Task(task) if !is_activity(&task.resource) => Some((state.name.as_str(), &**task)),
                _ => None,
            })
            .collect()
    }

    /// Every Task state's `Resource` (nested ones included), with the state's
    /// name, in definition order.
    pub fn task_resources(&self) -> Vec<(&str, &str)> {
        self.root
            .all_states()
            .into_iter()
            .filter_map(|state| match &state.kind {
                StateKind::Task(task) => Some((state.name.as_str(), task.resource.as_str())),
                _ => None,
            })
            .collect()
    }
}

/// One named state.
#[derive(Debug, Clone)]
pub struct State {
    pub name: String,
    pub comment: Option<String>,
    /// The state's query language is JSONata (its own `QueryLanguage`, else
    /// the top level's): `{% %}` expressions and `$states` instead of paths.
    pub jsonata: bool,
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
            StateKind::Parallel(_) => "Parallel",
            StateKind::Map(_) => "Map",
        }
    }

    /// The state's own `Next`/`End` (Choice, Succeed and Fail have none).
    pub fn transition(&self) -> Option<&Transition> {
        match &self.kind {
            StateKind::Task(t) => Some(&t.transition),
            StateKind::Pass(p) => Some(&p.transition),
            StateKind::Wait(w) => Some(&w.transition),
            StateKind::Parallel(p) => Some(&p.transition),
            StateKind::Map(m) => Some(&m.transition),
            StateKind::Choice(_) | StateKind::Succeed(_) | StateKind::Fail(_) => None,
        }
    }

    /// The state's `Retry` (only Task, Parallel and Map have one).
    pub fn retriers(&self) -> &[Retrier] {
        match &self.kind {
            StateKind::Task(t) => &t.retry,
            StateKind::Parallel(p) => &p.retry,
            StateKind::Map(m) => &m.retry,
            _ => &[],
        }
    }

    /// The state's `Catch` (only Task, Parallel and Map have one).
    pub fn catchers(&self) -> &[Catcher] {
        match &self.kind {
            StateKind::Task(t) => &t.catch,
            StateKind::Parallel(p) => &p.catch,
            StateKind::Map(m) => &m.catch,
            _ => &[],
        }
    }
}

/// The eight state types. The two largest are boxed, so that the other
/// states (most of a definition) do not take their size.
#[derive(Debug, Clone)]
pub enum StateKind {
    Task(Box<TaskState>),
    Pass(PassState),
    Choice(ChoiceState),
    Succeed(SucceedState),
    Fail(FailState),
    Wait(WaitState),
    Parallel(ParallelState),
    Map(Box<MapState>),
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
    /// `Assign`: workflow variables set when the state completes normally.
    pub assign: Option<Template>,
    /// A JSONata state: `parameters` holds `Arguments`, and `output` the
    /// `Output` template; the JSONPath fields stay at their defaults.
    pub jsonata: bool,
    /// `Output` (JSONata only): replaces the state's default output.
    pub output: Option<Template>,
}

impl Default for IoSettings {
    fn default() -> Self {
        IoSettings {
            input_path: PathSetting::Default,
            output_path: PathSetting::Default,
            result_path: ResultPathSetting::Default,
            parameters: None,
            result_selector: None,
            assign: None,
            jsonata: false,
            output: None,
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
    /// `HeartbeatSeconds`: how long a task waiting for its token may go
    /// without a heartbeat (`stepwasm task heartbeat`).
    pub heartbeat_seconds: Option<u64>,
    pub heartbeat_seconds_path: Option<Path>,
    /// `TimeoutSeconds` written as a JSONata expression.
    pub timeout_seconds_expr: Option<Template>,
    /// `HeartbeatSeconds` written as a JSONata expression.
    pub heartbeat_seconds_expr: Option<Template>,
    pub transition: Transition,
}

/// The resource suffix of a task that, once its module has run, waits for
/// someone to send its task token back (`$$.Task.Token`).
pub const WAIT_FOR_TASK_TOKEN: &str = ".waitForTaskToken";

impl TaskState {
    /// Does the task wait for its token to be sent back: the callback
    /// pattern, or an activity (whose worker answers with the token)?
    pub fn waits_for_task_token(&self) -> bool {
        self.resource.ends_with(WAIT_FOR_TASK_TOKEN) || is_activity(&self.resource)
    }
}

/// Is `resource` an activity's ARN (`arn:<partition>:states:<region>:<account>:activity:<name>`)?
/// Its tasks are run by workers that poll for them, not by a module.
pub fn is_activity(resource: &str) -> bool {
    // Asked for every task the driver handles: split without allocating.
    let mut split = resource.split(':');
    let parts: [Option<&str>; 7] = std::array::from_fn(|_| split.next());
    split.next().is_none()
        && parts[0] == Some("arn")
        && parts[2] == Some("states")
        && parts[5] == Some("activity")
        && parts[6].is_some_and(|name| !name.is_empty())
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
    /// `Seconds` or `Timestamp` written as a JSONata expression.
    SecondsExpr(Template),
    TimestampExpr(Template),
}

#[derive(Debug, Clone)]
pub struct WaitState {
    pub io: IoSettings,
    pub wait: WaitFor,
    pub transition: Transition,
}

/// Runs every branch on its own copy of the effective input; the result is
/// the array of the branches' outputs, in branch order.
#[derive(Debug, Clone)]
pub struct ParallelState {
    pub io: IoSettings,
    pub branches: Vec<Arc<Graph>>,
    pub retry: Vec<Retrier>,
    pub catch: Vec<Catcher>,
    pub transition: Transition,
}

/// A number given directly or read from the input by a reference path
/// (`MaxConcurrency`/`MaxConcurrencyPath` and the like).
#[derive(Debug, Clone, PartialEq)]
pub enum NumberSetting {
    Fixed(f64),
    Path(Path),
    /// A JSONata expression (JSONata states).
    Expr(Template),
}

/// `ItemBatcher`: groups items into batches `{"Items": [...], "BatchInput": ...}`.
#[derive(Debug, Clone)]
pub struct ItemBatcher {
    pub max_items: Option<NumberSetting>,
    pub max_bytes: Option<NumberSetting>,
    pub batch_input: Option<Template>,
}

/// `ItemReader` of a Distributed Map: where its items come from instead of
/// its input: an S3 object (`s3:getObject`, read as JSON, JSON Lines or CSV)
/// or a listing (`s3:listObjectsV2`); the host maps buckets to directories.
#[derive(Debug, Clone)]
pub struct ItemReader {
    pub resource: String,
    /// `Parameters` (JSONPath: `.$` fields read the state's effective input)
    /// or `Arguments` (JSONata): `Bucket` and `Key` or `Prefix`.
    pub parameters: Option<Template>,
    /// `ReaderConfig` without its `MaxItems…` (`InputType`, `CSVHeaderLocation`,
    /// `CSVHeaders`, `CSVDelimiter`), as written.
    pub reader_config: Value,
    /// `ReaderConfig.MaxItems` or `MaxItemsPath`: read at most that many (0: all).
    pub max_items: Option<NumberSetting>,
}

/// `ResultWriter` of a Distributed Map: its child executions' results
/// written as AWS lays them out (`s3:putObject`, `Bucket` and `Prefix`).
#[derive(Debug, Clone)]
pub struct ResultWriter {
    pub resource: String,
    pub parameters: Option<Template>,
}

/// What a `DISTRIBUTED` Map runs as child executions: the item processor's
/// definition as written, its `ExecutionType`, the `Label`, the reader and writer.
#[derive(Debug, Clone)]
pub struct Distributed {
    /// `ItemProcessor` without its `ProcessorConfig`, a state machine
    /// definition of its own (with the top level's `QueryLanguage`).
    pub processor_definition: Arc<Value>,
    /// `STANDARD` or `EXPRESS`.
    pub execution_type: String,
    pub label: Option<String>,
    /// The Map state's own `ItemSelector`, `ItemBatcher` and query language,
    /// for the items the host reads (see `stepwasm_engine::map_run`).
    pub item_selector: Option<Template>,
    pub item_batcher: Option<ItemBatcher>,
    pub jsonata: bool,
    pub item_reader: Option<ItemReader>,
    pub result_writer: Option<ResultWriter>,
}

/// Runs its item processor once per item of the array `ItemsPath` selects.
#[derive(Debug, Clone)]
pub struct MapState {
    /// `InputPath`, `ResultSelector`, `ResultPath`, `OutputPath`; never
    /// `parameters` (a Map's `Parameters` is the legacy name of `ItemSelector`).
    pub io: IoSettings,
    pub items_path: Option<Path>,
    /// `Items` (JSONata): the array to iterate, literal or an expression.
    pub items: Option<Template>,
    /// `ItemSelector` (or the legacy `Parameters`): each iteration's input,
    /// rendered with `$$.Map.Item.Index` and `$$.Map.Item.Value` in the context.
    pub item_selector: Option<Template>,
    /// `ItemProcessor` (or the legacy `Iterator`).
    pub processor: Arc<Graph>,
    /// `ProcessorConfig.Mode` is `DISTRIBUTED`: ItemBatcher, the
    /// tolerated-failure fields, ItemReader and ResultWriter are allowed; a
    /// host that runs child executions runs it as a map run (else inline).
    pub distributed: bool,
    /// What a `DISTRIBUTED` Map needs to run as child executions.
    pub distributed_run: Option<Arc<Distributed>>,
    pub max_concurrency: Option<NumberSetting>,
    pub tolerated_failure_count: Option<NumberSetting>,
    pub tolerated_failure_percentage: Option<NumberSetting>,
    pub item_batcher: Option<ItemBatcher>,
    pub retry: Vec<Retrier>,
    pub catch: Vec<Catcher>,
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
    /// `Assign`: variables set from the error output when this catcher is taken.
    pub assign: Option<Template>,
    /// `Output` (JSONata): the state's output when this catcher is taken.
    pub output: Option<Template>,
}

#[cfg(test)]
mod tests {
    use super::is_activity;

    #[test]
    fn an_activity_is_a_seven_field_states_activity_arn_with_a_name() {
        assert!(is_activity("arn:aws:states:us-east-1:123456789012:activity:approve"));
        assert!(!is_activity("arn:aws:states:us-east-1:123456789012:activity:"));
        assert!(!is_activity("arn:aws:states:us-east-1:123456789012:activity:a:b"));
        assert!(!is_activity("arn:aws:states:us-east-1:123456789012:stateMachine:m"));
        assert!(!is_activity("arn:aws:lambda:us-east-1:123456789012:activity:approve"));
        assert!(!is_activity("arn:aws:states:us-east-1:123456789012:activity"));
        assert!(!is_activity(""));
    }
}
