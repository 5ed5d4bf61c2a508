//! A JSONata evaluator for Step Functions' JSONata query language mode.
//!
//! [`Expression::parse`] once (at validation time), [`Expression::evaluate`]
//! many times against an input (the context `$`) and [`Bindings`] (the
//! variables, e.g. `states` → `{input, context, result, errorOutput}` and the
//! workflow variables). JSONata's "undefined" (no result) is `Ok(None)`.
//!
//! Written here rather than taken from crates.io: of the Rust JSONata crates,
//! `jsonata-rs` has unsound `unsafe` (a `&` turned into `&mut`), `seuil`
//! aborts the process on unbounded tail recursion, `async_jsonata_rust` has
//! no time or step budget, and `jsonata-core` reports syntax errors without
//! a position and bounds evaluation by wall-clock time only.
//!
//! Pipeline: `lexer` → `parser` (Pratt, raw tree) → `process` (jsonata-js
//! `processAST` rewrite into `ast::Node`) → `eval` (tree walk over `value`s,
//! with `env` scopes and the `functions` library; `signature` checks
//! arguments; `stringify` renders numbers and JSON text).
//!
//! # Supported
//! Paths (`a.b.c`, arrays mapped and flattened, singletons unwrapped),
//! predicates and indexes (`[cond]`, `[0]`, `[-1]`), `[]`, `*`, `**`,
//! literals, `[..]` arrays with ranges `[1..5]`, `{..}` objects, grouping
//! `a{k: v}`, order-by `^(<a, >b)`, `+ - * / %`, `= != < <= > >=`, `and`,
//! `or`, `in`, `&`, `? :`, `?:` (default), `??` (coalescing), blocks
//! `(a; b)`, `$x := ...`, `$`, `$$`, `function($a){...}` / `λ` with optional
//! signatures, partial application `$f(?, 1)`, `~>` (including function
//! composition), regular expressions `/.../im`, and the built-ins listed in
//! `functions/`: the JSONata string, numeric, boolean, array, object,
//! higher-order and date/time functions plus AWS's `$partition`, `$range`,
//! `$hash`, `$random(seed?)`, `$uuid`, `$parse`.
//!
//! # Not supported
//! The parent operator `%`, positional/context bindings `#$i` and `@$x`,
//! the transform operator `| ... |`, `$eval` (AWS forbids it too),
//! `$clone`, `$formatInteger`/`$parseInteger` beyond decimal pictures,
//! exponent pictures in `$formatNumber`, `$toMillis` with a picture,
//! regex look-around and back-references (the `regex` crate is linear-time),
//! tail-call optimisation (deep tail recursion hits the call-depth cap).
//!
//! # Limits (untrusted expressions never hang nor overflow the stack)
//! See [`Limits`]: 10,000,000 evaluation steps (each node evaluated, and
//! work in proportion to size: items produced or visited, 64-byte blocks of
//! strings built or scanned), 500 nested function calls (tail calls do not
//! nest), 1 MiB of native stack (about 450 levels of non-tail recursion),
//! arrays of 10,000,000 items (ranges too, as in jsonata-js), strings and
//! results of 10,000,000 bytes, 256 MiB of strings and sequence items built
//! in all by one evaluation, expressions nested 200 deep, values nested
//! 1,000 deep, and a 10-second wall-clock backstop (the engine's states use
//! 1 s per expression, within the budget of the state being evaluated:
//! `crate::evaluation_budget`).

mod ast;
pub mod digest;
mod env;
mod error;
mod eval;
pub mod evaluation_budget;
mod functions;
mod lexer;
mod parser;
mod process;
pub mod random;
mod signature;
mod stringify;
mod value;
mod walk;

#[cfg(test)]
mod tests;

pub use error::JsonataError;

use std::panic::{catch_unwind, AssertUnwindSafe};
use value::Value;

