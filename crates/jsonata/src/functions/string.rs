//! String functions: `$string`, `$length`, `$substring*`, case, `$trim`,
//! `$pad`, `$contains`, `$split`, `$join`, `$match`, `$replace`, Base64 and
//! URL encoding. Lengths and offsets count Unicode code points.

use super::{arg, Entry};
use crate::error::{err, JsonataError};
use crate::eval::Evaluator;
use crate::stringify;
use crate::value::{Function, Value};
use base64::Engine;
use indexmap::IndexMap;

pub(super) const FUNCTIONS: &[Entry] = &[
    ("string", "<x-b?:s>", 1, string),
    ("length", "<s-:n>", 1, length),
    ("substring", "<s-nn?:s>", 2, substring),
    ("substringBefore", "<s-s:s>", 2, substring_before),
    ("substringAfter", "<s-s:s>", 2, substring_after),
    ("uppercase", "<s-:s>", 1, uppercase),
    ("lowercase", "<s-:s>", 1, lowercase),
    ("trim", "<s-:s>", 1, trim),
    ("pad", "<s-ns?:s>", 2, pad),
    ("contains", "<s-(sf):b>", 2, contains),
    ("split", "<s-(sf)n?:a<s>>", 2, split),
    ("join", "<a<s>s?:s>", 1, join),
    ("match", "<s-f<s:o>n?:a<o>>", 2, match_),
    ("replace", "<s-(sf)(sf)n?:s>", 3, replace),
    ("base64encode", "<s-:s>", 1, base64encode),
    ("base64decode", "<s-:s>", 1, base64decode),
    ("encodeUrlComponent", "<s-:s>", 1, encode_url_component),
    ("encodeUrl", "<s-:s>", 1, encode_url),
    ("decodeUrlComponent", "<s-:s>", 1, decode_url_component),
    ("decodeUrl", "<s-:s>", 1, decode_url),
];

/// The first argument as a string, or `None` for undefined (the signature
/// has already rejected other types).
fn text(args: &[Value]) -> Option<&str> {
    arg(args, 0).as_str()
}

fn done(ev: &mut Evaluator, s: String) -> Result<Value, JsonataError> {
    ev.check_str(s.len())?;
    Ok(Value::string(s))
}

fn string(ev: &mut Evaluator, args: Vec<Value>, _: &Value) -> Result<Value, JsonataError> {
    let pretty = matches!(arg(&args, 1), Value::Bool(true));
    let limit = ev.limits.max_string_bytes;
    match stringify::to_string(arg(&args, 0), pretty, limit)? {
        Some(s) => done(ev, s),
        None => Ok(Value::Undefined),
    }
}

fn length(_: &mut Evaluator, args: Vec<Value>, _: &Value) -> Result<Value, JsonataError> {
    Ok(text(&args).map_or(Value::Undefined, |s| Value::Number(s.chars().count() as f64)))
}

/// JavaScript `Array.prototype.slice` index: negative counts from the end.
fn slice_index(i: f64, len: usize) -> usize {
    let i = i.trunc();
    if i < 0.0 {
        (len as f64 + i).max(0.0) as usize
    } else {
        i.min(len as f64) as usize
    }
}

fn substring(_: &mut Evaluator, args: Vec<Value>, _: &Value) -> Result<Value, JsonataError> {
    let Some(s) = text(&args) else {
        return Ok(Value::Undefined);
    };
    let chars: Vec<char> = s.chars().collect();
    let len = chars.len();
    let mut start = arg(&args, 1).as_f64().unwrap_or(0.0);
    if len as f64 + start < 0.0 {
        start = 0.0;
    }
    let from = slice_index(start, len);
    let to = match arg(&args, 2) {
        Value::Number(l) => {
            if *l <= 0.0 {
                return Ok(Value::string(""));
            }
            let end = if start >= 0.0 { start + l } else { len as f64 + start + l };
            slice_index(end, len)
        }
        _ => len,
    };
    Ok(Value::string(if from < to { chars[from..to].iter().collect::<String>() } else { String::new() }))
}

fn substring_before(_: &mut Evaluator, args: Vec<Value>, _: &Value) -> Result<Value, JsonataError> {
    let (Some(s), Some(sep)) = (text(&args), arg(&args, 1).as_str()) else {
        return Ok(Value::Undefined);
    };
    Ok(Value::string(s.find(sep).map_or(s, |i| &s[..i])))
}

