//! `stepwasm run`: one execution of a definition, in this process, printed
//! (status, output or error; with `--history` its events as a table), or
//! with `--output json` as one JSON object for scripts.

use super::inputs::{
    command_runtime, generated_name, load_definition, load_resource_map, load_runtime, parse_input, state_machine_name, CacheArg, ConfigArg,
};
use crate::driver::{execution_info, run_execution, run_recorded, Clock, ExecutionRecord, SystemClock, VirtualClock};
use crate::engine::{ExecutionInfo, HistoryEvent, Outcome};
use crate::store::Store as _;
use crate::tasks::HostTasks;
use anyhow::{anyhow, Result};
use clap::{Args, ValueEnum};
use serde_json::{json, Value};
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Args)]
pub struct RunArgs {
    /// The state machine definition (ASL JSON).
    definition: PathBuf,
    /// The execution input: JSON text, or @path to a JSON file.
    #[arg(long, default_value = "{}")]
    input: String,
    #[command(flatten)]
    config: ConfigArg,
    /// Print the execution's history as a table.
    #[arg(long)]
    history: bool,
    /// Print the lines task modules logged.
    #[arg(long)]
    logs: bool,
    /// Execution name (default: generated).
    #[arg(long)]
    name: Option<String>,
    /// Complete Wait states and retry backoffs instantly instead of really waiting.
    #[arg(long)]
    no_wait: bool,
    #[command(flatten)]
    cache: CacheArg,
    /// Journal the execution and its history in this store file (SQLite,
    /// created on first use), so `executions` can show it and `resume` can
    /// continue it after a crash.
    #[arg(long)]
    store: Option<PathBuf>,
    /// With --store: when another process drives that store, wait until it
    /// exits instead of exiting 2.
    #[arg(long, requires = "store")]
    wait_for_lock: bool,
    /// How the result is printed: `text` (lines for people) or `json` (one
    /// object: executionArn, name, status, lastState, output or error and
    /// cause, and with --logs / --history the logs and the history events
    /// as GetExecutionHistory gives them).
    #[arg(long, value_enum, default_value_t = OutputFormat::Text)]
    output: OutputFormat,
    /// Run this test case of the mock config (--mock-config or
    /// SFN_MOCK_CONFIG) for this state machine, named after the definition
    /// file (`orders.asl.json` is `orders`): the states it mocks answer from
    /// it; a resource neither mapped nor mocked fails when it is reached.
    #[arg(long, value_name = "NAME")]
    test_case: Option<String>,
    /// The role the execution runs as (`$$.Execution.RoleArn`); default
    /// `arn:aws:iam::<account>:role/stepwasm-execution`.
    #[arg(long, value_name = "ARN")]
    role_arn: Option<String>,
    #[command(flatten)]
    fanout: crate::cli::inputs::FanoutArg,
}

/// How `run` prints its result.
#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
enum OutputFormat {
    Text,
    Json,
}

