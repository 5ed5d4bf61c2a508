//! Higher-order functions: `$map`, `$filter`, `$single`, `$reduce`. The
//! callback receives `(value, index, array)`, trimmed to the arguments it
//! declares.

use super::{arg, Entry};
use crate::error::{err, JsonataError};
use crate::eval::{arity, Evaluator};
use crate::value::Value;

pub(super) const FUNCTIONS: &[Entry] =
    &[("map", "<af>", 2, map), ("filter", "<af>", 2, filter), ("single", "<af?>", 2, single), ("reduce", "<afj?:j>", 3, reduce)];

fn item_args(f: &Value, v: &Value, i: usize, all: &Value) -> Vec<Value> {
    let mut a = vec![v.clone()];
    let n = arity(f);
    if n >= 2 {
        a.push(Value::Number(i as f64));
    }
    if n >= 3 {
        a.push(all.clone());
    }
    a
}

fn map(ev: &mut Evaluator, args: Vec<Value>, _: &Value) -> Result<Value, JsonataError> {
    let all = arg(&args, 0);
    let Value::Array(a, _) = all else {
        return Ok(Value::Undefined);
    };
    let f = arg(&args, 1);
    let mut out = Vec::with_capacity(a.items.len());
    for (i, v) in a.items.iter().enumerate() {
        let r = ev.apply(f, item_args(f, v, i, all), &Value::Null)?;
        if !r.is_undefined() {
            out.push(r);
        }
    }
    Ok(Value::seq(out))
}

fn filter(ev: &mut Evaluator, args: Vec<Value>, _: &Value) -> Result<Value, JsonataError> {
    let all = arg(&args, 0);
    let Value::Array(a, _) = all else {
        return Ok(Value::Undefined);
    };
    let f = arg(&args, 1);
    let mut out = Vec::new();
    for (i, v) in a.items.iter().enumerate() {
        let r = ev.apply(f, item_args(f, v, i, all), &Value::Null)?;
        if ev.truthy(&r)? == Some(true) {
            out.push(v.clone());
        }
    }
    Ok(Value::seq(out))
}

fn single(ev: &mut Evaluator, args: Vec<Value>, _: &Value) -> Result<Value, JsonataError> {
    let all = arg(&args, 0);
    let Value::Array(a, _) = all else {
        return Ok(Value::Undefined);
    };
    let f = arg(&args, 1);
    let mut found = None;
    for (i, v) in a.items.iter().enumerate() {
        let keep = match f {
            Value::Function(_) => {
                let r = ev.apply(f, item_args(f, v, i, all), &Value::Null)?;
                ev.truthy(&r)? == Some(true)
            }
            _ => true,
        };
        if keep {
            if found.is_some() {
                return err("D3138", "The $single() function expected exactly 1 matching result. Instead it matched more.");
            }
            found = Some(v.clone());
        }
    }
    found.ok_or_else(|| JsonataError::new("D3139", "The $single() function expected exactly 1 matching result. Instead it matched 0."))
}

fn reduce(ev: &mut Evaluator, args: Vec<Value>, _: &Value) -> Result<Value, JsonataError> {
    let all = arg(&args, 0);
    let Value::Array(a, _) = all else {
        return Ok(Value::Undefined);
    };
    let f = arg(&args, 1);
    let n = arity(f);
    if n < 2 {
        return err("D3050", "The second argument of reduce function must be a function with at least two arguments");
    }
    let init = arg(&args, 2);
    let (mut acc, start) = match (init, a.items.first()) {
        (Value::Undefined, Some(first)) => (first.clone(), 1),
        _ => (init.clone(), 0),
    };
    for (i, v) in a.items.iter().enumerate().skip(start) {
        let mut call = vec![acc, v.clone()];
        if n >= 3 {
            call.push(Value::Number(i as f64));
        }
        if n >= 4 {
            call.push(all.clone());
        }
        acc = ev.apply(f, call, &Value::Null)?;
    }
    Ok(acc)
}
