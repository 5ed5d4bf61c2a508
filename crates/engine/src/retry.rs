//! Retry and Catch matching, and the backoff before a retry: which retrier
//! or catcher of a state handles a failure ([`handles`], [`retrier_for`]),
//! and how long a retrier waits ([`retry_delay_ms`]), jitter included.
//! The delay is a pure function of the history, so a replay waits the same.

use super::Failure;
use stepwasm_asl::errors;
use stepwasm_asl::{Jitter, Retrier, State, StateKind};

/// Does a retrier or catcher of `state` handle `failure`? A Parallel state's
/// failure always comes from a branch, so `States.BranchFailed` names it too.
pub(crate) fn handles(state: &State, error_equals: &[String], failure: &Failure, from_children: bool) -> bool {
    errors::matches(error_equals, &failure.error)
        || (from_children
            && matches!(state.kind, StateKind::Parallel(_))
            && error_equals.iter().any(|e| e == errors::BRANCH_FAILED)
            && errors::matches(&[errors::ALL.to_string()], &failure.error))
}

/// The index of the first retrier of `state` that handles `failure` (a
/// failure of the state's task or of its children), if any.
pub(crate) fn retrier_for(state: &State, failure: &Failure) -> Option<usize> {
    state.retriers().iter().position(|r| handles(state, &r.error_equals, failure, true))
}

/// Backoff before retry number `retries_so_far + 1` of `retrier`:
/// `IntervalSeconds × BackoffRate^retries_so_far`, capped by `MaxDelaySeconds`;
/// with `JitterStrategy: FULL` a deterministic fraction of that (derived from
/// the execution, state and attempt, so a replay waits the same).
pub fn retry_delay_ms(retrier: &Retrier, retries_so_far: u32, execution: &str, state: &str, attempt: u32) -> i64 {
    let mut delay = retrier.interval_seconds as f64 * retrier.backoff_rate.powi(retries_so_far as i32);
    if let Some(max) = retrier.max_delay_seconds {
        delay = delay.min(max as f64);
    }
    let mut ms = (delay * 1000.0).min(i64::MAX as f64 / 2.0) as i64;
    if retrier.jitter == Jitter::Full {
        let seed = format!("{execution}\u{0}{state}\u{0}{attempt}");
        let h = seed.bytes().fold(0xcbf29ce484222325u64, |h, b| (h ^ b as u64).wrapping_mul(0x100000001b3));
        ms = (ms as f64 * ((h >> 11) as f64 / (1u64 << 53) as f64)) as i64;
    }
    ms
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use stepwasm_asl::parse_definition;

    fn retrier(interval_seconds: u64, backoff_rate: f64, max_delay_seconds: Option<u64>, jitter: Jitter) -> Retrier {
        Retrier { error_equals: vec![errors::ALL.to_string()], interval_seconds, max_attempts: 3, backoff_rate, max_delay_seconds, jitter }
    }

    fn state_of(state: serde_json::Value) -> State {
        let def = json!({"StartAt": "S", "States": {"S": state}});
        parse_definition(&def.to_string()).unwrap().root.states["S"].clone()
    }

    #[test]
    fn backoff_grows_by_the_rate_and_stops_at_the_cap() {
        let r = retrier(2, 3.0, None, Jitter::None);
        let delays: Vec<i64> = (0..3).map(|n| retry_delay_ms(&r, n, "e", "S", n + 1)).collect();
        assert_eq!(delays, [2_000, 6_000, 18_000]);
        let capped = retrier(2, 3.0, Some(5), Jitter::None);
        assert_eq!(retry_delay_ms(&capped, 2, "e", "S", 3), 5_000);
        // A huge backoff stops at about `i64::MAX / 2` (as a float: 2^62) instead of overflowing.
        assert_eq!(retry_delay_ms(&retrier(u64::MAX, 10.0, None, Jitter::None), 30, "e", "S", 31), 1 << 62);
    }

    #[test]
    fn full_jitter_is_a_deterministic_fraction_of_the_backoff() {
        let r = retrier(10, 2.0, None, Jitter::Full);
        for attempt in 1..20 {
            let ms = retry_delay_ms(&r, 1, "exec", "S", attempt);
            assert!((0..=20_000).contains(&ms), "{ms}");
            assert_eq!(ms, retry_delay_ms(&r, 1, "exec", "S", attempt), "a replay waits the same");
        }
        let by_attempt: std::collections::HashSet<i64> = (1..20).map(|a| retry_delay_ms(&r, 1, "exec", "S", a)).collect();
        assert!(by_attempt.len() > 1, "the fraction depends on the attempt");
    }

    #[test]
    fn branch_failed_names_only_a_parallel_states_children_failure() {
        let parallel = state_of(json!({"Type": "Parallel", "End": true, "Branches": [
            {"StartAt": "P", "States": {"P": {"Type": "Pass", "End": true}}}
        ]}));
        let task = state_of(json!({"Type": "Task", "Resource": "r", "End": true}));
        let branch_failed = [errors::BRANCH_FAILED.to_string()];
        let failure = Failure::new("Custom", "boom");
        assert!(handles(&parallel, &branch_failed, &failure, true));
        assert!(!handles(&parallel, &branch_failed, &failure, false));
        assert!(!handles(&task, &branch_failed, &failure, true));
        // What States.ALL does not catch, States.BranchFailed does not either.
        assert!(!handles(&parallel, &branch_failed, &Failure::new(errors::DATA_LIMIT_EXCEEDED, ""), true));
    }

    #[test]
    fn the_first_matching_retrier_is_taken() {
        let state = state_of(json!({"Type": "Task", "Resource": "r", "End": true, "Retry": [
            {"ErrorEquals": ["A"]}, {"ErrorEquals": ["B", "A"]}, {"ErrorEquals": ["States.ALL"]}
        ]}));
        assert_eq!(retrier_for(&state, &Failure::new("A", "")), Some(0));
        assert_eq!(retrier_for(&state, &Failure::new("B", "")), Some(1));
        assert_eq!(retrier_for(&state, &Failure::new("C", "")), Some(2));
        assert_eq!(retrier_for(&state, &Failure::new(errors::RUNTIME, "")), None);
    }
}
