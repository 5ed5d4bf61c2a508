//! Date and time: `$now`, `$millis`, `$fromMillis` (ISO 8601, or an XPath
//! picture such as `[Y0001]-[M01]-[D01]` with an optional `±HHMM` zone) and
//! `$toMillis` (ISO 8601 forms: date, date-time with optional fraction and
//! zone; a zone-less date-time is UTC). `$now`/`$millis` return the same
//! instant throughout one evaluation.

use super::{arg, Entry};
use crate::error::{err, JsonataError};
use crate::eval::Evaluator;
use crate::value::Value;
use chrono::{DateTime, Datelike, FixedOffset, NaiveDate, TimeZone, Timelike, Utc};

pub(super) const FUNCTIONS: &[Entry] = &[
    ("now", "<s?s?:s>", 0, now),
    ("millis", "<:n>", 0, millis),
    ("fromMillis", "<n-s?s?:s>", 1, from_millis),
    ("toMillis", "<s-s?:n>", 1, to_millis),
];

const DEFAULT_PICTURE: &str = "[Y0001]-[M01]-[D01]T[H01]:[m01]:[s01].[f001][Z01:01t]";
const MONTHS: [&str; 12] =
    ["January", "February", "March", "April", "May", "June", "July", "August", "September", "October", "November", "December"];
const DAYS: [&str; 7] = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"];

fn now(ev: &mut Evaluator, args: Vec<Value>, _: &Value) -> Result<Value, JsonataError> {
    let ms = ev.now.timestamp_millis() as f64;
    format_millis(ms, arg(&args, 0).as_str(), arg(&args, 1).as_str())
}

fn millis(ev: &mut Evaluator, _: Vec<Value>, _: &Value) -> Result<Value, JsonataError> {
    Ok(Value::Number(ev.now.timestamp_millis() as f64))
}

fn from_millis(_: &mut Evaluator, args: Vec<Value>, _: &Value) -> Result<Value, JsonataError> {
    let Value::Number(ms) = arg(&args, 0) else {
        return Ok(Value::Undefined);
    };
    format_millis(*ms, arg(&args, 1).as_str(), arg(&args, 2).as_str())
}

/// Parses a `±HHMM` timezone argument.
fn parse_zone(tz: &str) -> Result<FixedOffset, JsonataError> {
    let bad = || JsonataError::new("D3134", format!("The timezone argument \"{tz}\" must be of the form ±HHMM"));
    let (sign, digits) = match tz.chars().next() {
        Some('+') => (1, &tz[1..]),
        Some('-') => (-1, &tz[1..]),
        _ => (1, tz),
    };
    let digits: String = digits.chars().filter(|c| *c != ':').collect();
    if digits.len() != 4 || !digits.chars().all(|c| c.is_ascii_digit()) {
        return Err(bad());
    }
    let h: i32 = digits[..2].parse().map_err(|_| bad())?;
    let m: i32 = digits[2..].parse().map_err(|_| bad())?;
    FixedOffset::east_opt(sign * (h * 3600 + m * 60)).ok_or_else(bad)
}

fn format_millis(ms: f64, picture: Option<&str>, zone: Option<&str>) -> Result<Value, JsonataError> {
    let utc = Utc.timestamp_millis_opt(ms as i64).single().filter(|_| ms.is_finite());
    let Some(utc) = utc else {
        return err("D3110", format!("The millisecond value {ms} is out of range"));
    };
    let offset = match zone {
        Some(z) => parse_zone(z)?,
        None => FixedOffset::east_opt(0).expect("zero offset"),
    };
    let dt = utc.with_timezone(&offset);
    if picture.is_none() && zone.is_none() {
        return Ok(Value::string(utc.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string()));
    }
    Ok(Value::string(format_picture(&dt, picture.unwrap_or(DEFAULT_PICTURE))?))
}

fn pad_digits(n: i64, modifier: &str) -> String {
    let width = modifier.chars().filter(|c| c.is_ascii_digit()).count().max(1);
    if n < 0 {
        format!("-{:0width$}", -n)
    } else {
        format!("{n:0width$}")
    }
}

fn name(full: &str, modifier: &str, width: Option<usize>) -> String {
    let s = match width {
        Some(w) => full.chars().take(w).collect(),
        None => full.to_string(),
    };
    match modifier {
        "N" => s.to_uppercase(),
        "n" => s.to_lowercase(),
        _ => s,
    }
}

