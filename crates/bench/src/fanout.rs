//! `stepwasm-bench --fanout`: what a Map state costs as it fans out (issue
//! 17). Three tables, each over a definition built here (one Map state,
//! `ItemsPath` `$.items`, whose item processor is one Task):
//!
//! 1. wall time of a Map whose task waits 10 ms as on I/O (a native runner
//!    answers after `tokio::time::sleep`), by item count and
//!    `MaxConcurrency`, on the wall clock, against the ideal
//!    `ceil(N / concurrency) × 10 ms`;
//! 2. the engine's and driver's cost per item of a Map over the trivial echo
//!    component (`tests/hostile/echo.wat`) on a virtual clock, which should
//!    not grow with the item count;
//! 3. resident memory per child in flight: a Map over 2,000 items whose
//!    tasks wait until released, measured once as many as the host lets run
//!    are waiting.
//!
//! Every inline Map event is in the execution's one history, capped at
//! 25,000 events (about 7 per item), so an inline Map over 10,000 items
//! fails with the history limit: its row says so, and 3,000 is the largest
//! count that fits. Table 2 also runs the Map in `DISTRIBUTED` mode, each
//! item a child execution (run in this process by the host's task runner,
//! as `stepwasm run` runs them), which has no such limit.

use crate::invocations::{trivial_module, TRIVIAL};
use crate::measure::rss_bytes;
use anyhow::{anyhow, bail, Result};
use serde_json::{json, Value};
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use stepwasm::asl::{parse_definition, StateMachine};
use stepwasm::driver::{execution_info, run_execution, Clock, ExecutionRecord, SystemClock, TaskOutcome, TaskRunner, VirtualClock};
use stepwasm::engine::{EventKind, Outcome, TaskInvocation, MAX_HISTORY_EVENTS};
use stepwasm::runtime::WasmRuntime;
use stepwasm::tasks::HostTasks;
use tokio::sync::Semaphore;

/// The item counts of the first two tables: 3,000 is the largest that fits
/// in one history, 10,000 shows what happens past it.
const ITEM_COUNTS: [usize; 5] = [10, 100, 1_000, 3_000, 10_000];

/// The `MaxConcurrency` columns of the first table; 1 first, the
/// sequential figure.
const CONCURRENCIES: [u32; 4] = [1, 0, 10, 100];

/// How long the first table's task waits.
const TASK_WAIT: Duration = Duration::from_millis(10);

/// How many children `MaxConcurrency: 0` runs at once: the host's default
/// cap (issue 17), used only for the ideal time.
const ASSUMED_HOST_CAP: usize = stepwasm::engine::DEFAULT_MAX_CHILDREN;

/// A cell predicted (from the row above, scaled by the item count) to take
/// longer than this is skipped unless `--fanout-full`: the sequential
/// column at 10,000 items would take 100 s and more.
const SKIP_OVER: Duration = Duration::from_secs(45);

/// Items of the third table.
const HELD_ITEMS: usize = 2_000;

/// The native task resource of the first and third tables.
const NATIVE_RESOURCE: &str = "bench:fanout";

/// Prints the three tables.
pub(crate) fn fanout_tables(trivial_wat: &Path, full: bool) -> Result<()> {
    let cores = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1);
    println!(
        "fan-out: one Map state, ItemsPath $.items, one Task per item; {cores} core(s) available; one run per cell \
         (table 2: repeated to about 10,000 items per cell)"
    );
    io_wait_table(cores, full)?;
    echo_table(trivial_wat)?;
    memory_table(cores)?;
    Ok(())
}

/// A Map over `$.items` with `max_concurrency`, its one Task on `resource`.
fn map_machine(resource: &str, max_concurrency: u32) -> Result<Arc<StateMachine>> {
    map_machine_in(resource, max_concurrency, json!({"Mode": "INLINE"}))
}

