//! The evaluator: walks a [`Node`] tree against the context value, a port of
//! jsonata-js `evaluate` (paths as sequences, predicates, grouping, order-by,
//! operators, blocks, bindings, lambdas, partial application, `~>`).
//!
//! Every node evaluated costs one step of a budget, and builtins charge for
//! the items they produce, so that hostile expressions end with an error
//! instead of hanging: see the limits in `mod.rs`.

use super::ast::{BinOp, Kind, Node};
use super::env::Env;
use super::error::{err, JsonataError};
use super::functions;
use super::random::JavaRandom;
use super::stringify;
use super::value::{is_integer, ArrFlags, Function, Value};
use super::Limits;
use indexmap::IndexMap;
use std::cmp::Ordering;
use std::collections::HashSet;
use std::rc::Rc;

/// The address of a local: how far the stack has grown since the evaluation
/// began (the stack grows down on every supported target).
#[inline(always)]
fn stack_addr() -> usize {
    let marker = 0u8;
    std::hint::black_box(&marker) as *const u8 as usize
}

pub(crate) struct Evaluator {
    pub(super) limits: Limits,
    steps: u64,
    /// Nodes evaluated (the clock is read every 1024 of them).
    ticks: u64,
    started: std::time::Instant,
    /// Bytes of strings and sequence items built so far (`max_built_bytes`).
    built: usize,
    call_depth: usize,
    stack_base: usize,
    /// Frames reachable from closures, cleared at the end (see [`Env::clear`]).
    captured: Vec<Rc<Env>>,
    captured_set: HashSet<*const Env>,
    /// `$now()`/`$millis()` are fixed for one evaluation, as in jsonata-js.
    pub now: chrono::DateTime<chrono::Utc>,
    /// The generator of `$random()` and `$shuffle`, seeded on first use.
    rng: Option<JavaRandom>,
}

impl Drop for Evaluator {
    fn drop(&mut self) {
        for env in &self.captured {
            env.clear();
        }
    }
}

/// Evaluates `node` with `input` as `$` and `$$` and the given variables.
pub(crate) fn evaluate(node: &Node, input: Value, bindings: Vec<(String, Value)>, limits: Limits) -> Result<Value, JsonataError> {
    let mut ev = Evaluator {
        limits,
        steps: 0,
        ticks: 0,
        started: std::time::Instant::now(),
        built: 0,
        call_depth: 0,
        stack_base: stack_addr(),
        captured: Vec::new(),
        captured_set: HashSet::new(),
        now: chrono::Utc::now(),
        rng: None,
    };
    let root = Rc::new(Env::new(None));
    // A top-level array is wrapped as a one-item sequence (jsonata-js "outer wrapper").
    let input = match input {
        arr @ Value::Array(..) => Value::seq(vec![arr]).with_flags(ArrFlags { sequence: true, outer_wrapper: true, ..Default::default() }),
        other => other,
    };
    root.bind("$", input.clone());
    for (name, value) in bindings {
        root.bind(&name, value);
    }
    ev.capture(&root);
    ev.eval(node, &input, &root)
}

/// Removes sequence-ness: empty → undefined, singleton → its item.
fn normalize(v: Value, keep_array: bool) -> Value {
    match v {
        Value::Array(a, mut f) if f.sequence => {
            if keep_array {
                f.keep_singleton = true;
            }
            match a.items.len() {
                0 => Value::Undefined,
                1 if !f.keep_singleton => a.items[0].clone(),
                _ => Value::Array(a, f),
            }
        }
        other => other,
    }
}

impl Evaluator {
    fn tick(&mut self) -> Result<(), JsonataError> {
        self.charge(1)?;
        self.ticks = self.ticks.wrapping_add(1);
        if self.ticks.is_multiple_of(1024) {
            self.check_time()?;
        }
        if self.stack_base.saturating_sub(stack_addr()) > self.limits.max_stack_bytes {
            return err(
                "U1001",
                "Stack overflow error: the expression nests or recurses too deeply. Check for non-terminating recursive function",
            );
        }
        Ok(())
    }

    /// The wall clock: this expression's own `max_duration`, and the budget
    /// of the whole evaluation it is part of (one state's, when the driver
    /// set one: see `crate::evaluation_budget`).
    fn check_time(&self) -> Result<(), JsonataError> {
        if self.started.elapsed() > self.limits.max_duration {
            return err("U1005", format!("Evaluation exceeded its time limit of {} ms", self.limits.max_duration.as_millis()));
        }
        crate::evaluation_budget::check().map_err(|e| JsonataError::new("U1005", e.to_string()))
    }

