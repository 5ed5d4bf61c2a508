//! The per-module table: each module invoked directly as the workflow calls
//! it (recorded from real executions), plus a trivial hand-written component,
//! with invocations/s and the memory a live instance costs.

use crate::measure::{measure_invocations, micros, reset_kv, rss_bytes};
use crate::native::module_of;
use anyhow::{anyhow, Context as _, Result};
use serde_json::Value;
use std::path::Path;
use std::sync::Arc;
use stepwasm::asl::StateMachine;
use stepwasm::driver::{execution_info, run_execution, TaskOutcome, TaskRunner, VirtualClock};
use stepwasm::engine::TaskInvocation;
use stepwasm::runtime::{CompileCache, Grants, Limits, ResourceMap, ResourceSpec, WasmRuntime};

/// Records the first successful invocation of each resource while delegating to the
/// WASM runtime: the per-module benchmark replays them.
pub(crate) struct Recorder<'a> {
    runtime: &'a WasmRuntime,
    seen: std::sync::Mutex<Vec<TaskInvocation>>,
}

impl TaskRunner for Recorder<'_> {
    async fn run_task(&self, task: &TaskInvocation) -> TaskOutcome {
        let outcome = self.runtime.invoke(task).await;
        let mut seen = self.seen.lock().unwrap_or_else(|e| e.into_inner());
        if matches!(outcome, TaskOutcome::Succeeded(_)) && !seen.iter().any(|t| t.resource == task.resource) {
            seen.push(task.clone());
        }
        outcome
    }
}

/// The module a resource runs, by file name without `.wasm`.
pub(crate) fn module_name(map: &ResourceMap, resource: &str) -> Result<String> {
    Ok(module_of(&map.resolve(resource).map_err(|e| anyhow!(e))?))
}

/// Live instances held at once to measure memory per concurrent invocation.
pub(crate) const HELD_INSTANCES: usize = 100;

/// Per-module invocations/s (each module as the workflow calls it, plus a
/// trivial module) and memory per live instance.
pub(crate) fn invocation_tables(
    trivial_wat: &Path,
    runtime: &WasmRuntime,
    machine: &Arc<StateMachine>,
    map: &ResourceMap,
    inputs: &[Value],
    seconds: f64,
) -> Result<()> {
    let recorder = Recorder { runtime, seen: std::sync::Mutex::new(Vec::new()) };
    let clock = VirtualClock::starting_now();
    let tokio = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    for (i, input) in inputs.iter().enumerate() {
        reset_kv(runtime, &map.kv().seed)?;
        let info = execution_info("bench", &format!("record-{i}"));
        tokio.block_on(run_execution(machine.clone(), info, input.clone(), &recorder, &clock)).map_err(|e| anyhow!("engine error: {e}"))?;
    }
    let mut tasks = recorder
        .seen
        .into_inner()
        .unwrap_or_default()
        .into_iter()
        .map(|t| Ok((module_name(map, &t.resource)?, t)))
        .collect::<Result<Vec<(String, TaskInvocation)>>>()?;
    // The trivial module: a hand-written component that returns its input
    // (no language runtime, only the canonical ABI), compiled from its text.
    let mut trivial_runtime = WasmRuntime::new(64 << 20)?;
    let trivial = trivial_module(trivial_wat)?;
    if let Some(spec) = &trivial {
        trivial_runtime.add_resource(TRIVIAL, spec.clone()).map_err(|e| anyhow!(e))?;
        let task = TaskInvocation {
            resource: TRIVIAL.into(),
            input: Arc::new(serde_json::json!({"n": 1})),
            execution_id: "bench".into(),
            state_name: "Trivial".into(),
            attempt: 1,
            invocation: 0,
            timeout_seconds: None,
            task_token: None,
            entered_event_id: 2,
            journaled: false,
            map_run: None,
        };
        tasks.insert(0, (format!("trivial ({}: returns its input)", trivial_wat.display()), task));
    }
    println!();
    println!("| module | invocations/s | p50 latency | p99 latency | memory per live instance |");
    println!("|---|---:|---:|---:|---:|");
    for (name, task) in &tasks {
        let rt = if task.resource == TRIVIAL { &trivial_runtime } else { runtime };
        let reset = || reset_kv(rt, &map.kv().seed);
        let s = measure_invocations(rt, task, &reset, seconds)?;
        // Memory on a fresh runtime: the warm one's pooled slots are already
        // resident and would hide what a new instance costs.
        let fresh = if let (true, Some(spec)) = (task.resource == TRIVIAL, &trivial) {
            let mut fresh = WasmRuntime::new(64 << 20)?;
            fresh.add_resource(TRIVIAL, spec.clone()).map_err(|e| anyhow!(e))?;
            fresh
        } else {
            WasmRuntime::for_machine_cached(machine, map, CompileCache::default_dir().as_deref())?
        };
        let memory = held_instance_bytes(&tokio, &fresh, task)
            .map(|b| format!("{:.0} KiB", b as f64 / 1024.0))
            .unwrap_or_else(|e| format!("n/a ({e})"));
        println!("| {name} | {:.0} | {} | {} | {memory} |", s.per_second(), micros(s.p50), micros(s.p99));
    }
    match &trivial {
        Some(spec) => {
            let _ = std::fs::remove_file(&spec.module_path);
        }
        None => println!("(no {}: the trivial-module row is left out)", trivial_wat.display()),
    }
    Ok(())
}

/// The resource name of the trivial module.
pub(crate) const TRIVIAL: &str = "bench:trivial";

/// Compiles the trivial module's text to a component file (in the temp dir)
/// and maps it with the default limits; `None` if the text is not there.
pub(crate) fn trivial_module(wat_path: &Path) -> Result<Option<ResourceSpec>> {
    if !wat_path.is_file() {
        return Ok(None);
    }
    let bytes = wat::parse_file(wat_path).map_err(|e| anyhow!("{}: {e}", wat_path.display()))?;
    let file = std::env::temp_dir().join(format!("stepwasm-bench-trivial-{}.wasm", std::process::id()));
    std::fs::write(&file, bytes).with_context(|| format!("cannot write {}", file.display()))?;
    Ok(Some(ResourceSpec { module_path: file, limits: Limits::default(), grants: Grants::default(), untrusted: false }))
}

/// Resident memory added per live instance: RSS growth while
/// [`HELD_INSTANCES`] invocations of `task` are kept alive at once, each
/// after its call (so what the call touched is counted).
pub(crate) fn held_instance_bytes(tokio: &tokio::runtime::Runtime, runtime: &WasmRuntime, task: &TaskInvocation) -> Result<usize, String> {
    let before = rss_bytes().ok_or("no /proc/self/status")?;
    let held = (0..HELD_INSTANCES).map(|_| tokio.block_on(runtime.invoke_and_hold(task))).collect::<Result<Vec<_>, _>>()?;
    let after = rss_bytes().ok_or("no /proc/self/status")?;
    drop(held);
    Ok(after.saturating_sub(before) / HELD_INSTANCES)
}
