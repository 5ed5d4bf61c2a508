//! The benchmark's way to run a task: its instance is kept alive after the
//! call, as a concurrent invocation's would be, so memory per live instance
//! can be measured. Nothing is committed.

use super::invocation::Invocation;
use super::invoke::call_handler;
use super::WasmRuntime;
use crate::instance_slots::{InstanceSlots, Slot};
use stepwasm_engine::TaskInvocation;
use wasmtime::Store as WasmStore;

/// An invocation's wasmtime store kept alive after its call (see
/// [`WasmRuntime::invoke_and_hold`]).
pub struct HeldInvocation {
    _wasm_store: WasmStore<Invocation>,
    /// Declared after the wasmtime store: dropped after it.
    _slot: Slot,
}

impl WasmRuntime {
    /// Runs `task` and keeps its instance alive afterwards, as a concurrent
    /// invocation would be: the benchmark measures memory per live instance
    /// with it. Nothing is committed.
    /// It takes a slot without waiting: refused when all are held.
    pub async fn invoke_and_hold(&self, task: &TaskInvocation) -> Result<HeldInvocation, String> {
        let loaded = self.resources.get(&task.resource).ok_or_else(|| format!("resource {:?} was not loaded", task.resource))?;
        let slots = InstanceSlots::global();
        let slot = slots.try_acquire().ok_or_else(|| format!("all {} instance slots are held", slots.capacity()))?;
        let mut wasm_store = self.new_wasm_store(task, loaded, loaded.limits.timeout).map_err(|e| format!("{e:#}"))?;
        let input = task.input.to_string();
        match call_handler(&mut wasm_store, loaded, task, &input).await {
            Ok(Ok(_)) => Ok(HeldInvocation { _wasm_store: wasm_store, _slot: slot }),
            Ok(Err(e)) => Err(format!("{}: {}", e.error, e.cause)),
            Err(e) => Err(format!("{e:#}")),
        }
    }
}