fn substring_after(_: &mut Evaluator, args: Vec<Value>, _: &Value) -> Result<Value, JsonataError> {
    let (Some(s), Some(sep)) = (text(&args), arg(&args, 1).as_str()) else {
        return Ok(Value::Undefined);
    };
    Ok(Value::string(s.find(sep).map_or(s, |i| &s[i + sep.len()..])))
}

fn uppercase(ev: &mut Evaluator, args: Vec<Value>, _: &Value) -> Result<Value, JsonataError> {
    match text(&args) {
        Some(s) => done(ev, s.to_uppercase()),
        None => Ok(Value::Undefined),
    }
}

fn lowercase(ev: &mut Evaluator, args: Vec<Value>, _: &Value) -> Result<Value, JsonataError> {
    match text(&args) {
        Some(s) => done(ev, s.to_lowercase()),
        None => Ok(Value::Undefined),
    }
}

/// Collapses runs of spaces, tabs and newlines to one space and strips the ends.
fn trim(_: &mut Evaluator, args: Vec<Value>, _: &Value) -> Result<Value, JsonataError> {
    let Some(s) = text(&args) else {
        return Ok(Value::Undefined);
    };
    let mut out = String::with_capacity(s.len());
    let mut in_space = false;
    for c in s.chars() {
        if matches!(c, ' ' | '\t' | '\n' | '\r') {
            if !in_space {
                out.push(' ');
            }
            in_space = true;
        } else {
            out.push(c);
            in_space = false;
        }
    }
    Ok(Value::string(out.trim_matches(' ')))
}

fn pad(ev: &mut Evaluator, args: Vec<Value>, _: &Value) -> Result<Value, JsonataError> {
    let Some(s) = text(&args) else {
        return Ok(Value::Undefined);
    };
    let width = arg(&args, 1).as_f64().unwrap_or(0.0).trunc();
    let fill = match arg(&args, 2).as_str() {
        Some(c) if !c.is_empty() => c,
        _ => " ",
    };
    let missing = width.abs() - s.chars().count() as f64;
    if missing <= 0.0 {
        return Ok(Value::string(s));
    }
    // Check the size before building: the width comes from the expression.
    ev.check_str(s.len() + (missing as usize).saturating_mul(fill.len().max(1)))?;
    let padding: String = fill.chars().cycle().take(missing as usize).collect();
    Ok(Value::string(if width > 0.0 { format!("{s}{padding}") } else { format!("{padding}{s}") }))
}

fn regex_of(v: &Value) -> Option<&regex::Regex> {
    match v {
        Value::Function(f) => match &**f {
            Function::Regex(r) => Some(r),
            _ => None,
        },
        _ => None,
    }
}

fn char_offset(s: &str, byte: usize) -> usize {
    s[..byte].chars().count()
}

/// Up to `limit` matches of `re` in `s` as `$match` objects
/// (`{match, index, groups}`); an empty match is an error, as in jsonata-js.
pub(crate) fn regex_match(ev: &mut Evaluator, re: &regex::Regex, s: &str, limit: usize) -> Result<Vec<Value>, JsonataError> {
    let mut out = Vec::new();
    for caps in re.captures_iter(s).take(limit) {
        if caps.get(0).is_none_or(|m| m.as_str().is_empty()) {
            return err("D1004", "Regular expression matches zero length string");
        }
        ev.charge(1 + caps.len())?;
        out.push(match_object(&caps, s));
    }
    Ok(out)
}

fn contains(_: &mut Evaluator, args: Vec<Value>, _: &Value) -> Result<Value, JsonataError> {
    let Some(s) = text(&args) else {
        return Ok(Value::Undefined);
    };
    Ok(Value::Bool(match arg(&args, 1) {
        Value::String(p) => s.contains(&**p),
        other => match regex_of(other) {
            Some(re) => re.is_match(s),
            None => return err("T0410", "Argument 2 of function $contains must be a string or a regular expression"),
        },
    }))
}

/// A non-negative integer limit argument, or `usize::MAX` when absent.
fn limit_arg(v: &Value, name: &str, code: &'static str) -> Result<usize, JsonataError> {
    match v {
        Value::Number(n) if *n < 0.0 => err(code, format!("Third argument of {name} function must evaluate to a positive number")),
        Value::Number(n) => Ok(n.floor().min(usize::MAX as f64) as usize),
        _ => Ok(usize::MAX),
    }
}

