//! JSONPath as ASL uses it: *Paths* (may select many nodes) and *Reference
//! Paths* (select exactly one node, and can be written to by `ResultPath`).
//!
//! Supported syntax: `$` / `$$` (context object) roots, `.name`, `['name']`,
//! `[n]` (negative counts from the end), `[*]` / `.*`, `[a,b]` unions,
//! `[start:end:step]` slices, `..name` deep scan, and filters
//! `[?(@.price < 10 && @.tags)]` (comparisons `== != < <= > >=` between `@`
//! paths, `$` paths and literals; `&&`, `||`, `!`, parentheses; a bare path
//! tests that the node exists).
//! As in Jayway (which AWS uses), a path with a wildcard, slice, union or deep
//! scan is *indefinite* and yields an array of its matches, possibly empty;
//! a definite path yields its single node or nothing.

use serde_json::{Map, Value};
use std::fmt;

/// Which document a path reads: the state's data (`$`) or the context object (`$$`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Root {
    Data,
    Context,
}

#[derive(Debug, Clone, PartialEq)]
enum Selector {
    Name(String),
    Index(i64),
    Wildcard,
    Slice(Option<i64>, Option<i64>, i64),
    Union(Vec<Selector>),
    Filter(Box<Filter>),
}

/// A filter expression's boolean structure.
#[derive(Debug, Clone, PartialEq)]
enum Filter {
    Or(Vec<Filter>),
    And(Vec<Filter>),
    Not(Box<Filter>),
    Exists(Operand),
    Compare(Operand, CompareOp, Operand),
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum CompareOp {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
}

/// One side of a filter comparison.
#[derive(Debug, Clone, PartialEq)]
enum Operand {
    /// `@...`: relative to the node being filtered.
    Current(Vec<Segment>),
    /// `$...`: relative to the document root.
    Root(Vec<Segment>),
    Literal(Value),
}

/// Filters nest; a cap keeps hostile input from exhausting the stack.
const MAX_FILTER_DEPTH: usize = 32;

#[derive(Debug, Clone, PartialEq)]
enum Segment {
    Child(Selector),
    Descendant(Selector),
}

/// A parsed JSONPath.
#[derive(Debug, Clone, PartialEq)]
pub struct Path {
    text: String,
    root: Root,
    segments: Vec<Segment>,
}

/// Why a path string is not a valid path.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid path {path:?}: {reason}")]
pub struct PathSyntaxError {
    pub path: String,
    pub reason: String,
}

impl fmt::Display for Path {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl Path {
    /// Parses a Path (`$...` or `$$...`).
    pub fn parse(text: &str) -> Result<Path, PathSyntaxError> {
        Parser { text, pos: 0 }.parse()
    }

    /// Parses a Reference Path: like [`Path::parse`] but it must name a single
    /// node (no wildcard, slice, union or deep scan) and must read `$`.
    pub fn parse_reference(text: &str) -> Result<Path, PathSyntaxError> {
        let path = Path::parse(text)?;
        let err = |reason: &str| PathSyntaxError { path: text.to_string(), reason: reason.to_string() };
        if path.root == Root::Context {
            return Err(err("a reference path cannot read the context object ($$)"));
        }
        if !path.is_definite() {
            return Err(err("a reference path must select a single node (no *, .., slices or unions)"));
        }
        Ok(path)
    }

    /// The path as written.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// Which document the path reads.
    pub fn root(&self) -> Root {
        self.root
    }

    /// True when the path can only ever select one node.
    pub fn is_definite(&self) -> bool {
        self.segments.iter().all(|s| matches!(s, Segment::Child(Selector::Name(_) | Selector::Index(_))))
    }

    /// Reads the path from `doc`. A definite path gives its node or `None`;
    /// an indefinite path gives an array of all matches (never `None`).
    pub fn select(&self, doc: &Value) -> Option<Value> {
        let nodes = walk(&self.segments, doc, doc);
        if self.is_definite() {
            nodes.first().map(|v| (*v).clone())
        } else {
            Some(Value::Array(nodes.into_iter().cloned().collect()))
        }
    }

