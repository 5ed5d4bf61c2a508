//! The evaluator's values: JSON plus JSONata's extras (undefined, functions,
//! regular expressions) and the *sequence* flags that drive JSONata's
//! singleton unwrapping and flattening.
//!
//! Containers are reference counted so that paths can hand out sub-values
//! without copying. Their `Drop` is iterative: a value nested a million
//! levels deep (easy to build with `$reduce`) must not overflow the stack
//! when it is freed.

use super::ast::Node;
use super::env::Env;
use super::error::{err, JsonataError};
use super::functions::Builtin;
use indexmap::IndexMap;
use std::rc::Rc;
use std::sync::Arc;

/// Deepest array/object nesting converted to or from JSON or walked by a
/// recursive helper (equality, `$string`, `**`).
pub(crate) const MAX_VALUE_DEPTH: usize = 1000;

/// A JSONata value.
#[derive(Clone)]
pub(crate) enum Value {
    /// JSONata's "no value" (a missing field, an empty sequence).
    Undefined,
    Null,
    Bool(bool),
    Number(f64),
    String(Rc<str>),
    Array(Rc<Array>, ArrFlags),
    Object(Rc<Object>),
    Function(Rc<Function>),
}

/// How an array came to be; see jsonata-js `createSequence` and friends.
#[derive(Clone, Copy, Default, Debug)]
pub(crate) struct ArrFlags {
    /// A result sequence (not a JSON array): singletons unwrap, members flatten.
    pub sequence: bool,
    /// `[]` was applied: do not unwrap a singleton sequence.
    pub keep_singleton: bool,
    /// Built by an array constructor inside a path: never flattened.
    pub cons: bool,
    /// The top-level input array, wrapped as a one-item sequence.
    pub outer_wrapper: bool,
}

pub(crate) struct Array {
    pub items: Vec<Value>,
}

pub(crate) struct Object {
    pub map: IndexMap<String, Value>,
}

/// Something callable.
pub(crate) enum Function {
    /// `function($a, $b) { body }`, closed over its environment and context.
    Lambda { params: Vec<String>, signature: Option<Arc<super::signature::Signature>>, body: Arc<Node>, env: Rc<Env>, input: Value },
    /// A built-in function such as `$sum`.
    Builtin(&'static Builtin),
    /// `$f(?, 2)`: `None` marks a placeholder argument.
    Partial { func: Value, args: Vec<Option<Value>> },
    /// `$f ~> $g`: calls `$g($f(x))`.
    Compose { first: Value, then: Value },
    /// A regular expression literal: called on a string it yields the first match.
    Regex(regex::Regex),
}

impl Drop for Array {
    fn drop(&mut self) {
        let mut pending = std::mem::take(&mut self.items);
        drain(&mut pending);
    }
}

impl Drop for Object {
    fn drop(&mut self) {
        let mut pending: Vec<Value> = std::mem::take(&mut self.map).into_values().collect();
        drain(&mut pending);
    }
}

impl Drop for Function {
    fn drop(&mut self) {
        let mut pending = Vec::new();
        self.take_values(&mut pending);
        drain(&mut pending);
    }
}

impl Function {
    /// Moves out the values a function holds (a chain of compositions or
    /// partial applications can be as deep as an array nesting).
    fn take_values(&mut self, out: &mut Vec<Value>) {
        let take = |v: &mut Value| std::mem::replace(v, Value::Undefined);
        match self {
            Function::Compose { first, then } => {
                out.push(take(first));
                out.push(take(then));
            }
            Function::Partial { func, args } => {
                out.push(take(func));
                out.extend(args.drain(..).flatten());
            }
            Function::Lambda { input, .. } => out.push(take(input)),
            Function::Builtin(_) | Function::Regex(_) => {}
        }
    }
}

/// Frees uniquely-owned containers level by level instead of recursively.
fn drain(pending: &mut Vec<Value>) {
    while let Some(v) = pending.pop() {
        match v {
            Value::Function(rc) => {
                if let Ok(mut f) = Rc::try_unwrap(rc) {
                    f.take_values(pending);
                }
            }
            Value::Array(rc, _) => {
                if let Ok(mut a) = Rc::try_unwrap(rc) {
                    pending.append(&mut a.items);
                }
            }
            Value::Object(rc) => {
                if let Ok(mut o) = Rc::try_unwrap(rc) {
                    pending.extend(std::mem::take(&mut o.map).into_values());
                }
            }
            _ => {}
        }
    }
}

impl Value {
    pub fn string(s: impl Into<Rc<str>>) -> Value {
        Value::String(s.into())
    }

    /// A plain JSON array.
    pub fn array(items: Vec<Value>) -> Value {
        Value::Array(Rc::new(Array { items }), ArrFlags::default())
    }

    /// A result sequence.
    pub fn seq(items: Vec<Value>) -> Value {
        Value::Array(Rc::new(Array { items }), ArrFlags { sequence: true, ..Default::default() })
    }

    pub fn object(map: IndexMap<String, Value>) -> Value {
        Value::Object(Rc::new(Object { map }))
    }

    pub fn is_undefined(&self) -> bool {
        matches!(self, Value::Undefined)
    }

    pub fn is_array(&self) -> bool {
        matches!(self, Value::Array(..))
    }

    pub fn is_function(&self) -> bool {
        matches!(self, Value::Function(_))
    }

    pub fn is_sequence(&self) -> bool {
        matches!(self, Value::Array(_, f) if f.sequence)
    }

    pub fn flags(&self) -> ArrFlags {
        match self {
            Value::Array(_, f) => *f,
            _ => ArrFlags::default(),
        }
    }

