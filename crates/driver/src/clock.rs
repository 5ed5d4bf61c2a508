//! Time as the driver sees it: the [`Clock`] trait, the wall clock
//! ([`SystemClock`], on tokio's timers) and the clock of tests and `--no-wait`
//! runs ([`VirtualClock`]), whose waits jump to their deadlines.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicI64, Ordering};

/// A boxed future, for the dyn-compatible [`Clock`].
pub type Wait<'a> = Pin<Box<dyn Future<Output = ()> + Send + 'a>>;

/// Time as the driver sees it.
/// `Send + Sync`: the concurrent children of one execution share it.
pub trait Clock: Send + Sync {
    /// Milliseconds since the Unix epoch.
    fn now_ms(&self) -> i64;
    /// Completes once `now_ms() >= deadline_ms`, holding no thread while
    /// it waits.
    fn wait_until(&self, deadline_ms: i64) -> Wait<'_>;
    /// When a Wait state entered at `entered_ms` and due at `until_ms`
    /// really ends: `until_ms`, unless this clock scales waits
    /// ([`ScaledWaits`]). Computed from recorded times only, so a resumed
    /// execution ends its wait at the same instant.
    fn wait_state_ends(&self, entered_ms: i64, until_ms: i64) -> i64 {
        let _ = entered_ms;
        until_ms
    }
    /// True when a wait jumps to its deadline ([`VirtualClock`]): work in
    /// flight then takes no time, so a timer fires only once none is left.
    fn waits_jump(&self) -> bool {
        false
    }
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

/// The wall clock with Wait states taking `scale` times as long (SFN
/// Local's `WAIT_TIME_SCALE`, `serve --wait-time-scale`): 0 ends them at
/// once. Retry backoffs, task timeouts and heartbeats keep their real
/// length, as in SFN Local.
#[derive(Debug, Clone, Copy)]
pub struct ScaledWaits {
    scale: f64,
}

impl ScaledWaits {
    /// `None` unless `scale` is finite and not negative.
    pub fn new(scale: f64) -> Option<ScaledWaits> {
        (scale.is_finite() && scale >= 0.0).then_some(ScaledWaits { scale })
    }
}

impl Clock for ScaledWaits {
    fn now_ms(&self) -> i64 {
        SystemClock.now_ms()
    }
    fn wait_until(&self, deadline_ms: i64) -> Wait<'_> {
        SystemClock.wait_until(deadline_ms)
    }
    fn wait_state_ends(&self, entered_ms: i64, until_ms: i64) -> i64 {
        if until_ms <= entered_ms {
            return until_ms;
        }
        let scaled = ((until_ms - entered_ms) as f64 * self.scale).ceil();
        entered_ms.saturating_add(scaled.min(i64::MAX as f64) as i64)
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
    fn waits_jump(&self) -> bool {
        true
    }
    /// Jumps when first polled, not when made: a wait raced against work
    /// that is ready (a concurrent branch's task) must not move time on.
    fn wait_until(&self, deadline_ms: i64) -> Wait<'_> {
        Box::pin(async move {
            self.0.fetch_max(deadline_ms, Ordering::SeqCst);
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scaled_waits_scale_from_the_entry_and_leave_past_deadlines_alone() {
        let half = ScaledWaits::new(0.5).unwrap();
        assert_eq!(half.wait_state_ends(1_000, 3_601_000), 1_801_000);
        assert_eq!(ScaledWaits::new(0.0).unwrap().wait_state_ends(1_000, 3_601_000), 1_000);
        assert_eq!(half.wait_state_ends(5_000, 4_000), 4_000, "a timestamp already past");
        assert_eq!(SystemClock.wait_state_ends(1_000, 3_601_000), 3_601_000);
        assert!(ScaledWaits::new(-1.0).is_none() && ScaledWaits::new(f64::NAN).is_none() && ScaledWaits::new(f64::INFINITY).is_none());
    }
}
