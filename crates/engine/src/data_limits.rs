//! AWS's data limits on what a frame records: a payload (a state's output,
//! a task's parameters, a Parallel state's branch input, a Map item) over
//! [`MAX_PAYLOAD_BYTES`] or nested deeper than [`MAX_VALUE_DEPTH`], and
//! workflow variables over [`MAX_VARIABLE_BYTES`], [`MAX_ASSIGN_BYTES`] or
//! [`MAX_EXECUTION_VARIABLE_BYTES`]. Over any, the state fails with
//! `States.DataLimitExceeded` instead of recording the event.

use super::frame::Variables;
use super::history::EventKind;
use super::limits::{MAX_ASSIGN_BYTES, MAX_EXECUTION_VARIABLE_BYTES, MAX_PAYLOAD_BYTES, MAX_VARIABLE_BYTES};
use super::Failure;
use serde_json::Value;
use std::collections::HashMap;
use stepwasm_asl::errors;
use stepwasm_asl::size::{self, TooBig, MAX_VALUE_DEPTH};

/// Why state `state` may not record `event`, if it may not.
/// `output_checked`: the event's output was checked already (it is the
/// state's input, unchanged). `variable_sizes` are the JSON sizes of the variables of the frame that
/// records it; `execution_variable_bytes` those of every variable the
/// execution holds now.
pub(crate) fn over_limits(
    event: &EventKind,
    output_checked: bool,
    state: &str,
    variable_sizes: &HashMap<String, usize>,
    execution_variable_bytes: usize,
) -> Option<Failure> {
    let unchecked = !(output_checked && matches!(event, EventKind::StateExited { .. }));
    if let Some((what, too_big)) = unchecked.then(|| oversized_payload(event)).flatten() {
        return Some(Failure::new(
            errors::DATA_LIMIT_EXCEEDED,
            match too_big {
                TooBig::Bytes => format!("the {what} of state {state:?} is over the limit of {MAX_PAYLOAD_BYTES} bytes"),
                TooBig::Depth => format!("the {what} of state {state:?} nests deeper than the limit of {MAX_VALUE_DEPTH} levels"),
            },
        ));
    }
    let EventKind::StateExited { assigned_variables: Some(vars), .. } = event else { return None };
    variables_over_limits(state, vars, variable_sizes, execution_variable_bytes)
        .map(|cause| Failure::new(errors::DATA_LIMIT_EXCEEDED, cause))
}

/// The payload an event would record, named, when it is over the limit or
/// nests too deeply (measured only up to the limit).
fn oversized_payload(event: &EventKind) -> Option<(&'static str, TooBig)> {
    let check = |v: &Value| size::measure(v, MAX_PAYLOAD_BYTES, MAX_VALUE_DEPTH).err();
    let (what, payload) = match event {
        EventKind::StateExited { output, .. } => ("output", &**output),
        EventKind::TaskScheduled { parameters, .. } => ("task parameters", &**parameters),
        EventKind::ParallelStateStarted { input, .. } => ("branch input", input),
        EventKind::MapStateStarted { items, .. } => {
            return items.iter().find_map(check).map(|too_big| ("Map item input", too_big));
        }
        _ => return None,
    };
    check(payload).map(|too_big| (what, too_big))
}

/// AWS's limits on variables, for the assignments of state `state`: each
/// variable, all of one `Assign`, and every variable the execution would
/// then hold (the frame's replaced ones no longer counted).
fn variables_over_limits(
    state: &str,
    vars: &Variables,
    variable_sizes: &HashMap<String, usize>,
    execution_variable_bytes: usize,
) -> Option<String> {
    let mut assigned = 0usize;
    let mut replaced = 0usize;
    for (name, value) in vars {
        let bytes = match size::measure(value, MAX_VARIABLE_BYTES, MAX_VALUE_DEPTH) {
            Ok(bytes) => bytes,
            Err(TooBig::Bytes) => {
                return Some(format!(
                    "the variable {name:?} assigned by state {state:?} is over the limit of {MAX_VARIABLE_BYTES} bytes for one variable"
                ))
            }
            Err(TooBig::Depth) => {
                return Some(format!(
                    "the variable {name:?} assigned by state {state:?} nests deeper than the limit of {MAX_VALUE_DEPTH} levels"
                ))
            }
        };
        assigned += bytes;
        if assigned > MAX_ASSIGN_BYTES {
            return Some(format!(
                "the variables assigned by state {state:?} are over the limit of {MAX_ASSIGN_BYTES} bytes for one Assign"
            ));
        }
        replaced += variable_sizes.get(name).copied().unwrap_or(0);
    }
    let total = execution_variable_bytes.saturating_sub(replaced).saturating_add(assigned);
    (total > MAX_EXECUTION_VARIABLE_BYTES).then(|| {
        format!(
            "the variables of the execution would be {total} bytes after state {state:?} assigns, over the limit of {MAX_EXECUTION_VARIABLE_BYTES} bytes for all of an execution's variables"
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::history::StateType;
    use serde_json::json;
    use std::sync::Arc;

    fn exit(output: Value, assigned: Option<Value>) -> EventKind {
        EventKind::StateExited {
            state_type: StateType::Pass,
            name: "S".into(),
            output: Arc::new(output),
            assigned_variables: assigned.map(|v| v.as_object().cloned().unwrap()),
            catch_next: None,
        }
    }

    fn big(bytes: usize) -> Value {
        Value::String("x".repeat(bytes))
    }

    #[test]
    fn a_payload_over_the_limit_is_named() {
        let none = HashMap::new();
        assert_eq!(over_limits(&exit(json!({"small": 1}), None), false, "S", &none, 0), None);
        let failure = over_limits(&exit(big(MAX_PAYLOAD_BYTES), None), false, "S", &none, 0).unwrap();
        assert_eq!(failure.error, errors::DATA_LIMIT_EXCEEDED);
        assert!(failure.cause.starts_with("the output of state \"S\""), "{}", failure.cause);
        let items = EventKind::MapStateStarted { items: vec![json!(1), big(MAX_PAYLOAD_BYTES)], retry_after: None };
        assert!(over_limits(&items, false, "M", &none, 0).unwrap().cause.starts_with("the Map item input"));
        // An output checked already (the state's input, unchanged) is not measured again.
        assert_eq!(over_limits(&exit(big(MAX_PAYLOAD_BYTES), None), true, "S", &none, 0), None);
        assert!(over_limits(&items, true, "M", &none, 0).is_some(), "only a state's output is spared");
    }

    #[test]
    fn variables_are_limited_one_by_one_per_assign_and_per_execution() {
        let none = HashMap::new();
        let half = MAX_VARIABLE_BYTES / 2;
        let one = exit(json!({}), Some(json!({"a": big(MAX_VARIABLE_BYTES)})));
        assert!(over_limits(&one, false, "S", &none, 0).unwrap().cause.contains("for one variable"));
        let assign = exit(json!({}), Some(json!({"a": big(half), "b": big(half)})));
        assert!(over_limits(&assign, false, "S", &none, 0).unwrap().cause.contains("for one Assign"));
        let small = exit(json!({}), Some(json!({"a": big(10)})));
        let held = MAX_EXECUTION_VARIABLE_BYTES - 5;
        assert!(over_limits(&small, false, "S", &none, held).unwrap().cause.contains("for all of an execution's variables"));
        // Replacing a variable the frame holds frees its bytes first.
        let replaced: HashMap<String, usize> = [("a".to_string(), 100)].into();
        assert_eq!(over_limits(&small, false, "S", &replaced, held), None);
    }
}
