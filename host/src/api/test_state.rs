//! TestState: one state's definition run on its own with an input, as AWS's
//! console does to try a state out. The state becomes the start of a machine
//! whose other states are stand-ins (`Succeed`) named after the states it
//! can lead to, so its transition is seen, not followed. Waits take no time
//! (a virtual clock); Task resources are the host's, or the request's `mock`
//! (a `result` or an `errorOutput`, for every invocation). Retries are not
//! run: an error a retrier would take is answered `RETRIABLE`, as AWS does.
//! `variables` are assigned by a Pass state run first (so `$$.Execution.Input`
//! shows them beside the input). `inspectionLevel` DEBUG and TRACE add
//! `inspectionData`: the input after each processing step the engine
//! recorded or can recompute, the task's result, the variables, and which
//! retrier or catcher took an error.

use super::protocol::{ApiError, Params};
use super::Api;
use crate::asl::{errors, parse_definition, IoSettings, State, StateKind};
use crate::driver::{execution_info, run_execution, VirtualClock};
use crate::engine::dataflow;
use crate::engine::{EventKind, HistoryEvent, Outcome, StateType};
use crate::tasks::mocks::{MockAnswer, TestCase};
use crate::tasks::HostTasks;
use serde_json::{json, Map, Value};
use std::sync::Arc;

/// How long a tested state may run (its tasks' own limits still apply).
const TEST_LIMIT: std::time::Duration = std::time::Duration::from_secs(300);

/// What TestState answers with (`inspectionLevel`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Inspection {
    /// The status, output or error, and next state.
    Info,
    /// And `inspectionData` (DEBUG; TRACE adds an HTTP Task's request and
    /// response, which stepwasm does not record: the same here).
    Debug,
}

pub async fn test_state(api: &Api, params: &Params) -> Result<Value, ApiError> {
    let text = params.required_str("definition")?;
    let input_text = params.optional_str("input")?.unwrap_or("{}");
    let input: Value =
        serde_json::from_str(input_text).map_err(|e| ApiError::new("InvalidExecutionInput", format!("Invalid input: not JSON: {e}")))?;
    let inspection = match params.optional_str("inspectionLevel")? {
        None | Some("INFO") => Inspection::Info,
        Some("DEBUG" | "TRACE") => Inspection::Debug,
        Some(other) => return Err(ApiError::validation(format!("inspectionLevel is INFO, DEBUG or TRACE, not {other:?}"))),
    };
    let variables = request_variables(params)?;
    let state: Map<String, Value> = match serde_json::from_str(text) {
        Ok(Value::Object(state)) => state,
        Ok(_) => return Err(invalid("the definition must be one state: a JSON object with a Type")),
        Err(e) => return Err(invalid(&format!("the definition is not JSON: {e}"))),
    };
    let mock = request_mock(params, &state)?;
    let wrapped = Wrapped::around(state, variables.as_ref());
    let machine = parse_definition(&wrapped.machine.to_string()).map_err(|e| invalid(&e.to_string()))?;
    api.machines.check_resources(&machine).map_err(|e| invalid(&format!("{e:#}")))?;
    let runtime = api.machines.load_uncached(&machine).map_err(|e| invalid(&format!("{e:#}")))?;
    let info = execution_info("TestState", &uuid::Uuid::new_v4().to_string());
    let clock = VirtualClock::starting_now();
    let mocked = mock.map(|answer| TestCase::one_state(&wrapped.name, answer));
    let tasks = HostTasks::wasm_only(&runtime)
        .with_mock(mocked.as_ref())
        .with_http_tasks(api.machines.http_tasks())
        .with_s3_buckets(api.machines.s3_buckets());
    let run_input = match &variables {
        Some(variables) => json!({"variables": variables, "input": input}),
        None => input.clone(),
    };
    let machine = Arc::new(machine);
    let run = run_execution(Arc::clone(&machine), info, run_input, &tasks, &clock);
    let record = match tokio::time::timeout(TEST_LIMIT, run).await {
        Ok(record) => record.map_err(ApiError::internal)?,
        Err(_) => return Ok(json!({"status": "FAILED", "error": errors::TIMEOUT, "cause": "the state ran for over 300 s"})),
    };
    let mut response = wrapped.answer(&record.history, &record.outcome, input_text);
    if inspection == Inspection::Debug {
        let tested = machine.root.state(&wrapped.name);
        response["inspectionData"] = wrapped.inspection(tested, &record.history, &input, input_text, variables.as_ref(), &response);
    } else if let Some(data) = response.as_object_mut() {
        data.remove("inspectionData");
    }
    Ok(response)
}

