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
use wasmtime_wasi_http::WasiHttpCtx;

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
    /// The http grant and this invocation's calls, shared by
    /// `stepwasm:task/http` and standard `wasi:http` (its hooks).
    pub(super) http: HttpGate,
    /// `wasi:http`'s own state (the guest's request and response resources
    /// live in `table`).
    pub(super) wasi_http: WasiHttpCtx,
    /// When the invocation's wall-clock limit ends (bounds http waits).
    pub(super) deadline: Instant,
}

/// What both http interfaces check a request against: the grant, the
/// per-invocation call count and the deadline.
pub(super) struct HttpGate {
    /// The grant, when http is granted.
    pub(super) grant: Option<Arc<HttpGrant>>,
    pub(super) calls: u32,
    pub(super) max_calls: u32,
    /// When the invocation's wall-clock limit ends (bounds http waits).
    pub(super) deadline: Instant,
    /// The call limit, once a `wasi:http` request ran into it: that
    /// interface can only refuse the request, so the host fails the
    /// invocation with it afterwards, as `stepwasm:task/http`'s trap does.
    pub(super) limit_hit: Option<String>,
    /// Why `wasi:http` requests were refused (its error codes carry no
    /// message): added to the invocation's log lines.
    pub(super) refusals: Vec<String>,
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
        let deadline = Instant::now() + timeout;
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
            http: HttpGate {
                grant: loaded.http.clone(),
                calls: 0,
                max_calls: limits.max_http_calls,
                deadline,
                limit_hit: None,
                refusals: Vec::new(),
            },
            wasi_http: WasiHttpCtx::new(),
            deadline,
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
