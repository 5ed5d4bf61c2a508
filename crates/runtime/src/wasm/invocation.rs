//! One invocation's wasmtime store: the data the capabilities' host sides
//! work on ([`Invocation`]), and a fresh store for each run of a module, with
//! its fuel, memory limiter and wall-clock deadline set.

use super::loading::LoadedResource;
use super::{LogLine, WasmRuntime};
use crate::http::HttpGrant;
use crate::kv::{KvStore, KvTransaction};
use crate::limits::Limiter;
use std::sync::Arc;
use std::time::{Duration, Instant};
use stepwasm_engine::TaskInvocation;
use wasmtime::component::ResourceTable;
use wasmtime::{Store as WasmStore, UpdateDeadline};
use wasmtime_wasi::p2::pipe::MemoryOutputPipe;
use wasmtime_wasi::WasiCtx;

/// How much of a guest's stderr is kept (the tail of a panic message).
const STDERR_CAPTURE_BYTES: usize = 4096;

/// Per-invocation wasmtime store data.
pub(super) struct Invocation {
    /// Built on the first WASI call: a component without WASI imports (the
    /// SDK's `no_std` handlers) never pays for one.
    pub(super) wasi: Option<WasiCtx>,
    /// Where the WASI context sends the guest's stderr.
    pub(super) stderr: MemoryOutputPipe,
    pub(super) table: ResourceTable,
    pub(super) limiter: Limiter,
    pub(super) state: String,
    pub(super) logs: Vec<LogLine>,
    pub(super) log_bytes: usize,
    pub(super) max_log_lines: usize,
    pub(super) max_log_bytes: usize,
    /// The kv store and this invocation's staged writes, when kv is granted.
    pub(super) kv: Option<(Arc<KvStore>, KvTransaction)>,
    /// The grant, when http is granted.
    pub(super) http: Option<Arc<HttpGrant>>,
    pub(super) http_calls: u32,
    pub(super) max_http_calls: u32,
    /// When the invocation's wall-clock limit ends (bounds http waits).
    pub(super) deadline: Instant,
}

impl WasmRuntime {
    /// A fresh wasmtime store for one run: empty WASI, the resource's limits
    /// and grants, fuel and the epoch deadline set.
    pub(super) fn new_wasm_store(
        &self,
        task: &TaskInvocation,
        loaded: &LoadedResource,
        timeout: Duration,
    ) -> wasmtime::Result<WasmStore<Invocation>> {
        let limits = &loaded.limits;
        let kv = match (&loaded.kv_namespace, &self.kv_store) {
            (Some(namespace), Some(kv_store)) => Some((Arc::clone(kv_store), KvTransaction::new(namespace.as_str()))),
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
        let mut wasm_store = WasmStore::new(&self.engine, data);
        wasm_store.limiter(|s| &mut s.limiter);
        wasm_store.set_fuel(limits.fuel)?;
        // At every epoch tick: past the deadline, interrupt; else yield to
        // the executor and go on.
        let deadline = wasm_store.data().deadline;
        wasm_store.set_epoch_deadline(1);
        wasm_store.epoch_deadline_callback(move |_| {
            Ok(if Instant::now() >= deadline { UpdateDeadline::Interrupt } else { UpdateDeadline::Yield(1) })
        });
        Ok(wasm_store)
    }
}
