//! Enforcing an invocation's limits and turning every way it can go wrong
//! (trap, exhausted fuel, memory/table/instance caps, deadline, log volume,
//! http calls, oversized or non-JSON output) into an ordinary ASL error with a
//! cause that names what happened.

use super::config::Limits;
use std::path::Path;
use std::time::Duration;
use stepwasm_asl::errors;
use stepwasm_engine::limits::{truncate_chars, MAX_CAUSE_CHARS, MAX_ERROR_CHARS};
use stepwasm_engine::TaskOutcome;
use wasmtime::{ResourceLimiter, Trap};

/// Caps linear memory, tables and instances, and remembers the first limit an
/// invocation ran into (these here, or one a host function enforces), so the
/// resulting trap (a Rust guest aborts when allocation fails) can be reported
/// as what it really was.
pub struct Limiter {
    memory_cap: usize,
    table_cap: usize,
    instance_cap: usize,
    hit: Option<String>,
    /// Why a memory growth was refused, if one was.
    memory_refused: Option<String>,
}

impl Limiter {
    pub fn new(limits: &Limits) -> Limiter {
        Limiter {
            memory_cap: limits.memory_bytes,
            table_cap: limits.max_table_elements,
            instance_cap: limits.max_instances,
            hit: None,
            memory_refused: None,
        }
    }

    /// The first limit this invocation ran into, if any.
    pub fn hit(&self) -> Option<&str> {
        self.hit.as_deref()
    }

    /// Why the memory cap refused a growth during this invocation, if it did.
    pub fn memory_refused(&self) -> Option<&str> {
        self.memory_refused.as_deref()
    }

    /// Records a limit a host function enforced (the first one wins).
    pub fn record(&mut self, what: String) {
        self.hit.get_or_insert(what);
    }
}

impl ResourceLimiter for Limiter {
    fn memory_growing(&mut self, current: usize, desired: usize, _maximum: Option<usize>) -> wasmtime::Result<bool> {
        if desired > self.memory_cap {
            let why = format!(
                "memory limit exceeded: linear memory of {} tried to grow to {}, over the cap of {}",
                mib(current),
                mib(desired),
                mib(self.memory_cap)
            );
            self.memory_refused.get_or_insert_with(|| why.clone());
            self.hit.get_or_insert(why);
            return Ok(false);
        }
        Ok(true)
    }

    fn table_growing(&mut self, _current: usize, desired: usize, _maximum: Option<usize>) -> wasmtime::Result<bool> {
        if desired > self.table_cap {
            let cap = self.table_cap;
            self.hit.get_or_insert_with(|| format!("table limit exceeded: {desired} elements, over the cap of {cap}"));
            return Ok(false);
        }
        Ok(true)
    }

    fn instances(&self) -> usize {
        self.instance_cap
    }
}

fn mib(bytes: usize) -> String {
    format!("{:.1} MiB", bytes as f64 / (1 << 20) as f64)
}

/// What the store noticed during the call.
pub struct LimitHit {
    /// The first limit enforced by the limiter or a host function.
    pub limit: Option<String>,
    pub fuel_exhausted: bool,
}

/// Cuts `s` to at most `max` bytes (on a character boundary).
pub fn bounded(mut s: String, max: usize) -> String {
    if s.len() > max {
        let mut cut = max;
        while !s.is_char_boundary(cut) {
            cut -= 1;
        }
        s.truncate(cut);
        s.push('…');
    }
    s
}

fn failed(cause: String) -> TaskOutcome {
    TaskOutcome::Failed { error: errors::TASK_FAILED.into(), cause }
}

/// A host-side problem while preparing an invocation.
pub fn internal_failure(what: &str, err: wasmtime::Error) -> TaskOutcome {
    failed(format!("host error while {what}: {err:#}"))
}

/// The last non-empty lines of what a guest said before it failed.
fn said_tail(said: &[u8]) -> Option<String> {
    let text = String::from_utf8_lossy(said);
    let lines: Vec<&str> = text.lines().map(str::trim).filter(|l| !l.is_empty()).collect();
    if lines.is_empty() {
        return None;
    }
    Some(lines[lines.len().saturating_sub(3)..].join(" | "))
}

