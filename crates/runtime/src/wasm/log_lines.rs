//! The lines modules log, kept by the runtime until they are taken.

use std::collections::VecDeque;
use std::sync::Mutex;

/// Log lines the runtime keeps until they are taken.
const MAX_KEPT_LOG_LINES: usize = 10_000;

/// One line a module logged.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogLine {
    pub state: String,
    pub level: &'static str,
    pub message: String,
}

/// The most recent log lines, until taken (bounded: a long-running host that
/// never takes them keeps only the last [`MAX_KEPT_LOG_LINES`]).
#[derive(Default)]
pub(super) struct KeptLogs {
    lines: Mutex<VecDeque<LogLine>>,
}

impl KeptLogs {
    /// Adds an invocation's lines, dropping the oldest beyond the bound.
    pub(super) fn keep(&self, lines: Vec<LogLine>) {
        if !lines.is_empty() {
            let mut kept = self.lines.lock().unwrap_or_else(|e| e.into_inner());
            kept.extend(lines);
            let excess = kept.len().saturating_sub(MAX_KEPT_LOG_LINES);
            kept.drain(..excess);
        }
    }

    /// Drains the lines kept so far.
    pub(super) fn take(&self) -> Vec<LogLine> {
        std::mem::take(&mut *self.lines.lock().unwrap_or_else(|e| e.into_inner())).into()
    }
}
