//! Why a [`WasmRuntime`](super::WasmRuntime) could not be set up.

use crate::kv::KvError;
use stepwasm_asl::ValidationError;

/// Why the runtime could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum RuntimeError {
    #[error("cannot create the wasmtime engine: {0:#}")]
    Engine(wasmtime::Error),
    #[error("cannot start the epoch thread that enforces wall-clock limits: {0}")]
    Ticker(std::io::Error),
    #[error("{}", format_problems(.0))]
    Resources(Vec<ValidationError>),
    #[error("{0}")]
    Kv(#[from] KvError),
}

fn format_problems(problems: &[ValidationError]) -> String {
    let mut s = format!("cannot load the task modules: {} problem(s)", problems.len());
    for p in problems {
        s.push_str(&format!("\n  {p}"));
    }
    s
}
