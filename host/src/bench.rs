//! `stepwasm bench`: executions per second and latency percentiles of a
//! workflow run in-process, once with its tasks as WASM components and once
//! with the same handler crates compiled natively, so the WASM overhead is a
//! ratio. Waits complete instantly (virtual clock); nothing is persisted.
//!
//! The kv seed of the config (the example's stock levels) is written again
//! before every execution, outside the timed part, so that every execution
//! sees the same stock and ends the same way (a paid order would otherwise
//! drain it): in the host's store for the WASM path, in the SDK's native
//! per-thread map for the native path.

use crate::cli::{load_definition, load_resource_map, ConfigArg};
use crate::driver::{execution_info, run_execution, TaskOutcome, TaskRunner, VirtualClock};
use crate::engine::TaskInvocation;
use crate::runtime::{ResourceMap, WasmRuntime};
use anyhow::{anyhow, bail, Context as _, Result};
use clap::{Args, ValueEnum};
use serde_json::Value;
use std::collections::HashMap;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant};
use stepwasm_guest::{Context, TaskError};

#[derive(Args)]
pub struct BenchArgs {
    /// The workflow to run.
    #[arg(long, default_value = "examples/order/order.asl.json")]
    definition: PathBuf,
    #[command(flatten)]
    config: ConfigArg,
    /// A directory of JSON inputs, used in turn.
    #[arg(long, default_value = "examples/order/inputs")]
    inputs: PathBuf,
    /// Measuring time per mode, in seconds (after a short warm-up).
    #[arg(long, default_value_t = 5.0)]
    seconds: f64,
    /// Which handlers to measure.
    #[arg(long, value_enum, default_value_t = Mode::Both)]
    mode: Mode,
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Mode {
    Wasm,
    Native,
    Both,
}

type NativeHandler = fn(&str, &Context) -> Result<String, TaskError>;

/// The example modules, compiled natively: the baseline for the WASM path.
fn native_handler(module: &str) -> Option<NativeHandler> {
    Some(match module {
        "payment" => |i, c| stepwasm_guest::call(payment::verify, i, c),
        "inventory" => |i, c| stepwasm_guest::call(inventory::reserve, i, c),
        "notify" => |i, c| stepwasm_guest::call(notify::compose, i, c),
        _ => return None,
    })
}

/// Runs tasks by calling the native handler of the module each resource maps to.
struct NativeRunner {
    handlers: HashMap<String, NativeHandler>,
}

impl NativeRunner {
    fn for_resources<'a>(resources: impl Iterator<Item = &'a str>, map: &ResourceMap) -> Result<NativeRunner> {
        let mut handlers = HashMap::new();
        for resource in resources {
            let spec = map.resolve(resource).map_err(|e| anyhow!(e))?;
            let module = spec.module_path.file_stem().and_then(|s| s.to_str()).unwrap_or_default().to_string();
            let handler = native_handler(&module)
                .ok_or_else(|| anyhow!("no native build of module {module:?} (resource {resource:?}) to compare with"))?;
            handlers.insert(resource.to_string(), handler);
        }
        Ok(NativeRunner { handlers })
    }
}

impl TaskRunner for NativeRunner {
    fn run_task(&self, task: &TaskInvocation) -> TaskOutcome {
        let ctx = Context {
            execution_id: task.execution_id.clone(),
            state_name: task.state_name.clone(),
            attempt: task.attempt,
            task_token: None,
        };
        let handler = self.handlers[&task.resource];
        match handler(&task.input.to_string(), &ctx) {
            Ok(text) => match serde_json::from_str(&text) {
                Ok(v) => TaskOutcome::Succeeded(v),
                Err(e) => TaskOutcome::Failed { error: "States.TaskFailed".into(), cause: e.to_string() },
            },
            Err(e) => TaskOutcome::Failed { error: e.error, cause: e.cause },
        }
    }
}

/// Latency and throughput of one mode.
struct Stats {
    executions: usize,
    elapsed: Duration,
    p50: Duration,
    p99: Duration,
}

impl Stats {
    fn per_second(&self) -> f64 {
        self.executions as f64 / self.elapsed.as_secs_f64()
    }
}