/// [`map_machine`] with the item processor's `ProcessorConfig`.
fn map_machine_in(resource: &str, max_concurrency: u32, processor_config: Value) -> Result<Arc<StateMachine>> {
    let definition = json!({
        "StartAt": "Fan",
        "States": {"Fan": {
            "Type": "Map",
            "ItemsPath": "$.items",
            "MaxConcurrency": max_concurrency,
            "ItemProcessor": {
                "ProcessorConfig": processor_config,
                "StartAt": "Work",
                "States": {"Work": {"Type": "Task", "Resource": resource, "End": true}}
            },
            "End": true
        }}
    });
    Ok(Arc::new(parse_definition(&definition.to_string()).map_err(|e| anyhow!("the fan-out definition: {e}"))?))
}

fn items_input(n: usize) -> Value {
    json!({"items": (0..n).map(|i| json!({"i": i})).collect::<Vec<_>>()})
}

/// Counts the tasks in flight and the most seen at once.
#[derive(Default)]
struct InFlight {
    now: AtomicUsize,
    peak: AtomicUsize,
    started: AtomicUsize,
}

impl InFlight {
    fn enter(&self) {
        self.started.fetch_add(1, Ordering::SeqCst);
        let now = self.now.fetch_add(1, Ordering::SeqCst) + 1;
        self.peak.fetch_max(now, Ordering::SeqCst);
    }
    fn leave(&self) {
        self.now.fetch_sub(1, Ordering::SeqCst);
    }
}

/// Answers with its input after [`TASK_WAIT`], as a task waiting on I/O.
#[derive(Default)]
struct SleepingRunner {
    in_flight: InFlight,
}

impl TaskRunner for SleepingRunner {
    async fn run_task(&self, task: &TaskInvocation) -> TaskOutcome {
        if task.map_run.is_some() {
            // A DISTRIBUTED Map's run: its children in this process, their tasks here.
            return stepwasm::map_run::run(task, self, None, None).await;
        }
        self.in_flight.enter();
        tokio::time::sleep(TASK_WAIT).await;
        self.in_flight.leave();
        TaskOutcome::Succeeded((*task.input).clone())
    }

    fn runs_map_runs(&self) -> bool {
        true
    }
}

/// Answers with its input once released (the semaphore closed).
struct HeldRunner {
    in_flight: InFlight,
    release: Semaphore,
}

impl TaskRunner for HeldRunner {
    async fn run_task(&self, task: &TaskInvocation) -> TaskOutcome {
        self.in_flight.enter();
        // Never a permit: closing the semaphore releases every waiter.
        let _ = self.release.acquire().await;
        self.in_flight.leave();
        TaskOutcome::Succeeded((*task.input).clone())
    }
}

/// How a run ended: its items all done, or why not.
enum Ran {
    Done,
    /// The execution failed after this many iterations had succeeded.
    Failed {
        succeeded: usize,
        error: String,
        cause: String,
    },
}

/// Checks that `record` is a Map over `n` items that succeeded.
fn check(record: &ExecutionRecord, n: usize) -> Result<Ran> {
    match &record.outcome {
        Outcome::Succeeded { output } => match output.as_array() {
            Some(results) if results.len() == n => Ok(Ran::Done),
            _ => bail!("the Map over {n} items gave {} results", output.as_array().map_or(0, Vec::len)),
        },
        Outcome::Failed { error, cause } | Outcome::TimedOut { error, cause } | Outcome::Aborted { error, cause } => {
            let succeeded = record.history.iter().filter(|e| matches!(e.kind, EventKind::MapIterationSucceeded { .. })).count();
            Ok(Ran::Failed { succeeded, error: error.clone(), cause: cause.clone() })
        }
    }
}

/// Runs the Map once over `n` items: wall time and how it ended.
fn run_once<R, C>(
    tokio: &tokio::runtime::Runtime,
    machine: &Arc<StateMachine>,
    n: usize,
    runner: &R,
    clock: &C,
    name: &str,
) -> Result<(Duration, Ran)>
where
    R: TaskRunner + Sync,
    C: Clock + Sync,
{
    let input = items_input(n);
    let info = execution_info("fanout", name);
    let start = Instant::now();
    let record = tokio.block_on(run_execution(machine.clone(), info, input, runner, clock)).map_err(|e| anyhow!("engine error: {e}"))?;
    let elapsed = start.elapsed();
    Ok((elapsed, check(&record, n)?))
}