    /// Spends `n` steps of the evaluation budget.
    pub fn charge(&mut self, n: usize) -> Result<(), JsonataError> {
        // Builtins charge for big work at once, between two node ticks.
        if n >= 1024 {
            self.check_time()?;
        }
        self.steps += n as u64;
        if self.steps > self.limits.max_steps {
            return err("U1003", format!("Evaluation exceeded its budget of {} steps", self.limits.max_steps));
        }
        Ok(())
    }

    pub fn max_sequence(&self) -> usize {
        self.limits.max_sequence
    }

    /// The next number in `[0, 1)` of this evaluation's unseeded generator.
    pub fn next_random(&mut self) -> f64 {
        self.rng.get_or_insert_with(JavaRandom::from_entropy).next_double()
    }

    /// Checks the length of an array about to be built, and charges for it.
    pub fn check_len(&mut self, n: usize) -> Result<(), JsonataError> {
        self.fits_len(n)?;
        self.built(n.saturating_mul(std::mem::size_of::<Value>()))?;
        self.charge(n)
    }

    /// Counts `bytes` more built by this evaluation against `max_built_bytes`.
    fn built(&mut self, bytes: usize) -> Result<(), JsonataError> {
        self.built = self.built.saturating_add(bytes);
        if self.built > self.limits.max_built_bytes {
            return err(
                "U1004",
                format!(
                    "The evaluation built more than {} bytes of strings and sequences (the limit on one evaluation)",
                    self.limits.max_built_bytes
                ),
            );
        }
        Ok(())
    }

    /// Checks the length of an array being built, without charging (for
    /// loops that charge once at the end).
    pub fn fits_len(&self, n: usize) -> Result<(), JsonataError> {
        if n > self.limits.max_sequence {
            return err("U1004", format!("Sequence of {n} items exceeds the limit of {}", self.limits.max_sequence));
        }
        Ok(())
    }

    /// Checks the size of a string about to be built, and charges for it.
    pub fn check_str(&mut self, bytes: usize) -> Result<(), JsonataError> {
        self.fits_str(bytes)?;
        self.built(bytes)?;
        self.charge(bytes / 64)
    }

    /// Checks the size of a string being built, without charging.
    pub fn fits_str(&self, bytes: usize) -> Result<(), JsonataError> {
        if bytes > self.limits.max_string_bytes {
            return err("U1004", format!("String of {bytes} bytes exceeds the limit of {}", self.limits.max_string_bytes));
        }
        Ok(())
    }

    fn capture(&mut self, env: &Rc<Env>) {
        let mut cur = Some(env.clone());
        while let Some(e) = cur {
            if !self.captured_set.insert(Rc::as_ptr(&e)) {
                break;
            }
            cur = e.parent();
            self.captured.push(e);
        }
    }

    pub fn eval(&mut self, node: &Node, input: &Value, env: &Rc<Env>) -> Result<Value, JsonataError> {
        self.tick().map_err(|e| e.at(node.pos))?;
        let mut result = self.eval_kind(node, input, env).map_err(|e| e.at(node.pos))?;
        for p in &node.predicates {
            result = self.filter(p, result, env)?;
        }
        if !matches!(node.kind, Kind::Path { .. }) {
            if let Some(g) = &node.group {
                result = self.group(g, &result, env).map_err(|e| e.at(node.pos))?;
            }
        }
        Ok(normalize(result, node.keep_array))
    }