    /// Writes `value` at this (reference) path inside `doc`, creating missing
    /// object fields on the way. Fails, naming the offending step, when the
    /// path runs through a value that is not an object (or an array, for an
    /// index), as AWS's `States.ResultPathMatchFailure` does.
    pub fn set(&self, doc: Value, value: Value) -> Result<Value, String> {
        if self.segments.is_empty() {
            return Ok(value);
        }
        let mut doc = doc;
        let mut cursor = &mut doc;
        let last = self.segments.len() - 1;
        for (i, segment) in self.segments.iter().enumerate() {
            let Segment::Child(sel) = segment else { return Err(format!("{} is not a reference path", self.text)) };
            match sel {
                Selector::Name(name) => {
                    let Value::Object(map) = cursor else {
                        return Err(format!("cannot set field {name:?}: the value there is {}, not an object", describe_kind(cursor)));
                    };
                    if i == last {
                        map.insert(name.clone(), value);
                        return Ok(doc);
                    }
                    cursor = map.entry(name.clone()).or_insert_with(|| Value::Object(Map::new()));
                }
                Selector::Index(idx) => {
                    let Value::Array(items) = cursor else {
                        return Err(format!("cannot set index [{idx}]: the value there is {}, not an array", describe_kind(cursor)));
                    };
                    let len = items.len() as i64;
                    let at = if *idx < 0 { len + idx } else { *idx };
                    if at < 0 || at >= len {
                        return Err(format!("index [{idx}] is out of bounds for an array of {len}"));
                    }
                    if i == last {
                        items[at as usize] = value;
                        return Ok(doc);
                    }
                    cursor = &mut items[at as usize];
                }
                _ => return Err(format!("{} is not a reference path", self.text)),
            }
        }
        unreachable!("the loop returns at the last segment")
    }
}

/// "a string", "an object", ...: a value's JSON type for error messages.
pub(crate) fn describe_kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

fn resolve_index(idx: i64, len: usize) -> Option<usize> {
    let at = if idx < 0 { len as i64 + idx } else { idx };
    (at >= 0 && at < len as i64).then_some(at as usize)
}

/// Applies `segments` to `start`; `root` is what `$` means inside filters.
fn walk<'a>(segments: &[Segment], start: &'a Value, root: &'a Value) -> Vec<&'a Value> {
    let mut nodes: Vec<&Value> = vec![start];
    for segment in segments {
        let mut next = Vec::new();
        for node in nodes {
            match segment {
                Segment::Child(sel) => select_children(node, sel, root, &mut next),
                Segment::Descendant(sel) => select_descendants(node, sel, root, &mut next),
            }
        }
        nodes = next;
    }
    nodes
}

impl Operand {
    fn resolve<'a>(&'a self, current: &'a Value, root: &'a Value) -> Option<&'a Value> {
        match self {
            Operand::Current(segs) => walk(segs, current, root).into_iter().next(),
            Operand::Root(segs) => walk(segs, root, root).into_iter().next(),
            Operand::Literal(v) => Some(v),
        }
    }
}

impl Filter {
    fn holds(&self, current: &Value, root: &Value) -> bool {
        match self {
            Filter::Or(parts) => parts.iter().any(|f| f.holds(current, root)),
            Filter::And(parts) => parts.iter().all(|f| f.holds(current, root)),
            Filter::Not(inner) => !inner.holds(current, root),
            Filter::Exists(operand) => operand.resolve(current, root).is_some(),
            Filter::Compare(a, op, b) => {
                let (Some(a), Some(b)) = (a.resolve(current, root), b.resolve(current, root)) else { return false };
                let ordering = match (a, b) {
                    (Value::Number(x), Value::Number(y)) => x.as_f64().and_then(|x| y.as_f64().and_then(|y| x.partial_cmp(&y))),
                    (Value::String(x), Value::String(y)) => Some(x.cmp(y)),
                    _ => None,
                };
                match op {
                    CompareOp::Eq => ordering.map_or(a == b, |o| o.is_eq()),
                    CompareOp::Ne => ordering.map_or(a != b, |o| o.is_ne()),
                    CompareOp::Lt => ordering.is_some_and(|o| o.is_lt()),
                    CompareOp::Le => ordering.is_some_and(|o| o.is_le()),
                    CompareOp::Gt => ordering.is_some_and(|o| o.is_gt()),
                    CompareOp::Ge => ordering.is_some_and(|o| o.is_ge()),
                }
            }
        }
    }
}

