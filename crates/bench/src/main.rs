//! `stepwasm-bench` (`make bench`): executions per second and latency percentiles of a
//! workflow run in-process, once with its tasks as WASM components and once
//! with the same handler crates compiled natively, so the WASM overhead is a
//! ratio. Waits complete instantly (virtual clock). The rows marked "SQLite
//! store" journal every event in a store file, the cost of durability. `--parked N`
//! measures something else: the memory of executions parked in a Wait
//! ([`parked`]). `--fanout` measures a Map state fanning out ([`fanout`]).
//! `--compare-als` also runs the definition on aws-local-stepfunctions
//! ([`als`]) and prints stepwasm's rate as a multiple of its. `--api` measures
//! the workflow through `stepwasm serve`'s HTTP API against the same run in
//! process ([`api`]).
//!
//! The native handlers run twice: with kv in the SDK's native per-thread map
//! (the handlers' own cost), and with kv on the host's store, read, staged and
//! committed as for a component ([`HostKv`]), so that one ratio is the WASM
//! overhead alone.
//!
//! The kv seed of the config (the example's stock levels) is written again
//! before every execution, outside the timed part, so that every execution
//! sees the same stock and ends the same way (a paid order would otherwise
//! drain it).
//!
//! This is the only crate that links the example handlers natively; the
//! `stepwasm` binary runs them as components only.

mod als;
mod api;
mod fanout;
mod invocations;
mod measure;
mod native;
mod parked;

use anyhow::{anyhow, bail, Context as _, Result};
use clap::{Parser, ValueEnum};
use measure::{measure, measure_async, micros, reset_kv, reset_kv_store};
use native::NativeRunner;
use serde_json::Value;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use stepwasm::asl::StateMachine;
use stepwasm::cli::{load_definition, load_resource_map, ConfigArg};
use stepwasm::driver::VirtualClock;
use stepwasm::runtime::kv::KvStore;
use stepwasm::runtime::ResourceMap;
use stepwasm::runtime::WasmRuntime;
use stepwasm::store::SqliteStore;

// Measured with the allocator the `stepwasm` binary uses, so the figures are
// the binary's.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser)]
#[command(
    name = "stepwasm-bench",
    about = "Executions per second and latency of a workflow, WASM components vs the same handlers compiled natively"
)]
struct BenchArgs {
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
    /// The trivial module of the per-module table (WebAssembly text).
    #[arg(long, default_value = "tests/hostile/echo.wat")]
    trivial: PathBuf,
    /// Which handlers to measure.
    #[arg(long, value_enum, default_value_t = Mode::Both)]
    mode: Mode,
    /// Instead: park this many executions in a day-long Wait, as `serve`
    /// holds them, and report the memory each costs.
    #[arg(long)]
    parked: Option<usize>,
    /// Instead: the fan-out tables (a Map over N items: tasks waiting on
    /// I/O by MaxConcurrency, per-item cost over an echo component, memory
    /// per child in flight).
    #[arg(long)]
    fanout: bool,
    /// With --fanout: also the cells predicted to take over 45 s (the
    /// sequential Map over 10,000 items).
    #[arg(long, requires = "fanout")]
    fanout_full: bool,
    /// Also run the definition (first input) on aws-local-stepfunctions, in
    /// Node, each Task an echo, and print the ratio (install it first:
    /// scripts/install-als.sh).
    #[arg(long)]
    compare_als: bool,
    /// Where scripts/install-als.sh installed aws-local-stepfunctions.
    #[arg(long, default_value = "target/als")]
    als_dir: PathBuf,
    /// Instead: the API table — the workflow through `stepwasm serve`'s HTTP
    /// API (StartSyncExecution, StartExecution) against the same in process.
    #[arg(long)]
    api: bool,
    /// With --api: this many clients, each on one keep-alive connection.
    #[arg(long, default_value_t = 8, requires = "api")]
    api_clients: usize,
    /// With --api: the `stepwasm` binary to serve with (default: the one
    /// beside this benchmark's binary).
    #[arg(long, requires = "api")]
    stepwasm: Option<PathBuf>,
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Mode {
    Wasm,
    Native,
    Both,
}

fn main() -> ExitCode {
    match bench(BenchArgs::parse()) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(2)
        }
    }
}

