//! `stepwasm new <name> --lang python|js`: a handler project in a directory
//! of its own, ready to test natively, build and run: the handler, a unit
//! test, the SDK where the language's own tools find it (`stepwasm_guest/`
//! for Python, `node_modules/stepwasm-guest/` for Node), a resource map
//! (`stepwasm.toml`) naming the component `stepwasm build` writes, a
//! one-state workflow and an input.

use super::embedded::{write_all, JS_SDK, PYTHON_SDK};
use super::{resource_arn, Language};
use anyhow::{bail, Context, Result};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

#[derive(clap::Args)]
pub struct NewArgs {
    /// The handler's name: lowercase letters, digits and dashes (the
    /// directory, the component and the Lambda function in its ARN).
    name: String,
    /// The language to write it in.
    #[arg(long, value_enum)]
    lang: Language,
    /// Where to create the project's directory.
    #[arg(long, default_value = ".")]
    dir: PathBuf,
}

/// Creates the project and says what to do next.
pub fn new(args: NewArgs) -> Result<ExitCode> {
    check_name(&args.name)?;
    let dir = args.dir.join(&args.name);
    if dir.exists() {
        bail!("{} already exists: choose another name or --dir", dir.display());
    }
    std::fs::create_dir_all(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
    write_project(&dir, &args.name, args.lang).with_context(|| format!("cannot write the project in {}", dir.display()))?;
    let test = match args.lang {
        Language::Python => "python3 -m unittest",
        Language::Js => "node --test",
    };
    println!("created {} ({:?} handler {})", dir.display(), args.lang, args.name);
    println!("next: cd {} && {test} && stepwasm build && stepwasm run workflow.asl.json --input @input.json", dir.display());
    Ok(ExitCode::SUCCESS)
}

/// A name AWS takes for a Lambda function and every tool for a file name.
fn check_name(name: &str) -> Result<()> {
    let ok_chars = name.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
    if name.is_empty() || name.len() > 64 || !ok_chars || !name.starts_with(|c: char| c.is_ascii_lowercase()) || name.ends_with('-') {
        bail!(
            "{name:?} is not a handler name: 1 to 64 lowercase letters, digits and dashes, starting with a letter, not ending with a dash"
        );
    }
    Ok(())
}

fn write_project(dir: &Path, name: &str, lang: Language) -> std::io::Result<()> {
    let arn = resource_arn(name);
    let write = |file: &str, text: String| std::fs::write(dir.join(file), text);
    write(
        "stepwasm.toml",
        format!(
            r#"# {name}'s resource map: the Lambda ARN its workflow names runs the component
# `stepwasm build` writes into target/. Grant a capability here and rebuild:
# the component imports exactly what its resource is granted.
module_dir = "target"

[resources."{arn}"]
module = "{name}"
# kv = {{ namespace = "{name}" }}                # the kv store, under this namespace
# http = {{ allow = ["https://api.example.com/"] }} # these URL prefixes only
# fuel = 100_000_000    memory_mib = 64    timeout_seconds = 10   (the defaults)
"#
        ),
    )?;
    let state = "Run";
    let workflow = serde_json::json!({
        "Comment": format!("Runs {name} once: `stepwasm run workflow.asl.json --input @input.json`"),
        "StartAt": state,
        "States": {state: {"Type": "Task", "Resource": arn, "End": true}},
    });
    write("workflow.asl.json", format!("{}\n", serde_json::to_string_pretty(&workflow).unwrap_or_default()))?;
    write("input.json", "{ \"name\": \"Ada\" }\n".into())?;
    write(".gitignore", "target/\nnode_modules/\n__pycache__/\n".into())?;
    match lang {
        Language::Python => {
            write("app.py", PYTHON_APP.replace("%NAME%", name))?;
            write("test_app.py", PYTHON_TEST.into())?;
            // Vendored where `python3 -m unittest` finds it; `stepwasm build`
            // uses the copy inside the binary.
            write_all(dir, PYTHON_SDK)
        }
        Language::Js => {
            write("app.js", JS_APP.replace("%NAME%", name))?;
            write("app.test.js", JS_TEST.into())?;
            let package = serde_json::json!({
                "name": name, "private": true, "type": "module",
                "scripts": {"test": "node --test"},
            });
            write("package.json", format!("{}\n", serde_json::to_string_pretty(&package).unwrap_or_default()))?;
            // Where Node resolves `stepwasm-guest`; `stepwasm build` bundles
            // the copy inside the binary.
            write_all(&dir.join("node_modules/stepwasm-guest"), JS_SDK)
        }
    }
}

const PYTHON_APP: &str = r#""""%NAME%: a Step Functions Task as a Python function. `stepwasm build`
makes it a WebAssembly component (componentize-py); the stepwasm_guest SDK
gives it log, kv and http (as its resource in stepwasm.toml grants them)."""

from stepwasm_guest import TaskError, log


def handler(event, context):
    """Greets `event["name"]`; an input without one fails the task with the
    ASL error InvalidName (what a state's Retry and Catch match)."""
    name = event.get("name") if isinstance(event, dict) else None
    if not isinstance(name, str) or not name:
        raise TaskError("InvalidName", "the input needs a non-empty string `name`")
    log.info(f"greeting {name} on attempt {context.attempt}")
    return {"greeting": f"Hello, {name}!"}
"#;

const PYTHON_TEST: &str = r#""""The handler natively (`python3 -m unittest`), run as the host would run it."""

import json
import unittest

from stepwasm_guest import invoke

import app


class HandlerTest(unittest.TestCase):
    def test_it_greets_by_name(self):
        output, failure = invoke(app.handler, json.dumps({"name": "Ada"}))
        self.assertIsNone(failure)
        self.assertEqual(json.loads(output), {"greeting": "Hello, Ada!"})

    def test_an_input_without_a_name_is_invalid(self):
        output, failure = invoke(app.handler, "{}")
        self.assertIsNone(output)
        self.assertEqual(failure[0], "InvalidName")


if __name__ == "__main__":
    unittest.main()
"#;

const JS_APP: &str = r#"// %NAME%: a Step Functions Task as a JavaScript function. `stepwasm build`
// makes it a WebAssembly component (esbuild, then componentize-js); the
// stepwasm-guest SDK gives it log, kv and http (as its resource in
// stepwasm.toml grants them).

import { TaskError, log } from 'stepwasm-guest';

/**
 * Greets `event.name`; an input without one fails the task with the ASL
 * error InvalidName (what a state's Retry and Catch match).
 */
export async function handler(event, context) {
  const name = event?.name;
  if (typeof name !== 'string' || !name) {
    throw new TaskError('InvalidName', 'the input needs a non-empty string `name`');
  }
  log.info(`greeting ${name} on attempt ${context.attempt}`);
  return { greeting: `Hello, ${name}!` };
}
"#;

const JS_TEST: &str = r#"// The handler natively (`node --test`), run as the host would run it.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { invoke } from 'stepwasm-guest';
import { handler } from './app.js';

test('it greets by name', async () => {
  const { output, error } = await invoke(handler, JSON.stringify({ name: 'Ada' }));
  assert.equal(error, undefined);
  assert.deepEqual(JSON.parse(output), { greeting: 'Hello, Ada!' });
});

test('an input without a name is invalid', async () => {
  assert.equal((await invoke(handler, '{}')).error, 'InvalidName');
});
"#;

#[cfg(test)]
mod tests {
    use super::check_name;

    #[test]
    fn names_are_checked() {
        for good in ["hello", "payment-2", "a"] {
            assert!(check_name(good).is_ok(), "{good}");
        }
        for bad in ["", "Hello", "2fast", "a_b", "a/b", "..", "end-", &"x".repeat(65)] {
            assert!(check_name(bad).is_err(), "{bad}");
        }
    }
}