fn select_children<'a>(node: &'a Value, sel: &Selector, root: &'a Value, out: &mut Vec<&'a Value>) {
    match (sel, node) {
        (Selector::Name(name), Value::Object(map)) => out.extend(map.get(name)),
        (Selector::Index(idx), Value::Array(items)) => out.extend(resolve_index(*idx, items.len()).map(|i| &items[i])),
        (Selector::Wildcard, Value::Object(map)) => out.extend(map.values()),
        (Selector::Wildcard, Value::Array(items)) => out.extend(items.iter()),
        (Selector::Slice(start, end, step), Value::Array(items)) => {
            let len = items.len() as i64;
            let clamp = |v: i64| if v < 0 { (len + v).max(0) } else { v.min(len) };
            let (from, to) = (clamp(start.unwrap_or(0)), clamp(end.unwrap_or(len)));
            let mut i = from;
            while i < to {
                out.push(&items[i as usize]);
                // A huge step must end the slice, not wrap around.
                match i.checked_add(*step) {
                    Some(next) => i = next,
                    None => break,
                }
            }
        }
        (Selector::Union(parts), _) => {
            for part in parts {
                select_children(node, part, root, out);
            }
        }
        (Selector::Filter(filter), Value::Array(items)) => out.extend(items.iter().filter(|v| filter.holds(v, root))),
        (Selector::Filter(filter), Value::Object(map)) => out.extend(map.values().filter(|v| filter.holds(v, root))),
        _ => {}
    }
}

fn select_descendants<'a>(node: &'a Value, sel: &Selector, root: &'a Value, out: &mut Vec<&'a Value>) {
    select_children(node, sel, root, out);
    match node {
        Value::Object(map) => map.values().for_each(|v| select_descendants(v, sel, root, out)),
        Value::Array(items) => items.iter().for_each(|v| select_descendants(v, sel, root, out)),
        _ => {}
    }
}

struct Parser<'a> {
    text: &'a str,
    pos: usize,
}

