//! Turns definition text into a [`StateMachine`], or into *every* problem found,
//! each with its location (`States.VerifyPayment.Next: no state named ...`).
//!
//! Two passes: the first checks each field's shape and builds the model while
//! recording every transition target; the second checks the graph (dangling
//! `Next`/`Default`/`Catch` targets, `StartAt`, unreachable states).

use super::choice::parse_rules;
use super::definition::*;
use super::errors::ALL;
use super::path::Path;
use super::template::Template;
use super::{InvalidDefinition, ValidationError};
use serde_json::{Map, Value};
use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::Arc;

/// AWS's limit on state names.
const MAX_STATE_NAME_CHARS: usize = 80;
/// AWS's ceiling for MaxAttempts, IntervalSeconds, Wait Seconds and the
/// TimeoutSeconds/HeartbeatSeconds fields.
const MAX_COUNT: u64 = 99_999_999;
/// AWS's ceiling for a retrier's MaxDelaySeconds (just over a year).
const MAX_DELAY_SECONDS: u64 = 31_622_400;
/// AWS's limit on a Map state's Label.
const MAX_LABEL_CHARS: usize = 40;
/// The predefined error names; any other `States.` name is reserved.
const PREDEFINED_ERRORS: &[&str] = &[
    "States.ALL",
    "States.DataLimitExceeded",
    "States.ExceedToleratedFailureThreshold",
    "States.HeartbeatTimeout",
    "States.Http.Socket",
    "States.IntrinsicFailure",
    "States.ItemReaderFailed",
    "States.NoChoiceMatched",
    "States.ParameterPathFailure",
    "States.Permissions",
    "States.ResultPathMatchFailure",
    "States.ResultWriterFailed",
    "States.Runtime",
    "States.Timeout",
    "States.TaskFailed",
    "States.BranchFailed",
    "States.QueryEvaluationError",
];

const TOP_LEVEL_FIELDS: &[&str] = &["Comment", "StartAt", "States", "TimeoutSeconds", "Version", "QueryLanguage"];
const COMMON_FIELDS: &[&str] = &["Type", "Comment", "QueryLanguage"];
/// Fields only JSONPath states may have.
const JSONPATH_ONLY: &[&str] = &[
    "InputPath",
    "OutputPath",
    "ResultPath",
    "Parameters",
    "ResultSelector",
    "Result",
    "ItemsPath",
    "TimeoutSecondsPath",
    "HeartbeatSecondsPath",
    "SecondsPath",
    "TimestampPath",
    "ErrorPath",
    "CausePath",
    "MaxConcurrencyPath",
    "ToleratedFailureCountPath",
    "ToleratedFailurePercentagePath",
];
/// Fields only JSONata states may have.
const JSONATA_ONLY: &[&str] = &["Arguments", "Output", "Items"];
const TASK_FIELDS: &[&str] = &[
    "Resource",
    "Next",
    "End",
    "InputPath",
    "OutputPath",
    "ResultPath",
    "Parameters",
    "ResultSelector",
    "Retry",
    "Catch",
    "TimeoutSeconds",
    "TimeoutSecondsPath",
    "HeartbeatSeconds",
    "HeartbeatSecondsPath",
    "Arguments",
    "Output",
];
const PASS_FIELDS: &[&str] = &["Next", "End", "InputPath", "OutputPath", "ResultPath", "Parameters", "Result", "Output"];
const CHOICE_FIELDS: &[&str] = &["Choices", "Default", "InputPath", "OutputPath", "Output"];
const SUCCEED_FIELDS: &[&str] = &["InputPath", "OutputPath", "Output"];
const FAIL_FIELDS: &[&str] = &["Error", "Cause", "ErrorPath", "CausePath"];
const WAIT_FIELDS: &[&str] = &["Seconds", "SecondsPath", "Timestamp", "TimestampPath", "Next", "End", "InputPath", "OutputPath", "Output"];
const PARALLEL_FIELDS: &[&str] = &[
    "Branches",
    "Next",
    "End",
    "InputPath",
    "OutputPath",
    "ResultPath",
    "Parameters",
    "ResultSelector",
    "Retry",
    "Catch",
    "Arguments",
    "Output",
];
const BRANCH_FIELDS: &[&str] = &["StartAt", "States", "Comment"];
const MAP_FIELDS: &[&str] = &[
    "Next",
    "End",
    "InputPath",
    "OutputPath",
    "ResultPath",
    "Parameters",
    "ResultSelector",
    "Retry",
    "Catch",
    "ItemsPath",
    "ItemSelector",
    "ItemProcessor",
    "Iterator",
    "MaxConcurrency",
    "MaxConcurrencyPath",
    "ItemBatcher",
    "ToleratedFailureCount",
    "ToleratedFailureCountPath",
    "ToleratedFailurePercentage",
    "ToleratedFailurePercentagePath",
    "Label",
    "ItemReader",
    "ResultWriter",
    "Items",
    "Output",
];
const PROCESSOR_FIELDS: &[&str] = &["StartAt", "States", "Comment", "ProcessorConfig"];
const ITEM_BATCHER_FIELDS: &[&str] =
    &["MaxItemsPerBatch", "MaxItemsPerBatchPath", "MaxInputBytesPerBatch", "MaxInputBytesPerBatchPath", "BatchInput"];
/// Fields AWS accepts that stepwasm does not implement yet: named in the error.
const NOT_YET_SUPPORTED: &[&str] = &["Credentials"];
const RETRIER_FIELDS: &[&str] =
    &["ErrorEquals", "IntervalSeconds", "MaxAttempts", "BackoffRate", "MaxDelaySeconds", "JitterStrategy", "Comment"];
const CATCHER_FIELDS: &[&str] = &["ErrorEquals", "Next", "ResultPath", "Comment", "Assign", "Output"];
/// The state types whose `Assign` sets variables (Succeed and Fail have none).
const ASSIGN_FIELD: &[&str] = &["Assign"];

/// The S3 action of an `arn:<partition>:states:::s3:<action>` resource.
fn s3_action(resource: &str) -> Option<&str> {
    resource.strip_prefix("arn:")?.split_once(":states:::s3:").map(|(_, action)| action)
}

/// Parses and validates a definition.
pub fn parse_definition(text: &str) -> Result<StateMachine, InvalidDefinition> {
    let value: Value = serde_json::from_str(text).map_err(|e| {
        InvalidDefinition(vec![ValidationError::new(&format!("line {} column {}", e.line(), e.column()), format!("not valid JSON: {e}"))])
    })?;
    let mut parser = Parser { errors: Vec::new(), scope: Scope::default(), names: HashMap::new(), jsonata_default: false, jsonata: false };
    let machine = parser.machine(&value);
    match machine {
        Some(m) if parser.errors.is_empty() => Ok(m),
        _ => Err(InvalidDefinition(parser.errors)),
    }
}

struct Parser {
    errors: Vec<ValidationError>,
    /// The graph being parsed.
    scope: Scope,
    /// Every state name seen so far, with its location: names are unique
    /// across the whole state machine, nested graphs included.
    names: HashMap<String, String>,
    /// The top level's `QueryLanguage` is JSONata.
    jsonata_default: bool,
    /// The state being parsed is a JSONata state.
    jsonata: bool,
}

