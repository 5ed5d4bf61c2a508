//! Handler projects outside this repository (issue 20): `stepwasm new
//! <name> --lang python|js` in an empty directory under the system's temp
//! directory, the project's own unit test run with the language's own tool,
//! `stepwasm build` and `stepwasm run` from inside it, as someone who has
//! only the `stepwasm` binary would. The build tools come from target/
//! (`--tools-dir`; make test installed them there), the compile cache from
//! a directory of this test's own.

use crate::support::{root, scratch};
use std::path::Path;
use std::process::Command;

/// Runs `stepwasm args` in `dir`: (exit code, stdout, stderr).
fn stepwasm_in(dir: &Path, args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_stepwasm")).args(args).current_dir(dir).output().unwrap();
    (out.status.code().unwrap_or(-1), String::from_utf8_lossy(&out.stdout).into_owned(), String::from_utf8_lossy(&out.stderr).into_owned())
}

/// The project's own unit test, with the language's own tool.
fn native_tests_pass(project: &Path, lang: &str) {
    let (program, args): (&str, &[&str]) = if lang == "js" { ("node", &["--test"]) } else { ("python3", &["-m", "unittest", "-q"]) };
    let out = Command::new(program).args(args).current_dir(project).env("PYTHONDONTWRITEBYTECODE", "1").output().unwrap();
    assert!(out.status.success(), "{lang}: {}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
}

fn new_build_run(lang: &str) {
    let dir = scratch(&format!("handler-project-{lang}"));
    let name = format!("greet-{lang}");
    let tools = root().join("target");
    let cache = root().join(format!("target/handler-projects-cache-{lang}"));
    let (tools, cache) = (tools.to_str().unwrap(), cache.to_str().unwrap());

    let (code, out, err) = stepwasm_in(&dir, &["new", &name, "--lang", lang]);
    assert_eq!(code, 0, "{out}{err}");
    let project = dir.join(&name);
    for file in ["stepwasm.toml", "workflow.asl.json", "input.json", if lang == "js" { "app.js" } else { "app.py" }] {
        assert!(project.join(file).is_file(), "{lang}: {file} scaffolded");
    }
    let (code, _, err) = stepwasm_in(&dir, &["new", &name, "--lang", lang]);
    assert_eq!(code, 2, "an existing project is not overwritten");
    assert!(err.contains("already exists"), "{err}");
    native_tests_pass(&project, lang);

    let (code, out, err) = stepwasm_in(&project, &["build", "--tools-dir", tools, "--cache-dir", cache]);
    assert_eq!(code, 0, "{lang} build: {out}{err}");
    assert!(out.contains(&format!("target/{name}.wasm")), "{out}");
    assert!(out.contains("imports: ") && out.contains("stepwasm:task/log@0.1.0"), "{out}");
    assert!(!out.contains("stepwasm:task/kv") && !out.contains("stepwasm:task/http"), "only what stepwasm.toml grants: {out}");
    assert!(out.contains(&format!("checked: loads as arn:aws:lambda:us-east-1:123456789012:function:{name}")), "{out}");

    let run = |input: &str| stepwasm_in(&project, &["run", "workflow.asl.json", "--input", input, "--logs", "--cache-dir", cache]);
    let (code, out, err) = run("@input.json");
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("status: SUCCEEDED") && out.contains("\"greeting\": \"Hello, Ada!\""), "{lang}: {out}");
    assert!(out.contains("greeting Ada on attempt 1"), "the handler's log line: {out}{err}");
    let (code, out, _) = run("{}");
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("error: InvalidName"), "{lang}: {out}");

    // Importing a capability the resource is not granted: built, then
    // refused when checked, naming it.
    let (code, out, err) = stepwasm_in(
        &project,
        &["build", "--imports", "log,kv", "--out", "target/with-kv.wasm", "--tools-dir", tools, "--cache-dir", cache],
    );
    assert_eq!(code, 0, "an --out elsewhere is not any resource's module, so nothing refuses it: {out}{err}");
    assert!(out.contains("stepwasm:task/kv@0.1.0"), "{out}");
    std::fs::copy(project.join("target/with-kv.wasm"), project.join(format!("target/{name}.wasm"))).unwrap();
    let (code, out, err) = run("@input.json");
    assert_eq!(code, 2, "{out}{err}");
    assert!(err.contains("kv"), "the ungranted import named: {err}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_python_handler_project_is_made_tested_built_and_run_outside_the_repository() {
    new_build_run("python");
}

#[test]
fn a_js_handler_project_is_made_tested_built_and_run_outside_the_repository() {
    new_build_run("js");
}

#[test]
fn a_directory_without_a_handler_or_a_bad_name_is_refused_clearly() {
    let dir = scratch("handler-project-none");
    let (code, _, err) = stepwasm_in(&dir, &["build"]);
    assert_eq!(code, 2);
    assert!(err.contains("holds no handler: app.py (Python) or app.js (JavaScript)"), "{err}");
    let (code, _, err) = stepwasm_in(&dir, &["new", "Bad_Name", "--lang", "js"]);
    assert_eq!(code, 2);
    assert!(err.contains("is not a handler name"), "{err}");
    assert_eq!(std::fs::read_dir(&dir).unwrap().count(), 0, "nothing created");
    let _ = std::fs::remove_dir_all(&dir);
}
