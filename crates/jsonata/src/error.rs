//! [`JsonataError`]: every failure of parsing or evaluating a JSONata
//! expression, with JSONata's error code where one fits (`S0xxx` syntax,
//! `T0xxx`/`T1xxx`/`T2xxx` type, `D1xxx`-`D3xxx` dynamic, `U1xxx` limits).
//!
//! The engine maps every one of them to `States.QueryEvaluationError`; the
//! code and message are there for the cause text.

/// A parse or evaluation error.
///
/// `position` is the 0-based *character* offset into the expression text of
/// the token or operator at fault, when one is known.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{code}: {message}{}", .position.map(|p| format!(" (at position {p})")).unwrap_or_default())]
pub struct JsonataError {
    /// JSONata's error code, e.g. `S0202`, `T2001`, `D1001`.
    pub code: &'static str,
    /// What went wrong, in words.
    pub message: String,
    /// Character offset into the expression text, when known.
    pub position: Option<usize>,
}

impl JsonataError {
    pub(crate) fn new(code: &'static str, message: impl Into<String>) -> JsonataError {
        JsonataError { code, message: message.into(), position: None }
    }

    /// Attaches a (byte) position unless one is already set; byte offsets are
    /// turned into character offsets once, at the API boundary.
    pub(crate) fn at(mut self, pos: usize) -> JsonataError {
        if self.position.is_none() {
            self.position = Some(pos);
        }
        self
    }

    /// Rewrites the byte offset `position` into a character offset of `text`.
    pub(crate) fn into_char_offset(mut self, text: &str) -> JsonataError {
        if let Some(p) = self.position {
            let p = p.min(text.len());
            let p = (0..=p).rev().find(|i| text.is_char_boundary(*i)).unwrap_or(0);
            self.position = Some(text[..p].chars().count());
        }
        self
    }
}

/// Shorthand for building an `Err` in the evaluator and the functions.
pub(crate) fn err<T>(code: &'static str, message: impl Into<String>) -> Result<T, JsonataError> {
    Err(JsonataError::new(code, message))
}
