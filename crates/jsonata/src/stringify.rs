//! Text forms of values: JavaScript's `Number.prototype.toString` and the
//! `JSON.stringify` that `$string` (and so `&`) use, with JSONata's rounding
//! of numbers to 15 significant digits.

use super::error::{err, JsonataError};
use super::value::{Value, MAX_VALUE_DEPTH};
use std::fmt::Write;

/// `String(n)` in JavaScript: shortest round-trip digits, exponent form
/// outside 1e-7..1e21.
pub(crate) fn js_number(n: f64) -> String {
    if n == 0.0 {
        return "0".into();
    }
    if !n.is_finite() {
        return if n.is_nan() {
            "NaN".into()
        } else if n > 0.0 {
            "Infinity".into()
        } else {
            "-Infinity".into()
        };
    }
    let sci = format!("{:e}", n.abs());
    let (mantissa, exp) = sci.split_once('e').unwrap_or((&sci, "0"));
    let digits: String = mantissa.chars().filter(|c| *c != '.').collect();
    let e: i32 = exp.parse().unwrap_or(0);
    let k = digits.len() as i32;
    let point = e + 1; // the decimal point sits after `point` digits
    let mut out = String::new();
    if n < 0.0 {
        out.push('-');
    }
    if k <= point && point <= 21 {
        out.push_str(&digits);
        out.extend(std::iter::repeat_n('0', (point - k) as usize));
    } else if 0 < point && point <= 21 {
        out.push_str(&digits[..point as usize]);
        out.push('.');
        out.push_str(&digits[point as usize..]);
    } else if -6 < point && point <= 0 {
        out.push_str("0.");
        out.extend(std::iter::repeat_n('0', (-point) as usize));
        out.push_str(&digits);
    } else {
        out.push_str(&digits[..1]);
        if k > 1 {
            out.push('.');
            out.push_str(&digits[1..]);
        }
        let _ = write!(out, "e{}{}", if point > 0 { "+" } else { "-" }, (point - 1).abs());
    }
    out
}

/// `Number(n.toPrecision(15))`: hides binary noise such as `0.1 + 0.2`.
pub(crate) fn precision15(n: f64) -> f64 {
    format!("{n:.14e}").parse().unwrap_or(n)
}

/// `$string(value, prettify)`; `None` for undefined. Fails once the text
/// passes `limit` bytes (a value may share sub-values, so its text can be
/// exponentially larger than the work that built it).
pub(crate) fn to_string(v: &Value, pretty: bool, limit: usize) -> Result<Option<String>, JsonataError> {
    Ok(Some(match v {
        Value::Undefined => return Ok(None),
        Value::String(s) => s.to_string(),
        Value::Function(_) => String::new(),
        Value::Number(n) if !n.is_finite() => return err("D3001", "Attempting to invoke string function on Infinity or NaN"),
        other => {
            let mut out = String::new();
            write_json(&mut out, other, pretty, 0, limit)?;
            out
        }
    }))
}

/// Writes `s` as a JSON string literal.
pub(crate) fn write_json_string(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

fn newline(out: &mut String, pretty: bool, depth: usize) {
    if pretty {
        out.push('\n');
        out.extend(std::iter::repeat_n(' ', depth * 2));
    }
}

fn write_json(out: &mut String, v: &Value, pretty: bool, depth: usize, limit: usize) -> Result<(), JsonataError> {
    if depth > MAX_VALUE_DEPTH {
        return err("U1002", format!("value is nested more than {MAX_VALUE_DEPTH} levels deep"));
    }
    if out.len() > limit {
        return err("U1004", format!("String of more than {limit} bytes exceeds the limit"));
    }
    match v {
        Value::Undefined | Value::Null => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Number(n) => {
            if !n.is_finite() {
                return err("D3001", "Attempting to invoke string function on Infinity or NaN");
            }
            // JSONata writes positive exponents without `+` (1e21, 1e-7).
            out.push_str(&js_number(precision15(*n)).replace("e+", "e"))
        }
        Value::String(s) => write_json_string(out, s),
        Value::Function(_) => out.push_str("\"\""),
        Value::Array(a, _) => {
            if a.items.is_empty() {
                out.push_str("[]");
                return Ok(());
            }
            out.push('[');
            for (i, item) in a.items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                newline(out, pretty, depth + 1);
                write_json(out, item, pretty, depth + 1, limit)?;
            }
            newline(out, pretty, depth);
            out.push(']');
        }
        Value::Object(o) => {
            let mut first = true;
            out.push('{');
            for (k, item) in &o.map {
                if item.is_undefined() {
                    continue;
                }
                if !first {
                    out.push(',');
                }
                first = false;
                newline(out, pretty, depth + 1);
                write_json_string(out, k);
                out.push_str(if pretty { ": " } else { ":" });
                write_json(out, item, pretty, depth + 1, limit)?;
            }
            if !first {
                newline(out, pretty, depth);
            }
            out.push('}');
        }
    }
    Ok(())
}
