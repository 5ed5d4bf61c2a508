//! Running task components on wasmtime.
//!
//! Each component file is compiled once and pre-instantiated ([`TaskPre`]);
//! every invocation gets a fresh `Store` and instance from the pooling
//! allocator, with a fuel budget, a linear-memory cap and a wall-clock deadline
//! (epoch interruption, ticked by a background thread). WASI is linked with an
//! empty context: no preopened directories, no environment, no arguments, no
//! sockets; stderr goes to a small buffer so a guest's panic message can be
//! quoted in the task's cause.

use super::cache::{CacheOutcome, CompileCache};
use super::config::{Limits, ResourceMap, ResourceSpec};
use super::limits::{self, LimitHit, Limiter};
use crate::asl::StateMachine;
use crate::asl::ValidationError;
use crate::driver::{TaskOutcome, TaskRunner};
use crate::engine::TaskInvocation;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use wasmtime::component::{Component, HasSelf, Linker, ResourceTable};
use wasmtime::{Config, Engine, InstanceAllocationStrategy, PoolingAllocationConfig, Store};
use wasmtime_wasi::p2::pipe::MemoryOutputPipe;
use wasmtime_wasi::{WasiCtx, WasiCtxBuilder, WasiCtxView, WasiView};

wasmtime::component::bindgen!({
    path: "../wit",
    world: "task",
});

use stepwasm::task::log::Level;
use stepwasm::task::types::Context as WitContext;

/// How often the epoch advances: the granularity of wall-clock limits.
pub const EPOCH_TICK: Duration = Duration::from_millis(10);
/// How much of a guest's stderr is kept (the tail of a panic message).
const STDERR_CAPTURE_BYTES: usize = 4096;
/// Log lines kept per invocation, and the length each is cut to.
const MAX_LOG_LINES: usize = 100;
const MAX_LOG_LINE_BYTES: usize = 1024;

/// One line a module logged.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogLine {
    pub state: String,
    pub level: &'static str,
    pub message: String,
}

/// Per-invocation store data.
struct Invocation {
    wasi: WasiCtx,
    table: ResourceTable,
    limiter: Limiter,
    logs: Vec<LogLine>,
    dropped_logs: usize,
    state: String,
}

impl WasiView for Invocation {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView { ctx: &mut self.wasi, table: &mut self.table }
    }
}

impl stepwasm::task::types::Host for Invocation {}

impl stepwasm::task::log::Host for Invocation {
    fn log(&mut self, level: Level, message: String) {
        if self.logs.len() >= MAX_LOG_LINES {
            self.dropped_logs += 1;
            return;
        }
        let level = match level {
            Level::Debug => "debug",
            Level::Info => "info",
            Level::Warn => "warn",
            Level::Error => "error",
        };
        let message = limits::bounded(message, MAX_LOG_LINE_BYTES);
        self.logs.push(LogLine { state: self.state.clone(), level, message });
    }
}

/// A component ready to instantiate, with the limits of the resource using it.
struct LoadedResource {
    pre: TaskPre<Invocation>,
    limits: Limits,
    module_path: PathBuf,
}

/// Advances the engine's epoch every [`EPOCH_TICK`] until dropped.
struct EpochTicker {
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl EpochTicker {
    fn start(engine: Engine) -> std::io::Result<EpochTicker> {
        let stop = Arc::new(AtomicBool::new(false));
        let flag = Arc::clone(&stop);
        let thread = std::thread::Builder::new()
            .name("stepwasm-epoch".into())
            .spawn(move || {
                while !flag.load(Ordering::Relaxed) {
                    std::thread::sleep(EPOCH_TICK);
                    engine.increment_epoch();
                }
            })?;
        Ok(EpochTicker { stop, thread: Some(thread) })
    }
}

impl Drop for EpochTicker {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// Why the runtime could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum RuntimeError {
    #[error("cannot create the wasmtime engine: {0:#}")]
    Engine(wasmtime::Error),
    #[error("cannot start the epoch thread that enforces wall-clock limits: {0}")]
    Ticker(std::io::Error),
    #[error("{}", format_problems(.0))]
    Resources(Vec<ValidationError>),
}

fn format_problems(problems: &[ValidationError]) -> String {
    let mut s = format!("cannot load the task modules: {} problem(s)", problems.len());
    for p in problems {
        s.push_str(&format!("\n  {p}"));
    }
    s
}

/// The WASM task runtime: resources resolved to pre-instantiated components.
pub struct WasmRuntime {
    engine: Engine,
    linker: Linker<Invocation>,
    resources: HashMap<String, LoadedResource>,
    compiled: HashMap<PathBuf, Component>,
    /// Where compiled components are kept between processes, if anywhere.
    cache: Option<CompileCache>,
    /// What the cache did for each module file, in load order.
    cache_report: Vec<(PathBuf, CacheOutcome)>,
    logs: Mutex<Vec<LogLine>>,
    _ticker: EpochTicker,
}

fn engine_config(max_memory_bytes: usize, pooling: bool) -> Config {
    let mut config = Config::new();
    config.consume_fuel(true);
    config.epoch_interruption(true);
    config.wasm_component_model(true);
    if pooling {
        let mut pool = PoolingAllocationConfig::default();
        pool.total_component_instances(256);
        pool.total_core_instances(2048);
        pool.total_memories(512);
        pool.total_tables(1024);
        pool.max_memory_size(max_memory_bytes);
        config.allocation_strategy(InstanceAllocationStrategy::Pooling(pool));
    }
    config
}

impl WasmRuntime {
    /// An empty runtime whose memory caps may go up to `max_memory_bytes`.
    pub fn new(max_memory_bytes: usize) -> Result<WasmRuntime, RuntimeError> {
        // The pooling allocator reserves address space up front; where the
        // system refuses that, fall back to on-demand allocation.
        let engine = Engine::new(&engine_config(max_memory_bytes, true))
            .or_else(|_| Engine::new(&engine_config(max_memory_bytes, false)))
            .map_err(RuntimeError::Engine)?;
        let mut linker = Linker::new(&engine);
        wasmtime_wasi::p2::add_to_linker_sync(&mut linker).map_err(RuntimeError::Engine)?;
        Task::add_to_linker::<_, HasSelf<_>>(&mut linker, |s| s).map_err(RuntimeError::Engine)?;
        Ok(WasmRuntime {
            _ticker: EpochTicker::start(engine.clone()).map_err(RuntimeError::Ticker)?,
            engine,
            linker,
            resources: HashMap::new(),
            compiled: HashMap::new(),
            cache: None,
            cache_report: Vec::new(),
            logs: Mutex::new(Vec::new()),
        })
    }

