//! The store's side of the command line: `run --store` journals an execution,
//! `executions list|describe|history` read what a store holds, `executions
//! stop` aborts one, `executions redrive` starts an unsuccessful one again,
//! and `resume` continues every execution a crash left running (or a redrive
//! started again). The commands that drive executions (`run --store`,
//! `resume`, `serve`) hold the store's lock while they run; the others read
//! and write beside them.

use crate::cli::{history_table, print_record, CacheArg, ConfigArg};
use crate::driver::{resume_execution, Clock, SystemClock, VirtualClock};
use crate::engine::{HistoryEvent, Outcome};
use crate::store::lock::{StoreLock, WhenHeld};
use crate::store::{CrashGuard, DriveStart, ExecutionStatus, ExecutionSummary, Journal, SqliteStore, Store, CRASH_LIMIT};
use anyhow::{anyhow, bail, Result};
use clap::{Args, Subcommand};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

#[derive(Args, Clone)]
pub struct StoreArg {
    /// The store file (SQLite, created on first use).
    #[arg(long)]
    pub store: PathBuf,
}

impl StoreArg {
    /// Opens the store to read it or to add to it (`executions`, `start`,
    /// `task`): these work beside the process that drives it.
    pub fn open(&self) -> Result<SqliteStore> {
        SqliteStore::open(&self.store).map_err(|e| anyhow!(e))
    }

    /// Opens the store for a command that drives its executions (`serve`,
    /// `resume`), holding its lock for as long as the lock is kept (see
    /// [`lock_store`]).
    pub fn open_exclusive(&self, lock: &LockArg, command: &str) -> Result<(StoreLock, SqliteStore)> {
        let held = lock_store(&self.store, lock.wait_for_lock, command)?;
        Ok((held, self.open()?))
    }
}

/// How a command that drives a store's executions takes its lock.
#[derive(Args, Clone, Default)]
pub struct LockArg {
    /// When another process (`serve`, `resume`, `run --store`) drives the
    /// store, wait until it exits instead of exiting 2.
    #[arg(long)]
    pub wait_for_lock: bool,
}

/// Takes the lock of the store at `path` for this process, which runs
/// `command` (`stepwasm serve`): one process drives a store at a time (see
/// [`crate::store::lock`]). Held by another, it is an error naming that
/// process, or (`wait`) waited for, saying so on stderr.
pub fn lock_store(path: &Path, wait: bool, command: &str) -> Result<StoreLock> {
    let when_held = if wait { WhenHeld::Wait } else { WhenHeld::Refuse };
    let lock =
        StoreLock::acquire(path, command, when_held, |holder| eprintln!("waiting for store {}: it is in use by {holder}", path.display()))?;
    Ok(lock)
}

#[derive(Subcommand)]
pub enum ExecutionsCommand {
    /// List executions, oldest first.
    List {
        #[command(flatten)]
        store: StoreArg,
        /// Only those with this status (RUNNING, SUCCEEDED, FAILED, TIMED_OUT, ABORTED).
        #[arg(long)]
        status: Option<String>,
    },
    /// One execution: its status, times, and its output or error.
    Describe {
        #[command(flatten)]
        store: StoreArg,
        /// The execution's name or ARN.
        execution: String,
    },
    /// An execution's history events.
    History {
        #[command(flatten)]
        store: StoreArg,
        /// The execution's name or ARN.
        execution: String,
        /// Print the events as GetExecutionHistory returns them (JSON).
        #[arg(long)]
        json: bool,
    },
    /// Stop a running execution: it ends ABORTED, whatever it was doing (a
    /// `serve` driving it lets go of it, abandoning a task in progress).
    Stop {
        #[command(flatten)]
        store: StoreArg,
        /// The execution's name or ARN.
        execution: String,
        /// An error name to record (up to 256 characters).
        #[arg(long, default_value = "")]
        error: String,
        /// Why it was stopped (up to 32,768 characters).
        #[arg(long, default_value = "")]
        cause: String,
    },
    /// Start a FAILED, TIMED_OUT or ABORTED execution again from the state it
    /// ended in, with the input that state had (RedriveExecution); a `serve`
    /// on the store, or `resume`, then drives it on.
    Redrive {
        #[command(flatten)]
        store: StoreArg,
        /// The execution's name or ARN.
        execution: String,
    },
}

#[derive(Args)]
pub struct StartArgs {
    /// The state machine definition (ASL JSON).
    definition: PathBuf,
    /// The execution input: JSON text, or @path to a JSON file.
    #[arg(long, default_value = "{}")]
    input: String,
    /// Execution name (default: generated); unique in the store.
    #[arg(long)]
    name: Option<String>,
    /// Resources are checked against this map (default: stepwasm.toml beside
    /// the definition, if present).
    #[command(flatten)]
    config: ConfigArg,
    #[command(flatten)]
    store: StoreArg,
}