/// The request's `variables`: a JSON object of workflow variables.
fn request_variables(params: &Params) -> Result<Option<Map<String, Value>>, ApiError> {
    let Some(text) = params.optional_str("variables")? else { return Ok(None) };
    let variables = match serde_json::from_str(text) {
        Ok(Value::Object(variables)) => variables,
        Ok(_) => return Err(ApiError::validation("variables is a JSON object of workflow variables")),
        Err(e) => return Err(ApiError::validation(format!("variables is not JSON: {e}"))),
    };
    let named = |name: &str| {
        let mut chars = name.chars();
        chars.next().is_some_and(|c| c.is_alphabetic() || c == '_') && chars.all(|c| c.is_alphanumeric() || c == '_')
    };
    if let Some(bad) = variables.keys().find(|name| !named(name)) {
        return Err(ApiError::validation(format!("variables: {bad:?} is no variable name (a letter or _, then letters, digits or _)")));
    }
    Ok(Some(variables))
}

/// The request's `mock`: a Task state's `result` (JSON text) or
/// `errorOutput`. `fieldValidationMode` is taken (STRICT, PRESENT or NONE)
/// but results are not checked against the service's API model.
fn request_mock(params: &Params, state: &Map<String, Value>) -> Result<Option<MockAnswer>, ApiError> {
    let Some(mock) = params.optional_object("mock")? else { return Ok(None) };
    if state.get("Type").and_then(Value::as_str) != Some("Task") {
        return Err(ApiError::validation("mock is for a Task state"));
    }
    match mock.get("fieldValidationMode") {
        None => {}
        Some(Value::String(mode)) if ["STRICT", "PRESENT", "NONE"].contains(&mode.as_str()) => {}
        Some(other) => return Err(ApiError::validation(format!("mock.fieldValidationMode is STRICT, PRESENT or NONE, not {other}"))),
    }
    match (mock.get("result"), mock.get("errorOutput")) {
        (Some(Value::String(result)), None) => serde_json::from_str(result)
            .map(|result| Some(MockAnswer::Return(result)))
            .map_err(|e| ApiError::validation(format!("mock.result is not JSON: {e}"))),
        (None, Some(Value::Object(output))) => {
            let text = |field: &str| match output.get(field) {
                None => Ok(String::new()),
                Some(Value::String(text)) => Ok(text.clone()),
                Some(_) => Err(ApiError::validation(format!("mock.errorOutput.{field} is a string"))),
            };
            let (error, cause) = (text("error")?, text("cause")?);
            crate::engine::check_error_and_cause(&error, &cause).map_err(|e| ApiError::validation(format!("mock.errorOutput: {e}")))?;
            Ok(Some(MockAnswer::Throw { error, cause }))
        }
        (Some(_), Some(_)) => Err(ApiError::validation("mock has both result and errorOutput: give one")),
        _ => Err(ApiError::validation("mock has a result (JSON text) or an errorOutput ({error, cause})")),
    }
}

fn invalid(message: &str) -> ApiError {
    ApiError::new("InvalidDefinition", format!("Invalid State Definition: {message}"))
}

/// The tested state inside its machine.
struct Wrapped {
    machine: Value,
    /// The tested state's name in the machine (free of the stand-ins' names).
    name: String,
    /// The Pass state that assigns the request's variables first, if any.
    assigner: Option<String>,
    /// Its retriers' `ErrorEquals`, taken out of the state.
    retry_on: Vec<Vec<String>>,
    /// Its retriers' `IntervalSeconds` (AWS's default 1).
    retry_intervals: Vec<u64>,
    /// Its catchers' `ErrorEquals`.
    catch_on: Vec<Vec<String>>,
}

/// A list of `ErrorEquals` lists, as written.
fn error_equals(handlers: &[&Value]) -> Vec<Vec<String>> {
    handlers
        .iter()
        .map(|h| {
            h.get("ErrorEquals").and_then(Value::as_array).into_iter().flatten().filter_map(Value::as_str).map(str::to_string).collect()
        })
        .collect()
}