    /// Keeps compiled components in `dir` between processes (see [`CompileCache`]).
    pub fn use_cache_dir(&mut self, dir: impl Into<PathBuf>) {
        self.cache = Some(CompileCache::new(dir, &self.engine));
    }

    /// What the compile cache did for each module loaded so far.
    pub fn cache_report(&self) -> &[(PathBuf, CacheOutcome)] {
        &self.cache_report
    }

    /// A runtime with every Task resource of `machine` loaded: all problems
    /// (unmapped resource, missing file, not a component, wrong world) are
    /// reported together, located at `States.<name>.Resource`, before anything runs.
    pub fn for_machine(machine: &StateMachine, map: &ResourceMap) -> Result<WasmRuntime, RuntimeError> {
        WasmRuntime::for_machine_cached(machine, map, None)
    }

    /// [`WasmRuntime::for_machine`], keeping compiled components in `cache_dir`.
    pub fn for_machine_cached(machine: &StateMachine, map: &ResourceMap, cache_dir: Option<&Path>) -> Result<WasmRuntime, RuntimeError> {
        let mut specs = Vec::new();
        let mut problems = Vec::new();
        for (state, resource) in machine.task_resources() {
            match map.resolve(resource) {
                Ok(spec) => specs.push((state.to_string(), resource.to_string(), spec)),
                Err(why) => problems.push(ValidationError::new(&format!("States.{state}.Resource"), why)),
            }
        }
        let max_memory = specs.iter().map(|(_, _, s)| s.limits.memory_bytes).max().unwrap_or(Limits::default().memory_bytes);
        let mut runtime = WasmRuntime::new(max_memory)?;
        if let Some(dir) = cache_dir {
            runtime.use_cache_dir(dir);
        }
        for (state, resource, spec) in specs {
            if let Err(why) = runtime.add_resource(&resource, spec) {
                problems.push(ValidationError::new(&format!("States.{state}.Resource"), why));
            }
        }
        if problems.is_empty() {
            Ok(runtime)
        } else {
            Err(RuntimeError::Resources(problems))
        }
    }

    /// Loads (or reuses) the component for `resource`.
    pub fn add_resource(&mut self, resource: &str, spec: ResourceSpec) -> Result<(), String> {
        if self.resources.contains_key(resource) {
            return Ok(());
        }
        let component = match self.compiled.get(&spec.module_path) {
            Some(c) => c.clone(),
            None => {
                let bytes = read_module(&spec.module_path)?;
                let c = match &self.cache {
                    None => compile(&self.engine, &spec.module_path, &bytes)?,
                    Some(cache) => {
                        let (c, outcome) =
                            cache.load_or_compile(&self.engine, &bytes, |b| compile(&self.engine, &spec.module_path, b))?;
                        self.cache_report.push((spec.module_path.clone(), outcome));
                        c
                    }
                };
                self.compiled.insert(spec.module_path.clone(), c.clone());
                c
            }
        };
        let shown = spec.module_path.display();
        let instance_pre = self
            .linker
            .instantiate_pre(&component)
            .map_err(|e| format!("module {shown} cannot be linked: {e:#}"))?;
        let pre = TaskPre::new(instance_pre).map_err(|e| {
            format!("module {shown} does not implement the stepwasm:task world (export stepwasm:task/handler@0.1.0): {e:#}")
        })?;
        self.resources.insert(resource.to_string(), LoadedResource { pre, limits: spec.limits, module_path: spec.module_path });
        Ok(())
    }