    fn eval_kind(&mut self, node: &Node, input: &Value, env: &Rc<Env>) -> Result<Value, JsonataError> {
        Ok(match &node.kind {
            Kind::Path { steps, keep_singleton_array } => self.path(node, steps, *keep_singleton_array, input, env)?,
            Kind::Name(name) => self.lookup(input, name)?,
            Kind::Str(s) => Value::string(s.as_str()),
            Kind::Num(n) => Value::Number(*n),
            Kind::Bool(b) => Value::Bool(*b),
            Kind::Null => Value::Null,
            Kind::Wildcard => self.wildcard(input)?,
            Kind::Descendant => self.descendants(input)?,
            Kind::Variable(name) if name.is_empty() => match input {
                Value::Array(a, f) if f.outer_wrapper && !a.items.is_empty() => a.items[0].clone(),
                other => other.clone(),
            },
            Kind::Variable(name) => lookup_var(name, env),
            Kind::Regex(r) => Value::Function(Rc::new(Function::Regex(r.clone()))),
            Kind::Binary { op, lhs, rhs } => self.binary(*op, lhs, rhs, input, env)?,
            Kind::Neg(e) => match self.eval(e, input, env)? {
                Value::Undefined => Value::Undefined,
                Value::Number(n) => Value::Number(-n),
                _ => return err("D1002", "Cannot negate a non-numeric value"),
            },
            Kind::ArrayCons { items, cons } => {
                let mut out = Vec::new();
                for item in items {
                    let v = self.eval(item, input, env)?;
                    match v {
                        Value::Undefined => {}
                        Value::Array(a, _) if !matches!(item.kind, Kind::ArrayCons { .. }) => {
                            self.fits_len(out.len() + a.items.len())?;
                            out.extend(a.items.iter().cloned())
                        }
                        other => out.push(other),
                    }
                }
                self.check_len(out.len())?;
                Value::array(out).with_flags(ArrFlags { cons: *cons, ..Default::default() })
            }
            Kind::ObjectCons(pairs) => self.group(pairs, input, env)?,
            Kind::Condition { cond, then, otherwise } => {
                if self.truthy_of(cond, input, env)? {
                    self.eval(then, input, env)?
                } else if let Some(o) = otherwise {
                    self.eval(o, input, env)?
                } else {
                    Value::Undefined
                }
            }
            Kind::Elvis { lhs, rhs } => {
                let l = self.eval(lhs, input, env)?;
                if self.truthy(&l)? == Some(true) {
                    l
                } else {
                    self.eval(rhs, input, env)?
                }
            }
            Kind::Coalesce { lhs, rhs } => match self.eval(lhs, input, env)? {
                Value::Undefined => self.eval(rhs, input, env)?,
                l => l,
            },
            Kind::Block(exprs) => {
                let frame = Rc::new(Env::new(Some(env.clone())));
                let mut r = Value::Undefined;
                for e in exprs {
                    r = self.eval(e, input, &frame)?;
                }
                r
            }
            Kind::Bind { name, value } => {
                let v = self.eval(value, input, env)?;
                env.bind(name, v.clone());
                v
            }
            Kind::Call { proc, args, partial } => self.call(proc, args, *partial, input, env, None)?,
            Kind::Placeholder => return err("S0201", "? may only stand for an argument of a function call"),
            Kind::Lambda { params, signature, body } => {
                self.capture(env);
                Value::Function(Rc::new(Function::Lambda {
                    params: params.clone(),
                    signature: signature.clone(),
                    body: body.clone(),
                    env: env.clone(),
                    input: input.clone(),
                }))
            }
            Kind::Apply { lhs, rhs } => {
                let l = self.eval(lhs, input, env)?;
                match &rhs.kind {
                    Kind::Call { proc, args, partial: false } => self.call(proc, args, false, input, env, Some(l))?,
                    _ => {
                        let f = self.eval(rhs, input, env)?;
                        if !f.is_function() {
                            return err("T2006", "The right side of the function application operator ~> must be a function");
                        }
                        if l.is_function() {
                            Value::Function(Rc::new(Function::Compose { first: l, then: f }))
                        } else {
                            self.apply(&f, vec![l], &Value::Null)?
                        }
                    }
                }
            }
            Kind::Sort(_) => return err("S0201", "An order-by clause must follow a path"),
        })
    }

    /// Evaluates `node` and takes its effective boolean value (undefined is false).
    fn truthy_of(&mut self, node: &Node, input: &Value, env: &Rc<Env>) -> Result<bool, JsonataError> {
        let v = self.eval(node, input, env)?;
        Ok(self.truthy(&v)?.unwrap_or(false))
    }

    fn path(&mut self, node: &Node, steps: &[Node], keep_singleton: bool, input: &Value, env: &Rc<Env>) -> Result<Value, JsonataError> {
        // A path starting with a variable is absolute; otherwise it maps over an input array.
        let mut seq =
            if input.is_array() && !matches!(steps[0].kind, Kind::Variable(_)) { input.clone() } else { Value::seq(vec![input.clone()]) };
        let mut result = Value::Undefined;
        let last = steps.len() - 1;
        for (i, step) in steps.iter().enumerate() {
            result = if i == 0 && matches!(step.kind, Kind::ArrayCons { cons: true, .. }) {
                self.eval(step, &seq, env)?
            } else {
                self.step(step, &seq, env, i == last)?
            };
            match &result {
                Value::Undefined => break,
                Value::Array(a, _) if a.items.is_empty() => break,
                _ => {}
            }
            seq = result.clone();
        }
        if keep_singleton {
            if let Value::Array(_, f) = &result {
                if f.cons && !f.sequence {
                    result = Value::seq(vec![result]);
                }
                let f = ArrFlags { keep_singleton: true, ..result.flags() };
                result = result.with_flags(f);
            }
        }
        if let Some(g) = &node.group {
            result = self.group(g, &result, env)?;
        }
        Ok(result)
    }