    /// The array's members, or `None` for a non-array.
    pub fn members(&self) -> Option<&[Value]> {
        match self {
            Value::Array(a, _) => Some(&a.items),
            _ => None,
        }
    }

    pub fn with_flags(self, flags: ArrFlags) -> Value {
        match self {
            Value::Array(a, _) => Value::Array(a, flags),
            other => other,
        }
    }

    /// The items of an array, or the value as a one-item list (none if undefined).
    pub fn into_items(self) -> Vec<Value> {
        match self {
            Value::Array(a, _) => a.items.clone(),
            Value::Undefined => Vec::new(),
            other => vec![other],
        }
    }

    /// An owned copy of the members (cheap: members are reference counted).
    pub fn items(&self) -> Vec<Value> {
        self.clone().into_items()
    }

    pub fn as_f64(&self) -> Option<f64> {
        match self {
            Value::Number(n) => Some(*n),
            _ => None,
        }
    }

    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::String(s) => Some(s),
            _ => None,
        }
    }

    /// JSONata's `$type` name.
    pub fn type_name(&self) -> &'static str {
        match self {
            Value::Undefined => "undefined",
            Value::Null => "null",
            Value::Bool(_) => "boolean",
            Value::Number(_) => "number",
            Value::String(_) => "string",
            Value::Array(..) => "array",
            Value::Object(_) => "object",
            Value::Function(_) => "function",
        }
    }

    /// Converts a JSON value; fails beyond [`MAX_VALUE_DEPTH`] levels.
    pub fn from_json(v: &serde_json::Value) -> Result<Value, JsonataError> {
        from_json_at(v, 0)
    }

    /// Converts to JSON as `JSON.stringify` would: `Ok(None)` for undefined
    /// or a function; inside containers those become `null` in arrays and
    /// are left out of objects. Fails when the result would exceed roughly
    /// `max_bytes` of JSON text (shared sub-values multiply in the output).
    pub fn to_json(&self, max_bytes: usize) -> Result<Option<serde_json::Value>, JsonataError> {
        let mut budget = max_bytes;
        to_json_at(self, 0, &mut budget)
    }
}

fn too_deep<T>() -> Result<T, JsonataError> {
    err("U1002", format!("value is nested more than {MAX_VALUE_DEPTH} levels deep"))
}

fn from_json_at(v: &serde_json::Value, depth: usize) -> Result<Value, JsonataError> {
    if depth > MAX_VALUE_DEPTH {
        return too_deep();
    }
    Ok(match v {
        serde_json::Value::Null => Value::Null,
        serde_json::Value::Bool(b) => Value::Bool(*b),
        serde_json::Value::Number(n) => Value::Number(n.as_f64().unwrap_or(0.0)),
        serde_json::Value::String(s) => Value::string(s.as_str()),
        serde_json::Value::Array(a) => Value::array(a.iter().map(|x| from_json_at(x, depth + 1)).collect::<Result<_, _>>()?),
        serde_json::Value::Object(o) => {
            let mut map = IndexMap::with_capacity(o.len());
            for (k, x) in o {
                map.insert(k.clone(), from_json_at(x, depth + 1)?);
            }
            Value::object(map)
        }
    })
}

/// A JSON number for `n`: integral values within 2^53 serialise as integers.
pub(crate) fn json_number(n: f64) -> Result<serde_json::Value, JsonataError> {
    if !n.is_finite() {
        return err("D1001", format!("Number out of range: {n}"));
    }
    if n.fract() == 0.0 && n.abs() <= 9_007_199_254_740_992.0 {
        return Ok(serde_json::Value::from(n as i64));
    }
    Ok(serde_json::Number::from_f64(n).map(serde_json::Value::Number).unwrap_or(serde_json::Value::Null))
}

fn to_json_at(v: &Value, depth: usize, budget: &mut usize) -> Result<Option<serde_json::Value>, JsonataError> {
    if depth > MAX_VALUE_DEPTH {
        return too_deep();
    }
    // Approximate JSON size: a few bytes per node plus the text of strings and keys.
    let cost = match v {
        Value::String(s) => s.len() + 2,
        Value::Object(o) => 2 + o.map.keys().map(|k| k.len() + 4).sum::<usize>(),
        _ => 4,
    };
    *budget = budget.checked_sub(cost).ok_or_else(|| JsonataError::new("U1004", "The result is too large to convert to JSON"))?;
    Ok(Some(match v {
        Value::Undefined | Value::Function(_) => return Ok(None),
        Value::Null => serde_json::Value::Null,
        Value::Bool(b) => serde_json::Value::Bool(*b),
        Value::Number(n) => json_number(*n)?,
        Value::String(s) => serde_json::Value::String(s.to_string()),
        Value::Array(a, _) => {
            let mut out = Vec::with_capacity(a.items.len());
            for x in &a.items {
                out.push(to_json_at(x, depth + 1, budget)?.unwrap_or(serde_json::Value::Null));
            }
            serde_json::Value::Array(out)
        }
        Value::Object(o) => {
            let mut out = serde_json::Map::with_capacity(o.map.len());
            for (k, x) in &o.map {
                if let Some(j) = to_json_at(x, depth + 1, budget)? {
                    out.insert(k.clone(), j);
                }
            }
            serde_json::Value::Object(out)
        }
    }))
}

/// Is `n` a whole number (JavaScript's `Number.isInteger`)?
pub(crate) fn is_integer(n: f64) -> bool {
    n.is_finite() && n.fract() == 0.0
}