    /// Drains the log lines modules have written so far.
    pub fn take_logs(&self) -> Vec<LogLine> {
        std::mem::take(&mut *self.logs.lock().unwrap_or_else(|e| e.into_inner()))
    }

    /// Runs one invocation under the resource's limits.
    pub fn invoke(&self, task: &TaskInvocation) -> TaskOutcome {
        let Some(loaded) = self.resources.get(&task.resource) else {
            return TaskOutcome::Failed {
                error: crate::asl::errors::TASK_FAILED.into(),
                cause: format!("resource {:?} was not loaded", task.resource),
            };
        };
        let limits = &loaded.limits;
        let input = task.input.to_string();
        if input.len() > limits.max_input_bytes {
            return TaskOutcome::Failed {
                error: crate::asl::errors::DATA_LIMIT_EXCEEDED.into(),
                cause: format!("task input is {} bytes, over the limit of {} bytes", input.len(), limits.max_input_bytes),
            };
        }
        let timeout = task.timeout_seconds.map(Duration::from_secs).unwrap_or(limits.timeout);
        let stderr = MemoryOutputPipe::new(STDERR_CAPTURE_BYTES);
        let wasi = WasiCtxBuilder::new()
            .stderr(stderr.clone())
            .allow_tcp(false)
            .allow_udp(false)
            .allow_ip_name_lookup(false)
            .build();
        let data = Invocation {
            wasi,
            table: ResourceTable::new(),
            limiter: Limiter::new(limits.memory_bytes),
            logs: Vec::new(),
            dropped_logs: 0,
            state: task.state_name.clone(),
        };
        let mut store = Store::new(&self.engine, data);
        store.limiter(|s| &mut s.limiter);
        if let Err(e) = store.set_fuel(limits.fuel) {
            return limits::internal_failure("setting fuel", e);
        }
        let ticks = timeout.as_millis().div_ceil(EPOCH_TICK.as_millis()) as u64 + 1;
        store.set_epoch_deadline(ticks);

        let ctx = WitContext {
            execution_id: task.execution_id.clone(),
            state_name: task.state_name.clone(),
            attempt: task.attempt,
            task_token: None,
        };
        let result = loaded
            .pre
            .instantiate(&mut store)
            .and_then(|instance| instance.stepwasm_task_handler().call_handle(&mut store, &input, &ctx));
        let fuel_left = store.get_fuel().unwrap_or(0);
        let data = store.into_data();
        self.keep_logs(data.logs, data.dropped_logs, &task.state_name);
        let hit = LimitHit { memory: data.limiter.hit().map(str::to_string), fuel_exhausted: fuel_left == 0 };
        match result {
            Ok(Ok(output)) => limits::check_output(output, limits),
            Ok(Err(e)) => TaskOutcome::Failed { error: limits::bounded(e.error, 256), cause: limits::bounded(e.cause, 32 << 10) },
            Err(err) => limits::classify_trap(&err, &hit, limits, timeout, &stderr.contents(), &loaded.module_path),
        }
    }

    fn keep_logs(&self, mut lines: Vec<LogLine>, dropped: usize, state: &str) {
        if dropped > 0 {
            lines.push(LogLine { state: state.to_string(), level: "warn", message: format!("{dropped} more log line(s) dropped") });
        }
        if !lines.is_empty() {
            self.logs.lock().unwrap_or_else(|e| e.into_inner()).extend(lines);
        }
    }
}

impl TaskRunner for WasmRuntime {
    fn run_task(&self, task: &TaskInvocation) -> TaskOutcome {
        self.invoke(task)
    }
}

/// Reads a module file, with a message that says what to do when it is missing.
fn read_module(path: &Path) -> Result<Vec<u8>, String> {
    let shown = path.display();
    std::fs::read(path).map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => format!("module file {shown} not found (build the guests with scripts/build-guests.sh)"),
        _ => format!("cannot read module file {shown}: {e}"),
    })
}

/// Compiles a component's bytes, telling apart the usual ways they can be wrong.
fn compile(engine: &Engine, path: &Path, bytes: &[u8]) -> Result<Component, String> {
    let shown = path.display();
    if bytes.len() < 8 || &bytes[..4] != b"\0asm" {
        return Err(format!("module file {shown} is not WebAssembly"));
    }
    // Layer byte 0x00 with version 1 is a core module; components have layer 1.
    if bytes[6..8] == [0, 0] {
        return Err(format!("module file {shown} is a core WebAssembly module, not a component (build it for wasm32-wasip2)"));
    }
    Component::new(engine, bytes).map_err(|e| format!("module file {shown} is not a valid component: {e:#}"))
}
