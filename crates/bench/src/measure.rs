//! Running executions for a while and summing up: throughput and latency
//! percentiles on plain threads ([`measure`]), as futures on tokio
//! ([`measure_async`]), and of one module invoked directly
//! ([`measure_invocations`]); the kv reset between executions; the process's
//! resident memory.

use anyhow::{anyhow, bail, Result};
use serde_json::Value;
use std::sync::Arc;
use std::time::{Duration, Instant};
use stepwasm::asl::StateMachine;
use stepwasm::driver::{execution_info, run_execution, run_recorded, TaskOutcome, TaskRunner, VirtualClock};
use stepwasm::engine::TaskInvocation;
use stepwasm::runtime::kv::KvStore;
use stepwasm::runtime::WasmRuntime;
use stepwasm::store::SqliteStore;

/// Latency and throughput of one mode.
pub(crate) struct Stats {
    pub(crate) executions: usize,
    pub(crate) elapsed: Duration,
    pub(crate) p50: Duration,
    pub(crate) p99: Duration,
}

impl Stats {
    pub(crate) fn per_second(&self) -> f64 {
        self.executions as f64 / self.elapsed.as_secs_f64()
    }

    pub(crate) fn from_latencies(mut latencies: Vec<Duration>, elapsed: Duration) -> Stats {
        latencies.sort();
        let pct = |p: f64| latencies[((latencies.len() as f64 * p) as usize).min(latencies.len() - 1)];
        Stats { executions: latencies.len(), elapsed, p50: pct(0.50), p99: pct(0.99) }
    }
}

/// Runs executions on `threads` threads sharing one runner for `seconds`
/// (after a warm-up), one execution at a time on each (its own
/// single-threaded tokio runtime); throughput is executions over wall time,
/// resets included.
pub(crate) fn measure<R: TaskRunner + Sync>(
    machine: &Arc<StateMachine>,
    inputs: &[Value],
    runner: &R,
    reset: &(dyn Fn() -> Result<()> + Sync),
    threads: usize,
    seconds: f64,
    store: Option<&SqliteStore>,
) -> Result<Stats> {
    let clock = VirtualClock::starting_now();
    // Names must be new in a store, warm-up included (each row with its own
    // number of lanes in them).
    let next_name = std::sync::atomic::AtomicUsize::new(0);
    let run_one = |tokio: &tokio::runtime::Runtime, i: usize| -> Result<Duration> {
        reset()?;
        let start = Instant::now();
        let n = next_name.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let info = execution_info("bench", &format!("bench-{threads}-{n}"));
        let input = inputs[i % inputs.len()].clone();
        tokio
            .block_on(async {
                match store {
                    Some(store) => run_recorded(machine.clone(), info, input, runner, &clock, store).await.map(drop),
                    None => run_execution(machine.clone(), info, input, runner, &clock).await.map(drop),
                }
            })
            .map_err(|e| anyhow!("engine error: {e}"))?;
        Ok(start.elapsed())
    };
    let worker = |offset: usize, budget: Duration| -> Result<Vec<Duration>> {
        let tokio = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
        let mut latencies = Vec::new();
        let start = Instant::now();
        let mut i = offset;
        while start.elapsed() < budget {
            latencies.push(run_one(&tokio, i)?);
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
pub(crate) fn measure_async(
    machine: &Arc<StateMachine>,
    inputs: &[Value],
    runtime: &Arc<WasmRuntime>,
    seed: &[(String, String, String)],
    workers: usize,
    in_flight: usize,
    seconds: f64,
    store: Option<&Arc<SqliteStore>>,
) -> Result<Stats> {
    // Names must be new in a store, warm-up included (each row with its own
    // number of lanes in them).
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
                        // Names in no particular order, as StartExecution's
                        // generated UUIDs are (a store's indexes by name see
                        // them land anywhere, not one after the other).
                        let info =
                            execution_info("bench", &format!("{:016x}-{in_flight}-{n}", (n as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15)));
                        let input = inputs[i % inputs.len()].clone();
                        match &store {
                            Some(store) => run_recorded(machine.clone(), info, input, &*runtime, &*clock, &**store).await.map(drop),
                            None => run_execution(machine.clone(), info, input, &*runtime, &*clock).await.map(drop),
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
pub(crate) fn measure_invocations(
    runtime: &WasmRuntime,
    task: &TaskInvocation,
    reset: &dyn Fn() -> Result<()>,
    seconds: f64,
) -> Result<Stats> {
    let tokio = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    let run = |budget: Duration| -> Result<Vec<Duration>> {
        let mut latencies = Vec::new();
        let start = Instant::now();
        while start.elapsed() < budget {
            reset()?;
            let t = Instant::now();
            let outcome = tokio.block_on(runtime.invoke(task));
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
pub(crate) fn reset_kv(runtime: &WasmRuntime, seed: &[(String, String, String)]) -> Result<()> {
    match runtime.kv_store() {
        Some(store) => reset_kv_store(store, seed),
        None => Ok(()),
    }
}

pub(crate) fn reset_kv_store(store: &KvStore, seed: &[(String, String, String)]) -> Result<()> {
    for (namespace, key, value) in seed {
        if store.get(namespace, key)?.as_deref() != Some(value.as_str()) {
            store.put(namespace, key, value)?;
        }
    }
    Ok(())
}

/// Resident set size of this process, from /proc (Linux).
pub(crate) fn rss_bytes() -> Option<usize> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    let kib: usize = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib << 10)
}

pub(crate) fn micros(d: Duration) -> String {
    format!("{:.1} µs", d.as_secs_f64() * 1e6)
}
