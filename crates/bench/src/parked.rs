//! `stepwasm-bench --parked N`: what an execution in a long Wait costs
//! `serve`. N executions are started in a store file and driven as `serve`
//! drives them (one tokio task each, resumed from the store, two worker
//! threads) until every one waits on its day-long timer; the growth of the
//! process's resident memory over N is the cost of one. Measured twice:
//! parked, as `serve` keeps a wait over two seconds (a timer; the execution
//! is replayed from the store when it is due; at most `MAX_ACTIVE` driven
//! at once, as `serve` drives them), and held in memory, as a shorter wait
//! is (its future and engine state).

use anyhow::{anyhow, Result};
use serde_json::Value;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use stepwasm::asl::parse_definition;
use stepwasm::driver::{
    drive_stored_execution, execution_info, start_execution, Clock, Progress, SystemClock, TaskOutcome, TaskRunner, Wait,
};
use stepwasm::engine::TaskInvocation;
use stepwasm::serve::{ParkedTimers, MAX_ACTIVE, PARK_WAITS_OVER_MS};
use stepwasm::store::{SqliteStore, Store};

/// Receives an order, then waits a day: what a parked execution looks like.
const PARKED: &str = r#"{"StartAt": "Receive", "States": {
  "Receive": {"Type": "Pass", "Parameters": {"order.$": "$", "received.$": "$$.Execution.StartTime"}, "Next": "Hold"},
  "Hold": {"Type": "Wait", "Seconds": 86400, "End": true}}}"#;

/// The wall clock, counting the waits that begin.
struct CountingClock {
    waits: AtomicUsize,
}

impl Clock for CountingClock {
    fn now_ms(&self) -> i64 {
        SystemClock.now_ms()
    }
    fn wait_until(&self, deadline_ms: i64) -> Wait<'_> {
        self.waits.fetch_add(1, Ordering::SeqCst);
        let wait = Duration::from_millis((deadline_ms - self.now_ms()).max(0) as u64);
        Box::pin(tokio::time::sleep(wait))
    }
}

/// The definition has no Task state.
struct NoTasks;

impl TaskRunner for NoTasks {
    fn run_task<'a>(&'a self, task: &'a TaskInvocation) -> impl std::future::Future<Output = TaskOutcome> + Send + 'a {
        std::future::ready(TaskOutcome::Failed { error: "States.Runtime".into(), cause: format!("unexpected task {}", task.resource) })
    }
}

/// Parks `n` executions of an order (`input`), both ways, and prints what
/// each costs.
pub fn parked_memory(n: usize, input: &Value) -> Result<()> {
    let dir = std::env::temp_dir().join(format!("stepwasm-bench-parked-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    println!();
    println!("| {n} executions in a day-long Wait | started in the store | driven to their Wait | resident memory added | per execution |");
    println!("|---|---:|---:|---:|---:|");
    // Parked first: memory the other way frees may stay with the allocator.
    let result = park(n, input, &dir.join("parked.sqlite"), true).and_then(|()| park(n, input, &dir.join("held.sqlite"), false));
    let _ = std::fs::remove_dir_all(&dir);
    result
}

/// Starts `n` executions in a fresh store and drives them to their Wait:
/// parked as `serve` parks them (a timer each), or held in memory as
/// sleeping futures (what a wait shorter than the threshold costs).
fn park(n: usize, input: &Value, store_path: &std::path::Path, parked: bool) -> Result<()> {
    let machine = Arc::new(parse_definition(PARKED).map_err(|e| anyhow!("{e}"))?);
    let store = Arc::new(SqliteStore::open(store_path)?);
    let infos: Vec<_> = (0..n).map(|i| execution_info("parked", &format!("p{i}"))).collect();
    store.put_state_machine(&infos[0].state_machine_arn, "parked", PARKED)?;
    let tokio = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build()?;
    let started = Instant::now();
    for info in &infos {
        tokio.block_on(start_execution(machine.clone(), info.clone(), input.clone(), &SystemClock, &*store))?;
    }
    let start_time = started.elapsed();

    let clock = Arc::new(CountingClock { waits: AtomicUsize::new(0) });
    let before = crate::measure::rss_bytes().ok_or_else(|| anyhow!("cannot read the process's resident memory"))?;
    let driving = Instant::now();
    let park_over_ms = if parked { PARK_WAITS_OVER_MS } else { i64::MAX };
    let spawn = |info: stepwasm::engine::ExecutionInfo| {
        let (machine, store, clock) = (machine.clone(), Arc::clone(&store), Arc::clone(&clock));
        tokio.spawn(async move {
            let progress = drive_stored_execution(machine, info.clone(), &NoTasks, &*clock, &*store, park_over_ms).await;
            (info, progress)
        })
    };
    let mut timers = ParkedTimers::default();
    let mut tasks = Vec::new();
    if parked {
        // As `serve` does: at most MAX_ACTIVE driven at once.
        for wave in infos.chunks(MAX_ACTIVE) {
            let running: Vec<_> = wave.iter().cloned().map(spawn).collect();
            for task in running {
                let (info, progress) = tokio.block_on(task)?;
                match progress? {
                    Progress::Parked { until_ms } => timers.park(info, until_ms),
                    Progress::Finished(outcome) => return Err(anyhow!("an execution ended instead of parking: {outcome:?}")),
                }
            }
        }
    } else {
        tasks = infos.into_iter().map(spawn).collect();
        while clock.waits.load(Ordering::SeqCst) < n {
            if tasks.iter().any(|t| t.is_finished()) {
                return Err(anyhow!("an execution ended instead of waiting"));
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }
    let park_time = driving.elapsed();
    let after = crate::measure::rss_bytes().ok_or_else(|| anyhow!("cannot read the process's resident memory"))?;
    let added = after.saturating_sub(before);
    let how = if parked { "parked (serve: a timer each)" } else { "held in memory (sleeping futures)" };
    println!(
        "| {how} | {:.1} s | {:.1} s | {:.1} MiB | {} bytes |",
        start_time.as_secs_f64(),
        park_time.as_secs_f64(),
        added as f64 / (1 << 20) as f64,
        added / n
    );
    for task in tasks {
        task.abort();
    }
    drop(timers);
    tokio.shutdown_background();
    Ok(())
}
