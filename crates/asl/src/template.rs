//! Payload templates: the JSON of `Parameters`, `ResultSelector`,
//! `ItemSelector` and `Assign`, where a field whose name ends in `.$` takes
//! its value from a path, and, in JSONata states, the JSON of `Arguments`,
//! `Output` and `Assign`, where a string written `"{% expression %}"` is a
//! JSONata expression.
//!
//! `{"order.$": "$.orderId", "kind": "confirm"}` becomes
//! `{"order": <input.orderId>, "kind": "confirm"}`. Paths starting `$$` read the
//! context object, `$name` a workflow variable; values starting `States.` are
//! intrinsic function calls ([`super::intrinsics`]). JSONata expressions see
//! `$states` and the workflow variables ([`evaluate_jsonata`]).

use super::errors;
use super::intrinsics::{Intrinsic, IntrinsicError};
use super::path::{Bindings, Path, PathLimitError, PathLimits, Root, PATH_LIMITS};
use super::size::{self, SizeBudget};
use super::ValidationError;
use serde_json::{Map, Value};
use std::sync::Arc;
use stepwasm_jsonata::{self as jsonata, Expression};

/// Caps on one JSONata evaluation in a state: a tenth of the evaluator's
/// default steps (about 60 ms of CPU), so a definition that loops through a
/// costly expression up to the 25,000-event cap stays bounded too.
/// Strings, sequences and results are capped too: no string over 10 MB, no
/// more than 32 MiB of strings and sequence items built in all, no result
/// over what is left of the template's budget (at most [`MAX_RENDER_BYTES`]).
const JSONATA_LIMITS: jsonata::Limits = jsonata::Limits {
    max_steps: 1_000_000,
    max_call_depth: 500,
    max_sequence: 1_000_000,
    max_string_bytes: 10_000_000,
    max_built_bytes: 32 << 20,
    max_result_bytes: MAX_RENDER_BYTES,
    max_stack_bytes: 1 << 20,
    max_duration: std::time::Duration::from_secs(1),
};

/// The most JSON one evaluation of a template may build (its values, paths'
/// selections, intrinsic arguments and results alive at once): four times
/// AWS's 256 KiB payload limit, so that every template whose result can be
/// a payload fits, and a fan-out of fields each naming a big value stops
/// here instead of exhausting memory.
pub const MAX_RENDER_BYTES: usize = 1 << 20;

/// AWS's limit on a variable name's length.
const MAX_VARIABLE_NAME_CHARS: usize = 80;

/// A parsed payload template.
#[derive(Debug, Clone, PartialEq)]
pub enum Template {
    /// A subtree with no `.$` fields: copied as is.
    Literal(Value),
    /// An object with at least one dynamic field somewhere below.
    Object(Vec<(String, Template)>),
    /// An array with at least one dynamic element somewhere below.
    Array(Vec<Template>),
    /// The value of a `.$` field.
    Path(Path),
    /// An intrinsic function call as the value of a `.$` field.
    Intrinsic(Intrinsic),
    /// A `"{% expression %}"` string of a JSONata state.
    Jsonata(JsonataExpr),
}

/// A parsed JSONata expression, shared; two are equal when their text is.
#[derive(Debug, Clone)]
pub struct JsonataExpr(pub Arc<Expression>);

impl PartialEq for JsonataExpr {
    fn eq(&self, other: &JsonataExpr) -> bool {
        self.0.text() == other.0.text()
    }
}

impl std::ops::Deref for JsonataExpr {
    type Target = Expression;
    fn deref(&self) -> &Expression {
        &self.0
    }
}

/// Why a template could not be filled: the ASL error to raise and its cause.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RenderError {
    /// `States.ParameterPathFailure`, `States.IntrinsicFailure`, `States.Runtime`,
    /// `States.QueryEvaluationError` or `States.DataLimitExceeded`.
    pub error: &'static str,
    pub cause: String,
}