/// The `run` subcommand.
pub fn run(args: RunArgs) -> Result<ExitCode> {
    args.fanout.apply();
    // One process drives a store at a time: held until the run ends.
    let _lock = match &args.store {
        Some(path) => Some(crate::cli::store_flags::lock_store(path, args.wait_for_lock, "stepwasm run")?),
        None => None,
    };
    let machine = load_definition(&args.definition)?;
    let input = parse_input(&args.input)?;
    let mut map = load_resource_map(&args.config, &args.definition)?;
    if let Some(store) = &args.store {
        map.keep_kv_in(store);
    }
    let sm_name = state_machine_name(&args.definition);
    let test_case = match &args.test_case {
        Some(name) => {
            let mocks = args
                .config
                .mocks()?
                .ok_or_else(|| anyhow!("--test-case {name}: no mock config was given (--mock-config FILE, or SFN_MOCK_CONFIG)"))?;
            Some(mocks.test_case(&sm_name, name).map_err(|why| anyhow!("--test-case {name}: {why}"))?)
        }
        None => None,
    };
    let runtime = match test_case {
        // Mocked states need no module; an unmapped one that is not mocked fails when reached.
        Some(_) => crate::machines::load_runtime(&machine, &map, args.cache.dir().as_deref(), crate::runtime::Unmapped::FailWhenRun)?,
        None => load_runtime(&machine, &map, &args.cache)?,
    };
    let mut info =
        ExecutionInfo { test_case: args.test_case.clone(), ..execution_info(&sm_name, &args.name.unwrap_or_else(generated_name)) };
    if let Some(role_arn) = &args.role_arn {
        if !crate::engine::arn::is_iam_role_arn(role_arn) {
            anyhow::bail!("--role-arn {role_arn:?} is not an IAM role ARN (arn:aws:iam::<12-digit account>:role/<name>)");
        }
        info.role_arn = role_arn.clone();
    }
    let clock: Box<dyn Clock> = if args.no_wait { Box::new(VirtualClock::starting_now()) } else { Box::new(SystemClock) };
    let tasks =
        HostTasks::wasm_only(&runtime).with_mock(test_case.as_deref()).with_http_tasks(map.http_tasks()).with_s3_buckets(map.s3_buckets());
    let tokio = command_runtime()?;
    let record = match &args.store {
        Some(path) => {
            let store = crate::store::SqliteStore::open(path)?;
            let text = std::fs::read_to_string(&args.definition)?;
            store.put_state_machine(&info.state_machine_arn, &info.state_machine_name, &text)?;
            tokio.block_on(run_recorded(machine, info, input, &tasks, clock.as_ref(), &store))?
        }
        None => tokio.block_on(run_execution(machine, info, input, &tasks, clock.as_ref())).map_err(|e| anyhow!("engine error: {e}"))?,
    };
    let logs = if args.logs { runtime.take_logs() } else { Vec::new() };
    match args.output {
        OutputFormat::Text => {
            print_record(&record);
            for line in &logs {
                println!("log {:5} [{}] {}", line.level, line.state, line.message);
            }
            if args.history {
                print!("{}", history_table(&record.history));
            }
        }
        OutputFormat::Json => {
            let mut result = record_json(&record);
            if args.logs {
                result["logs"] = logs.iter().map(|l| json!({"state": l.state, "level": l.level, "message": l.message})).collect();
            }
            if args.history {
                let region = crate::engine::arn::region_of(&record.info.execution_arn);
                result["events"] = record.history.iter().map(|e| e.to_aws_json(region)).collect();
            }
            println!("{result}");
        }
    }
    Ok(match record.outcome {
        Outcome::Succeeded { .. } => ExitCode::SUCCESS,
        Outcome::Failed { .. } | Outcome::TimedOut { .. } | Outcome::Aborted { .. } => ExitCode::from(1),
    })
}

pub fn print_record(record: &ExecutionRecord) {
    println!("execution: {}", record.info.name);
    match &record.outcome {
        Outcome::Succeeded { output } => {
            println!("status: SUCCEEDED");
            println!("last state: {}", record.last_state().unwrap_or("-"));
            println!("output: {}", serde_json::to_string_pretty(output).unwrap_or_default());
        }
        Outcome::Failed { error, cause } | Outcome::TimedOut { error, cause } | Outcome::Aborted { error, cause } => {
            println!("status: {}", crate::store::ExecutionStatus::of(&record.outcome).as_str());
            println!("last state: {}", record.last_state().unwrap_or("-"));
            println!("error: {error}");
            println!("cause: {cause}");
        }
    }
}

/// The execution's result as one JSON object, named as DescribeExecution
/// names its members (`output` as JSON, not as text).
fn record_json(record: &ExecutionRecord) -> Value {
    let mut result = json!({
        "executionArn": record.info.execution_arn,
        "name": record.info.name,
        "status": crate::store::ExecutionStatus::of(&record.outcome).as_str(),
        "lastState": record.last_state(),
    });
    match &record.outcome {
        Outcome::Succeeded { output } => result["output"] = output.clone(),
        Outcome::Failed { error, cause } | Outcome::TimedOut { error, cause } | Outcome::Aborted { error, cause } => {
            result["error"] = json!(error);
            result["cause"] = json!(cause);
        }
    }
    result
}

/// The history as a fixed-width table: id, scope (branch/iteration path,
/// empty at the top level), type, time since start, details.
pub fn history_table(history: &[HistoryEvent]) -> String {
    let start = history.first().map(|e| e.timestamp_ms).unwrap_or(0);
    let mut out = format!("{:>4}  {:<7} {:<22} {:>8}  {}\n", "ID", "SCOPE", "TYPE", "+MS", "DETAILS");
    for e in history {
        let mut details = e.kind.summary();
        if details.chars().count() > 110 {
            details = details.chars().take(109).collect::<String>() + "…";
        }
        let scope = e.scope.to_string();
        out.push_str(&format!("{:>4}  {:<7} {:<22} {:>8}  {}\n", e.id, scope, e.kind.type_name(), e.timestamp_ms - start, details));
    }
    out
}