/// The `start` subcommand: the definition is checked (its resources too),
/// kept in the store, and the execution recorded as started; it prints the
/// execution's ARN.
pub fn start(args: StartArgs) -> Result<ExitCode> {
    let machine = crate::cli::load_definition(&args.definition)?;
    let input = crate::cli::parse_input(&args.input)?;
    let map = crate::cli::load_resource_map(&args.config, &args.definition)?;
    for (state, resource) in machine.module_resources() {
        map.resolve(resource).map_err(|e| anyhow!("state {state:?}: {e}"))?;
    }
    let store = args.store.open()?;
    let info = crate::driver::execution_info(
        &crate::cli::state_machine_name(&args.definition),
        &args.name.unwrap_or_else(crate::cli::generated_name),
    );
    store.put_state_machine(&info.state_machine_arn, &info.state_machine_name, &std::fs::read_to_string(&args.definition)?)?;
    crate::cli::command_runtime()?.block_on(crate::driver::start_execution(machine, info.clone(), input, &SystemClock, &store))?;
    println!("{}", info.execution_arn);
    Ok(ExitCode::SUCCESS)
}

#[derive(Args)]
pub struct ResumeArgs {
    #[command(flatten)]
    store: StoreArg,
    #[command(flatten)]
    lock: LockArg,
    /// Resource map of the stored state machines (default: `wasm:<name>`
    /// resources are looked up in the current directory).
    #[command(flatten)]
    config: ConfigArg,
    /// Complete Wait states and retry backoffs instantly instead of really waiting.
    #[arg(long)]
    no_wait: bool,
    #[command(flatten)]
    cache: CacheArg,
    /// Crash-loop guard: an execution whose task was running each time this
    /// command stopped (crashed, was killed) this many times in a row, with
    /// no progress in between, is failed (`States.Runtime`) instead of being
    /// resumed again; 0 turns the guard off.
    #[arg(long, default_value_t = CRASH_LIMIT)]
    crash_limit: u32,
}

