//! Number formatting and parsing with XPath-style pictures: `$formatNumber`
//! (decimal pictures: `#`, `0`, grouping, fraction, `%`, `‰`, a negative
//! sub-picture after `;`), `$formatBase`, and decimal pictures of
//! `$formatInteger` / `$parseInteger`. Exponent pictures, words and roman
//! numerals are not supported (error D3133).

use super::numeric::round_half_even;
use super::{arg, Entry};
use crate::jsonata::error::{err, JsonataError};
use crate::jsonata::eval::Evaluator;
use crate::jsonata::value::Value;

pub(super) const FUNCTIONS: &[Entry] = &[
    ("formatNumber", "<n-so?:s>", 2, format_number),
    ("formatBase", "<n-n?:s>", 1, format_base),
    ("formatInteger", "<n-s:s>", 2, format_integer),
    ("parseInteger", "<s-s:n>", 2, parse_integer),
];

struct Symbols {
    decimal: char,
    grouping: char,
    minus: String,
}

fn unsupported<T>(picture: &str) -> Result<T, JsonataError> {
    err("D3133", format!("The picture string \"{picture}\" is not supported (only decimal digit pictures are)"))
}

/// Formats `n` with one decimal sub-picture (no sign handling).
fn format_decimal(n: f64, picture: &str, sym: &Symbols) -> Result<String, JsonataError> {
    let is_active = |c: char| c.is_ascii_digit() || c == '#' || c == sym.decimal || c == sym.grouping;
    let chars: Vec<char> = picture.chars().collect();
    let first = chars.iter().position(|c| is_active(*c));
    let last = chars.iter().rposition(|c| is_active(*c));
    let (Some(first), Some(last)) = (first, last) else {
        return err("D3085", format!("The picture string \"{picture}\" must contain at least one digit or #"));
    };
    let prefix: String = chars[..first].iter().collect();
    let suffix: String = chars[last + 1..].iter().collect();
    let body: String = chars[first..=last].iter().collect();
    if body.chars().any(|c| c.is_alphabetic() && !c.is_ascii_digit()) {
        return unsupported(picture);
    }
    let mut n = n;
    if prefix.contains('%') || suffix.contains('%') {
        n *= 100.0;
    } else if prefix.contains('‰') || suffix.contains('‰') {
        n *= 1000.0;
    }
    let (int_pic, frac_pic) = match body.split_once(sym.decimal) {
        Some((i, f)) => (i.to_string(), f.to_string()),
        None => (body.clone(), String::new()),
    };
    let min_int = int_pic.chars().filter(|c| c.is_ascii_digit()).count();
    let min_frac = frac_pic.chars().filter(|c| c.is_ascii_digit()).count();
    let max_frac = frac_pic.chars().filter(|c| c.is_ascii_digit() || *c == '#').count();
    // Grouping positions, counted from the right of the integer part.
    let mut groups = Vec::new();
    let mut count = 0;
    for c in int_pic.chars().rev() {
        if c == sym.grouping {
            groups.push(count);
        } else {
            count += 1;
        }
    }
    let rounded = round_half_even(n, max_frac as i32);
    let fixed = format!("{:.*}", max_frac, rounded.abs());
    let (int_digits, frac_digits) = fixed.split_once('.').unwrap_or((&fixed, ""));
    let mut int_digits = int_digits.trim_start_matches('0').to_string();
    while int_digits.len() < min_int {
        int_digits.insert(0, '0');
    }
    let mut frac_digits = frac_digits.to_string();
    while frac_digits.len() > min_frac && frac_digits.ends_with('0') {
        frac_digits.pop();
    }
    if int_digits.is_empty() && frac_digits.is_empty() {
        int_digits.push('0');
    }
    // A regular grouping pattern (every 3) repeats; an irregular one does not.
    let regular = groups.first().is_some_and(|g| *g > 0) && groups.iter().enumerate().all(|(i, g)| *g == groups[0] * (i + 1));
    let mut grouped = String::new();
    let len = int_digits.len();
    for (i, c) in int_digits.chars().enumerate() {
        let from_right = len - i;
        if i > 0 {
            let at = if regular { from_right % groups[0] == 0 } else { groups.contains(&from_right) && from_right > 0 };
            if at {
                grouped.push(sym.grouping);
            }
        }
        grouped.push(c);
    }
    let mut out = prefix;
    out.push_str(&grouped);
    if !frac_digits.is_empty() {
        out.push(sym.decimal);
        out.push_str(&frac_digits);
    }
    out.push_str(&suffix);
    Ok(out)
}