impl Template {
    /// Parses `value` (found at `location`), adding any problems to `errors`.
    pub fn parse(value: &Value, location: &str, errors: &mut Vec<ValidationError>) -> Template {
        match value {
            Value::Object(map) => {
                let mut fields = Vec::with_capacity(map.len());
                for (key, v) in map {
                    let loc = format!("{location}.{key}");
                    match key.strip_suffix(".$") {
                        Some(name) => fields.push((name.to_string(), Self::parse_dynamic(v, &loc, errors))),
                        None => fields.push((key.clone(), Self::parse(v, &loc, errors))),
                    }
                }
                Self::object_or_literal(value, fields)
            }
            Value::Array(items) => {
                let parts: Vec<Template> =
                    items.iter().enumerate().map(|(i, v)| Self::parse(v, &format!("{location}[{i}]"), errors)).collect();
                Self::array_or_literal(value, parts)
            }
            other => Template::Literal(other.clone()),
        }
    }

    /// A value of a JSONata state (`Arguments`, `Output`, `Assign`, ...):
    /// any JSON, where every string written `"{% expression %}"` is a JSONata
    /// expression (nested in objects and arrays too). Field names are plain.
    pub fn parse_jsonata(value: &Value, location: &str, errors: &mut Vec<ValidationError>) -> Template {
        match value {
            // Only a string that is one whole `{% … %}` is an expression; any
            // other string (one that merely contains `{%` or `%}`, or has
            // text before or after them) is a literal, as on AWS.
            Value::String(text) => match jsonata_source(text) {
                None => Template::Literal(value.clone()),
                Some(source) => match Expression::parse(source) {
                    Ok(expr) => Template::Jsonata(JsonataExpr(Arc::new(expr))),
                    Err(e) => {
                        errors.push(ValidationError::new(location, format!("invalid JSONata expression: {e}")));
                        Template::Literal(Value::Null)
                    }
                },
            },
            Value::Object(map) => {
                let fields: Vec<(String, Template)> =
                    map.iter().map(|(k, v)| (k.clone(), Self::parse_jsonata(v, &format!("{location}.{k}"), errors))).collect();
                Self::object_or_literal(value, fields)
            }
            Value::Array(items) => {
                let parts: Vec<Template> =
                    items.iter().enumerate().map(|(i, v)| Self::parse_jsonata(v, &format!("{location}[{i}]"), errors)).collect();
                Self::array_or_literal(value, parts)
            }
            other => Template::Literal(other.clone()),
        }
    }

    /// `value` as it is when none of its fields is dynamic, else its fields.
    fn object_or_literal(value: &Value, fields: Vec<(String, Template)>) -> Template {
        if fields.iter().all(|(_, t)| matches!(t, Template::Literal(_))) {
            Template::Literal(value.clone())
        } else {
            Template::Object(fields)
        }
    }

    fn array_or_literal(value: &Value, parts: Vec<Template>) -> Template {
        if parts.iter().all(|t| matches!(t, Template::Literal(_))) {
            Template::Literal(value.clone())
        } else {
            Template::Array(parts)
        }
    }

    /// The locations (below `location`) of the JSONata expressions that name
    /// `$states.<field>` (`result` and `errorOutput` exist only in some fields).
    pub fn locations_reading_states(&self, field: &str, location: &str) -> Vec<String> {
        let needle = format!("$states.{field}");
        let mut out = Vec::new();
        self.collect_reading(&needle, location, &mut out);
        out
    }

    fn collect_reading(&self, needle: &str, location: &str, out: &mut Vec<String>) {
        match self {
            Template::Jsonata(expr) if expr.text().contains(needle) => out.push(location.to_string()),
            Template::Object(fields) => fields.iter().for_each(|(k, t)| t.collect_reading(needle, &format!("{location}.{k}"), out)),
            Template::Array(items) => {
                items.iter().enumerate().for_each(|(i, t)| t.collect_reading(needle, &format!("{location}[{i}]"), out))
            }
            _ => {}
        }
    }

    /// True when the template holds a JSONata expression somewhere.
    pub fn is_jsonata(&self) -> bool {
        match self {
            Template::Jsonata(_) => true,
            Template::Object(fields) => fields.iter().any(|(_, t)| t.is_jsonata()),
            Template::Array(items) => items.iter().any(Template::is_jsonata),
            _ => false,
        }
    }

