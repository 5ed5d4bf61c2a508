//! How big a JSON value is, measured cheaply and with a bound: the length of
//! its compact JSON text (what `serde_json::to_string` would produce) and its
//! nesting depth, walked without recursion and abandoned as soon as either
//! passes the bound, so a huge value is never serialised, nor walked to the
//! end, just to learn that it is too big.
//!
//! [`SizeBudget`] counts the bytes an evaluation builds (a payload template,
//! an intrinsic function's arguments and result) while it builds them, so
//! that it stops at its cap instead of after the value exists.

use serde_json::Value;

/// How deeply a value recorded in the history (a payload, a variable) may
/// nest. The store parses events back with serde_json, which refuses more
/// than 128 levels of the whole event, so a deeper payload could never be
/// replayed; serialising and dropping a value also recurse on its depth.
pub const MAX_VALUE_DEPTH: usize = 100;

/// Why a value does not fit: its text is over the byte bound, or it nests
/// deeper than the depth bound.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TooBig {
    Bytes,
    Depth,
}

/// The length of `value`'s compact JSON text when it is at most `max_bytes`
/// and the value nests at most `max_depth` levels (a scalar is level 0),
/// else which bound it passed. Costs at most the part of the value walked
/// before the bound was passed.
pub fn measure(value: &Value, max_bytes: usize, max_depth: usize) -> Result<usize, TooBig> {
    // (value, depth): containers push their members, so nothing recurses.
    let mut pending: Vec<(&Value, usize)> = vec![(value, 0)];
    let mut total = 0usize;
    while let Some((v, depth)) = pending.pop() {
        let bytes = match v {
            Value::Null => 4,
            Value::Bool(true) => 4,
            Value::Bool(false) => 5,
            Value::Number(n) => number_len(n),
            Value::String(s) => string_len(s),
            Value::Array(items) => {
                if !items.is_empty() && depth >= max_depth {
                    return Err(TooBig::Depth);
                }
                pending.extend(items.iter().map(|item| (item, depth + 1)));
                2 + items.len().saturating_sub(1)
            }
            Value::Object(map) => {
                if !map.is_empty() && depth >= max_depth {
                    return Err(TooBig::Depth);
                }
                let mut bytes = 2 + map.len().saturating_sub(1);
                for (key, member) in map {
                    // "key": and the member.
                    bytes = bytes.saturating_add(string_len(key) + 1);
                    pending.push((member, depth + 1));
                }
                bytes
            }
        };
        total = total.saturating_add(bytes);
        if total > max_bytes {
            return Err(TooBig::Bytes);
        }
    }
    Ok(total)
}

/// The length of `value`'s compact JSON text when it is at most `max_bytes`.
pub fn json_size_within(value: &Value, max_bytes: usize) -> Option<usize> {
    measure(value, max_bytes, usize::MAX).ok()
}

/// The length of `value`'s compact JSON text.
pub fn json_size(value: &Value) -> usize {
    json_size_within(value, usize::MAX).unwrap_or(usize::MAX)
}

/// The length of a string's JSON text, quotes and escapes included, as
/// serde_json writes it (`\"`, `\\`, `\n`-style short escapes, `\u00XX` for
/// the other control characters; everything else as UTF-8).
pub fn string_len(s: &str) -> usize {
    let escapes: usize = s
        .bytes()
        .map(|b| match b {
            b'"' | b'\\' | b'\n' | b'\r' | b'\t' | 0x08 | 0x0c => 1,
            0..=0x1f => 5,
            _ => 0,
        })
        .sum();
    s.len() + escapes + 2
}

fn number_len(n: &serde_json::Number) -> usize {
    struct Counter(usize);
    impl std::io::Write for Counter {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0 += buf.len();
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let mut counter = Counter(0);
    // Writing a number to a counter cannot fail.
    let _ = serde_json::to_writer(&mut counter, n);
    counter.0
}

/// The bytes of JSON one evaluation has built so far, against its cap.
/// Values are charged as they are made; a function's arguments, once it has
/// consumed them, are given back with [`SizeBudget::release_to`], so the
/// count follows what is alive, not everything ever made.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SizeBudget {
    used: usize,
    limit: usize,
}

/// A [`SizeBudget`] ran out: building the value would pass `limit` bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("it would take more than {limit} bytes of JSON")]
pub struct OverBudget {
    pub limit: usize,
}

