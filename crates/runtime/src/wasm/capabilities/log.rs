//! The `log` capability: lines a module writes, under the resource's line and
//! byte limits, kept with the name of the state that wrote them.

use super::limit_trap;
use crate::limits;
use crate::wasm::bindings::stepwasm::task::log::{Host, Level};
use crate::wasm::invocation::Invocation;
use crate::wasm::LogLine;

/// The length each log line is cut to.
const MAX_LOG_LINE_BYTES: usize = 1024;

impl Host for Invocation {
    async fn log(&mut self, level: Level, message: String) -> wasmtime::Result<()> {
        if self.logs.len() >= self.max_log_lines {
            return Err(limit_trap(
                &mut self.limiter,
                format!("log limit exceeded: more than {} lines in one invocation", self.max_log_lines),
            ));
        }
        if self.log_bytes + message.len() > self.max_log_bytes {
            return Err(limit_trap(
                &mut self.limiter,
                format!("log limit exceeded: more than {} bytes logged in one invocation", self.max_log_bytes),
            ));
        }
        self.log_bytes += message.len();
        let level = match level {
            Level::Debug => "debug",
            Level::Info => "info",
            Level::Warn => "warn",
            Level::Error => "error",
        };
        let message = limits::bounded(message, MAX_LOG_LINE_BYTES);
        self.logs.push(LogLine { state: self.state.clone(), level, message });
        Ok(())
    }
}