/// The `executions` subcommands.
pub fn executions(command: ExecutionsCommand) -> Result<ExitCode> {
    match command {
        ExecutionsCommand::List { store, status } => {
            let status = match status {
                Some(name) => Some(
                    ExecutionStatus::parse(&name.to_ascii_uppercase())
                        .ok_or_else(|| anyhow!("--status {name:?}: expected RUNNING, SUCCEEDED, FAILED, TIMED_OUT or ABORTED"))?,
                ),
                None => None,
            };
            println!("{:<10} {:<24} {:<24} NAME", "STATUS", "STARTED", "STOPPED");
            for e in store.open()?.executions(status)? {
                let stopped = e.stop_ms.map(crate::engine::history::rfc3339).unwrap_or_else(|| "-".into());
                println!("{:<10} {:<24} {:<24} {}", e.status.as_str(), crate::engine::history::rfc3339(e.start_ms), stopped, e.info.name);
            }
            Ok(ExitCode::SUCCESS)
        }
        ExecutionsCommand::Describe { store, execution } => {
            let store = store.open()?;
            let summary = find_execution(&store, &execution)?;
            let history = store.history(&summary.info.execution_arn)?;
            println!("execution: {}", summary.info.name);
            println!("arn: {}", summary.info.execution_arn);
            println!("state machine: {}", summary.info.state_machine_arn);
            if let Some((Some(version), _)) = store.execution_definition(&summary.info.execution_arn)? {
                println!("definition version: {version}");
            }
            println!("status: {}", summary.status.as_str());
            println!("started: {}", crate::engine::history::rfc3339(summary.start_ms));
            if let Some(redriven) = summary.redrive_ms {
                println!("redriven: {} time(s), last at {}", summary.redrive_count, crate::engine::history::rfc3339(redriven));
            }
            if let Some(stop) = summary.stop_ms {
                println!("stopped: {}", crate::engine::history::rfc3339(stop));
            }
            println!("events: {}", history.len());
            match history.last().and_then(|e| Outcome::ended_by(&e.kind)) {
                Some(Outcome::Succeeded { output }) => println!("output: {}", serde_json::to_string_pretty(&output)?),
                Some(Outcome::Failed { error, cause } | Outcome::TimedOut { error, cause } | Outcome::Aborted { error, cause }) => {
                    println!("error: {error}");
                    println!("cause: {cause}");
                }
                None => {}
            }
            Ok(ExitCode::SUCCESS)
        }
        ExecutionsCommand::Stop { store, execution, error, cause } => {
            check_error_and_cause(&error, &cause)?;
            let store = store.open()?;
            let summary = find_execution(&store, &execution)?;
            let event = store.stop_execution(&summary.info.execution_arn, &error, &cause, SystemClock.now_ms())?;
            println!("ABORTED {} at {}", summary.info.name, crate::engine::history::rfc3339(event.timestamp_ms));
            Ok(ExitCode::SUCCESS)
        }
        ExecutionsCommand::Redrive { store, execution } => {
            let store = store.open()?;
            let summary = find_execution(&store, &execution)?;
            let redrive = store.redrive_execution(&summary.info.execution_arn, None, SystemClock.now_ms())?;
            let at = crate::engine::history::rfc3339(redrive.redrive_ms);
            println!("RUNNING {} (redrive {}) at {at}", summary.info.name, redrive.redrive_count);
            Ok(ExitCode::SUCCESS)
        }
        ExecutionsCommand::History { store, execution, json } => {
            let store = store.open()?;
            let summary = find_execution(&store, &execution)?;
            let history = store.history(&summary.info.execution_arn)?;
            if json {
                let events: Vec<_> = history.iter().map(HistoryEvent::to_aws_json).collect();
                println!("{}", serde_json::to_string_pretty(&serde_json::json!({ "events": events }))?);
            } else {
                print!("{}", history_table(&history));
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// AWS's limits on the error and cause that StopExecution and
/// SendTaskFailure take, said as the command line's flags.
pub fn check_error_and_cause(error: &str, cause: &str) -> Result<()> {
    crate::engine::check_error_and_cause(error, cause).map_err(|e| anyhow!("--{e}"))
}

/// An execution by ARN, or by name when exactly one has it.
fn find_execution(store: &SqliteStore, name_or_arn: &str) -> Result<ExecutionSummary> {
    if name_or_arn.starts_with("arn:") {
        return store.execution(name_or_arn)?.ok_or_else(|| anyhow!("no execution {name_or_arn} in the store"));
    }
    let mut named: Vec<ExecutionSummary> = store.executions(None)?.into_iter().filter(|e| e.info.name == name_or_arn).collect();
    match named.len() {
        0 => bail!("no execution named {name_or_arn:?} in the store"),
        1 => Ok(named.remove(0)),
        _ => {
            let arns: Vec<&str> = named.iter().map(|e| e.info.execution_arn.as_str()).collect();
            bail!("{} executions are named {name_or_arn:?}; give one of their ARNs: {}", arns.len(), arns.join(", "))
        }
    }
}

/// The `resume` subcommand: every RUNNING execution in the store, continued
/// to its end one after another. Exit 0 when all of them succeed, 1 when
/// one fails, 2 when one cannot be resumed (the others still are).
pub fn resume(args: ResumeArgs) -> Result<ExitCode> {
    let (_lock, store) = args.store.open_exclusive(&args.lock, "stepwasm resume")?;
    let machines = crate::machines::StoredMachines::new(args.config.machine_settings(&args.cache)?, &args.store.store);
    machines.map_registered(&store)?;
    let clock: Box<dyn Clock> = if args.no_wait { Box::new(VirtualClock::starting_now()) } else { Box::new(SystemClock) };
    let running = store.executions(Some(ExecutionStatus::Running))?;
    let tokio = crate::cli::command_runtime()?;
    println!("{} running execution(s) in {}", running.len(), args.store.store.display());
    let mut code = ExitCode::SUCCESS;
    for execution in running {
        let loaded = match machines.get(&store, &execution.info) {
            Ok(loaded) => loaded,
            Err(e) => {
                eprintln!("error: cannot resume {}: {e:#}", execution.info.execution_arn);
                code = ExitCode::from(2);
                continue;
            }
        };
        // Noted before anything of it is evaluated (the crash-loop guard).
        if args.crash_limit > 0 {
            // `resume` does not park: any wait may be where it was stopped
            // (Ctrl-C), so only stops during a task are counted.
            let guard = CrashGuard { limit: args.crash_limit, waits_up_to_ms: i64::MAX };
            match store.begin_drive(&execution.info.execution_arn, guard, SystemClock.now_ms()) {
                Ok(DriveStart::Go { .. }) => {}
                Ok(DriveStart::Failed { error, cause }) => {
                    println!("execution: {}\nstatus: FAILED\nerror: {error}\ncause: {cause}", execution.info.name);
                    if code == ExitCode::SUCCESS {
                        code = ExitCode::from(1);
                    }
                    continue;
                }
                Err(e) => {
                    eprintln!("error: cannot resume {}: {e}", execution.info.execution_arn);
                    code = ExitCode::from(2);
                    continue;
                }
            }
        }
        let (machine, runtime) = &*loaded;
        let outcome = tokio.block_on(resume_execution(machine.clone(), execution.info.clone(), runtime, clock.as_ref(), &store));
        match outcome {
            Ok(record) => {
                print_record(&record);
                if !matches!(record.outcome, Outcome::Succeeded { .. }) && code == ExitCode::SUCCESS {
                    code = ExitCode::from(1);
                }
            }
            Err(e) => {
                eprintln!("error: cannot resume {}: {e}", execution.info.execution_arn);
                // This command did not die resuming it: no crash is counted.
                if let Err(e) = store.end_drive(&execution.info.execution_arn) {
                    eprintln!("error: {}: {e}", execution.info.execution_arn);
                }
                code = ExitCode::from(2);
            }
        }
    }
    Ok(code)
}
