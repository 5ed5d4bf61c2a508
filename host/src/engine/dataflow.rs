//! Input and output processing in AWS's order:
//! `InputPath → Parameters → (task) → ResultSelector → ResultPath → OutputPath`.
//!
//! Each step's failure carries the ASL error AWS raises for it: an
//! `InputPath`/`OutputPath` that selects nothing is `States.Runtime`, an
//! unresolvable `.$` field is `States.ParameterPathFailure`, and a `ResultPath`
//! that cannot be written is `States.ResultPathMatchFailure`.

use super::Failure;
use crate::asl::errors;
use crate::asl::path::Root;
use crate::asl::{IoSettings, PathSetting, ResultPathSetting};
use serde_json::{Map, Value};

/// True when any of the state's I/O fields reads the context object.
pub fn uses_context(io: &IoSettings) -> bool {
    let path_reads_context = |p: &PathSetting| matches!(p, PathSetting::Path(p) if p.root() == Root::Context);
    path_reads_context(&io.input_path)
        || path_reads_context(&io.output_path)
        || io.parameters.as_ref().is_some_and(|t| t.uses_context())
        || io.result_selector.as_ref().is_some_and(|t| t.uses_context())
}

fn select(setting: &PathSetting, field: &str, doc: &Value, context: &Value) -> Result<Value, Failure> {
    match setting {
        PathSetting::Default => Ok(doc.clone()),
        PathSetting::Null => Ok(Value::Object(Map::new())),
        PathSetting::Path(path) => {
            let source = if path.root() == Root::Context { context } else { doc };
            path.select(source).ok_or_else(|| {
                Failure::new(errors::RUNTIME, format!("Invalid path '{path}' : No results for path: {field} of the state's data"))
            })
        }
    }
}

/// `InputPath` then `Parameters`: what a Task is invoked with (or a Pass works on).
pub fn effective_input(io: &IoSettings, state_input: &Value, context: &Value) -> Result<Value, Failure> {
    let selected = select(&io.input_path, "InputPath", state_input, context)?;
    match &io.parameters {
        None => Ok(selected),
        Some(template) => template.render(&selected, context).map_err(|e| Failure::new(e.error, e.cause)),
    }
}

/// `ResultSelector` on a task's raw result.
pub fn select_result(io: &IoSettings, result: Value, context: &Value) -> Result<Value, Failure> {
    match &io.result_selector {
        None => Ok(result),
        Some(template) => template.render(&result, context).map_err(|e| Failure::new(e.error, e.cause)),
    }
}

/// `ResultPath`: combines the state's raw input with its result.
pub fn place_result(setting: &ResultPathSetting, state_input: &Value, result: Value) -> Result<Value, Failure> {
    match setting {
        ResultPathSetting::Default => Ok(result),
        ResultPathSetting::Discard => Ok(state_input.clone()),
        ResultPathSetting::Path(path) => path.set(state_input.clone(), result).map_err(|why| {
            Failure::new(errors::RESULT_PATH_MATCH_FAILURE, format!("Unable to apply ResultPath '{path}' to the state's input: {why}"))
        }),
    }
}

/// `OutputPath`: what the state passes on.
pub fn output(io: &IoSettings, value: &Value, context: &Value) -> Result<Value, Failure> {
    select(&io.output_path, "OutputPath", value, context)
}

/// The whole post-task chain: `ResultSelector → ResultPath → OutputPath`.
pub fn process_result(io: &IoSettings, state_input: &Value, result: Value, context: &Value) -> Result<Value, Failure> {
    let selected = select_result(io, result, context)?;
    let placed = place_result(&io.result_path, state_input, selected)?;
    output(io, &placed, context)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::asl::parse_definition;
    use serde_json::json;

    fn io_of(state: Value) -> IoSettings {
        let def = json!({"StartAt": "S", "States": {"S": state}});
        match parse_definition(&def.to_string()).unwrap().root.states["S"].kind.clone() {
            crate::asl::StateKind::Task(t) => t.io,
            crate::asl::StateKind::Pass(p) => p.io,
            _ => unreachable!(),
        }
    }

    #[test]
    fn full_chain() {
        let io = io_of(json!({
            "Type": "Task", "Resource": "r", "End": true,
            "InputPath": "$.order",
            "Parameters": {"id.$": "$.id", "exec.$": "$$.Execution.Id"},
            "ResultSelector": {"ok.$": "$.approved"},
            "ResultPath": "$.verdict",
            "OutputPath": "$.verdict"
        }));
        let ctx = json!({"Execution": {"Id": "e-1"}});
        let input = json!({"order": {"id": 9}, "other": true});
        assert_eq!(effective_input(&io, &input, &ctx).unwrap(), json!({"id": 9, "exec": "e-1"}));
        let out = process_result(&io, &input, json!({"approved": true, "noise": 1}), &ctx).unwrap();
        assert_eq!(out, json!({"ok": true}));
    }

    #[test]
    fn null_paths() {
        let io = io_of(json!({"Type": "Pass", "End": true, "InputPath": null, "ResultPath": null}));
        assert_eq!(effective_input(&io, &json!({"a": 1}), &Value::Null).unwrap(), json!({}));
        assert_eq!(process_result(&io, &json!({"a": 1}), json!("dropped"), &Value::Null).unwrap(), json!({"a": 1}));
    }

    #[test]
    fn failures_carry_aws_error_names() {
        let io = io_of(json!({"Type": "Task", "Resource": "r", "End": true, "InputPath": "$.missing"}));
        assert_eq!(effective_input(&io, &json!({}), &Value::Null).unwrap_err().error, errors::RUNTIME);
        let io = io_of(json!({"Type": "Task", "Resource": "r", "End": true, "Parameters": {"x.$": "$.missing"}}));
        assert_eq!(effective_input(&io, &json!({}), &Value::Null).unwrap_err().error, errors::PARAMETER_PATH_FAILURE);
        let io = io_of(json!({"Type": "Task", "Resource": "r", "End": true, "ResultPath": "$.a.b"}));
        let err = process_result(&io, &json!({"a": 3}), json!(1), &Value::Null).unwrap_err();
        assert_eq!(err.error, errors::RESULT_PATH_MATCH_FAILURE);
    }
}
