//! `stepwasm serve`: the long-running host. It drives every execution its
//! store holds as running, many at once on tokio: on start (recovery after a
//! crash: each goes on from its history) and whenever `stepwasm start` adds
//! one. An execution parked in a Wait is a sleeping future, not a thread;
//! one stopped in the store (`stepwasm executions stop`) is let go at the
//! next poll, wherever it was waiting.
//!
//! One `serve` per store: two would race to extend the same histories (the
//! store refuses the loser's events, so nothing is corrupted, but work is
//! wasted).

use crate::asl::{parse_definition, StateMachine};
use crate::cli::{load_runtime, CacheArg, ConfigArg};
use crate::driver::{resume_execution_async, DriverError, ExecutionRecord, SystemClock};
use crate::engine::ExecutionInfo;
use crate::executions::StoreArg;
use crate::runtime::{ResourceMap, WasmRuntime};
use crate::store::{ExecutionStatus, SqliteStore, Store};
use anyhow::{anyhow, Context as _, Result};
use clap::Args;
use std::collections::{HashMap, HashSet};
use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

#[derive(Args)]
pub struct ServeArgs {
    #[command(flatten)]
    store: StoreArg,
    /// Resource map of the stored state machines (default: `wasm:<name>`
    /// resources are looked up in the current directory).
    #[command(flatten)]
    config: ConfigArg,
    #[command(flatten)]
    cache: CacheArg,
    /// How often the store is checked for newly started executions.
    #[arg(long, default_value_t = 200)]
    poll_ms: u64,
    /// Exit once no execution is running (for scripts and tests).
    #[arg(long)]
    exit_when_idle: bool,
    /// Worker threads (default: one per core).
    #[arg(long)]
    workers: Option<usize>,
}

/// A state machine ready to run: its definition and its loaded modules.
pub type Loaded = Arc<(Arc<StateMachine>, WasmRuntime)>;

/// The `serve` subcommand.
pub fn serve(args: ServeArgs) -> Result<ExitCode> {
    let store = Arc::new(args.store.open()?);
    let machines = StoredMachines::new(&args.config, args.cache, &args.store.store)?;
    let mut builder = tokio::runtime::Builder::new_multi_thread();
    if let Some(workers) = args.workers {
        builder.worker_threads(workers.max(1));
    }
    let tokio = builder.enable_all().build()?;
    tokio.block_on(drive_store(store, machines, Duration::from_millis(args.poll_ms.max(1)), args.exit_when_idle))?;
    Ok(ExitCode::SUCCESS)
}

async fn drive_store(store: Arc<SqliteStore>, mut machines: StoredMachines, poll: Duration, exit_when_idle: bool) -> Result<()> {
    // Executions being driven (to let go of one that is stopped), and those
    // that cannot be (reported once).
    let mut driving: HashMap<String, tokio::task::AbortHandle> = HashMap::new();
    let mut given_up: HashSet<String> = HashSet::new();
    let mut tasks: tokio::task::JoinSet<(String, Result<ExecutionRecord, DriverError>)> = tokio::task::JoinSet::new();
    println!("serving {:?}", store);
    loop {
        while let Some(joined) = tasks.try_join_next() {
            let (arn, result) = match joined {
                Ok(finished) => finished,
                // Let go of below: it was stopped.
                Err(e) if e.is_cancelled() => continue,
                Err(e) => return Err(anyhow!("an execution's task failed: {e}")),
            };
            driving.remove(&arn);
            match result {
                Ok(record) => println!("{} {}", ExecutionStatus::of(&record.outcome).as_str(), record.info.name),
                Err(e) => {
                    eprintln!("error: execution {arn} stopped: {e}");
                    given_up.insert(arn);
                }
            }
        }
        let running = store.executions(Some(ExecutionStatus::Running))?;
        let still_running: HashSet<&str> = running.iter().map(|e| e.info.execution_arn.as_str()).collect();
        let stopped: Vec<(String, String)> = driving
            .keys()
            .filter(|arn| !still_running.contains(arn.as_str()))
            .filter_map(|arn| match store.execution(arn) {
                Ok(Some(e)) if e.status == ExecutionStatus::Aborted => Some((arn.clone(), e.info.name)),
                _ => None,
            })
            .collect();
        for (arn, name) in stopped {
            if let Some(task) = driving.remove(&arn) {
                task.abort();
                println!("ABORTED {name}");
            }
        }
        for execution in &running {
            let arn = &execution.info.execution_arn;
            if driving.contains_key(arn) || given_up.contains(arn) {
                continue;
            }
            let loaded = match machines.get(&store, &execution.info) {
                Ok(loaded) => loaded,
                Err(e) => {
                    eprintln!("error: cannot run execution {arn}: {e:#}");
                    given_up.insert(arn.clone());
                    continue;
                }
            };
            let (store, info) = (Arc::clone(&store), execution.info.clone());
            let task = tasks.spawn(async move {
                let (machine, runtime) = &*loaded;
                let arn = info.execution_arn.clone();
                (arn, resume_execution_async(Arc::clone(machine), info, runtime, &SystemClock, &*store).await)
            });
            driving.insert(arn.clone(), task);
        }
        if exit_when_idle && tasks.is_empty() && running.iter().all(|e| given_up.contains(&e.info.execution_arn)) {
            return Ok(());
        }
        tokio::time::sleep(poll).await;
    }
}

/// The store's state machines, each version parsed and its modules loaded on
/// first use, for `serve` and `resume`.
pub struct StoredMachines {
    map: ResourceMap,
    cache: CacheArg,
    /// By state machine ARN and definition version.
    loaded: HashMap<(String, Option<u32>), Loaded>,
}

impl StoredMachines {
    /// Resources come from `config`, else `wasm:<name>` resources are looked
    /// up in the current directory; kv data lives in `store` unless the
    /// config names a kv file.
    pub fn new(config: &ConfigArg, cache: CacheArg, store: &Path) -> Result<StoredMachines> {
        let mut map = match &config.config {
            Some(path) => ResourceMap::load(path)?,
            None => ResourceMap::with_module_dir(Path::new(".")),
        };
        map.keep_kv_in(store);
        Ok(StoredMachines { map, cache, loaded: HashMap::new() })
    }

    /// The definition `execution` runs (its state machine, at the version
    /// it started with), loaded once per version.
    pub fn get(&mut self, store: &SqliteStore, execution: &ExecutionInfo) -> Result<Loaded> {
        let arn = &execution.state_machine_arn;
        let (version, text) = store
            .execution_definition(&execution.execution_arn)?
            .ok_or_else(|| anyhow!("the store has no definition of {arn}"))?;
        let key = (arn.clone(), version);
        if let Some(loaded) = self.loaded.get(&key) {
            return Ok(Arc::clone(loaded));
        }
        let shown = match version {
            Some(v) => format!("{arn} (version {v})"),
            None => arn.clone(),
        };
        let machine = Arc::new(parse_definition(&text).map_err(|e| anyhow!("the stored definition of {shown}: {e}"))?);
        let runtime = load_runtime(&machine, &self.map, &self.cache).with_context(|| format!("loading the modules of {shown}"))?;
        let loaded = Arc::new((machine, runtime));
        self.loaded.insert(key, Arc::clone(&loaded));
        Ok(loaded)
    }
}