fn format_number(ev: &mut Evaluator, args: Vec<Value>, _: &Value) -> Result<Value, JsonataError> {
    let Value::Number(n) = arg(&args, 0) else { return Ok(Value::Undefined) };
    let picture = arg(&args, 1).as_str().unwrap_or("");
    let mut sym = Symbols { decimal: '.', grouping: ',', minus: "-".into() };
    if let Value::Object(o) = arg(&args, 2) {
        let one = |k: &str| o.map.get(k).and_then(Value::as_str).and_then(|s| s.chars().next());
        sym.decimal = one("decimal-separator").unwrap_or('.');
        sym.grouping = one("grouping-separator").unwrap_or(',');
        if let Some(m) = o.map.get("minus-sign").and_then(Value::as_str) {
            sym.minus = m.to_string();
        }
    }
    if picture.len() > 1000 {
        return unsupported(picture);
    }
    let (pos_pic, neg_pic) = match picture.split_once(';') {
        Some((p, neg)) => (p, Some(neg)),
        None => (picture, None),
    };
    let out = match (n.is_sign_negative() && *n != 0.0, neg_pic) {
        (true, Some(neg)) => format_decimal(-n, neg, &sym)?,
        (true, None) => format!("{}{}", sym.minus, format_decimal(-n, pos_pic, &sym)?),
        (false, _) => format_decimal(*n, pos_pic, &sym)?,
    };
    ev.check_str(out.len())?;
    Ok(Value::string(out))
}

fn format_base(_: &mut Evaluator, args: Vec<Value>, _: &Value) -> Result<Value, JsonataError> {
    let Value::Number(n) = arg(&args, 0) else { return Ok(Value::Undefined) };
    let radix = arg(&args, 1).as_f64().unwrap_or(10.0);
    if !(2.0..=36.0).contains(&radix) {
        return err("D3100", format!("The radix of the formatBase function must be between 2 and 36. It was given {radix}"));
    }
    let radix = radix as u32;
    let v = round_half_even(*n, 0);
    if v.abs() >= 1e300 {
        return err("D1001", "Number out of range");
    }
    let mut digits = Vec::new();
    let mut m = v.abs();
    if m == 0.0 {
        digits.push('0');
    }
    while m >= 1.0 {
        let d = (m % radix as f64) as u32;
        digits.push(std::char::from_digit(d, radix).unwrap_or('0'));
        m = (m / radix as f64).floor();
    }
    if v < 0.0 {
        digits.push('-');
    }
    Ok(Value::string(digits.iter().rev().collect::<String>()))
}

fn decimal_symbols() -> Symbols {
    Symbols { decimal: '.', grouping: ',', minus: "-".into() }
}

fn format_integer(ev: &mut Evaluator, args: Vec<Value>, _: &Value) -> Result<Value, JsonataError> {
    let Value::Number(n) = arg(&args, 0) else { return Ok(Value::Undefined) };
    let picture = arg(&args, 1).as_str().unwrap_or("");
    if picture.is_empty() || picture.len() > 1000 || !picture.chars().all(|c| c.is_ascii_digit() || c == '#' || c == ',') {
        return unsupported(picture);
    }
    let v = n.trunc();
    let body = format_decimal(v.abs(), picture, &decimal_symbols())?;
    let out = if v < 0.0 { format!("-{body}") } else { body };
    ev.check_str(out.len())?;
    Ok(Value::string(out))
}

fn parse_integer(_: &mut Evaluator, args: Vec<Value>, _: &Value) -> Result<Value, JsonataError> {
    let Some(s) = arg(&args, 0).as_str() else { return Ok(Value::Undefined) };
    let picture = arg(&args, 1).as_str().unwrap_or("");
    if picture.is_empty() || !picture.chars().all(|c| c.is_ascii_digit() || c == '#' || c == ',') {
        return unsupported(picture);
    }
    let (neg, body) = match s.strip_prefix('-') {
        Some(b) => (true, b),
        None => (false, s),
    };
    let digits: String = body.chars().filter(|c| *c != ',').collect();
    if digits.is_empty() || !digits.chars().all(|c| c.is_ascii_digit()) {
        return err("D3137", format!("Unable to parse \"{s}\" as an integer with picture \"{picture}\""));
    }
    let v: f64 = digits.parse().unwrap_or(0.0);
    Ok(Value::Number(if neg { -v } else { v }))
}