/// Maps an error from instantiating or calling a component to the task's
/// outcome. `said` is what the module said before it failed (its stderr, or
/// its last error-level log line), quoted in the cause of a trap.
pub fn classify_trap(err: &wasmtime::Error, hit: &LimitHit, limits: &Limits, timeout: Duration, said: &[u8], module: &Path) -> TaskOutcome {
    let module = module.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    if let Some(limit) = &hit.limit {
        return failed(format!("module {module}: {limit}"));
    }
    let said = said_tail(said).map(|s| format!("; the module wrote: {s}")).unwrap_or_default();
    let text = format!("{err:#}");
    if text.contains("instance count too high") {
        return failed(format!("module {module}: instance limit exceeded: it creates more than {} instances", limits.max_instances));
    }
    match err.downcast_ref::<Trap>() {
        Some(Trap::OutOfFuel) => failed(format!("module {module}: fuel limit exhausted: used all {} units of fuel", limits.fuel)),
        Some(Trap::Interrupt) => {
            TaskOutcome::TimedOut { cause: format!("module {module}: wall-clock limit of {:.3} s exceeded", timeout.as_secs_f64()) }
        }
        Some(Trap::StackOverflow) => failed(format!("module {module}: stack overflow (call stack exhausted)")),
        Some(trap) => failed(format!("module {module} trapped: {trap}{said}")),
        None if hit.fuel_exhausted => failed(format!("module {module}: fuel limit exhausted: used all {} units of fuel", limits.fuel)),
        None => failed(format!("module {module} failed: {}{said}", bounded(text, 2048))),
    }
}

/// The prefix of the error names Step Functions itself raises; a module may
/// not claim one (a `States.Runtime` from a module could not be caught).
const RESERVED_ERROR_PREFIX: &str = "States.";

/// A handled error the module returned, as the task's outcome. A name the
/// service reserves (`States.…`) is refused: the task fails with
/// `States.TaskFailed`, the cause saying which name the module tried.
/// A handled error after the memory cap refused a growth (`refused`): an
/// interpreter (SpiderMonkey, CPython) turns the refusal into an exception
/// of its own ("out of memory") that a handler, or the SDK, catches and
/// returns. The cap is what failed it, reported as when a Rust module traps
/// on it, with what the handler said after.
pub fn error_after_memory_refused(module: &Path, refused: &str, error: &str, cause: &str) -> TaskOutcome {
    let module = module.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    failed(truncate_chars(format!("module {module}: {refused}; the handler then failed with {error}: {cause}"), MAX_CAUSE_CHARS))
}

pub fn module_error(error: String, cause: String) -> TaskOutcome {
    let error = truncate_chars(error, MAX_ERROR_CHARS);
    let cause = truncate_chars(cause, MAX_CAUSE_CHARS);
    if error.starts_with(RESERVED_ERROR_PREFIX) {
        let cause = truncate_chars(
            format!("the module failed with the reserved error name {error:?} (names starting with \"States.\" are Step Functions' own); its cause: {cause}"),
            MAX_CAUSE_CHARS,
        );
        return failed(cause);
    }
    TaskOutcome::Failed { error, cause }
}

/// Checks a successful call's output: size limit, then that it is JSON.
pub fn check_output(output: String, limits: &Limits) -> TaskOutcome {
    if output.len() > limits.max_output_bytes {
        return TaskOutcome::Failed {
            error: errors::DATA_LIMIT_EXCEEDED.into(),
            cause: format!("task output is {} bytes, over the limit of {} bytes", output.len(), limits.max_output_bytes),
        };
    }
    match serde_json::from_str(&output) {
        Ok(value) => TaskOutcome::Succeeded(value),
        Err(e) => failed(format!("module output is not valid JSON ({e}): {}", bounded(output, 200))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn output_checks() {
        let limits = Limits { max_output_bytes: 10, ..Limits::default() };
        assert_eq!(check_output("[1,2]".into(), &limits), TaskOutcome::Succeeded(serde_json::json!([1, 2])));
        assert!(matches!(check_output("\"0123456789\"".into(), &limits),
            TaskOutcome::Failed { error, .. } if error == errors::DATA_LIMIT_EXCEEDED));
        assert!(matches!(check_output("{nope".into(), &limits),
            TaskOutcome::Failed { error, cause } if error == errors::TASK_FAILED && cause.contains("not valid JSON")));
    }

    #[test]
    fn reserved_error_names_are_refused() {
        assert_eq!(
            module_error("PaymentDeclined".into(), "card".into()),
            TaskOutcome::Failed { error: "PaymentDeclined".into(), cause: "card".into() }
        );
        for name in ["States.Runtime", "States.ALL", "States.TaskFailed", "States.Timeout"] {
            let TaskOutcome::Failed { error, cause } = module_error(name.into(), "why".into()) else { panic!() };
            assert_eq!(error, errors::TASK_FAILED);
            assert!(cause.contains(&format!("{name:?}")) && cause.ends_with("its cause: why"), "{cause}");
        }
    }

    #[test]
    fn bounded_respects_char_boundaries() {
        assert_eq!(bounded("héllo".into(), 2), "h…");
        assert_eq!(bounded("abc".into(), 5), "abc");
    }

    #[test]
    fn limiter_records_the_first_refusal() {
        let mut l = Limiter::new(&Limits { memory_bytes: 1 << 20, ..Limits::default() });
        assert!(l.memory_growing(0, 1 << 20, None).unwrap());
        assert!(!l.memory_growing(1 << 20, 2 << 20, None).unwrap());
        assert!(!l.memory_growing(1 << 20, 3 << 20, None).unwrap());
        assert!(l.hit().unwrap().contains("tried to grow to 2.0 MiB"), "{:?}", l.hit());
    }
}