impl SizeBudget {
    pub fn new(limit: usize) -> SizeBudget {
        SizeBudget { used: 0, limit }
    }

    pub fn limit(&self) -> usize {
        self.limit
    }

    /// Bytes already built and alive.
    pub fn used(&self) -> usize {
        self.used
    }

    /// Bytes that may still be built.
    pub fn remaining(&self) -> usize {
        self.limit - self.used
    }

    /// Counts `bytes` more, or fails when they do not fit.
    pub fn charge(&mut self, bytes: usize) -> Result<(), OverBudget> {
        if bytes > self.remaining() {
            return Err(OverBudget { limit: self.limit });
        }
        self.used += bytes;
        Ok(())
    }

    /// Counts the JSON size of `value` (measured only as far as what is left).
    pub fn charge_value(&mut self, value: &Value) -> Result<usize, OverBudget> {
        let bytes = json_size_within(value, self.remaining()).ok_or(OverBudget { limit: self.limit })?;
        self.used += bytes;
        Ok(bytes)
    }

    /// Fails when `bytes` more would not fit, without counting them (for a
    /// value being built piece by piece, counted once done).
    pub fn check(&self, bytes: usize) -> Result<(), OverBudget> {
        if bytes > self.remaining() {
            return Err(OverBudget { limit: self.limit });
        }
        Ok(())
    }

    /// Gives back everything counted since [`SizeBudget::used`] was `mark`.
    pub fn release_to(&mut self, mark: usize) {
        self.used = self.used.min(mark);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn sizes_match_serde_json() {
        let values = [
            json!(null),
            json!(true),
            json!(false),
            json!(0),
            json!(-12345678901234i64),
            json!(u64::MAX),
            json!(1.5e300),
            json!(0.1),
            json!(""),
            json!("plain"),
            json!("quote \" backslash \\ newline \n tab \t bell \u{7} nul \u{0} unit \u{1f} del \u{7f} é 😀"),
            json!([]),
            json!({}),
            json!([1, [2, [3, {}]], {"a": []}]),
            json!({"k\"ey": {"nested": [null, true, "x"]}, "": 0}),
        ];
        for v in values {
            assert_eq!(json_size(&v), serde_json::to_string(&v).unwrap().len(), "{v}");
            assert_eq!(json_size_within(&v, json_size(&v)), Some(json_size(&v)), "exactly at the bound fits: {v}");
        }
    }

    #[test]
    fn stops_at_the_bounds() {
        let big = json!({"a": "x".repeat(1000), "b": [1, 2, 3]});
        let exact = serde_json::to_string(&big).unwrap().len();
        assert_eq!(measure(&big, exact, 10), Ok(exact));
        assert_eq!(measure(&big, exact - 1, 10), Err(TooBig::Bytes));
        let mut deep = json!(1);
        for _ in 0..5 {
            deep = json!([deep]);
        }
        assert_eq!(measure(&deep, 1000, 5), Ok(11));
        assert_eq!(measure(&deep, 1000, 4), Err(TooBig::Depth));
        // Empty containers add no level.
        assert_eq!(measure(&json!([[]]), 100, 1), Ok(4));
    }

    #[test]
    fn a_deep_value_is_measured_without_recursion() {
        let mut deep = json!(0);
        for _ in 0..200_000 {
            deep = Value::Array(vec![deep]);
        }
        assert_eq!(json_size(&deep), 400_001);
        assert_eq!(measure(&deep, usize::MAX, MAX_VALUE_DEPTH), Err(TooBig::Depth));
        // Dropping it would recurse: take it apart level by level.
        let mut v = deep;
        while let Value::Array(mut items) = v {
            v = items.pop().unwrap_or(Value::Null);
        }
    }

    #[test]
    fn the_budget_counts_live_bytes() {
        let mut b = SizeBudget::new(10);
        b.charge(4).unwrap();
        let mark = b.used();
        assert_eq!(b.charge_value(&json!("abcd")), Ok(6));
        assert_eq!(b.remaining(), 0);
        assert_eq!(b.charge(1), Err(OverBudget { limit: 10 }));
        b.release_to(mark);
        assert_eq!(b.remaining(), 6);
        assert!(b.check(6).is_ok() && b.check(7).is_err());
        assert_eq!(b.charge_value(&json!("abcdefg")), Err(OverBudget { limit: 10 }));
        assert_eq!(b.used(), 4, "a value that does not fit is not counted");
    }
}
