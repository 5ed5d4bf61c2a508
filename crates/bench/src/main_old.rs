//! `stepwasm bench`: executions per second and latency percentiles of a
//! workflow run in-process, once with its tasks as WASM components and once
//! with the same handler crates compiled natively, so the WASM overhead is a
//! ratio. Waits complete instantly (virtual clock). The rows marked "SQLite
//! store" journal every event in a store file, the cost of durability. `--parked N`
//! measures something else: the memory of executions parked in a Wait
//! ([`parked`]).
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

mod parked;

use crate::cli::{load_definition, load_resource_map, ConfigArg};
use crate::driver::{
    execution_info, run_execution, run_execution_async, run_recorded, run_recorded_async, TaskOutcome, TaskRunner, VirtualClock,
};
use crate::engine::TaskInvocation;
use crate::runtime::kv::{KvError, KvStore, KvTransaction};
use crate::runtime::{ResourceMap, ResourceSpec, WasmRuntime};
use crate::store::SqliteStore;
use anyhow::{anyhow, bail, Context as _, Result};
use clap::{Args, ValueEnum};
use serde_json::Value;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};
use stepwasm_guest::kv::{with_native_backend, NativeKv};
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
    /// With a store: the kv namespace of each resource granted kv, whose
    /// handler's kv calls then go to the store as a component's would.
    kv: Option<(Arc<KvStore>, HashMap<String, String>)>,
}

impl NativeRunner {
    /// A runner whose kv calls go to the SDK's native per-thread map, or with
    /// `kv`, to that store (read, staged, committed if the task succeeds).
    fn for_resources<'a>(resources: impl Iterator<Item = &'a str>, map: &ResourceMap, kv: Option<Arc<KvStore>>) -> Result<NativeRunner> {
        let mut handlers = HashMap::new();
        let mut namespaces = HashMap::new();
        for resource in resources {
            let spec = map.resolve(resource).map_err(|e| anyhow!(e))?;
            let module = module_of(&spec);
            let handler = native_handler(&module)
                .ok_or_else(|| anyhow!("no native build of module {module:?} (resource {resource:?}) to compare with"))?;
            handlers.insert(resource.to_string(), handler);
            if let Some(namespace) = spec.grants.kv {
                namespaces.insert(resource.to_string(), namespace);
            }
        }
        Ok(NativeRunner { handlers, kv: kv.map(|store| (store, namespaces)) })
    }
}

/// A native handler's kv calls on the host's store: reads and staged writes
/// of one invocation, as the host keeps them for a component.
struct HostKv {
    store: Arc<KvStore>,
    tx: KvTransaction,
}

impl NativeKv for HostKv {
    fn get(&mut self, key: &str) -> Result<Option<String>, String> {
        self.tx.get(&self.store, key)
    }
    fn set(&mut self, key: &str, value: &str) -> Result<(), String> {
        self.tx.set(key.to_string(), value.to_string())
    }
    fn delete(&mut self, key: &str) -> Result<(), String> {
        self.tx.delete(key.to_string())
    }
}

/// How often a native handler's invocation is run again when its kv commit
/// conflicts with another thread's (a component's is rerun once, exclusively).
const NATIVE_KV_TRIES: usize = 10;