/// Formats with an XPath `format-dateTime` picture (the common components).
fn format_picture(dt: &DateTime<FixedOffset>, picture: &str) -> Result<String, JsonataError> {
    let mut out = String::new();
    let mut rest = picture;
    while !rest.is_empty() {
        if let Some(r) = rest.strip_prefix("[[") {
            out.push('[');
            rest = r;
            continue;
        }
        if let Some(r) = rest.strip_prefix("]]") {
            out.push(']');
            rest = r;
            continue;
        }
        if !rest.starts_with('[') {
            let c = rest.chars().next().unwrap_or(' ');
            out.push(c);
            rest = &rest[c.len_utf8()..];
            continue;
        }
        let Some(end) = rest.find(']') else {
            return err("D3135", "No matching closing bracket ']' in date/time picture string");
        };
        let marker: String = rest[1..end].chars().filter(|c| !c.is_whitespace()).collect();
        rest = &rest[end + 1..];
        let mut chars = marker.chars();
        let component = chars.next().unwrap_or(' ');
        let spec: String = chars.collect();
        let (modifier, width) = match spec.split_once(',') {
            Some((m, w)) => (m.to_string(), w.rsplit('-').next().and_then(|w| w.parse().ok())),
            None => (spec.clone(), None),
        };
        let m = modifier.as_str();
        let text = match component {
            'Y' => {
                let y = dt.year() as i64;
                if m.chars().filter(|c| c.is_ascii_digit()).count() == 2 {
                    pad_digits(y % 100, m)
                } else {
                    pad_digits(y, m)
                }
            }
            'M' if m.starts_with(['N', 'n']) => name(MONTHS[dt.month0() as usize], m, width),
            'M' => pad_digits(dt.month() as i64, m),
            'D' => pad_digits(dt.day() as i64, m),
            'd' => pad_digits(dt.ordinal() as i64, m),
            'F' if m.is_empty() || m.starts_with(['N', 'n']) => {
                let m = if m.is_empty() { "n" } else { m };
                name(DAYS[dt.weekday().num_days_from_monday() as usize], m, width)
            }
            'F' => pad_digits(dt.weekday().number_from_monday() as i64, m),
            'H' => pad_digits(dt.hour() as i64, m),
            'h' => pad_digits(((dt.hour() + 11) % 12 + 1) as i64, m),
            'P' => {
                let s = if dt.hour() < 12 { "am" } else { "pm" };
                if m == "N" {
                    s.to_uppercase()
                } else {
                    s.to_string()
                }
            }
            'm' => pad_digits(dt.minute() as i64, if m.is_empty() { "01" } else { m }),
            's' => pad_digits(dt.second() as i64, if m.is_empty() { "01" } else { m }),
            'f' => {
                let digits = m.chars().filter(|c| c.is_ascii_digit()).count().max(1);
                let frac = format!("{:09}", dt.nanosecond().min(999_999_999));
                frac[..digits.min(9)].to_string()
            }
            'Z' | 'z' => {
                let secs = dt.offset().local_minus_utc();
                if m.ends_with('t') && secs == 0 {
                    "Z".to_string()
                } else {
                    let sign = if secs < 0 { '-' } else { '+' };
                    let (h, mi) = (secs.abs() / 3600, secs.abs() % 3600 / 60);
                    let body = if m.trim_end_matches('t').contains(':') || m.is_empty() {
                        format!("{sign}{h:02}:{mi:02}")
                    } else {
                        format!("{sign}{h:02}{mi:02}")
                    };
                    if component == 'z' {
                        format!("GMT{body}")
                    } else {
                        body
                    }
                }
            }
            _ => {
                return err("D3133", format!("The date/time picture component [{marker}] is not supported"));
            }
        };
        out.push_str(&text);
    }
    Ok(out)
}

fn to_millis(_: &mut Evaluator, args: Vec<Value>, _: &Value) -> Result<Value, JsonataError> {
    let Some(s) = arg(&args, 0).as_str() else {
        return Ok(Value::Undefined);
    };
    if !arg(&args, 1).is_undefined() {
        return err("D3133", "$toMillis with a picture string is not supported; use an ISO 8601 timestamp");
    }
    match parse_iso(s) {
        Some(ms) => Ok(Value::Number(ms as f64)),
        None => err("D3110", format!("The timestamp \"{s}\" is not in a supported ISO 8601 format")),
    }
}

/// `YYYY`, `YYYY-MM`, `YYYY-MM-DD`, `YYYY-MM-DDTHH:MM[:SS[.fff]][Z|±HH[:]MM]`.
fn parse_iso(s: &str) -> Option<i64> {
    let num = |t: &str| -> Option<u32> { t.chars().all(|c| c.is_ascii_digit()).then(|| t.parse().ok()).flatten() };
    let (date, time) = match s.split_once(['T', 't', ' ']) {
        Some((d, t)) => (d, Some(t)),
        None => (s, None),
    };
    let parts: Vec<&str> = date.split('-').collect();
    if parts[0].len() != 4 || parts.len() > 3 {
        return None;
    }
    let year = num(parts[0])? as i32;
    let month = parts.get(1).map(|m| (m.len() == 2).then(|| num(m)).flatten()).unwrap_or(Some(1))?;
    let day = parts.get(2).map(|d| (d.len() == 2).then(|| num(d)).flatten()).unwrap_or(Some(1))?;
    let date = NaiveDate::from_ymd_opt(year, month, day)?;
    let Some(time) = time else {
        return Some(date.and_hms_opt(0, 0, 0)?.and_utc().timestamp_millis());
    };
    // Split off the zone designator.
    let (clock, offset_secs) = if let Some(c) = time.strip_suffix(['Z', 'z']) {
        (c, 0)
    } else if let Some(i) = time.rfind(['+', '-']) {
        let zone: String = time[i + 1..].chars().filter(|c| *c != ':').collect();
        if zone.len() != 4 {
            return None;
        }
        let (h, m) = (num(&zone[..2])? as i32, num(&zone[2..])? as i32);
        let sign = if time[i..].starts_with('-') { -1 } else { 1 };
        (&time[..i], sign * (h * 3600 + m * 60))
    } else {
        (time, 0)
    };
    let (hms, frac) = match clock.split_once('.') {
        Some((a, f)) => (a, Some(f)),
        None => (clock, None),
    };
    let t: Vec<&str> = hms.split(':').collect();
    if t.len() < 2 || t.len() > 3 || t.iter().any(|p| p.len() != 2) {
        return None;
    }
    let (h, mi, sec) = (num(t[0])?, num(t[1])?, t.get(2).map(|x| num(x)).unwrap_or(Some(0))?);
    let nanos = match frac {
        Some(f) if !f.is_empty() && f.len() <= 9 => num(f)? * 10u32.pow(9 - f.len() as u32),
        Some(_) => return None,
        None => 0,
    };
    let naive = date.and_hms_nano_opt(h, mi, sec, nanos)?;
    Some(naive.and_utc().timestamp_millis() - offset_secs as i64 * 1000)
}
