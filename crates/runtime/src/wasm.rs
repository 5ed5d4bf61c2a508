//! Running task components on wasmtime.
//!
//! Each component file is compiled once and pre-instantiated ([`TaskPre`]);
//! every invocation gets a fresh `Store` and instance from the pooling
//! allocator, with a fuel budget, memory/table/instance caps and a wall-clock
//! deadline (epoch interruption, ticked by a background thread). WASI is linked
//! with an empty context: no preopened directories, no environment, no
//! arguments, no sockets, millisecond clocks; stderr goes to a small buffer so
//! a guest's panic message can be quoted in the task's cause.
//!
//! Capabilities: every resource gets `log`; `kv` and `http` are linked only
//! for resources granted them (one linker per combination), and a module that
//! imports one it was not granted is refused at load with a message naming the
//! import and the grant. kv writes are staged per invocation and committed only
//! when the task succeeds.
//!
//! Instances: every invocation first takes one of the process's instance
//! slots ([`InstanceSlots`]), waiting its turn in a fair queue when all are
//! held, and keeps it until its store is dropped; each engine's pool is sized
//! from the same number, so a busy host makes tasks wait, never fail. A
//! task's time limits start once it has its slot.

use super::cache::{CacheOutcome, CompileCache};
use super::clocks::{CoarseMonotonicClock, CoarseWallClock};
use super::compile_worker::{self, CompileError};
use super::config::{Grants, Limits, ResourceMap, ResourceSpec};
use super::http::{self, HttpGrant, OutgoingRequest};
use super::instance_slots::{InstanceSlots, PoolSizes, Slot};
use super::kv::{Commit, Committed, ExclusiveCommits, KvCallError, KvError, KvStore, KvTransaction};
use super::limits::{self, LimitHit, Limiter};
use super::precheck::{self, MAX_INSTANCES};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};
use stepwasm_asl::StateMachine;
use stepwasm_asl::ValidationError;
use stepwasm_engine::TaskInvocation;
use stepwasm_engine::{AsyncTaskRunner, TaskOutcome, TaskRunner};
use wasmtime::component::{Component, HasSelf, Linker, ResourceTable};
use wasmtime::{Config, Engine, InstanceAllocationStrategy, PoolConcurrencyLimitError, PoolingAllocationConfig, Store, UpdateDeadline};
use wasmtime_wasi::p2::pipe::MemoryOutputPipe;
use wasmtime_wasi::{WasiCtx, WasiCtxBuilder, WasiCtxView, WasiView};

wasmtime::component::bindgen!({
    path: "../../wit",
    world: "task",
    // Host functions may trap: that is how a log or http limit ends the call.
    // Everything is async so a module computing or waiting on the network
    // yields its thread to other invocations.
    imports: { default: async | trappable },
    exports: { default: async },
});

use stepwasm::task::http::{Request as WitRequest, Response as WitResponse};
use stepwasm::task::log::Level;
use stepwasm::task::types::Context as WitContext;

/// The component import names of the granted capabilities.
const KV_IMPORT: &str = "stepwasm:task/kv@";
const HTTP_IMPORT: &str = "stepwasm:task/http@";

/// Linear memories one component instance may have (the guests: 1 or 2).
const MAX_MEMORIES_PER_COMPONENT: u32 = 32;
/// Tables one component instance may have (the guests: a few).
const MAX_TABLES_PER_COMPONENT: u32 = 64;

/// How often the epoch advances: the granularity of wall-clock limits.
pub const EPOCH_TICK: Duration = Duration::from_millis(10);
/// How much of a guest's stderr is kept (the tail of a panic message).
const STDERR_CAPTURE_BYTES: usize = 4096;
/// The error of a task whose kv commit conflicted and could not be rerun.
pub const KV_CONFLICT: &str = "Stepwasm.KvConflict";
/// Log lines the runtime keeps until they are taken.
const MAX_KEPT_LOG_LINES: usize = 10_000;
/// The length each log line is cut to.
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
    /// Built on the first WASI call: a component without WASI imports (the
    /// SDK's `no_std` handlers) never pays for one.
    wasi: Option<WasiCtx>,
    /// Where the WASI context sends the guest's stderr.
    stderr: MemoryOutputPipe,
    table: ResourceTable,
    limiter: Limiter,
    state: String,
    logs: Vec<LogLine>,
    log_bytes: usize,
    max_log_lines: usize,
    max_log_bytes: usize,
    /// The store and this invocation's staged writes, when kv is granted.
    kv: Option<(Arc<KvStore>, KvTransaction)>,
    /// The grant, when http is granted.
    http: Option<Arc<HttpGrant>>,
    http_calls: u32,
    max_http_calls: u32,
    /// When the invocation's wall-clock limit ends (bounds http waits).
    deadline: Instant,
}