fn seconds(d: Duration) -> String {
    if d < Duration::from_secs(1) {
        format!("{:.0} ms", d.as_secs_f64() * 1e3)
    } else {
        format!("{:.2} s", d.as_secs_f64())
    }
}

/// A failed run's cell.
fn failed_cell(elapsed: Duration, succeeded: usize, error: &str, cause: &str) -> String {
    if cause.contains("history events") {
        format!("fails after {}: history limit ({MAX_HISTORY_EVENTS} events) at item {succeeded}", seconds(elapsed))
    } else {
        format!("fails after {} ({succeeded} items done): {error}: {cause}", seconds(elapsed))
    }
}

/// Table 1: a Map whose task waits 10 ms, by item count and MaxConcurrency.
fn io_wait_table(cores: usize, full: bool) -> Result<()> {
    let tokio = tokio::runtime::Builder::new_multi_thread().worker_threads(cores).enable_all().build()?;
    println!();
    println!(
        "Map over N items, task waiting {} ms on I/O (native runner, tokio::time::sleep; wall clock; tokio, {cores} worker(s)); \
         each cell: wall time (ideal ceil(N / concurrency) × {} ms, MaxConcurrency 0 taken as min(N, {ASSUMED_HOST_CAP})) and items/s",
        TASK_WAIT.as_millis(),
        TASK_WAIT.as_millis()
    );
    println!();
    let header: Vec<String> = CONCURRENCIES
        .iter()
        .map(|&m| match m {
            1 => "MaxConcurrency 1 = how every Map ran before issue 17".to_string(),
            0 => format!("MaxConcurrency 0 (up to the host's cap, {ASSUMED_HOST_CAP})"),
            m => format!("MaxConcurrency {m}"),
        })
        .collect();
    println!("| N | {} |", header.join(" | "));
    println!("|---:|{}", "---:|".repeat(header.len()));
    // Per column: the previous row's (N, time), to predict the next cell.
    let mut previous: Vec<Option<(usize, Duration)>> = vec![None; CONCURRENCIES.len()];
    let mut peaks = vec![0usize; CONCURRENCIES.len()];
    let mut skipped = false;
    for &n in &ITEM_COUNTS {
        let mut cells = Vec::new();
        for (column, &m) in CONCURRENCIES.iter().enumerate() {
            let predicted = previous[column].map(|(pn, t)| t.mul_f64(n as f64 / pn as f64));
            if !full && predicted.is_some_and(|p| p > SKIP_OVER) {
                cells.push(format!("— (≈ {} predicted)", seconds(predicted.unwrap_or_default())));
                skipped = true;
                continue;
            }
            let machine = map_machine(NATIVE_RESOURCE, m)?;
            let runner = SleepingRunner::default();
            let (elapsed, ran) = run_once(&tokio, &machine, n, &runner, &SystemClock, &format!("io-{n}-{m}"))?;
            peaks[column] = peaks[column].max(runner.in_flight.peak.load(Ordering::SeqCst));
            previous[column] = Some((n, elapsed));
            let concurrency = match m {
                0 => n.min(ASSUMED_HOST_CAP),
                m => (m as usize).min(n),
            };
            let ideal = TASK_WAIT * n.div_ceil(concurrency.max(1)) as u32;
            cells.push(match ran {
                Ran::Done => format!("{} (ideal {}), {:.0} items/s", seconds(elapsed), seconds(ideal), n as f64 / elapsed.as_secs_f64()),
                Ran::Failed { succeeded, error, cause } => failed_cell(elapsed, succeeded, &error, &cause),
            });
        }
        println!("| {n} | {} |", cells.join(" | "));
    }
    // The same Map in DISTRIBUTED mode (each item a child execution, run in
    // this process) has no history limit: the largest N again.
    let n = ITEM_COUNTS[ITEM_COUNTS.len() - 1];
    let mut cells = Vec::new();
    for &m in &CONCURRENCIES {
        if m == 1 {
            cells.push("—".to_string());
            continue;
        }
        let machine = map_machine_in(NATIVE_RESOURCE, m, json!({"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"}))?;
        let runner = SleepingRunner::default();
        let (elapsed, ran) = run_once(&tokio, &machine, n, &runner, &SystemClock, &format!("io-dist-{n}-{m}"))?;
        let concurrency = if m == 0 { n.min(ASSUMED_HOST_CAP) } else { (m as usize).min(n) };
        let ideal = TASK_WAIT * n.div_ceil(concurrency.max(1)) as u32;
        cells.push(match ran {
            Ran::Done => format!(
                "{} (ideal {}), {:.0} items/s, {} at once",
                seconds(elapsed),
                seconds(ideal),
                n as f64 / elapsed.as_secs_f64(),
                runner.in_flight.peak.load(Ordering::SeqCst)
            ),
            Ran::Failed { succeeded, error, cause } => failed_cell(elapsed, succeeded, &error, &cause),
        });
    }
    println!("| {n}, DISTRIBUTED (child executions in this process) | {} |", cells.join(" | "));
    let peaks: Vec<String> = peaks.iter().map(|p| p.to_string()).collect();
    println!("| most tasks in flight at once (seen by the runner) | {} |", peaks.join(" | "));
    println!();
    if skipped {
        println!(
            "— : skipped, predicted over {} s from the row above (MaxConcurrency 1 at 10,000 items is 100 s and more); \
             --fanout-full runs every cell.",
            SKIP_OVER.as_secs()
        );
    }
    Ok(())
}