fn split(ev: &mut Evaluator, args: Vec<Value>, _: &Value) -> Result<Value, JsonataError> {
    let Some(s) = text(&args) else {
        return Ok(Value::Undefined);
    };
    let limit = limit_arg(arg(&args, 2), "split", "D3020")?;
    let parts: Vec<Value> = match arg(&args, 1) {
        Value::String(sep) if sep.is_empty() => s.chars().take(limit).map(|c| Value::string(c.to_string())).collect(),
        Value::String(sep) => s.split(&**sep).take(limit).map(Value::string).collect(),
        other => match regex_of(other) {
            Some(re) => re.split(s).take(limit).map(Value::string).collect(),
            None => return err("T0410", "Argument 2 of function $split must be a string or a regular expression"),
        },
    };
    ev.check_len(parts.len())?;
    Ok(Value::array(parts))
}

fn join(ev: &mut Evaluator, args: Vec<Value>, _: &Value) -> Result<Value, JsonataError> {
    let Value::Array(a, _) = arg(&args, 0) else {
        return Ok(Value::Undefined);
    };
    let sep = arg(&args, 1).as_str().unwrap_or("");
    let parts: Vec<&str> = a.items.iter().filter_map(Value::as_str).collect();
    let size = parts.iter().map(|p| p.len()).sum::<usize>() + sep.len() * parts.len();
    ev.check_str(size)?;
    Ok(Value::string(parts.join(sep)))
}

fn match_(ev: &mut Evaluator, args: Vec<Value>, _: &Value) -> Result<Value, JsonataError> {
    let Some(s) = text(&args) else {
        return Ok(Value::Undefined);
    };
    let limit = limit_arg(arg(&args, 2), "match", "D3040")?;
    let Some(re) = regex_of(arg(&args, 1)) else {
        return err("T0410", "Argument 2 of function $match must be a regular expression");
    };
    Ok(Value::seq(regex_match(ev, re, s, limit)?))
}

/// Expands `$0`, `$1`..., `$$` in a `$replace` replacement string.
fn substitute(replacement: &str, caps: &regex::Captures<'_>) -> String {
    let groups = caps.len() - 1;
    let max_digits = if groups == 0 { 1 } else { groups.to_string().len() };
    let mut out = String::new();
    let mut rest = replacement;
    while let Some(i) = rest.find('$') {
        out.push_str(&rest[..i]);
        rest = &rest[i + 1..];
        if let Some(r) = rest.strip_prefix('$') {
            out.push('$');
            rest = r;
        } else if let Some(r) = rest.strip_prefix('0') {
            out.push_str(caps.get(0).map_or("", |m| m.as_str()));
            rest = r;
        } else {
            let digits: String = rest.chars().take(max_digits).take_while(|c| c.is_ascii_digit()).collect();
            let mut n: usize = digits.parse().unwrap_or(0);
            let mut used = digits.len();
            if used > 1 && n > groups {
                used -= 1;
                n = digits[..used].parse().unwrap_or(0);
            }
            if used == 0 {
                out.push('$');
            } else {
                if n >= 1 && n <= groups {
                    out.push_str(caps.get(n).map_or("", |m| m.as_str()));
                }
                rest = &rest[used..];
            }
        }
    }
    out.push_str(rest);
    out
}

fn replace(ev: &mut Evaluator, args: Vec<Value>, _: &Value) -> Result<Value, JsonataError> {
    let Some(s) = text(&args) else {
        return Ok(Value::Undefined);
    };
    let limit = limit_arg(arg(&args, 3), "replace", "D3011")?;
    let replacement = arg(&args, 2).clone();
    let mut out = String::new();
    match arg(&args, 1) {
        Value::String(p) => {
            if p.is_empty() {
                return err("D3010", "Second argument of replace function cannot be an empty string");
            }
            let Some(r) = replacement.as_str() else {
                return err("T0410", "Argument 3 of function $replace must be a string when the pattern is a string");
            };
            let mut rest = s;
            let mut count = 0;
            while count < limit {
                let Some(i) = rest.find(&**p) else { break };
                out.push_str(&rest[..i]);
                out.push_str(r);
                rest = &rest[i + p.len()..];
                count += 1;
                ev.fits_str(out.len() + rest.len())?;
            }
            out.push_str(rest);
        }
        other => {
            let Some(re) = regex_of(other) else {
                return err("T0410", "Argument 2 of function $replace must be a string or a regular expression");
            };
            let mut last = 0;
            for caps in re.captures_iter(s).take(limit) {
                let Some(m) = caps.get(0) else { continue };
                if m.as_str().is_empty() {
                    return err("D1004", "Regular expression matches zero length string");
                }
                out.push_str(&s[last..m.start()]);
                match &replacement {
                    Value::String(r) => out.push_str(&substitute(r, &caps)),
                    f @ Value::Function(_) => {
                        let obj = match_object(&caps, s);
                        match ev.apply(f, vec![obj], &Value::Null)? {
                            Value::String(r) => out.push_str(&r),
                            _ => return err("D3012", "Attempted to replace a matched string with a non-string value"),
                        }
                    }
                    _ => return err("T0410", "Argument 3 of function $replace must be a string or a function"),
                }
                last = m.end();
                ev.fits_str(out.len() + s.len() - last)?;
            }
            out.push_str(&s[last..]);
        }
    }
    done(ev, out)
}