impl TaskRunner for NativeRunner {
    fn run_task(&self, task: &TaskInvocation) -> TaskOutcome {
        let ctx = Context {
            execution_id: task.execution_id.clone(),
            state_name: task.state_name.clone(),
            attempt: task.attempt,
            task_token: None,
        };
        let handler = self.handlers[&task.resource];
        let input = task.input.to_string();
        let store_and_namespace = self.kv.as_ref().and_then(|(store, namespaces)| Some((store, namespaces.get(&task.resource)?)));
        let result = match store_and_namespace {
            None => handler(&input, &ctx),
            Some((store, namespace)) => {
                let mut tries = 0;
                loop {
                    let kv = HostKv { store: Arc::clone(store), tx: KvTransaction::new(namespace.as_str()) };
                    let (result, kv) = with_native_backend(kv, || handler(&input, &ctx));
                    if result.is_err() {
                        break result;
                    }
                    tries += 1;
                    match store.commit(&kv.tx) {
                        Ok(()) => break result,
                        Err(KvError::Conflict { .. }) if tries < NATIVE_KV_TRIES => continue,
                        Err(e) => return TaskOutcome::Failed { error: "States.TaskFailed".into(), cause: format!("kv commit: {e}") },
                    }
                }
            }
        };
        match result {
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

    fn from_latencies(mut latencies: Vec<Duration>, elapsed: Duration) -> Stats {
        latencies.sort();
        let pct = |p: f64| latencies[((latencies.len() as f64 * p) as usize).min(latencies.len() - 1)];
        Stats { executions: latencies.len(), elapsed, p50: pct(0.50), p99: pct(0.99) }
    }
}

/// Runs executions on `threads` threads sharing one runner for `seconds`
/// (after a warm-up); throughput is executions over wall time, resets
/// included.
fn measure(
    machine: &Arc<crate::asl::StateMachine>,
    inputs: &[Value],
    runner: &(dyn TaskRunner + Sync),
    reset: &(dyn Fn() -> Result<()> + Sync),
    threads: usize,
    seconds: f64,
    store: Option<&SqliteStore>,
) -> Result<Stats> {
    let clock = VirtualClock::starting_now();
    // Names must be new in a store, warm-up included.
    let next_name = std::sync::atomic::AtomicUsize::new(0);
    let run_one = |i: usize| -> Result<Duration> {
        reset()?;
        let start = Instant::now();
        let n = next_name.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let info = execution_info("bench", &format!("bench-{threads}-{n}"));
        let input = inputs[i % inputs.len()].clone();
        match store {
            Some(store) => run_recorded(machine.clone(), info, input, runner, &clock, store).map(drop),
            None => run_execution(machine.clone(), info, input, runner, &clock).map(drop),
        }
        .map_err(|e| anyhow!("engine error: {e}"))?;
        Ok(start.elapsed())
    };
    let worker = |offset: usize, budget: Duration| -> Result<Vec<Duration>> {
        let mut latencies = Vec::new();
        let start = Instant::now();
        let mut i = offset;
        while start.elapsed() < budget {
            latencies.push(run_one(i)?);
            i += 1;
        }
        Ok(latencies)
    };
    let run_all = |budget: Duration| -> Result<(Vec<Duration>, Duration)> {
        let start = Instant::now();
        let results: Vec<Result<Vec<Duration>>> = std::thread::scope(|scope| {
            let handles: Vec<_> = (0..threads).map(|t| scope.spawn(move || worker(t * 1_000_000, budget))).collect();
            handles.into_iter().map(|h| h.join().unwrap_or_else(|_| Err(anyhow!("a benchmark thread panicked")))).collect()
        });
        let elapsed = start.elapsed();
        let mut all = Vec::new();
        for r in results {
            all.extend(r?);
        }
        Ok((all, elapsed))
    };
    run_all(Duration::from_millis(500))?;
    let (latencies, elapsed) = run_all(Duration::from_secs_f64(seconds))?;
    Ok(Stats::from_latencies(latencies, elapsed))
}

/// Runs executions as futures on a tokio runtime with `workers` threads,
/// `in_flight` at a time, for `seconds` (after a warm-up): the way a server
/// drives many executions. Throughput is executions over wall time.
#[allow(clippy::too_many_arguments)]
fn measure_async(
    machine: &Arc<crate::asl::StateMachine>,
    inputs: &[Value],
    runtime: &Arc<WasmRuntime>,
    seed: &[(String, String, String)],
    workers: usize,
    in_flight: usize,
    seconds: f64,
    store: Option<&Arc<SqliteStore>>,
) -> Result<Stats> {
    // Names must be new in a store, warm-up included.
    let run = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let tokio = tokio::runtime::Builder::new_multi_thread().worker_threads(workers).enable_all().build()?;
    let clock = Arc::new(VirtualClock::starting_now());
    let inputs = Arc::new(inputs.to_vec());
    let seed = Arc::new(seed.to_vec());
    let run_all = |budget: Duration| -> Result<(Vec<Duration>, Duration)> {
        let start = Instant::now();
        let latencies = tokio.block_on(async {
            let mut tasks = tokio::task::JoinSet::new();
            for lane in 0..in_flight {
                let (machine, runtime, clock, inputs, seed, store, run) =
                    (machine.clone(), runtime.clone(), clock.clone(), inputs.clone(), seed.clone(), store.cloned(), run.clone());
                tasks.spawn(async move {
                    let mut latencies = Vec::new();
                    let mut i = lane;
                    while start.elapsed() < budget {
                        reset_kv(&runtime, &seed)?;
                        let t = Instant::now();
                        let n = run.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                        let info = execution_info("bench", &format!("async-{n}"));
                        let input = inputs[i % inputs.len()].clone();
                        match &store {
                            Some(store) => run_recorded_async(machine.clone(), info, input, &*runtime, &*clock, &**store).await.map(drop),
                            None => run_execution_async(machine.clone(), info, input, &*runtime, &*clock).await.map(drop),
                        }
                        .map_err(|e| anyhow!("engine error: {e}"))?;
                        latencies.push(t.elapsed());
                        i += in_flight;
                        // An execution that never waits never yields: let the
                        // other lanes on this worker have their turn.
                        tokio::task::yield_now().await;
                    }
                    Ok::<_, anyhow::Error>(latencies)
                });
            }
            let mut all = Vec::new();
            while let Some(joined) = tasks.join_next().await {
                all.extend(joined.map_err(|e| anyhow!("a benchmark task failed: {e}"))??);
            }
            Ok::<_, anyhow::Error>(all)
        })?;
        Ok((latencies, start.elapsed()))
    };
    run_all(Duration::from_millis(500))?;
    let (latencies, elapsed) = run_all(Duration::from_secs_f64(seconds))?;
    Ok(Stats::from_latencies(latencies, elapsed))
}

/// One module invoked directly (no workflow around it), on one thread:
/// invocations over the time spent in them (resets excluded).
fn measure_invocations(runtime: &WasmRuntime, task: &TaskInvocation, reset: &dyn Fn() -> Result<()>, seconds: f64) -> Result<Stats> {
    let run = |budget: Duration| -> Result<Vec<Duration>> {
        let mut latencies = Vec::new();
        let start = Instant::now();
        while start.elapsed() < budget {
            reset()?;
            let t = Instant::now();
            let outcome = runtime.invoke(task);
            latencies.push(t.elapsed());
            if !matches!(outcome, TaskOutcome::Succeeded(_)) {
                bail!("{} failed during the benchmark: {outcome:?}", task.resource);
            }
        }
        Ok(latencies)
    };
    run(Duration::from_millis(300))?;
    let latencies = run(Duration::from_secs_f64(seconds))?;
    let busy = latencies.iter().sum();
    Ok(Stats::from_latencies(latencies, busy))
}

/// Puts the kv seed values back where an execution changed them (writing
/// only those keys, so concurrent executions rarely conflict with a reset).
fn reset_kv(runtime: &WasmRuntime, seed: &[(String, String, String)]) -> Result<()> {
    match runtime.kv_store() {
        Some(store) => reset_kv_store(store, seed),
        None => Ok(()),
    }
}

fn reset_kv_store(store: &KvStore, seed: &[(String, String, String)]) -> Result<()> {
    for (namespace, key, value) in seed {
        if store.get(namespace, key)?.as_deref() != Some(value.as_str()) {
            store.put(namespace, key, value)?;
        }
    }
    Ok(())
}

/// Resident set size of this process, from /proc (Linux).
fn rss_bytes() -> Option<usize> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    let kib: usize = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib << 10)
}