    fn step(&mut self, step: &Node, input: &Value, env: &Rc<Env>, last: bool) -> Result<Value, JsonataError> {
        if let Kind::Sort(terms) = &step.kind {
            let mut r = self.sort_step(terms, input, env).map_err(|e| e.at(step.pos))?;
            for s in &step.stages {
                r = self.filter(s, r, env)?;
            }
            return Ok(r);
        }
        let mut results = Vec::new();
        for item in input.items() {
            let mut r = self.eval(step, &item, env)?;
            for s in &step.stages {
                r = self.filter(s, r, env)?;
            }
            if !r.is_undefined() {
                results.push(r);
            }
        }
        if last && results.len() == 1 && results[0].is_array() && !results[0].is_sequence() {
            return Ok(results.pop().unwrap_or(Value::Undefined));
        }
        let mut out = Vec::with_capacity(results.len());
        for r in results {
            match r {
                Value::Array(a, f) if !f.cons => {
                    self.fits_len(out.len() + a.items.len())?;
                    out.extend(a.items.iter().cloned())
                }
                other => out.push(other),
            }
        }
        self.check_len(out.len())?;
        Ok(Value::seq(out))
    }

    /// Applies a predicate `[...]`: a literal number indexes, anything else
    /// filters (numbers it yields are indexes, other values are tested).
    fn filter(&mut self, pred: &Node, input: Value, env: &Rc<Env>) -> Result<Value, JsonataError> {
        let items = match input {
            Value::Undefined => return Ok(Value::seq(Vec::new())),
            Value::Array(..) => input.items(),
            other => vec![other],
        };
        let len = items.len() as f64;
        let index_of = |n: f64| {
            let i = n.floor();
            if i < 0.0 {
                i + len
            } else {
                i
            }
        };
        if let (Kind::Num(n), true) = (&pred.kind, pred.predicates.is_empty()) {
            let i = index_of(*n);
            if i < 0.0 || i >= len {
                return Ok(Value::seq(Vec::new()));
            }
            return Ok(match &items[i as usize] {
                arr @ Value::Array(..) => arr.clone(),
                other => Value::seq(vec![other.clone()]),
            });
        }
        let mut out = Vec::new();
        for (index, item) in items.iter().enumerate() {
            let res = self.eval(pred, item, env)?;
            let numbers: Option<Vec<f64>> = match &res {
                Value::Number(n) => Some(vec![*n]),
                Value::Array(a, _) if a.items.iter().all(|v| matches!(v, Value::Number(_))) => {
                    Some(a.items.iter().filter_map(Value::as_f64).collect())
                }
                _ => None,
            };
            match numbers {
                Some(ns) => {
                    if ns.iter().any(|n| index_of(*n) == index as f64) {
                        out.push(item.clone());
                    }
                }
                None => {
                    if self.truthy(&res)? == Some(true) {
                        out.push(item.clone());
                    }
                }
            }
        }
        Ok(Value::seq(out))
    }

    /// Object construction and grouping: each item of `input` is filed under
    /// the key each pair's key expression gives it, then the value expression
    /// runs once per key over the items filed there.
    fn group(&mut self, pairs: &[(Node, Node)], input: &Value, env: &Rc<Env>) -> Result<Value, JsonataError> {
        let mut items = match input {
            Value::Array(..) => input.items(),
            other => vec![other.clone()],
        };
        if items.is_empty() {
            items.push(Value::Undefined);
        }
        // key -> (first item, further items appended jsonata-style, pair index)
        let mut groups: IndexMap<String, (Value, Option<Vec<Value>>, usize)> = IndexMap::new();
        for item in &items {
            for (pi, (k, _)) in pairs.iter().enumerate() {
                match self.eval(k, item, env)? {
                    Value::Undefined => {}
                    Value::String(key) => match groups.get_mut(&*key) {
                        Some((first, rest, idx)) => {
                            if *idx != pi {
                                return err("D1009", format!("Multiple key definitions evaluate to same key: {key}"));
                            }
                            let acc = rest.get_or_insert_with(|| first.clone().into_items());
                            match item {
                                Value::Array(a, _) => acc.extend(a.items.iter().cloned()),
                                other => acc.push(other.clone()),
                            }
                            self.charge(1)?;
                        }
                        None => {
                            groups.insert(key.to_string(), (item.clone(), None, pi));
                        }
                    },
                    other => return err("T1003", format!("Key in object structure must evaluate to a string; got: {}", other.type_name())),
                }
            }
        }
        let mut out = IndexMap::with_capacity(groups.len());
        for (key, (first, rest, pi)) in groups {
            let data = match rest {
                Some(items) => Value::array(items),
                None => first,
            };
            let v = self.eval(&pairs[pi].1, &data, env)?;
            if !v.is_undefined() {
                out.insert(key, v);
            }
        }
        Ok(Value::object(out))
    }

