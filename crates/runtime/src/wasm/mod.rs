//! Running task components on wasmtime.
//!
//! Each component file is compiled once and pre-instantiated ([`TaskPre`]);
//! every invocation gets a fresh wasmtime store and instance from the pooling
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
//! slots ([`InstanceSlots`](crate::instance_slots::InstanceSlots)), waiting its
//! turn in a fair queue when all are held, and keeps it until its wasmtime
//! store is dropped; each engine's pool is sized from the same number, so a
//! busy host makes tasks wait, never fail. A task's time limits start once it
//! has its slot.
//!
//! "Store" has three meanings around here, so names say which: `WasmStore`
//! is wasmtime's [`Store`](wasmtime::Store) of one instance, `kv_store` the
//! [`KvStore`] behind kv grants; the driver's execution store is not this
//! crate's concern.
//!
//! The parts: the WIT world's generated bindings (`bindings`), the engine's
//! settings (`engine_config`) and its epoch thread (`epoch`), loading a
//! resource (`loading`): compiling its component (`compiling`) and linking the
//! capabilities it was granted (`linking`); the per-invocation store data
//! (`invocation`) and the capabilities' host sides over it (`capabilities`);
//! running a task (`invoke`) and, for the benchmark, keeping its instance
//! alive (`held`); the log lines kept until taken (`log_lines`) and the errors
//! of setting up (`error`).

mod bindings;
mod capabilities;
mod compiling;
mod engine_config;
mod epoch;
mod error;
mod held;
mod invocation;
mod invoke;
mod lambda_invoke;
mod linking;
mod loading;
mod log_lines;

pub use bindings::{exports, stepwasm, Task, TaskIndices, TaskPre};
pub(crate) use engine_config::compile_engine;
pub use epoch::EPOCH_TICK;
pub use error::RuntimeError;
pub use held::HeldInvocation;
pub use invoke::KV_CONFLICT;
pub use loading::Unmapped;
pub use log_lines::LogLine;

use crate::cache::{CacheOutcome, CompileCache};
use crate::kv::KvStore;
use epoch::EpochTicker;
use invocation::Invocation;
use loading::LoadedResource;
use log_lines::KeptLogs;
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use wasmtime::component::{Component, Linker};
use wasmtime::Engine;

/// The WASM task runtime: resources resolved to pre-instantiated components.
pub struct WasmRuntime {
    engine: Engine,
    /// One linker per combination of grants: (kv, http).
    linkers: HashMap<(bool, bool), Linker<Invocation>>,
    /// The kv store behind kv grants, opened when the first one is loaded.
    kv_store: Option<Arc<KvStore>>,
    resources: HashMap<String, LoadedResource>,
    /// Resources nothing maps, loaded with [`Unmapped::FailWhenRun`]: why,
    /// said by the task that reaches one.
    unmapped: HashMap<String, String>,
    compiled: HashMap<PathBuf, Component>,
    /// Where compiled components are kept between processes, if anywhere.
    cache: Option<CompileCache>,
    /// What the cache did for each module file, in load order.
    cache_report: Vec<(PathBuf, CacheOutcome)>,
    /// The most recent log lines modules wrote, until taken.
    logs: KeptLogs,
    _ticker: EpochTicker,
}

impl WasmRuntime {
    /// An empty runtime whose memory caps may go up to `max_memory_bytes`.
    pub fn new(max_memory_bytes: usize) -> Result<WasmRuntime, RuntimeError> {
        let engine = engine_config::runtime_engine(max_memory_bytes).map_err(RuntimeError::Engine)?;
        Ok(WasmRuntime {
            _ticker: EpochTicker::start(engine.clone()).map_err(RuntimeError::Ticker)?,
            engine,
            linkers: HashMap::new(),
            kv_store: None,
            resources: HashMap::new(),
            unmapped: HashMap::new(),
            compiled: HashMap::new(),
            cache: None,
            cache_report: Vec::new(),
            logs: KeptLogs::default(),
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

    /// The kv store behind kv grants, if any resource has one.
    pub fn kv_store(&self) -> Option<&Arc<KvStore>> {
        self.kv_store.as_ref()
    }

    /// Drains the log lines modules have written so far.
    pub fn take_logs(&self) -> Vec<LogLine> {
        self.logs.take()
    }
}
