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
use super::intrinsics::Intrinsic;
use super::path::{Bindings, Path, Root};
use super::ValidationError;
use crate::jsonata::{self, Expression};
use serde_json::{Map, Value};
use std::sync::Arc;

/// Caps on one JSONata evaluation in a state: a tenth of the evaluator's
/// default steps (about 60 ms of CPU), so a definition that loops through a
/// costly expression up to the 25,000-event cap stays bounded too.
const JSONATA_LIMITS: jsonata::Limits = jsonata::Limits {
    max_steps: 1_000_000,
    max_call_depth: 500,
    max_sequence: 1_000_000,
    max_string_bytes: 10_000_000,
    max_stack_bytes: 1 << 20,
    max_duration: std::time::Duration::from_secs(1),
};

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
    /// `States.ParameterPathFailure` or `States.IntrinsicFailure`.
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
            Value::String(text) if jsonata_source(text).is_none() && (text.trim_start().starts_with("{%") || text.trim_end().ends_with("%}")) => {
                errors.push(ValidationError::new(
                    location,
                    "a JSONata expression must be written exactly \"{% expression %}\", with nothing before {% or after %}",
                ));
                Template::Literal(Value::Null)
            }
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
            Template::Array(items) => items.iter().enumerate().for_each(|(i, t)| t.collect_reading(needle, &format!("{location}[{i}]"), out)),
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
    /// nothing, or the intrinsic's misuse.
    pub fn render_with(&self, data: &Value, bindings: &Bindings) -> Result<Value, RenderError> {
        self.render_at(data, bindings, "")
    }

    fn render_at(&self, data: &Value, context: &Bindings, field: &str) -> Result<Value, RenderError> {
        Ok(match self {
            Template::Literal(v) => v.clone(),
            Template::Object(fields) => {
                let mut map = Map::with_capacity(fields.len());
                for (name, t) in fields {
                    map.insert(name.clone(), t.render_at(data, context, name)?);
                }
                Value::Object(map)
            }
            Template::Array(items) => {
                Value::Array(items.iter().map(|t| t.render_at(data, context, field)).collect::<Result<_, _>>()?)
            }
            Template::Path(path) => {
                path.resolve(data, context).ok_or_else(|| RenderError {
                    error: errors::PARAMETER_PATH_FAILURE,
                    cause: format!("the JSONPath {path} given for the field '{field}.$' could not find a value in the input"),
                })?
            }
            Template::Intrinsic(call) => call
                .evaluate_with(data, context)
                .map_err(|cause| RenderError { error: errors::INTRINSIC_FAILURE, cause: format!("field '{field}.$': {cause}") })?,
            Template::Jsonata(expr) => evaluate_jsonata(expr, context, field)?.ok_or_else(|| RenderError {
                error: errors::QUERY_EVALUATION_ERROR,
                cause: format!("the JSONata expression {:?}{} gave no value", expr.text(), field_note(field)),
            })?,
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
    if field.is_empty() { String::new() } else { format!(" (field '{field}')") }
}

/// Evaluates a JSONata expression with `$states` and the workflow variables
/// bound; `$` is `$states.input`. Any failure is `States.QueryEvaluationError`.
pub fn evaluate_jsonata(expr: &Expression, context: &Bindings, field: &str) -> Result<Option<Value>, RenderError> {
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
    expr.evaluate_with_limits(input, &vars, JSONATA_LIMITS).map_err(|e| RenderError {
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
        let out = t
            .render(&json!({"order": {"id": 7}, "items": [{"sku": "A"}, {"sku": "B"}]}), &json!({"Execution": {"Id": "e1"}}))
            .unwrap();
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
    fn bad_dynamic_fields_are_located() {
        let mut errors = Vec::new();
        Template::parse(&json!({"a.$": 3, "b": {"c.$": "nope"}, "d.$": "States.Format('{}')"}), "States.S.Parameters", &mut errors);
        let located: Vec<String> = errors.iter().map(|e| e.location.clone()).collect();
        assert_eq!(located, ["States.S.Parameters.a.$", "States.S.Parameters.b.c.$", "States.S.Parameters.d.$"]);
    }
}
