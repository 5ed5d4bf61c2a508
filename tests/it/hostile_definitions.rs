//! Hostile definitions (`tests/hostile/definitions/*.json`): each a small
//! definition whose values would grow without bound (variables doubled in a
//! loop, an intrinsic or a template fanning out a big field, a Map item
//! selector copying the input per item, chained `..` scans), run by the CLI
//! (`stepwasm run`). Each must end with the exact outcome its file expects,
//! the process's peak RSS staying under [`MAX_RSS_BYTES`] (read from
//! `/proc/<pid>/status` while it runs; past it the child is killed and the
//! case fails).
//!
//! A case file: `{"definition": {...}, "input": {...}, "expect": {"status":
//! "FAILED", "error": "States.…", "causeContains": "…"}}`.

use crate::support::root;
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// The bound on the child's peak resident memory.
const MAX_RSS_BYTES: u64 = 512 << 20;
/// No case should need more than this (each stops at a cap within a second).
const DEADLINE: Duration = Duration::from_secs(120);

/// The `VmHWM` (peak resident set) of a running process, in bytes.
fn peak_rss(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}

struct Run {
    code: Option<i32>,
    stdout: String,
    stderr: String,
    peak_rss: u64,
}

/// Runs `stepwasm run <definition> --input @<input>`, watching its memory.
fn run_case(definition: &Path, input: &Path) -> Run {
    let mut child = Command::new(env!("CARGO_BIN_EXE_stepwasm"))
        .args(["run", definition.to_str().unwrap(), "--input"])
        .arg(format!("@{}", input.display()))
        .current_dir(root())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let pid = child.id();
    // Drain the pipes on threads so a chatty child cannot block.
    let mut out = child.stdout.take().unwrap();
    let mut err = child.stderr.take().unwrap();
    let out = std::thread::spawn(move || {
        let mut s = String::new();
        std::io::Read::read_to_string(&mut out, &mut s).ok();
        s
    });
    let err = std::thread::spawn(move || {
        let mut s = String::new();
        std::io::Read::read_to_string(&mut err, &mut s).ok();
        s
    });
    let started = Instant::now();
    let mut peak = 0;
    let status = loop {
        peak = peak.max(peak_rss(pid).unwrap_or(0));
        if let Some(status) = child.try_wait().unwrap() {
            break Some(status);
        }
        if peak > MAX_RSS_BYTES || started.elapsed() > DEADLINE {
            child.kill().ok();
            child.wait().ok();
            break None;
        }
        std::thread::sleep(Duration::from_millis(2));
    };
    Run { code: status.and_then(|s| s.code()), stdout: out.join().unwrap(), stderr: err.join().unwrap(), peak_rss: peak }
}

fn cases() -> Vec<PathBuf> {
    let dir = root().join("tests/hostile/definitions");
    let mut cases: Vec<PathBuf> =
        std::fs::read_dir(&dir).unwrap().map(|e| e.unwrap().path()).filter(|p| p.extension().is_some_and(|e| e == "json")).collect();
    cases.sort();
    assert!(cases.len() >= 8, "the corpus in {} is missing cases", dir.display());
    cases
}

#[test]
fn every_hostile_definition_fails_at_its_cap_in_bounded_memory() {
    let scratch = std::env::temp_dir().join(format!("stepwasm-hostile-definitions-{}", std::process::id()));
    std::fs::create_dir_all(&scratch).unwrap();
    let mut failures = Vec::new();
    for case in cases() {
        let name = case.file_stem().unwrap().to_string_lossy().into_owned();
        let text = std::fs::read_to_string(&case).unwrap();
        let spec: Value = serde_json::from_str(&text).unwrap();
        let definition = scratch.join(format!("{name}.asl.json"));
        let input = scratch.join(format!("{name}.input.json"));
        std::fs::write(&definition, spec["definition"].to_string()).unwrap();
        std::fs::write(&input, spec["input"].to_string()).unwrap();
        let expect = &spec["expect"];
        let run = run_case(&definition, &input);
        let status = format!("status: {}", expect["status"].as_str().unwrap());
        let error = format!("error: {}", expect["error"].as_str().unwrap());
        let cause = expect["causeContains"].as_str().unwrap();
        let cause_line = run.stdout.lines().find(|l| l.starts_with("cause: ")).unwrap_or("");
        let mut problems = Vec::new();
        if run.peak_rss > MAX_RSS_BYTES || run.code.is_none() {
            problems.push(format!("killed: peak RSS {} MiB (bound {} MiB) or past {DEADLINE:?}", run.peak_rss >> 20, MAX_RSS_BYTES >> 20));
        } else {
            if run.code != Some(1) {
                problems.push(format!("exit code {:?}, expected 1", run.code));
            }
            if !run.stdout.lines().any(|l| l == status) || !run.stdout.lines().any(|l| l == error) {
                problems.push(format!("expected {status:?} and {error:?}"));
            }
            if !cause_line.contains(cause) {
                problems.push(format!("the cause does not contain {cause:?}"));
            }
        }
        eprintln!("{name}: peak RSS {} MiB; {}", run.peak_rss >> 20, cause_line);
        if !problems.is_empty() {
            failures.push(format!("{name}: {}\n--- stdout\n{}--- stderr\n{}", problems.join("; "), run.stdout, run.stderr));
        }
    }
    std::fs::remove_dir_all(&scratch).ok();
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}
