//! `stepwasm validate` against the corpus in `tests/validate/`:
//!
//! - `valid/*.asl.json`: definitions AWS accepts; each must pass (exit 0).
//! - `invalid/NAME.asl.json` with `NAME.expected.txt`: definitions AWS rejects;
//!   each must fail (exit 2) and print every line of the sidecar, each at the
//!   start of an output line so the location prefix counts
//!   (`States.A.Next: no state named "B"`).
//!
//! Neither kind may make the binary panic. With a config, resources are
//! checked too (the order example).

use crate::support::{guest_dir, root, scratch, stepwasm};
use std::path::{Path, PathBuf};

/// The issue asks for at least this many definitions of each kind.
const MIN_CORPUS: usize = 50;

const DEFINITION_SUFFIX: &str = ".asl.json";
const EXPECTED_SUFFIX: &str = ".expected.txt";

fn corpus_dir(kind: &str) -> PathBuf {
    root().join("tests/validate").join(kind)
}

/// Every `*.asl.json` under `tests/validate/<kind>`, sorted.
fn definitions(kind: &str) -> Vec<PathBuf> {
    let dir = corpus_dir(kind);
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", dir.display()))
        .map(|entry| entry.unwrap().path())
        .filter(|p| file_name(p).ends_with(DEFINITION_SUFFIX))
        .collect();
    files.sort();
    files
}

fn file_name(path: &Path) -> &str {
    path.file_name().and_then(|n| n.to_str()).unwrap_or_default()
}

/// `tests/validate/invalid/NAME.asl.json` -> `tests/validate/invalid/NAME.expected.txt`.
fn expected_file(definition: &Path) -> PathBuf {
    let name = file_name(definition).strip_suffix(DEFINITION_SUFFIX).unwrap();
    definition.with_file_name(format!("{name}{EXPECTED_SUFFIX}"))
}

/// A path relative to the repository root, for messages.
fn shown(path: &Path) -> String {
    path.strip_prefix(root()).unwrap_or(path).display().to_string()
}

/// Runs `stepwasm validate` on a corpus file (by its path relative to the
/// repository root, the binary's working directory).
fn validate(definition: &Path) -> (i32, String, String) {
    stepwasm(&["validate", &shown(definition)])
}

/// Problems any run may show: a panic or other runtime noise on stderr.
fn crash_problems(stderr: &str) -> Option<String> {
    (stderr.contains("panicked") || stderr.contains("thread") || stderr.contains("RUST_BACKTRACE"))
        .then(|| format!("stderr shows a crash:\n{stderr}"))
}

/// Fails with every problem found, each naming its file.
fn report(kind: &str, checked: usize, failures: Vec<String>) {
    assert!(failures.is_empty(), "{} of {checked} {kind} definitions failed:\n\n{}", failures.len(), failures.join("\n\n"));
}

#[test]
fn corpus_is_large_enough_and_well_formed() {
    let valid = definitions("valid");
    let invalid = definitions("invalid");
    assert!(valid.len() >= MIN_CORPUS, "only {} valid definitions in tests/validate/valid (need {MIN_CORPUS})", valid.len());
    assert!(invalid.len() >= MIN_CORPUS, "only {} invalid definitions in tests/validate/invalid (need {MIN_CORPUS})", invalid.len());
    let mut problems = Vec::new();
    // Nothing else lies in the folders: a misspelt suffix would silently drop a case.
    for (kind, allowed) in [("valid", &[DEFINITION_SUFFIX][..]), ("invalid", &[DEFINITION_SUFFIX, EXPECTED_SUFFIX][..])] {
        for entry in std::fs::read_dir(corpus_dir(kind)).unwrap() {
            let path = entry.unwrap().path();
            if !allowed.iter().any(|suffix| file_name(&path).ends_with(suffix)) {
                problems.push(format!("{}: unexpected file (expected names ending in {allowed:?})", shown(&path)));
            }
        }
    }
    for def in &invalid {
        let expected = expected_file(def);
        match std::fs::read_to_string(&expected) {
            Ok(text) if text.lines().any(|l| !l.trim().is_empty()) => {}
            Ok(_) => problems.push(format!("{}: empty; list the located errors expected", shown(&expected))),
            Err(_) => problems.push(format!("{}: has no sidecar {}", shown(def), shown(&expected))),
        }
    }
    for entry in std::fs::read_dir(corpus_dir("invalid")).unwrap() {
        let path = entry.unwrap().path();
        if let Some(name) = file_name(&path).strip_suffix(EXPECTED_SUFFIX) {
            if !path.with_file_name(format!("{name}{DEFINITION_SUFFIX}")).is_file() {
                problems.push(format!("{}: no definition {name}{DEFINITION_SUFFIX} beside it", shown(&path)));
            }
        }
    }
    assert!(problems.is_empty(), "corpus problems:\n{}", problems.join("\n"));
}

