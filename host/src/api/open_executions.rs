//! How many executions `serve` holds open (driven, waiting to be driven,
//! parked, to be driven again, stuck), and the cap on them
//! (`serve --max-open-executions`): past it StartExecution and
//! StartSyncExecution answer `ExecutionLimitExceeded`, as AWS does past its
//! open-executions quota. Without a cap a definition that starts executions
//! of itself (`states:startExecution`), or a caller starting without end,
//! would grow serve's queues and its store until memory or disk ran out.
//!
//! The host writes the count after each pass of its loop; the API reads it.
//! Executions started since the host's last pass are not counted yet, so the
//! count may go over the cap by what arrives at once (bounded by the API's
//! connection cap), never without bound.

use std::sync::atomic::{AtomicUsize, Ordering};

/// AWS's quota is 1,000,000 open executions per account and region; serve
/// keeps a small record of each in memory, so its default is lower.
pub const DEFAULT_MAX_OPEN_EXECUTIONS: usize = 100_000;

/// The open executions' count, shared by the host (which writes it) and
/// the API (which refuses new ones past `max`).
#[derive(Debug)]
pub struct OpenExecutions {
    count: AtomicUsize,
    max: usize,
}

impl OpenExecutions {
    pub fn new(max: usize) -> OpenExecutions {
        OpenExecutions { count: AtomicUsize::new(0), max: max.max(1) }
    }

    /// The host's count after its latest pass.
    pub fn set(&self, open: usize) {
        self.count.store(open, Ordering::Relaxed);
    }

    /// Why one more may not start, if it may not.
    pub fn refusal(&self) -> Option<String> {
        let open = self.count.load(Ordering::Relaxed);
        (open >= self.max).then(|| {
            format!(
                "The maximum number of running executions has been reached ({open} open, serve --max-open-executions {}). \
                 Running executions must end or be stopped before a new execution can be started.",
                self.max
            )
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn new_executions_are_refused_from_the_cap_on() {
        let open = OpenExecutions::new(3);
        assert_eq!(open.refusal(), None);
        open.set(2);
        assert_eq!(open.refusal(), None);
        open.set(3);
        assert!(open.refusal().unwrap().contains("(3 open, serve --max-open-executions 3)"));
        open.set(0);
        assert_eq!(open.refusal(), None);
    }
}
