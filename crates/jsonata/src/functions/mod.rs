//! The built-in function library: a table from name to signature and
//! implementation. Each submodule holds one family of functions.
//!
//! Implementations receive arguments already checked and fixed up against
//! the signature (see `signature.rs`), so they only handle the cases the
//! signature lets through (notably undefined, which most map to undefined).

mod array;
mod aws;
mod datetime;
mod format;
mod higher;
mod numeric;
mod object;
mod string;

use super::error::JsonataError;
use super::eval::Evaluator;
use super::signature::Signature;
use super::value::Value;
use std::collections::HashMap;
use std::sync::OnceLock;

pub(crate) use string::regex_match;

pub(crate) type Imp = fn(&mut Evaluator, Vec<Value>, &Value) -> Result<Value, JsonataError>;

pub(crate) struct Builtin {
    pub name: &'static str,
    pub signature: Signature,
    /// How many arguments higher-order functions pass it.
    pub arity: usize,
    pub imp: Imp,
}

/// (name, signature, arity, implementation)
type Entry = (&'static str, &'static str, usize, Imp);

const ENTRIES: &[&[Entry]] = &[
    string::FUNCTIONS,
    numeric::FUNCTIONS,
    format::FUNCTIONS,
    array::FUNCTIONS,
    object::FUNCTIONS,
    higher::FUNCTIONS,
    datetime::FUNCTIONS,
    aws::FUNCTIONS,
];

fn table() -> &'static HashMap<&'static str, Builtin> {
    static TABLE: OnceLock<HashMap<&'static str, Builtin>> = OnceLock::new();
    TABLE.get_or_init(|| {
        let mut t = HashMap::new();
        for (name, sig, arity, imp) in ENTRIES.iter().flat_map(|e| e.iter()) {
            // The signatures are constants; a test checks that every one parses.
            if let Ok(signature) = Signature::parse(sig) {
                t.insert(*name, Builtin { name, signature, arity: *arity, imp: *imp });
            }
        }
        t
    })
}

/// The built-in function called `name` (without `$`).
pub(crate) fn lookup(name: &str) -> Option<&'static Builtin> {
    table().get(name)
}

/// Built-ins whose signature constant does not parse (a test keeps this empty).
#[cfg(test)]
pub(crate) fn broken_signatures() -> Vec<&'static str> {
    ENTRIES.iter().flat_map(|e| e.iter()).filter(|e| Signature::parse(e.1).is_err()).map(|e| e.0).collect()
}

/// The `i`th argument, or undefined when it was not supplied.
pub(crate) fn arg(args: &[Value], i: usize) -> &Value {
    args.get(i).unwrap_or(&Value::Undefined)
}
