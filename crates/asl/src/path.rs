//! JSONPath as ASL uses it: *Paths* (may select many nodes) and *Reference
//! Paths* (select exactly one node, and can be written to by `ResultPath`).
//!
//! Supported syntax: `$` / `$$` (context object) roots, `.name`, `['name']`
//! (also written `.['name']`, as in the developer guide), `[n]` (negative
//! counts from the end), `[*]` / `.*`, `[a,b]` unions, `[start:end]` slices,
//! `..name` deep scan, and filters `[?(@.price < 10 && @.tags)]` (comparisons
//! `== != < <= > >=` between `@` paths, `$` paths and literals; `&&`, `||`,
//! `!`, parentheses; a bare path tests that the node exists).
//!
//! Step Functions evaluates paths with Jayway JsonPath, so we follow its
//! observed behaviour, also where other JSONPath implementations differ:
//! - A path with a wildcard, slice, union, filter or deep scan is *indefinite*
//!   and yields an array of its matches, possibly empty; a definite path
//!   yields its single node or nothing.
//! - A union of names at the end (`$.bicycle['color','price']`) is definite:
//!   it yields one object holding the names that exist.
//! - A step that fails while everything before it is definite is an error,
//!   not an empty match: `$.missing[*]` or `$.text[0:2]` select nothing
//!   (Jayway raises `PathNotFoundException`), while `$.items[*].missing`
//!   gives `[]`.
//! - A slice's step is accepted and ignored (`[0:4:2]` is `[0:4]`), and a
//!   slice needs a start or an end (`[:]`, `[::2]` are invalid).
//! - A filter applied to an object tests the object itself; applied to an
//!   array it tests each element; `..[?(...)]` tests every object once.
//! - Strings compare by UTF-16 code units, like Java's `String.compareTo`.
//!
//! Where we deviate from Jayway and why:
//! - Filters only ever test objects: `$.nums[?(@ > 2)]` over numbers gives
//!   `[]`. Jayway would test the scalars, but AWS's developer guide states
//!   that `@` only matches objects, and AWS's word wins over its library.
//! - In a two-sided slice `[from:to]`, negative bounds count from the end, as
//!   they do in `[from:]` and `[:to]`. Jayway's two-sided slice does not
//!   normalise them: `[1:-1]` is always empty and a negative start gives
//!   results that vary between Jayway versions, nothing a definition would
//!   mean to rely on.

use super::size;
use serde_json::{Map, Value};
use std::fmt;

/// Which document a path reads: the state's data (`$`), the context object
/// (`$$`) or a workflow variable (`$name`, see [`Path::variable`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Root {
    Data,
    Context,
    Variable,
}

/// What paths and expressions can read besides the data they are applied
/// to: the context object, the workflow variables in scope (innermost scope
/// last) and, in JSONata states, the `$states` object.
#[derive(Debug, Clone, Copy)]
pub struct Bindings<'a> {
    pub context: &'a Value,
    pub variables: &'a [&'a Map<String, Value>],
    /// `$states` (`input`, `context`, and `result` or `errorOutput` where
    /// they exist), for JSONata expressions.
    pub states: Option<&'a Value>,
}