/// Prints the tables.
fn bench(args: BenchArgs) -> Result<ExitCode> {
    // Also refuses NaN.
    if args.seconds.partial_cmp(&0.0) != Some(std::cmp::Ordering::Greater) {
        bail!("--seconds must be positive");
    }
    if args.fanout {
        fanout::fanout_tables(&args.trivial, args.fanout_full)?;
        return Ok(ExitCode::SUCCESS);
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
    if let Some(n) = args.parked {
        parked::parked_memory(n.max(1), &inputs[0])?;
        return Ok(ExitCode::SUCCESS);
    }

    if args.api {
        api_table(&args, &machine, &map, &paths, &inputs)?;
        return Ok(ExitCode::SUCCESS);
    }

    let cores = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1);
    let mut thread_counts = vec![1];
    if cores > 1 {
        thread_counts.push(cores);
    }
    println!("{}: {} input(s), {:.1} s per row, {} core(s) available", args.definition.display(), inputs.len(), args.seconds, cores);
    println!();
    println!("| handlers | driven by | executions/s | p50 latency | p99 latency |");
    println!("|---|---|---:|---:|---:|");
    let mut rates = Vec::new();
    let runtime = match args.mode {
        Mode::Native => None,
        _ => Some(Arc::new(WasmRuntime::for_machine(&machine, &map)?)),
    };
    if let Some(runtime) = &runtime {
        let reset = || reset_kv(runtime, &map.kv().seed);
        for &threads in &thread_counts {
            let s = measure(&machine, &inputs, &**runtime, &reset, threads, args.seconds, None)?;
            println!("| WASM components | {threads} thread(s) | {:.0} | {} | {} |", s.per_second(), micros(s.p50), micros(s.p99));
            rates.push(("wasm", threads, s.per_second()));
        }
        // The same, every event journaled in a SQLite store file (WAL,
        // synchronous=FULL: each group's commit is on disk before its drivers go on, checkpointed in the background): an
        // execution's events in batches, the batches of all executions in
        // flight committed in groups.
        let dir = std::env::temp_dir().join(format!("stepwasm-bench-{}", std::process::id()));
        std::fs::create_dir_all(&dir)?;
        let store = Arc::new(SqliteStore::open(&dir.join("store.sqlite")).map_err(|e| anyhow!(e))?);
        for &threads in &thread_counts {
            let s = measure(&machine, &inputs, &**runtime, &reset, threads, args.seconds, Some(&store))?;
            println!(
                "| WASM components, SQLite store | {threads} thread(s) | {:.0} | {} | {} |",
                s.per_second(),
                micros(s.p50),
                micros(s.p99)
            );
        }
        // The durable store also with more executions in flight: group
        // commit shares each transaction and fsync among them (`serve` drives
        // up to --max-active at once).
        let in_flight = 8 * cores;
        for (store, in_flight) in [(None, in_flight), (Some(&store), in_flight), (Some(&store), 4 * in_flight)] {
            let s = measure_async(&machine, &inputs, runtime, &map.kv().seed, cores, in_flight, args.seconds, store)?;
            let journal = if store.is_some() { ", SQLite store" } else { "" };
            println!(
                "| WASM components{journal} | tokio, {cores} worker(s), {in_flight} in flight | {:.0} | {} | {} |",
                s.per_second(),
                micros(s.p50),
                micros(s.p99)
            );
            if store.is_none() {
                rates.push(("wasm-async", cores, s.per_second()));
            }
        }
        drop(store);
        std::fs::remove_dir_all(&dir)?;
    }
    let resources = || machine.task_resources().into_iter().map(|(_, r)| r);
    if args.mode != Mode::Wasm {
        let native = NativeRunner::for_resources(resources(), &map, None)?;
        // Natively there is one map per thread, without namespaces.
        let reset = || -> Result<()> {
            for (_, key, value) in &map.kv().seed {
                stepwasm_guest::kv::set(key, value).map_err(|e| anyhow!("native kv: {e}"))?;
            }
            Ok(())
        };
        for &threads in &thread_counts {
            let s = measure(&machine, &inputs, &native, &reset, threads, args.seconds, None)?;
            println!("| native Rust | {threads} thread(s) | {:.0} | {} | {} |", s.per_second(), micros(s.p50), micros(s.p99));
            rates.push(("native", threads, s.per_second()));
        }
        // The same handlers with kv on the host's store, as components have
        // it (an in-memory SQLite store, like the WASM rows' without a path).
        let store = Arc::new(KvStore::in_memory()?);
        let native = NativeRunner::for_resources(resources(), &map, Some(Arc::clone(&store)))?;
        let reset = || reset_kv_store(&store, &map.kv().seed);
        for &threads in &thread_counts {
            let s = measure(&machine, &inputs, &native, &reset, threads, args.seconds, None)?;
            println!(
                "| native Rust, kv on the host's store | {threads} thread(s) | {:.0} | {} | {} |",
                s.per_second(),
                micros(s.p50),
                micros(s.p99)
            );
            rates.push(("native-host-kv", threads, s.per_second()));
        }
    }
    println!();
    for &threads in &thread_counts {
        let rate = |mode| rates.iter().find(|r| r.0 == mode && r.1 == threads).map(|r| r.2);
        if let (Some(wasm), Some(native)) = (rate("wasm"), rate("native")) {
            println!("WASM overhead, {threads} thread(s): native is {:.1}x the WASM throughput", native / wasm);
        }
        if let (Some(wasm), Some(native)) = (rate("wasm"), rate("native-host-kv")) {
            println!(
                "WASM overhead, {threads} thread(s), kv on the host's store both ways: native is {:.1}x the WASM throughput",
                native / wasm
            );
        }
    }
    let rate = |mode| rates.iter().find(|r| r.0 == mode && r.1 == cores).map(|r| r.2);
    if let (Some(wasm), Some(native)) = (rate("wasm-async"), rate("native")) {
        println!("WASM on tokio vs native on {cores} thread(s): native is {:.1}x the WASM throughput", native / wasm);
    }
    if args.compare_als {
        let theirs = match &runtime {
            Some(runtime) => als::measure_als(&args.als_dir, &args.definition, &paths[0], args.seconds, &machine, &inputs[0], &**runtime)?,
            None => {
                let native = NativeRunner::for_resources(resources(), &map, None)?;
                als::measure_als(&args.als_dir, &args.definition, &paths[0], args.seconds, &machine, &inputs[0], &native)?
            }
        };
        println!();
        println!("| engine | driven by | executions/s | p50 latency | p99 latency |");
        println!("|---|---|---:|---:|---:|");
        println!(
            "| aws-local-stepfunctions {} (Node {}) | 1 process | {:.0} | {:.1} µs | {:.1} µs |",
            theirs.version, theirs.node, theirs.per_second, theirs.p50_us, theirs.p99_us
        );
        println!();
        for mode in ["wasm", "native"] {
            if let Some(ours) = rates.iter().find(|r| r.0 == mode && r.1 == 1).map(|r| r.2) {
                println!(
                    "stepwasm ({mode}, 1 thread) vs aws-local-stepfunctions (1 process), same definition and input, outputs equal: {:.1}x",
                    ours / theirs.per_second
                );
            }
        }
    }
    if let Some(runtime) = &runtime {
        invocations::invocation_tables(&args.trivial, runtime, &machine, &map, &inputs, args.seconds.min(3.0))?;
    }
    Ok(ExitCode::SUCCESS)
}

