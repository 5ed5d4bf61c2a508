//! Number formatting and parsing with XPath-style pictures: `$formatNumber`
//! (decimal pictures: `#`, `0`, grouping, fraction, `%`, `‰`, a negative
//! sub-picture after `;`), `$formatBase`, and decimal pictures of
//! `$formatInteger` / `$parseInteger`. Exponent pictures, words and roman
//! numerals are not supported (error D3133).

use super::numeric::round_half_even;
use super::{arg, Entry};
use crate::error::{err, JsonataError};
use crate::eval::Evaluator;
use crate::value::Value;

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
    percent: String,
    per_mille: String,
}

impl Default for Symbols {
    fn default() -> Symbols {
        Symbols { decimal: '.', grouping: ',', minus: "-".into(), percent: "%".into(), per_mille: "‰".into() }
    }
}

/// The picture rules of XPath `format-number` that jsonata-js enforces.
fn validate_sub_picture(pic: &str, sym: &Symbols) -> Result<(), JsonataError> {
    let fail = |code: &'static str, what: &str| err(code, format!("The picture string \"{pic}\" {what}"));
    if pic.matches(sym.decimal).count() > 1 {
        return fail("D3081", "must not contain more than one decimal separator");
    }
    let (pc, pm) = (pic.matches(sym.percent.as_str()).count(), pic.matches(sym.per_mille.as_str()).count());
    if pc > 1 {
        return fail("D3082", "must not contain more than one percent character");
    }
    if pm > 1 {
        return fail("D3083", "must not contain more than one per-mille character");
    }
    if pc > 0 && pm > 0 {
        return fail("D3084", "must not contain both a percent and a per-mille character");
    }
    let g = sym.grouping;
    let d = sym.decimal;
    if pic.contains(&format!("{g}{d}")) || pic.contains(&format!("{d}{g}")) {
        return fail("D3087", "must not have a grouping separator next to the decimal separator");
    }
    let int_part = pic.split(d).next().unwrap_or("");
    let int_active: String = int_part.chars().filter(|c| c.is_ascii_digit() || *c == '#' || *c == g).collect();
    if int_active.ends_with(g) {
        return fail("D3088", "must not end its integer part with a grouping separator");
    }
    if pic.contains(&format!("{g}{g}")) {
        return fail("D3089", "must not contain two adjacent grouping separators");
    }
    let int_digits: String = int_part.chars().filter(|c| c.is_ascii_digit() || *c == '#').collect();
    if let Some(first_digit) = int_digits.find(|c: char| c.is_ascii_digit()) {
        if int_digits[first_digit..].contains('#') {
            return fail("D3090", "must not have an optional digit (#) after a mandatory digit in its integer part");
        }
    }
    if let Some(frac) = pic.split(d).nth(1) {
        let frac_digits: String = frac.chars().filter(|c| c.is_ascii_digit() || *c == '#').collect();
        if let Some(first_hash) = frac_digits.find('#') {
            if frac_digits[first_hash..].chars().any(|c| c.is_ascii_digit()) {
                return fail("D3091", "must not have a mandatory digit after an optional digit (#) in its fractional part");
            }
        }
    }
    Ok(())
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
    let mentions = |t: &str| prefix.contains(t) || suffix.contains(t);
    if mentions(&sym.percent) {
        n *= 100.0;
    } else if mentions(&sym.per_mille) {
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
    // Grouping in the fraction, counted from the decimal separator.
    let mut frac_groups = Vec::new();
    let mut count = 0;
    for c in frac_pic.chars() {
        if c == sym.grouping {
            frac_groups.push(count);
        } else {
            count += 1;
        }
    }
    let frac_digits: String = frac_digits
        .chars()
        .enumerate()
        .flat_map(|(i, c)| {
            let sep = (i > 0 && frac_groups.contains(&i)).then_some(sym.grouping);
            sep.into_iter().chain(std::iter::once(c))
        })
        .collect();
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
    let Value::Number(n) = arg(&args, 0) else {
        return Ok(Value::Undefined);
    };
    let picture = arg(&args, 1).as_str().unwrap_or("");
    let mut sym = Symbols::default();
    if let Value::Object(o) = arg(&args, 2) {
        let text = |k: &str| o.map.get(k).and_then(Value::as_str).filter(|s| !s.is_empty());
        let one = |k: &str| text(k).and_then(|s| s.chars().next());
        sym.decimal = one("decimal-separator").unwrap_or('.');
        sym.grouping = one("grouping-separator").unwrap_or(',');
        sym.minus = text("minus-sign").unwrap_or("-").to_string();
        sym.percent = text("percent").unwrap_or("%").to_string();
        sym.per_mille = text("per-mille").unwrap_or("‰").to_string();
    }
    if picture.len() > 1000 {
        return unsupported(picture);
    }
    if picture.matches(';').count() > 1 {
        return err("D3080", format!("The picture string \"{picture}\" must not contain more than one ;"));
    }
    let (pos_pic, neg_pic) = match picture.split_once(';') {
        Some((p, neg)) => (p, Some(neg)),
        None => (picture, None),
    };
    validate_sub_picture(pos_pic, &sym)?;
    if let Some(neg) = neg_pic {
        validate_sub_picture(neg, &sym)?;
    }
    let out = match (n.is_sign_negative() && *n != 0.0, neg_pic) {
        (true, Some(neg)) => format_decimal(-n, neg, &sym)?,
        (true, None) => format!("{}{}", sym.minus, format_decimal(-n, pos_pic, &sym)?),
        (false, _) => format_decimal(*n, pos_pic, &sym)?,
    };
    ev.check_str(out.len())?;
    Ok(Value::string(out))
}

fn format_base(_: &mut Evaluator, args: Vec<Value>, _: &Value) -> Result<Value, JsonataError> {
    let Value::Number(n) = arg(&args, 0) else {
        return Ok(Value::Undefined);
    };
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

fn format_integer(ev: &mut Evaluator, args: Vec<Value>, _: &Value) -> Result<Value, JsonataError> {
    let Value::Number(n) = arg(&args, 0) else {
        return Ok(Value::Undefined);
    };
    let picture = arg(&args, 1).as_str().unwrap_or("");
    if picture.is_empty() || picture.len() > 1000 || !picture.chars().all(|c| c.is_ascii_digit() || c == '#' || c == ',') {
        return unsupported(picture);
    }
    let v = n.trunc();
    let body = format_decimal(v.abs(), picture, &Symbols::default())?;
    let out = if v < 0.0 { format!("-{body}") } else { body };
    ev.check_str(out.len())?;
    Ok(Value::string(out))
}

fn parse_integer(_: &mut Evaluator, args: Vec<Value>, _: &Value) -> Result<Value, JsonataError> {
    let Some(s) = arg(&args, 0).as_str() else {
        return Ok(Value::Undefined);
    };
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