    /// An `Assign` object: a template whose top-level keys (without `.$`)
    /// name workflow variables: a letter or `_`, then letters, digits or `_`,
    /// at most 80 characters, and never the reserved `states`.
    pub fn parse_assign(value: &Value, location: &str, errors: &mut Vec<ValidationError>) -> Template {
        let Value::Object(map) = value else {
            errors.push(ValidationError::new(location, "Assign must be a JSON object of variable names and values"));
            return Template::Literal(Value::Null);
        };
        for key in map.keys() {
            check_variable_name(key.strip_suffix(".$").unwrap_or(key), &format!("{location}.{key}"), errors);
        }
        Template::parse(value, location, errors)
    }

    /// A JSONata state's `Assign`: variable names as in [`Template::parse_assign`],
    /// values as in [`Template::parse_jsonata`].
    pub fn parse_assign_jsonata(value: &Value, location: &str, errors: &mut Vec<ValidationError>) -> Template {
        let Value::Object(map) = value else {
            errors.push(ValidationError::new(location, "Assign must be a JSON object of variable names and values"));
            return Template::Literal(Value::Null);
        };
        for key in map.keys() {
            check_variable_name(key, &format!("{location}.{key}"), errors);
        }
        Template::parse_jsonata(value, location, errors)
    }

    /// The value of a `.$` field (or of `ErrorPath`/`CausePath`): a path or an
    /// intrinsic call.
    pub fn parse_dynamic(value: &Value, location: &str, errors: &mut Vec<ValidationError>) -> Template {
        let fail = |errors: &mut Vec<ValidationError>, message: String| {
            errors.push(ValidationError::new(location, message));
            Template::Literal(Value::Null)
        };
        let Value::String(text) = value else {
            return fail(errors, "a field whose name ends in .$ must have a string value (a path)".into());
        };
        if text.starts_with("States.") {
            return match Intrinsic::parse(text) {
                Ok(call) => Template::Intrinsic(call),
                Err(e) => fail(errors, e.to_string()),
            };
        }
        match Path::parse(text) {
            Ok(path) => Template::Path(path),
            Err(e) => fail(errors, e.to_string()),
        }
    }

    /// True when some `.$` field reads the context object (`$$`), so callers
    /// only build the context when it is needed.
    pub fn uses_context(&self) -> bool {
        match self {
            Template::Literal(_) => false,
            Template::Object(fields) => fields.iter().any(|(_, t)| t.uses_context()),
            Template::Array(items) => items.iter().any(Template::uses_context),
            Template::Path(p) => p.root() == Root::Context,
            Template::Intrinsic(call) => call.uses_context(),
            // `$states.context` may be read anywhere in an expression.
            Template::Jsonata(_) => true,
        }
    }

    /// Fills the template from `data` (`$`) and `context` (`$$`), with no
    /// variables in scope.
    pub fn render(&self, data: &Value, context: &Value) -> Result<Value, RenderError> {
        self.render_with(data, &Bindings::context_only(context))
    }

    /// Fills the template from `data` (`$`), the context object (`$$`) and
    /// the variables (`$name`). The error names the field whose path selected
    /// nothing, or the intrinsic's misuse. What it builds is capped at
    /// [`MAX_RENDER_BYTES`] while it is built.
    pub fn render_with(&self, data: &Value, bindings: &Bindings) -> Result<Value, RenderError> {
        self.render_within(data, bindings, &mut SizeBudget::new(MAX_RENDER_BYTES))
    }

    /// [`Template::render_with`] counting what it builds against `budget`
    /// (several renders can share one): every path's selection, literal,
    /// intrinsic argument and result and JSONata result is counted before
    /// or while it is made, and past the budget the render stops with
    /// `States.DataLimitExceeded`.
    pub fn render_within(&self, data: &Value, bindings: &Bindings, budget: &mut SizeBudget) -> Result<Value, RenderError> {
        self.render_at(data, bindings, "", budget)
    }