impl Wrapped {
    fn around(mut state: Map<String, Value>, variables: Option<&Map<String, Value>>) -> Wrapped {
        let mut targets: Vec<String> = Vec::new();
        let mut note = |target: Option<&Value>| {
            if let Some(name) = target.and_then(Value::as_str) {
                if !targets.iter().any(|t| t == name) {
                    targets.push(name.to_string());
                }
            }
        };
        note(state.get("Next"));
        note(state.get("Default"));
        for list in ["Choices", "Catch"] {
            for item in state.get(list).and_then(Value::as_array).into_iter().flatten() {
                note(item.get("Next"));
            }
        }
        let retriers: Vec<Value> = match state.remove("Retry") {
            // A retrier of no attempts never retries.
            Some(Value::Array(retriers)) => {
                retriers.into_iter().filter(|r| r.get("MaxAttempts").and_then(Value::as_u64) != Some(0)).collect()
            }
            _ => Vec::new(),
        };
        let retry_on = error_equals(&retriers.iter().collect::<Vec<_>>());
        let retry_intervals = retriers.iter().map(|r| r.get("IntervalSeconds").and_then(Value::as_u64).unwrap_or(1)).collect();
        let catchers: Vec<&Value> = state.get("Catch").and_then(Value::as_array).into_iter().flatten().collect();
        let catch_on = error_equals(&catchers);
        let free = |base: &str, taken: &[String]| {
            let mut name = base.to_string();
            while taken.contains(&name) {
                name.push('_');
            }
            name
        };
        let name = free("TestState", &targets);
        let mut states = Map::new();
        let mut start = name.clone();
        let assigner = variables.map(|variables| {
            let mut taken = targets.clone();
            taken.push(name.clone());
            let assigner = free("TestStateVariables", &taken);
            let assign: Map<String, Value> = variables.keys().map(|v| (format!("{v}.$"), json!(format!("$.variables.{v}")))).collect();
            states.insert(assigner.clone(), json!({"Type": "Pass", "Assign": assign, "OutputPath": "$.input", "Next": name}));
            start = assigner.clone();
            assigner
        });
        states.insert(name.clone(), Value::Object(state));
        for target in targets {
            states.insert(target, json!({"Type": "Succeed"}));
        }
        Wrapped { machine: json!({"StartAt": start, "States": states}), name, assigner, retry_on, retry_intervals, catch_on }
    }

    /// `inspectionData` (DEBUG, TRACE): the input after each step the run
    /// recorded (a Task's parameters) or that can be recomputed from it
    /// (`InputPath`, `ResultSelector`, `ResultPath`, reading no context
    /// object), the task's result, the variables after the state, and which
    /// retrier or catcher took its error.
    fn inspection(
        &self,
        tested: Option<&State>,
        history: &[HistoryEvent],
        input: &Value,
        input_text: &str,
        variables: Option<&Map<String, Value>>,
        response: &Value,
    ) -> Value {
        let mut data = json!({"input": input_text});
        let mut vars = variables.cloned().unwrap_or_default();
        let mut parameters = None;
        let mut result = None;
        for event in history.iter().filter(|e| e.scope.is_root()) {
            match &event.kind {
                EventKind::TaskScheduled { parameters: p, .. } => parameters = Some(Value::clone(p)),
                EventKind::TaskSucceeded { output, .. } => result = Some(Value::clone(output)),
                EventKind::StateExited { name, assigned_variables: Some(assigned), .. } if *name == self.name => {
                    vars.extend(assigned.iter().map(|(k, v)| (k.clone(), v.clone())));
                }
                _ => {}
            }
        }
        let io = tested.and_then(io_of);
        let scopes = [&vars];
        let context = Value::Null;
        let b = crate::asl::path::Bindings::new(&context, &scopes);
        if let Some(io) = io.filter(|io| !io.jsonata) {
            let only_input_path = IoSettings { parameters: None, ..io.clone() };
            if let Ok(after) = dataflow::effective_input(&only_input_path, input, &b) {
                data["afterInputPath"] = json!(after.to_string());
            }
            let after_parameters = parameters.clone().or_else(|| dataflow::effective_input(io, input, &b).ok());
            if let Some(after) = after_parameters {
                data["afterParameters"] = json!(after.to_string());
            }
        } else if let Some(arguments) = &parameters {
            data["afterArguments"] = json!(arguments.to_string());
        }
        if let Some(result) = result {
            data["result"] = json!(result.to_string());
            if let Some(io) = io.filter(|io| !io.jsonata) {
                if let Ok(selected) = dataflow::select_result(io, result, &b) {
                    data["afterResultSelector"] = json!(selected.to_string());
                    if let Ok(placed) = dataflow::place_result(&io.result_path, input, selected) {
                        data["afterResultPath"] = json!(placed.to_string());
                    }
                }
            }
        }
        if !vars.is_empty() {
            data["variables"] = json!(Value::Object(vars).to_string());
        }
        if let Some(error) = response.get("error").and_then(Value::as_str) {
            let index = |handlers: &[Vec<String>]| handlers.iter().position(|equals| errors::matches(equals, error));
            match response["status"].as_str() {
                Some("CAUGHT_ERROR") => {
                    if let Some(i) = index(&self.catch_on) {
                        data["errorDetails"] = json!({"catchIndex": i});
                    }
                }
                Some("RETRIABLE") => {
                    if let Some(i) = index(&self.retry_on) {
                        data["errorDetails"] = json!({"retryIndex": i, "retryBackoffIntervalSeconds": self.retry_intervals[i]});
                    }
                }
                _ => {}
            }
        }
        data
    }