/// The API table: the in-process rates of the workflow's WASM run (one
/// thread; tokio with `serve`'s workers and as many in flight as there are
/// clients), then the same through `serve` ([`api`]).
fn api_table(args: &BenchArgs, machine: &Arc<StateMachine>, map: &ResourceMap, paths: &[PathBuf], inputs: &[Value]) -> Result<()> {
    let runtime = Arc::new(WasmRuntime::for_machine(machine, map)?);
    let reset = || reset_kv(&runtime, &map.kv().seed);
    let cores = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1);
    // Each input's outcome, to check every answer of the API against.
    let tokio = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    let mut expected = Vec::new();
    for (path, input) in paths.iter().zip(inputs) {
        reset()?;
        let info = stepwasm::driver::execution_info("bench", "expected");
        let record = tokio
            .block_on(stepwasm::driver::run_execution(Arc::clone(machine), info, input.clone(), &*runtime, &VirtualClock::starting_now()))
            .map_err(|e| anyhow!("engine error: {e}"))?;
        let text = std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
        expected.push((text, record.outcome));
    }
    println!(
        "{}: {} input(s), {:.1} s per row, {} core(s) available, {} API clients",
        args.definition.display(),
        inputs.len(),
        args.seconds,
        cores,
        args.api_clients
    );
    println!();
    let one = measure(machine, inputs, &*runtime, &reset, 1, args.seconds, None)?;
    let tokio_rows = measure_async(machine, inputs, &runtime, &map.kv().seed, cores, args.api_clients, args.seconds, None)?;
    let stepwasm = match &args.stepwasm {
        Some(path) => path.clone(),
        None => std::env::current_exe()?.with_file_name("stepwasm"),
    };
    // The same executions journaled in a store file, as StartExecution's are.
    let dir = std::env::temp_dir().join(format!("stepwasm-bench-durable-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let store = Arc::new(SqliteStore::open(&dir.join("store.sqlite")).map_err(|e| anyhow!(e))?);
    let durable = measure_async(machine, inputs, &runtime, &map.kv().seed, cores, args.api_clients, args.seconds, Some(&store));
    drop(store);
    let _ = std::fs::remove_dir_all(&dir);
    let durable = (format!("WASM, SQLite store (durable), tokio, {cores} workers, {} in flight", args.api_clients), durable?);
    let bench = api::ApiBench {
        stepwasm: &stepwasm,
        definition: &args.definition,
        config: stepwasm::cli::find_config(&args.config, &args.definition),
        inputs: expected,
        clients: args.api_clients,
        seconds: args.seconds,
    };
    let rows = bench.run()?;
    let in_process =
        vec![("WASM, 1 thread".to_string(), one), (format!("WASM, tokio, {cores} workers, {} in flight", args.api_clients), tokio_rows)];
    api::print_table(&rows, args.api_clients, &in_process, &durable);
    Ok(())
}