/// A limit a host function enforces: recorded (so the cause names it) and
/// returned as the trap that ends the call.
fn limit_trap(limiter: &mut Limiter, what: String) -> wasmtime::Error {
    limiter.record(what.clone());
    wasmtime::Error::msg(what)
}

/// WASI with nothing granted: stderr into `stderr`, coarse clocks, no
/// sockets, no files, no environment.
fn empty_wasi(stderr: MemoryOutputPipe) -> WasiCtx {
    WasiCtxBuilder::new()
        .stderr(stderr)
        .wall_clock(CoarseWallClock)
        .monotonic_clock(CoarseMonotonicClock::new())
        .allow_tcp(false)
        .allow_udp(false)
        .allow_ip_name_lookup(false)
        .build()
}

impl WasiView for Invocation {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        let ctx = self.wasi.get_or_insert_with(|| empty_wasi(self.stderr.clone()));
        WasiCtxView { ctx, table: &mut self.table }
    }
}

impl stepwasm::task::types::Host for Invocation {}

impl stepwasm::task::log::Host for Invocation {
    async fn log(&mut self, level: Level, message: String) -> wasmtime::Result<()> {
        if self.logs.len() >= self.max_log_lines {
            return Err(limit_trap(
                &mut self.limiter,
                format!("log limit exceeded: more than {} lines in one invocation", self.max_log_lines),
            ));
        }
        if self.log_bytes + message.len() > self.max_log_bytes {
            return Err(limit_trap(
                &mut self.limiter,
                format!("log limit exceeded: more than {} bytes logged in one invocation", self.max_log_bytes),
            ));
        }
        self.log_bytes += message.len();
        let level = match level {
            Level::Debug => "debug",
            Level::Info => "info",
            Level::Warn => "warn",
            Level::Error => "error",
        };
        let message = limits::bounded(message, MAX_LOG_LINE_BYTES);
        self.logs.push(LogLine { state: self.state.clone(), level, message });
        Ok(())
    }
}

impl Invocation {
    /// The kv transaction; a module can only call kv when it was granted (the
    /// linker has no kv otherwise), so its absence is a host bug, not a guest's.
    fn kv(&mut self) -> wasmtime::Result<(&KvStore, &mut KvTransaction)> {
        match &mut self.kv {
            Some((store, tx)) => Ok((store, tx)),
            None => Err(wasmtime::Error::msg("kv called without a kv grant")),
        }
    }
}

impl stepwasm::task::kv::Host for Invocation {
    // The store is SQLite behind a mutex: calls are short and do not await.
    async fn get(&mut self, key: String) -> wasmtime::Result<Result<Option<String>, String>> {
        let (store, tx) = self.kv()?;
        match tx.get_checked(store, &key) {
            Err(KvCallError::Limit(what)) => Err(limit_trap(&mut self.limiter, what)),
            read => Ok(read.map_err(|e| e.to_string())),
        }
    }

    async fn set(&mut self, key: String, value: String) -> wasmtime::Result<Result<(), String>> {
        Ok(self.kv()?.1.set(key, value))
    }

    async fn delete(&mut self, key: String) -> wasmtime::Result<Result<(), String>> {
        Ok(self.kv()?.1.delete(key))
    }
}

