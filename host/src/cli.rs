//! The `stepwasm` command line: `run`, `validate`, `graph` and `bench`; the
//! store's commands (`executions`, `start`, `resume`) are in
//! [`crate::executions`], `serve` in [`crate::serve`], `task` in
//! [`crate::callbacks`].
//!
//! Exit codes: 0 the execution succeeded (or the definition is valid), 1 the
//! execution failed, timed out or was stopped, 2 a bad definition, input,
//! config, module, store or task token.

use crate::asl::{parse_definition, StateMachine};
use crate::driver::{execution_info, run_execution, run_recorded, Clock, ExecutionRecord, SystemClock, VirtualClock};
use crate::engine::{HistoryEvent, Outcome};
use crate::runtime::{CacheOutcome, CompileCache, ResourceMap, WasmRuntime};
use crate::store::Store as _;
use anyhow::{anyhow, Context as _, Result};
use clap::{Args, Parser, Subcommand};
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

/// Name of the resource map looked for beside a definition.
pub const CONFIG_FILE_NAME: &str = "stepwasm.toml";

#[derive(Parser)]
#[command(name = "stepwasm", version, about = "Run Amazon States Language workflows whose tasks are WebAssembly components")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run one execution of a state machine and print its status and output.
    Run(RunArgs),
    /// Check a definition (and, with a config, its resources) and list every problem.
    Validate(ValidateArgs),
    /// Measure executions per second and latency, WASM modules vs native handlers.
    Bench(crate::bench::BenchArgs),
    /// Read the executions a store holds.
    #[command(subcommand)]
    Executions(crate::executions::ExecutionsCommand),
    /// Continue every execution a store holds as running (after a crash).
    Resume(crate::executions::ResumeArgs),
    /// Add an execution to a store without running it (`serve` runs it).
    Start(crate::executions::StartArgs),
    /// Drive every running execution of a store, and those started later.
    Serve(crate::serve::ServeArgs),
    /// Answer a task that waits for its token (`.waitForTaskToken`).
    #[command(subcommand)]
    Task(crate::callbacks::TaskCommand),
    /// Check a store file's integrity, or prune its old executions.
    #[command(subcommand)]
    Store(crate::store_cli::StoreCommand),
    /// Draw a definition: states, transitions, branches (SVG, DOT or Mermaid).
    Graph(GraphArgs),
    /// Internal: compile the component on stdin in a limited process (see
    /// runtime::compile_worker); what `serve` runs for uploaded modules.
    #[command(name = "__compile-worker", hide = true)]
    CompileWorker,
}

#[derive(Args)]
struct RunArgs {
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
}

#[derive(Args)]
struct ValidateArgs {
    /// The state machine definition (ASL JSON).
    definition: PathBuf,
    #[command(flatten)]
    config: ConfigArg,
    #[command(flatten)]
    cache: CacheArg,
}

#[derive(Args)]
struct GraphArgs {
    /// The state machine definition (ASL JSON).
    definition: PathBuf,
    #[arg(long, value_enum, default_value_t = GraphFormat::Svg)]
    format: GraphFormat,
    /// Write the picture here instead of to standard output.
    #[arg(long, short)]
    output: Option<PathBuf>,
}

#[derive(Clone, Copy, clap::ValueEnum)]
enum GraphFormat {
    Svg,
    Dot,
    Mermaid,
}

/// The `graph` subcommand: the definition's picture, offline.
fn graph(args: GraphArgs) -> Result<ExitCode> {
    let machine = load_definition(&args.definition)?;
    let diagram = crate::graph::Diagram::of(&machine);
    let title = state_machine_name(&args.definition);
    let text = match args.format {
        GraphFormat::Svg => crate::graph::svg::svg(&diagram, &title),
        GraphFormat::Dot => crate::graph::text::dot(&diagram, &title),
        GraphFormat::Mermaid => crate::graph::text::mermaid(&diagram),
    };
    match &args.output {
        Some(path) => std::fs::write(path, text).with_context(|| format!("cannot write {}", path.display()))?,
        None => print!("{text}"),
    }
    Ok(ExitCode::SUCCESS)
}