impl Parser<'_> {
    fn err<T>(&self, reason: impl Into<String>) -> Result<T, PathSyntaxError> {
        Err(PathSyntaxError { path: self.text.to_string(), reason: reason.into() })
    }

    fn rest(&self) -> &str {
        &self.text[self.pos..]
    }

    fn eat(&mut self, s: &str) -> bool {
        if self.rest().starts_with(s) {
            self.pos += s.len();
            true
        } else {
            false
        }
    }

    fn parse(mut self) -> Result<Path, PathSyntaxError> {
        let root = if self.eat("$$") {
            Root::Context
        } else if self.eat("$") {
            Root::Data
        } else {
            return self.err("a path must start with $ (or $$ for the context object)");
        };
        let mut segments = Vec::new();
        while !self.rest().is_empty() {
            if self.eat("..") {
                let sel = if self.rest().starts_with('[') { self.bracket()? } else { self.dotted()? };
                segments.push(Segment::Descendant(sel));
            } else if self.eat(".") {
                segments.push(Segment::Child(self.dotted()?));
            } else if self.rest().starts_with('[') {
                segments.push(Segment::Child(self.bracket()?));
            } else {
                return self.err(format!("unexpected {:?} at offset {}", self.rest().chars().next().unwrap_or(' '), self.pos));
            }
        }
        Ok(Path { text: self.text.to_string(), root, segments })
    }

    fn dotted(&mut self) -> Result<Selector, PathSyntaxError> {
        if self.eat("*") {
            return Ok(Selector::Wildcard);
        }
        // Names end at the next step, or at what can follow a path in a filter.
        let end = self.rest().find(['.', '[', ' ', ')', '<', '>', '=', '!', '&', '|']).unwrap_or(self.rest().len());
        let name = self.rest()[..end].to_string();
        if name.is_empty() {
            return self.err(format!("empty field name at offset {}", self.pos));
        }
        if let Some(bad) = name.chars().find(|c| matches!(c, ']' | '\'' | '"' | ' ' | '@' | ',' | ':' | '?' | '(' | ')')) {
            return self.err(format!("character {bad:?} is not allowed in a field name; use ['...'] to quote it"));
        }
        self.pos += end;
        Ok(Selector::Name(name))
    }

    fn bracket(&mut self) -> Result<Selector, PathSyntaxError> {
        let open = self.pos;
        self.eat("[");
        if self.eat("?") {
            self.skip_spaces();
            if !self.eat("(") {
                return self.err(format!("expected ( after [? at offset {}", self.pos));
            }
            let filter = self.filter_or(0)?;
            self.skip_spaces();
            if !self.eat(")") {
                return self.err(format!("expected ) to close the filter at offset {}", self.pos));
            }
            self.skip_spaces();
            if !self.eat("]") {
                return self.err(format!("unclosed [ at offset {open}"));
            }
            return Ok(Selector::Filter(Box::new(filter)));
        }
        let mut parts = Vec::new();
        loop {
            self.skip_spaces();
            let part = if self.eat("*") {
                Selector::Wildcard
            } else if self.rest().starts_with('\'') || self.rest().starts_with('"') {
                Selector::Name(self.quoted()?)
            } else {
                self.number_or_slice()?
            };
            parts.push(part);
            self.skip_spaces();
            if self.eat("]") {
                break;
            }
            if !self.eat(",") {
                return self.err(format!("unclosed [ at offset {open}"));
            }
        }
        Ok(if parts.len() == 1 { parts.pop().unwrap() } else { Selector::Union(parts) })
    }

    fn filter_or(&mut self, depth: usize) -> Result<Filter, PathSyntaxError> {
        if depth > MAX_FILTER_DEPTH {
            return self.err("filter expression nested too deeply");
        }
        let mut parts = vec![self.filter_and(depth)?];
        loop {
            self.skip_spaces();
            if !self.eat("||") {
                break;
            }
            parts.push(self.filter_and(depth)?);
        }
        Ok(if parts.len() == 1 { parts.pop().unwrap() } else { Filter::Or(parts) })
    }

    fn filter_and(&mut self, depth: usize) -> Result<Filter, PathSyntaxError> {
        let mut parts = vec![self.filter_unary(depth)?];
        loop {
            self.skip_spaces();
            if !self.eat("&&") {
                break;
            }
            parts.push(self.filter_unary(depth)?);
        }
        Ok(if parts.len() == 1 { parts.pop().unwrap() } else { Filter::And(parts) })
    }

    fn filter_unary(&mut self, depth: usize) -> Result<Filter, PathSyntaxError> {
        self.skip_spaces();
        if self.rest().starts_with("!") && !self.rest().starts_with("!=") {
            self.pos += 1;
            return Ok(Filter::Not(Box::new(self.filter_unary(depth + 1)?)));
        }
        if self.eat("(") {
            let inner = self.filter_or(depth + 1)?;
            self.skip_spaces();
            if !self.eat(")") {
                return self.err(format!("expected ) at offset {}", self.pos));
            }
            return Ok(inner);
        }
        let left = self.filter_operand()?;
        self.skip_spaces();
        const OPS: [(&str, CompareOp); 6] = [
            ("==", CompareOp::Eq),
            ("!=", CompareOp::Ne),
            ("<=", CompareOp::Le),
            (">=", CompareOp::Ge),
            ("<", CompareOp::Lt),
            (">", CompareOp::Gt),
        ];
        let Some(op) = OPS.iter().find(|(text, _)| self.rest().starts_with(text)).map(|(text, op)| (text.len(), *op)) else {
            return match left {
                Operand::Literal(_) => self.err("a literal alone is not a filter condition"),
                path => Ok(Filter::Exists(path)),
            };
        };
        self.pos += op.0;
        self.skip_spaces();
        let right = self.filter_operand()?;
        Ok(Filter::Compare(left, op.1, right))
    }

    /// `@.a.b`, `$.x`, a number, a quoted string, true, false or null.
    fn filter_operand(&mut self) -> Result<Operand, PathSyntaxError> {
        self.skip_spaces();
        let relative = self.rest().starts_with('@');
        if relative || self.rest().starts_with('$') {
            self.pos += 1;
            let mut segments = Vec::new();
            loop {
                if self.eat(".") {
                    segments.push(Segment::Child(self.dotted()?));
                } else if self.rest().starts_with('[') && !self.rest().starts_with("[?") {
                    segments.push(Segment::Child(self.bracket()?));
                } else {
                    break;
                }
            }
            return Ok(if relative { Operand::Current(segments) } else { Operand::Root(segments) });
        }
        if self.rest().starts_with('\'') || self.rest().starts_with('"') {
            return Ok(Operand::Literal(Value::String(self.quoted()?)));
        }
        for (word, value) in [("true", Value::Bool(true)), ("false", Value::Bool(false)), ("null", Value::Null)] {
            if self.eat(word) {
                return Ok(Operand::Literal(value));
            }
        }
        let len = self.rest().chars().take_while(|c| c.is_ascii_digit() || matches!(c, '-' | '+' | '.' | 'e' | 'E')).count();
        let text = &self.rest()[..len];
        match serde_json::from_str::<serde_json::Number>(text) {
            Ok(n) if len > 0 => {
                self.pos += len;
                Ok(Operand::Literal(Value::Number(n)))
            }
            _ => self.err(format!("expected @, $, a number, a string, true, false or null at offset {}", self.pos)),
        }
    }

    fn skip_spaces(&mut self) {
        while self.eat(" ") {}
    }

    fn quoted(&mut self) -> Result<String, PathSyntaxError> {
        let quote = self.rest().chars().next().unwrap();
        self.pos += 1;
        let mut out = String::new();
        let mut chars = self.rest().char_indices();
        while let Some((i, c)) = chars.next() {
            match c {
                '\\' => match chars.next() {
                    Some((_, e)) => out.push(e),
                    None => break,
                },
                c if c == quote => {
                    self.pos += i + 1;
                    return Ok(out);
                }
                c => out.push(c),
            }
        }
        self.err("unterminated quoted name")
    }

    fn int(&mut self) -> Result<Option<i64>, PathSyntaxError> {
        let digits = self.rest().char_indices().take_while(|(i, c)| c.is_ascii_digit() || (*i == 0 && *c == '-')).count();
        if digits == 0 {
            return Ok(None);
        }
        let text = &self.rest()[..digits];
        let n = text.parse::<i64>().or_else(|_| self.err(format!("bad index {text:?}")))?;
        self.pos += digits;
        Ok(Some(n))
    }

    fn number_or_slice(&mut self) -> Result<Selector, PathSyntaxError> {
        let start = self.int()?;
        if !self.rest().starts_with(':') {
            return match start {
                Some(n) => Ok(Selector::Index(n)),
                None => self.err(format!("expected an index, a quoted name, * or a slice at offset {}", self.pos)),
            };
        }
        self.eat(":");
        let end = self.int()?;
        let step = if self.eat(":") { self.int()?.unwrap_or(1) } else { 1 };
        if step <= 0 {
            return self.err("slice step must be positive");
        }
        Ok(Selector::Slice(start, end, step))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn sel(path: &str, doc: &Value) -> Option<Value> {
        Path::parse(path).unwrap().select(doc)
    }

    #[test]
    fn definite_paths() {
        let doc = json!({"a": {"b": [10, 20, {"c d": true}]}, "x.y": 1});
        assert_eq!(sel("$", &doc), Some(doc.clone()));
        assert_eq!(sel("$.a.b[1]", &doc), Some(json!(20)));
        assert_eq!(sel("$.a.b[-1]['c d']", &doc), Some(json!(true)));
        assert_eq!(sel("$['x.y']", &doc), Some(json!(1)));
        assert_eq!(sel("$.a.missing", &doc), None);
        assert_eq!(sel("$.a.b[7]", &doc), None);
    }

    #[test]
    fn indefinite_paths_give_arrays() {
        let doc = json!({"items": [{"sku": "A", "n": 1}, {"sku": "B", "n": 2}, {"sku": "C"}], "o": {"p": {"sku": "Z"}}});
        assert_eq!(sel("$.items[*].sku", &doc), Some(json!(["A", "B", "C"])));
        assert_eq!(sel("$.items[*].n", &doc), Some(json!([1, 2])));
        assert_eq!(sel("$.items[0:2].sku", &doc), Some(json!(["A", "B"])));
        assert_eq!(sel("$.items[::2].sku", &doc), Some(json!(["A", "C"])));
        assert_eq!(sel("$.items[0,2].sku", &doc), Some(json!(["A", "C"])));
        assert_eq!(sel("$..sku", &doc), Some(json!(["A", "B", "C", "Z"])));
        assert_eq!(sel("$.nothing[*]", &doc), Some(json!([])));
        assert_eq!(sel("$.items[1::9223372036854775807].sku", &doc), Some(json!(["B"])));
        assert_eq!(sel("$.items[-9223372036854775808:].sku", &doc), Some(json!(["A", "B", "C"])));
    }

    #[test]
    fn rejects_bad_syntax() {
        for bad in ["", "a.b", "$.", "$.a[", "$.a[?(@.x]", "$.a[?(1)]", "$.a[?(@.x <)]", "$[x]", "$.a b", "$.a[1:2:0]", "$['open]", "$.a)"] {
            assert!(Path::parse(bad).is_err(), "{bad:?} should not parse");
        }
        assert!(Path::parse_reference("$.a[*]").is_err());
        assert!(Path::parse_reference("$..a").is_err());
        assert!(Path::parse_reference("$$.Execution.Id").is_err());
        assert!(Path::parse_reference("$.a[0].b").is_ok());
    }

    #[test]
    fn filters() {
        let doc = json!({"max": 10, "items": [
            {"sku": "A", "price": 5, "tags": ["x"]},
            {"sku": "B", "price": 15},
            {"sku": "C", "price": 10, "name": "it's"},
            {"sku": "D", "price": "cheap"}
        ]});
        let skus = |path: &str| sel(path, &doc).unwrap();
        assert_eq!(skus("$.items[?(@.price < 10)].sku"), json!(["A"]));
        assert_eq!(skus("$.items[?(@.price <= $.max)].sku"), json!(["A", "C"]));
        assert_eq!(skus("$.items[?(@.tags)].sku"), json!(["A"]));
        assert_eq!(skus("$.items[?(!@.tags)].sku"), json!(["B", "C", "D"]));
        assert_eq!(skus("$.items[?(@.sku == 'B' || @.price > 12)].sku"), json!(["B"]));
        assert_eq!(skus("$.items[?(@.price >= 5 && (@.sku != 'A'))].sku"), json!(["B", "C"]));
        assert_eq!(skus("$.items[?(@.name == \"it's\")].sku"), json!(["C"]));
        assert_eq!(skus("$.items[?(@.price == 'cheap')].sku"), json!(["D"]));
        assert_eq!(skus("$..[?(@.price > 14)].sku"), json!(["B"]));
        assert!(!Path::parse("$.items[?(@.price > 1)]").unwrap().is_definite());
        let deep = format!("$.a[?({}@.x{})]", "(".repeat(40), ")".repeat(40));
        assert!(Path::parse(&deep).unwrap_err().reason.contains("nested too deeply"));
    }

    #[test]
    fn set_creates_objects_and_reports_mismatches() {
        let p = Path::parse_reference("$.result.payment").unwrap();
        assert_eq!(p.set(json!({"x": 1}), json!(7)).unwrap(), json!({"x": 1, "result": {"payment": 7}}));
        assert_eq!(Path::parse_reference("$").unwrap().set(json!({"x": 1}), json!(7)).unwrap(), json!(7));
        let err = p.set(json!({"result": "text"}), json!(7)).unwrap_err();
        assert!(err.contains("a string, not an object"), "{err}");
        let idx = Path::parse_reference("$.list[1]").unwrap();
        assert_eq!(idx.set(json!({"list": [0, 0]}), json!(5)).unwrap(), json!({"list": [0, 5]}));
        assert!(idx.set(json!({"list": [0]}), json!(5)).unwrap_err().contains("out of bounds"));
    }

    #[test]
    fn context_root() {
        let p = Path::parse("$$.Execution.Id").unwrap();
        assert_eq!(p.root(), Root::Context);
        assert_eq!(p.select(&json!({"Execution": {"Id": "e"}})), Some(json!("e")));
    }
}