fn micros(d: Duration) -> String {
    format!("{:.1} µs", d.as_secs_f64() * 1e6)
}

/// Records the first successful invocation of each resource while delegating to the
/// WASM runtime: the per-module benchmark replays them.
struct Recorder<'a> {
    runtime: &'a WasmRuntime,
    seen: std::sync::Mutex<Vec<TaskInvocation>>,
}

impl TaskRunner for Recorder<'_> {
    fn run_task(&self, task: &TaskInvocation) -> TaskOutcome {
        let outcome = self.runtime.run_task(task);
        let mut seen = self.seen.lock().unwrap_or_else(|e| e.into_inner());
        if matches!(outcome, TaskOutcome::Succeeded(_)) && !seen.iter().any(|t| t.resource == task.resource) {
            seen.push(task.clone());
        }
        outcome
    }
}

/// The module a resource runs, by file name without `.wasm`.
fn module_name(map: &ResourceMap, resource: &str) -> Result<String> {
    Ok(module_of(&map.resolve(resource).map_err(|e| anyhow!(e))?))
}

/// [`module_name`] of a resolved resource.
fn module_of(spec: &ResourceSpec) -> String {
    spec.module_path.file_stem().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default()
}

/// Live instances held at once to measure memory per concurrent invocation.
const HELD_INSTANCES: usize = 100;

