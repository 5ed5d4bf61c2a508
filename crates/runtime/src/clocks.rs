//! The clocks a module sees: WASI's wall and monotonic clocks, rounded down
//! to [`RESOLUTION`]. A handler has no use for finer time, and an untrusted
//! module could use a nanosecond clock to time cache effects (side channels).

use std::time::{Duration, Instant, SystemTime};
use wasmtime_wasi::{HostMonotonicClock, HostWallClock};

/// The precision of both clocks.
pub const RESOLUTION: Duration = Duration::from_millis(1);

fn round_down(d: Duration) -> Duration {
    let step = RESOLUTION.as_nanos();
    Duration::from_nanos(((d.as_nanos() / step) * step) as u64)
}

/// Unix time, to the millisecond.
pub struct CoarseWallClock;

impl HostWallClock for CoarseWallClock {
    fn resolution(&self) -> Duration {
        RESOLUTION
    }

    fn now(&self) -> Duration {
        // A clock set before 1970 reads as the epoch rather than failing.
        round_down(SystemTime::now().duration_since(SystemTime::UNIX_EPOCH).unwrap_or_default())
    }
}

/// Nanoseconds since the invocation began, in whole milliseconds.
pub struct CoarseMonotonicClock {
    start: Instant,
}

impl CoarseMonotonicClock {
    pub fn new() -> CoarseMonotonicClock {
        CoarseMonotonicClock { start: Instant::now() }
    }
}

impl Default for CoarseMonotonicClock {
    fn default() -> Self {
        Self::new()
    }
}

impl HostMonotonicClock for CoarseMonotonicClock {
    fn resolution(&self) -> u64 {
        RESOLUTION.as_nanos() as u64
    }

    fn now(&self) -> u64 {
        round_down(self.start.elapsed()).as_nanos() as u64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn readings_are_whole_milliseconds() {
        let wall = CoarseWallClock.now();
        assert_eq!(wall.subsec_nanos() % 1_000_000, 0);
        assert!(wall > Duration::from_secs(1_700_000_000));
        let mono = CoarseMonotonicClock::new();
        std::thread::sleep(Duration::from_millis(3));
        let t = mono.now();
        assert_eq!(t % 1_000_000, 0);
        assert!(t >= 2_000_000, "{t}");
        assert_eq!(mono.resolution(), 1_000_000);
    }
}