    fn render_at(&self, data: &Value, context: &Bindings, field: &str, budget: &mut SizeBudget) -> Result<Value, RenderError> {
        let too_big = |budget: &SizeBudget| RenderError {
            error: errors::DATA_LIMIT_EXCEEDED,
            cause: format!(
                "building the payload{} would take more than {} bytes of JSON (the limit on what one template builds)",
                field_note(field),
                budget.limit()
            ),
        };
        Ok(match self {
            Template::Literal(v) => {
                budget.charge_value(v).map_err(|_| too_big(budget))?;
                v.clone()
            }
            Template::Object(fields) => {
                budget.charge(2).map_err(|_| too_big(budget))?;
                let mut map = Map::with_capacity(fields.len());
                for (name, t) in fields {
                    // `"name":` and a comma.
                    budget.charge(size::string_len(name) + 2).map_err(|_| too_big(budget))?;
                    map.insert(name.clone(), t.render_at(data, context, name, budget)?);
                }
                Value::Object(map)
            }
            Template::Array(items) => {
                budget.charge(2).map_err(|_| too_big(budget))?;
                let mut out = Vec::with_capacity(items.len());
                for t in items {
                    budget.charge(1).map_err(|_| too_big(budget))?;
                    out.push(t.render_at(data, context, field, budget)?);
                }
                Value::Array(out)
            }
            Template::Path(path) => {
                let limits = PathLimits { max_bytes: budget.remaining().min(PATH_LIMITS.max_bytes), ..PATH_LIMITS };
                match path.resolve_within(data, context, &limits) {
                    Ok(Some((value, bytes))) => {
                        budget.charge(bytes).map_err(|_| too_big(budget))?;
                        value
                    }
                    Ok(None) => {
                        return Err(RenderError {
                            error: errors::PARAMETER_PATH_FAILURE,
                            cause: format!("the JSONPath {path} given for the field '{field}.$' could not find a value in the input"),
                        })
                    }
                    Err(PathLimitError::Bytes { .. }) if limits.max_bytes < PATH_LIMITS.max_bytes => return Err(too_big(budget)),
                    Err(e) => return Err(RenderError { error: errors::PARAMETER_PATH_FAILURE, cause: format!("field '{field}.$': {e}") }),
                }
            }
            Template::Intrinsic(call) => match call.evaluate_within(data, context, budget) {
                Ok(value) => value,
                Err(IntrinsicError::Failure(cause)) => {
                    return Err(RenderError { error: errors::INTRINSIC_FAILURE, cause: format!("field '{field}.$': {cause}") })
                }
                Err(IntrinsicError::Runtime(cause)) => {
                    return Err(RenderError {
                        error: errors::RUNTIME,
                        cause: format!("The function '{}' had the following error: {cause}", call.text()),
                    })
                }
                Err(IntrinsicError::TooBig(cause)) => {
                    return Err(RenderError { error: errors::DATA_LIMIT_EXCEEDED, cause: format!("field '{field}.$': {cause}") })
                }
            },
            Template::Jsonata(expr) => {
                let value = evaluate_jsonata_within(expr, context, field, budget.remaining())?.ok_or_else(|| RenderError {
                    error: errors::QUERY_EVALUATION_ERROR,
                    cause: format!("the JSONata expression {:?}{} gave no value", expr.text(), field_note(field)),
                })?;
                budget.charge_value(&value).map_err(|_| too_big(budget))?;
                value
            }
        })
    }
}

/// A variable name: a letter or `_`, then letters, digits or `_`, at most
/// 80 characters, and never the reserved `states`.
fn check_variable_name(name: &str, location: &str, errors: &mut Vec<ValidationError>) {
    // Unicode identifiers, as AWS allows: a letter or `_`, then letters,
    // digits or `_`.
    let well_formed = name.chars().next().is_some_and(|c| c == '_' || c.is_alphabetic())
        && name.chars().all(|c| c == '_' || c.is_alphanumeric())
        && name.chars().count() <= MAX_VARIABLE_NAME_CHARS;
    if !well_formed {
        errors.push(ValidationError::new(
            location,
            format!("{name:?} is not a valid variable name (a letter or _, then letters, digits or _, at most {MAX_VARIABLE_NAME_CHARS} characters)"),
        ));
    } else if name == "states" {
        errors.push(ValidationError::new(location, "the variable name \"states\" is reserved"));
    }
}

/// The expression inside `{% ... %}`, when `text` is written that way.
pub fn jsonata_source(text: &str) -> Option<&str> {
    text.strip_prefix("{%").and_then(|t| t.strip_suffix("%}"))
}

fn field_note(field: &str) -> String {
    if field.is_empty() {
        String::new()
    } else {
        format!(" (field '{field}')")
    }
}

/// Evaluates a JSONata expression with `$states` and the workflow variables
/// bound; `$` is `$states.input`. Any failure is `States.QueryEvaluationError`.
pub fn evaluate_jsonata(expr: &Expression, context: &Bindings, field: &str) -> Result<Option<Value>, RenderError> {
    evaluate_jsonata_within(expr, context, field, MAX_RENDER_BYTES)
}