/// Resource caps of one evaluation; exceeding any is an error (codes
/// `U1001` stack/calls, `U1002` nesting, `U1003` steps, `U1004` size,
/// `U1005` time, `D2014` range size).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Evaluation steps: nodes evaluated plus items and bytes produced.
    pub max_steps: u64,
    /// Nested calls of lambdas, partial applications and compositions.
    pub max_call_depth: usize,
    /// Items in one array or sequence (and in a range).
    pub max_sequence: usize,
    /// Bytes in one string built by the expression.
    pub max_string_bytes: usize,
    /// Bytes of strings and of sequence items (each counted as the size of
    /// one value) built by the whole evaluation, kept or not: many strings
    /// just under `max_string_bytes` cannot add up to gigabytes.
    pub max_built_bytes: usize,
    /// Approximate JSON bytes of the result (checked while it is converted).
    pub max_result_bytes: usize,
    /// Native stack the evaluator may use below its entry point.
    pub max_stack_bytes: usize,
    /// Wall-clock backstop behind the step budget (checked every 1024 nodes
    /// and at each charge of 1024 steps or more).
    pub max_duration: std::time::Duration,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            max_steps: 10_000_000,
            max_call_depth: 500,
            max_sequence: 10_000_000,
            max_string_bytes: 10_000_000,
            max_built_bytes: 256 << 20,
            max_result_bytes: 10_000_000,
            max_stack_bytes: 1 << 20,
            max_duration: std::time::Duration::from_secs(10),
        }
    }
}

/// Variables for an evaluation, by name without the leading `$`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Bindings {
    vars: Vec<(String, serde_json::Value)>,
}

impl Bindings {
    pub fn new() -> Bindings {
        Bindings::default()
    }

    /// Binds `$name` (replacing an earlier binding of the same name).
    pub fn insert(&mut self, name: impl Into<String>, value: serde_json::Value) {
        let name = name.into();
        match self.vars.iter_mut().find(|(n, _)| *n == name) {
            Some(slot) => slot.1 = value,
            None => self.vars.push((name, value)),
        }
    }

    /// Builder form of [`Bindings::insert`].
    pub fn with(mut self, name: impl Into<String>, value: serde_json::Value) -> Bindings {
        self.insert(name, value);
        self
    }

    pub fn get(&self, name: &str) -> Option<&serde_json::Value> {
        self.vars.iter().find(|(n, _)| n == name).map(|(_, v)| v)
    }
}

impl<K: Into<String>> FromIterator<(K, serde_json::Value)> for Bindings {
    fn from_iter<I: IntoIterator<Item = (K, serde_json::Value)>>(iter: I) -> Bindings {
        let mut b = Bindings::new();
        for (k, v) in iter {
            b.insert(k, v);
        }
        b
    }
}

/// A parsed JSONata expression: parse once, evaluate many times. It is
/// `Send + Sync`, so a parsed state machine can be shared between threads.
pub struct Expression {
    text: String,
    root: ast::Node,
}

impl std::fmt::Debug for Expression {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("Expression").field(&self.text).finish()
    }
}

impl Expression {
    /// Parses `text`; a syntax error carries the character offset of the
    /// offending token.
    pub fn parse(text: &str) -> Result<Expression, JsonataError> {
        let parsed = catch_unwind(|| parser::parse(text).and_then(process::process));
        match parsed {
            Ok(Ok(root)) => Ok(Expression { text: text.to_string(), root }),
            Ok(Err(e)) => Err(e.into_char_offset(text)),
            Err(_) => Err(internal()),
        }
    }

    /// The expression's source text.
    pub fn text(&self) -> &str {
        &self.text
    }

    /// Evaluates against `input` (the context `$`, also `$$`) with the
    /// default [`Limits`]. `Ok(None)` is JSONata's undefined. Integral
    /// numbers come out as JSON integers; a non-finite number is error D1001.
    pub fn evaluate(&self, input: &serde_json::Value, bindings: &Bindings) -> Result<Option<serde_json::Value>, JsonataError> {
        self.evaluate_with_limits(input, bindings, Limits::default())
    }

    /// [`Expression::evaluate`] with explicit resource caps.
    pub fn evaluate_with_limits(
        &self,
        input: &serde_json::Value,
        bindings: &Bindings,
        limits: Limits,
    ) -> Result<Option<serde_json::Value>, JsonataError> {
        // Defence in depth: a bug must surface as an error, not take the
        // engine down (the evaluator is written not to panic).
        let run = catch_unwind(AssertUnwindSafe(|| -> Result<Option<serde_json::Value>, JsonataError> {
            let input = Value::from_json(input)?;
            let mut vars = Vec::with_capacity(bindings.vars.len());
            for (name, v) in &bindings.vars {
                vars.push((name.clone(), Value::from_json(v)?));
            }
            eval::evaluate(&self.root, input, vars, limits)?.to_json(limits.max_result_bytes)
        }));
        match run {
            Ok(r) => r.map_err(|e| e.into_char_offset(&self.text)),
            Err(_) => Err(internal()),
        }
    }
}

fn internal() -> JsonataError {
    JsonataError::new("U1000", "internal error in the JSONata evaluator")
}