fn measure(
    machine: &std::sync::Arc<crate::asl::StateMachine>,
    inputs: &[Value],
    runner: &dyn TaskRunner,
    reset: &dyn Fn() -> Result<()>,
    seconds: f64,
) -> Result<Stats> {
    let clock = VirtualClock::starting_now();
    let run_one = |i: usize| -> Result<Duration> {
        reset()?;
        let start = Instant::now();
        run_execution(machine.clone(), execution_info("bench", &format!("bench-{i}")), inputs[i % inputs.len()].clone(), runner, &clock)
            .map_err(|e| anyhow!("engine error: {e}"))?;
        Ok(start.elapsed())
    };
    let warm_up = Instant::now();
    let mut i = 0;
    while warm_up.elapsed() < Duration::from_millis(500) {
        run_one(i)?;
        i += 1;
    }
    let mut latencies = Vec::new();
    let start = Instant::now();
    let budget = Duration::from_secs_f64(seconds);
    while start.elapsed() < budget {
        latencies.push(run_one(i)?);
        i += 1;
    }
    // Time spent executing, without the resets between executions.
    let elapsed = latencies.iter().sum();
    latencies.sort();
    let pct = |p: f64| latencies[((latencies.len() as f64 * p) as usize).min(latencies.len() - 1)];
    Ok(Stats { executions: latencies.len(), elapsed, p50: pct(0.50), p99: pct(0.99) })
}

fn micros(d: Duration) -> String {
    format!("{:.1} µs", d.as_secs_f64() * 1e6)
}

/// The `bench` subcommand.
pub fn bench(args: BenchArgs) -> Result<ExitCode> {
    if !(args.seconds > 0.0) {
        bail!("--seconds must be positive");
    }
    let machine = load_definition(&args.definition)?;
    let map = load_resource_map(&args.config, &args.definition)?;
    let mut paths: Vec<PathBuf> = std::fs::read_dir(&args.inputs)
        .with_context(|| format!("cannot read inputs directory {}", args.inputs.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    paths.sort();
    if paths.is_empty() {
        bail!("no .json inputs in {}", args.inputs.display());
    }
    let inputs = paths
        .iter()
        .map(|p| -> Result<Value> {
            let text = std::fs::read_to_string(p).with_context(|| format!("cannot read {}", p.display()))?;
            serde_json::from_str(&text).with_context(|| format!("{} is not valid JSON", p.display()))
        })
        .collect::<Result<Vec<_>>>()?;

    let cores = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1);
    println!(
        "{}: {} input(s), {:.1} s per mode, one thread, {} core(s) available",
        args.definition.display(),
        inputs.len(),
        args.seconds,
        cores
    );
    println!();
    println!("| handlers | executions/s | p50 latency | p99 latency |");
    println!("|---|---:|---:|---:|");
    let mut rates = Vec::new();
    if args.mode != Mode::Native {
        let runtime = WasmRuntime::for_machine(&machine, &map)?;
        let reset = || -> Result<()> {
            if let Some(store) = runtime.kv_store() {
                for (namespace, key, value) in &map.kv().seed {
                    store.put(namespace, key, value)?;
                }
            }
            Ok(())
        };
        let s = measure(&machine, &inputs, &runtime, &reset, args.seconds)?;
        println!("| WASM components | {:.0} | {} | {} |", s.per_second(), micros(s.p50), micros(s.p99));
        rates.push(s.per_second());
    }
    if args.mode != Mode::Wasm {
        let native = NativeRunner::for_resources(machine.task_resources().into_iter().map(|(_, r)| r), &map)?;
        // Natively there is one map per thread, without namespaces.
        let reset = || -> Result<()> {
            for (_, key, value) in &map.kv().seed {
                stepwasm_guest::kv::set(key, value).map_err(|e| anyhow!("native kv: {e}"))?;
            }
            Ok(())
        };
        let s = measure(&machine, &inputs, &native, &reset, args.seconds)?;
        println!("| native Rust | {:.0} | {} | {} |", s.per_second(), micros(s.p50), micros(s.p99));
        rates.push(s.per_second());
    }
    if let [wasm, native] = rates[..] {
        println!();
        println!("WASM overhead: native is {:.1}x the WASM throughput", native / wasm);
    }
    Ok(ExitCode::SUCCESS)
}