impl<'a> Bindings<'a> {
    pub fn new(context: &'a Value, variables: &'a [&'a Map<String, Value>]) -> Bindings<'a> {
        Bindings { context, variables, states: None }
    }

    /// Only a context object, no variables.
    pub fn context_only(context: &'a Value) -> Bindings<'a> {
        Bindings::new(context, &[])
    }

    /// The same bindings with `$states` for JSONata expressions.
    pub fn with_states(self, states: &'a Value) -> Bindings<'a> {
        Bindings { states: Some(states), ..self }
    }

    /// The variable's value in the innermost scope that has it.
    pub fn variable(&self, name: &str) -> Option<&'a Value> {
        self.variables.iter().rev().find_map(|scope| scope.get(name))
    }
}

#[derive(Debug, Clone, PartialEq)]
enum Selector {
    Name(String),
    Index(i64),
    Wildcard,
    /// `[start:end]`; Jayway ignores a step, so none is kept.
    Slice(Option<i64>, Option<i64>),
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
    /// The variable's name when the root is [`Root::Variable`].
    variable: Option<String>,
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
    /// node (no wildcard, slice, union or deep scan) and must read `$`, since
    /// these paths also locate where a result is written.
    pub fn parse_reference(text: &str) -> Result<Path, PathSyntaxError> {
        let path = Path::parse_reference_allowing_context(text)?;
        let err = |reason: &str| Err(PathSyntaxError { path: text.to_string(), reason: reason.into() });
        match path.root {
            Root::Data => Ok(path),
            Root::Context => err("a reference path cannot read the context object ($$)"),
            Root::Variable => err("a reference path cannot name a variable"),
        }
    }

    /// Parses a Reference Path that only reads, so it may also start with `$$`
    /// or name a variable (a Choice rule's `Variable` and `...Path` operands:
    /// AWS allows `"Variable": "$$.Execution.Name"`).
    pub fn parse_reference_allowing_context(text: &str) -> Result<Path, PathSyntaxError> {
        let path = Path::parse(text)?;
        let err = |reason: &str| PathSyntaxError { path: text.to_string(), reason: reason.to_string() };
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

    /// The workflow variable the path reads (`$name...`), if it reads one.
    pub fn variable(&self) -> Option<&str> {
        self.variable.as_deref()
    }

    /// Reads the path from whichever document its root names: `data` for
    /// `$`, the context object for `$$`, a variable for `$name`. An unknown
    /// variable selects nothing.
    pub fn resolve(&self, data: &Value, bindings: &Bindings) -> Option<Value> {
        // Past the state's evaluation budget nothing is read (the driver says why).
        stepwasm_jsonata::evaluation_budget::check().ok()?;
        match self.root {
            Root::Data => self.select(data),
            Root::Context => self.select(bindings.context),
            Root::Variable => self.select(bindings.variable(self.variable.as_deref()?)?),
        }
    }

    /// [`Path::resolve`] within `limits`, giving the value with its JSON
    /// size, or the cap it stopped at.
    pub fn resolve_within(&self, data: &Value, bindings: &Bindings, limits: &PathLimits) -> Result<Option<(Value, usize)>, PathLimitError> {
        // Past the state's evaluation budget nothing is read (the driver says why).
        if stepwasm_jsonata::evaluation_budget::check().is_err() {
            return Ok(None);
        }
        let doc = match self.root {
            Root::Data => data,
            Root::Context => bindings.context,
            Root::Variable => match self.variable.as_deref().and_then(|name| bindings.variable(name)) {
                Some(value) => value,
                None => return Ok(None),
            },
        };
        self.select_within(doc, limits)
    }

    /// True when the path can only ever select one node.
    pub fn is_definite(&self) -> bool {
        self.segments.iter().all(is_definite_step)
    }

    /// Reads the path from `doc`. A definite path gives its node or `None`;
    /// an indefinite path gives an array of all matches, or `None` when a step
    /// fails while everything before it is definite (see the module doc).
    /// Past one of the [`PATH_LIMITS`] it selects nothing (use
    /// [`Path::select_within`] to learn why).
    pub fn select(&self, doc: &Value) -> Option<Value> {
        self.select_within(doc, &PATH_LIMITS).ok().flatten().map(|(value, _)| value)
    }

    /// [`Path::select`] within `limits`: the work of the walk, the nodes of
    /// each step's result set and the JSON bytes of the result are counted
    /// while they are collected, and the result is copied only once it is
    /// known to fit. Gives the value with its JSON size.
    pub fn select_within(&self, doc: &Value, limits: &PathLimits) -> Result<Option<(Value, usize)>, PathLimitError> {
        if self.definite_prefix_fails(doc) {
            return Ok(None);
        }
        let (body, merged_names) = match self.segments.split_last() {
            Some((Segment::Child(Selector::Union(parts)), body)) if is_name_union(parts) => (body, Some(parts)),
            _ => (self.segments.as_slice(), None),
        };
        let mut work = Work::new(limits);
        let nodes = walk(body, doc, doc, &mut work).map_err(|stop| self.limit_error(stop, limits))?;
        // Jayway counts the merged trailing union as definite.
        let definite = body.iter().all(is_definite_step);
        let too_big = || PathLimitError::Bytes { path: self.text.clone(), limit: limits.max_bytes };
        // Measure each node, then copy it: nothing is copied past the limit.
        // `bytes` counts the array's brackets and a comma before each item.
        let mut bytes = if definite { 0 } else { 1 };
        let mut values = Vec::new();
        for node in nodes {
            let room = limits.max_bytes.checked_sub(bytes + usize::from(!definite)).ok_or_else(too_big)?;
            let value = match merged_names {
                None => {
                    bytes += size::json_size_within(node, room).ok_or_else(too_big)?;
                    node.clone()
                }
                // Jayway merges a trailing multi-name selection into one object per node.
                Some(names) => {
                    let Some(map) = node.as_object() else { continue };
                    let (merged, merged_bytes) = merge_names(map, names, room).ok_or_else(too_big)?;
                    bytes += merged_bytes;
                    merged
                }
            };
            if definite {
                return Ok(Some((value, bytes)));
            }
            bytes += 1;
            values.push(value);
        }
        if definite {
            return Ok(None);
        }
        // One comma fewer than items, and the closing bracket.
        let bytes = if values.is_empty() { 2 } else { bytes };
        Ok(Some((Value::Array(values), bytes)))
    }

    fn limit_error(&self, stop: Stop, limits: &PathLimits) -> PathLimitError {
        let path = self.text.clone();
        match stop {
            Stop::Work => PathLimitError::Work { path, limit: limits.max_work },
            Stop::Items => PathLimitError::Items { path, limit: limits.max_items },
        }
    }

    /// Jayway raises `PathNotFoundException` instead of matching nothing when
    /// a step cannot apply while every step before it is definite: a missing
    /// field (unless it is the last step), a field of a non-object, an index
    /// of a non-array, or a first indefinite step that cannot apply at all.
    /// Steps after an indefinite one never fail, and an index out of bounds
    /// is silently empty.
    fn definite_prefix_fails(&self, doc: &Value) -> bool {
        let mut node = doc;
        for (i, segment) in self.segments.iter().enumerate() {
            let is_last = i + 1 == self.segments.len();
            // A deep scan applies to anything.
            let Segment::Child(sel) = segment else { return false };
            match sel {
                Selector::Name(name) => match node.as_object().map(|map| map.get(name)) {
                    Some(Some(child)) => node = child,
                    Some(None) => return !is_last,
                    None => return true,
                },
                Selector::Index(idx) => match node {
                    Value::Array(items) => match resolve_index(*idx, items.len()) {
                        Some(at) => node = &items[at],
                        None => return false,
                    },
                    _ => return true,
                },
                Selector::Wildcard => return false,
                Selector::Slice(..) => return !node.is_array(),
                Selector::Union(parts) if is_name_union(parts) => return !node.is_object(),
                Selector::Union(parts) if parts.iter().all(|p| matches!(p, Selector::Index(_))) => return !node.is_array(),
                Selector::Union(_) => return false,
                Selector::Filter(_) => return !(node.is_object() || node.is_array()),
            }
        }
        false
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
pub fn describe_kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

fn is_definite_step(segment: &Segment) -> bool {
    matches!(segment, Segment::Child(Selector::Name(_) | Selector::Index(_)))
}

/// A union of names only (`['a','b']`), the kind Jayway merges at the end of a path.
fn is_name_union(parts: &[Selector]) -> bool {
    parts.iter().all(|p| matches!(p, Selector::Name(_)))
}

/// The named fields of `map` that exist, as one object in the written
/// order, with its JSON size; `None` when that is over `max_bytes`.
fn merge_names(map: &Map<String, Value>, names: &[Selector], max_bytes: usize) -> Option<(Value, usize)> {
    let mut merged = Map::new();
    let mut bytes = 2usize;
    for name in names {
        if let Selector::Name(name) = name {
            if let Some(value) = map.get(name) {
                // `"name":value` and a comma before all but the first.
                let room = max_bytes.checked_sub(bytes + size::string_len(name) + 1 + usize::from(!merged.is_empty()))?;
                bytes = max_bytes - room + size::json_size_within(value, room)?;
                merged.insert(name.clone(), value.clone());
            }
        }
    }
    Some((Value::Object(merged), bytes))
}

fn resolve_index(idx: i64, len: usize) -> Option<usize> {
    let at = if idx < 0 { len as i64 + idx } else { idx };
    (at >= 0 && at < len as i64).then_some(at as usize)
}

/// Caps on one evaluation of a path: the nodes its walk may visit (filter
/// operands included), the nodes one step may collect, and the JSON bytes
/// of its result. Past any, the path fails with a [`PathLimitError`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PathLimits {
    pub max_work: usize,
    pub max_items: usize,
    pub max_bytes: usize,
}

/// The caps every path evaluation has: a million nodes visited (a deep scan
/// of a 256 KiB document visits at most about 130,000), 262,144 nodes
/// collected by a step (more than a 256 KiB document holds) and 1 MiB of
/// result (four times the payload limit).
pub const PATH_LIMITS: PathLimits = PathLimits { max_work: 1_000_000, max_items: 262_144, max_bytes: 1 << 20 };

/// A path stopped at one of its [`PathLimits`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PathLimitError {
    #[error("the path {path} visits more than {limit} nodes (the limit on the work of one path)")]
    Work { path: String, limit: usize },
    #[error("the path {path} collects more than {limit} nodes (the limit on the result set of one path step)")]
    Items { path: String, limit: usize },
    #[error("the path {path} selects more than {limit} bytes of JSON (the limit on the result of one path)")]
    Bytes { path: String, limit: usize },
}

/// Which cap a walk stopped at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stop {
    Work,
    Items,
}

/// The work done by one walk against its caps.
struct Work {
    left: usize,
    max_items: usize,
}

impl Work {
    fn new(limits: &PathLimits) -> Work {
        Work { left: limits.max_work, max_items: limits.max_items }
    }

    /// Spends `n` nodes of work.
    fn spend(&mut self, n: usize) -> Result<(), Stop> {
        self.left = self.left.checked_sub(n).ok_or(Stop::Work)?;
        Ok(())
    }

    /// A step's result set may not grow past the cap.
    fn collected(&self, out: &[&Value]) -> Result<(), Stop> {
        if out.len() > self.max_items {
            return Err(Stop::Items);
        }
        Ok(())
    }
}

/// Applies `segments` to `start`; `root` is what `$` means inside filters.
fn walk<'a>(segments: &[Segment], start: &'a Value, root: &'a Value, work: &mut Work) -> Result<Vec<&'a Value>, Stop> {
    let mut nodes: Vec<&Value> = vec![start];
    for segment in segments {
        let mut next = Vec::new();
        for node in nodes {
            work.spend(1)?;
            match segment {
                Segment::Child(sel) => select_children(node, sel, root, &mut next, work)?,
                Segment::Descendant(sel) => select_descendants(node, sel, root, &mut next, work)?,
            }
            work.collected(&next)?;
        }
        nodes = next;
    }
    Ok(nodes)
}

impl Operand {
    fn resolve<'a>(&'a self, current: &'a Value, root: &'a Value, work: &mut Work) -> Result<Option<&'a Value>, Stop> {
        Ok(match self {
            Operand::Current(segs) => walk(segs, current, root, work)?.into_iter().next(),
            Operand::Root(segs) => walk(segs, root, root, work)?.into_iter().next(),
            Operand::Literal(v) => Some(v),
        })
    }
}

impl Filter {
    fn holds(&self, current: &Value, root: &Value, work: &mut Work) -> Result<bool, Stop> {
        work.spend(1)?;
        Ok(match self {
            Filter::Or(parts) => {
                for f in parts {
                    if f.holds(current, root, work)? {
                        return Ok(true);
                    }
                }
                false
            }
            Filter::And(parts) => {
                for f in parts {
                    if !f.holds(current, root, work)? {
                        return Ok(false);
                    }
                }
                true
            }
            Filter::Not(inner) => !inner.holds(current, root, work)?,
            Filter::Exists(operand) => operand.resolve(current, root, work)?.is_some(),
            Filter::Compare(a, op, b) => {
                let (Some(a), Some(b)) = (a.resolve(current, root, work)?, b.resolve(current, root, work)?) else { return Ok(false) };
                let ordering = match (a, b) {
                    (Value::Number(x), Value::Number(y)) => x.as_f64().and_then(|x| y.as_f64().and_then(|y| x.partial_cmp(&y))),
                    // Java's String.compareTo, which Jayway uses: UTF-16 code units.
                    (Value::String(x), Value::String(y)) => {
                        work.spend(x.len().min(y.len()) / 64)?;
                        Some(x.encode_utf16().cmp(y.encode_utf16()))
                    }
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
        })
    }
}

fn select_children<'a>(node: &'a Value, sel: &Selector, root: &'a Value, out: &mut Vec<&'a Value>, work: &mut Work) -> Result<(), Stop> {
    match (sel, node) {
        (Selector::Name(name), Value::Object(map)) => out.extend(map.get(name)),
        (Selector::Index(idx), Value::Array(items)) => out.extend(resolve_index(*idx, items.len()).map(|i| &items[i])),
        (Selector::Wildcard, Value::Object(map)) => {
            work.spend(map.len())?;
            out.extend(map.values());
        }
        (Selector::Wildcard, Value::Array(items)) => {
            work.spend(items.len())?;
            out.extend(items.iter());
        }
        (Selector::Slice(start, end), Value::Array(items)) => {
            let len = items.len() as i64;
            let clamp = |v: i64| if v < 0 { (len + v).max(0) } else { v.min(len) };
            let (from, to) = (clamp(start.unwrap_or(0)), clamp(end.unwrap_or(len)));
            if from < to {
                work.spend((to - from) as usize)?;
                out.extend(&items[from as usize..to as usize]);
            }
        }
        (Selector::Union(parts), _) => {
            for part in parts {
                select_children(node, part, root, out, work)?;
            }
        }
        // AWS: `@` only matches objects, so other elements never pass a filter.
        (Selector::Filter(filter), Value::Array(items)) => {
            for item in items {
                if item.is_object() && filter.holds(item, root, work)? {
                    out.push(item);
                }
            }
        }
        // Jayway tests an object itself, not its members.
        (Selector::Filter(filter), Value::Object(_)) if filter.holds(node, root, work)? => out.push(node),
        _ => {}
    }
    work.collected(out)
}

/// `..sel` from `node`: `sel` applied to `node` and to every node below it,
/// in document order, walked with an explicit stack (a value's depth is not
/// bounded by the parser when it was built by the workflow).
fn select_descendants<'a>(node: &'a Value, sel: &Selector, root: &'a Value, out: &mut Vec<&'a Value>, work: &mut Work) -> Result<(), Stop> {
    let mut pending = vec![node];
    while let Some(node) = pending.pop() {
        work.spend(1)?;
        match sel {
            // Jayway's scan tests every object once, itself; testing an array's
            // elements here as well would report each of them twice.
            Selector::Filter(filter) => {
                if node.is_object() && filter.holds(node, root, work)? {
                    out.push(node);
                }
            }
            _ => select_children(node, sel, root, out, work)?,
        }
        work.collected(out)?;
        // Children last-first, so the first is scanned next.
        match node {
            Value::Object(map) => pending.extend(map.values().rev()),
            Value::Array(items) => pending.extend(items.iter().rev()),
            _ => {}
        }
    }
    Ok(())
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
        let mut variable = None;
        let root = if self.eat("$$") {
            Root::Context
        } else if self.eat("$") {
            // `$name`: a workflow variable (a Unicode letter or `_`, then letters, digits, `_`).
            let name_len = self
                .rest()
                .char_indices()
                .find(|&(i, c)| !(c == '_' || c.is_alphabetic() || (i > 0 && c.is_alphanumeric())))
                .map_or(self.rest().len(), |(i, _)| i);
            if name_len > 0 {
                variable = Some(self.rest()[..name_len].to_string());
                self.pos += name_len;
                Root::Variable
            } else {
                Root::Data
            }
        } else {
            return self.err("a path must start with $ (or $$ for the context object)");
        };
        let mut segments = Vec::new();
        while !self.rest().is_empty() {
            if self.eat("..") {
                let sel = if self.rest().starts_with('[') { self.bracket()? } else { self.dotted()? };
                segments.push(Segment::Descendant(sel));
            } else if self.eat(".") {
                // `.['name']` is `['name']` (the developer guide writes it; Jayway accepts it).
                let sel = if self.rest().starts_with('[') { self.bracket()? } else { self.dotted()? };
                segments.push(Segment::Child(sel));
            } else if self.rest().starts_with('[') {
                segments.push(Segment::Child(self.bracket()?));
            } else {
                return self.err(format!("unexpected {:?} at offset {}", self.rest().chars().next().unwrap_or(' '), self.pos));
            }
        }
        Ok(Path { text: self.text.to_string(), root, variable, segments })
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
            // No filter inside an operand: its depth would escape MAX_FILTER_DEPTH.
            loop {
                if self.rest().starts_with(".[?") || self.rest().starts_with("[?") {
                    return self.err(format!("a filter cannot be nested in a filter operand (offset {})", self.pos));
                }
                if self.rest().starts_with(".[") {
                    self.pos += 1;
                    segments.push(Segment::Child(self.bracket()?));
                } else if self.eat(".") {
                    segments.push(Segment::Child(self.dotted()?));
                } else if self.rest().starts_with('[') {
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

    /// A quoted name (`'a'` or `"a"`), its escapes read as Jayway's
    /// `Utils.unescape` reads them: `\\`, `\'`, `\"`, `\b`, `\f`, `\n`,
    /// `\r`, `\t`, `\uXXXX` (UTF-16 units, so a surrogate pair makes one
    /// character); any other escaped character stands for itself.
    fn quoted(&mut self) -> Result<String, PathSyntaxError> {
        let open = self.pos;
        let quote = self.rest().chars().next().unwrap_or('\'');
        self.pos += quote.len_utf8();
        let mut units: Vec<u16> = Vec::new();
        let mut chars = self.rest().char_indices();
        let mut buf = [0u16; 2];
        while let Some((i, c)) = chars.next() {
            let unit = match c {
                '\\' => match chars.next() {
                    Some((_, 'b')) => 0x08,
                    Some((_, 'f')) => 0x0c,
                    Some((_, 'n')) => u16::from(b'\n'),
                    Some((_, 'r')) => u16::from(b'\r'),
                    Some((_, 't')) => u16::from(b'\t'),
                    Some((at, 'u')) => {
                        let hex: String = (&mut chars).take(4).map(|(_, h)| h).collect();
                        match u16::from_str_radix(&hex, 16) {
                            Ok(unit) if hex.len() == 4 => unit,
                            _ => return self.err(format!("bad unicode escape \\u{hex} at offset {}", self.pos + at - 1)),
                        }
                    }
                    Some((_, e)) => {
                        units.extend_from_slice(e.encode_utf16(&mut buf));
                        continue;
                    }
                    None => break,
                },
                c if c == quote => {
                    self.pos += i + c.len_utf8();
                    return String::from_utf16(&units)
                        .or_else(|_| self.err(format!("a lone surrogate in the quoted name at offset {open}")));
                }
                c => {
                    units.extend_from_slice(c.encode_utf16(&mut buf));
                    continue;
                }
            };
            units.push(unit);
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
        // Jayway reads only start and end: a step is accepted and ignored.
        if self.eat(":") {
            self.int()?;
        }
        if start.is_none() && end.is_none() {
            return self.err("a slice needs a start or an end");
        }
        Ok(Selector::Slice(start, end))
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
        assert_eq!(sel("$.items[0,2].sku", &doc), Some(json!(["A", "C"])));
        assert_eq!(sel("$..sku", &doc), Some(json!(["A", "B", "C", "Z"])));
        assert_eq!(sel("$.items[*].nothing", &doc), Some(json!([])));
        assert_eq!(sel("$.items[-9223372036854775808:].sku", &doc), Some(json!(["A", "B", "C"])));
        assert_eq!(sel("$.items[:-9223372036854775808].sku", &doc), Some(json!([])));
    }

    #[test]
    fn slice_steps_are_ignored_as_in_jayway() {
        let doc = json!({"n": [1, 2, 3, 4]});
        assert_eq!(sel("$.n[0:4:2]", &doc), Some(json!([1, 2, 3, 4])));
        assert_eq!(sel("$.n[1::9223372036854775807]", &doc), Some(json!([2, 3, 4])));
        assert_eq!(sel("$.n[:2:-1]", &doc), Some(json!([1, 2])));
        assert_eq!(sel("$.n[1:-1]", &doc), Some(json!([2, 3])), "deliberate deviation: negative bounds count from the end");
    }

    #[test]
    fn a_failing_step_after_a_definite_prefix_selects_nothing() {
        let doc = json!({"s": "text", "n": null, "list": [[1], {"a": 1}], "o": {"a": 1}});
        // Jayway raises PathNotFoundException for these rather than giving [].
        for path in [
            "$.missing[*]",
            "$.missing..x",
            "$.missing.x[*]",
            "$.s.x[*]",
            "$.s[0:1]",
            "$.n[0:1]",
            "$.s[?(@.a)]",
            "$.o[0,1]",
            "$.s['a','b']",
            "$.n[0]",
        ] {
            assert_eq!(sel(path, &doc), None, "{path}");
        }
        // A wildcard or deep scan applies to anything; an index out of bounds
        // is silently empty; nothing fails after an indefinite step.
        assert_eq!(sel("$.s[*]", &doc), Some(json!([])));
        assert_eq!(sel("$.n[*].x[0]", &doc), Some(json!([])));
        assert_eq!(sel("$.s..x", &doc), Some(json!([])));
        assert_eq!(sel("$.list[5][*]", &doc), Some(json!([])));
        assert_eq!(sel("$.list[*].a", &doc), Some(json!([1])));
        assert_eq!(sel("$.list[*].missing[*]", &doc), Some(json!([])));
        assert_eq!(sel("$.list[0][*]", &doc), Some(json!([1])));
    }

    #[test]
    fn a_trailing_union_of_names_merges_into_one_object() {
        let doc = json!({"bike": {"color": "red", "price": 20, "gears": 3}, "items": [{"a": 1, "b": 2}, {"a": 3}, 7], "s": "x"});
        assert_eq!(sel("$.bike['price','color']", &doc), Some(json!({"price": 20, "color": "red"})));
        assert_eq!(sel("$.bike['color','nope']", &doc), Some(json!({"color": "red"})));
        assert_eq!(sel("$.bike['x','y']", &doc), Some(json!({})));
        assert_eq!(sel("$.items[*]['a','b']", &doc), Some(json!([{"a": 1, "b": 2}, {"a": 3}])));
        assert_eq!(sel("$.nope['a','b']", &doc), None);
        // Not at the end, a union of names iterates as any union does.
        assert_eq!(sel("$['bike','items'][0]", &doc), Some(json!([{"a": 1, "b": 2}])));
        // Merged or not, a union never names the single node a reference path needs.
        assert!(Path::parse_reference("$.bike['color','price']").is_err());
    }

    #[test]
    fn dot_then_bracket_is_a_bracket() {
        let doc = json!({"abc": {"def ghi": 7, "l": [1, {"x y": 2}]}});
        assert_eq!(sel("$.abc.['def ghi']", &doc), Some(json!(7)));
        assert_eq!(sel("$.['abc'].l.[1].['x y']", &doc), Some(json!(2)));
        assert_eq!(sel("$.abc.l.[?(@.['x y'] == 2)]", &doc), Some(json!([{"x y": 2}])));
        assert!(Path::parse_reference("$.abc.['def ghi']").is_ok());
        assert!(Path::parse("$.abc.[").is_err());
    }

    #[test]
    fn rejects_bad_syntax() {
        let bad = [
            "",
            "a.b",
            "$.",
            "$.a[",
            "$.a[?(@.x]",
            "$.a[?(1)]",
            "$.a[?(@.x <)]",
            "$[x]",
            "$.a b",
            "$['open]",
            "$.a)",
            "$.a[:]",
            "$.a[::2]",
            "$.a[1:2:x]",
            "$.a[?(@.[?(@.b)] > 1)]",
            "$.a[?(@[?(@.b)])]",
        ];
        for bad in bad {
            assert!(Path::parse(bad).is_err(), "{bad:?} should not parse");
        }
        assert!(Path::parse_reference("$.a[*]").is_err());
        assert!(Path::parse_reference("$..a").is_err());
        assert!(Path::parse_reference("$$.Execution.Id").is_err());
        assert!(Path::parse_reference("$.a[0].b").is_ok());
    }

    #[test]
    fn read_only_reference_paths_may_read_the_context() {
        let p = Path::parse_reference_allowing_context("$$.Execution.Name").unwrap();
        assert_eq!(p.root(), Root::Context);
        assert!(Path::parse_reference_allowing_context("$.a['b'][0]").is_ok());
        for bad in ["$$.Execution[*]", "$..a", "$.a[0:1]", "$.a[?(@.x)]", "$.a['b','c']", "$$.", "x"] {
            assert!(Path::parse_reference_allowing_context(bad).is_err(), "{bad:?}");
        }
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
        assert_eq!(skus("$..[?(@.sku)].sku"), json!(["A", "B", "C", "D"]), "a deep scan tests each object once");
        assert!(!Path::parse("$.items[?(@.price > 1)]").unwrap().is_definite());
        let deep = format!("$.a[?({}@.x{})]", "(".repeat(40), ")".repeat(40));
        assert!(Path::parse(&deep).unwrap_err().reason.contains("nested too deeply"));
    }

    #[test]
    fn filters_only_test_objects() {
        let doc = json!({"nums": [1, 2, 3, 4], "mixed": [5, {"v": 5}, [5], "5", null], "o": {"v": 1, "w": {"v": 2}}});
        // AWS: `@` only matches objects (Jayway alone would give [3, 4]).
        assert_eq!(sel("$.nums[?(@ > 2)]", &doc), Some(json!([])));
        assert_eq!(sel("$.mixed[?(@.v == 5)]", &doc), Some(json!([{"v": 5}])));
        assert_eq!(sel("$.mixed[?(!@.v)]", &doc), Some(json!([])));
        // Applied to an object, a filter tests the object itself (Jayway).
        assert_eq!(sel("$.o[?(@.v == 1)]", &doc), Some(json!([{"v": 1, "w": {"v": 2}}])));
        assert_eq!(sel("$.o[?(@.v == 2)]", &doc), Some(json!([])));
        assert_eq!(sel("$.o..[?(@.v == 2)]", &doc), Some(json!([{"v": 2}])));
    }

    #[test]
    fn filter_strings_compare_by_utf16_code_units() {
        // U+1F600 is the surrogate pair D83D DE00, below U+FF21 in UTF-16 but
        // above it in code points.
        let doc = json!({"l": [{"s": "\u{1F600}"}, {"s": "\u{FF21}"}]});
        assert_eq!(sel("$.l[?(@.s < '\u{FF21}')].s", &doc), Some(json!(["\u{1F600}"])));
        assert_eq!(sel("$.l[?(@.s > '\u{1F600}')].s", &doc), Some(json!(["\u{FF21}"])));
    }

    #[test]
    fn quoted_names_read_escapes_as_jayway_does() {
        let doc = json!({"a'b": 1, "x\"y": 2, "back\\slash": 3, "tab\there": 4, "é": 5, "😀": 6, "a]b": 7});
        assert_eq!(sel(r"$['a\'b']", &doc), Some(json!(1)));
        assert_eq!(sel(r#"$["x\"y"]"#, &doc), Some(json!(2)));
        assert_eq!(sel(r"$['back\\slash']", &doc), Some(json!(3)));
        assert_eq!(sel(r"$['tab\there']", &doc), Some(json!(4)));
        assert_eq!(sel(r"$['\u00e9']", &doc), Some(json!(5)));
        assert_eq!(sel(r"$['\ud83d\ude00']", &doc), Some(json!(6)));
        assert_eq!(sel(r"$['a]b']", &doc), Some(json!(7)));
        assert_eq!(sel(r#"$["a'b"]"#, &doc), Some(json!(1)));
        assert_eq!(sel(r"$['a\'b','x\u0022y']", &doc), Some(json!({"a'b": 1, "x\"y": 2})));
        let p = Path::parse_reference(r"$['a\'b']['back\\slash']").unwrap();
        assert_eq!(p.set(json!({}), json!(9)).unwrap(), json!({"a'b": {"back\\slash": 9}}));
        assert!(Path::parse(r"$['\u00g1']").unwrap_err().reason.contains("bad unicode escape"));
        assert!(Path::parse(r"$['\ud83d']").unwrap_err().reason.contains("lone surrogate"));
        assert!(Path::parse(r"$['a\']").is_err(), "the escaped quote does not close the name");
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
    fn chained_deep_scans_stop_at_the_work_cap() {
        let mut deep = json!({"p": 1});
        for _ in 0..30 {
            deep = json!({"a": deep, "p": 1});
        }
        let path = Path::parse(&format!("${}", "..a".repeat(10))).unwrap();
        let err = path.select_within(&deep, &PATH_LIMITS).unwrap_err();
        assert_eq!(err, PathLimitError::Work { path: path.to_string(), limit: 1_000_000 });
        assert!(err.to_string().contains("visits more than 1000000 nodes (the limit on the work of one path)"), "{err}");
        assert_eq!(path.select(&deep), None, "select reads a capped path as nothing");
        // Two chained scans are well under the cap: C(30, 2) + 30 matches.
        let (found, _) = Path::parse("$..a..a").unwrap().select_within(&deep, &PATH_LIMITS).unwrap().unwrap();
        assert_eq!(found.as_array().unwrap().len(), 435);
        // The work cap counts filter operands too.
        let wide = json!({"l": (0..2000).map(|i| json!({"v": i, "w": (0..600).collect::<Vec<_>>()})).collect::<Vec<_>>()});
        let err = Path::parse("$..[?(@.w[*] > 1000)]").unwrap().select_within(&wide, &PATH_LIMITS).unwrap_err();
        assert!(matches!(err, PathLimitError::Work { .. }), "{err}");
    }

    #[test]
    fn result_sets_are_capped_in_items_and_bytes_while_collected() {
        let doc = json!({"list": (0..100).collect::<Vec<_>>(), "s": "x".repeat(50)});
        let all = Path::parse("$.list[*]").unwrap();
        let limits = |max_items, max_bytes| PathLimits { max_work: 1_000_000, max_items, max_bytes };
        let exact = serde_json::to_string(&doc["list"]).unwrap().len();
        let (value, bytes) = all.select_within(&doc, &limits(100, exact)).unwrap().unwrap();
        assert_eq!((value, bytes), (doc["list"].clone(), exact), "exactly at both caps");
        assert_eq!(all.select_within(&doc, &limits(99, exact)).unwrap_err(), PathLimitError::Items { path: "$.list[*]".into(), limit: 99 });
        let err = all.select_within(&doc, &limits(100, exact - 1)).unwrap_err();
        assert_eq!(err, PathLimitError::Bytes { path: "$.list[*]".into(), limit: exact - 1 });
        assert!(err.to_string().contains("selects more than"), "{err}");
        // A definite path's node is measured before it is copied.
        let s = Path::parse("$.s").unwrap();
        assert_eq!(s.select_within(&doc, &limits(1, 52)).unwrap().unwrap().1, 52);
        assert!(matches!(s.select_within(&doc, &limits(1, 51)), Err(PathLimitError::Bytes { .. })));
        // Empty results and merged unions are sized exactly too.
        assert_eq!(Path::parse("$.list[?(@.x)]").unwrap().select_within(&doc, &PATH_LIMITS).unwrap().unwrap().1, 2);
        let bike = json!({"b": {"color": "red", "price": 20}});
        let (merged, bytes) = Path::parse("$.b['price','color']").unwrap().select_within(&bike, &PATH_LIMITS).unwrap().unwrap();
        assert_eq!(bytes, serde_json::to_string(&merged).unwrap().len());
    }

    #[test]
    fn a_deep_scan_of_a_deep_value_does_not_recurse() {
        let mut deep = json!({"x": 1});
        for _ in 0..100_000 {
            let mut m = Map::new();
            m.insert("n".into(), deep);
            deep = Value::Object(m);
        }
        let (found, _) = Path::parse("$..x").unwrap().select_within(&deep, &PATH_LIMITS).unwrap().unwrap();
        assert_eq!(found, json!([1]));
        // Dropping it would recurse: take it apart level by level.
        let mut v = deep;
        while let Value::Object(mut m) = v {
            v = m.remove("n").unwrap_or(Value::Null);
        }
    }

    #[test]
    fn context_root() {
        let p = Path::parse("$$.Execution.Id").unwrap();
        assert_eq!(p.root(), Root::Context);
        assert_eq!(p.select(&json!({"Execution": {"Id": "e"}})), Some(json!("e")));
    }
}