#[derive(Args, Clone)]
pub struct CacheArg {
    /// Where compiled modules are kept between runs (default: $STEPWASM_CACHE_DIR,
    /// else $XDG_CACHE_HOME/stepwasm, else ~/.cache/stepwasm).
    #[arg(long)]
    pub cache_dir: Option<PathBuf>,
    /// Compile every module afresh and keep nothing on disk.
    #[arg(long)]
    pub no_cache: bool,
}

impl CacheArg {
    pub fn dir(&self) -> Option<PathBuf> {
        if self.no_cache {
            None
        } else {
            self.cache_dir.clone().or_else(CompileCache::default_dir)
        }
    }
}

/// Loads the machine's modules, through the compile cache when one is set;
/// a damaged cache entry or one that could not be written is worth a warning.
pub fn load_runtime(machine: &StateMachine, map: &ResourceMap, cache: &CacheArg) -> Result<WasmRuntime> {
    let runtime = WasmRuntime::for_machine_cached(machine, map, cache.dir().as_deref())?;
    for (module, outcome) in runtime.cache_report() {
        match outcome {
            CacheOutcome::Replaced(why) => eprintln!("warning: {why}; recompiled {}", module.display()),
            CacheOutcome::NotStored(why) => eprintln!("warning: compiled {} but cannot cache it: {why}", module.display()),
            CacheOutcome::Hit | CacheOutcome::Stored => {}
        }
    }
    Ok(runtime)
}

#[derive(Args, Clone)]
pub struct ConfigArg {
    /// Resource map (default: stepwasm.toml beside the definition, if present;
    /// for serve and resume, which read definitions from the store: wasm:<name>
    /// modules in the current directory).
    #[arg(long)]
    pub config: Option<PathBuf>,
}

/// Entry point of the binary.
pub fn main() -> ExitCode {
    crate::runtime::compile_worker::mark_binary_as_worker();
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Run(args) => run(args),
        Command::Validate(args) => validate(args),
        Command::Bench(args) => crate::bench::bench(args),
        Command::Executions(command) => crate::executions::executions(command),
        Command::Resume(args) => crate::executions::resume(args),
        Command::Start(args) => crate::executions::start(args),
        Command::Serve(args) => crate::serve::serve(args),
        Command::Task(command) => crate::callbacks::task(command),
        Command::Store(command) => crate::store_cli::store(command),
        Command::Graph(args) => graph(args),
        Command::CompileWorker => return crate::runtime::compile_worker::worker_main(),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(2)
        }
    }
}

/// Reads and validates a definition file; the error lists every problem.
pub fn load_definition(path: &Path) -> Result<Arc<StateMachine>> {
    let text = std::fs::read_to_string(path).with_context(|| format!("cannot read definition {}", path.display()))?;
    parse_definition(&text).map(Arc::new).map_err(|e| anyhow!("{}: {e}", path.display()))
}

/// The explicit config, else `stepwasm.toml` beside the definition, else none.
pub fn find_config(arg: &ConfigArg, definition: &Path) -> Option<PathBuf> {
    arg.config.clone().or_else(|| {
        let beside = definition.parent().unwrap_or(Path::new(".")).join(CONFIG_FILE_NAME);
        beside.is_file().then_some(beside)
    })
}

/// The resource map for a definition (see [`find_config`]); without a config
/// file, `wasm:<name>` resources are looked up beside the definition.
pub fn load_resource_map(arg: &ConfigArg, definition: &Path) -> Result<ResourceMap> {
    Ok(match find_config(arg, definition) {
        Some(path) => ResourceMap::load(&path)?,
        None => ResourceMap::with_module_dir(definition.parent().unwrap_or(Path::new("."))),
    })
}

pub fn parse_input(arg: &str) -> Result<Value> {
    parse_json_arg(arg, "--input", "input")
}

