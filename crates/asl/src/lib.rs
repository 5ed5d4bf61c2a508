//! The Amazon States Language, and nothing else: the definition model, its
//! parsing and validation with precise locations, JSONPath, payload templates,
//! intrinsic functions, Choice rules and error-name matching. No I/O, no runtime: the engine builds
//! on it and it could be published alone.

pub mod choice;
pub mod definition;
pub mod errors;
pub mod graph;
pub mod intrinsics;
mod parse;
pub mod path;
pub mod size;
pub mod template;

pub use definition::*;
pub use parse::parse_definition;

use std::fmt;

/// One problem in a definition, with where it is: a dotted location such as
/// `States.VerifyPayment.Next` or `States.Check.Choices[0].Variable`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValidationError {
    pub location: String,
    pub message: String,
}

impl ValidationError {
    pub fn new(location: &str, message: impl Into<String>) -> Self {
        ValidationError { location: location.to_string(), message: message.into() }
    }
}

impl fmt::Display for ValidationError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.location.is_empty() {
            write!(f, "(definition): {}", self.message)
        } else {
            write!(f, "{}: {}", self.location, self.message)
        }
    }
}

/// Every problem found in a definition (never empty).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct InvalidDefinition(pub Vec<ValidationError>);

impl fmt::Display for InvalidDefinition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let n = self.0.len();
        writeln!(f, "invalid definition: {n} problem{}", if n == 1 { "" } else { "s" })?;
        for e in &self.0 {
            writeln!(f, "  {e}")?;
        }
        Ok(())
    }
}
