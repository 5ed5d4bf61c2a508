//! What `serve` does when it cannot drive an execution: the cause is sorted
//! ([`Failure`]) and an execution whose cause may pass is driven again from
//! its stored history after a backoff ([`Retries`]), for as long as it takes:
//! a full disk, a locked file or a module file being restored does not leave
//! it RUNNING with nobody driving it.

use crate::driver::DriverError;
use crate::engine::ExecutionInfo;
use crate::store::StoreError;
use std::collections::HashMap;
use std::time::Duration;

/// Why a drive (or the load before it) of an execution failed, sorted by
/// what `serve` does about it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Failure {
    /// A cause that may pass: the store is full, locked or failing I/O, a
    /// task could not keep its kv writes, the state machine cannot be loaded
    /// now (a module file missing), the evaluation pool is unavailable.
    /// Driven again after a backoff.
    Passing(String),
    /// The store refused an append because another writer extended the
    /// history first: what this host held is stale. Driven again from the
    /// store, never given up.
    Stale(String),
    /// The execution is no longer running in the store (it ended or is
    /// gone): there is nothing left to drive.
    Ended(String),
    /// It cannot be driven at all (a history the engine refuses, a corrupt
    /// event): left RUNNING and named, until it is stopped or redriven.
    Permanent(String),
}

impl Failure {
    /// The failure a drive ended with.
    pub fn of_drive(error: &DriverError) -> Failure {
        let why = error.to_string();
        match error {
            DriverError::Store(e) if e.is_transient() => Failure::Passing(why),
            DriverError::Store(StoreError::OutOfOrder { .. }) => Failure::Stale(why),
            DriverError::Store(StoreError::Closed { .. } | StoreError::NoSuchExecution(_)) => Failure::Ended(why),
            DriverError::TaskStore { .. } | DriverError::Evaluation { .. } => Failure::Passing(why),
            DriverError::Store(_) | DriverError::Replay(_) | DriverError::NotResumable { .. } => Failure::Permanent(why),
        }
    }
}

/// The backoff between drives of an execution that keeps failing: `first`,
/// doubling each time up to `max`, each delay jittered down to half of it
/// so that many executions failing together do not come back together.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backoff {
    pub first: Duration,
    pub max: Duration,
}

/// `serve`'s backoff: 0.5 s doubling to 30 s.
pub const RETRY_BACKOFF: Backoff = Backoff { first: Duration::from_millis(500), max: Duration::from_secs(30) };

impl Backoff {
    /// The delay before drive number `failures + 1`, after `failures` (≥ 1)
    /// failed ones; `jitter` in [0, 1) picks it within [half, whole].
    pub fn delay(&self, failures: u32, jitter: f64) -> Duration {
        let doublings = failures.saturating_sub(1).min(31);
        let whole = self.first.saturating_mul(1 << doublings).min(self.max);
        whole.mul_f64(0.5 + 0.5 * jitter.clamp(0.0, 1.0))
    }
}

/// A number in [0, 1) that differs from call to call (the query languages'
/// generator, seeded from the operating system).
pub fn jitter() -> f64 {
    crate::jsonata::random::JavaRandom::from_entropy().next_double()
}

/// One execution waiting to be driven again.
#[derive(Debug)]
struct Retry {
    info: ExecutionInfo,
    /// Failed drives in a row.
    failures: u32,
    /// When the first of them failed (ms since the epoch).
    since_ms: i64,
    /// When it is driven again; `None` while it is (queued or being driven).
    due_ms: Option<i64>,
    /// The latest failure's message: a new one is worth a log line.
    latest: String,
}

/// What [`Retries::failed`] decided.
#[derive(Debug, Clone, PartialEq)]
pub struct Scheduled {
    pub failures: u32,
    pub delay: Duration,
    /// How long it has been failing, this failure included.
    pub failing_for: Duration,
    /// Its first failure, or one unlike the one before (log it).
    pub changed: bool,
}

/// The executions `serve` drives again after a failed drive, by ARN. One
/// stays here from its first failure until a drive of it ends well, so that
/// its next drive knows it follows a failure.
#[derive(Debug)]
pub struct Retries {
    backoff: Backoff,
    entries: HashMap<String, Retry>,
}

impl Retries {
    pub fn new(backoff: Backoff) -> Retries {
        Retries { backoff, entries: HashMap::new() }
    }

    /// Notes a failed drive of `info` at `now_ms` and when it is due again.
    pub fn failed(&mut self, info: ExecutionInfo, why: String, now_ms: i64, jitter: f64) -> Scheduled {
        let arn = info.execution_arn.clone();
        let retry =
            self.entries.entry(arn).or_insert_with(|| Retry { info, failures: 0, since_ms: now_ms, due_ms: None, latest: String::new() });
        retry.failures += 1;
        let changed = retry.latest != why;
        retry.latest = why;
        let delay = self.backoff.delay(retry.failures, jitter);
        retry.due_ms = Some(now_ms + delay.as_millis() as i64);
        let failing_for = Duration::from_millis((now_ms - retry.since_ms).max(0) as u64);
        Scheduled { failures: retry.failures, delay, failing_for, changed }
    }

    /// Takes out the executions due at `now_ms` (they stay known as
    /// retries until [`Retries::succeeded`] or [`Retries::remove`]).
    pub fn due(&mut self, now_ms: i64) -> Vec<ExecutionInfo> {
        let mut due = Vec::new();
        for retry in self.entries.values_mut() {
            if retry.due_ms.is_some_and(|at| at <= now_ms) {
                retry.due_ms = None;
                due.push(retry.info.clone());
            }
        }
        due
    }

