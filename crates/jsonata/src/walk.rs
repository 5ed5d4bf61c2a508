//! The evaluator's recursive walks over values: effective boolean value,
//! deep equality, field lookup through arrays, `*` and `**`.
//!
//! A value can be a DAG (`{"a": $x, "b": $x}` shares `$x`), so its tree
//! form may be exponentially larger than the work that built it: every walk
//! charges the step budget per node visited and stops at
//! [`MAX_VALUE_DEPTH`] levels instead of exhausting the stack.

use super::error::{err, JsonataError};
use super::eval::Evaluator;
use super::value::{Value, MAX_VALUE_DEPTH};

fn too_deep<T>() -> Result<T, JsonataError> {
    err("U1002", format!("value is nested more than {MAX_VALUE_DEPTH} levels deep"))
}

impl Evaluator {
    /// The effective boolean value (`$boolean`); `None` for undefined.
    pub fn truthy(&mut self, v: &Value) -> Result<Option<bool>, JsonataError> {
        self.truthy_at(v, 0)
    }

    fn truthy_at(&mut self, v: &Value, depth: usize) -> Result<Option<bool>, JsonataError> {
        Ok(Some(match v {
            Value::Undefined => return Ok(None),
            Value::Null | Value::Function(_) => false,
            Value::Bool(b) => *b,
            Value::Number(n) => *n != 0.0,
            Value::String(s) => !s.is_empty(),
            Value::Object(o) => !o.map.is_empty(),
            Value::Array(a, _) => {
                if depth > MAX_VALUE_DEPTH {
                    return too_deep();
                }
                self.charge(1 + a.items.len())?;
                let mut any = false;
                for item in &a.items {
                    if self.truthy_at(item, depth + 1)?.unwrap_or(false) {
                        any = true;
                        break;
                    }
                }
                any
            }
        }))
    }

    /// Structural equality (`=`), as jsonata-js `isDeepEqual`.
    pub fn equal(&mut self, a: &Value, b: &Value) -> Result<bool, JsonataError> {
        self.equal_at(a, b, 0)
    }

    fn equal_at(&mut self, a: &Value, b: &Value, depth: usize) -> Result<bool, JsonataError> {
        if depth > MAX_VALUE_DEPTH {
            return too_deep();
        }
        Ok(match (a, b) {
            (Value::Undefined, Value::Undefined) | (Value::Null, Value::Null) => true,
            (Value::Bool(x), Value::Bool(y)) => x == y,
            (Value::Number(x), Value::Number(y)) => x == y,
            (Value::String(x), Value::String(y)) => {
                self.charge(x.len().min(y.len()) / 64)?;
                x == y
            }
            (Value::Array(x, _), Value::Array(y, _)) => {
                self.charge(1 + x.items.len())?;
                if x.items.len() != y.items.len() {
                    return Ok(false);
                }
                for (p, q) in x.items.iter().zip(&y.items) {
                    if !self.equal_at(p, q, depth + 1)? {
                        return Ok(false);
                    }
                }
                true
            }
            (Value::Object(x), Value::Object(y)) => {
                self.charge(1 + x.map.len())?;
                if x.map.len() != y.map.len() {
                    return Ok(false);
                }
                for (k, p) in &x.map {
                    match y.map.get(k) {
                        Some(q) if self.equal_at(p, q, depth + 1)? => {}
                        _ => return Ok(false),
                    }
                }
                true
            }
            (Value::Function(x), Value::Function(y)) => std::rc::Rc::ptr_eq(x, y),
            _ => false,
        })
    }

    /// A field of an object, mapped over (and flattening) arrays.
    pub fn lookup(&mut self, input: &Value, key: &str) -> Result<Value, JsonataError> {
        self.lookup_at(input, key, 0)
    }

    fn lookup_at(&mut self, input: &Value, key: &str, depth: usize) -> Result<Value, JsonataError> {
        Ok(match input {
            Value::Array(a, _) => {
                if depth > MAX_VALUE_DEPTH {
                    return too_deep();
                }
                self.charge(a.items.len())?;
                let mut out = Vec::new();
                for item in &a.items {
                    match self.lookup_at(item, key, depth + 1)? {
                        Value::Undefined => {}
                        Value::Array(b, _) => out.extend(b.items.iter().cloned()),
                        other => out.push(other),
                    }
                }
                Value::seq(out)
            }
            Value::Object(o) => o.map.get(key).cloned().unwrap_or(Value::Undefined),
            _ => Value::Undefined,
        })
    }

    /// Appends `v` fully flattened to `out`.
    fn flatten_into(&mut self, v: &Value, out: &mut Vec<Value>, depth: usize) -> Result<(), JsonataError> {
        if depth > MAX_VALUE_DEPTH {
            return too_deep();
        }
        self.charge(1)?;
        match v {
            Value::Array(a, _) => {
                for item in &a.items {
                    self.flatten_into(item, out, depth + 1)?;
                }
            }
            other => out.push(other.clone()),
        }
        Ok(())
    }

    /// `*`: the values of an object's fields, arrays among them flattened.
    pub fn wildcard(&mut self, input: &Value) -> Result<Value, JsonataError> {
        let input = match input {
            Value::Array(a, f) if f.outer_wrapper && !a.items.is_empty() => &a.items[0],
            other => other,
        };
        let values: Vec<&Value> = match input {
            Value::Object(o) => o.map.values().collect(),
            Value::Array(a, _) => a.items.iter().collect(),
            _ => Vec::new(),
        };
        let mut out = Vec::new();
        for v in values {
            match v {
                Value::Array(..) => self.flatten_into(v, &mut out, 0)?,
                other => {
                    self.charge(1)?;
                    out.push(other.clone())
                }
            }
        }
        Ok(Value::seq(out))
    }

    /// `**`: every value below (and including) the input, arrays flattened.
    pub fn descendants(&mut self, input: &Value) -> Result<Value, JsonataError> {
        if input.is_undefined() {
            return Ok(Value::Undefined);
        }
        let mut out = Vec::new();
        self.descend(input, &mut out, 0)?;
        Ok(if out.len() == 1 { out.pop().unwrap_or(Value::Undefined) } else { Value::seq(out) })
    }

    fn descend(&mut self, v: &Value, out: &mut Vec<Value>, depth: usize) -> Result<(), JsonataError> {
        if depth > MAX_VALUE_DEPTH {
            return too_deep();
        }
        self.charge(1)?;
        match v {
            Value::Array(a, _) => {
                for m in &a.items {
                    self.descend(m, out, depth + 1)?;
                }
            }
            Value::Object(o) => {
                out.push(v.clone());
                for m in o.map.values() {
                    self.descend(m, out, depth + 1)?;
                }
            }
            other => out.push(other.clone()),
        }
        Ok(())
    }
}