/// Table 2: the per-item cost of a Map over the echo component.
fn echo_table(trivial_wat: &Path) -> Result<()> {
    let Some(spec) = trivial_module(trivial_wat)? else {
        println!();
        println!("(no {}: the echo-component table is left out)", trivial_wat.display());
        return Ok(());
    };
    let mut runtime = WasmRuntime::new(64 << 20)?;
    let added = runtime.add_resource(TRIVIAL, spec.clone()).map_err(|e| anyhow!(e));
    let _ = std::fs::remove_file(&spec.module_path);
    added?;
    // One worker: the cost of the engine, driver and component per item, not
    // how it spreads over cores.
    let tokio = tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build()?;
    let clock = VirtualClock::starting_now();
    let inline = map_machine(TRIVIAL, 0)?;
    let distributed = map_machine_in(TRIVIAL, 0, json!({"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"}))?;
    // The host's runner: it runs a DISTRIBUTED Map's children as executions of their own.
    let host_tasks = HostTasks::wasm_only(&runtime);
    // Warm-up: the component's first instances.
    run_once(&tokio, &inline, 10, &runtime, &clock, "echo-warm")?;
    println!();
    println!(
        "Per-item cost of a Map over an echo component ({}: returns its input), MaxConcurrency 0, virtual clock, tokio, 1 worker; \
         inline (iterations in the execution's history) and DISTRIBUTED (each item a child execution, run in this process)",
        trivial_wat.display()
    );
    println!();
    println!("| N | runs | inline: total | per item | vs N = 10 | distributed: total | per item | vs N = 10 |");
    println!("|---:|---:|---:|---:|---:|---:|---:|---:|");
    let mut firsts: [Option<f64>; 2] = [None, None];
    let mut largest: [Option<(usize, f64)>; 2] = [None, None];
    for &n in &ITEM_COUNTS {
        let runs = (10_000 / n).max(1);
        let mut cells = Vec::new();
        for (mode, machine) in [&inline, &distributed].into_iter().enumerate() {
            let mut total = Duration::ZERO;
            let mut failure = None;
            for run in 0..runs {
                let name = format!("echo-{mode}-{n}-{run}");
                let (elapsed, ran) = if mode == 0 {
                    run_once(&tokio, machine, n, &runtime, &clock, &name)?
                } else {
                    run_once(&tokio, machine, n, &host_tasks, &clock, &name)?
                };
                total += elapsed;
                if let Ran::Failed { succeeded, error, cause } = ran {
                    failure = Some(failed_cell(elapsed, succeeded, &error, &cause));
                    break;
                }
            }
            if let Some(failure) = failure {
                cells.push(format!("{failure} | — | —"));
                continue;
            }
            let per_item = total.as_secs_f64() * 1e6 / (runs * n) as f64;
            let base = *firsts[mode].get_or_insert(per_item);
            largest[mode] = Some((n, per_item));
            cells.push(format!("{} | {per_item:.1} µs | {:.2}×", seconds(total), per_item / base));
        }
        println!("| {n} | {runs} | {} |", cells.join(" | "));
    }
    println!();
    for (mode, label) in ["inline", "distributed"].into_iter().enumerate() {
        if let (Some(base), Some((n, per_item))) = (firsts[mode], largest[mode]) {
            println!(
                "{label}: per-item cost at N = {n} (the largest that ran to its end) is {:.2}× that at N = 10 (goal: ≤ 1.5× at N = 10,000).",
                per_item / base
            );
        }
    }
    Ok(())
}

