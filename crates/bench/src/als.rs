//! `--compare-als`: the same definition and input run on
//! aws-local-stepfunctions (npm; installed into `target/als` by
//! `scripts/install-als.sh`), one execution at a time in one Node process,
//! each Task answered by an echo handler, by `scripts/als-bench.mjs`; its
//! output checked equal to stepwasm's, and its rate set beside stepwasm's
//! one-thread rows (one core each).

use anyhow::{anyhow, bail, Context as _, Result};
use serde_json::Value;
use std::path::Path;
use std::process::Command;
use std::sync::Arc;
use stepwasm::asl::StateMachine;
use stepwasm::driver::{execution_info, run_execution, TaskRunner, VirtualClock};
use stepwasm::engine::Outcome;

/// What the Node script measured.
pub(crate) struct AlsRun {
    pub(crate) version: String,
    pub(crate) node: String,
    pub(crate) per_second: f64,
    pub(crate) p50_us: f64,
    pub(crate) p99_us: f64,
}

/// Runs `definition` on aws-local-stepfunctions from `als_dir` with the
/// input in `input_path` for `seconds`, after checking that its output is
/// the one `runner` gives here.
pub(crate) fn measure_als<R: TaskRunner + Sync>(
    als_dir: &Path,
    definition: &Path,
    input_path: &Path,
    seconds: f64,
    machine: &Arc<StateMachine>,
    input: &Value,
    runner: &R,
) -> Result<AlsRun> {
    if !als_dir.join("node_modules/aws-local-stepfunctions/package.json").is_file() {
        bail!("aws-local-stepfunctions is not installed in {} (run scripts/install-als.sh)", als_dir.display());
    }
    let ran = Command::new("node")
        .arg("scripts/als-bench.mjs")
        .arg(als_dir)
        .arg(definition)
        .arg(input_path)
        .arg(seconds.to_string())
        .output()
        .context("cannot run node (the comparison needs Node)")?;
    if !ran.status.success() {
        bail!("scripts/als-bench.mjs failed: {}", String::from_utf8_lossy(&ran.stderr).trim());
    }
    let report: Value = serde_json::from_slice(&ran.stdout).context("scripts/als-bench.mjs printed no JSON report")?;
    let ours = ours(machine, input, runner)?;
    if report["output"] != ours {
        bail!("aws-local-stepfunctions' output differs from stepwasm's:\n  theirs {}\n  ours   {ours}", report["output"]);
    }
    let number = |key: &str| report[key].as_f64().ok_or_else(|| anyhow!("the report has no number {key}: {report}"));
    let text = |key: &str| report[key].as_str().unwrap_or("?").to_string();
    Ok(AlsRun {
        version: text("version"),
        node: text("node"),
        per_second: number("per_second")?,
        p50_us: number("p50_us")?,
        p99_us: number("p99_us")?,
    })
}

/// stepwasm's output for `input`.
fn ours<R: TaskRunner + Sync>(machine: &Arc<StateMachine>, input: &Value, runner: &R) -> Result<Value> {
    let tokio = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    let clock = VirtualClock::starting_now();
    let record = tokio
        .block_on(run_execution(Arc::clone(machine), execution_info("bench", "als-check"), input.clone(), runner, &clock))
        .map_err(|e| anyhow!("engine error: {e}"))?;
    match record.outcome {
        Outcome::Succeeded { output } => Ok(output),
        other => bail!("the execution did not succeed here: {other:?}"),
    }
}
