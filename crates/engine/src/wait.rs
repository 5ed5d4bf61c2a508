//! Wait arithmetic: when a Wait state ends (`Seconds`, `Timestamp`, their
//! `…Path` and JSONata forms), a Task's `TimeoutSeconds` and
//! `HeartbeatSeconds` as fixed, read by a `…Path` or computed, and a number
//! of seconds after a moment as a due time in milliseconds.

use super::Failure;
use serde_json::Value;
use stepwasm_asl::errors;
use stepwasm_asl::path::{Bindings, Path};
use stepwasm_asl::template::Template;
use stepwasm_asl::WaitFor;

/// `seconds` after `start_ms`, in milliseconds; saturates instead of overflowing.
pub(crate) fn after_seconds(start_ms: i64, seconds: u64) -> i64 {
    start_ms.saturating_add(seconds.saturating_mul(1000).min(i64::MAX as u64) as i64)
}

/// When a Wait state entered at `entered_ms` ends, given its effective input.
pub(crate) fn wait_until(wait: &WaitFor, input: &Value, entered_ms: i64, b: &Bindings) -> Result<i64, Failure> {
    let runtime = |msg: String| Failure::new(errors::RUNTIME, msg);
    let seconds_ms = |s: u64| after_seconds(entered_ms, s);
    match wait {
        WaitFor::Seconds(s) => Ok(seconds_ms(*s)),
        WaitFor::Timestamp(ms) => Ok(*ms),
        WaitFor::SecondsPath(path) => match path.resolve(input, b).as_ref().and_then(Value::as_u64) {
            Some(s) => Ok(seconds_ms(s)),
            None => Err(runtime(format!("SecondsPath '{path}' must select a non-negative integer in the state's input"))),
        },
        WaitFor::SecondsExpr(t) => match t.render_with(input, b).map_err(|e| Failure::new(e.error, e.cause))? {
            Value::Number(n) if n.as_u64().is_some() => Ok(seconds_ms(n.as_u64().unwrap_or_default())),
            other => Err(Failure::new(errors::QUERY_EVALUATION_ERROR, format!("Seconds must be a non-negative integer, got {other}"))),
        },
        WaitFor::TimestampExpr(t) => match t.render_with(input, b).map_err(|e| Failure::new(e.error, e.cause))? {
            Value::String(text) => match stepwasm_asl::choice::parse_timestamp(&text) {
                Some(at) => Ok(at.timestamp_millis()),
                None => Err(Failure::new(errors::QUERY_EVALUATION_ERROR, format!("Timestamp must be an RFC 3339 timestamp, got {text:?}"))),
            },
            other => {
                Err(Failure::new(errors::QUERY_EVALUATION_ERROR, format!("Timestamp must be an RFC 3339 timestamp string, got {other}")))
            }
        },
        WaitFor::TimestampPath(path) => {
            match path.resolve(input, b).as_ref().and_then(Value::as_str).and_then(stepwasm_asl::choice::parse_timestamp) {
                Some(t) => Ok(t.timestamp_millis()),
                None => Err(runtime(format!("TimestampPath '{path}' must select an RFC 3339 timestamp in the state's input"))),
            }
        }
    }
}

/// A Task's `TimeoutSeconds` or `HeartbeatSeconds` (named `field`): fixed,
/// read by its `…Path` from the state's input, or a JSONata expression.
pub(crate) fn seconds_setting(
    field: &str,
    fixed: Option<u64>,
    path: &Option<Path>,
    expr: &Option<Template>,
    input: &Value,
    b: &Bindings,
) -> Result<Option<u64>, Failure> {
    match (path, expr) {
        (Some(path), _) => Ok(Some(positive_integer_at(path, input, b, &format!("{field}Path"))?)),
        (None, Some(t)) => match t.render_with(input, b).map_err(|e| Failure::new(e.error, e.cause))? {
            Value::Number(n) if n.as_u64().is_some_and(|n| n > 0) => Ok(n.as_u64()),
            other => Err(Failure::new(errors::QUERY_EVALUATION_ERROR, format!("{field} must be a positive integer, got {other}"))),
        },
        (None, None) => Ok(fixed),
    }
}

/// A positive integer read from the state's input, the context object or a
/// variable (`TimeoutSecondsPath` and the like).
fn positive_integer_at(path: &Path, input: &Value, b: &Bindings, field: &str) -> Result<u64, Failure> {
    match path.resolve(input, b).as_ref().and_then(Value::as_u64) {
        Some(n) if n > 0 => Ok(n),
        _ => Err(Failure::new(errors::RUNTIME, format!("{field} '{path}' must select a positive integer in the state's input"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use stepwasm_asl::{parse_definition, StateKind};

    fn kind_of(state: Value) -> StateKind {
        let def = json!({"StartAt": "S", "States": {"S": state}});
        parse_definition(&def.to_string()).unwrap().root.states["S"].kind.clone()
    }

    fn wait_of(fields: Value) -> WaitFor {
        let mut state = json!({"Type": "Wait", "End": true});
        state.as_object_mut().unwrap().extend(fields.as_object().unwrap().clone());
        match kind_of(state) {
            StateKind::Wait(w) => w.wait,
            _ => unreachable!(),
        }
    }

    #[test]
    fn after_seconds_saturates() {
        assert_eq!(after_seconds(1_000, 2), 3_000);
        assert_eq!(after_seconds(1_000, u64::MAX), i64::MAX);
    }

    #[test]
    fn wait_ends_seconds_after_entering_or_at_a_timestamp() {
        let none = Bindings::context_only(&Value::Null);
        assert_eq!(wait_until(&wait_of(json!({"Seconds": 5})), &json!({}), 1_000, &none), Ok(6_000));
        let by_path = wait_of(json!({"SecondsPath": "$.s"}));
        assert_eq!(wait_until(&by_path, &json!({"s": 3}), 1_000, &none), Ok(4_000));
        assert_eq!(wait_until(&by_path, &json!({"s": -3}), 1_000, &none).unwrap_err().error, errors::RUNTIME);
        let at = wait_of(json!({"TimestampPath": "$.t"}));
        assert_eq!(wait_until(&at, &json!({"t": "1970-01-01T00:00:10Z"}), 1_000, &none), Ok(10_000));
        assert_eq!(wait_until(&at, &json!({"t": "soon"}), 1_000, &none).unwrap_err().error, errors::RUNTIME);
    }

    #[test]
    fn task_seconds_are_fixed_or_a_positive_integer_at_their_path() {
        let none = Bindings::context_only(&Value::Null);
        let StateKind::Task(task) = kind_of(json!({"Type": "Task", "Resource": "r", "End": true, "TimeoutSecondsPath": "$.t"})) else {
            unreachable!()
        };
        let timeout = |input: Value| seconds_setting("TimeoutSeconds", None, &task.timeout_seconds_path, &None, &input, &none);
        assert_eq!(timeout(json!({"t": 7})), Ok(Some(7)));
        let zero = timeout(json!({"t": 0})).unwrap_err();
        assert_eq!((zero.error.as_str(), zero.cause.starts_with("TimeoutSecondsPath '")), (errors::RUNTIME, true));
        assert_eq!(seconds_setting("HeartbeatSeconds", Some(9), &None, &None, &json!({}), &none), Ok(Some(9)));
    }
}