/// The `$match` object (`{match, index, groups}`) for one set of captures.
fn match_object(caps: &regex::Captures<'_>, s: &str) -> Value {
    let m = caps.get(0);
    let mut obj = IndexMap::new();
    obj.insert("match".to_string(), Value::string(m.map_or("", |m| m.as_str())));
    obj.insert("index".to_string(), Value::Number(m.map_or(0, |m| char_offset(s, m.start())) as f64));
    obj.insert(
        "groups".to_string(),
        Value::array(caps.iter().skip(1).map(|g| g.map_or(Value::Undefined, |g| Value::string(g.as_str()))).collect()),
    );
    Value::object(obj)
}

fn base64encode(ev: &mut Evaluator, args: Vec<Value>, _: &Value) -> Result<Value, JsonataError> {
    match text(&args) {
        Some(s) => done(ev, base64::engine::general_purpose::STANDARD.encode(s.as_bytes())),
        None => Ok(Value::Undefined),
    }
}

fn base64decode(_: &mut Evaluator, args: Vec<Value>, _: &Value) -> Result<Value, JsonataError> {
    let Some(s) = text(&args) else {
        return Ok(Value::Undefined);
    };
    match base64::engine::general_purpose::STANDARD.decode(s.trim()) {
        Ok(bytes) => Ok(Value::string(String::from_utf8_lossy(&bytes).into_owned())),
        Err(e) => err("D3137", format!("$base64decode: invalid Base64 input: {e}")),
    }
}

const URI_UNRESERVED: &str = "-_.!~*'()";
const URI_RESERVED: &str = ";,/?:@&=+$#";

fn percent_encode(s: &str, keep: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if c.is_ascii_alphanumeric() || keep.contains(c) {
            out.push(c);
        } else {
            let mut buf = [0u8; 4];
            for b in c.encode_utf8(&mut buf).bytes() {
                out.push_str(&format!("%{b:02X}"));
            }
        }
    }
    out
}

fn encode_url_component(ev: &mut Evaluator, args: Vec<Value>, _: &Value) -> Result<Value, JsonataError> {
    match text(&args) {
        Some(s) => done(ev, percent_encode(s, URI_UNRESERVED)),
        None => Ok(Value::Undefined),
    }
}

fn encode_url(ev: &mut Evaluator, args: Vec<Value>, _: &Value) -> Result<Value, JsonataError> {
    match text(&args) {
        Some(s) => done(ev, percent_encode(s, &format!("{URI_UNRESERVED}{URI_RESERVED}"))),
        None => Ok(Value::Undefined),
    }
}

/// `decodeURIComponent` (`keep` empty) or `decodeURI` (escapes of reserved
/// characters stay as they are).
fn percent_decode(s: &str, keep: &str, name: &str) -> Result<String, JsonataError> {
    let malformed = || JsonataError::new("D3140", format!("Malformed URL passed to ${name}(): {s}"));
    let b = s.as_bytes();
    let mut out: Vec<u8> = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] != b'%' {
            out.push(b[i]);
            i += 1;
            continue;
        }
        let hex = s.get(i + 1..i + 3).ok_or_else(malformed)?;
        let byte = u8::from_str_radix(hex, 16).map_err(|_| malformed())?;
        if byte < 0x80 && keep.contains(byte as char) {
            out.extend_from_slice(&b[i..i + 3]);
        } else {
            out.push(byte);
        }
        i += 3;
    }
    String::from_utf8(out).map_err(|_| malformed())
}

fn decode_url_component(_: &mut Evaluator, args: Vec<Value>, _: &Value) -> Result<Value, JsonataError> {
    match text(&args) {
        Some(s) => Ok(Value::string(percent_decode(s, "", "decodeUrlComponent")?)),
        None => Ok(Value::Undefined),
    }
}

fn decode_url(_: &mut Evaluator, args: Vec<Value>, _: &Value) -> Result<Value, JsonataError> {
    match text(&args) {
        Some(s) => Ok(Value::string(percent_decode(s, URI_RESERVED, "decodeUrl")?)),
        None => Ok(Value::Undefined),
    }
}