/// Table 3: resident memory per child in flight.
fn memory_table(cores: usize) -> Result<()> {
    let tokio = tokio::runtime::Builder::new_multi_thread().worker_threads(cores).enable_all().build()?;
    let machine = map_machine(NATIVE_RESOURCE, 0)?;
    let runner = Arc::new(HeldRunner { in_flight: InFlight::default(), release: Semaphore::new(0) });
    let input = items_input(HELD_ITEMS);
    let before = rss_bytes().ok_or_else(|| anyhow!("cannot read the process's resident memory"))?;
    let started = Instant::now();
    let execution = {
        let (machine, runner) = (machine.clone(), Arc::clone(&runner));
        tokio.spawn(async move { run_execution(machine, execution_info("fanout", "held"), input, &*runner, &SystemClock).await })
    };
    // The host lets K run at once: wait until the count in flight stops
    // growing (unchanged for 500 ms) or reaches every item.
    let mut last = (0, Instant::now());
    let held = loop {
        std::thread::sleep(Duration::from_millis(20));
        if execution.is_finished() {
            bail!("the held Map ended before its tasks were released");
        }
        let now = runner.in_flight.now.load(Ordering::SeqCst);
        if now != last.0 {
            last = (now, Instant::now());
        } else if now == HELD_ITEMS || (now > 0 && last.1.elapsed() > Duration::from_millis(500)) {
            break now;
        }
        if started.elapsed() > Duration::from_secs(120) {
            bail!("the held Map's tasks did not start within 120 s ({now} in flight)");
        }
    };
    let after = rss_bytes().ok_or_else(|| anyhow!("cannot read the process's resident memory"))?;
    let to_start = started.elapsed();
    runner.release.close();
    let record =
        tokio.block_on(execution).map_err(|e| anyhow!("the held Map's task failed: {e}"))?.map_err(|e| anyhow!("engine error: {e}"))?;
    let ended = match check(&record, HELD_ITEMS)? {
        Ran::Done => "succeeded".to_string(),
        Ran::Failed { succeeded, error, cause } => failed_cell(started.elapsed(), succeeded, &error, &cause),
    };
    let added = after.saturating_sub(before);
    println!();
    println!(
        "Memory per in-flight child: a Map over {HELD_ITEMS} items, MaxConcurrency 0, its tasks waiting until released \
         (native runner; tokio, {cores} worker(s)); the growth also holds the execution's own copies of the items (its \
         history, the Map state's item list), whatever K is"
    );
    println!();
    println!("| children in flight (K) | reached after | resident memory added | per child in flight | after release |");
    println!("|---:|---:|---:|---:|---|");
    println!(
        "| {held} | {} | {:.1} MiB | {:.1} KiB | {ended} |",
        seconds(to_start),
        added as f64 / (1 << 20) as f64,
        added as f64 / 1024.0 / held.max(1) as f64
    );
    tokio.shutdown_background();
    Ok(())
}