#[test]
fn every_valid_definition_passes() {
    let files = definitions("valid");
    assert!(!files.is_empty(), "no definitions in tests/validate/valid");
    let mut failures = Vec::new();
    for def in &files {
        let (code, out, err) = validate(def);
        let mut problems = Vec::new();
        if code != 0 {
            problems.push(format!("exit code {code}, expected 0"));
        }
        if !out.contains(": valid: ") || !out.contains("resources not checked") {
            problems.push("the output does not say the definition is valid (resources not checked)".to_string());
        }
        problems.extend(crash_problems(&err));
        if !problems.is_empty() {
            failures.push(format!("{}: {}\nstdout:\n{out}stderr:\n{err}", shown(def), problems.join("; ")));
        }
    }
    report("valid", files.len(), failures);
}

#[test]
fn every_invalid_definition_reports_its_located_errors() {
    let files = definitions("invalid");
    assert!(!files.is_empty(), "no definitions in tests/validate/invalid");
    let mut failures = Vec::new();
    for def in &files {
        let expected_path = expected_file(def);
        let Ok(expected) = std::fs::read_to_string(&expected_path) else {
            failures.push(format!("{}: missing {}", shown(def), shown(&expected_path)));
            continue;
        };
        let (code, out, err) = validate(def);
        let mut problems = Vec::new();
        if code != 2 {
            problems.push(format!("exit code {code}, expected 2"));
        }
        if !out.contains(": invalid definition: ") {
            problems.push("the output does not say the definition is invalid".to_string());
        }
        // Each expected line must begin an output line (after the indent):
        // the location is part of what is checked, not just the message.
        let printed: Vec<&str> = out.lines().map(str::trim_start).collect();
        for line in expected.lines().map(str::trim).filter(|l| !l.is_empty()) {
            if !printed.iter().any(|p| p.starts_with(line)) {
                problems.push(format!("missing {line:?}"));
            }
        }
        problems.extend(crash_problems(&err));
        if !problems.is_empty() {
            failures.push(format!("{}:\n  {}\nstdout:\n{out}stderr:\n{err}", shown(def), problems.join("\n  ")));
        }
    }
    report("invalid", files.len(), failures);
}

#[test]
fn order_example_validates_with_its_resources() {
    guest_dir();
    let (code, out, err) = stepwasm(&["validate", "examples/order/order.asl.json"]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("valid: 5 states, 4 task(s); resources checked against"), "{out}");
}

#[test]
fn a_bad_config_is_a_clear_error() {
    let dir = scratch("validate-config");
    std::fs::write(dir.join("def.json"), r#"{"StartAt": "A", "States": {"A": {"Type": "Succeed"}}}"#).unwrap();
    std::fs::write(dir.join("stepwasm.toml"), "[defaults]\nmemory_mib = 0\n").unwrap();
    let (code, _, err) = stepwasm(&["validate", dir.join("def.json").to_str().unwrap()]);
    assert_eq!(code, 2);
    assert!(err.contains("stepwasm.toml: defaults.memory_mib must be greater than 0"), "{err}");
}

#[test]
fn a_missing_definition_file_is_a_clear_error() {
    let (code, out, err) = stepwasm(&["validate", "tests/validate/no-such-file.asl.json"]);
    assert_eq!(code, 2, "{out}{err}");
    assert!(err.contains("cannot read definition tests/validate/no-such-file.asl.json"), "{err}");
    assert!(crash_problems(&err).is_none(), "{err}");
}

/// Every state name of a definition's JSON, nested graphs included.
fn state_names(definition: &serde_json::Value, out: &mut Vec<String>) {
    let Some(states) = definition.get("States").and_then(|s| s.as_object()) else { return };
    for (name, state) in states {
        out.push(name.clone());
        for branch in state.get("Branches").and_then(|b| b.as_array()).into_iter().flatten() {
            state_names(branch, out);
        }
        for key in ["ItemProcessor", "Iterator"] {
            if let Some(processor) = state.get(key) {
                state_names(processor, out);
            }
        }
    }
}

#[test]
fn graph_draws_every_state_of_every_valid_definition_and_refuses_invalid_ones() {
    let mut failures = Vec::new();
    for def in definitions("valid") {
        let json: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&def).unwrap()).unwrap();
        let mut names = Vec::new();
        state_names(&json, &mut names);
        let (code, svg, err) = stepwasm(&["graph", def.to_str().unwrap()]);
        let missing: Vec<&String> = names
            .iter()
            .filter(|n| {
                let escaped = n.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;");
                !svg.contains(&format!("data-state=\"{escaped}\""))
            })
            .collect();
        if code != 0 || !svg.ends_with("</svg>\n") || !missing.is_empty() {
            failures.push(format!("{}: exit {code}, missing {missing:?}\n{err}", shown(&def)));
        }
    }
    report("graph", definitions("valid").len(), failures);

    let order = root().join("examples/order/order.asl.json");
    for (format, first_line) in [("dot", "digraph \"order\" {"), ("mermaid", "flowchart TD")] {
        let (code, out, err) = stepwasm(&["graph", order.to_str().unwrap(), "--format", format]);
        assert_eq!(code, 0, "{err}");
        assert_eq!(out.lines().next(), Some(first_line));
        assert!(out.contains("Catch: PaymentVerificationFailed") && out.contains("HandleInventoryError"), "{out}");
    }
    let broken = definitions("invalid").into_iter().next().unwrap();
    let (code, _, err) = stepwasm(&["graph", broken.to_str().unwrap()]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains(file_name(&broken)), "the error names the file: {err}");
}