/// What the graph checks need to know about one graph while it is parsed.
#[derive(Default)]
struct Scope {
    /// Every name under its `States`, parsed or not, so a state with its own
    /// errors is not also reported as missing wherever it is named.
    declared: HashSet<String>,
    /// (state the transition leaves, location of the field, target name)
    targets: Vec<(String, String, String)>,
}

/// Which kind of graph, for messages.
#[derive(Clone, Copy, PartialEq, Eq)]
enum GraphKind {
    Machine,
    Branch,
    ItemProcessor,
}

impl GraphKind {
    fn noun(self) -> &'static str {
        match self {
            GraphKind::Machine => "state machine",
            GraphKind::Branch => "branch",
            GraphKind::ItemProcessor => "item processor",
        }
    }
}

/// Field access on one JSON object, reporting problems at `loc.Field`.
struct Fields<'a> {
    map: &'a Map<String, Value>,
    loc: String,
}

impl<'a> Fields<'a> {
    fn at(&self, key: &str) -> String {
        if self.loc.is_empty() {
            key.to_string()
        } else {
            format!("{}.{key}", self.loc)
        }
    }

    fn get(&self, key: &str) -> Option<&'a Value> {
        self.map.get(key)
    }

    fn allow(&self, p: &mut Parser, allowed: &[&[&str]], what: &str) {
        for key in self.map.keys() {
            if allowed.iter().any(|list| list.contains(&key.as_str())) {
                continue;
            }
            let msg = if NOT_YET_SUPPORTED.contains(&key.as_str()) {
                format!("{key} is not supported yet by stepwasm")
            } else {
                format!("field {key:?} is not allowed in {what}")
            };
            p.err::<()>(&self.at(key), msg);
        }
    }

    fn string(&self, p: &mut Parser, key: &str, required: bool) -> Option<String> {
        match self.get(key) {
            Some(Value::String(s)) => Some(s.clone()),
            Some(_) => p.err::<String>(&self.at(key), format!("{key} must be a string")),
            None if required => p.err(&self.loc, format!("missing required field {key}")),
            None => None,
        }
    }

    /// A whole number from `min` up to AWS's ceiling for counts and seconds.
    fn uint(&self, p: &mut Parser, key: &str, min: u64) -> Option<u64> {
        self.uint_in(p, key, min, MAX_COUNT)
    }

    fn uint_in(&self, p: &mut Parser, key: &str, min: u64, max: u64) -> Option<u64> {
        let v = self.get(key)?;
        match v.as_u64() {
            Some(n) if n >= min && n <= max => Some(n),
            _ => p.err(&self.at(key), format!("{key} must be an integer from {min} to {max}, got {v}")),
        }
    }

    fn error_equals(&self, p: &mut Parser) -> Vec<String> {
        let loc = self.at("ErrorEquals");
        let names: Vec<String> = match self.get("ErrorEquals") {
            Some(Value::Array(items)) if !items.is_empty() => {
                items.iter().filter_map(|v| v.as_str().map(str::to_string)).collect::<Vec<_>>()
            }
            None => {
                p.err::<()>(&self.loc, "missing required field ErrorEquals");
                return Vec::new();
            }
            _ => {
                p.err::<()>(&loc, "ErrorEquals must be a non-empty array of error names");
                return Vec::new();
            }
        };
        if names.len() != self.get("ErrorEquals").and_then(Value::as_array).map_or(0, Vec::len) {
            p.err::<()>(&loc, "every ErrorEquals entry must be a string");
        }
        if names.iter().any(|n| n == ALL) && names.len() > 1 {
            p.err::<()>(&loc, "States.ALL must appear alone in ErrorEquals");
        }
        // The HTTP Task's `States.Http.StatusCode.<code>` is predefined too.
        let http_status =
            |n: &str| n.strip_prefix("States.Http.StatusCode.").is_some_and(|c| c.len() == 3 && c.bytes().all(|b| b.is_ascii_digit()));
        let reserved = |n: &&String| n.starts_with("States.") && !PREDEFINED_ERRORS.contains(&n.as_str()) && !http_status(n);
        for name in names.iter().filter(reserved) {
            p.err::<()>(&loc, format!("{name:?} is not a predefined error, and names starting with States. are reserved"));
        }
        names
    }
}

impl Parser {
    /// Records a problem; returns `None` so callers can `return p.err(..)`.
    fn err<T>(&mut self, location: &str, message: impl Into<String>) -> Option<T> {
        self.errors.push(ValidationError::new(location, message));
        None
    }

