//! Logging from a handler through the host's `log` capability.
//!
//! In a component the lines go to the host, which attaches them to the
//! execution. Natively (benchmarks, unit tests) they are kept in a per-thread
//! buffer that [`take_native_lines`] drains.

/// Severity of a log line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    Debug,
    Info,
    Warn,
    Error,
}

/// Writes one log line.
pub fn log(level: Level, message: &str) {
    imp::log(level, message)
}

/// Writes a debug line.
pub fn debug(message: &str) {
    log(Level::Debug, message)
}
/// Writes an info line.
pub fn info(message: &str) {
    log(Level::Info, message)
}
/// Writes a warning line.
pub fn warn(message: &str) {
    log(Level::Warn, message)
}
/// Writes an error line.
pub fn error(message: &str) {
    log(Level::Error, message)
}

#[cfg(target_arch = "wasm32")]
mod imp {
    use super::Level;
    use crate::bindings::stepwasm::task::log as wit;

    pub fn log(level: Level, message: &str) {
        let level = match level {
            Level::Debug => wit::Level::Debug,
            Level::Info => wit::Level::Info,
            Level::Warn => wit::Level::Warn,
            Level::Error => wit::Level::Error,
        };
        wit::log(level, message);
    }
}

#[cfg(not(target_arch = "wasm32"))]
mod imp {
    use super::Level;
    use std::cell::RefCell;

    thread_local! {
        pub static LINES: RefCell<Vec<(Level, String)>> = const { RefCell::new(Vec::new()) };
    }

    pub fn log(level: Level, message: &str) {
        LINES.with(|lines| lines.borrow_mut().push((level, message.to_owned())));
    }
}

/// Drains the lines logged natively on this thread (not available in a component).
#[cfg(not(target_arch = "wasm32"))]
pub fn take_native_lines() -> Vec<(Level, String)> {
    imp::LINES.with(|lines| std::mem::take(&mut *lines.borrow_mut()))
}

#[cfg(all(test, not(target_arch = "wasm32")))]
mod tests {
    use super::*;

    #[test]
    fn native_lines_are_buffered_per_thread() {
        info("one");
        warn("two");
        assert_eq!(take_native_lines(), vec![(Level::Info, "one".into()), (Level::Warn, "two".into())]);
        assert!(take_native_lines().is_empty());
    }
}