    /// TestState's response, from what the run recorded.
    fn answer(&self, history: &[HistoryEvent], outcome: &Outcome, input_text: &str) -> Value {
        let mut response = json!({"inspectionData": {"input": input_text}});
        let mut failure = None;
        let mut exited = None;
        let mut next_state = None;
        for event in history.iter().filter(|e| e.scope.is_root()) {
            match &event.kind {
                EventKind::TaskSucceeded { output, .. } => response["inspectionData"]["result"] = json!(output.to_string()),
                EventKind::TaskFailed { error, cause, .. }
                | EventKind::TaskTimedOut { error, cause, .. }
                | EventKind::ParallelStateFailed { error, cause }
                | EventKind::MapStateFailed { error, cause } => failure = Some((error.clone(), cause.clone())),
                EventKind::StateExited { name, output, catch_next, state_type, .. } if *name == self.name => {
                    // A Choice's exit names the state its rules chose, not a catcher's.
                    let caught = catch_next.clone().filter(|_| *state_type != StateType::Choice);
                    exited = Some((output.clone(), caught));
                }
                EventKind::StateEntered { name, .. }
                    if *name != self.name && Some(name) != self.assigner.as_ref() && next_state.is_none() =>
                {
                    next_state = Some(name.clone())
                }
                _ => {}
            }
        }
        match (outcome, exited) {
            (Outcome::Succeeded { output }, exited) => {
                let (state_output, catch_next) = exited.unwrap_or_else(|| (Arc::new(output.clone()), None));
                response["output"] = json!(state_output.to_string());
                match catch_next {
                    Some(next) => {
                        // Retriers come before catchers: an error one takes is RETRIABLE.
                        let retriable = failure.as_ref().is_some_and(|(error, _)| self.retry_on.iter().any(|e| errors::matches(e, error)));
                        if retriable {
                            response.as_object_mut().map(|r| r.remove("output"));
                            response["status"] = json!("RETRIABLE");
                        } else {
                            response["status"] = json!("CAUGHT_ERROR");
                            response["nextState"] = json!(next);
                        }
                        if let Some((error, cause)) = failure {
                            response["error"] = json!(error);
                            response["cause"] = json!(cause);
                        }
                    }
                    None => {
                        response["status"] = json!("SUCCEEDED");
                        if let Some(next) = next_state {
                            response["nextState"] = json!(next);
                        }
                    }
                }
            }
            (Outcome::Failed { error, cause } | Outcome::TimedOut { error, cause } | Outcome::Aborted { error, cause }, _) => {
                let retriable = self.retry_on.iter().any(|equals| errors::matches(equals, error));
                response["status"] = json!(if retriable { "RETRIABLE" } else { "FAILED" });
                response["error"] = json!(error);
                response["cause"] = json!(cause);
            }
        }
        response
    }
}

/// A state's input/output fields (none for Fail).
fn io_of(state: &State) -> Option<&IoSettings> {
    match &state.kind {
        StateKind::Task(t) => Some(&t.io),
        StateKind::Pass(p) => Some(&p.io),
        StateKind::Choice(c) => Some(&c.io),
        StateKind::Succeed(s) => Some(&s.io),
        StateKind::Wait(w) => Some(&w.io),
        StateKind::Parallel(p) => Some(&p.io),
        StateKind::Map(m) => Some(&m.io),
        StateKind::Fail(_) => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_state_is_wrapped_with_stand_ins_for_where_it_leads() {
        let state =
            json!({"Type": "Choice", "Choices": [{"Variable": "$.x", "NumericEquals": 1, "Next": "TestState"}], "Default": "Other"});
        let wrapped = Wrapped::around(state.as_object().unwrap().clone(), None);
        assert_eq!(wrapped.name, "TestState_", "a stand-in has the plain name");
        assert_eq!(wrapped.machine["StartAt"], "TestState_");
        assert_eq!(wrapped.machine["States"]["Other"], json!({"Type": "Succeed"}));
        assert!(parse_definition(&wrapped.machine.to_string()).is_ok());
        let task = json!({"Type": "Task", "Resource": "r", "Retry": [{"ErrorEquals": ["Busy", "States.Timeout"]}], "End": true});
        let wrapped = Wrapped::around(task.as_object().unwrap().clone(), None);
        assert_eq!(wrapped.retry_on, vec![vec!["Busy".to_string(), "States.Timeout".to_string()]]);
        assert!(wrapped.machine["States"]["TestState"].get("Retry").is_none(), "retries are not run");
    }
}