    fn object<'a>(&mut self, value: &'a Value, loc: &str, what: &str) -> Option<Fields<'a>> {
        match value {
            Value::Object(map) => Some(Fields { map, loc: loc.to_string() }),
            _ => self.err(loc, format!("{what} must be a JSON object")),
        }
    }

    fn machine(&mut self, value: &Value) -> Option<StateMachine> {
        let top = self.object(value, "", "a state machine definition")?;
        top.allow(self, &[TOP_LEVEL_FIELDS], "the top level");
        let comment = top.string(self, "Comment", false);
        let timeout_seconds = top.uint(self, "TimeoutSeconds", 1);
        let version = top.string(self, "Version", false);
        self.jsonata_default = match top.string(self, "QueryLanguage", false).as_deref() {
            None | Some("JSONPath") => false,
            Some("JSONata") => true,
            Some(other) => {
                self.err::<()>("QueryLanguage", format!("QueryLanguage must be JSONPath or JSONata, got {other:?}"));
                false
            }
        };
        let root = self.graph(&top, GraphKind::Machine)?;
        Some(StateMachine { comment, root, timeout_seconds, version })
    }

    /// `StartAt` and `States` of the object `f`, with the graph checks done
    /// in the graph's own scope (a branch cannot leave itself).
    fn graph(&mut self, f: &Fields, kind: GraphKind) -> Option<Arc<Graph>> {
        let start_at = f.string(self, "StartAt", true);
        let states = match f.get("States") {
            None => self.err(&f.loc, "missing required field States"),
            Some(Value::Object(map)) if map.is_empty() => self.err(&f.at("States"), "States must contain at least one state"),
            Some(Value::Object(map)) => Some(map),
            Some(_) => self.err(&f.at("States"), "States must be a JSON object of named states"),
        };
        let outer = Scope { declared: states.into_iter().flatten().map(|(name, _)| name.clone()).collect(), targets: Vec::new() };
        let outer = std::mem::replace(&mut self.scope, outer);
        // The enclosing state's language, restored once the nested graph is read.
        let enclosing_jsonata = self.jsonata;
        let prefix = if f.loc.is_empty() { String::new() } else { format!("{}.", f.loc) };
        let mut parsed = crate::definition::StateMap::default();
        for (name, value) in states.into_iter().flatten() {
            let loc = format!("{prefix}States.{name}");
            if let Some(first) = self.names.insert(name.clone(), loc.clone()) {
                self.err::<()>(
                    &loc,
                    format!("state name {name:?} is already used at {first}; names are unique in the whole state machine"),
                );
            }
            if let Some(state) = self.state(name, &loc, value) {
                parsed.insert(name.clone(), state);
            }
        }
        let graph = Graph { start_at: start_at.unwrap_or_default(), states: parsed };
        self.check_graph(&graph, &f.loc, kind);
        self.scope = outer;
        self.jsonata = enclosing_jsonata;
        Some(Arc::new(graph))
    }

    fn state(&mut self, name: &str, loc: &str, value: &Value) -> Option<State> {
        let loc = loc.to_string();
        if name.is_empty() || name.chars().count() > MAX_STATE_NAME_CHARS {
            self.err::<()>(&loc, format!("a state name must be 1 to {MAX_STATE_NAME_CHARS} characters"));
        }
        let f = self.object(value, &loc, "a state")?;
        let comment = f.string(self, "Comment", false);
        let type_name = f.string(self, "Type", true)?;
        self.jsonata = match f.string(self, "QueryLanguage", false).as_deref() {
            None => self.jsonata_default,
            Some("JSONata") => true,
            Some("JSONPath") if self.jsonata_default => {
                self.err::<()>(&f.at("QueryLanguage"), "a state cannot use JSONPath when the state machine's QueryLanguage is JSONata");
                true
            }
            Some("JSONPath") => false,
            Some(other) => {
                self.err::<()>(&f.at("QueryLanguage"), format!("QueryLanguage must be JSONPath or JSONata, got {other:?}"));
                self.jsonata_default
            }
        };
        let jsonata = self.jsonata;
        for key in f.map.keys() {
            if jsonata && JSONPATH_ONLY.contains(&key.as_str()) && !(key == "Parameters" && type_name == "Map") {
                self.err::<()>(
                    &f.at(key),
                    format!("field {key:?} is JSONPath only; a JSONata state uses Arguments, Output and {{% %}} expressions"),
                );
            } else if !jsonata && JSONATA_ONLY.contains(&key.as_str()) {
                self.err::<()>(&f.at(key), format!("field {key:?} is only allowed in JSONata states (QueryLanguage \"JSONata\")"));
            }
        }
        let kind = match type_name.as_str() {
            "Task" => {
                f.allow(self, &[COMMON_FIELDS, TASK_FIELDS, ASSIGN_FIELD], "a Task state");
                let resource = f.string(self, "Resource", true);
                if let Some(r) = &resource {
                    if let Err(why) = check_resource(r) {
                        self.err::<()>(&f.at("Resource"), why);
                    }
                }
                let timeout_seconds_expr = self.expression_field(&f, "TimeoutSeconds");
                let heartbeat_seconds_expr = self.expression_field(&f, "HeartbeatSeconds");
                let timeout_seconds = if timeout_seconds_expr.is_some() { None } else { f.uint(self, "TimeoutSeconds", 1) };
                let heartbeat_seconds = if heartbeat_seconds_expr.is_some() { None } else { f.uint(self, "HeartbeatSeconds", 1) };
                let timeout_seconds_path = self.reading_path(&f, "TimeoutSecondsPath");
                let heartbeat_seconds_path = self.reading_path(&f, "HeartbeatSecondsPath");
                for (fixed, path) in [("TimeoutSeconds", "TimeoutSecondsPath"), ("HeartbeatSeconds", "HeartbeatSecondsPath")] {
                    if f.get(fixed).is_some() && f.get(path).is_some() {
                        self.err::<()>(&f.loc, format!("{fixed} and {path} cannot both be set"));
                    }
                }
                if let (Some(t), Some(h)) = (timeout_seconds, heartbeat_seconds) {
                    if h >= t {
                        self.err::<()>(&f.at("HeartbeatSeconds"), "HeartbeatSeconds must be smaller than TimeoutSeconds");
                    }
                }
                StateKind::Task(Box::new(TaskState {
                    io: self.io(&f, true),
                    retry: self.retriers(&f),
                    catch: self.catchers(&f, name),
                    transition: self.transition(&f, name)?,
                    resource: resource?,
                    timeout_seconds,
                    timeout_seconds_path,
                    heartbeat_seconds,
                    heartbeat_seconds_path,
                    timeout_seconds_expr,
                    heartbeat_seconds_expr,
                }))
            }
            "Pass" => {
                f.allow(self, &[COMMON_FIELDS, PASS_FIELDS, ASSIGN_FIELD], "a Pass state");
                let io = self.io(&f, true);
                StateKind::Pass(PassState { io, result: f.get("Result").cloned(), transition: self.transition(&f, name)? })
            }
            "Choice" => {
                f.allow(self, &[COMMON_FIELDS, CHOICE_FIELDS, ASSIGN_FIELD], "a Choice state");
                let io = self.io(&f, false);
                let choices = match f.get("Choices") {
                    Some(v) => parse_rules(v, &f.at("Choices"), jsonata, &mut self.errors),
                    None => self.err(&loc, "missing required field Choices").unwrap_or_default(),
                };
                // Every rule's Next counts as a transition, also for a rule
                // whose condition has errors of its own.
                for (i, rule) in f.get("Choices").and_then(Value::as_array).into_iter().flatten().enumerate() {
                    if let Some(Value::String(next)) = rule.get("Next") {
                        self.scope.targets.push((name.into(), format!("{loc}.Choices[{i}].Next"), next.clone()));
                    }
                }
                let default = f.string(self, "Default", false);
                if let Some(d) = &default {
                    self.scope.targets.push((name.into(), f.at("Default"), d.clone()));
                }
                StateKind::Choice(ChoiceState { io, choices, default })
            }
            "Succeed" => {
                f.allow(self, &[COMMON_FIELDS, SUCCEED_FIELDS], "a Succeed state");
                StateKind::Succeed(SucceedState { io: self.io(&f, false) })
            }
            "Fail" => {
                f.allow(self, &[COMMON_FIELDS, FAIL_FIELDS], "a Fail state");
                for (fixed, path) in [("Error", "ErrorPath"), ("Cause", "CausePath")] {
                    if f.get(fixed).is_some() && f.get(path).is_some() {
                        self.err::<()>(&f.loc, format!("{fixed} and {path} cannot both be set"));
                    }
                }
                // In a JSONata state, Error and Cause may be expressions.
                let error_expr = self.expression_field(&f, "Error");
                let cause_expr = self.expression_field(&f, "Cause");
                StateKind::Fail(FailState {
                    error: if error_expr.is_some() { None } else { f.string(self, "Error", false) },
                    cause: if cause_expr.is_some() { None } else { f.string(self, "Cause", false) },
                    error_path: error_expr.or_else(|| self.path_or_intrinsic(&f, "ErrorPath")),
                    cause_path: cause_expr.or_else(|| self.path_or_intrinsic(&f, "CausePath")),
                })
            }
            "Wait" => {
                f.allow(self, &[COMMON_FIELDS, WAIT_FIELDS, ASSIGN_FIELD], "a Wait state");
                let io = self.io(&f, false);
                let wait = self.wait_for(&f);
                StateKind::Wait(WaitState { io, wait: wait?, transition: self.transition(&f, name)? })
            }
            "Parallel" => {
                f.allow(self, &[COMMON_FIELDS, PARALLEL_FIELDS, ASSIGN_FIELD], "a Parallel state");
                let branches = match f.get("Branches") {
                    Some(Value::Array(items)) if !items.is_empty() => items
                        .iter()
                        .enumerate()
                        .filter_map(|(i, v)| {
                            let b = self.object(v, &format!("{}[{i}]", f.at("Branches")), "a branch")?;
                            b.allow(self, &[BRANCH_FIELDS], "a branch");
                            self.graph(&b, GraphKind::Branch)
                        })
                        .collect(),
                    None => self.err(&loc, "missing required field Branches").unwrap_or_default(),
                    Some(_) => self.err(&f.at("Branches"), "Branches must be a non-empty array of branches").unwrap_or_default(),
                };
                StateKind::Parallel(ParallelState {
                    io: self.io(&f, true),
                    branches,
                    retry: self.retriers(&f),
                    catch: self.catchers(&f, name),
                    transition: self.transition(&f, name)?,
                })
            }
            "Map" => StateKind::Map(Box::new(self.map_state(&f, name)?)),
            other => {
                return self.err(
                    &f.at("Type"),
                    format!("unknown state type {other:?} (expected Task, Pass, Choice, Wait, Succeed, Fail, Parallel or Map)"),
                );
            }
        };
        Some(State { name: name.to_string(), comment, jsonata, kind })
    }

    fn transition(&mut self, f: &Fields, state: &str) -> Option<Transition> {
        let next = f.string(self, "Next", false);
        let end = match f.get("End") {
            None => false,
            Some(Value::Bool(true)) => true,
            Some(_) => return self.err(&f.at("End"), "End must be true when present"),
        };
        match (next, end) {
            (Some(_), true) => self.err(&f.loc, "Next and End cannot both be set"),
            // A Next of the wrong type has its own error already.
            (None, false) if f.get("Next").is_some() => None,
            (None, false) => self.err(&f.loc, "missing Next or \"End\": true"),
            (Some(n), false) => {
                self.scope.targets.push((state.into(), f.at("Next"), n.clone()));
                Some(Transition::Next(n))
            }
            (None, true) => Some(Transition::End),
        }
    }

    fn map_state(&mut self, f: &Fields, name: &str) -> Option<MapState> {
        f.allow(self, &[COMMON_FIELDS, MAP_FIELDS, ASSIGN_FIELD], "a Map state");
        let mut io = self.io(f, true);
        // A Map's Parameters is the legacy name of ItemSelector.
        let item_selector = match (io.parameters.take(), f.get("ItemSelector")) {
            (Some(_), Some(_)) => {
                self.err(&f.loc, "Parameters and ItemSelector cannot both be set (Parameters is the legacy name of ItemSelector)")
            }
            (Some(legacy), None) => Some(legacy),
            (None, Some(v)) if self.jsonata => Some(Template::parse_jsonata(v, &f.at("ItemSelector"), &mut self.errors)),
            (None, Some(v)) if v.is_object() => Some(Template::parse(v, &f.at("ItemSelector"), &mut self.errors)),
            (None, Some(_)) => self.err(&f.at("ItemSelector"), "ItemSelector must be a JSON object"),
            (None, None) => None,
        };
        let items_path = self.reading_path(f, "ItemsPath");
        let items = match f.get("Items") {
            Some(v @ (Value::Array(_) | Value::String(_))) => Some(Template::parse_jsonata(v, &f.at("Items"), &mut self.errors)),
            Some(_) => self.err(&f.at("Items"), "Items must be an array or a {% %} expression"),
            None => None,
        };
        let (processor, execution_type, processor_value) = match (f.get("ItemProcessor"), f.get("Iterator")) {
            (Some(_), Some(_)) => {
                return self.err(&f.loc, "ItemProcessor and Iterator cannot both be set (Iterator is the legacy name of ItemProcessor)")
            }
            (None, None) => return self.err(&f.loc, "missing required field ItemProcessor"),
            (Some(v), None) => {
                let p = self.object(v, &f.at("ItemProcessor"), "ItemProcessor")?;
                p.allow(self, &[PROCESSOR_FIELDS], "an ItemProcessor");
                let execution_type = self.processor_config(&p);
                (self.graph(&p, GraphKind::ItemProcessor)?, execution_type, p.map)
            }
            (None, Some(v)) => {
                // The legacy name takes a ProcessorConfig too (AWS accepts it).
                let p = self.object(v, &f.at("Iterator"), "Iterator")?;
                p.allow(self, &[PROCESSOR_FIELDS], "an Iterator");
                let execution_type = self.processor_config(&p);
                (self.graph(&p, GraphKind::ItemProcessor)?, execution_type, p.map)
            }
        };
        let distributed = execution_type.is_some();
        if !distributed {
            for key in [
                "ItemReader",
                "ResultWriter",
                "ItemBatcher",
                "ToleratedFailureCount",
                "ToleratedFailureCountPath",
                "ToleratedFailurePercentage",
                "ToleratedFailurePercentagePath",
                "Label",
            ] {
                if f.get(key).is_some() {
                    self.err::<()>(&f.at(key), format!("{key} is only allowed in a Map whose ProcessorConfig.Mode is DISTRIBUTED"));
                }
            }
        }
        let label = f.string(self, "Label", false);
        if let Some(label) = &label {
            let ok_chars = label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
            if label.is_empty() || label.chars().count() > MAX_LABEL_CHARS || !ok_chars {
                self.err::<()>(&f.at("Label"), format!("Label must be 1 to {MAX_LABEL_CHARS} letters, digits, - or _, got {label:?}"));
            }
        }
        let max_concurrency = self.number_setting(f, "MaxConcurrency", 0.0, f64::from(u32::MAX), true);
        let tolerated_failure_count = self.number_setting(f, "ToleratedFailureCount", 0.0, f64::from(u32::MAX), true);
        let tolerated_failure_percentage = self.number_setting(f, "ToleratedFailurePercentage", 0.0, 100.0, false);
        let item_batcher = match f.get("ItemBatcher") {
            None => None,
            Some(v) => {
                let b = self.object(v, &f.at("ItemBatcher"), "ItemBatcher")?;
                b.allow(self, &[ITEM_BATCHER_FIELDS], "an ItemBatcher");
                let max_items = self.number_setting(&b, "MaxItemsPerBatch", 1.0, f64::from(u32::MAX), true);
                let max_bytes = self.number_setting(&b, "MaxInputBytesPerBatch", 1.0, 262_144.0, true);
                let sizes = ["MaxItemsPerBatch", "MaxItemsPerBatchPath", "MaxInputBytesPerBatch", "MaxInputBytesPerBatchPath"];
                if !sizes.iter().any(|k| b.get(k).is_some()) {
                    self.err::<()>(&b.loc, "an ItemBatcher needs MaxItemsPerBatch or MaxInputBytesPerBatch (or their Path forms)");
                }
                let batch_input = match b.get("BatchInput") {
                    Some(v) if self.jsonata => Some(Template::parse_jsonata(v, &b.at("BatchInput"), &mut self.errors)),
                    Some(v) if v.is_object() => Some(Template::parse(v, &b.at("BatchInput"), &mut self.errors)),
                    Some(_) => self.err(&b.at("BatchInput"), "BatchInput must be a JSON object"),
                    None => None,
                };
                Some(ItemBatcher { max_items, max_bytes, batch_input })
            }
        };
        let distributed_run = match execution_type {
            None => None,
            Some(execution_type) => {
                let item_reader = f.get("ItemReader").and_then(|v| self.item_reader(v, &f.at("ItemReader")));
                let result_writer = f.get("ResultWriter").and_then(|v| self.result_writer(v, &f.at("ResultWriter")));
                Some(Arc::new(Distributed {
                    processor_definition: Arc::new(self.processor_definition(processor_value)),
                    execution_type,
                    label,
                    item_selector: item_selector.clone(),
                    item_batcher: item_batcher.clone(),
                    jsonata: self.jsonata,
                    item_reader,
                    result_writer,
                }))
            }
        };
        Some(MapState {
            io,
            items_path,
            items,
            item_selector,
            processor,
            distributed,
            distributed_run,
            max_concurrency,
            tolerated_failure_count,
            tolerated_failure_percentage,
            item_batcher,
            retry: self.retriers(f),
            catch: self.catchers(f, name),
            transition: self.transition(f, name)?,
        })
    }

    /// `ItemProcessor.ProcessorConfig`: for `Mode: DISTRIBUTED`, its
    /// `ExecutionType`; `None` for an inline Map.
    fn processor_config(&mut self, p: &Fields) -> Option<String> {
        let value = p.get("ProcessorConfig")?;
        let c = self.object(value, &p.at("ProcessorConfig"), "ProcessorConfig")?;
        c.allow(self, &[&["Mode", "ExecutionType"]], "a ProcessorConfig");
        let distributed = match c.string(self, "Mode", false).as_deref() {
            None | Some("INLINE") => false,
            Some("DISTRIBUTED") => true,
            Some(other) => {
                self.err::<()>(&c.at("Mode"), format!("Mode must be INLINE or DISTRIBUTED, got {other:?}"));
                false
            }
        };
        let execution_type = c.string(self, "ExecutionType", false);
        match execution_type.as_deref() {
            None if distributed => {
                self.err::<()>(&c.loc, "a DISTRIBUTED item processor needs ExecutionType (STANDARD or EXPRESS)");
            }
            Some(_) if !distributed => {
                self.err::<()>(&c.at("ExecutionType"), "ExecutionType is only allowed when Mode is DISTRIBUTED");
            }
            Some("STANDARD" | "EXPRESS") | None => {}
            Some(other) => {
                self.err::<()>(&c.at("ExecutionType"), format!("ExecutionType must be STANDARD or EXPRESS, got {other:?}"));
            }
        }
        distributed.then(|| execution_type.unwrap_or_else(|| "STANDARD".into()))
    }

    /// A Distributed Map's item processor as the definition of its child
    /// executions: without `ProcessorConfig`, with the top level's `QueryLanguage`.
    fn processor_definition(&self, processor: &Map<String, Value>) -> Value {
        let mut definition = processor.clone();
        definition.remove("ProcessorConfig");
        if self.jsonata_default && !definition.contains_key("QueryLanguage") {
            definition.insert("QueryLanguage".into(), Value::String("JSONata".into()));
        }
        Value::Object(definition)
    }

    /// `Parameters` (JSONPath) or `Arguments` (JSONata) of an ItemReader or ResultWriter.
    fn s3_arguments(&mut self, f: &Fields) -> Option<Template> {
        let (key, other) = if self.jsonata { ("Arguments", "Parameters") } else { ("Parameters", "Arguments") };
        if f.get(other).is_some() {
            let language = if self.jsonata { "JSONata" } else { "JSONPath" };
            self.err::<()>(&f.at(other), format!("{other} is not allowed in a {language} state (use {key})"));
        }
        match f.get(key)? {
            v if self.jsonata => Some(Template::parse_jsonata(v, &f.at(key), &mut self.errors)),
            v if v.is_object() => Some(Template::parse(v, &f.at(key), &mut self.errors)),
            _ => self.err(&f.at(key), format!("{key} must be a JSON object")),
        }
    }

    /// A Distributed Map's `ItemReader`.
    fn item_reader(&mut self, value: &Value, loc: &str) -> Option<ItemReader> {
        let f = self.object(value, loc, "ItemReader")?;
        f.allow(self, &[&["Resource", "Parameters", "Arguments", "ReaderConfig"]], "an ItemReader");
        let resource = f.string(self, "Resource", true)?;
        let listing = match s3_action(&resource) {
            Some("getObject") => false,
            Some("listObjectsV2") => true,
            _ => {
                return self.err(
                    &f.at("Resource"),
                    format!("an ItemReader reads arn:aws:states:::s3:getObject or arn:aws:states:::s3:listObjectsV2, not {resource:?}"),
                )
            }
        };
        let parameters = self.s3_arguments(&f);
        let mut reader_config = Map::new();
        let mut max_items = None;
        match f.get("ReaderConfig") {
            None if !listing => {
                self.err::<()>(&f.loc, "an ItemReader of s3:getObject needs ReaderConfig.InputType (JSON, JSONL or CSV)");
            }
            None => {}
            Some(v) => {
                let c = self.object(v, &f.at("ReaderConfig"), "ReaderConfig")?;
                c.allow(
                    self,
                    &[&["InputType", "CSVHeaderLocation", "CSVHeaders", "CSVDelimiter", "MaxItems", "MaxItemsPath"]],
                    "a ReaderConfig",
                );
                max_items = self.number_setting(&c, "MaxItems", 0.0, 100_000_000.0, true);
                let input_type = c.string(self, "InputType", !listing);
                match (input_type.as_deref(), listing) {
                    (None, _) | (Some("JSON" | "JSONL" | "CSV"), false) => {}
                    (Some("MANIFEST" | "PARQUET"), false) => {
                        self.err::<()>(
                            &c.at("InputType"),
                            "InputType MANIFEST and PARQUET are not supported by stepwasm (JSON, JSONL or CSV)",
                        );
                    }
                    (Some(other), false) => {
                        self.err::<()>(&c.at("InputType"), format!("InputType must be JSON, JSONL or CSV, got {other:?}"));
                    }
                    (Some(_), true) => {
                        self.err::<()>(&c.at("InputType"), "an ItemReader of s3:listObjectsV2 takes no InputType");
                    }
                }
                let csv = input_type.as_deref() == Some("CSV");
                for key in ["CSVHeaderLocation", "CSVHeaders", "CSVDelimiter"] {
                    if !csv && c.get(key).is_some() {
                        self.err::<()>(&c.at(key), format!("{key} is only allowed with InputType CSV"));
                    }
                }
                let location = c.string(self, "CSVHeaderLocation", false);
                match location.as_deref() {
                    None | Some("FIRST_ROW") => {}
                    Some("GIVEN") => match c.get("CSVHeaders") {
                        Some(Value::Array(h)) if !h.is_empty() && h.iter().all(Value::is_string) => {}
                        _ => {
                            self.err::<()>(&c.at("CSVHeaders"), "CSVHeaderLocation GIVEN needs CSVHeaders, a non-empty array of strings");
                        }
                    },
                    Some(other) => {
                        self.err::<()>(&c.at("CSVHeaderLocation"), format!("CSVHeaderLocation must be FIRST_ROW or GIVEN, got {other:?}"));
                    }
                }
                if location.as_deref() != Some("GIVEN") && c.get("CSVHeaders").is_some() {
                    self.err::<()>(&c.at("CSVHeaders"), "CSVHeaders is only allowed with CSVHeaderLocation GIVEN");
                }
                match c.string(self, "CSVDelimiter", false).as_deref() {
                    None | Some("COMMA" | "PIPE" | "SEMICOLON" | "SPACE" | "TAB") => {}
                    Some(other) => {
                        self.err::<()>(
                            &c.at("CSVDelimiter"),
                            format!("CSVDelimiter must be COMMA, PIPE, SEMICOLON, SPACE or TAB, got {other:?}"),
                        );
                    }
                }
                for (key, value) in c.map {
                    if !key.starts_with("MaxItems") {
                        reader_config.insert(key.clone(), value.clone());
                    }
                }
            }
        }
        Some(ItemReader { resource, parameters, reader_config: Value::Object(reader_config), max_items })
    }

    /// A Distributed Map's `ResultWriter`.
    fn result_writer(&mut self, value: &Value, loc: &str) -> Option<ResultWriter> {
        let f = self.object(value, loc, "ResultWriter")?;
        f.allow(self, &[&["Resource", "Parameters", "Arguments"]], "a ResultWriter");
        let resource = f.string(self, "Resource", true)?;
        if s3_action(&resource) != Some("putObject") {
            return self.err(&f.at("Resource"), format!("a ResultWriter writes arn:aws:states:::s3:putObject, not {resource:?}"));
        }
        let parameters = self.s3_arguments(&f);
        if parameters.is_none() {
            let key = if self.jsonata { "Arguments" } else { "Parameters" };
            self.err::<()>(&f.loc, format!("a ResultWriter needs {key} with Bucket (and Prefix)"));
        }
        Some(ResultWriter { resource, parameters })
    }

    /// `key` (a number in `min..=max`) or `keyPath` (a reference path), not both.
    fn number_setting(&mut self, f: &Fields, key: &str, min: f64, max: f64, integer: bool) -> Option<NumberSetting> {
        if let Some(expr) = self.expression_field(f, key) {
            return Some(NumberSetting::Expr(expr));
        }
        let path_key = format!("{key}Path");
        match (f.get(key), f.get(&path_key)) {
            (Some(_), Some(_)) => self.err(&f.loc, format!("{key} and {path_key} cannot both be set")),
            (Some(v), None) => match v.as_f64() {
                Some(n) if n >= min && n <= max && (!integer || n.fract() == 0.0) => Some(NumberSetting::Fixed(n)),
                _ => {
                    let kind = if integer { "an integer" } else { "a number" };
                    self.err(&f.at(key), format!("{key} must be {kind} from {min} to {max}, got {v}"))
                }
            },
            (None, Some(_)) => self.reading_path(f, &path_key).map(NumberSetting::Path),
            (None, None) => None,
        }
    }

    fn io(&mut self, f: &Fields, with_result: bool) -> IoSettings {
        let mut io = IoSettings::default();
        if self.jsonata {
            io.jsonata = true;
            io.parameters = f.get("Arguments").map(|v| Template::parse_jsonata(v, &f.at("Arguments"), &mut self.errors));
            io.output = f.get("Output").map(|v| Template::parse_jsonata(v, &f.at("Output"), &mut self.errors));
            io.assign = f.get("Assign").map(|v| Template::parse_assign_jsonata(v, &f.at("Assign"), &mut self.errors));
            // `$states.result` exists only after a Task, Parallel or Map state's
            // work, `$states.errorOutput` only in catchers: AWS rejects other uses.
            let has_result = matches!(f.get("Type").and_then(Value::as_str), Some("Task" | "Parallel" | "Map"));
            let fields = [("Arguments", &io.parameters, false), ("Output", &io.output, has_result), ("Assign", &io.assign, has_result)];
            for (key, template, result_ok) in fields {
                let Some(t) = template else { continue };
                if !result_ok {
                    for loc in t.locations_reading_states("result", &f.at(key)) {
                        let msg = if key == "Arguments" {
                            "$states.result is not available in Arguments".to_string()
                        } else {
                            format!("$states.result is not available in the {key} of a {} state (only Task, Parallel and Map states have a result)", f.get("Type").and_then(Value::as_str).unwrap_or("this"))
                        };
                        self.errors.push(ValidationError::new(&loc, msg));
                    }
                }
                for loc in t.locations_reading_states("errorOutput", &f.at(key)) {
                    self.errors.push(ValidationError::new(&loc, "$states.errorOutput is only available in a catcher's Output and Assign"));
                }
            }
            return io;
        }
        let path_setting = |p: &mut Parser, key: &str| match f.get(key) {
            None => PathSetting::Default,
            Some(Value::Null) => PathSetting::Null,
            Some(Value::String(s)) => match Path::parse(s) {
                Ok(path) => PathSetting::Path(path),
                Err(e) => p.err(&f.at(key), e.to_string()).unwrap_or(PathSetting::Default),
            },
            Some(_) => p.err(&f.at(key), format!("{key} must be a path string or null")).unwrap_or(PathSetting::Default),
        };
        io.input_path = path_setting(self, "InputPath");
        io.output_path = path_setting(self, "OutputPath");
        io.assign = f.get("Assign").map(|v| Template::parse_assign(v, &f.at("Assign"), &mut self.errors));
        if with_result {
            io.result_path = self.result_path(f);
            io.parameters = f.get("Parameters").map(|v| Template::parse(v, &f.at("Parameters"), &mut self.errors));
            io.result_selector = f.get("ResultSelector").map(|v| Template::parse(v, &f.at("ResultSelector"), &mut self.errors));
            for key in ["Parameters", "ResultSelector"] {
                if f.get(key).is_some_and(|v| !v.is_object()) {
                    self.err::<()>(&f.at(key), format!("{key} must be a JSON object"));
                }
            }
        }
        io
    }

    /// In a JSONata state, a field written as a `{% %}` expression (any
    /// other value is left to the field's own parsing).
    fn expression_field(&mut self, f: &Fields, key: &str) -> Option<Template> {
        if !self.jsonata {
            return None;
        }
        match f.get(key)? {
            v @ Value::String(s) if crate::template::jsonata_source(s).is_some() => {
                Some(Template::parse_jsonata(v, &f.at(key), &mut self.errors))
            }
            _ => None,
        }
    }

    /// A reference path that is only read, never written (ItemsPath,
    /// SecondsPath, TimestampPath, ErrorPath/CausePath, the Task's and Map's
    /// `…Path` numbers): as on AWS it may also read the context object (`$$`)
    /// or name a variable (`$name`).
    fn reading_path(&mut self, f: &Fields, key: &str) -> Option<Path> {
        match f.get(key)? {
            Value::String(s) => match Path::parse_reference_allowing_context(s) {
                Ok(p) => Some(p),
                Err(e) => self.err(&f.at(key), e.to_string()),
            },
            _ => self.err(&f.at(key), format!("{key} must be a reference path string")),
        }
    }

    /// `ErrorPath`/`CausePath`: a reference path, or an intrinsic function call.
    fn path_or_intrinsic(&mut self, f: &Fields, key: &str) -> Option<Template> {
        match f.get(key)? {
            Value::String(s) if s.starts_with("States.") => {
                Some(Template::parse_dynamic(&Value::String(s.clone()), &f.at(key), &mut self.errors))
            }
            _ => self.reading_path(f, key).map(Template::Path),
        }
    }

    /// Exactly one of Seconds, SecondsPath, Timestamp, TimestampPath.
    fn wait_for(&mut self, f: &Fields) -> Option<WaitFor> {
        let given: Vec<&str> =
            ["Seconds", "SecondsPath", "Timestamp", "TimestampPath"].into_iter().filter(|k| f.get(k).is_some()).collect();
        if given.len() != 1 {
            return self.err(
                &f.loc,
                format!("a Wait state needs exactly one of Seconds, SecondsPath, Timestamp, TimestampPath (found {})", given.len()),
            );
        }
        if let Some(expr) = self.expression_field(f, given[0]) {
            return Some(if given[0] == "Seconds" { WaitFor::SecondsExpr(expr) } else { WaitFor::TimestampExpr(expr) });
        }
        match given[0] {
            "Seconds" => f.uint(self, "Seconds", 0).map(WaitFor::Seconds),
            "Timestamp" => {
                let text = f.string(self, "Timestamp", true)?;
                match super::choice::parse_timestamp(&text) {
                    Some(t) => Some(WaitFor::Timestamp(t.timestamp_millis())),
                    None => self.err(&f.at("Timestamp"), format!("{text:?} is not an RFC 3339 timestamp")),
                }
            }
            "SecondsPath" => self.reading_path(f, "SecondsPath").map(WaitFor::SecondsPath),
            _ => self.reading_path(f, "TimestampPath").map(WaitFor::TimestampPath),
        }
    }

    fn result_path(&mut self, f: &Fields) -> ResultPathSetting {
        match f.get("ResultPath") {
            None => ResultPathSetting::Default,
            Some(Value::Null) => ResultPathSetting::Discard,
            Some(Value::String(s)) => match Path::parse_reference(s) {
                Ok(path) => ResultPathSetting::Path(path),
                Err(e) => self.err(&f.at("ResultPath"), e.to_string()).unwrap_or(ResultPathSetting::Default),
            },
            Some(_) => self.err(&f.at("ResultPath"), "ResultPath must be a reference path or null").unwrap_or(ResultPathSetting::Default),
        }
    }

    /// The elements of an array field, each as a located object.
    fn entries<'a>(&mut self, f: &Fields<'a>, key: &str) -> Vec<Fields<'a>> {
        match f.get(key) {
            None => Vec::new(),
            Some(Value::Array(items)) => {
                items.iter().enumerate().filter_map(|(i, v)| self.object(v, &format!("{}[{i}]", f.at(key)), "an entry")).collect()
            }
            Some(_) => self.err(&f.at(key), format!("{key} must be an array")).unwrap_or_default(),
        }
    }

    /// `States.ALL` may only appear in the last retrier or catcher.
    fn check_all_is_last(&mut self, lists: &[(String, Vec<String>)]) {
        for (i, (loc, names)) in lists.iter().enumerate() {
            if names.iter().any(|n| n == ALL) && i + 1 != lists.len() {
                self.err::<()>(loc, "a rule with States.ALL must be the last one");
            }
        }
    }

    fn retriers(&mut self, f: &Fields) -> Vec<Retrier> {
        let mut out = Vec::new();
        let mut lists = Vec::new();
        for r in self.entries(f, "Retry") {
            r.allow(self, &[RETRIER_FIELDS], "a retrier");
            let error_equals = r.error_equals(self);
            lists.push((r.at("ErrorEquals"), error_equals.clone()));
            let backoff_rate = match r.get("BackoffRate") {
                None => 2.0,
                Some(v) => match v.as_f64() {
                    Some(b) if b >= 1.0 => b,
                    _ => self.err(&r.at("BackoffRate"), "BackoffRate must be a number of at least 1.0").unwrap_or(2.0),
                },
            };
            let jitter = match r.string(self, "JitterStrategy", false).as_deref() {
                None | Some("NONE") => Jitter::None,
                Some("FULL") => Jitter::Full,
                Some(other) => {
                    self.err::<()>(&r.at("JitterStrategy"), format!("JitterStrategy must be FULL or NONE, got {other:?}"));
                    Jitter::None
                }
            };
            let max_attempts = r.uint(self, "MaxAttempts", 0).unwrap_or(3);
            out.push(Retrier {
                error_equals,
                interval_seconds: r.uint(self, "IntervalSeconds", 1).unwrap_or(1),
                max_attempts: u32::try_from(max_attempts).unwrap_or(u32::MAX),
                backoff_rate,
                max_delay_seconds: r.uint_in(self, "MaxDelaySeconds", 1, MAX_DELAY_SECONDS),
                jitter,
            });
        }
        self.check_all_is_last(&lists);
        out
    }

    fn catchers(&mut self, f: &Fields, state: &str) -> Vec<Catcher> {
        let mut out = Vec::new();
        let mut lists = Vec::new();
        for c in self.entries(f, "Catch") {
            c.allow(self, &[CATCHER_FIELDS], "a catcher");
            let error_equals = c.error_equals(self);
            lists.push((c.at("ErrorEquals"), error_equals.clone()));
            let result_path = self.result_path(&c);
            if let Some(next) = c.string(self, "Next", true) {
                self.scope.targets.push((state.into(), c.at("Next"), next.clone()));
                let (assign, output) = if self.jsonata {
                    if c.get("ResultPath").is_some() {
                        self.err::<()>(&c.at("ResultPath"), "field \"ResultPath\" is JSONPath only; a JSONata catcher uses Output");
                    }
                    (
                        c.get("Assign").map(|v| Template::parse_assign_jsonata(v, &c.at("Assign"), &mut self.errors)),
                        c.get("Output").map(|v| Template::parse_jsonata(v, &c.at("Output"), &mut self.errors)),
                    )
                } else {
                    if c.get("Output").is_some() {
                        self.err::<()>(&c.at("Output"), "field \"Output\" is only allowed in JSONata states (QueryLanguage \"JSONata\")");
                    }
                    (c.get("Assign").map(|v| Template::parse_assign(v, &c.at("Assign"), &mut self.errors)), None)
                };
                out.push(Catcher { error_equals, next, result_path, assign, output });
            }
        }
        self.check_all_is_last(&lists);
        out
    }

    fn check_graph(&mut self, graph: &Graph, loc: &str, kind: GraphKind) {
        let at = |field: &str| if loc.is_empty() { field.to_string() } else { format!("{loc}.{field}") };
        // Outside the top level a dangling name may be a state of another graph.
        let elsewhere = if kind == GraphKind::Machine { String::new() } else { format!(" in this {}", kind.noun()) };
        if !graph.start_at.is_empty() && !self.scope.declared.is_empty() && !self.scope.declared.contains(&graph.start_at) {
            self.err::<()>(&at("StartAt"), format!("no state named {:?}{elsewhere}", graph.start_at));
        }
        let all_parsed = graph.states.len() == self.scope.declared.len();
        let terminal = |s: &State| match &s.kind {
            StateKind::Task(t) => t.transition == Transition::End,
            StateKind::Pass(p) => p.transition == Transition::End,
            StateKind::Wait(w) => w.transition == Transition::End,
            StateKind::Parallel(p) => p.transition == Transition::End,
            StateKind::Map(m) => m.transition == Transition::End,
            StateKind::Succeed(_) | StateKind::Fail(_) => true,
            StateKind::Choice(_) => false,
        };
        if all_parsed && !graph.states.is_empty() && !graph.states.values().any(terminal) {
            self.err::<()>(loc, format!("the {} has no terminal state (End, Succeed or Fail)", kind.noun()));
        }
        let targets = std::mem::take(&mut self.scope.targets);
        for (_, target_loc, target) in &targets {
            if !self.scope.declared.contains(target) {
                self.err::<()>(target_loc, format!("no state named {target:?}{elsewhere}"));
            }
        }
        // Reachability from StartAt over every kind of transition. It means
        // nothing without a StartAt that names a state, and a state that could
        // not be read has unknown transitions: reaching one proves nothing.
        if !self.scope.declared.contains(&graph.start_at) {
            return;
        }
        let mut reached: HashSet<&str> = HashSet::new();
        let mut queue: VecDeque<&str> = VecDeque::from([graph.start_at.as_str()]);
        while let Some(state) = queue.pop_front() {
            if !reached.insert(state) {
                continue;
            }
            if !graph.states.contains_key(state) {
                if self.scope.declared.contains(state) {
                    return; // declared but unreadable: its transitions are unknown
                }
                continue; // a dangling name, reported above
            }
            queue.extend(targets.iter().filter(|(from, _, _)| from == state).map(|(_, _, to)| to.as_str()));
        }
        let prefix = if loc.is_empty() { String::new() } else { format!("{loc}.") };
        for name in graph.states.keys() {
            if !reached.contains(name.as_str()) {
                self.err::<()>(&format!("{prefix}States.{name}"), "state is not reachable from StartAt");
            }
        }
    }
}

