//! Array functions: `$count`, `$append`, `$sort`, `$reverse`, `$shuffle`,
//! `$distinct`, `$zip`.

use super::{arg, Entry};
use crate::error::{err, JsonataError};
use crate::eval::{merge_sort, Evaluator};
use crate::value::Value;
use std::collections::HashSet;

pub(super) const FUNCTIONS: &[Entry] = &[
    ("count", "<a:n>", 1, count),
    ("append", "<xx:a>", 2, append),
    ("sort", "<af?:a>", 1, sort),
    ("reverse", "<a:a>", 1, reverse),
    ("shuffle", "<a:a>", 1, shuffle),
    ("distinct", "<x:x>", 1, distinct),
    ("zip", "<a+>", 1, zip),
];

fn count(_: &mut Evaluator, args: Vec<Value>, _: &Value) -> Result<Value, JsonataError> {
    Ok(Value::Number(arg(&args, 0).members().map_or(0, |m| m.len()) as f64))
}

/// jsonata-js `fn.append`: undefined sides vanish, others concatenate.
pub(crate) fn append_values(ev: &mut Evaluator, a: &Value, b: &Value) -> Result<Value, JsonataError> {
    if a.is_undefined() {
        return Ok(b.clone());
    }
    if b.is_undefined() {
        return Ok(a.clone());
    }
    let mut items = a.items();
    let more = b.items();
    ev.check_len(items.len() + more.len())?;
    items.extend(more);
    Ok(Value::array(items))
}

fn append(ev: &mut Evaluator, args: Vec<Value>, _: &Value) -> Result<Value, JsonataError> {
    append_values(ev, arg(&args, 0), arg(&args, 1))
}

fn sort(ev: &mut Evaluator, args: Vec<Value>, _: &Value) -> Result<Value, JsonataError> {
    let v = arg(&args, 0);
    let Some(items) = v.members() else {
        return Ok(v.clone());
    };
    if items.len() <= 1 {
        return Ok(v.clone());
    }
    let items = items.to_vec();
    let sorted = match arg(&args, 1) {
        f @ Value::Function(_) => {
            let f = f.clone();
            merge_sort(ev, items, &mut |ev, a, b| {
                ev.charge(1)?;
                let r = ev.apply(&f, vec![a.clone(), b.clone()], &Value::Null)?;
                Ok(ev.truthy(&r)? == Some(true))
            })?
        }
        _ => {
            let all_numbers = items.iter().all(|x| matches!(x, Value::Number(_)));
            let all_strings = items.iter().all(|x| matches!(x, Value::String(_)));
            if !all_numbers && !all_strings {
                return err("D3070", "The single argument form of the sort function can only be applied to an array of strings or an array of numbers. Use the second argument to specify a comparison function");
            }
            merge_sort(ev, items, &mut |ev, a, b| {
                ev.charge(1)?;
                Ok(match (a, b) {
                    (Value::Number(x), Value::Number(y)) => x > y,
                    (Value::String(x), Value::String(y)) => x > y,
                    _ => false,
                })
            })?
        }
    };
    Ok(Value::array(sorted))
}

fn reverse(ev: &mut Evaluator, args: Vec<Value>, _: &Value) -> Result<Value, JsonataError> {
    let v = arg(&args, 0);
    let Some(items) = v.members() else {
        return Ok(v.clone());
    };
    ev.charge(items.len())?;
    Ok(Value::array(items.iter().rev().cloned().collect()))
}

fn shuffle(ev: &mut Evaluator, args: Vec<Value>, _: &Value) -> Result<Value, JsonataError> {
    let v = arg(&args, 0);
    let Some(items) = v.members() else {
        return Ok(v.clone());
    };
    ev.charge(items.len())?;
    let mut items = items.to_vec();
    for i in (1..items.len()).rev() {
        let j = (ev.next_random() * (i + 1) as f64) as usize;
        items.swap(i, j.min(i));
    }
    Ok(Value::array(items))
}

fn distinct(ev: &mut Evaluator, args: Vec<Value>, _: &Value) -> Result<Value, JsonataError> {
    let v = arg(&args, 0);
    let Some(items) = v.members() else {
        return Ok(v.clone());
    };
    if items.len() <= 1 {
        return Ok(v.clone());
    }
    let mut out: Vec<Value> = Vec::new();
    let mut seen_scalars = HashSet::new();
    let mut containers: Vec<Value> = Vec::new();
    for item in items {
        ev.charge(1)?;
        let fresh = match item {
            Value::Array(..) | Value::Object(_) | Value::Function(_) => {
                let mut found = false;
                for c in &containers {
                    ev.charge(1)?;
                    if ev.equal(c, item)? {
                        found = true;
                        break;
                    }
                }
                if !found {
                    containers.push(item.clone());
                }
                !found
            }
            // Scalars compare by type and JSON text (1 and "1" differ).
            scalar => seen_scalars.insert(scalar_key(scalar)),
        };
        if fresh {
            out.push(item.clone());
        }
    }
    Ok(if v.is_sequence() { Value::seq(out) } else { Value::array(out) })
}

fn zip(ev: &mut Evaluator, args: Vec<Value>, _: &Value) -> Result<Value, JsonataError> {
    let arrays: Vec<Vec<Value>> = args.iter().map(Value::items).collect();
    let len = arrays.iter().map(Vec::len).min().unwrap_or(0);
    ev.check_len(len * arrays.len().max(1))?;
    let out = (0..len).map(|i| Value::array(arrays.iter().map(|a| a[i].clone()).collect())).collect();
    Ok(Value::array(out))
}

/// An exact identity for a scalar (1 and "1" differ; 0 and -0 do not).
fn scalar_key(v: &Value) -> (&'static str, String) {
    let text = match v {
        Value::Number(n) => format!("{:?}", if *n == 0.0 { 0.0 } else { *n }),
        Value::String(s) => s.to_string(),
        Value::Bool(b) => b.to_string(),
        _ => String::new(),
    };
    (v.type_name(), text)
}
