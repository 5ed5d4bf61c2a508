//! AWS Step Functions' quotas that the engine itself enforces.

/// AWS's limit on the events in one execution's history; it also stops a
/// definition that loops forever.
pub const MAX_HISTORY_EVENTS: usize = 25_000;

/// AWS's limit on any payload: state input and output, task parameters and results.
pub const MAX_PAYLOAD_BYTES: usize = 256 * 1024;

// AWS's limits on workflow variables ("Passing data between states with
// variables"), in JSON bytes; over any, the state that assigns fails with
// `States.DataLimitExceeded`.

/// AWS's limit on one workflow variable.
pub const MAX_VARIABLE_BYTES: usize = 256 * 1024;
/// AWS's limit on all the variables of one `Assign`.
pub const MAX_ASSIGN_BYTES: usize = 256 * 1024;
/// AWS's limit on all the variables an execution holds.
pub const MAX_EXECUTION_VARIABLE_BYTES: usize = 10 * 1024 * 1024;

/// AWS's limit on an error name (StopExecution, SendTaskFailure, a task's
/// failure), in characters.
pub const MAX_ERROR_CHARS: usize = 256;

/// AWS's limit on a cause, in characters.
pub const MAX_CAUSE_CHARS: usize = 32_768;

/// An error name or cause over AWS's limits; the message names the field as
/// the API does, and a command line says which of its flags it came from.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ErrorCauseTooLong {
    #[error("error is {0} characters long; the limit is {MAX_ERROR_CHARS}")]
    Error(usize),
    #[error("cause is {0} characters long; the limit is {MAX_CAUSE_CHARS}")]
    Cause(usize),
}

/// Checks an error name and cause against [`MAX_ERROR_CHARS`] and [`MAX_CAUSE_CHARS`].
pub fn check_error_and_cause(error: &str, cause: &str) -> Result<(), ErrorCauseTooLong> {
    let (error_chars, cause_chars) = (error.chars().count(), cause.chars().count());
    if error_chars > MAX_ERROR_CHARS {
        return Err(ErrorCauseTooLong::Error(error_chars));
    }
    if cause_chars > MAX_CAUSE_CHARS {
        return Err(ErrorCauseTooLong::Cause(cause_chars));
    }
    Ok(())
}

/// `text` cut to at most `max_chars` characters, with `…` added when cut.
pub fn truncate_chars(mut text: String, max_chars: usize) -> String {
    if let Some((cut, _)) = text.char_indices().nth(max_chars) {
        text.truncate(cut);
        text.push('…');
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_and_cause_are_counted_in_characters() {
        assert_eq!(check_error_and_cause(&"é".repeat(256), &"é".repeat(32_768)), Ok(()));
        assert_eq!(check_error_and_cause(&"é".repeat(257), ""), Err(ErrorCauseTooLong::Error(257)));
        assert_eq!(check_error_and_cause("", &"x".repeat(32_769)), Err(ErrorCauseTooLong::Cause(32_769)));
        assert_eq!(truncate_chars("héllo".into(), 2), "hé…");
        assert_eq!(truncate_chars("abc".into(), 3), "abc");
    }
}
