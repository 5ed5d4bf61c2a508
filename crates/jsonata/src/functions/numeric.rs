//! Numeric functions: `$number`, `$abs`, `$floor`, `$ceil`, `$round`
//! (half to even, like jsonata-js), `$power`, `$sqrt` and the aggregates
//! `$sum`, `$max`, `$min`, `$average`.

use super::{arg, Entry};
use crate::error::{err, JsonataError};
use crate::eval::Evaluator;
use crate::stringify::js_number;
use crate::value::Value;

pub(super) const FUNCTIONS: &[Entry] = &[
    ("number", "<(nsb)-:n>", 1, number),
    ("abs", "<n-:n>", 1, abs),
    ("floor", "<n-:n>", 1, floor),
    ("ceil", "<n-:n>", 1, ceil),
    ("round", "<n-n?:n>", 1, round),
    ("power", "<n-n:n>", 2, power),
    ("sqrt", "<n-:n>", 1, sqrt),
    ("sum", "<a<n>:n>", 1, sum),
    ("max", "<a<n>:n>", 1, max),
    ("min", "<a<n>:n>", 1, min),
    ("average", "<a<n>:n>", 1, average),
];

fn num(v: f64) -> Result<Value, JsonataError> {
    if v.is_finite() {
        Ok(Value::Number(if v == 0.0 { 0.0 } else { v }))
    } else {
        err("D1001", format!("Number out of range: {}", js_number(v)))
    }
}

/// Parses the text forms `$number` accepts: JSON numbers and 0x/0o/0b integers.
pub(crate) fn parse_number(s: &str) -> Option<f64> {
    let radix = |p: &str, r: u32| {
        let digits = s.get(2..)?;
        (s.get(..2)?.eq_ignore_ascii_case(p) && !digits.is_empty()).then(|| u64::from_str_radix(digits, r).ok().map(|v| v as f64)).flatten()
    };
    if let Some(v) = radix("0x", 16).or_else(|| radix("0o", 8)).or_else(|| radix("0b", 2)) {
        return Some(v);
    }
    let body = s.strip_prefix('-').unwrap_or(s);
    let int_len = body.find(|c: char| !c.is_ascii_digit()).unwrap_or(body.len());
    if int_len == 0 {
        return None;
    }
    let rest = &body[int_len..];
    let rest = match rest.strip_prefix('.') {
        Some(frac) => {
            let n = frac.find(|c: char| !c.is_ascii_digit()).unwrap_or(frac.len());
            if n == 0 {
                return None;
            }
            &frac[n..]
        }
        None => rest,
    };
    if !rest.is_empty() {
        let exp = rest.strip_prefix(['e', 'E'])?;
        let exp = exp.strip_prefix(['+', '-']).unwrap_or(exp);
        if exp.is_empty() || !exp.chars().all(|c| c.is_ascii_digit()) {
            return None;
        }
    }
    s.parse::<f64>().ok().filter(|v| v.is_finite())
}

fn number(_: &mut Evaluator, args: Vec<Value>, _: &Value) -> Result<Value, JsonataError> {
    match arg(&args, 0) {
        Value::Undefined => Ok(Value::Undefined),
        Value::Number(n) => Ok(Value::Number(*n)),
        Value::Bool(b) => Ok(Value::Number(if *b { 1.0 } else { 0.0 })),
        Value::String(s) => match parse_number(s) {
            Some(n) => Ok(Value::Number(n)),
            None => err("D3030", format!("Unable to cast value to a number: \"{s}\"")),
        },
        other => err("D3030", format!("Unable to cast value to a number: {}", other.type_name())),
    }
}

fn unary(args: &[Value], f: fn(f64) -> f64) -> Result<Value, JsonataError> {
    match arg(args, 0) {
        Value::Number(n) => num(f(*n)),
        _ => Ok(Value::Undefined),
    }
}

fn abs(_: &mut Evaluator, args: Vec<Value>, _: &Value) -> Result<Value, JsonataError> {
    unary(&args, f64::abs)
}

fn floor(_: &mut Evaluator, args: Vec<Value>, _: &Value) -> Result<Value, JsonataError> {
    unary(&args, f64::floor)
}