    fn sort_step(&mut self, terms: &[(Node, bool)], input: &Value, env: &Rc<Env>) -> Result<Value, JsonataError> {
        let mut keyed = Vec::new();
        for item in input.items() {
            let mut keys = Vec::with_capacity(terms.len());
            for (t, _) in terms {
                keys.push(self.eval(t, &item, env)?);
            }
            keyed.push((keys, item));
        }
        let sorted = merge_sort(self, keyed, &mut |ev, a, b| {
            ev.charge(1)?;
            for (i, (_, descending)) in terms.iter().enumerate() {
                let ord = match (&a.0[i], &b.0[i]) {
                    (Value::Undefined, Value::Undefined) => continue,
                    (Value::Undefined, _) => return Ok(true),
                    (_, Value::Undefined) => return Ok(false),
                    (Value::Number(x), Value::Number(y)) => x.partial_cmp(y).unwrap_or(Ordering::Equal),
                    (Value::String(x), Value::String(y)) => x.cmp(y),
                    (Value::Number(_) | Value::String(_), Value::Number(_) | Value::String(_)) => {
                        return err("T2007", "Type mismatch within order-by clause. All values must be of the same type");
                    }
                    _ => return err("T2008", "The expressions within an order-by clause must evaluate to numeric or string values"),
                };
                let ord = if *descending { ord.reverse() } else { ord };
                if ord != Ordering::Equal {
                    return Ok(ord == Ordering::Greater);
                }
            }
            Ok(false)
        })?;
        Ok(Value::seq(sorted.into_iter().map(|(_, v)| v).collect()))
    }

    fn binary(&mut self, op: BinOp, lhs: &Node, rhs: &Node, input: &Value, env: &Rc<Env>) -> Result<Value, JsonataError> {
        let l = self.eval(lhs, input, env)?;
        match op {
            BinOp::And => {
                let lb = self.truthy(&l)?.unwrap_or(false);
                return Ok(Value::Bool(lb && self.truthy_of(rhs, input, env)?));
            }
            BinOp::Or => {
                let lb = self.truthy(&l)?.unwrap_or(false);
                return Ok(Value::Bool(lb || self.truthy_of(rhs, input, env)?));
            }
            _ => {}
        }
        let r = self.eval(rhs, input, env)?;
        match op {
            BinOp::Add | BinOp::Sub | BinOp::Mul | BinOp::Div | BinOp::Mod => arithmetic(op, &l, &r),
            BinOp::Eq | BinOp::Ne => {
                if l.is_undefined() || r.is_undefined() {
                    return Ok(Value::Bool(false));
                }
                let eq = self.equal(&l, &r)?;
                Ok(Value::Bool(if op == BinOp::Eq { eq } else { !eq }))
            }
            BinOp::Lt | BinOp::Le | BinOp::Gt | BinOp::Ge => {
                if let (Value::String(a), Value::String(b)) = (&l, &r) {
                    self.charge(a.len().min(b.len()) / 64)?;
                }
                compare(op, &l, &r)
            }
            BinOp::Concat => {
                let limit = self.limits.max_string_bytes;
                let mut s = stringify::to_string(&l, false, limit)?.unwrap_or_default();
                let rs = stringify::to_string(&r, false, limit)?.unwrap_or_default();
                self.check_str(s.len() + rs.len())?;
                s.push_str(&rs);
                Ok(Value::string(s))
            }
            BinOp::Range => self.range(&l, &r),
            BinOp::In => {
                if l.is_undefined() || r.is_undefined() {
                    return Ok(Value::Bool(false));
                }
                let items = r.items();
                self.charge(items.len())?;
                for item in items {
                    if self.equal(&l, &item)? {
                        return Ok(Value::Bool(true));
                    }
                }
                Ok(Value::Bool(false))
            }
            BinOp::And | BinOp::Or => unreachable!("handled above"),
        }
    }

