//! The functions AWS Step Functions adds to JSONata (replacing the
//! `States.*` intrinsics): `$partition`, `$range`, `$hash`, `$random` (with
//! an optional seed), `$uuid` and `$parse`.
//!
//! `$random(seed)` is `new java.util.Random(seed).nextDouble()` (see
//! `crate::random`); AWS does not document its seeded generator.

use super::{arg, Entry};
use crate::digest::{HashAlgorithm, UnknownHashAlgorithm};
use crate::error::{err, JsonataError};
use crate::eval::Evaluator;
use crate::random::{self, JavaRandom};
use crate::value::Value;

pub(super) const FUNCTIONS: &[Entry] = &[
    ("partition", "<an:a>", 2, partition),
    ("range", "<nnn?:a>", 3, range),
    ("hash", "<s-s?:s>", 2, hash),
    ("random", "<n?:n>", 0, random),
    ("uuid", "<:s>", 0, uuid),
    ("parse", "<s-:x>", 1, parse),
];

fn random(ev: &mut Evaluator, args: Vec<Value>, _: &Value) -> Result<Value, JsonataError> {
    Ok(Value::Number(match arg(&args, 0) {
        // Java's `(long) seed`: truncated toward zero, saturated, NaN is 0.
        Value::Number(seed) => JavaRandom::new(*seed as i64).next_double(),
        _ => ev.next_random(),
    }))
}

fn partition(ev: &mut Evaluator, args: Vec<Value>, _: &Value) -> Result<Value, JsonataError> {
    let Value::Array(a, _) = arg(&args, 0) else {
        return Ok(Value::Undefined);
    };
    // AWS rounds a non-integer size down.
    let size = arg(&args, 1).as_f64().unwrap_or(0.0).floor();
    if size < 1.0 {
        return err("D3200", "The second argument of $partition must be a positive integer");
    }
    ev.charge(a.items.len())?;
    let size = size.min(usize::MAX as f64) as usize;
    Ok(Value::array(a.items.chunks(size).map(|c| Value::array(c.to_vec())).collect()))
}

fn range(ev: &mut Evaluator, args: Vec<Value>, _: &Value) -> Result<Value, JsonataError> {
    let (Some(start), Some(end)) = (arg(&args, 0).as_f64(), arg(&args, 1).as_f64()) else {
        return Ok(Value::Undefined);
    };
    let step = arg(&args, 2).as_f64().unwrap_or(1.0);
    if step == 0.0 {
        return err("D3201", "The step of $range must not be zero");
    }
    let count = ((end - start) / step).floor() + 1.0;
    // The numbers are a result sequence, as a path's matches are: one number
    // comes out as the number itself, none as undefined (AWS: a
    // single-element range collapses to the bare number).
    if count <= 0.0 {
        return Ok(Value::Undefined);
    }
    if count > ev_limit(ev) as f64 {
        return err("D2014", format!("$range would produce {count} items, more than the limit of {}", ev_limit(ev)));
    }
    let count = count as usize;
    ev.check_len(count)?;
    Ok(Value::seq((0..count).map(|i| Value::Number(start + step * i as f64)).collect()))
}

fn ev_limit(ev: &Evaluator) -> usize {
    ev.max_sequence()
}

fn hash(_: &mut Evaluator, args: Vec<Value>, _: &Value) -> Result<Value, JsonataError> {
    let Some(data) = arg(&args, 0).as_str() else {
        return Ok(Value::Undefined);
    };
    match arg(&args, 1).as_str().unwrap_or("SHA-256").parse::<HashAlgorithm>() {
        Ok(algorithm) => Ok(Value::string(algorithm.hex_digest(data))),
        Err(UnknownHashAlgorithm(other)) => {
            err("D3202", format!("Unsupported hash algorithm \"{other}\": use MD5, SHA-1, SHA-256, SHA-384 or SHA-512"))
        }
    }
}

fn uuid(_: &mut Evaluator, _: Vec<Value>, _: &Value) -> Result<Value, JsonataError> {
    Ok(Value::string(random::uuid_v4()))
}

fn parse(ev: &mut Evaluator, args: Vec<Value>, _: &Value) -> Result<Value, JsonataError> {
    let Some(s) = arg(&args, 0).as_str() else {
        return Ok(Value::Undefined);
    };
    ev.charge(s.len() / 64)?;
    match serde_json::from_str::<serde_json::Value>(s) {
        Ok(j) => Value::from_json(&j),
        Err(e) => err("D3203", format!("$parse: the string is not valid JSON: {e}")),
    }
}