fn ceil(_: &mut Evaluator, args: Vec<Value>, _: &Value) -> Result<Value, JsonataError> {
    unary(&args, f64::ceil)
}

/// Shifts the decimal point of `n` by `places` through its text form, as
/// jsonata-js does (multiplying by a power of ten would add binary noise).
fn shift(n: f64, places: i32) -> f64 {
    let s = js_number(n);
    let (mantissa, exp) = match s.split_once('e') {
        Some((m, e)) => (m.to_string(), e.parse::<i32>().unwrap_or(0)),
        None => (s, 0),
    };
    format!("{mantissa}e{}", exp + places).parse().unwrap_or(n)
}

/// Rounds half to even at `precision` decimal places.
pub(crate) fn round_half_even(n: f64, precision: i32) -> f64 {
    let x = if precision != 0 { shift(n, precision) } else { n };
    let mut r = (x + 0.5).floor();
    if (r - x).abs() == 0.5 && (r % 2.0).abs() == 1.0 {
        r -= 1.0;
    }
    let r = if precision != 0 { shift(r, -precision) } else { r };
    if r == 0.0 {
        0.0
    } else {
        r
    }
}

fn round(_: &mut Evaluator, args: Vec<Value>, _: &Value) -> Result<Value, JsonataError> {
    let Value::Number(n) = arg(&args, 0) else {
        return Ok(Value::Undefined);
    };
    let precision = arg(&args, 1).as_f64().unwrap_or(0.0).trunc().clamp(-400.0, 400.0) as i32;
    num(round_half_even(*n, precision))
}

fn power(_: &mut Evaluator, args: Vec<Value>, _: &Value) -> Result<Value, JsonataError> {
    let (Value::Number(b), Value::Number(e)) = (arg(&args, 0), arg(&args, 1)) else {
        return Ok(Value::Undefined);
    };
    let r = b.powf(*e);
    if !r.is_finite() {
        return err(
            "D3061",
            format!(
                "The power function has resulted in a value that cannot be represented as a JSON number: base={}, exponent={}",
                js_number(*b),
                js_number(*e)
            ),
        );
    }
    num(r)
}

fn sqrt(_: &mut Evaluator, args: Vec<Value>, _: &Value) -> Result<Value, JsonataError> {
    let Value::Number(n) = arg(&args, 0) else {
        return Ok(Value::Undefined);
    };
    if *n < 0.0 {
        return err("D3060", format!("The sqrt function cannot be applied to a negative number: {}", js_number(*n)));
    }
    num(n.sqrt())
}

/// The numbers of an aggregate's array argument (`None` when undefined).
fn numbers(args: &[Value]) -> Option<Vec<f64>> {
    match arg(args, 0) {
        Value::Array(a, _) => Some(a.items.iter().filter_map(Value::as_f64).collect()),
        _ => None,
    }
}

fn sum(ev: &mut Evaluator, args: Vec<Value>, _: &Value) -> Result<Value, JsonataError> {
    let Some(ns) = numbers(&args) else {
        return Ok(Value::Undefined);
    };
    ev.charge(ns.len())?;
    num(ns.iter().sum())
}

fn max(ev: &mut Evaluator, args: Vec<Value>, _: &Value) -> Result<Value, JsonataError> {
    let Some(ns) = numbers(&args) else {
        return Ok(Value::Undefined);
    };
    ev.charge(ns.len())?;
    Ok(ns.into_iter().reduce(f64::max).map_or(Value::Undefined, Value::Number))
}

fn min(ev: &mut Evaluator, args: Vec<Value>, _: &Value) -> Result<Value, JsonataError> {
    let Some(ns) = numbers(&args) else {
        return Ok(Value::Undefined);
    };
    ev.charge(ns.len())?;
    Ok(ns.into_iter().reduce(f64::min).map_or(Value::Undefined, Value::Number))
}

fn average(ev: &mut Evaluator, args: Vec<Value>, _: &Value) -> Result<Value, JsonataError> {
    let Some(ns) = numbers(&args) else {
        return Ok(Value::Undefined);
    };
    ev.charge(ns.len())?;
    if ns.is_empty() {
        return Ok(Value::Undefined);
    }
    num(ns.iter().sum::<f64>() / ns.len() as f64)
}
