//! ASL error names: the predefined `States.*` errors and how `ErrorEquals`
//! matches an error name.

/// Matches every error except `States.Runtime` and `States.DataLimitExceeded`.
pub const ALL: &str = "States.ALL";
/// A task failed; in `ErrorEquals` it matches any error except `States.Timeout`.
pub const TASK_FAILED: &str = "States.TaskFailed";
/// A task ran longer than its timeout.
pub const TIMEOUT: &str = "States.Timeout";
/// A task waiting for its token got no heartbeat for `HeartbeatSeconds`. A
/// timeout too: `States.Timeout` in `ErrorEquals` matches it and
/// `States.TaskFailed` does not.
pub const HEARTBEAT_TIMEOUT: &str = "States.HeartbeatTimeout";
/// An uncatchable runtime error, e.g. an `InputPath` that selects nothing.
pub const RUNTIME: &str = "States.Runtime";
/// A field ending in `.$` in `Parameters`/`ResultSelector` could not be resolved.
pub const PARAMETER_PATH_FAILURE: &str = "States.ParameterPathFailure";
/// An intrinsic function (`States.Format(...)` etc.) was misused at run time.
pub const INTRINSIC_FAILURE: &str = "States.IntrinsicFailure";
/// `ResultPath` cannot be applied to the state's input.
pub const RESULT_PATH_MATCH_FAILURE: &str = "States.ResultPathMatchFailure";
/// No Choice rule matched and there is no `Default`.
pub const NO_CHOICE_MATCHED: &str = "States.NoChoiceMatched";
/// A branch of a Parallel state failed. The state fails with the branch's own
/// error (as AWS does); `States.BranchFailed` in a Parallel state's Retry or
/// Catch also names any such failure.
pub const BRANCH_FAILED: &str = "States.BranchFailed";
/// More Map iterations failed than `ToleratedFailureCount`/`Percentage` allow.
pub const EXCEED_TOLERATED_FAILURE_THRESHOLD: &str = "States.ExceedToleratedFailureThreshold";
/// A JSONata expression failed to evaluate (or gave a value of the wrong kind).
pub const QUERY_EVALUATION_ERROR: &str = "States.QueryEvaluationError";
/// A payload exceeded the size limit (256 KiB); not caught by `States.ALL`.
pub const DATA_LIMIT_EXCEEDED: &str = "States.DataLimitExceeded";

/// True when a retrier or catcher with `error_equals` handles `error`.
pub fn matches(error_equals: &[String], error: &str) -> bool {
    // AWS: States.Runtime always fails the execution, even when named.
    if error == RUNTIME {
        return false;
    }
    let uncatchable_by_wildcards = error == RUNTIME || error == DATA_LIMIT_EXCEEDED;
    error_equals.iter().any(|name| {
        name == error
            || (name == ALL && !uncatchable_by_wildcards)
            || (name == TIMEOUT && error == HEARTBEAT_TIMEOUT)
            || (name == TASK_FAILED && error != TIMEOUT && error != HEARTBEAT_TIMEOUT && !uncatchable_by_wildcards)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn wildcards_follow_aws() {
        assert!(matches(&names(&["States.ALL"]), "PaymentVerificationFailed"));
        assert!(matches(&names(&["States.ALL"]), TIMEOUT));
        assert!(!matches(&names(&["States.ALL"]), RUNTIME));
        assert!(!matches(&names(&["States.ALL"]), DATA_LIMIT_EXCEEDED));
        assert!(matches(&names(&["States.DataLimitExceeded"]), DATA_LIMIT_EXCEEDED));
        assert!(!matches(&names(&["States.Runtime"]), RUNTIME));
        assert!(matches(&names(&["States.TaskFailed"]), "Custom"));
        assert!(!matches(&names(&["States.TaskFailed"]), TIMEOUT));
        assert!(!matches(&names(&["States.TaskFailed"]), HEARTBEAT_TIMEOUT));
        assert!(matches(&names(&["States.Timeout"]), HEARTBEAT_TIMEOUT));
        assert!(matches(&names(&["States.HeartbeatTimeout"]), HEARTBEAT_TIMEOUT));
        assert!(!matches(&names(&["States.HeartbeatTimeout"]), TIMEOUT));
        assert!(matches(&names(&["A", "B"]), "B"));
        assert!(!matches(&names(&["A"]), "a"));
    }
}
