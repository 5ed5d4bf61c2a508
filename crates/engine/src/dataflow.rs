//! Input and output processing in AWS's order:
//! `InputPath → Parameters → (task) → ResultSelector → ResultPath → OutputPath`.
//!
//! Each step's failure carries the ASL error AWS raises for it: an
//! `InputPath`/`OutputPath` that selects nothing is `States.Runtime`, an
//! unresolvable `.$` field is `States.ParameterPathFailure`, and a `ResultPath`
//! that cannot be written is `States.ResultPathMatchFailure`.

use super::Failure;
use serde_json::{Map, Value};
use std::borrow::Cow;
use stepwasm_asl::errors;
use stepwasm_asl::path::{Bindings, Root, PATH_LIMITS};
use stepwasm_asl::template::Template;
use stepwasm_asl::{IoSettings, PathSetting, ResultPathSetting, State, StateKind};

/// The I/O settings of a state (Fail has none that apply; defaults stand in).
pub(crate) fn io_settings(state: &State) -> &IoSettings {
    static NONE: std::sync::OnceLock<IoSettings> = std::sync::OnceLock::new();
    match &state.kind {
        StateKind::Task(t) => &t.io,
        StateKind::Pass(p) => &p.io,
        StateKind::Choice(c) => &c.io,
        StateKind::Succeed(s) => &s.io,
        StateKind::Wait(w) => &w.io,
        StateKind::Parallel(p) => &p.io,
        StateKind::Map(m) => &m.io,
        StateKind::Fail(_) => NONE.get_or_init(Default::default),
    }
}

/// True when the state's I/O fields leave its input as it is: its output is
/// its input unless a result is placed in it (a Pass's `Result`, a Choice's
/// rule with `Assign` or `Output` are the caller's to check).
pub fn passes_input_through(io: &IoSettings) -> bool {
    !io.jsonata
        && matches!(io.input_path, PathSetting::Default)
        && matches!(io.output_path, PathSetting::Default)
        && matches!(io.result_path, ResultPathSetting::Default | ResultPathSetting::Discard)
        && io.parameters.is_none()
        && io.assign.is_none()
        && io.output.is_none()
}

/// True when any of the state's I/O fields reads the context object.
pub fn uses_context(io: &IoSettings) -> bool {
    let path_reads_context = |p: &PathSetting| matches!(p, PathSetting::Path(p) if p.root() == Root::Context);
    path_reads_context(&io.input_path)
        || path_reads_context(&io.output_path)
        || io.parameters.as_ref().is_some_and(|t| t.uses_context())
        || io.result_selector.as_ref().is_some_and(|t| t.uses_context())
        || io.assign.as_ref().is_some_and(|t| t.uses_context())
}

/// What an `InputPath`/`OutputPath` selects from `doc`: `doc` itself (not a
/// copy) when the path is the default `$`.
fn select<'a>(setting: &PathSetting, field: &str, doc: &'a Value, context: &Bindings) -> Result<Cow<'a, Value>, Failure> {
    match setting {
        PathSetting::Default => Ok(Cow::Borrowed(doc)),
        PathSetting::Null => Ok(Cow::Owned(Value::Object(Map::new()))),
        PathSetting::Path(path) => match path.resolve_within(doc, context, &PATH_LIMITS) {
            Ok(Some((value, _))) => Ok(Cow::Owned(value)),
            Ok(None) => {
                Err(Failure::new(errors::RUNTIME, format!("Invalid path '{path}' : No results for path: {field} of the state's data")))
            }
            // The path's work, result set or result size is over its cap.
            Err(e) => Err(Failure::new(errors::RUNTIME, format!("{field}: {e}"))),
        },
    }
}

/// `InputPath` then `Parameters`: what a Task is invoked with (or a Pass works on).
pub fn effective_input(io: &IoSettings, state_input: &Value, context: &Bindings) -> Result<Value, Failure> {
    let selected = select(&io.input_path, "InputPath", state_input, context)?;
    match &io.parameters {
        None => Ok(selected.into_owned()),
        Some(template) => template.render_with(&selected, context).map_err(|e| Failure::new(e.error, e.cause)),
    }
}

/// `ResultSelector` on a task's raw result.
pub fn select_result(io: &IoSettings, result: Value, context: &Bindings) -> Result<Value, Failure> {
    match &io.result_selector {
        None => Ok(result),
        Some(template) => template.render_with(&result, context).map_err(|e| Failure::new(e.error, e.cause)),
    }
}