/// The `bench` subcommand.
pub fn bench(args: BenchArgs) -> Result<ExitCode> {
    // Also refuses NaN.
    if args.seconds.partial_cmp(&0.0) != Some(std::cmp::Ordering::Greater) {
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
    if let Some(n) = args.parked {
        parked::parked_memory(n.max(1), &inputs[0])?;
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
        let in_flight = 8 * cores;
        for store in [None, Some(&store)] {
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
    if args.mode != Mode::Wasm {
        let resources = || machine.task_resources().into_iter().map(|(_, r)| r);
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
    if let Some(runtime) = &runtime {
        invocation_tables(&args.trivial, runtime, &machine, &map, &inputs, args.seconds.min(3.0))?;
    }
    Ok(ExitCode::SUCCESS)
}

/// Per-module invocations/s (each module as the workflow calls it, plus a
/// trivial module) and memory per live instance.
fn invocation_tables(
    trivial_wat: &Path,
    runtime: &WasmRuntime,
    machine: &Arc<crate::asl::StateMachine>,
    map: &ResourceMap,
    inputs: &[Value],
    seconds: f64,
) -> Result<()> {
    let recorder = Recorder { runtime, seen: std::sync::Mutex::new(Vec::new()) };
    let clock = VirtualClock::starting_now();
    for (i, input) in inputs.iter().enumerate() {
        reset_kv(runtime, &map.kv().seed)?;
        run_execution(machine.clone(), execution_info("bench", &format!("record-{i}")), input.clone(), &recorder, &clock)
            .map_err(|e| anyhow!("engine error: {e}"))?;
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
            timeout_seconds: None,
            task_token: None,
            entered_event_id: 2,
            journaled: false,
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
            WasmRuntime::for_machine_cached(machine, map, crate::runtime::CompileCache::default_dir().as_deref())?
        };
        let memory =
            held_instance_bytes(&fresh, task).map(|b| format!("{:.0} KiB", b as f64 / 1024.0)).unwrap_or_else(|e| format!("n/a ({e})"));
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
const TRIVIAL: &str = "bench:trivial";

/// Compiles the trivial module's text to a component file (in the temp dir)
/// and maps it with the default limits; `None` if the text is not there.
fn trivial_module(wat_path: &Path) -> Result<Option<crate::runtime::ResourceSpec>> {
    if !wat_path.is_file() {
        return Ok(None);
    }
    let bytes = wat::parse_file(wat_path).map_err(|e| anyhow!("{}: {e}", wat_path.display()))?;
    let file = std::env::temp_dir().join(format!("stepwasm-bench-trivial-{}.wasm", std::process::id()));
    std::fs::write(&file, bytes).with_context(|| format!("cannot write {}", file.display()))?;
    Ok(Some(crate::runtime::ResourceSpec {
        module_path: file,
        limits: crate::runtime::Limits::default(),
        grants: crate::runtime::Grants::default(),
        untrusted: false,
    }))
}

/// Resident memory added per live instance: RSS growth while
/// [`HELD_INSTANCES`] invocations of `task` are kept alive at once, each
/// after its call (so what the call touched is counted).
fn held_instance_bytes(runtime: &WasmRuntime, task: &TaskInvocation) -> Result<usize, String> {
    let before = rss_bytes().ok_or("no /proc/self/status")?;
    let held = (0..HELD_INSTANCES).map(|_| runtime.invoke_and_hold(task)).collect::<Result<Vec<_>, _>>()?;
    let after = rss_bytes().ok_or("no /proc/self/status")?;
    drop(held);
    Ok(after.saturating_sub(before) / HELD_INSTANCES)
}
