//! The wall-clock budget of one evaluation of a state: everything
//! `Execution::decide` (the engine's) computes for one
//! step (paths, payload templates, intrinsic functions, JSONata expressions,
//! Choice rules) must end within [`STATE_EVALUATION_LIMIT`], on top of the
//! step and size caps of each piece.
//!
//! The budget is per thread: the driver opens one ([`Budget::start`]) around
//! each `decide()`, and the evaluators call [`check`] at their loops (the
//! JSONata evaluator every 1,024 nodes, a Choice state at each rule, a path
//! or an intrinsic function before it runs). Past the deadline every check
//! fails, so the rest of the evaluation ends at once: the JSONata evaluator
//! with `U1005` (the state fails with `States.QueryEvaluationError`), an
//! intrinsic with `States.IntrinsicFailure`, a Choice rule with
//! `States.Runtime`; a path selects nothing, and the driver turns whatever
//! that led to into `States.Runtime` naming this limit. Without a budget
//! (outside the driver) nothing is checked.

use std::cell::Cell;
use std::time::{Duration, Instant};

/// How long one evaluation of a state may take (AWS has no such limit: it
/// bounds the sizes instead; here the host's cores are shared by tenants).
pub const STATE_EVALUATION_LIMIT: Duration = Duration::from_secs(1);

/// How long the driver lets a decision run on an async worker before it
/// abandons it and makes it again on the evaluation pool
/// (the host's evaluation pool).
pub const INLINE_EVALUATION_LIMIT: Duration = Duration::from_millis(2);

/// Words every budget error contains, so that a failure can be recognised
/// as one (see the driver).
pub const MARKER: &str = "the limit on the evaluation of one state";

/// The evaluation of a state ran out of its time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the evaluation of this state took longer than {} ({MARKER}: its paths, templates, intrinsic functions, JSONata expressions and Choice rules)", show(*.limit))]
pub struct Exceeded {
    pub limit: Duration,
}

fn show(limit: Duration) -> String {
    if limit.subsec_millis() == 0 {
        format!("{} s", limit.as_secs())
    } else {
        format!("{} ms", limit.as_millis())
    }
}

#[derive(Debug, Clone, Copy)]
struct Active {
    deadline: Instant,
    limit: Duration,
    exceeded: bool,
}

thread_local! {
    static CURRENT: Cell<Option<Active>> = const { Cell::new(None) };
}

/// The budget of the evaluation running on this thread, until dropped (a
/// budget opened inside another replaces it for its lifetime).
#[must_use = "the budget ends when this is dropped"]
pub struct Budget {
    previous: Option<Active>,
}

impl Budget {
    /// Opens a budget of `limit` from now.
    pub fn start(limit: Duration) -> Budget {
        let active = Active { deadline: Instant::now() + limit, limit, exceeded: false };
        Budget { previous: CURRENT.replace(Some(active)) }
    }

    /// True once a check has found the deadline past.
    pub fn exceeded(&self) -> bool {
        CURRENT.get().is_some_and(|a| a.exceeded)
    }
}

impl Drop for Budget {
    fn drop(&mut self) {
        CURRENT.set(self.previous);
    }
}

/// Fails once the evaluation on this thread is past its deadline (and from
/// then on, without reading the clock again).
pub fn check() -> Result<(), Exceeded> {
    let Some(mut active) = CURRENT.get() else { return Ok(()) };
    if !active.exceeded {
        if Instant::now() < active.deadline {
            return Ok(());
        }
        active.exceeded = true;
        CURRENT.set(Some(active));
    }
    Err(Exceeded { limit: active.limit })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checks_fail_past_the_deadline_and_only_under_a_budget() {
        assert_eq!(check(), Ok(()));
        let outer = Budget::start(Duration::from_secs(60));
        assert_eq!(check(), Ok(()));
        {
            let inner = Budget::start(Duration::from_millis(5));
            std::thread::sleep(Duration::from_millis(10));
            let err = check().unwrap_err();
            assert!(inner.exceeded());
            assert!(err.to_string().contains("took longer than 5 ms"), "{err}");
            assert!(err.to_string().contains(MARKER));
            // It stays exceeded.
            assert!(check().is_err());
        }
        // The outer budget is back, untouched.
        assert_eq!(check(), Ok(()));
        assert!(!outer.exceeded());
        drop(outer);
        assert_eq!(check(), Ok(()));
        assert_eq!(
            Exceeded { limit: STATE_EVALUATION_LIMIT }.to_string().split(" (").next(),
            Some("the evaluation of this state took longer than 1 s")
        );
    }
}
