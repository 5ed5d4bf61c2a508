//! The ASL conformance corpus: every `tests/conformance/*.json` file is a
//! category holding an array of cases written from the States Language
//! specification and AWS's documentation. Each case gives a definition, an
//! input, the scripted outcomes of its tasks, and the expected result: the
//! output or the error (and optionally the cause and the exact sequence of
//! history event types).
//!
//! ```json
//! {
//!   "name": "ResultPath null keeps the input",
//!   "definition": { "StartAt": "A", "States": { ... } },
//!   "input": { "a": 1 },
//!   "tasks": [ { "output": {"x": 1} }, { "error": "E", "cause": "c" }, { "timeout": true } ],
//!   "expect": { "output": { "a": 1 } },          // or { "error": "States.Runtime", "cause": "...", "status": "FAILED" }
//!                                                // or { "invalid": ["States.A.Next: ..."] }
//!   "events": ["ExecutionStarted", "PassStateEntered", "PassStateExited", "ExecutionSucceeded"],
//!   "pending": "why this cannot pass yet"        // optional
//! }
//! ```
//! Tasks answer in order; when the script runs out, a task returns its input.
//! `expect.cause` matches as a substring; `expect.status` (FAILED or TIMED_OUT)
//! is checked when given; `invalid` lists located validation
//! errors that must all be reported. A `pending` case must still fail: the
//! runner reports it, and fails if it unexpectedly passes (remove the marker).
//! All waits run on a virtual clock, so the corpus runs in well under a second.

use crate::support::block_on;
use serde_json::Value;
use std::fmt::Write as _;
use std::io::Write as _;
use std::path::Path;
use std::sync::Arc;
use std::sync::Mutex;
use stepwasm::asl::parse_definition;
use stepwasm::driver::{execution_info, run_execution, TaskOutcome, TaskRunner, VirtualClock};
use stepwasm::engine::{Outcome, TaskInvocation};

/// Answers tasks from the case's script, then echoes the input.
struct ScriptedTasks(Mutex<Vec<Value>>);

impl TaskRunner for ScriptedTasks {
    fn run_task<'a>(&'a self, task: &'a TaskInvocation) -> impl std::future::Future<Output = TaskOutcome> + Send + 'a {
        std::future::ready(self.answer(task))
    }
}

impl ScriptedTasks {
    fn answer(&self, task: &TaskInvocation) -> TaskOutcome {
        let mut script = self.0.lock().unwrap();
        if script.is_empty() {
            return TaskOutcome::Succeeded((*task.input).clone());
        }
        let answer = script.remove(0);
        if let Some(output) = answer.get("output") {
            TaskOutcome::Succeeded(output.clone())
        } else if answer.get("timeout") == Some(&Value::Bool(true)) {
            TaskOutcome::TimedOut { cause: answer["cause"].as_str().unwrap_or("timed out").to_string() }
        } else {
            TaskOutcome::Failed {
                error: answer["error"].as_str().unwrap_or("Unknown").to_string(),
                cause: answer["cause"].as_str().unwrap_or("").to_string(),
            }
        }
    }
}

