//! TestState: one state's definition run on its own with an input, as AWS's
//! console does to try a state out. The state becomes the start of a machine
//! whose other states are stand-ins (`Succeed`) named after the states it
//! can lead to, so its transition is seen, not followed. Waits take no time
//! (a virtual clock); Task resources are the host's. Retries are not run:
//! an error a retrier would take is answered `RETRIABLE`, as AWS does.

use super::protocol::{ApiError, Params};
use super::Api;
use crate::asl::{errors, parse_definition};
use crate::driver::{execution_info, run_execution, VirtualClock};
use crate::engine::{EventKind, HistoryEvent, Outcome, StateType};
use serde_json::{json, Map, Value};
use std::sync::Arc;

/// How long a tested state may run (its tasks' own limits still apply).
const TEST_LIMIT: std::time::Duration = std::time::Duration::from_secs(300);

pub async fn test_state(api: &Api, params: &Params) -> Result<Value, ApiError> {
    let text = params.required_str("definition")?;
    let input_text = params.optional_str("input")?.unwrap_or("{}");
    let input: Value =
        serde_json::from_str(input_text).map_err(|e| ApiError::new("InvalidExecutionInput", format!("Invalid input: not JSON: {e}")))?;
    let state: Map<String, Value> = match serde_json::from_str(text) {
        Ok(Value::Object(state)) => state,
        Ok(_) => return Err(invalid("the definition must be one state: a JSON object with a Type")),
        Err(e) => return Err(invalid(&format!("the definition is not JSON: {e}"))),
    };
    let wrapped = Wrapped::around(state);
    let machine = parse_definition(&wrapped.machine.to_string()).map_err(|e| invalid(&e.to_string()))?;
    api.machines.check_resources(&machine).map_err(|e| invalid(&format!("{e:#}")))?;
    let runtime = api.machines.load_uncached(&machine).map_err(|e| invalid(&format!("{e:#}")))?;
    let info = execution_info("TestState", &uuid::Uuid::new_v4().to_string());
    let clock = VirtualClock::starting_now();
    let run = run_execution(Arc::new(machine), info, input.clone(), &runtime, &clock);
    let record = match tokio::time::timeout(TEST_LIMIT, run).await {
        Ok(record) => record.map_err(ApiError::internal)?,
        Err(_) => return Ok(json!({"status": "FAILED", "error": errors::TIMEOUT, "cause": "the state ran for over 300 s"})),
    };
    Ok(wrapped.answer(&record.history, &record.outcome, input_text))
}

fn invalid(message: &str) -> ApiError {
    ApiError::new("InvalidDefinition", format!("Invalid State Definition: {message}"))
}

/// The tested state inside its machine.
struct Wrapped {
    machine: Value,
    /// The tested state's name in the machine (free of the stand-ins' names).
    name: String,
    /// Its retriers' `ErrorEquals`, taken out of the state.
    retry_on: Vec<Vec<String>>,
}

impl Wrapped {
    fn around(mut state: Map<String, Value>) -> Wrapped {
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
        let retry_on = match state.remove("Retry") {
            Some(Value::Array(retriers)) => retriers
                .iter()
                // A retrier of no attempts never retries.
                .filter(|r| r.get("MaxAttempts").and_then(Value::as_u64) != Some(0))
                .map(|r| {
                    r.get("ErrorEquals")
                        .and_then(Value::as_array)
                        .into_iter()
                        .flatten()
                        .filter_map(Value::as_str)
                        .map(str::to_string)
                        .collect()
                })
                .collect(),
            _ => Vec::new(),
        };
        let mut name = "TestState".to_string();
        while targets.contains(&name) {
            name.push('_');
        }
        let mut states = Map::new();
        states.insert(name.clone(), Value::Object(state));
        for target in targets {
            states.insert(target, json!({"Type": "Succeed"}));
        }
        Wrapped { machine: json!({"StartAt": name, "States": states}), name, retry_on }
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
                EventKind::StateEntered { name, .. } if *name != self.name && next_state.is_none() => next_state = Some(name.clone()),
                _ => {}
            }
        }
        match (outcome, exited) {
            (Outcome::Succeeded { output }, exited) => {
                let (state_output, catch_next) = exited.unwrap_or_else(|| (Arc::new(output.clone()), None));
                response["output"] = json!(state_output.to_string());
                match catch_next {
                    Some(next) => {
                        response["status"] = json!("CAUGHT_ERROR");
                        response["nextState"] = json!(next);
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_state_is_wrapped_with_stand_ins_for_where_it_leads() {
        let state =
            json!({"Type": "Choice", "Choices": [{"Variable": "$.x", "NumericEquals": 1, "Next": "TestState"}], "Default": "Other"});
        let wrapped = Wrapped::around(state.as_object().unwrap().clone());
        assert_eq!(wrapped.name, "TestState_", "a stand-in has the plain name");
        assert_eq!(wrapped.machine["StartAt"], "TestState_");
        assert_eq!(wrapped.machine["States"]["Other"], json!({"Type": "Succeed"}));
        assert!(parse_definition(&wrapped.machine.to_string()).is_ok());
        let task = json!({"Type": "Task", "Resource": "r", "Retry": [{"ErrorEquals": ["Busy", "States.Timeout"]}], "End": true});
        let wrapped = Wrapped::around(task.as_object().unwrap().clone());
        assert_eq!(wrapped.retry_on, vec![vec!["Busy".to_string(), "States.Timeout".to_string()]]);
        assert!(wrapped.machine["States"]["TestState"].get("Retry").is_none(), "retries are not run");
    }
}