    fn range(&mut self, l: &Value, r: &Value) -> Result<Value, JsonataError> {
        let bound = |v: &Value, code: &'static str, side: &str| match v {
            Value::Undefined => Ok(None),
            Value::Number(n) if is_integer(*n) => Ok(Some(*n)),
            _ => err(code, format!("The {side} side of the range operator (..) must evaluate to an integer")),
        };
        let (Some(lo), Some(hi)) = (bound(l, "T2003", "left")?, bound(r, "T2004", "right")?) else {
            return Ok(Value::Undefined);
        };
        if lo > hi {
            return Ok(Value::Undefined);
        }
        let size = hi - lo + 1.0;
        if size > self.limits.max_sequence as f64 {
            return err(
                "D2014",
                format!("The size of the sequence allocated by the range operator (..) must not exceed {}", self.limits.max_sequence),
            );
        }
        self.check_len(size as usize)?;
        let mut out = Vec::with_capacity(size as usize);
        let mut n = lo;
        while n <= hi {
            out.push(Value::Number(n));
            n += 1.0;
        }
        Ok(Value::seq(out))
    }

    fn call(
        &mut self,
        proc_node: &Node,
        args: &[Node],
        partial: bool,
        input: &Value,
        env: &Rc<Env>,
        apply_to: Option<Value>,
    ) -> Result<Value, JsonataError> {
        let proc = self.eval(proc_node, input, env)?;
        if proc.is_undefined() {
            if let Kind::Path { steps, .. } = &proc_node.kind {
                if let Kind::Name(n) = &steps[0].kind {
                    if env.lookup(n).is_some() || functions::lookup(n).is_some() {
                        return err("T1005", format!("Attempted to invoke a non-function. Did you mean ${n}?"));
                    }
                }
            }
        }
        if partial {
            if !proc.is_function() {
                return err("T1008", "Attempted to partially apply a non-function");
            }
            let mut pargs: Vec<Option<Value>> = apply_to.into_iter().map(Some).collect();
            for a in args {
                pargs.push(match a.kind {
                    Kind::Placeholder => None,
                    _ => Some(self.eval(a, input, env)?),
                });
            }
            return Ok(Value::Function(Rc::new(Function::Partial { func: proc, args: pargs })));
        }
        let mut vals: Vec<Value> = apply_to.into_iter().collect();
        for a in args {
            vals.push(self.eval(a, input, env)?);
        }
        self.apply(&proc, vals, input)
    }

    /// Calls a function value; `input` is the context at the call site (it
    /// stands in for a missing `-` argument of a builtin).
    pub fn apply(&mut self, proc: &Value, args: Vec<Value>, input: &Value) -> Result<Value, JsonataError> {
        let Value::Function(f) = proc else {
            return err("T1006", "Attempted to invoke a non-function");
        };
        match &**f {
            Function::Builtin(b) => {
                // The context of a top-level array input is the array itself.
                let input = match input {
                    Value::Array(a, fl) if fl.outer_wrapper && a.items.len() == 1 => &a.items[0],
                    other => other,
                };
                let args = b.signature.validate(&format!("${}", b.name), args, input)?;
                // Built-ins do at least linear work in their arguments' size.
                let size: usize = args
                    .iter()
                    .map(|a| match a {
                        Value::String(s) => s.len() / 64,
                        Value::Array(a, _) => a.items.len(),
                        Value::Object(o) => o.map.len(),
                        _ => 0,
                    })
                    .sum();
                self.charge(size)?;
                (b.imp)(self, args, input)
            }
            Function::Regex(re) => match args.first() {
                Some(Value::String(s)) => functions::regex_match(self, re, s, 1).map(|mut m| m.pop().unwrap_or(Value::Undefined)),
                _ => Ok(Value::Undefined),
            },
            _ => {
                self.call_depth += 1;
                let r = if self.call_depth > self.limits.max_call_depth {
                    err(
                        "U1001",
                        format!(
                            "Stack overflow error: more than {} nested function calls. Check for non-terminating recursive function",
                            self.limits.max_call_depth
                        ),
                    )
                } else {
                    self.apply_nested(f, args, input)
                };
                self.call_depth -= 1;
                r
            }
        }
    }

    fn apply_nested(&mut self, f: &Rc<Function>, args: Vec<Value>, input: &Value) -> Result<Value, JsonataError> {
        match &**f {
            Function::Lambda { .. } => self.apply_lambda(f.clone(), args, input),
            Function::Partial { func, args: fixed } => {
                let mut supplied = args.into_iter();
                let full = fixed.iter().map(|a| a.clone().unwrap_or_else(|| supplied.next().unwrap_or(Value::Undefined))).collect();
                self.apply(func, full, input)
            }
            Function::Compose { first, then } => {
                let x = self.apply(first, args, input)?;
                self.apply(then, vec![x], input)
            }
            Function::Builtin(_) | Function::Regex(_) => unreachable!("applied directly"),
        }
    }
}