/// Runs one case; Err says how it differs from its expectation.
fn check(case: &Value) -> Result<(), String> {
    let definition = case.get("definition").ok_or("case has no definition")?;
    let expect = case.get("expect").ok_or("case has no expect")?;
    let machine = match parse_definition(&definition.to_string()) {
        Ok(m) => Arc::new(m),
        Err(e) => {
            let reported: Vec<String> = e.0.iter().map(|p| p.to_string()).collect();
            let Some(wanted) = expect.get("invalid").and_then(Value::as_array) else {
                return Err(format!("definition rejected: {reported:?}"));
            };
            for w in wanted {
                let w = w.as_str().unwrap_or_default();
                if !reported.iter().any(|r| r.contains(w)) {
                    return Err(format!("expected validation error {w:?}, got {reported:?}"));
                }
            }
            return Ok(());
        }
    };
    if expect.get("invalid").is_some() {
        return Err("definition was accepted but should be invalid".into());
    }
    let tasks = ScriptedTasks(Mutex::new(case.get("tasks").and_then(Value::as_array).cloned().unwrap_or_default()));
    let input = case.get("input").cloned().unwrap_or(Value::Object(Default::default()));
    let clock = VirtualClock::new(1_767_225_600_000); // 2026-01-01T00:00:00Z
    let rec = block_on(run_execution(machine, execution_info("conformance", "case"), input, &tasks, &clock))
        .map_err(|e| format!("engine error: {e}"))?;
    match (&rec.outcome, expect.get("output"), expect.get("error")) {
        (Outcome::Succeeded { output }, Some(wanted), None) if output == wanted => {}
        (Outcome::Failed { error, cause } | Outcome::TimedOut { error, cause }, None, Some(wanted))
            if wanted.as_str() == Some(error.as_str()) =>
        {
            let status = if matches!(rec.outcome, Outcome::TimedOut { .. }) { "TIMED_OUT" } else { "FAILED" };
            if let Some(s) = expect.get("status").and_then(Value::as_str) {
                if s != status {
                    return Err(format!("status {status}, expected {s}"));
                }
            }
            if let Some(c) = expect.get("cause").and_then(Value::as_str) {
                if !cause.contains(c) {
                    return Err(format!("cause {cause:?} does not contain {c:?}"));
                }
            }
        }
        (outcome, _, _) => return Err(format!("got {outcome:?}, expected {expect}")),
    }
    if let Some(events) = case.get("events").and_then(Value::as_array) {
        let got: Vec<&str> = rec.history.iter().map(|e| e.kind.type_name()).collect();
        let wanted: Vec<&str> = events.iter().filter_map(Value::as_str).collect();
        if got != wanted {
            return Err(format!("events {got:?}, expected {wanted:?}"));
        }
    }
    Ok(())
}

/// Every case of every category; one line per category. The report goes to
/// stderr directly (not through `println!`, which the harness captures) so
/// that it always prints, as it did when this was a test binary of its own.
#[test]
fn the_corpus_passes_except_its_pending_cases() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/conformance");
    let mut files: Vec<_> = std::fs::read_dir(&dir).unwrap().filter_map(|e| e.ok().map(|e| e.path())).collect();
    files.retain(|p| p.extension().is_some_and(|x| x == "json"));
    files.sort();
    assert!(!files.is_empty(), "no conformance files in {}", dir.display());
    let (mut total, mut total_pending, mut problems) = (0, 0, Vec::new());
    let mut report = String::new();
    for file in files {
        let category = file.file_stem().unwrap().to_string_lossy().into_owned();
        let text = std::fs::read_to_string(&file).unwrap();
        let cases: Vec<Value> = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
        let (mut passed, mut failed, mut pending) = (0, 0, 0);
        for (i, case) in cases.iter().enumerate() {
            let name = case.get("name").and_then(Value::as_str).unwrap_or("(unnamed)");
            let result = check(case);
            match (case.get("pending"), result) {
                (None, Ok(())) => passed += 1,
                (None, Err(why)) => {
                    failed += 1;
                    problems.push(format!("{category}[{i}] {name}: {why}"));
                }
                (Some(_), Err(_)) => pending += 1,
                (Some(_), Ok(())) => {
                    failed += 1;
                    problems.push(format!("{category}[{i}] {name}: marked pending but passes; remove the marker"));
                }
            }
        }
        total += cases.len();
        total_pending += pending;
        let _ = writeln!(report, "{category:<24} {passed:>4} passed, {failed} failed, {pending} pending");
    }
    for p in &problems {
        let _ = writeln!(report, "FAILED {p}");
    }
    // Pending cases are reported as skipped: they are known not to pass yet.
    let _ = writeln!(
        report,
        "conformance: {} passed, {} failed, {total_pending} skipped",
        total - total_pending - problems.len(),
        problems.len()
    );
    let _ = std::io::stderr().write_all(report.as_bytes());
    assert!(problems.is_empty(), "{} conformance case(s) failed:\n{}", problems.len(), problems.join("\n"));
}
