//! Object and boolean functions: `$keys`, `$lookup`, `$spread`, `$merge`,
//! `$each`, `$sift`, `$type`, `$boolean`, `$not`, `$exists`, `$error`,
//! `$assert`.

use super::{arg, Entry};
use crate::error::{err, JsonataError};
use crate::eval::{arity, Evaluator};
use crate::value::Value;
use indexmap::{IndexMap, IndexSet};

pub(super) const FUNCTIONS: &[Entry] = &[
    ("keys", "<x-:a<s>>", 1, keys),
    ("lookup", "<x-s:x>", 2, lookup),
    ("spread", "<x-:a<o>>", 1, spread),
    ("merge", "<a<o>:o>", 1, merge),
    ("each", "<o-f:a>", 2, each),
    ("sift", "<o-f?:o>", 2, sift),
    ("type", "<x:s>", 1, type_),
    ("boolean", "<x-:b>", 1, boolean),
    ("not", "<x-:b>", 1, not),
    ("exists", "<x:b>", 1, exists),
    ("error", "<s?:x>", 1, error),
    ("assert", "<bs?:x>", 2, assert),
];

fn keys(ev: &mut Evaluator, args: Vec<Value>, _: &Value) -> Result<Value, JsonataError> {
    let mut out: IndexSet<String> = IndexSet::new();
    let v = arg(&args, 0);
    let objects: Vec<Value> = match v {
        Value::Array(..) => v.items(),
        other => vec![other.clone()],
    };
    for o in objects {
        if let Value::Object(o) = o {
            ev.charge(o.map.len())?;
            out.extend(o.map.keys().cloned());
        }
    }
    Ok(Value::seq(out.into_iter().map(Value::string).collect()))
}

fn lookup(ev: &mut Evaluator, args: Vec<Value>, _: &Value) -> Result<Value, JsonataError> {
    let key = arg(&args, 1).as_str().unwrap_or("");
    ev.lookup(arg(&args, 0), key)
}

fn spread(ev: &mut Evaluator, args: Vec<Value>, _: &Value) -> Result<Value, JsonataError> {
    fn go(ev: &mut Evaluator, v: &Value, out: &mut Vec<Value>, depth: usize) -> Result<(), JsonataError> {
        if depth > crate::value::MAX_VALUE_DEPTH {
            return err("U1002", "value is nested too deeply");
        }
        match v {
            Value::Array(a, _) => {
                ev.charge(1)?;
                for item in &a.items {
                    go(ev, item, out, depth + 1)?;
                }
            }
            Value::Object(o) => {
                ev.charge(o.map.len())?;
                for (k, x) in &o.map {
                    let mut one = IndexMap::new();
                    one.insert(k.clone(), x.clone());
                    out.push(Value::object(one));
                }
            }
            other => out.push(other.clone()),
        }
        Ok(())
    }
    let v = arg(&args, 0);
    if !matches!(v, Value::Array(..) | Value::Object(_)) {
        return Ok(v.clone());
    }
    let mut out = Vec::new();
    go(ev, v, &mut out, 0)?;
    Ok(Value::seq(out))
}

fn merge(ev: &mut Evaluator, args: Vec<Value>, _: &Value) -> Result<Value, JsonataError> {
    let Value::Array(a, _) = arg(&args, 0) else {
        return Ok(Value::Undefined);
    };
    let mut out = IndexMap::new();
    for item in &a.items {
        if let Value::Object(o) = item {
            ev.charge(o.map.len())?;
            for (k, v) in &o.map {
                out.insert(k.clone(), v.clone());
            }
        }
    }
    Ok(Value::object(out))
}

/// Arguments for a `(value, key, object)` callback, trimmed to its arity.
fn entry_args(f: &Value, v: &Value, k: &str, obj: &Value) -> Vec<Value> {
    let mut a = vec![v.clone()];
    let n = arity(f);
    if n >= 2 {
        a.push(Value::string(k));
    }
    if n >= 3 {
        a.push(obj.clone());
    }
    a
}

fn each(ev: &mut Evaluator, args: Vec<Value>, _: &Value) -> Result<Value, JsonataError> {
    let obj = arg(&args, 0);
    let Value::Object(o) = obj else {
        return Ok(Value::Undefined);
    };
    let f = arg(&args, 1);
    let mut out = Vec::new();
    for (k, v) in &o.map {
        let r = ev.apply(f, entry_args(f, v, k, obj), &Value::Null)?;
        if !r.is_undefined() {
            out.push(r);
        }
    }
    Ok(Value::seq(out))
}

fn sift(ev: &mut Evaluator, args: Vec<Value>, _: &Value) -> Result<Value, JsonataError> {
    let obj = arg(&args, 0);
    let Value::Object(o) = obj else {
        return Ok(Value::Undefined);
    };
    let f = arg(&args, 1);
    let mut out = IndexMap::new();
    for (k, v) in &o.map {
        let r = ev.apply(f, entry_args(f, v, k, obj), &Value::Null)?;
        if ev.truthy(&r)? == Some(true) {
            out.insert(k.clone(), v.clone());
        }
    }
    Ok(if out.is_empty() { Value::Undefined } else { Value::object(out) })
}

fn type_(_: &mut Evaluator, args: Vec<Value>, _: &Value) -> Result<Value, JsonataError> {
    Ok(match arg(&args, 0) {
        Value::Undefined => Value::Undefined,
        v => Value::string(v.type_name()),
    })
}

fn boolean(ev: &mut Evaluator, args: Vec<Value>, _: &Value) -> Result<Value, JsonataError> {
    Ok(ev.truthy(arg(&args, 0))?.map_or(Value::Undefined, Value::Bool))
}

fn not(ev: &mut Evaluator, args: Vec<Value>, _: &Value) -> Result<Value, JsonataError> {
    Ok(ev.truthy(arg(&args, 0))?.map_or(Value::Undefined, |b| Value::Bool(!b)))
}

fn exists(_: &mut Evaluator, args: Vec<Value>, _: &Value) -> Result<Value, JsonataError> {
    Ok(Value::Bool(!arg(&args, 0).is_undefined()))
}

fn error(_: &mut Evaluator, args: Vec<Value>, _: &Value) -> Result<Value, JsonataError> {
    let msg = arg(&args, 0).as_str().unwrap_or("$error() function evaluated");
    err("D3137", msg)
}

fn assert(_: &mut Evaluator, args: Vec<Value>, _: &Value) -> Result<Value, JsonataError> {
    if matches!(arg(&args, 0), Value::Bool(true)) {
        return Ok(Value::Undefined);
    }
    err("D3141", arg(&args, 1).as_str().unwrap_or("$assert() statement failed"))
}