/// A lambda body's result, or the call it ends with (tail-call elimination).
enum Tail {
    Done(Value),
    Call { func: Rc<Function>, args: Vec<Value>, input: Value },
}

impl Evaluator {
    /// Runs a lambda; a call to a lambda in tail position replaces the
    /// current one instead of nesting, so tail-recursive loops run in
    /// constant stack (bounded by the step budget instead).
    fn apply_lambda(&mut self, mut f: Rc<Function>, mut args: Vec<Value>, input: &Value) -> Result<Value, JsonataError> {
        let mut input = input.clone();
        loop {
            let Function::Lambda { params, signature, body, env, input: ctx } = &*f else {
                return self.apply(&Value::Function(f.clone()), args, &input);
            };
            let args_now = match signature {
                Some(s) => s.validate("lambda", std::mem::take(&mut args), &input)?,
                None => std::mem::take(&mut args),
            };
            let frame = Rc::new(Env::new(Some(env.clone())));
            let mut supplied = args_now.into_iter();
            for p in params {
                frame.bind(p, supplied.next().unwrap_or(Value::Undefined));
            }
            let body = body.clone();
            let ctx = ctx.clone();
            match self.eval_tail(&body, &ctx, &frame)? {
                Tail::Done(v) => return Ok(v),
                Tail::Call { func, args: next_args, input: next_input } => {
                    f = func;
                    args = next_args;
                    input = next_input;
                }
            }
        }
    }

    /// Evaluates a node in tail position: a plain call to a lambda is
    /// returned rather than made; conditions and blocks pass the position on.
    fn eval_tail(&mut self, node: &Node, input: &Value, env: &Rc<Env>) -> Result<Tail, JsonataError> {
        let plain = node.predicates.is_empty() && node.group.is_none() && !node.keep_array;
        if plain {
            match &node.kind {
                Kind::Call { proc, args, partial: false } => {
                    self.tick().map_err(|e| e.at(node.pos))?;
                    let p = self.eval(proc, input, env)?;
                    if p.is_undefined() {
                        // Not callable: the ordinary path reports the right error.
                        return Ok(Tail::Done(self.eval(node, input, env)?));
                    }
                    let mut vals = Vec::with_capacity(args.len());
                    for a in args {
                        vals.push(self.eval(a, input, env)?);
                    }
                    if let Value::Function(func) = &p {
                        if matches!(**func, Function::Lambda { .. }) {
                            return Ok(Tail::Call { func: func.clone(), args: vals, input: input.clone() });
                        }
                    }
                    let r = self.apply(&p, vals, input).map_err(|e| e.at(node.pos))?;
                    return Ok(Tail::Done(normalize(r, false)));
                }
                Kind::Condition { cond, then, otherwise } => {
                    self.tick().map_err(|e| e.at(node.pos))?;
                    if self.truthy_of(cond, input, env)? {
                        return self.eval_tail(then, input, env);
                    }
                    return match otherwise {
                        Some(o) => self.eval_tail(o, input, env),
                        None => Ok(Tail::Done(Value::Undefined)),
                    };
                }
                Kind::Block(exprs) if !exprs.is_empty() => {
                    self.tick().map_err(|e| e.at(node.pos))?;
                    let frame = Rc::new(Env::new(Some(env.clone())));
                    let (last, init) = exprs.split_last().expect("non-empty");
                    for e in init {
                        self.eval(e, input, &frame)?;
                    }
                    return self.eval_tail(last, input, &frame);
                }
                _ => {}
            }
        }
        Ok(Tail::Done(self.eval(node, input, env)?))
    }
}