    /// How long until the next one is due, from `now_ms`.
    pub fn next_due_in(&self, now_ms: i64) -> Option<Duration> {
        self.entries.values().filter_map(|r| r.due_ms).min().map(|at| Duration::from_millis((at - now_ms).max(1) as u64))
    }

    /// Whether the latest drive of `arn` failed.
    pub fn contains(&self, arn: &str) -> bool {
        self.entries.contains_key(arn)
    }

    /// A drive of `arn` ended well: the failed drives before it, if any.
    pub fn succeeded(&mut self, arn: &str) -> Option<u32> {
        self.entries.remove(arn).map(|r| r.failures)
    }

    /// Forgets `arn` (stopped, ended, given up); false if it was not here.
    pub fn remove(&mut self, arn: &str) -> bool {
        self.entries.remove(arn).is_some()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// How many wait for their backoff to end (the others are being driven).
    pub fn waiting(&self) -> usize {
        self.entries.values().filter(|r| r.due_ms.is_some()).count()
    }
}

/// Milliseconds as a short human duration (`750 ms`, `4.5 s`).
pub fn shown(delay: Duration) -> String {
    if delay < Duration::from_secs(1) {
        format!("{} ms", delay.as_millis())
    } else {
        format!("{:.1} s", delay.as_secs_f64())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rusqlite::ffi;

    #[test]
    fn the_backoff_doubles_to_its_cap_jittered_down_to_half() {
        let b = RETRY_BACKOFF;
        assert_eq!(b.delay(1, 1.0), Duration::from_millis(500));
        assert_eq!(b.delay(1, 0.0), Duration::from_millis(250));
        assert_eq!(b.delay(2, 0.0), Duration::from_millis(500));
        assert_eq!(b.delay(3, 0.0), Duration::from_secs(1));
        assert_eq!(b.delay(7, 0.0), Duration::from_secs(15), "0.5 s × 64 = 32 s, capped at 30 s, halved");
        assert_eq!(b.delay(u32::MAX, 1.0), Duration::from_secs(30));
        for _ in 0..100 {
            let j = jitter();
            assert!((0.0..1.0).contains(&j), "{j}");
        }
    }

    #[test]
    fn executions_come_back_when_due_and_stay_known_until_a_drive_ends_well() {
        let info = |name: &str| crate::driver::execution_info("sm", name);
        let mut retries = Retries::new(RETRY_BACKOFF);
        let first = retries.failed(info("a"), "disk full".into(), 1_000, 0.0);
        assert_eq!((first.failures, first.delay, first.changed), (1, Duration::from_millis(250), true));
        retries.failed(info("b"), "disk full".into(), 1_100, 0.0);
        assert_eq!(retries.next_due_in(1_000), Some(Duration::from_millis(250)));
        let names = |due: Vec<ExecutionInfo>| due.into_iter().map(|i| i.name).collect::<Vec<_>>();
        assert!(retries.due(1_249).is_empty());
        assert_eq!(names(retries.due(1_250)), ["a"]);
        assert_eq!(retries.next_due_in(1_250), Some(Duration::from_millis(100)), "a is being driven, b waits");
        assert!(retries.contains(&info("a").execution_arn));
        let again = retries.failed(info("a"), "disk full".into(), 2_000, 0.0);
        assert_eq!(
            (again.failures, again.delay, again.failing_for, again.changed),
            (2, Duration::from_millis(500), Duration::from_secs(1), false)
        );
        assert!(retries.failed(info("a"), "locked".into(), 3_000, 0.0).changed, "a new cause is worth a line");
        assert_eq!(retries.succeeded(&info("a").execution_arn), Some(3));
        assert_eq!(retries.succeeded(&info("a").execution_arn), None);
        assert!(retries.remove(&info("b").execution_arn) && retries.is_empty());
    }

    #[test]
    fn store_errors_that_may_pass_are_retried_and_a_refused_append_is_stale() {
        let sqlite = |code| StoreError::Query(rusqlite::Error::SqliteFailure(ffi::Error::new(code), None));
        let drive = |e: StoreError| Failure::of_drive(&DriverError::Store(e));
        assert!(matches!(drive(sqlite(ffi::SQLITE_FULL)), Failure::Passing(_)));
        assert!(matches!(drive(sqlite(ffi::SQLITE_BUSY)), Failure::Passing(_)));
        assert!(matches!(drive(sqlite(ffi::SQLITE_IOERR_WRITE)), Failure::Passing(_)));
        assert!(matches!(drive(StoreError::GroupCommit("disk full".into())), Failure::Passing(_)));
        assert!(matches!(drive(sqlite(ffi::SQLITE_CORRUPT)), Failure::Permanent(_)));
        assert!(matches!(drive(StoreError::OutOfOrder { arn: "a".into(), last: 3, got: 3 }), Failure::Stale(_)));
        assert!(matches!(drive(StoreError::Closed { arn: "a".into(), status: "SUCCEEDED" }), Failure::Ended(_)));
        let task = DriverError::TaskStore { arn: "a".into(), resource: "r".into(), cause: "disk full".into() };
        assert!(matches!(Failure::of_drive(&task), Failure::Passing(m) if m.contains("disk full")));
        let resume = DriverError::NotResumable { arn: "a".into(), reason: "its history is empty".into() };
        assert!(matches!(Failure::of_drive(&resume), Failure::Permanent(_)));
    }
}
