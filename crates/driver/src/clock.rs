//! Time as the driver sees it: the [`Clock`] trait, the wall clock
//! ([`SystemClock`], on tokio's timers) and the clock of tests and `--no-wait`
//! runs ([`VirtualClock`]), whose waits jump to their deadlines.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicI64, Ordering};

/// A boxed future, for the dyn-compatible [`Clock`].
pub type Wait<'a> = Pin<Box<dyn Future<Output = ()> + Send + 'a>>;

/// Time as the driver sees it.
pub trait Clock {
    /// Milliseconds since the Unix epoch.
    fn now_ms(&self) -> i64;
    /// Completes once `now_ms() >= deadline_ms`, holding no thread while
    /// it waits.
    fn wait_until(&self, deadline_ms: i64) -> Wait<'_>;
}

/// The wall clock: waits really wait.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now_ms(&self) -> i64 {
        chrono::Utc::now().timestamp_millis()
    }
    /// A tokio timer: it must be awaited on a tokio runtime with time enabled.
    fn wait_until(&self, deadline_ms: i64) -> Wait<'_> {
        let wait = std::time::Duration::from_millis((deadline_ms - self.now_ms()).max(0) as u64);
        Box::pin(tokio::time::sleep(wait))
    }
}

/// A clock for tests and `--no-wait` runs: starts at the real time, and a wait
/// jumps straight to its deadline.
#[derive(Debug)]
pub struct VirtualClock(AtomicI64);

impl VirtualClock {
    pub fn new(start_ms: i64) -> VirtualClock {
        VirtualClock(AtomicI64::new(start_ms))
    }
    pub fn starting_now() -> VirtualClock {
        VirtualClock::new(SystemClock.now_ms())
    }
}

impl Clock for VirtualClock {
    fn now_ms(&self) -> i64 {
        self.0.load(Ordering::SeqCst)
    }
    fn wait_until(&self, deadline_ms: i64) -> Wait<'_> {
        self.0.fetch_max(deadline_ms, Ordering::SeqCst);
        Box::pin(std::future::ready(()))
    }
}