impl stepwasm::task::http::Host for Invocation {
    async fn fetch(&mut self, req: WitRequest) -> wasmtime::Result<Result<WitResponse, String>> {
        let Some(grant) = self.http.clone() else {
            return Err(wasmtime::Error::msg("http called without an http grant"));
        };
        if self.http_calls >= self.max_http_calls {
            return Err(limit_trap(
                &mut self.limiter,
                format!("http call limit exceeded: more than {} requests in one invocation", self.max_http_calls),
            ));
        }
        self.http_calls += 1;
        // A request may not outlive the invocation's own deadline.
        let left = self.deadline.saturating_duration_since(Instant::now());
        let request = OutgoingRequest { method: req.method, url: req.url, headers: req.headers, body: req.body };
        // The client blocks; it runs on tokio's blocking pool, not on the
        // thread that drives other invocations.
        let response = tokio::task::spawn_blocking(move || http::fetch(&grant, &request, left))
            .await
            .unwrap_or_else(|e| Err(format!("the request was lost: {e}")));
        Ok(response.map(|r| WitResponse { status: r.status, headers: r.headers, body: r.body }))
    }
}

/// A component ready to instantiate, with the limits and grants of the
/// resource using it.
struct LoadedResource {
    pre: TaskPre<Invocation>,
    limits: Limits,
    kv_namespace: Option<String>,
    http: Option<Arc<HttpGrant>>,
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
        let thread = std::thread::Builder::new().name("stepwasm-epoch".into()).spawn(move || {
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
    #[error("{0}")]
    Kv(#[from] KvError),
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
    /// One linker per combination of grants: (kv, http).
    linkers: HashMap<(bool, bool), Linker<Invocation>>,
    /// The store behind kv grants, opened when the first one is loaded.
    kv: Option<Arc<KvStore>>,
    resources: HashMap<String, LoadedResource>,
    compiled: HashMap<PathBuf, Component>,
    /// Where compiled components are kept between processes, if anywhere.
    cache: Option<CompileCache>,
    /// What the cache did for each module file, in load order.
    cache_report: Vec<(PathBuf, CacheOutcome)>,
    /// The most recent log lines, until taken (bounded: a long-running host
    /// that never takes them keeps only the last [`MAX_KEPT_LOG_LINES`]).
    logs: Mutex<std::collections::VecDeque<LogLine>>,
    _ticker: EpochTicker,
}

fn engine_config(max_memory_bytes: usize, pooling: bool) -> Config {
    let mut config = Config::new();
    config.consume_fuel(true);
    config.epoch_interruption(true);
    config.wasm_component_model(true);
    if pooling {
        // As many instances as the process has slots: an invocation waits
        // for a slot before it asks the pool (see instance_slots).
        let sizes = PoolSizes::for_instances(InstanceSlots::global().capacity());
        let mut pool = PoolingAllocationConfig::default();
        pool.total_component_instances(sizes.component_instances);
        pool.total_core_instances(sizes.core_instances);
        pool.total_memories(sizes.memories);
        pool.total_tables(sizes.tables);
        pool.total_stacks(sizes.stacks);
        // Per component, whatever passed the pre-check of uploads (or came
        // from the operator): one component cannot take the whole pool.
        pool.max_core_instances_per_component(MAX_INSTANCES as u32);
        pool.max_memories_per_component(MAX_MEMORIES_PER_COMPONENT);
        pool.max_tables_per_component(MAX_TABLES_PER_COMPONENT);
        pool.max_memory_size(max_memory_bytes);
        // Reset reused slots with memset (the first MiB of a memory is about
        // what a handler touches) and batch the rest of the decommits: each
        // madvise costs page faults and, with several threads, TLB-shootdown
        // interrupts — most of an invocation's time without these.
        pool.linear_memory_keep_resident(1 << 20);
        pool.table_keep_resident(64 << 10);
        pool.decommit_batch_size(32);
        pool.pagemap_scan(wasmtime::Enabled::Auto);
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
        Ok(WasmRuntime {
            _ticker: EpochTicker::start(engine.clone()).map_err(RuntimeError::Ticker)?,
            engine,
            linkers: HashMap::new(),
            kv: None,
            resources: HashMap::new(),
            compiled: HashMap::new(),
            cache: None,
            cache_report: Vec::new(),
            logs: Mutex::new(std::collections::VecDeque::new()),
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
        for (state, resource) in machine.module_resources() {
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
        if specs.iter().any(|(_, _, s)| s.grants.kv.is_some()) {
            let store = KvStore::open_or_memory(map.kv().path.as_ref())?;
            for (namespace, key, value) in &map.kv().seed {
                store.seed(namespace, key, value)?;
            }
            runtime.kv = Some(Arc::new(store));
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
                let c = match (&self.cache, spec.untrusted) {
                    (None, false) => compile(&self.engine, &spec.module_path, &bytes)?,
                    (Some(cache), false) => {
                        let (c, outcome) = cache.load_or_compile(&self.engine, &bytes, |b| compile(&self.engine, &spec.module_path, b))?;
                        self.cache_report.push((spec.module_path.clone(), outcome));
                        c
                    }
                    // An upload: pre-checked (on a cache hit too: the caps
                    // may have tightened since), then compiled in the limited
                    // worker process, never here (see compile_worker).
                    (cache, true) => {
                        precheck_upload(&spec.module_path, &bytes)?;
                        let in_worker = |b: &[u8]| {
                            compile_worker::compile_in_worker(b, compile_worker::limits()).map_err(|e| refused(&spec.module_path, e))
                        };
                        match cache {
                            Some(cache) => {
                                let (c, outcome) = cache.load_or_compile_artefact(&self.engine, &bytes, in_worker)?;
                                self.cache_report.push((spec.module_path.clone(), outcome));
                                c
                            }
                            // SAFETY: the artefact is what our own compile
                            // worker produced, with this engine's settings.
                            None => unsafe { Component::deserialize(&self.engine, &in_worker(&bytes)?) }
                                .map_err(|e| format!("module file {} cannot be loaded once compiled: {e:#}", spec.module_path.display()))?,
                        }
                    }
                };
                self.compiled.insert(spec.module_path.clone(), c.clone());
                c
            }
        };
        let shown = spec.module_path.display();
        self.check_grants(&component, resource, &spec)?;
        let linker = self.linker(&spec.grants).map_err(|e| format!("cannot set up the capabilities: {e:#}"))?;
        let instance_pre = linker.instantiate_pre(&component).map_err(|e| format!("module {shown} cannot be linked: {e:#}"))?;
        let pre = TaskPre::new(instance_pre).map_err(|e| {
            format!("module {shown} does not implement the stepwasm:task world (export stepwasm:task/handler@0.1.0): {e:#}")
        })?;
        if spec.grants.kv.is_some() && self.kv.is_none() {
            self.kv = Some(Arc::new(KvStore::in_memory().map_err(|e| e.to_string())?));
        }
        self.resources.insert(
            resource.to_string(),
            LoadedResource {
                pre,
                limits: spec.limits,
                kv_namespace: spec.grants.kv,
                http: spec.grants.http.map(Arc::new),
                module_path: spec.module_path,
            },
        );
        Ok(())
    }

    /// Refuses a component that imports a capability its resource was not
    /// granted, naming the import and the grant that would allow it.
    fn check_grants(&self, component: &Component, resource: &str, spec: &ResourceSpec) -> Result<(), String> {
        let shown = spec.module_path.display();
        let how = |grant: &str| {
            if resource.starts_with(super::config::SHORT_FORM_PREFIX) {
                format!("map the resource in stepwasm.toml to grant it: [resources.\"{resource}\"] with module = ... and {grant}")
            } else {
                format!("add {grant} to [resources.\"{resource}\"] in the config")
            }
        };
        let mut missing = Vec::new();
        for (name, _) in component.component_type().imports(&self.engine) {
            if name.starts_with(KV_IMPORT) && spec.grants.kv.is_none() {
                missing
                    .push(format!("imports {name}, but resource {resource:?} is not granted kv ({})", how("kv = { namespace = \"...\" }")));
            }
            if name.starts_with(HTTP_IMPORT) && spec.grants.http.is_none() {
                missing.push(format!(
                    "imports {name}, but resource {resource:?} is not granted http ({})",
                    how("http = { allow = [\"https://host/prefix/\"] }")
                ));
            }
        }
        if !missing.is_empty() {
            return Err(format!("module {shown} {}", missing.join("; and it ")));
        }
        Ok(())
    }

    /// The linker for a combination of grants: WASI (with an empty context)
    /// and `log` always, `kv` and `http` only when granted.
    fn linker(&mut self, grants: &Grants) -> wasmtime::Result<&Linker<Invocation>> {
        let key = (grants.kv.is_some(), grants.http.is_some());
        if !self.linkers.contains_key(&key) {
            let mut linker = Linker::new(&self.engine);
            wasmtime_wasi::p2::add_to_linker_async(&mut linker)?;
            stepwasm::task::types::add_to_linker::<_, HasSelf<_>>(&mut linker, |s| s)?;
            stepwasm::task::log::add_to_linker::<_, HasSelf<_>>(&mut linker, |s| s)?;
            if key.0 {
                stepwasm::task::kv::add_to_linker::<_, HasSelf<_>>(&mut linker, |s| s)?;
            }
            if key.1 {
                stepwasm::task::http::add_to_linker::<_, HasSelf<_>>(&mut linker, |s| s)?;
            }
            self.linkers.insert(key, linker);
        }
        Ok(&self.linkers[&key])
    }

    /// The store behind kv grants, if any resource has one.
    pub fn kv_store(&self) -> Option<&Arc<KvStore>> {
        self.kv.as_ref()
    }

    /// Drains the log lines modules have written so far.
    pub fn take_logs(&self) -> Vec<LogLine> {
        std::mem::take(&mut *self.logs.lock().unwrap_or_else(|e| e.into_inner())).into()
    }

    /// Runs one task under the resource's limits, on the calling thread (see
    /// [`WasmRuntime::invoke_async`]).
    pub fn invoke(&self, task: &TaskInvocation) -> TaskOutcome {
        block_on_tokio(self.invoke_async(task)).unwrap_or_else(|why| TaskOutcome::Failed {
            error: stepwasm_asl::errors::TASK_FAILED.into(),
            cause: format!("host error: {why}"),
        })
    }

    /// Runs one task under the resource's limits. While the module computes,
    /// the future yields at every epoch tick, so other invocations on the
    /// same thread go on.
    ///
    /// When its kv commit conflicts with another invocation's, the attempt
    /// left no trace, so it is run again from scratch, this time holding the
    /// store's exclusive commit guard so that the rerun cannot conflict (other
    /// invocations keep running; only their commits wait for it). A run that
    /// made http calls is not repeated, since their effects would be; that
    /// task fails with [`KV_CONFLICT`], which a Retry can match.
    pub async fn invoke_async(&self, task: &TaskInvocation) -> TaskOutcome {
        let Some(loaded) = self.resources.get(&task.resource) else {
            return TaskOutcome::Failed {
                error: stepwasm_asl::errors::TASK_FAILED.into(),
                cause: format!("resource {:?} was not loaded", task.resource),
            };
        };
        let limits = &loaded.limits;
        let input = task.input.to_string();
        if input.len() > limits.max_input_bytes {
            return TaskOutcome::Failed {
                error: stepwasm_asl::errors::DATA_LIMIT_EXCEEDED.into(),
                cause: format!("task input is {} bytes, over the limit of {} bytes", input.len(), limits.max_input_bytes),
            };
        }
        // A journaled attempt whose kv commit is recorded already ran to
        // success before a crash: its output stands, its writes are not redone.
        let attempt_key = match (&loaded.kv_namespace, &self.kv) {
            (Some(_), Some(store)) if task.journaled => {
                let key = task.attempt_key();
                match store.committed_output(&key).map(|text| text.map(|t| serde_json::from_str(&t))) {
                    Ok(Some(Ok(output))) => return TaskOutcome::Succeeded(output),
                    Ok(None) => Some(key),
                    Ok(Some(Err(e))) => return limits::internal_failure("reading a recorded output", e.into()),
                    Err(e) if e.is_transient() => return TaskOutcome::StoreUnavailable { cause: format!("reading the kv store: {e}") },
                    Err(e) => return limits::internal_failure("reading the kv store", e.into()),
                }
            }
            _ => None,
        };
        let mut exclusive: Option<ExclusiveCommits> = None;
        loop {
            let (outcome, kv, http_calls) = self.run_once(task, loaded, &input).await;
            // kv writes take effect only with a successful result; anything
            // else (a handled error, a trap, a limit, bad output) discards them.
            let (TaskOutcome::Succeeded(output), Some((store, tx))) = (&outcome, kv) else {
                return outcome;
            };
            let output_text = attempt_key.as_ref().map(|_| output.to_string());
            let done = attempt_key.as_deref().zip(output_text.as_deref()).map(|(invocation, output)| Committed { invocation, output });
            let committed = match exclusive {
                Some(_) => store.commit_recorded(&tx, done),
                None => store.commit_shared_recorded(&tx, done).await,
            };
            match committed {
                Ok(Commit::Applied) => return outcome,
                // Another host committed this very attempt first: its output stands.
                Ok(Commit::AlreadyRecorded { output }) => {
                    return serde_json::from_str(&output)
                        .map(TaskOutcome::Succeeded)
                        .unwrap_or_else(|e| limits::internal_failure("reading a recorded output", e.into()))
                }
                Err(KvError::Conflict { .. }) if http_calls == 0 && exclusive.is_none() => {
                    exclusive = Some(store.exclusive_commits().await);
                }
                Err(e @ KvError::Conflict { .. }) => {
                    let why = if http_calls > 0 { "not rerun: it made http calls" } else { "even when rerun exclusively" };
                    return TaskOutcome::Failed { error: KV_CONFLICT.into(), cause: format!("{e} ({why})") };
                }
                Err(e) if e.is_transient() => {
                    return TaskOutcome::StoreUnavailable { cause: format!("its {} kv write(s) could not be committed: {e}", tx.len()) }
                }
                Err(e) => {
                    return TaskOutcome::Failed {
                        error: stepwasm_asl::errors::TASK_FAILED.into(),
                        cause: format!("the task succeeded but its {} kv write(s) could not be committed: {e}", tx.len()),
                    }
                }
            }
        }
    }

    /// One run of the module: the outcome, the kv transaction to commit if it
    /// succeeded, and how many http calls it made.
    async fn run_once(
        &self,
        task: &TaskInvocation,
        loaded: &LoadedResource,
        input: &str,
    ) -> (TaskOutcome, Option<(Arc<KvStore>, KvTransaction)>, u32) {
        let limits = &loaded.limits;
        let timeout = task.timeout_seconds.map(Duration::from_secs).unwrap_or(limits.timeout);
        // Held until the store is dropped, below; the wait for it is not
        // part of the task's time: its deadline is set after.
        let slots = InstanceSlots::global();
        let mut slot = slots.acquire().await;
        let (store, result) = loop {
            let mut store = match self.new_store(task, loaded, timeout) {
                Ok(store) => store,
                Err(e) => return (limits::internal_failure("setting fuel", e), None, 0),
            };
            let result = call_handler(&mut store, loaded, task, input).await;
            match result {
                // The pool had no room although we had a slot: this component
                // needs more than its share (memories, tables, core
                // instances). No guest code ran; wait for one more slot (one
                // instance fewer can start) and try again on a fresh store.
                Err(e) if e.is::<PoolConcurrencyLimitError>() => {
                    drop(store);
                    if !slot.widen(slots).await {
                        let cause = format!("the instance pool cannot hold this module even with every slot ({}): {e:#}", slot.places());
                        return (TaskOutcome::Failed { error: stepwasm_asl::errors::TASK_FAILED.into(), cause }, None, 0);
                    }
                }
                result => break (store, result),
            }
        };
        let fuel_left = store.get_fuel().unwrap_or(0);
        let data = store.into_data();
        drop(slot);
        let hit = LimitHit { limit: data.limiter.hit().map(str::to_string), fuel_exhausted: fuel_left == 0 };
        let outcome = match result {
            Ok(Ok(output)) => limits::check_output(output, limits),
            Ok(Err(e)) => limits::module_error(e.error, e.cause),
            Err(err) => {
                // What the module said before it trapped: a std guest's panic
                // is on stderr; the SDK's no_std panic handler logs it as an
                // error instead.
                let stderr = data.stderr.contents();
                let said = match data.logs.iter().rev().find(|l| l.level == "error") {
                    Some(line) if stderr.is_empty() => line.message.as_bytes(),
                    _ => &stderr,
                };
                limits::classify_trap(&err, &hit, limits, timeout, said, &loaded.module_path)
            }
        };
        self.keep_logs(data.logs);
        (outcome, data.kv, data.http_calls)
    }

    /// A fresh store for one run: empty WASI, the resource's limits and
    /// grants, fuel and the epoch deadline set.
    fn new_store(&self, task: &TaskInvocation, loaded: &LoadedResource, timeout: Duration) -> wasmtime::Result<Store<Invocation>> {
        let limits = &loaded.limits;
        let kv = match (&loaded.kv_namespace, &self.kv) {
            (Some(namespace), Some(store)) => Some((Arc::clone(store), KvTransaction::new(namespace.as_str()))),
            _ => None,
        };
        let data = Invocation {
            wasi: None,
            stderr: MemoryOutputPipe::new(STDERR_CAPTURE_BYTES),
            table: ResourceTable::new(),
            limiter: Limiter::new(limits),
            state: task.state_name.clone(),
            logs: Vec::new(),
            log_bytes: 0,
            max_log_lines: limits.max_log_lines,
            max_log_bytes: limits.max_log_bytes,
            kv,
            http: loaded.http.clone(),
            http_calls: 0,
            max_http_calls: limits.max_http_calls,
            deadline: Instant::now() + timeout,
        };
        let mut store = Store::new(&self.engine, data);
        store.limiter(|s| &mut s.limiter);
        store.set_fuel(limits.fuel)?;
        // At every epoch tick: past the deadline, interrupt; else yield to
        // the executor and go on.
        let deadline = store.data().deadline;
        store.set_epoch_deadline(1);
        store.epoch_deadline_callback(move |_| {
            Ok(if Instant::now() >= deadline { UpdateDeadline::Interrupt } else { UpdateDeadline::Yield(1) })
        });
        Ok(store)
    }

    /// Runs `task` and keeps its instance alive afterwards, as a concurrent
    /// invocation would be: the benchmark measures memory per live instance
    /// with it. Nothing is committed.
    /// It takes a slot without waiting: refused when all are held.
    pub fn invoke_and_hold(&self, task: &TaskInvocation) -> Result<HeldInvocation, String> {
        let loaded = self.resources.get(&task.resource).ok_or_else(|| format!("resource {:?} was not loaded", task.resource))?;
        let slots = InstanceSlots::global();
        let slot = slots.try_acquire().ok_or_else(|| format!("all {} instance slots are held", slots.capacity()))?;
        let mut store = self.new_store(task, loaded, loaded.limits.timeout).map_err(|e| format!("{e:#}"))?;
        let input = task.input.to_string();
        match block_on_tokio(call_handler(&mut store, loaded, task, &input))? {
            Ok(Ok(_)) => Ok(HeldInvocation { _store: store, _slot: slot }),
            Ok(Err(e)) => Err(format!("{}: {}", e.error, e.cause)),
            Err(e) => Err(format!("{e:#}")),
        }
    }

    fn keep_logs(&self, lines: Vec<LogLine>) {
        if !lines.is_empty() {
            let mut kept = self.logs.lock().unwrap_or_else(|e| e.into_inner());
            kept.extend(lines);
            let excess = kept.len().saturating_sub(MAX_KEPT_LOG_LINES);
            kept.drain(..excess);
        }
    }
}

impl TaskRunner for WasmRuntime {
    fn run_task(&self, task: &TaskInvocation) -> TaskOutcome {
        self.invoke(task)
    }
}

impl AsyncTaskRunner for WasmRuntime {
    fn run_task_async<'a>(&'a self, task: &'a TaskInvocation) -> impl std::future::Future<Output = TaskOutcome> + Send + 'a {
        self.invoke_async(task)
    }
}

/// An invocation's store kept alive after its call (see
/// [`WasmRuntime::invoke_and_hold`]).
pub struct HeldInvocation {
    _store: Store<Invocation>,
    /// Declared after the store: dropped after it.
    _slot: Slot,
}

/// Instantiates the component in `store` and calls its handler.
async fn call_handler(
    store: &mut Store<Invocation>,
    loaded: &LoadedResource,
    task: &TaskInvocation,
    input: &str,
) -> wasmtime::Result<Result<String, stepwasm::task::types::TaskError>> {
    let ctx = WitContext {
        execution_id: task.execution_id.clone(),
        state_name: task.state_name.clone(),
        attempt: task.attempt,
        task_token: task.task_token.clone(),
    };
    let instance = loaded.pre.instantiate_async(&mut *store).await?;
    instance.stepwasm_task_handler().call_handle(&mut *store, input, &ctx).await
}

/// The tokio runtime that synchronous callers' invocations run on (WASI's
/// clocks and the http capability need one); one worker drives its timers.
fn tokio_runtime() -> Result<&'static tokio::runtime::Runtime, String> {
    static RUNTIME: OnceLock<Result<tokio::runtime::Runtime, String>> = OnceLock::new();
    RUNTIME
        .get_or_init(|| {
            tokio::runtime::Builder::new_multi_thread()
                .worker_threads(1)
                .thread_name("stepwasm-tokio")
                .enable_all()
                .build()
                .map_err(|e| format!("cannot start the tokio runtime: {e}"))
        })
        .as_ref()
        .map_err(Clone::clone)
}

/// Runs `future` to completion on the calling thread, inside tokio. Called
/// from within an async context (where blocking would be refused), it runs
/// on a scoped helper thread instead.
fn block_on_tokio<F: std::future::Future + Send>(future: F) -> Result<F::Output, String>
where
    F::Output: Send,
{
    let runtime = tokio_runtime()?;
    if tokio::runtime::Handle::try_current().is_err() {
        return Ok(runtime.block_on(future));
    }
    std::thread::scope(|scope| scope.spawn(|| runtime.block_on(future)).join().map_err(|_| "an invocation thread panicked".to_string()))
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
    check_header(path, bytes)?;
    Component::new(engine, bytes).map_err(|e| format!("module file {} is not a valid component: {e:#}", path.display()))
}

/// Refuses bytes that are not WebAssembly, or a core module, by name.
fn check_header(path: &Path, bytes: &[u8]) -> Result<(), String> {
    let shown = path.display();
    if bytes.len() < 8 || &bytes[..4] != b"\0asm" {
        return Err(format!("module file {shown} is not WebAssembly"));
    }
    // Bytes 4..8 are version 1, layer 0 for a core module (components have
    // version 0x0d, layer 1); anything else is for the compiler to refuse.
    if bytes[4..8] == [1, 0, 0, 0] {
        return Err(format!("module file {shown} is a core WebAssembly module, not a component (build it for wasm32-wasip2)"));
    }
    Ok(())
}

/// Refuses an uploaded component's bytes that are not a component, or that
/// fail the structural pre-check, before any compiler sees them.
fn precheck_upload(path: &Path, bytes: &[u8]) -> Result<(), String> {
    check_header(path, bytes)?;
    precheck::precheck(bytes).map(drop).map_err(|e| refused(path, CompileError::from(e)))
}

fn refused(path: &Path, e: CompileError) -> String {
    let shown = path.display();
    match e {
        CompileError::Invalid(why) => format!("module file {shown} is not a valid component: {why}"),
        CompileError::Precheck(why) => format!("module file {shown} is refused before compiling: {why}"),
        other => format!("module file {shown} cannot be compiled: {other}"),
    }
}

/// An engine with the host's compilation settings and no instance pool
/// (the pooling allocator changes no compiled code, and its address-space
/// reservation would not fit the worker's memory limit), compiling on one
/// thread: the compile worker's. Its artefacts load into [`WasmRuntime`]'s engine.
pub(crate) fn compile_engine() -> wasmtime::Result<Engine> {
    let mut config = engine_config(Limits::default().memory_bytes, false);
    config.parallel_compilation(false);
    Engine::new(&config)
}