/// An `Assign` template filled from `data` (what `$` means depends on the
/// state: its result, its effective input, or a catcher's error output).
/// Every variable reads its value from before the state's assignments.
pub fn assign(template: Option<&Template>, data: &Value, context: &Bindings) -> Result<Option<Map<String, Value>>, Failure> {
    let Some(template) = template else { return Ok(None) };
    match template.render_with(data, context).map_err(|e| Failure::new(e.error, e.cause))? {
        Value::Object(vars) => Ok(Some(vars)),
        // Parsing only accepts an object for Assign.
        other => Err(Failure::new(errors::RUNTIME, format!("Assign gave {other}, not an object"))),
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
pub fn output(io: &IoSettings, value: Value, context: &Bindings) -> Result<Value, Failure> {
    match &io.output_path {
        PathSetting::Default => Ok(value),
        setting => select(setting, "OutputPath", &value, context).map(Cow::into_owned),
    }
}

/// A state's output and the variables it assigns.
pub type Completion = (Value, Option<Map<String, Value>>);

/// A JSONata state without a result of its own (Pass, Choice, Wait,
/// Succeed): `Assign`, and `Output` or else the state's input.
pub fn complete(io: &IoSettings, state_input: &Value, context: &Bindings) -> Result<Completion, Failure> {
    let assigned = assign(io.assign.as_ref(), state_input, context)?;
    let output = match &io.output {
        Some(t) => t.render_with(state_input, context).map_err(|e| Failure::new(e.error, e.cause))?,
        None => state_input.clone(),
    };
    Ok((output, assigned))
}

/// The whole post-task chain: `ResultSelector → Assign → ResultPath →
/// OutputPath` (Assign sees the selected result as `$`). In a JSONata
/// state: `Assign` and `Output` (default: the result), both reading
/// `$states.result`.
pub fn process_result(io: &IoSettings, state_input: &Value, result: Value, context: &Bindings) -> Result<Completion, Failure> {
    if io.jsonata {
        let mut states = context.states.cloned().unwrap_or_else(|| Value::Object(Map::new()));
        states["result"] = result.clone();
        let b = context.with_states(&states);
        let assigned = assign(io.assign.as_ref(), &result, &b)?;
        let output = match &io.output {
            Some(t) => t.render_with(&result, &b).map_err(|e| Failure::new(e.error, e.cause))?,
            None => result,
        };
        return Ok((output, assigned));
    }
    let selected = select_result(io, result, context)?;
    let assigned = assign(io.assign.as_ref(), &selected, context)?;
    let placed = place_result(&io.result_path, state_input, selected)?;
    Ok((output(io, placed, context)?, assigned))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use stepwasm_asl::parse_definition;

    fn io_of(state: Value) -> IoSettings {
        let def = json!({"StartAt": "S", "States": {"S": state}});
        match parse_definition(&def.to_string()).unwrap().root.states["S"].kind.clone() {
            stepwasm_asl::StateKind::Task(t) => t.io,
            stepwasm_asl::StateKind::Pass(p) => p.io,
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
        let ctx = Bindings::context_only(&ctx);
        let input = json!({"order": {"id": 9}, "other": true});
        assert_eq!(effective_input(&io, &input, &ctx).unwrap(), json!({"id": 9, "exec": "e-1"}));
        let (out, assigned) = process_result(&io, &input, json!({"approved": true, "noise": 1}), &ctx).unwrap();
        assert_eq!((out, assigned), (json!({"ok": true}), None));
    }

    #[test]
    fn null_paths() {
        let io = io_of(json!({"Type": "Pass", "End": true, "InputPath": null, "ResultPath": null}));
        let none = Bindings::context_only(&Value::Null);
        assert_eq!(effective_input(&io, &json!({"a": 1}), &none).unwrap(), json!({}));
        assert_eq!(process_result(&io, &json!({"a": 1}), json!("dropped"), &none).unwrap().0, json!({"a": 1}));
    }

    #[test]
    fn assign_sees_the_selected_result_and_the_old_variables() {
        let io = io_of(json!({
            "Type": "Task", "Resource": "r", "End": true,
            "ResultSelector": {"total.$": "$.sum"},
            "Assign": {"total.$": "$.total", "previous.$": "$total", "fixed": 1},
            "ResultPath": null
        }));
        let old: Map<String, Value> = json!({"total": 5}).as_object().cloned().unwrap();
        let scopes = [&old];
        let b = Bindings::new(&Value::Null, &scopes);
        let (out, assigned) = process_result(&io, &json!({"in": 1}), json!({"sum": 7}), &b).unwrap();
        assert_eq!(out, json!({"in": 1}));
        assert_eq!(Value::Object(assigned.unwrap()), json!({"total": 7, "previous": 5, "fixed": 1}));
    }

    #[test]
    fn failures_carry_aws_error_names() {
        let none = Bindings::context_only(&Value::Null);
        let io = io_of(json!({"Type": "Task", "Resource": "r", "End": true, "InputPath": "$.missing"}));
        assert_eq!(effective_input(&io, &json!({}), &none).unwrap_err().error, errors::RUNTIME);
        let io = io_of(json!({"Type": "Task", "Resource": "r", "End": true, "Parameters": {"x.$": "$.missing"}}));
        assert_eq!(effective_input(&io, &json!({}), &none).unwrap_err().error, errors::PARAMETER_PATH_FAILURE);
        let io = io_of(json!({"Type": "Task", "Resource": "r", "End": true, "ResultPath": "$.a.b"}));
        let err = process_result(&io, &json!({"a": 3}), json!(1), &none).unwrap_err();
        assert_eq!(err.error, errors::RESULT_PATH_MATCH_FAILURE);
    }
}
