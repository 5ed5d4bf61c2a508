//! What the commands share: where a definition's resource map is found,
//! the compile cache's flags, and definitions, JSON arguments and error
//! names and causes read with errors that name the file or flag.

use crate::asl::{parse_definition, StateMachine};
use crate::machines::MachineSettings;
use crate::runtime::{CompileCache, ResourceMap, WasmRuntime};
use crate::tasks::mocks::MockConfig;
use anyhow::{anyhow, Context as _, Result};
use clap::Args;
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// `--max-concurrent-children`: how much of a fan-out runs at once.
#[derive(Args, Clone, Copy)]
pub struct FanoutArg {
    /// At most this many Map iterations of one Map state run at once when
    /// its MaxConcurrency is 0, absent or larger, and at most this many
    /// tasks, callbacks and activity tasks of one execution are in flight
    /// at once (Parallel branches and Map iterations run concurrently).
    #[arg(long, value_name = "N", default_value_t = crate::engine::DEFAULT_MAX_CHILDREN)]
    pub max_concurrent_children: usize,
}

impl FanoutArg {
    /// Sets the cap for every execution this process drives.
    pub fn apply(self) {
        crate::driver::set_max_concurrent_children(self.max_concurrent_children);
    }
}

/// Name of the resource map looked for beside a definition.
pub const CONFIG_FILE_NAME: &str = "stepwasm.toml";

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

/// Loads the machine's modules through the cache the flags choose
/// ([`crate::machines::load_runtime`]).
pub fn load_runtime(machine: &StateMachine, map: &ResourceMap, cache: &CacheArg) -> Result<WasmRuntime> {
    crate::machines::load_runtime(machine, map, cache.dir().as_deref(), crate::runtime::Unmapped::Refuse)
}

#[derive(Args, Clone)]
pub struct ConfigArg {
    /// Resource map (default: stepwasm.toml beside the definition, if present;
    /// for serve and resume, which read definitions from the store: wasm:<name>
    /// modules in the current directory).
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// SFN Local's mock config (MockConfigFile.json): an execution started
    /// as `<state machine ARN>#<test case>` (or `run --test-case`) answers the
    /// Task states its test case mocks from it.
    #[arg(long, env = "SFN_MOCK_CONFIG", value_name = "FILE")]
    pub mock_config: Option<PathBuf>,
}

impl ConfigArg {
    /// What `serve` and `resume` run the store's machines with: the config's
    /// map, else `wasm:<name>` modules in the current directory; the cache
    /// the flags choose.
    pub fn machine_settings(&self, cache: &CacheArg) -> Result<MachineSettings> {
        let resources = match &self.config {
            Some(path) => ResourceMap::load(path)?,
            None => ResourceMap::with_module_dir(Path::new(".")),
        };
        Ok(MachineSettings { resources, cache_dir: cache.dir(), mocks: self.mocks()? })
    }

    /// The mock config `--mock-config` (or `SFN_MOCK_CONFIG`) names, checked.
    pub fn mocks(&self) -> Result<Option<Arc<MockConfig>>> {
        Ok(match &self.mock_config {
            Some(path) => Some(Arc::new(MockConfig::load(path)?)),
            None => None,
        })
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

/// The tokio runtime a command runs the async library on (the driver, the
/// WASM runtime); one per command, on the calling thread.
pub fn command_runtime() -> Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_current_thread().enable_all().build().context("cannot start the tokio runtime")
}

/// AWS's limits on the error and cause that StopExecution and
/// SendTaskFailure take, said as the command line's flags.
pub fn check_error_and_cause(error: &str, cause: &str) -> Result<()> {
    crate::engine::check_error_and_cause(error, cause).map_err(|e| anyhow!("--{e}"))
}