/// A JSON payload given as `flag` (`what` it is, for messages): JSON text
/// or @path to a JSON file, within the 256 KiB payload limit.
pub fn parse_json_arg(arg: &str, flag: &str, what: &str) -> Result<Value> {
    let (text, from) = match arg.strip_prefix('@') {
        Some(path) => (std::fs::read_to_string(path).with_context(|| format!("cannot read {what} file {path}"))?, path),
        None => (arg.to_string(), flag),
    };
    let value: Value = serde_json::from_str(&text).with_context(|| format!("{from}: the {what} is not valid JSON"))?;
    let size = crate::asl::size::json_size(&value);
    if size > crate::engine::MAX_PAYLOAD_BYTES {
        anyhow::bail!(
            "{from}: the {what} is {size} bytes, over the limit of {} bytes (States.DataLimitExceeded)",
            crate::engine::MAX_PAYLOAD_BYTES
        );
    }
    Ok(value)
}

pub fn state_machine_name(definition: &Path) -> String {
    let stem = definition.file_name().and_then(|n| n.to_str()).unwrap_or("state-machine");
    stem.split('.').next().unwrap_or(stem).to_string()
}

pub fn generated_name() -> String {
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_nanos()).unwrap_or(0);
    format!("run-{:x}-{:x}", nanos, std::process::id())
}

fn run(args: RunArgs) -> Result<ExitCode> {
    // One process drives a store at a time: held until the run ends.
    let _lock = match &args.store {
        Some(path) => Some(crate::executions::lock_store(path, args.wait_for_lock, "stepwasm run")?),
        None => None,
    };
    let machine = load_definition(&args.definition)?;
    let input = parse_input(&args.input)?;
    let mut map = load_resource_map(&args.config, &args.definition)?;
    if let Some(store) = &args.store {
        map.keep_kv_in(store);
    }
    let runtime = load_runtime(&machine, &map, &args.cache)?;
    let info = execution_info(&state_machine_name(&args.definition), &args.name.unwrap_or_else(generated_name));
    let clock: Box<dyn Clock> = if args.no_wait { Box::new(VirtualClock::starting_now()) } else { Box::new(SystemClock) };
    let record = match &args.store {
        Some(path) => {
            let store = crate::store::SqliteStore::open(path)?;
            let text = std::fs::read_to_string(&args.definition)?;
            store.put_state_machine(&info.state_machine_arn, &info.state_machine_name, &text)?;
            run_recorded(machine, info, input, &runtime, clock.as_ref(), &store)?
        }
        None => run_execution(machine, info, input, &runtime, clock.as_ref()).map_err(|e| anyhow!("engine error: {e}"))?,
    };
    print_record(&record);
    if args.logs {
        for line in runtime.take_logs() {
            println!("log {:5} [{}] {}", line.level, line.state, line.message);
        }
    }
    if args.history {
        print!("{}", history_table(&record.history));
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

fn validate(args: ValidateArgs) -> Result<ExitCode> {
    let text =
        std::fs::read_to_string(&args.definition).with_context(|| format!("cannot read definition {}", args.definition.display()))?;
    let machine = match parse_definition(&text) {
        Ok(m) => m,
        Err(e) => {
            print!("{}: {e}", args.definition.display());
            return Ok(ExitCode::from(2));
        }
    };
    let resources = match find_config(&args.config, &args.definition) {
        Some(path) => {
            let map = ResourceMap::load(&path)?;
            if let Err(e) = load_runtime(&machine, &map, &args.cache) {
                println!("{}: {e}", args.definition.display());
                return Ok(ExitCode::from(2));
            }
            format!("resources checked against {}", path.display())
        }
        None => format!("resources not checked (no {CONFIG_FILE_NAME} given or beside the definition)"),
    };
    let tasks = machine.task_resources().len();
    println!("{}: valid: {} states, {tasks} task(s); {resources}", args.definition.display(), machine.root.all_states().len());
    Ok(ExitCode::SUCCESS)
}