/// A Task's `Resource`: an ARN (`arn:partition:service:region:account:resource`),
/// the short form `wasm:<module>`, or another name the configuration maps
/// (checked when a run loads its modules).
fn check_resource(resource: &str) -> Result<(), String> {
    if resource.is_empty() {
        return Err("Resource must be an ARN, wasm:<module> or a configured name, not empty".into());
    }
    if let Some(module) = resource.strip_prefix("wasm:") {
        let ok = !module.is_empty() && module.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
        return if ok {
            Ok(())
        } else {
            Err(format!("{resource:?} is not a valid wasm:<module> resource (a module name of letters, digits, -, _ or .)"))
        };
    }
    let parts: Vec<&str> = resource.splitn(6, ':').collect();
    if parts[0] == "arn" && !(parts.len() == 6 && !parts[1].is_empty() && !parts[2].is_empty() && !parts[5].is_empty()) {
        return Err(format!("{resource:?} is not a valid ARN (arn:partition:service:region:account:resource)"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn problems(def: &str) -> Vec<String> {
        match parse_definition(def) {
            Ok(_) => Vec::new(),
            Err(e) => e.0.iter().map(|p| p.to_string()).collect(),
        }
    }

    #[test]
    fn minimal_machine_parses() {
        let m = parse_definition(r#"{"StartAt": "A", "States": {"A": {"Type": "Pass", "End": true}}}"#).unwrap();
        assert_eq!(m.start_at(), "A");
        assert_eq!(m.root.states["A"].type_name(), "Pass");
    }

    #[test]
    fn every_problem_is_reported_with_its_location() {
        let got = problems(
            r#"{
              "StartAt": "A",
              "States": {
                "A": {"Type": "Task", "Resource": "r", "Next": "Bee", "Retry": [{"ErrorEquals": ["States.ALL"]}, {"ErrorEquals": ["X"]}]},
                "B": {"Type": "Pass", "End": true, "Next": "A"},
                "C": {"Type": "Bogus"},
                "D": {"Type": "Succeed", "Next": "A"}
              }
            }"#,
        );
        assert!(got.contains(&r#"States.A.Next: no state named "Bee""#.to_string()), "{got:#?}");
        assert!(got.contains(&"States.A.Retry[0].ErrorEquals: a rule with States.ALL must be the last one".to_string()), "{got:#?}");
        assert!(got.contains(&"States.B: Next and End cannot both be set".to_string()), "{got:#?}");
        assert!(got.iter().any(|e| e.starts_with("States.C.Type: unknown state type \"Bogus\"")), "{got:#?}");
        assert!(got.contains(&"States.D.Next: field \"Next\" is not allowed in a Succeed state".to_string()), "{got:#?}");
    }

    #[test]
    fn unreachable_and_start_problems() {
        // A StartAt that names nothing is the one problem: no reachability noise.
        let got = problems(r#"{"StartAt": "Nope", "States": {"A": {"Type": "Succeed"}}}"#);
        assert_eq!(got, [r#"StartAt: no state named "Nope""#]);
        let got = problems(r#"{"States": {"A": {"Type": "Succeed"}}}"#);
        assert_eq!(got, ["(definition): missing required field StartAt"]);
        let got = problems(r#"{"StartAt": "A", "States": {"A": {"Type": "Succeed"}, "B": {"Type": "Succeed"}}}"#);
        assert_eq!(got, ["States.B: state is not reachable from StartAt"]);
        // Unreachable states are reported even when another state has errors,
        // unless an unreadable state (unknown transitions) is reachable.
        let got = problems(
            r#"{"StartAt": "A", "States": {"A": {"Type": "Pass", "Result": 1, "Bogus": 1, "End": true}, "B": {"Type": "Succeed"}}}"#,
        );
        assert!(got.contains(&"States.B: state is not reachable from StartAt".to_string()), "{got:#?}");
        let got = problems(r#"{"StartAt": "A", "States": {"A": {"Type": "Nope"}, "B": {"Type": "Succeed"}}}"#);
        assert!(!got.iter().any(|e| e.contains("not reachable")), "{got:#?}");
        // A rule with a bad operand still leads to its Next.
        let got = problems(
            r#"{"StartAt": "A", "States": {"A": {"Type": "Choice", "Choices": [{"Variable": "$.x", "NumericEquals": "1", "Next": "B"}], "Default": "C"}, "B": {"Type": "Succeed"}, "C": {"Type": "Succeed"}}}"#,
        );
        assert_eq!(got, ["States.A.Choices[0].NumericEquals: NumericEquals takes a number value"]);
    }

    #[test]
    fn limits_resources_and_reserved_error_names() {
        let task = |extra: &str| {
            problems(&format!(r#"{{"StartAt": "T", "States": {{"T": {{"Type": "Task", "Resource": "wasm:m", {extra} "End": true}}}}}}"#))
        };
        assert_eq!(
            task(r#""Retry": [{"ErrorEquals": ["X"], "MaxAttempts": 100000000}],"#),
            ["States.T.Retry[0].MaxAttempts: MaxAttempts must be an integer from 0 to 99999999, got 100000000"]
        );
        assert_eq!(task(r#""Retry": [{"ErrorEquals": ["X"], "MaxDelaySeconds": 31622401}],"#).len(), 1);
        assert_eq!(task(r#""TimeoutSeconds": 100000000,"#).len(), 1);
        assert_eq!(
            task(r#""Catch": [{"ErrorEquals": ["States.Bogus"], "Next": "T"}],"#),
            [r#"States.T.Catch[0].ErrorEquals: "States.Bogus" is not a predefined error, and names starting with States. are reserved"#]
        );
        assert!(task(r#""Retry": [{"ErrorEquals": ["States.Timeout", "States.TaskFailed", "Custom.Error"]}],"#).is_empty());
        let resource =
            |r: &str| problems(&format!(r#"{{"StartAt": "T", "States": {{"T": {{"Type": "Task", "Resource": {r:?}, "End": true}}}}}}"#));
        assert_eq!(resource("").len(), 1);
        assert_eq!(resource("wasm:").len(), 1);
        assert_eq!(resource("arn:aws:lambda").len(), 1);
        assert!(resource("arn:aws:states:::lambda:invoke").is_empty());
        assert!(resource("wasm:payment").is_empty());
        assert!(resource("configured-name").is_empty());
    }

    #[test]
    fn json_errors_have_line_and_column() {
        let got = problems("{\n  \"StartAt\": \"A\",\n  \"States\": {\n}");
        assert_eq!(got.len(), 1);
        assert!(got[0].starts_with("line 4 column 1: not valid JSON"), "{got:?}");
    }
}