/// How many arguments a function wants (higher-order functions pass the
/// index and the array only to functions that take them).
pub(crate) fn arity(f: &Value) -> usize {
    match f {
        Value::Function(f) => match &**f {
            Function::Lambda { params, .. } => params.len(),
            Function::Builtin(b) => b.arity,
            Function::Partial { args, .. } => args.iter().filter(|a| a.is_none()).count(),
            Function::Compose { first, .. } => arity(first),
            Function::Regex(_) => 1,
        },
        _ => 0,
    }
}

fn lookup_var(name: &str, env: &Rc<Env>) -> Value {
    if let Some(v) = env.lookup(name) {
        return v;
    }
    match functions::lookup(name) {
        Some(b) => Value::Function(Rc::new(Function::Builtin(b))),
        None => Value::Undefined,
    }
}

fn arithmetic(op: BinOp, l: &Value, r: &Value) -> Result<Value, JsonataError> {
    let sym = match op {
        BinOp::Add => "+",
        BinOp::Sub => "-",
        BinOp::Mul => "*",
        BinOp::Div => "/",
        _ => "%",
    };
    if !l.is_undefined() && !matches!(l, Value::Number(_)) {
        return err("T2001", format!("The left side of the {sym} operator must evaluate to a number"));
    }
    if !r.is_undefined() && !matches!(r, Value::Number(_)) {
        return err("T2002", format!("The right side of the {sym} operator must evaluate to a number"));
    }
    let (Value::Number(a), Value::Number(b)) = (l, r) else {
        return Ok(Value::Undefined);
    };
    let n = match op {
        BinOp::Add => a + b,
        BinOp::Sub => a - b,
        BinOp::Mul => a * b,
        BinOp::Div => a / b,
        _ => a % b,
    };
    if !n.is_finite() {
        return err(
            "D1001",
            format!(
                "Number out of range: the result of {} {sym} {} is not a finite number",
                stringify::js_number(*a),
                stringify::js_number(*b)
            ),
        );
    }
    Ok(Value::Number(n))
}

fn compare(op: BinOp, l: &Value, r: &Value) -> Result<Value, JsonataError> {
    let comparable = |v: &Value| matches!(v, Value::Undefined | Value::Number(_) | Value::String(_));
    if !comparable(l) || !comparable(r) {
        return err("T2010", "The expressions either side of a comparison operator must evaluate to numbers or strings");
    }
    let ord = match (l, r) {
        (Value::Undefined, _) | (_, Value::Undefined) => return Ok(Value::Undefined),
        (Value::Number(a), Value::Number(b)) => a.partial_cmp(b),
        (Value::String(a), Value::String(b)) => Some(a.cmp(b)),
        _ => return err("T2009", "The values either side of a comparison operator must be of the same data type"),
    };
    let Some(ord) = ord else {
        return Ok(Value::Bool(false));
    };
    Ok(Value::Bool(match op {
        BinOp::Lt => ord == Ordering::Less,
        BinOp::Le => ord != Ordering::Greater,
        BinOp::Gt => ord == Ordering::Greater,
        _ => ord != Ordering::Less,
    }))
}

/// A stable merge sort whose comparator may fail (it runs user code) and
/// need not be consistent (`std`'s sorts may panic on inconsistent orders).
/// `after(a, b)` says whether `a` belongs after `b`.
pub(crate) fn merge_sort<T: Clone>(
    ev: &mut Evaluator,
    items: Vec<T>,
    after: &mut dyn FnMut(&mut Evaluator, &T, &T) -> Result<bool, JsonataError>,
) -> Result<Vec<T>, JsonataError> {
    let mut runs: Vec<Vec<T>> = items.into_iter().map(|x| vec![x]).collect();
    while runs.len() > 1 {
        let mut next = Vec::with_capacity(runs.len().div_ceil(2));
        let mut it = runs.into_iter();
        while let Some(left) = it.next() {
            let Some(right) = it.next() else {
                next.push(left);
                break;
            };
            let mut merged = Vec::with_capacity(left.len() + right.len());
            let (mut i, mut j) = (0, 0);
            while i < left.len() && j < right.len() {
                if after(ev, &left[i], &right[j])? {
                    merged.push(right[j].clone());
                    j += 1;
                } else {
                    merged.push(left[i].clone());
                    i += 1;
                }
            }
            merged.extend_from_slice(&left[i..]);
            merged.extend_from_slice(&right[j..]);
            next.push(merged);
        }
        runs = next;
    }
    Ok(runs.pop().unwrap_or_default())
}