/// [`evaluate_jsonata`] whose result may be at most about `max_result_bytes`
/// of JSON (the evaluator refuses a bigger one while converting it).
fn evaluate_jsonata_within(
    expr: &Expression,
    context: &Bindings,
    field: &str,
    max_result_bytes: usize,
) -> Result<Option<Value>, RenderError> {
    let mut vars = jsonata::Bindings::new();
    // Outer scopes first, so inner ones win.
    for scope in context.variables {
        for (name, value) in scope.iter() {
            vars.insert(name.clone(), value.clone());
        }
    }
    let null = Value::Null;
    let states = context.states.unwrap_or(&null);
    vars.insert("states", states.clone());
    let input = states.get("input").unwrap_or(&null);
    let limits = jsonata::Limits { max_result_bytes: max_result_bytes.min(JSONATA_LIMITS.max_result_bytes), ..JSONATA_LIMITS };
    expr.evaluate_with_limits(input, &vars, limits).map_err(|e| RenderError {
        error: errors::QUERY_EVALUATION_ERROR,
        cause: format!("the JSONata expression {:?}{} failed: {e}", expr.text(), field_note(field)),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn parse_ok(v: Value) -> Template {
        let mut errors = Vec::new();
        let t = Template::parse(&v, "Parameters", &mut errors);
        assert!(errors.is_empty(), "{errors:?}");
        t
    }

    #[test]
    fn renders_paths_and_literals() {
        let t = parse_ok(json!({"id.$": "$.order.id", "kind": "x", "nested": {"items.$": "$.items[*].sku"}, "exec.$": "$$.Execution.Id"}));
        assert!(t.uses_context());
        let out =
            t.render(&json!({"order": {"id": 7}, "items": [{"sku": "A"}, {"sku": "B"}]}), &json!({"Execution": {"Id": "e1"}})).unwrap();
        assert_eq!(out, json!({"id": 7, "kind": "x", "nested": {"items": ["A", "B"]}, "exec": "e1"}));
    }

    #[test]
    fn literal_subtrees_stay_literal() {
        assert_eq!(parse_ok(json!({"a": [1, {"b": 2}]})), Template::Literal(json!({"a": [1, {"b": 2}]})));
    }

    #[test]
    fn missing_value_names_the_field() {
        let t = parse_ok(json!({"total.$": "$.amount"}));
        let err = t.render(&json!({}), &json!({})).unwrap_err();
        assert_eq!(err.error, errors::PARAMETER_PATH_FAILURE);
        assert!(err.cause.contains("'total.$'") && err.cause.contains("$.amount"), "{err:?}");
    }

    #[test]
    fn intrinsics_render_and_fail_as_intrinsic_failure() {
        let t = parse_ok(json!({"greeting.$": "States.Format('Hello, {}!', $.name)", "id.$": "States.ArrayGetItem($.ids, 1)"}));
        assert_eq!(t.render(&json!({"name": "Ada", "ids": [7, 8]}), &Value::Null).unwrap(), json!({"greeting": "Hello, Ada!", "id": 8}));
        let err = t.render(&json!({"name": "Ada", "ids": [7]}), &Value::Null).unwrap_err();
        assert_eq!(err.error, errors::INTRINSIC_FAILURE);
        assert!(err.cause.starts_with("field 'id.$': States.ArrayGetItem"), "{err:?}");
    }

    #[test]
    fn a_path_argument_that_selects_nothing_or_is_invalid_is_states_runtime_naming_the_whole_call() {
        let t = parse_ok(json!({"v.$": "States.Format('{}', States.Array($.nope))", "w.$": "States.ArrayLength($..[)"}));
        let err = t.render(&json!({"other": 1}), &Value::Null).unwrap_err();
        assert_eq!(err.error, errors::RUNTIME);
        assert_eq!(
            err.cause,
            "The function 'States.Format('{}', States.Array($.nope))' had the following error: \
             The JsonPath argument for the field '$.nope' could not be found in the input '{\"other\":1}'"
        );
        let t = parse_ok(json!({"w.$": "States.ArrayLength($..[)"}));
        let err = t.render(&json!({}), &Value::Null).unwrap_err();
        assert_eq!(err.error, errors::RUNTIME);
        assert!(
            err.cause.starts_with("The function 'States.ArrayLength($..[)' had the following error: The JsonPath argument '$..['"),
            "{err:?}"
        );
    }

    #[test]
    fn bad_dynamic_fields_are_located() {
        let mut errors = Vec::new();
        Template::parse(&json!({"a.$": 3, "b": {"c.$": "nope"}, "d.$": "States.Format('{}')"}), "States.S.Parameters", &mut errors);
        let located: Vec<String> = errors.iter().map(|e| e.location.clone()).collect();
        assert_eq!(located, ["States.S.Parameters.a.$", "States.S.Parameters.b.c.$", "States.S.Parameters.d.$"]);
    }

    #[test]
    fn a_fan_out_of_fields_stops_at_the_render_budget() {
        let data = json!({"big": "x".repeat(100 * 1024)});
        let fields = |n: usize| Value::Object((0..n).map(|i| (format!("f{i}.$"), json!("$.big"))).collect());
        // Ten copies (about 1,000 KiB) fit under 1 MiB, eleven do not.
        assert!(parse_ok(fields(10)).render(&data, &Value::Null).is_ok());
        let err = parse_ok(fields(20_000)).render(&data, &Value::Null).unwrap_err();
        assert_eq!(err.error, errors::DATA_LIMIT_EXCEEDED);
        assert!(
            err.cause.contains(
                "building the payload (field 'f10') would take more than 1048576 bytes of JSON (the limit on what one template builds)"
            ),
            "{err:?}"
        );
        // Literal parts count too.
        let literal = parse_ok(json!({"a.$": "$.big", "pad": "y".repeat(MAX_RENDER_BYTES)}));
        assert_eq!(literal.render(&data, &Value::Null).unwrap_err().error, errors::DATA_LIMIT_EXCEEDED);
    }

    #[test]
    fn intrinsic_arguments_count_against_the_template_budget() {
        let data = json!({"big": "x".repeat(100 * 1024)});
        let array = |n: usize| parse_ok(json!({"all.$": format!("States.Array({})", vec!["$.big"; n].join(", "))}));
        assert!(array(10).render(&data, &Value::Null).is_ok());
        let err = array(20_000).render(&data, &Value::Null).unwrap_err();
        assert_eq!(err.error, errors::DATA_LIMIT_EXCEEDED);
        assert!(err.cause.starts_with("field 'all.$': States.Array: it would take more than 1048576 bytes"), "{err:?}");
    }

    #[test]
    fn a_path_over_its_work_cap_is_a_parameter_path_failure() {
        let mut deep = json!({"p": 1});
        for _ in 0..30 {
            deep = json!({"a": deep});
        }
        let t = parse_ok(json!({"found.$": format!("${}", "..a".repeat(10))}));
        let err = t.render(&deep, &Value::Null).unwrap_err();
        assert_eq!(err.error, errors::PARAMETER_PATH_FAILURE);
        assert!(err.cause.starts_with("field 'found.$': the path $..a..a"), "{err:?}");
        assert!(
            err.cause.contains("(the limit on the work of one path)")
                || err.cause.contains("(the limit on the result set of one path step)"),
            "{err:?}"
        );
    }

    #[test]
    fn jsonata_results_count_against_the_template_budget() {
        let mut errors = Vec::new();
        let t = Template::parse_jsonata(
            &json!({"a": "{% $pad('', 600000, 'x') %}", "b": "{% $pad('', 600000, 'y') %}"}),
            "Output",
            &mut errors,
        );
        assert!(errors.is_empty(), "{errors:?}");
        let states = json!({"input": {}});
        let b = Bindings::context_only(&Value::Null).with_states(&states);
        let err = t.render_with(&Value::Null, &b).unwrap_err();
        // The second result is refused while it is converted (U1004).
        assert_eq!(err.error, errors::QUERY_EVALUATION_ERROR);
        assert!(err.cause.contains("U1004"), "{err:?}");
        let one = Template::parse_jsonata(&json!({"a": "{% $pad('', 600000, 'x') %}"}), "Output", &mut errors);
        assert_eq!(one.render_with(&Value::Null, &b).unwrap()["a"].as_str().unwrap().len(), 600_000);
    }
}
